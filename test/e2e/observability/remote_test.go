package observability

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/test/e2e/framework"
	"github.com/switchyard-net/switchyard/test/lab/forward"
)

// labProxy starts an HTTP CONNECT proxy on the host's loopback that dials inside the control plane's namespace,
// to the lab's node addresses only: the host has no route into the lab, and this stands in for a workstation that
// has one. yardctl (Go's $HTTPS_PROXY) goes through it; the kubeconfig's API server, on loopback, is never proxied.
func labProxy(t *testing.T, f *framework.Framework) string {
	t.Helper()
	proxy, stop, err := forward.StartConnect("/run/netns/"+f.Lab.Plan.ControlPlaneNS(), func(target string) bool {
		host, _, err := net.SplitHostPort(target)
		for i := 1; i <= f.Lab.Options.Nodes; i++ {
			if err == nil && host == f.Lab.Plan.NodeIP(i).String() {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return proxy
}

// yardctlRemote runs yardctl on the host with only a kubeconfig (no agent socket), through the lab proxy.
func yardctlRemote(f *framework.Framework, proxy, kubeconfig string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(f.Lab.Options.BinDir, "yardctl"), append(args[:1:1],
		append([]string{"--kubeconfig", kubeconfig, "--socket", "/nonexistent/agent.sock"}, args[1:]...)...)...)
	cmd.Env = append(os.Environ(), "HTTPS_PROXY="+proxy, "KUBECONFIG=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// tokenKubeconfig writes a copy of the lab's kubeconfig whose user authenticates with token instead.
func tokenKubeconfig(t *testing.T, f *framework.Framework, token string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(f.Lab.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, ai := range cfg.AuthInfos {
		ai.Token, ai.ClientCertificateData, ai.ClientKeyData = token, nil, nil
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// The agents' remote API: from the host, with the lab's kubeconfig and nothing else, yardctl reaches every node's
// agent and traces across nodes; a client without a token, with an unknown one, or whose user lacks get
// nodes/switchyard is refused (until RBAC grants it), the CNI endpoints are not served, a wrong certificate pin
// fails, and pods cannot connect at all.
func TestRemoteAPI(t *testing.T) {
	f := framework.Get(t)
	ctx := context.Background()
	proxy := labProxy(t, f)
	admin := f.Lab.Kubeconfig()

	for i := 1; i <= f.Lab.Options.Nodes; i++ {
		node := f.Lab.Plan.NodeName(i)
		var out string
		eventually(t, "yardctl status --node "+node, func() (bool, string) {
			var err error
			out, err = yardctlRemote(f, proxy, admin, "status", "--node", node)
			return err == nil, out
		})
		t.Logf("yardctl status --node %s:\n%s", node, out)
		for _, want := range []string{`agent: +ready`, `node: +` + node, `OVSDB: +connected`, `OpenFlow: +connected`, `Kubernetes API: +ok`,
			`remote API: +https://` + regexp.QuoteMeta(f.Lab.Plan.NodeIP(i).String()) + `:10351`, `peers: +` + fmt.Sprint(f.Lab.Options.Nodes-1),
			`flows by table: +Classifier \d+`} {
			if !regexp.MustCompile(`(?m)^` + want).MatchString(out) {
				t.Errorf("remote status of %s lacks %s", node, want)
			}
		}
	}

	ns := f.Namespace(t, "remote", nil)
	f.CreatePod(t, ns, "client", framework.PodSpec{Node: 1})
	server := f.CreatePod(t, ns, "server", framework.PodSpec{Node: 2, TCP: []int32{8080}})
	client := f.WaitPodReady(t, ns, "client", time.Minute)
	node1, node2 := f.Lab.Plan.NodeName(1), f.Lab.Plan.NodeName(2)
	out, err := yardctlRemote(f, proxy, admin, "trace", ns+"/client", ns+"/server:8080")
	if err != nil {
		t.Fatalf("remote trace: %v\n%s", err, out)
	}
	mustContain(t, "remote trace across nodes", out, "node "+node1+": from pod "+ns+"/client",
		"node "+node2+": from the tunnel from node "+node1, "=> delivered to pod "+ns+"/server", "verdict: delivered")
	out, err = yardctlRemote(f, proxy, admin, "pods", "--node", node2)
	if err != nil || !strings.Contains(out, ns+"/server") || !strings.Contains(out, server.Status.PodIP) {
		t.Errorf("remote pods of %s: %v\n%s", node2, err, out)
	}

	// The endpoint as yardctl finds it, and a client through the proxy that pins the published certificate.
	lease, err := f.Client.CoordinationV1().Leases(api.RemoteAPINamespace).Get(ctx, node1, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum := lease.Annotations[api.AnnotationRemoteSHA256]
	base := "https://" + net.JoinHostPort(f.Lab.Plan.NodeIP(1).String(), lease.Annotations[api.AnnotationRemotePort])
	proxyURL, _ := url.Parse(proxy)
	call := func(pin, method, path, token string) (int, string, error) {
		tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				got := sha256.Sum256(cs.PeerCertificates[0].Raw)
				if hex.EncodeToString(got[:]) != pin {
					return fmt.Errorf("certificate %x is not the pinned %s", got, pin)
				}
				return nil
			}}}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := (&http.Client{Transport: tr, Timeout: 15 * time.Second}).Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	adminCfg, err := clientcmd.LoadFromFile(admin)
	if err != nil {
		t.Fatal(err)
	}
	adminToken := adminCfg.AuthInfos[adminCfg.Contexts[adminCfg.CurrentContext].AuthInfo].Token
	if code, body, err := call(sum, "GET", api.PathStatus, adminToken); err != nil || code != http.StatusOK {
		t.Fatalf("the admin's token: %d %v %s", code, err, body)
	}
	if code, body, err := call(sum, "GET", api.PathStatus, ""); err != nil || code != http.StatusUnauthorized || !strings.Contains(body, "no bearer token") {
		t.Errorf("no token: want 401, got %d %v %s", code, err, body)
	}
	if code, body, err := call(sum, "GET", api.PathFlows, "not-a-token-"+ns); err != nil || code != http.StatusUnauthorized {
		t.Errorf("an unknown token: want 401, got %d %v %s", code, err, body)
	}
	if code, body, err := call(sum, "POST", api.PathCNIAdd, adminToken); err != nil || code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
		t.Errorf("the CNI endpoints must not be served remotely: got %d %v %s", code, err, body)
	}
	if _, _, err := call(strings.Repeat("0", 64), "GET", api.PathStatus, adminToken); err == nil || !strings.Contains(err.Error(), "not the pinned") {
		t.Errorf("a client pinning another certificate must fail the handshake, got %v", err)
	}

	// A ServiceAccount without access is refused (403, and yardctl says why), until the debugger role is bound.
	sa, err := f.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "debugger"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := f.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa.Name, &authnv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := tr.Status.Token
	if code, body, err := call(sum, "GET", api.PathStatus, token); err != nil || code != http.StatusForbidden || !strings.Contains(body, "may not get nodes/switchyard") {
		t.Errorf("a ServiceAccount without access: want 403, got %d %v %s", code, err, body)
	}
	// With only what yardctl reads to find the agent (Node, Lease) the agent still refuses, and yardctl says why.
	reader := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "reader-" + ns}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get"}}}}
	if _, err := f.Client.RbacV1().ClusterRoles().Create(ctx, reader, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = f.Client.RbacV1().ClusterRoles().Delete(context.Background(), reader.Name, metav1.DeleteOptions{})
	})
	bind := func(role string) string {
		b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role + "-" + ns},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: ns}}}
		if _, err := f.Client.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = f.Client.RbacV1().ClusterRoleBindings().Delete(context.Background(), b.Name, metav1.DeleteOptions{})
		})
		return b.Name
	}
	bind(reader.Name)
	kc := tokenKubeconfig(t, f, token)
	eventually(t, "yardctl is refused by the agent, saying why", func() (bool, string) {
		out, err := yardctlRemote(f, proxy, kc, "status", "--node", node1)
		return err != nil && strings.Contains(out, "may not get nodes/switchyard "+node1), out
	})
	debugger := bind("switchyard-debugger")
	eventually(t, "the debugger role lets the ServiceAccount use yardctl", func() (bool, string) {
		out, err := yardctlRemote(f, proxy, kc, "nodes", "--node", node1)
		return err == nil && strings.Contains(out, "node "+node1), out
	})
	if err := f.Client.RbacV1().ClusterRoleBindings().Delete(ctx, debugger, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "without the role the agent refuses the ServiceAccount again", func() (bool, string) {
		code, body, err := call(sum, "GET", api.PathStatus, token)
		return err == nil && code == http.StatusForbidden, fmt.Sprint(code, err, body)
	})

	// Pods cannot even complete a TLS handshake with the remote API.
	conn, err := forward.Dial(ctx, "/run/netns/"+f.Netns(t, client), strings.TrimPrefix(base, "https://"))
	if err == nil {
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if herr := tls.Client(conn, &tls.Config{InsecureSkipVerify: true}).Handshake(); herr == nil {
			t.Errorf("pod %s/client completed a TLS handshake with %s", ns, base)
		}
	}

	// node1's agent counted what it served and refused.
	metrics := f.Metrics(t, 1)
	for result, least := range map[string]float64{"ok": 3, "unauthenticated": 2, "forbidden": 2, "refused": 1} {
		name := `switchyard_remote_api_requests_total{result="` + result + `"}`
		if metrics[name] < least {
			t.Errorf("%s = %v, want at least %v", name, metrics[name], least)
		}
	}
}
