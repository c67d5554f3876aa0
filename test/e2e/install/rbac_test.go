package install

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/switchyard-net/switchyard/build/yamls"
	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/test/e2e/framework"
)

var agentUser = "system:serviceaccount:" + yamls.AgentNamespace + ":" + yamls.AgentServiceAccount

// grant is one (verb, resource) of a rule; group "" is the core group.
type grant struct{ verb, group, resource string }

func (g grant) String() string {
	if g.group == "" {
		return g.verb + " " + g.resource
	}
	return g.verb + " " + g.resource + "." + g.group
}

// fileRole is the ClusterRole of base/agent-rbac.yaml, and its grants.
func fileRole(t *testing.T) (*rbacv1.ClusterRole, []grant) {
	t.Helper()
	for _, doc := range strings.Split(string(yamls.AgentRBAC()), "\n---\n") {
		if !strings.Contains(doc, "kind: ClusterRole\n") {
			continue
		}
		var cr rbacv1.ClusterRole
		if err := yaml.UnmarshalStrict([]byte(doc), &cr); err != nil {
			t.Fatal(err)
		}
		var gs []grant
		for _, r := range cr.Rules {
			if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
				t.Fatalf("rule %v: resourceNames and nonResourceURLs are not handled by this test", r)
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						gs = append(gs, grant{v, g, res})
					}
				}
			}
		}
		return &cr, gs
	}
	t.Fatal("no ClusterRole in base/agent-rbac.yaml")
	return nil, nil
}

// canI asks the apiserver whether the agent's ServiceAccount may do g.
func canI(t *testing.T, f *framework.Framework, g grant) bool {
	t.Helper()
	res := g.resource
	if g.group != "" {
		res += "." + g.group
	}
	var out bytes.Buffer
	err := f.Lab.Kubectl(context.Background(), nil, &out, "auth", "can-i", g.verb, res, "--as="+agentUser)
	switch strings.TrimSpace(out.String()) {
	case "yes":
		return true
	case "no":
		return false
	}
	t.Fatalf("kubectl auth can-i %s: %v %q", g, err, out.String())
	return false
}

// agentLog is node 1's agent log.
func agentLog(f *framework.Framework) string {
	return filepath.Join(f.Lab.NodeDir(1), "proc", "agent.log")
}

// forbidden returns the log lines of path from offset on that report a denied API request.
func forbidden(t *testing.T, path string, offset int64) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b[min(offset, int64(len(b))):]), "\n") {
		if strings.Contains(l, "forbidden") {
			out = append(out, strings.ReplaceAll(l, `\"`, `"`)) // logrus quotes the error field
		}
	}
	return out
}

func logSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// The lab's agent runs with the ServiceAccount and RBAC of the install manifest and was never denied anything.
func TestAgentWasNeverForbidden(t *testing.T) {
	f := framework.Get(t)
	if fl := forbidden(t, agentLog(f), 0); len(fl) > 0 {
		t.Errorf("the agent was denied API requests:\n%s", strings.Join(fl, "\n"))
	}
	kc, err := os.ReadFile(filepath.Join(f.Lab.Options.StateDir, "agent.kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(kc, []byte("token:")) || bytes.Contains(kc, []byte("client-certificate")) {
		t.Error("the lab's agent does not authenticate with a ServiceAccount token")
	}
}

// The ClusterRole in the cluster is the file's, the agent may do exactly what it grants, and none of what a node
// agent must never do.
func TestRBACGrantsExactlyTheFile(t *testing.T) {
	f := framework.Get(t)
	want, grants := fileRole(t)
	live, err := f.Client.RbacV1().ClusterRoles().Get(context.Background(), want.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(live.Rules) != fmt.Sprint(want.Rules) {
		t.Errorf("the cluster's ClusterRole %v differs from base/agent-rbac.yaml %v", live.Rules, want.Rules)
	}
	for _, g := range grants {
		if !canI(t, f, g) {
			t.Errorf("the agent may not %s, which the manifest grants", g)
		}
	}
	granted := map[grant]bool{}
	for _, g := range grants {
		granted[g] = true
	}
	var never []grant
	for _, v := range []string{"get", "list", "watch", "create", "update", "patch", "delete"} {
		never = append(never, grant{v, "", "secrets"})
	}
	for _, v := range []string{"create", "update", "patch", "delete", "deletecollection"} {
		never = append(never, grant{v, "", "nodes"})
	}
	never = append(never, grant{"patch", "", "nodes/status"}, grant{"update", "", "nodes/status"},
		grant{"create", "", "pods/exec"}, grant{"create", "", "pods/eviction"}, grant{"create", "", "pods"},
		grant{"delete", "", "pods"}, grant{"create", "", "serviceaccounts/token"}, grant{"update", "", "configmaps"},
		grant{"create", "rbac.authorization.k8s.io", "clusterroles"}, grant{"create", "rbac.authorization.k8s.io", "clusterrolebindings"},
		grant{"escalate", "rbac.authorization.k8s.io", "clusterroles"}, grant{"impersonate", "", "users"},
		grant{"update", "apps", "daemonsets"}, grant{"create", "certificates.k8s.io", "certificatesigningrequests"})
	for _, g := range never {
		if granted[g] {
			t.Errorf("the manifest grants %s", g)
			continue
		}
		if canI(t, f, g) {
			t.Errorf("the agent may %s", g)
		}
	}
}

// Every grant is used: with one verb taken away, a restarted agent is denied exactly that verb. So the RBAC is no
// wider than the agent needs (and TestAgentWasNeverForbidden shows it is not narrower). The role is restored and
// the agent made ready again at the end of each step.
func TestEveryGrantIsUsed(t *testing.T) {
	f := framework.Get(t)
	ctx := context.Background()
	want, grants := fileRole(t)
	roles := f.Client.RbacV1().ClusterRoles()
	// A policy whose named port resolves to nothing: every agent start reports it as an Event (create events).
	ns := f.Namespace(t, "grants", nil)
	unresolved := intstr.FromString("no-such-port")
	if _, err := f.Client.NetworkingV1().NetworkPolicies(ns).Create(ctx, &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "unresolved", Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{
			{Ports: []networkingv1.NetworkPolicyPort{{Port: &unresolved}}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		cur, err := roles.Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cur.Rules = want.Rules
		if _, err := roles.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		restore()
		_ = f.Lab.StopAgent(1, false)
		if err := f.Lab.StartAgent(1); err != nil {
			t.Error(err)
		}
		waitReady(t, f)
	})
	// client-go streams an informer's initial list over WATCH where the apiserver supports it (this lab's does),
	// and falls back to LIST where it does not: restarted agents take the LIST path, so that "list" is proven
	// needed for the apiservers that do not stream lists. (The lab's agent, started normally, takes the other path
	// and is never denied either: TestAgentWasNeverForbidden.)
	t.Setenv("KUBE_FEATURE_WatchListClient", "false")
	for _, g := range grants {
		t.Run(g.String(), func(t *testing.T) {
			cur, err := roles.Get(ctx, want.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cur.Rules = without(want.Rules, g)
			if _, err := roles.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			eventually(t, 20*time.Second, func() bool { return !canI(t, f, g) }, "the apiserver still allows %s", g)
			if err := f.Lab.StopAgent(1, false); err != nil {
				t.Fatal(err)
			}
			offset := logSize(t, agentLog(f))
			if err := f.Lab.StartAgent(1); err != nil {
				t.Fatal(err)
			}
			denied := fmt.Sprintf("cannot %s resource %q", g.verb, g.resource)
			eventually(t, 45*time.Second, func() bool {
				for _, l := range forbidden(t, agentLog(f), offset) {
					if strings.Contains(l, denied) {
						t.Logf("without %s: %s", g, l)
						return true
					}
				}
				return false
			}, "without %s the agent was never denied it: the grant is not needed", g)
			restore()
			eventually(t, 20*time.Second, func() bool { return canI(t, f, g) }, "the apiserver does not allow %s again", g)
			if err := f.Lab.StopAgent(1, false); err != nil {
				t.Fatal(err)
			}
			offset = logSize(t, agentLog(f))
			if err := f.Lab.StartAgent(1); err != nil {
				t.Fatal(err)
			}
			waitReady(t, f)
			if fl := forbidden(t, agentLog(f), offset); len(fl) > 0 {
				t.Errorf("with the full role restored the agent was denied:\n%s", strings.Join(fl, "\n"))
			}
		})
	}
}

// without returns rules with one grant removed (a rule left with no verbs is dropped).
func without(rules []rbacv1.PolicyRule, g grant) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, r := range rules {
		match := false
		for _, grp := range r.APIGroups {
			for _, res := range r.Resources {
				match = match || (grp == g.group && res == g.resource)
			}
		}
		if !match {
			out = append(out, r)
			continue
		}
		// Split the rule so only (verb, group, resource) goes.
		for _, grp := range r.APIGroups {
			for _, res := range r.Resources {
				var verbs []string
				for _, v := range r.Verbs {
					if !(grp == g.group && res == g.resource && v == g.verb) {
						verbs = append(verbs, v)
					}
				}
				if len(verbs) > 0 {
					out = append(out, rbacv1.PolicyRule{APIGroups: []string{grp}, Resources: []string{res}, Verbs: verbs})
				}
			}
		}
	}
	return out
}

// waitReady waits until node 1's agent answers ready on its socket (the DaemonSet's readiness condition).
func waitReady(t *testing.T, f *framework.Framework) {
	t.Helper()
	sock := filepath.Join(f.Lab.NodeDir(1), "run", "agent.sock")
	eventually(t, 60*time.Second, func() bool {
		st, err := statusOf(sock)
		return err == nil && st.Ready
	}, "node 1's agent did not become ready")
}

func eventually(t *testing.T, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(format, args...)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// statusOf asks an agent's status on its API socket.
func statusOf(sock string) (*api.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return api.NewClient(sock, api.Timeouts{}).Status(ctx)
}
