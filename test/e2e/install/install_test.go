// Package install tests what users install (issue 8) against a 1-node lab: the install manifest is accepted by a
// real apiserver, the agent's RBAC is exactly what the agent uses, the lab's node runs the same install-cni.sh and
// start-ovs.sh as the DaemonSet, and the DaemonSet's probes work against a real agent and OVS.
package install

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/switchyard-net/switchyard/build/yamls"
	"github.com/switchyard-net/switchyard/test/e2e/framework"
)

func TestMain(m *testing.M) {
	o := framework.DefaultLab()
	o.Nodes = 1
	o.UnderlayCIDR, o.Underlay2 = "192.168.180.0/24", "192.168.190.0/24"
	o.ClusterCIDR, o.ServiceCIDR = "10.180.0.0/16", "10.190.0.0/16"
	framework.Main(m, o)
}

// repoRoot is the module root, found from this file.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the source tree")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// The committed install manifest is accepted by the apiserver (server-side apply, dry run): every object, with
// the apiserver's validation and admission (priority class, service account, host paths).
func TestManifestAcceptedByAPIServer(t *testing.T) {
	f := framework.Get(t)
	file := filepath.Join(repoRoot(t), "build", "yamls", "switchyard.yaml")
	var out bytes.Buffer
	if err := f.Lab.Kubectl(context.Background(), nil, &out, "apply", "--server-side", "--dry-run=server",
		"--field-manager=switchyard-install-test", "-f", file); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	for _, obj := range []string{"serviceaccount/switchyard-agent", "clusterrole.rbac.authorization.k8s.io/switchyard-agent",
		"clusterrolebinding.rbac.authorization.k8s.io/switchyard-agent", "configmap/switchyard-agent", "daemonset.apps/switchyard-agent"} {
		if !strings.Contains(out.String(), obj+" serverside-applied (server dry run)") {
			t.Errorf("%s not applied:\n%s", obj, out.String())
		}
	}
	// Dry run: nothing was created.
	if _, err := f.Client.AppsV1().DaemonSets(yamls.AgentNamespace).Get(context.Background(), "switchyard-agent", metav1.GetOptions{}); err == nil {
		t.Error("the dry run created the DaemonSet")
	}
}

