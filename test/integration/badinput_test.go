package integration

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/switchyard-net/switchyard/test/nettest"
)

// Malformed configurations and environments, run through the plugin binary exactly as a runtime runs it, against a
// real agent: each gives its exact CNI error code, names what is wrong, and leaves nothing behind.
func TestMalformedInputGivesExactCodeAndLeaksNothing(t *testing.T) {
	n := newNode(t, "10.244.16.0/24")
	podNS := nettest.NewNetns(t, "bad")
	podPath := "/run/netns/" + podNS
	linksBefore, portsBefore, flowsBefore := n.links(), n.ports(), n.flows()

	good := func() map[string]any {
		return map[string]any{"cniVersion": "1.1.0", "name": "switchyard", "type": "switchyard", "agentSocket": n.apiSocket()}
	}
	with := func(k string, v any) map[string]any { c := good(); c[k] = v; return c }
	without := func(k string) map[string]any { c := good(); delete(c, k); return c }
	env := func(over map[string]string) map[string]string {
		e := map[string]string{"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "bad0001", "CNI_NETNS": podPath,
			"CNI_IFNAME": "eth0", "CNI_PATH": binDir, "CNI_ARGS": "K8S_POD_NAMESPACE=default;K8S_POD_NAME=bad"}
		for k, v := range over {
			if v == "-" {
				delete(e, k)
			} else {
				e[k] = v
			}
		}
		return e
	}
	cases := []struct {
		name  string
		conf  any // a map, or a raw string
		env   map[string]string
		code  uint
		names string // the error message must mention this (skel words its own checks: "containerID", "interface name")
	}{
		{"stdin is not JSON", "{not json", env(nil), cnitypes.ErrDecodingFailure, ""},
		{"name missing", without("name"), env(nil), cnitypes.ErrInvalidNetworkConfig, "name"},
		{"wrong plugin type", with("type", "bridge"), env(nil), cnitypes.ErrInvalidNetworkConfig, "type"},
		{"mtu too small", with("mtu", 100), env(nil), cnitypes.ErrInvalidNetworkConfig, "mtu"},
		{"mtu not a number", with("mtu", "big"), env(nil), cnitypes.ErrInvalidNetworkConfig, "mtu"},
		{"relative agent socket", with("agentSocket", "agent.sock"), env(nil), cnitypes.ErrInvalidNetworkConfig, "agentSocket"},
		{"unsupported cniVersion", with("cniVersion", "9.9.9"), env(nil), cnitypes.ErrIncompatibleCNIVersion, "9.9.9"},
		{"CNI_PATH missing", good(), env(map[string]string{"CNI_PATH": "-"}), cnitypes.ErrInvalidEnvironmentVariables, "CNI_PATH"},
		{"CNI_COMMAND unknown", good(), env(map[string]string{"CNI_COMMAND": "FROB"}), cnitypes.ErrInvalidEnvironmentVariables, "FROB"},
		{"CNI_CONTAINERID missing", good(), env(map[string]string{"CNI_CONTAINERID": "-"}), cnitypes.ErrInvalidEnvironmentVariables, "CNI_CONTAINERID"},
		{"CNI_CONTAINERID with a slash", good(), env(map[string]string{"CNI_CONTAINERID": "a/b"}), cnitypes.ErrInvalidEnvironmentVariables, "containerID"},
		{"CNI_IFNAME missing", good(), env(map[string]string{"CNI_IFNAME": "-"}), cnitypes.ErrInvalidEnvironmentVariables, "CNI_IFNAME"},
		{"CNI_IFNAME too long", good(), env(map[string]string{"CNI_IFNAME": "eth0123456789012"}), cnitypes.ErrInvalidEnvironmentVariables, "interface name"},
		{"CNI_IFNAME with a slash", good(), env(map[string]string{"CNI_IFNAME": "et/h0"}), cnitypes.ErrInvalidEnvironmentVariables, "interface name"},
		{"CNI_NETNS missing on ADD", good(), env(map[string]string{"CNI_NETNS": "-"}), cnitypes.ErrInvalidEnvironmentVariables, "CNI_NETNS"},
		{"CNI_NETNS does not exist", good(), env(map[string]string{"CNI_NETNS": "/run/netns/no-such-ns-xyz"}), cnitypes.ErrInvalidEnvironmentVariables, "CNI_NETNS"},
		{"CNI_ARGS malformed", good(), env(map[string]string{"CNI_ARGS": "K8S_POD_NAME"}), cnitypes.ErrInvalidEnvironmentVariables, "CNI_ARGS"},
		{"pod name without namespace", good(), env(map[string]string{"CNI_ARGS": "K8S_POD_NAME=x"}), cnitypes.ErrInvalidEnvironmentVariables, "K8S_POD_NAMESPACE"},
		{"agent socket absent", with("agentSocket", filepath.Join(n.dir, "nope.sock")), env(nil), cnitypes.ErrTryAgainLater, "nope.sock"},
		{"interface name taken in the pod", good(), env(map[string]string{"CNI_IFNAME": "lo"}), cnitypes.ErrInternal, "lo"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stdin, ok := c.conf.(string)
			if !ok {
				b, _ := json.Marshal(c.conf)
				stdin = string(b)
			}
			e := runPlugin(t, c.env, stdin)
			if e == nil {
				t.Fatalf("plugin succeeded, want code %d", c.code)
			}
			if e.Code != c.code {
				t.Errorf("code %d (%s), want %d", e.Code, e.Msg, c.code)
			}
			if c.names != "" && !strings.Contains(e.Msg+" "+e.Details, c.names) {
				t.Errorf("message %q does not name %q", e.Msg, c.names)
			}
		})
	}

	// The pod side fails (a default route is already there) once the veth pair exists: the pair, the IP and the
	// flows installed meanwhile must go again.
	t.Run("default route taken in the pod", func(t *testing.T) {
		routed := nettest.NewNetns(t, "bad")
		nettest.Run(t, "ip", "-n", routed, "link", "add", "other0", "type", "veth", "peer", "name", "other1")
		nettest.Run(t, "ip", "-n", routed, "link", "set", "other0", "up")
		nettest.Run(t, "ip", "-n", routed, "route", "add", "default", "dev", "other0")
		b, _ := json.Marshal(good())
		e := runPlugin(t, env(map[string]string{"CNI_NETNS": "/run/netns/" + routed, "CNI_CONTAINERID": "bad0002"}), string(b))
		if e == nil {
			t.Fatal("plugin succeeded in a netns that already has a default route")
		}
		if e.Code != cnitypes.ErrInternal || !strings.Contains(e.Msg+" "+e.Details, "default route") {
			t.Errorf("code %d (%s), want %d naming the default route", e.Code, e.Msg, cnitypes.ErrInternal)
		}
		if out := nettest.Run(t, "ip", "-n", routed, "-o", "link", "show"); strings.Count(out, "\n") != 3 {
			t.Errorf("links leaked in the pod namespace (lo, other0 and other1 were there):\n%s", out)
		}
	})

	if d := setDiff(linksBefore, n.links()); d != "" {
		t.Errorf("links leaked in the node: %s", d)
	}
	if d := setDiff(portsBefore, n.ports()); d != "" {
		t.Errorf("OVS ports leaked: %s", d)
	}
	if files := n.ipamFiles(); len(files) != 0 {
		t.Errorf("IPs leaked: %v", files)
	}
	if d := nettest.MultisetDiff(nettest.WithoutCookies(flowsBefore), nettest.WithoutCookies(n.flows())); d != "" {
		t.Errorf("flows leaked:\n%s", d)
	}
	if out := nettest.Run(t, "ip", "-n", podNS, "-o", "link", "show"); strings.Count(out, "\n") != 1 {
		t.Errorf("links leaked in the pod namespace:\n%s", out)
	}
}

// runPlugin executes the plugin binary with env and stdin; it returns the CNI error it printed, or nil.
func runPlugin(t *testing.T, env map[string]string, stdin string) *cnitypes.Error {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "switchyard"))
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Run(); err == nil {
		return nil
	}
	var e cnitypes.Error
	if err := json.Unmarshal(stdout.Bytes(), &e); err != nil {
		t.Fatalf("plugin failed without a CNI error on stdout: %q", stdout.String())
	}
	return &e
}

func setDiff(before, after []string) string {
	sort.Strings(before)
	sort.Strings(after)
	return nettest.MultisetDiff(before, after)
}
