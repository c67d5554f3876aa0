package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/cni/api/apitest"
)

var podAttachment = api.Attachment{
	HostIfName: "sy-c0ffee01", HostMAC: "0A:58:0A:F4:01:FE", PodIfName: "eth0", PodMAC: "0a:58:0a:f4:01:05",
	Netns: "/var/run/netns/switchyard-test-absent", IPCIDR: "10.244.1.5/24", Gateway: "10.244.1.1", MTU: 1450, OFPort: 12,
}

// add runs a successful ADD against agent and returns the printed result.
func add(t *testing.T, agent *apitest.FakeAgent, cniVersion string) map[string]any {
	t.Helper()
	conf := netConf(cniVersion, agent.Socket)
	conf["mtu"] = 1400
	out := runPlugin(t, runtimeEnv("ADD"), mustJSON(t, conf))
	out.wantSuccess(t)
	var result map[string]any
	if err := json.Unmarshal(out.stdout, &result); err != nil {
		t.Fatalf("ADD result is not JSON: %v\n%s", err, out.stdout)
	}
	return result
}

func TestAddResultShape(t *testing.T) {
	ifaces := []any{
		map[string]any{"name": "sy-c0ffee01", "mac": "0a:58:0a:f4:01:fe", "mtu": 1450.0},
		map[string]any{"name": "eth0", "mac": "0a:58:0a:f4:01:05", "mtu": 1450.0, "sandbox": "/var/run/netns/switchyard-test-absent"},
	}
	ifaces04 := []any{
		map[string]any{"name": "sy-c0ffee01", "mac": "0a:58:0a:f4:01:fe"},
		map[string]any{"name": "eth0", "mac": "0a:58:0a:f4:01:05", "sandbox": "/var/run/netns/switchyard-test-absent"},
	}
	routes := []any{map[string]any{"dst": "0.0.0.0/0", "gw": "10.244.1.1"}}
	for _, tc := range []struct {
		cniVersion string
		want       map[string]any
	}{
		{"1.1.0", map[string]any{"cniVersion": "1.1.0", "interfaces": ifaces, "routes": routes,
			"ips": []any{map[string]any{"address": "10.244.1.5/24", "gateway": "10.244.1.1", "interface": 1.0}}}},
		{"0.4.0", map[string]any{"cniVersion": "0.4.0", "interfaces": ifaces04, "routes": routes, "dns": map[string]any{},
			"ips": []any{map[string]any{"version": "4", "address": "10.244.1.5/24", "gateway": "10.244.1.1", "interface": 1.0}}}},
	} {
		t.Run(tc.cniVersion, func(t *testing.T) {
			agent := apitest.NewFakeAgent(t)
			agent.Reply(http.MethodPost, api.PathCNIAdd, http.StatusOK, podAttachment)
			got := add(t, agent, tc.cniVersion)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("result\n%v\nwant\n%v", mustJSON(t, got), mustJSON(t, tc.want))
			}
			var req api.CNIRequest
			agent.Requests()[0].Decode(t, &req)
			want := api.CNIRequest{Network: "switchyard", ContainerID: "c0ffee01", Netns: "/var/run/netns/switchyard-test-absent",
				IfName: "eth0", PodNamespace: "default", PodName: "web-0", MTU: 1400}
			if req != want {
				t.Fatalf("agent received %+v, want %+v", req, want)
			}
		})
	}
}

func TestAddRejectsInconsistentAttachment(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	bad := podAttachment
	bad.Gateway = "10.9.9.9"
	agent.Reply(http.MethodPost, api.PathCNIAdd, http.StatusOK, bad)
	out := runPlugin(t, runtimeEnv("ADD"), mustJSON(t, netConf("1.1.0", agent.Socket)))
	out.wantError(t, types.ErrInternal, "gateway")
}

func TestAddPassesAgentErrorThrough(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	agent.ReplyError(http.MethodPost, api.PathCNIAdd, http.StatusServiceUnavailable, types.ErrTryAgainLater, "pod CIDR not assigned yet")
	out := runPlugin(t, runtimeEnv("ADD"), mustJSON(t, netConf("1.1.0", agent.Socket)))
	out.wantError(t, types.ErrTryAgainLater, "pod CIDR not assigned yet")
}

