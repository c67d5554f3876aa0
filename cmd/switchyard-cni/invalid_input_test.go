package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/cni/api/apitest"
)

// TestInvalidInputIsRejectedBeforeTheAgent runs malformed configs and environments through the
// plugin binary. Each must fail with the exact CNI error code, name what is wrong, and never
// reach the agent (so nothing can be allocated or leaked).
func TestInvalidInputIsRejectedBeforeTheAgent(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	goodAttachment := api.Attachment{HostIfName: "sy0", HostMAC: "0a:00:00:00:00:01", PodIfName: "eth0",
		PodMAC: "0a:00:00:00:00:02", IPCIDR: "10.244.1.5/24", Gateway: "10.244.1.1"}
	agent.Reply(http.MethodPost, api.PathCNIAdd, http.StatusOK, goodAttachment)
	agent.Reply(http.MethodPost, api.PathCNICheck, http.StatusOK, goodAttachment)
	agent.Reply(http.MethodPost, api.PathCNIDel, http.StatusOK, nil)
	agent.Reply(http.MethodPost, api.PathCNIGC, http.StatusOK, api.GCResponse{})

	cases := []struct {
		name    string
		command string
		env     func(env)
		conf    func(map[string]any)
		stdin   string // replaces the config when set
		code    uint
		names   string
	}{
		// network config
		{name: "stdin not JSON", stdin: `{"cniVersion":"1.1.0",`, code: types.ErrDecodingFailure, names: "network config"},
		{name: "stdin a JSON array", stdin: `[{"name":"switchyard"}]`, code: types.ErrDecodingFailure, names: "network config"},
		{name: "name missing", conf: func(c map[string]any) { delete(c, "name") }, code: types.ErrInvalidNetworkConfig, names: "network name"},
		{name: "name invalid", conf: func(c map[string]any) { c["name"] = "sw/yard" }, code: types.ErrInvalidNetworkConfig, names: "network name"},
		{name: "type wrong", conf: func(c map[string]any) { c["type"] = "bridge" }, code: types.ErrInvalidNetworkConfig, names: `"type"`},
		{name: "type missing", conf: func(c map[string]any) { delete(c, "type") }, code: types.ErrInvalidNetworkConfig, names: `"type"`},
		{name: "mtu too small", conf: func(c map[string]any) { c["mtu"] = 500 }, code: types.ErrInvalidNetworkConfig, names: "mtu 500"},
		{name: "mtu too large", conf: func(c map[string]any) { c["mtu"] = 70000 }, code: types.ErrInvalidNetworkConfig, names: "mtu 70000"},
		{name: "mtu a string", conf: func(c map[string]any) { c["mtu"] = "1500" }, code: types.ErrInvalidNetworkConfig, names: `"mtu"`},
		{name: "agentSocket relative", conf: func(c map[string]any) { c["agentSocket"] = "agent.sock" }, code: types.ErrInvalidNetworkConfig, names: "agentSocket"},
		{name: "logLevel unknown", conf: func(c map[string]any) { c["logLevel"] = "chatty" }, code: types.ErrInvalidNetworkConfig, names: "logLevel"},
		{name: "logFile relative", conf: func(c map[string]any) { c["logFile"] = "cni.log" }, code: types.ErrInvalidNetworkConfig, names: "logFile"},
		{name: "cniVersion too old", conf: func(c map[string]any) { c["cniVersion"] = "0.2.0" }, code: types.ErrIncompatibleCNIVersion, names: "CNI version"},
		{name: "cniVersion unknown", conf: func(c map[string]any) { c["cniVersion"] = "9.9.9" }, code: types.ErrIncompatibleCNIVersion, names: "9.9.9"},
		{name: "ipam section", conf: func(c map[string]any) { c["ipam"] = map[string]any{"type": "host-local"} }, code: types.ErrUnsupportedField, names: `"ipam"`},
		{name: "runtimeConfig ips", conf: func(c map[string]any) { c["runtimeConfig"] = map[string]any{"ips": []string{"10.0.0.9/24"}} }, code: types.ErrUnsupportedField, names: "runtimeConfig.ips"},
		{name: "runtimeConfig not an object", conf: func(c map[string]any) { c["runtimeConfig"] = "x" }, code: types.ErrInvalidNetworkConfig, names: "runtimeConfig"},
		{name: "prevResult malformed", conf: func(c map[string]any) { c["prevResult"] = map[string]any{"ips": 7} }, code: types.ErrDecodingFailure, names: "prevResult"},
		{name: "CHECK without prevResult", command: "CHECK", code: types.ErrInvalidNetworkConfig, names: "prevResult"},
		{name: "CHECK on cniVersion 0.3.1", command: "CHECK", conf: func(c map[string]any) { c["cniVersion"] = "0.3.1" }, code: types.ErrIncompatibleCNIVersion, names: "CHECK"},
		{name: "GC on cniVersion 1.0.0", command: "GC", conf: func(c map[string]any) { c["cniVersion"] = "1.0.0" }, code: types.ErrIncompatibleCNIVersion, names: "GC"},
		{name: "GC without valid-attachments", command: "GC", code: types.ErrInvalidNetworkConfig, names: "cni.dev/valid-attachments"},
		{name: "GC attachment without ifname", command: "GC", conf: func(c map[string]any) {
			c["cni.dev/valid-attachments"] = []map[string]string{{"containerID": "c1"}}
		}, code: types.ErrInvalidNetworkConfig, names: "valid-attachments[0]"},
		// environment
		{name: "CNI_COMMAND unknown", env: func(e env) { e["CNI_COMMAND"] = "ATTACH" }, code: types.ErrInvalidEnvironmentVariables, names: "CNI_COMMAND"},
		{name: "CNI_PATH missing", env: func(e env) { e["CNI_PATH"] = "" }, code: types.ErrInvalidEnvironmentVariables, names: "CNI_PATH"},
		{name: "CNI_IFNAME empty", env: func(e env) { e["CNI_IFNAME"] = "" }, code: types.ErrInvalidEnvironmentVariables, names: "CNI_IFNAME"},
		{name: "CNI_IFNAME too long", env: func(e env) { e["CNI_IFNAME"] = strings.Repeat("e", 16) }, code: types.ErrInvalidEnvironmentVariables, names: "interface name"},
		{name: "CNI_IFNAME with slash", env: func(e env) { e["CNI_IFNAME"] = "eth/0" }, code: types.ErrInvalidEnvironmentVariables, names: "interface name"},
		{name: "CNI_IFNAME with colon", command: "DEL", env: func(e env) { e["CNI_IFNAME"] = "eth0:1" }, code: types.ErrInvalidEnvironmentVariables, names: "interface name"},
		{name: "CNI_IFNAME with space", env: func(e env) { e["CNI_IFNAME"] = "eth 0" }, code: types.ErrInvalidEnvironmentVariables, names: "interface name"},
		{name: "CNI_CONTAINERID empty", env: func(e env) { e["CNI_CONTAINERID"] = "" }, code: types.ErrInvalidEnvironmentVariables, names: "CNI_CONTAINERID"},
		{name: "CNI_CONTAINERID leading dash", env: func(e env) { e["CNI_CONTAINERID"] = "-c0ffee" }, code: types.ErrInvalidEnvironmentVariables, names: "containerID"},
		{name: "CNI_CONTAINERID with slash", command: "DEL", env: func(e env) { e["CNI_CONTAINERID"] = "c0/ffee" }, code: types.ErrInvalidEnvironmentVariables, names: "containerID"},
		{name: "CNI_NETNS missing on ADD", env: func(e env) { e["CNI_NETNS"] = "" }, code: types.ErrInvalidEnvironmentVariables, names: "CNI_NETNS"},
		{name: "CNI_NETNS missing on CHECK", command: "CHECK", env: func(e env) { e["CNI_NETNS"] = "" }, code: types.ErrInvalidEnvironmentVariables, names: "CNI_NETNS"},
		{name: "CNI_NETNS relative", env: func(e env) { e["CNI_NETNS"] = "netns/pod" }, code: types.ErrInvalidEnvironmentVariables, names: "CNI_NETNS"},
		{name: "CNI_NETNS is the plugin's own", env: func(e env) { e["CNI_NETNS"] = "/proc/self/ns/net" }, code: types.ErrInvalidNetNS, names: "CNI_NETNS"},
		{name: "CNI_ARGS malformed", env: func(e env) { e["CNI_ARGS"] = "K8S_POD_NAMESPACE=default;K8S_POD_NAME" }, code: types.ErrInvalidEnvironmentVariables, names: "CNI_ARGS"},
		{name: "K8S_POD_NAME without namespace", env: func(e env) { e["CNI_ARGS"] = "K8S_POD_NAME=web-0" }, code: types.ErrInvalidEnvironmentVariables, names: "K8S_POD_NAMESPACE"},
		{name: "K8S_POD_NAMESPACE without name", command: "DEL", env: func(e env) { e["CNI_ARGS"] = "K8S_POD_NAMESPACE=default" }, code: types.ErrInvalidEnvironmentVariables, names: "K8S_POD_NAME"},
		{name: "K8S_POD_NAMESPACE invalid", env: func(e env) { e["CNI_ARGS"] = "K8S_POD_NAMESPACE=Kube_System;K8S_POD_NAME=web-0" }, code: types.ErrInvalidEnvironmentVariables, names: "K8S_POD_NAMESPACE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			command := tc.command
			if command == "" {
				command = "ADD"
			}
			e := runtimeEnv(command)
			if tc.env != nil {
				tc.env(e)
			}
			stdin := tc.stdin
			if stdin == "" {
				conf := netConf("1.1.0", agent.Socket)
				if tc.conf != nil {
					tc.conf(conf)
				}
				stdin = mustJSON(t, conf)
			}
			before := len(agent.Requests())
			runPlugin(t, e, stdin).wantError(t, tc.code, tc.names)
			if got := agent.Requests(); len(got) != before {
				t.Fatalf("invalid input reached the agent: %s %s %s", got[before].Method, got[before].Path, got[before].Body)
			}
		})
	}
}
