package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/switchyard-net/switchyard/build/yamls"
	"github.com/switchyard-net/switchyard/test/lab/controlplane"
	"github.com/switchyard-net/switchyard/test/lab/proc"
	"github.com/switchyard-net/switchyard/test/lab/topology"
)

// Progress receives one line per step of a long operation.
type Progress func(format string, args ...any)

// Up brings a lab up. On failure everything already created is torn down again.
func Up(ctx context.Context, o Options, say Progress) (_ *Lab, err error) {
	plan, err := o.plan()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(stateFile(o.StateDir)); err == nil {
		return nil, fmt.Errorf("a lab is already up at %s: run `switchyard-lab down` first", o.StateDir)
	}
	if err := os.RemoveAll(o.StateDir); err != nil { // logs of an earlier failed bring-up
		return nil, err
	}
	if err := topology.CheckHostRoutes(plan); err != nil {
		return nil, err
	}
	for _, b := range []string{"switchyard-agent", "switchyard-cni", "switchyard-lab"} {
		if _, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil {
			return nil, fmt.Errorf("%s not found in %s (run make build)", b, o.BinDir)
		}
	}
	if missing := controlplane.MissingBinaries(o.CPBinDir); len(missing) > 0 {
		return nil, fmt.Errorf("control plane binaries %v missing in %s (run test/controlplane/build.sh)", missing, o.CPBinDir)
	}
	if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
		return nil, err
	}
	l := &Lab{State: State{Options: o}, Plan: plan}
	defer func() {
		if err != nil {
			say("bring-up failed (%v); tearing down what was created", err)
			if derr := l.down(context.Background(), say, true); derr != nil {
				say("teardown after the failure: %v", derr)
			}
		}
	}()
	t0 := time.Now()
	say("creating the underlay and %d node namespaces (%s)", o.Nodes, o.Topology)
	if err := topology.Create(plan); err != nil {
		return l, err
	}
	if err := l.save(); err != nil { // from here on `down` can clean up even if we die
		return l, err
	}
	say("starting the control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler)")
	cp, err := controlplane.Start(ctx, controlplane.Config{Dir: l.ControlPlaneDir(), BinDir: o.CPBinDir,
		Netns: plan.ControlPlaneNS(), AdvertiseIP: plan.ControlPlaneIP().String(), ServiceCIDR: o.ServiceCIDR,
		ClusterCIDR: o.ClusterCIDR, Logf: func(f string, a ...any) { say("  "+f, a...) }})
	if err != nil {
		return l, err
	}
	if err := l.startForwarder(cp); err != nil {
		return l, err
	}
	if err := l.save(); err != nil {
		return l, err
	}
	cs, err := l.Client()
	if err != nil {
		return l, err
	}
	say("installing the agent's ServiceAccount and RBAC (build/yamls/base/agent-rbac.yaml)")
	if err := l.Kubectl(ctx, bytes.NewReader(yamls.AgentRBAC()), nil, "apply", "-f", "-"); err != nil {
		return l, err
	}
	if err := l.writeAgentKubeconfig(ctx, cs, cp); err != nil {
		return l, err
	}
	for i := 1; i <= o.Nodes; i++ {
		if err := os.MkdirAll(l.NodeDir(i), 0o755); err != nil {
			return l, err
		}
		kc, err := cp.KubeconfigForUser("system:node:"+plan.NodeName(i), []string{"system:nodes"}, "")
		if err != nil {
			return l, err
		}
		if err := os.Rename(kc, l.kubeletKubeconfig(i)); err != nil {
			return l, err
		}
		say("starting %s (%s): Open vSwitch, switchyard-agent, kubelet", plan.NodeName(i), plan.NodeIP(i))
		if err := l.startNode(i); err != nil {
			return l, err
		}
	}
	say("waiting for %d nodes to be Ready", o.Nodes)
	if err := l.waitNodesReady(ctx, cs, 90*time.Second); err != nil {
		return l, err
	}
	say("lab up in %v", time.Since(t0).Round(100*time.Millisecond))
	return l, nil
}