func TestDelIsIdempotent(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	conf := mustJSON(t, netConf("1.1.0", agent.Socket))

	agent.Reply(http.MethodPost, api.PathCNIDel, http.StatusOK, nil)
	runPlugin(t, runtimeEnv("DEL"), conf).wantSuccess(t)
	// A second DEL finds nothing; the agent says so with ErrUnknownContainer.
	agent.ReplyError(http.MethodPost, api.PathCNIDel, http.StatusNotFound, types.ErrUnknownContainer, "no attachment c0ffee01/eth0")
	runPlugin(t, runtimeEnv("DEL"), conf).wantSuccess(t)
	// A DEL without CNI_NETNS (the runtime already removed it) is fine too.
	e := runtimeEnv("DEL")
	e["CNI_NETNS"] = ""
	runPlugin(t, e, conf).wantSuccess(t)

	reqs := agent.Requests()
	if len(reqs) != 3 {
		t.Fatalf("agent received %d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		var req api.CNIRequest
		r.Decode(t, &req)
		// The netns path of runtimeEnv does not exist, so the plugin sends none.
		if r.Path != api.PathCNIDel || req.Netns != "" || req.ContainerID != "c0ffee01" || req.IfName != "eth0" {
			t.Fatalf("request %d: %s %+v, want DEL of c0ffee01/eth0 without netns", i, r.Path, req)
		}
	}
}

func TestUnreachableAgentFailsFast(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "absent.sock")
	conf := netConf("1.1.0", socket)
	conf["prevResult"] = map[string]any{"cniVersion": "1.1.0", "interfaces": []any{}}
	for _, command := range []string{"ADD", "DEL", "CHECK"} {
		t.Run(command, func(t *testing.T) {
			start := time.Now()
			runPlugin(t, runtimeEnv(command), mustJSON(t, conf)).wantError(t, types.ErrTryAgainLater, socket)
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Fatalf("%s against a missing agent took %s", command, elapsed)
			}
		})
	}
	t.Run("STATUS", func(t *testing.T) {
		runPlugin(t, runtimeEnv("STATUS"), mustJSON(t, conf)).wantError(t, types.ErrPluginNotAvailable, socket)
	})
}

func TestStatus(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	conf := mustJSON(t, netConf("1.1.0", agent.Socket))

	agent.Reply(http.MethodGet, api.PathStatus, http.StatusOK, api.Status{Ready: false, Reason: "OVS bridge br-int missing", Node: "n1"})
	runPlugin(t, runtimeEnv("STATUS"), conf).wantError(t, types.ErrPluginNotAvailable, "OVS bridge br-int missing")

	agent.Reply(http.MethodGet, api.PathStatus, http.StatusOK, api.Status{Ready: true, Node: "n1"})
	runPlugin(t, runtimeEnv("STATUS"), conf).wantSuccess(t)
}

func TestCheckComparesWithPrevResult(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	agent.Reply(http.MethodPost, api.PathCNIAdd, http.StatusOK, podAttachment)
	for _, cniVersion := range []string{"1.1.0", "0.4.0"} {
		prevResult := add(t, agent, cniVersion)
		conf := netConf(cniVersion, agent.Socket)
		conf["prevResult"] = prevResult
		check := func(att api.Attachment) outcome {
			agent.Reply(http.MethodPost, api.PathCNICheck, http.StatusOK, att)
			return runPlugin(t, runtimeEnv("CHECK"), mustJSON(t, conf))
		}

		check(podAttachment).wantSuccess(t)

		otherMAC := podAttachment
		otherMAC.PodMAC = "0a:58:0a:f4:01:99"
		check(otherMAC).wantError(t, types.ErrInternal, "pod interface MAC")

		otherIP := podAttachment
		otherIP.IPCIDR = "10.244.1.6/24"
		check(otherIP).wantError(t, types.ErrInternal, "pod IP")

		otherHost := podAttachment
		otherHost.HostIfName = "sy-other"
		check(otherHost).wantError(t, types.ErrInternal, "host interface name")
	}
}

func TestGCSendsValidAttachments(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	agent.Reply(http.MethodPost, api.PathCNIGC, http.StatusOK, api.GCResponse{Removed: []api.AttachmentKey{{ContainerID: "stale", IfName: "eth0"}}})
	conf := netConf("1.1.0", agent.Socket)
	conf["cni.dev/valid-attachments"] = []map[string]string{
		{"containerID": "c1", "ifname": "eth0"}, {"containerID": "c2", "ifname": "net1"},
	}
	runPlugin(t, runtimeEnv("GC"), mustJSON(t, conf)).wantSuccess(t)

	var req api.GCRequest
	agent.Requests()[0].Decode(t, &req)
	want := api.GCRequest{Network: "switchyard", Valid: []api.AttachmentKey{{ContainerID: "c1", IfName: "eth0"}, {ContainerID: "c2", IfName: "net1"}}}
	if !reflect.DeepEqual(req, want) {
		t.Fatalf("agent received %+v, want %+v", req, want)
	}

	// An empty list is sent as an empty list, not as null.
	conf["cni.dev/valid-attachments"] = []map[string]string{}
	runPlugin(t, runtimeEnv("GC"), mustJSON(t, conf)).wantSuccess(t)
	if body := string(agent.Requests()[1].Body); body != `{"network":"switchyard","valid":[]}` {
		t.Fatalf("GC with no valid attachments sent %s", body)
	}
}
