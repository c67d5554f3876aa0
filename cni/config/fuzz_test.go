package config

import (
	"errors"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
)

// Any network configuration either parses or fails with a CNI error carrying a code; it never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"cniVersion":"1.1.0","name":"switchyard","type":"switchyard"}`,
		`{"cniVersion":"1.1.0","name":"switchyard","type":"switchyard","mtu":1400,"agentSocket":"/run/x.sock"}`,
		`{"cniVersion":"0.4.0","name":"n","type":"switchyard","prevResult":{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.2/24"}]}}`,
		`{"cniVersion":"1.1.0","name":"n","type":"switchyard","runtimeConfig":{"ips":["10.0.0.9"]}}`,
		`{"name":5}`, `[]`, `{`, ``, `{"cniVersion":"9.9.9"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			var ce *types.Error
			if !errors.As(err, &ce) || ce.Code == 0 {
				t.Fatalf("error without a CNI code: %v", err)
			}
			return
		}
		if c == nil || c.Name == "" || c.Type != PluginType {
			t.Fatalf("accepted an invalid configuration: %+v", c)
		}
	})
}

// Any environment either parses or fails with a CNI error carrying a code; it never panics.
func FuzzParseEnv(f *testing.F) {
	f.Add("ADD", "abc123", "/run/netns/x", "eth0", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web")
	f.Add("DEL", "", "", "eth0", "")
	f.Add("CHECK", "a/b", "/x", "et h0", "K8S_POD_NAME")
	f.Add("ADD", "c", "/run/netns/x", "eth0123456789012", "IgnoreUnknown=1;A=B;A=C")
	f.Fuzz(func(t *testing.T, cmd, containerID, netns, ifname, args string) {
		env, err := ParseEnv(cmd, &skel.CmdArgs{ContainerID: containerID, Netns: netns, IfName: ifname, Args: args})
		if err != nil {
			var ce *types.Error
			if !errors.As(err, &ce) || ce.Code == 0 {
				t.Fatalf("error without a CNI code: %v", err)
			}
			return
		}
		if env.ContainerID == "" || env.IfName == "" || len(env.IfName) > 15 {
			t.Fatalf("accepted an invalid environment: %+v", env)
		}
	})
}
