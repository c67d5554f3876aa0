package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/switchyard-net/switchyard/cni/api"
)

func wantCode(t *testing.T, err error, code uint, names string) {
	t.Helper()
	var cniErr *types.Error
	if !errors.As(err, &cniErr) {
		t.Fatalf("error %v (%T) is not a *types.Error", err, err)
	}
	if cniErr.Code != code {
		t.Fatalf("code %d, want %d: %v", cniErr.Code, code, cniErr)
	}
	if !strings.Contains(cniErr.Error(), names) {
		t.Fatalf("error %q does not name %q", cniErr.Error(), names)
	}
}

func TestParseFillsDefaults(t *testing.T) {
	conf, err := Parse([]byte(`{"cniVersion":"1.1.0","name":"switchyard","type":"switchyard"}`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if conf.AgentSocket != api.DefaultSocket || conf.LogLevel != DefaultLogLevel || conf.MTU != 0 || conf.PrevResult != nil {
		t.Fatalf("defaults not filled: %+v", conf)
	}
}

func TestParseKeepsSettings(t *testing.T) {
	conf, err := Parse([]byte(`{"cniVersion":"0.4.0","name":"net1","type":"switchyard","agentSocket":"/run/sy/a.sock",
		"mtu":1400,"logLevel":"debug","logFile":"/var/log/sy.log","runtimeConfig":{"portMappings":[]},"someFutureField":1}`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if conf.AgentSocket != "/run/sy/a.sock" || conf.MTU != 1400 || conf.LogLevel != "debug" || conf.LogFile != "/var/log/sy.log" {
		t.Fatalf("settings not kept: %+v", conf)
	}
}

func TestParsePrevResultConvertsToCurrent(t *testing.T) {
	conf, err := Parse([]byte(`{"cniVersion":"0.4.0","name":"n","type":"switchyard","prevResult":{
		"cniVersion":"0.4.0","interfaces":[{"name":"eth0","mac":"0a:58:0a:f4:01:05","sandbox":"/var/run/netns/p"}],
		"ips":[{"version":"4","address":"10.244.1.5/24","gateway":"10.244.1.1","interface":0}]}}`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	prev := conf.CurrentPrevResult()
	if prev == nil || len(prev.IPs) != 1 || prev.IPs[0].Address.String() != "10.244.1.5/24" || prev.Interfaces[0].Sandbox != "/var/run/netns/p" {
		t.Fatalf("prevResult not parsed: %+v", prev)
	}
}

func TestParseRejects(t *testing.T) {
	base := `"cniVersion":"1.1.0","name":"n","type":"switchyard"`
	cases := []struct {
		name, conf string
		code       uint
		names      string
	}{
		{"not JSON", `{"cniVersion":`, types.ErrDecodingFailure, "not valid JSON"},
		{"array", `[1,2]`, types.ErrDecodingFailure, "not a JSON object"},
		{"empty", ``, types.ErrDecodingFailure, "not a JSON object"},
		{"no cniVersion", `{"name":"n","type":"switchyard"}`, types.ErrIncompatibleCNIVersion, "cniVersion"},
		{"old cniVersion", `{"cniVersion":"0.2.0","name":"n","type":"switchyard"}`, types.ErrIncompatibleCNIVersion, "cniVersion \"0.2.0\""},
		{"no name", `{"cniVersion":"1.1.0","type":"switchyard"}`, types.ErrInvalidNetworkConfig, `"name"`},
		{"bad name", `{"cniVersion":"1.1.0","name":"-x","type":"switchyard"}`, types.ErrInvalidNetworkConfig, "network name"},
		{"no type", `{"cniVersion":"1.1.0","name":"n"}`, types.ErrInvalidNetworkConfig, `"type"`},
		{"wrong type", `{"cniVersion":"1.1.0","name":"n","type":"bridge"}`, types.ErrInvalidNetworkConfig, `"bridge"`},
		{"relative socket", `{` + base + `,"agentSocket":"run/a.sock"}`, types.ErrInvalidNetworkConfig, "agentSocket"},
		{"long socket", `{` + base + `,"agentSocket":"/` + strings.Repeat("s", 120) + `"}`, types.ErrInvalidNetworkConfig, "agentSocket"},
		{"mtu low", `{` + base + `,"mtu":575}`, types.ErrInvalidNetworkConfig, "mtu 575"},
		{"mtu high", `{` + base + `,"mtu":65536}`, types.ErrInvalidNetworkConfig, "mtu 65536"},
		{"mtu negative", `{` + base + `,"mtu":-1}`, types.ErrInvalidNetworkConfig, "mtu -1"},
		{"mtu string", `{` + base + `,"mtu":"1500"}`, types.ErrInvalidNetworkConfig, `"mtu"`},
		{"log level", `{` + base + `,"logLevel":"loud"}`, types.ErrInvalidNetworkConfig, "logLevel"},
		{"log file", `{` + base + `,"logFile":"sy.log"}`, types.ErrInvalidNetworkConfig, "logFile"},
		{"ipam", `{` + base + `,"ipam":{"type":"host-local"}}`, types.ErrUnsupportedField, `"ipam"`},
		{"runtime ips", `{` + base + `,"runtimeConfig":{"ips":["10.0.0.1/24"]}}`, types.ErrUnsupportedField, "runtimeConfig.ips"},
		{"runtime mac", `{` + base + `,"runtimeConfig":{"mac":"0a:00:00:00:00:01"}}`, types.ErrUnsupportedField, "runtimeConfig.mac"},
		{"runtimeConfig not object", `{` + base + `,"runtimeConfig":[1]}`, types.ErrInvalidNetworkConfig, "runtimeConfig"},
		{"valid-attachments entry", `{` + base + `,"cni.dev/valid-attachments":[{"containerID":"a"}]}`, types.ErrInvalidNetworkConfig, "valid-attachments[0]"},
		{"prevResult bad", `{` + base + `,"prevResult":{"cniVersion":"1.1.0","ips":"x"}}`, types.ErrDecodingFailure, "prevResult"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.conf))
			wantCode(t, err, tc.code, tc.names)
		})
	}
}