// startForwarder exposes the API server on the host's loopback and writes the host kubeconfig.
func (l *Lab) startForwarder(cp *controlplane.ControlPlane) error {
	port := l.Options.APIPort
	if port == 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	l.APIPort = port
	target := net.JoinHostPort(l.Plan.ControlPlaneIP().String(), strconv.Itoa(cp.Config().SecurePort))
	if _, err := proc.Start(proc.Spec{Name: "api-forward", Dir: l.dir("proc"), Argv: []string{
		filepath.Join(l.Options.BinDir, "switchyard-lab"), "forward", "--netns", l.Plan.ControlPlaneNS(),
		"--listen", "127.0.0.1:" + strconv.Itoa(port), "--to", target}}); err != nil {
		return err
	}
	path, err := cp.KubeconfigFor("https://127.0.0.1:" + strconv.Itoa(port))
	if err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return os.WriteFile(l.Kubeconfig(), b, 0o600)
}

// Client is a clientset for the lab, as a user on the host has it.
func (l *Lab) Client() (*kubernetes.Clientset, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", l.Kubeconfig())
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 50, 100
	return kubernetes.NewForConfig(rc)
}

// Kubectl runs the lab's kubectl with the host kubeconfig.
func (l *Lab) Kubectl(ctx context.Context, stdin *bytes.Reader, stdout *bytes.Buffer, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(l.Options.CPBinDir, "kubectl"), append([]string{"--kubeconfig", l.Kubeconfig()}, args...)...)
	var out bytes.Buffer
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Stdout, cmd.Stderr = &out, &out
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kubectl %v: %v: %s", args, err, out.String())
	}
	return nil
}

// writeAgentKubeconfig gives the agents the ServiceAccount identity of the install manifests: a token of
// switchyard-agent (a legacy service-account-token Secret, so it does not expire while the lab runs).
func (l *Lab) writeAgentKubeconfig(ctx context.Context, cs kubernetes.Interface, cp *controlplane.ControlPlane) error {
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: yamls.AgentServiceAccount + "-token", Namespace: yamls.AgentNamespace,
		Annotations: map[string]string{corev1.ServiceAccountNameKey: yamls.AgentServiceAccount}},
		Type: corev1.SecretTypeServiceAccountToken}
	if _, err := cs.CoreV1().Secrets(sec.Namespace).Create(ctx, sec, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("agent token secret: %w", err)
	}
	var token []byte
	deadline := time.Now().Add(60 * time.Second)
	for len(token) == 0 {
		s, err := cs.CoreV1().Secrets(sec.Namespace).Get(ctx, sec.Name, metav1.GetOptions{})
		if err == nil {
			token = s.Data[corev1.ServiceAccountTokenKey]
		}
		if len(token) == 0 {
			if time.Now().After(deadline) {
				return errors.New("the token controller did not fill the agent's token secret within 60s")
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	ca, err := os.ReadFile(cp.CACertFile())
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["lab"] = &clientcmdapi.Cluster{Server: cp.Server(), CertificateAuthorityData: ca}
	cfg.AuthInfos["switchyard-agent"] = &clientcmdapi.AuthInfo{Token: string(token)}
	cfg.Contexts["lab"] = &clientcmdapi.Context{Cluster: "lab", AuthInfo: "switchyard-agent"}
	cfg.CurrentContext = "lab"
	return clientcmd.WriteToFile(*cfg, l.agentKubeconfig())
}

func (l *Lab) waitNodesReady(ctx context.Context, cs kubernetes.Interface, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		ready := 0
		if err == nil {
			for _, n := range nodes.Items {
				for _, c := range n.Status.Conditions {
					if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
		}
		if ready == l.Options.Nodes {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d nodes Ready after %v (see %s/nodes/*/proc/*.log): %v", ready, l.Options.Nodes, timeout, l.Options.StateDir, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
