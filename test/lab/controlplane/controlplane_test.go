package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	testAdvertiseIP = "10.123.0.1"
	testServiceCIDR = "10.96.0.0/16"
	testClusterCIDR = "10.244.0.0/16"
)

// requireControlPlane skips the test unless it runs as root and the control plane binaries are built.
func requireControlPlane(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	binDir := DefaultBinDir()
	if missing := MissingBinaries(binDir); len(missing) > 0 {
		t.Skipf("control plane binaries %v missing in %s: build them with test/controlplane/build.sh "+
			"(~7 min cold), or point SWITCHYARD_CONTROLPLANE_BIN at them", missing, binDir)
	}
	return binDir
}

// TestControlPlane starts the control plane in a fresh network namespace, checks that node pod CIDRs and
// Service ClusterIPs are allocated, that Attach sees it running and that Stop leaves no process or listener.
func TestControlPlane(t *testing.T) {
	binDir := requireControlPlane(t)
	netns := newNetns(t, testAdvertiseIP+"/32")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	began := time.Now()
	cp, err := Start(ctx, Config{
		Dir: t.TempDir(), BinDir: binDir, Netns: netns, AdvertiseIP: testAdvertiseIP,
		ServiceCIDR: testServiceCIDR, ClusterCIDR: testClusterCIDR, Logf: t.Logf,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range processes {
				t.Logf("end of %s:\n%s", cp.LogFile(name), logTail(cp.Config().Dir, name, 30))
			}
		}
		_ = cp.Stop(context.Background()) // no-op once the test stopped it
	})
	t.Logf("start-to-ready: %s", since(began))
	for name, rss := range cp.RSS() {
		t.Logf("RSS %-24s %4d MB", name, rss>>20)
	}

	client, err := kubernetes.NewForConfig(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	checkPodCIDR(ctx, t, client)
	checkClusterIP(ctx, t, client)
	checkKubernetesEndpoint(ctx, t, client)
	checkKubectl(t, cp, netns)
	checkNodeCredentials(ctx, t, cp)
	checkKubeconfigFor(t, cp)

	attached, err := Attach(cp.Config().Dir)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	attached.SetLogf(t.Logf)
	if err := attached.Running(); err != nil {
		t.Fatalf("Running after Attach: %v", err)
	}
	pids := attached.Pids()
	if len(pids) != len(processes) {
		t.Fatalf("Attach found pids %v, want one for each of %v", pids, processes)
	}

	began = time.Now()
	if err := attached.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("stop: %s", since(began))
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after Stop (kill -0: %v)", name, pid, err)
		}
	}
	checkNoListeners(t, cp)
	if err := attached.Running(); err == nil {
		t.Error("Running after Stop: nil, want an error")
	}
}

// checkPodCIDR creates a Node and waits for kube-controller-manager to give it a pod CIDR from ClusterCIDR.
func checkPodCIDR(ctx context.Context, t *testing.T, client kubernetes.Interface) {
	t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "lab-node-1"}}
	if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create node: %v", err)
	}
	began := time.Now()
	for {
		n, err := client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get node: %v", err)
		}
		if n.Spec.PodCIDR != "" {
			_, cluster, _ := net.ParseCIDR(testClusterCIDR)
			ip, podCIDR, err := net.ParseCIDR(n.Spec.PodCIDR)
			if err != nil || !cluster.Contains(ip) {
				t.Fatalf("node pod CIDR %q is not inside %s", n.Spec.PodCIDR, testClusterCIDR)
			}
			if ones, _ := podCIDR.Mask.Size(); ones != 24 {
				t.Errorf("node pod CIDR %s: prefix /%d, want /24", n.Spec.PodCIDR, ones)
			}
			t.Logf("node pod CIDR %s allocated after %s", n.Spec.PodCIDR, since(began))
			return
		}
		if time.Since(began) > 15*time.Second {
			t.Fatalf("node has no pod CIDR after 15 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkClusterIP creates a Service and checks it got a ClusterIP from ServiceCIDR.
func checkClusterIP(ctx context.Context, t *testing.T, client kubernetes.Interface) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: metav1.NamespaceDefault},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 80}},
		},
	}
	got, err := client.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create service: %v", err)
	}
	_, services, _ := net.ParseCIDR(testServiceCIDR)
	if ip := net.ParseIP(got.Spec.ClusterIP); ip == nil || !services.Contains(ip) {
		t.Fatalf("service ClusterIP %q is not inside %s", got.Spec.ClusterIP, testServiceCIDR)
	}
	t.Logf("service ClusterIP %s", got.Spec.ClusterIP)
}