// The lab's node was set up by the DaemonSet's scripts: the plugin installed by install-cni.sh (the built plugin,
// executable, no temporary file left) and Open vSwitch started by start-ovs.sh (its pidfiles, control sockets and
// the system-id only the script sets), from the scripts of this source tree.
func TestLabRunsTheInstallScripts(t *testing.T) {
	f := framework.Get(t)
	node := f.Lab.NodeDir(1)
	for _, s := range []string{"start-ovs.sh", "install-cni.sh"} {
		used, err := os.ReadFile(filepath.Join(f.Lab.Options.BinDir, "scripts", s))
		if err != nil {
			used, err = os.ReadFile(filepath.Join(f.Lab.Options.BinDir, "..", "build", "images", "scripts", s))
		}
		if err != nil {
			t.Fatalf("the lab's %s: %v", s, err)
		}
		src, err := os.ReadFile(filepath.Join(repoRoot(t), "build", "images", "scripts", s))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(used, src) {
			t.Errorf("the lab ran a %s that is not build/images/scripts/%s", s, s)
		}
	}

	plugin := filepath.Join(node, "cni", "bin", "switchyard")
	st, err := os.Stat(plugin)
	if err != nil {
		t.Fatalf("the plugin is not installed: %v", err)
	}
	if st.Mode().Perm() != 0o755 {
		t.Errorf("%s has mode %v, want 0755 (install-cni.sh's chmod)", plugin, st.Mode())
	}
	installed, _ := os.ReadFile(plugin)
	built, err := os.ReadFile(filepath.Join(f.Lab.Options.BinDir, "switchyard-cni"))
	if err != nil || !bytes.Equal(installed, built) {
		t.Errorf("%s is not the built switchyard-cni (%v)", plugin, err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(node, "cni", "bin", ".switchyard.*")); len(tmp) > 0 {
		t.Errorf("install-cni.sh left temporary files: %v", tmp)
	}

	ovs := filepath.Join(node, "ovs")
	for _, d := range []string{"ovsdb-server", "ovs-vswitchd"} {
		pid, err := os.ReadFile(filepath.Join(ovs, d+".pid"))
		if err != nil {
			t.Fatalf("%s pidfile: %v", d, err)
		}
		if _, err := os.Stat(filepath.Join("/proc", strings.TrimSpace(string(pid)))); err != nil {
			t.Errorf("%s (pid %s) is not running", d, strings.TrimSpace(string(pid)))
		}
	}
	// The DaemonSet's OVS probes, pointed at the lab's run directory.
	probe := ovsProbe(t)
	if out, err := exec.Command("sh", "-c", strings.ReplaceAll(probe, "/var/run/openvswitch", ovs)).CombinedOutput(); err != nil {
		t.Errorf("the switchyard-ovs liveness probe fails on the lab's OVS: %v\n%s", err, out)
	}
	out, err := exec.Command("ovs-vsctl", "--db=unix:"+filepath.Join(ovs, "db.sock"), "--timeout=5", "get", "Open_vSwitch", ".",
		"external_ids:system-id").CombinedOutput()
	if err != nil || strings.Trim(strings.TrimSpace(string(out)), `"`) != f.Lab.Plan.NodeName(1) {
		t.Errorf("system-id %q (%v), want %s as start-ovs.sh sets it", out, err, f.Lab.Plan.NodeName(1))
	}
}

// ovsProbe is the shell command of the switchyard-ovs liveness probe in the committed manifest.
func ovsProbe(t *testing.T) string {
	t.Helper()
	c := manifestContainer(t, "switchyard-ovs")
	if p := c.LivenessProbe; p != nil && p.Exec != nil && len(p.Exec.Command) == 3 && p.Exec.Command[0] == "sh" && p.Exec.Command[1] == "-c" {
		return p.Exec.Command[2]
	}
	t.Fatal("no sh -c liveness probe on switchyard-ovs in the manifest")
	return ""
}

// manifestContainer is a container of the committed manifest's DaemonSet.
func manifestContainer(t *testing.T, name string) corev1.Container {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "build", "yamls", "switchyard.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		if !strings.Contains(doc, "kind: DaemonSet") {
			continue
		}
		var ds struct {
			Spec struct {
				Template struct{ Spec corev1.PodSpec }
			}
		}
		if err := yaml.Unmarshal([]byte(doc), &ds); err != nil {
			t.Fatal(err)
		}
		for _, c := range ds.Spec.Template.Spec.Containers {
			if c.Name == name {
				return c
			}
		}
	}
	t.Fatalf("no container %s in the manifest's DaemonSet", name)
	return corev1.Container{}
}

// The agent container's probes (httpGet /readyz and /healthz on the manifest's host and port, asked from the
// node's network as the kubelet of a hostNetwork pod asks them) succeed against the lab's real agent.
func TestAgentHealthProbes(t *testing.T) {
	f := framework.Get(t)
	agent := manifestContainer(t, "switchyard-agent")
	for _, p := range []*corev1.Probe{agent.ReadinessProbe, agent.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Fatalf("the agent's probes are not httpGet: %+v", p)
		}
		addr := net.JoinHostPort(p.HTTPGet.Host, p.HTTPGet.Port.String())
		var status string
		err := ns.WithNetNSPath("/run/netns/"+f.Lab.Plan.NodeNS(1), func(ns.NetNS) error {
			// Dial here, on this goroutine: it is the one locked in the node's namespace.
			c, err := net.DialTimeout("tcp", addr, 3*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", p.HTTPGet.Path, addr); err != nil {
				return err
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return err
			}
			resp.Body.Close()
			status = resp.Status
			return nil
		})
		if err != nil || !strings.HasPrefix(status, "200") {
			t.Errorf("probe GET http://%s%s on the node: %q %v", addr, p.HTTPGet.Path, status, err)
		}
	}
}