// checkKubernetesEndpoint waits for the kubernetes Service's EndpointSlice to hold AdvertiseIP (the apiserver
// publishes it since AdvertiseIP is not loopback): what pods will reach through Switchyard's Service handling.
func checkKubernetesEndpoint(ctx context.Context, t *testing.T, client kubernetes.Interface) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		slices, err := client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).List(ctx,
			metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=kubernetes"})
		if err != nil {
			t.Fatalf("list kubernetes EndpointSlices: %v", err)
		}
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				if len(e.Addresses) > 0 && e.Addresses[0] == testAdvertiseIP {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubernetes EndpointSlice has no endpoint %s: %+v", testAdvertiseIP, slices.Items)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkKubectl runs the built kubectl inside the namespace with the admin kubeconfig.
func checkKubectl(t *testing.T, cp *ControlPlane, netns string) {
	t.Helper()
	out := run(t, "ip", "netns", "exec", netns, cp.Config().BinDir+"/kubectl",
		"--kubeconfig", cp.AdminKubeconfig(), "get", "nodes", "-o", "name")
	if strings.TrimSpace(out) != "node/lab-node-1" {
		t.Errorf("kubectl get nodes: %q, want node/lab-node-1", out)
	}
}

// checkNodeCredentials issues a client certificate for a kubelet identity and checks the apiserver accepts it
// (the Node authorizer lets a node read its own Node object).
func checkNodeCredentials(ctx context.Context, t *testing.T, cp *ControlPlane) {
	t.Helper()
	path, err := cp.KubeconfigForUser("system:node:lab-node-1", []string{"system:nodes"}, "")
	if err != nil {
		t.Fatalf("KubeconfigForUser: %v", err)
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	restCfg.Dial = cp.RESTConfig().Dial // the kubeconfig names an address inside the namespace
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Nodes().Get(ctx, "lab-node-1", metav1.GetOptions{}); err != nil {
		t.Errorf("node credentials: get own Node: %v", err)
	}
	if _, err := client.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("node credentials: list secrets: %v, want forbidden", err)
	}
}

// checkKubeconfigFor writes a kubeconfig for another server URL and checks it names that server.
func checkKubeconfigFor(t *testing.T, cp *ControlPlane) {
	t.Helper()
	const server = "https://127.0.0.1:16443"
	path, err := cp.KubeconfigFor(server)
	if err != nil {
		t.Fatalf("KubeconfigFor: %v", err)
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	if restCfg.Host != server || restCfg.BearerToken == "" || len(restCfg.CAData) == 0 {
		t.Errorf("KubeconfigFor(%s): host %q, token set %v, CA set %v", server, restCfg.Host,
			restCfg.BearerToken != "", len(restCfg.CAData) > 0)
	}
}

// checkNoListeners dials every port the control plane listened on, inside its namespace, and expects refusal.
func checkNoListeners(t *testing.T, cp *ControlPlane) {
	t.Helper()
	cfg := cp.Config()
	dial := dialer(cfg.netnsPath())
	for _, addr := range []string{
		net.JoinHostPort(cfg.AdvertiseIP, fmt.Sprint(cfg.SecurePort)),
		fmt.Sprintf("127.0.0.1:%d", cfg.EtcdClientPort),
		fmt.Sprintf("127.0.0.1:%d", cfg.EtcdPeerPort),
		"127.0.0.1:10257", // kube-controller-manager
		"127.0.0.1:10259", // kube-scheduler
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := dial(ctx, "tcp", addr)
		cancel()
		if err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after Stop", addr)
		} else if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial %s after Stop: %v, want connection refused", addr, err)
		}
	}
}

// TestStartRefusesMissingBinaries checks that Start names the missing binary and how to build it.
func TestStartRefusesMissingBinaries(t *testing.T) {
	_, err := Start(context.Background(), Config{
		Dir: t.TempDir(), BinDir: t.TempDir(), AdvertiseIP: "127.0.0.1",
		ServiceCIDR: testServiceCIDR, ClusterCIDR: testClusterCIDR,
	})
	if err == nil || !strings.Contains(err.Error(), "build.sh") {
		t.Fatalf("Start without binaries: %v, want an error pointing at build.sh", err)
	}
}
