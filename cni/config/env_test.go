package config

import (
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
)

func validArgs() *skel.CmdArgs {
	return &skel.CmdArgs{ContainerID: "c0ffee", Netns: "/var/run/netns/pod", IfName: "eth0",
		Args: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0.x;K8S_POD_UID=1-2"}
}

func TestParseEnvAccepts(t *testing.T) {
	env, err := ParseEnv(CmdAdd, validArgs())
	if err != nil {
		t.Fatalf("ParseEnv: %v", err)
	}
	want := Env{ContainerID: "c0ffee", Netns: "/var/run/netns/pod", IfName: "eth0", PodNamespace: "default", PodName: "web-0.x"}
	if *env != want {
		t.Fatalf("env %+v, want %+v", *env, want)
	}

	args := validArgs()
	args.Netns, args.Args = "", ""
	env, err = ParseEnv(CmdDel, args)
	if err != nil || env.Netns != "" || env.PodName != "" {
		t.Fatalf("DEL without netns and CNI_ARGS: %+v, %v", env, err)
	}
}

func TestParseEnvRejects(t *testing.T) {
	cases := []struct {
		name    string
		command string
		mutate  func(*skel.CmdArgs)
		names   string
	}{
		{"empty container id", CmdAdd, func(a *skel.CmdArgs) { a.ContainerID = "" }, "CNI_CONTAINERID"},
		{"container id leading dash", CmdDel, func(a *skel.CmdArgs) { a.ContainerID = "-abc" }, "CNI_CONTAINERID"},
		{"container id slash", CmdAdd, func(a *skel.CmdArgs) { a.ContainerID = "a/b" }, "CNI_CONTAINERID"},
		{"empty ifname", CmdAdd, func(a *skel.CmdArgs) { a.IfName = "" }, "CNI_IFNAME"},
		{"long ifname", CmdAdd, func(a *skel.CmdArgs) { a.IfName = strings.Repeat("e", 16) }, "CNI_IFNAME"},
		{"dot ifname", CmdAdd, func(a *skel.CmdArgs) { a.IfName = ".." }, "CNI_IFNAME"},
		{"ifname slash", CmdCheck, func(a *skel.CmdArgs) { a.IfName = "eth/0" }, "CNI_IFNAME"},
		{"ifname colon", CmdAdd, func(a *skel.CmdArgs) { a.IfName = "eth0:1" }, "CNI_IFNAME"},
		{"ifname space", CmdAdd, func(a *skel.CmdArgs) { a.IfName = "eth 0" }, "CNI_IFNAME"},
		{"ifname tab", CmdAdd, func(a *skel.CmdArgs) { a.IfName = "eth\t0" }, "CNI_IFNAME"},
		{"no netns on ADD", CmdAdd, func(a *skel.CmdArgs) { a.Netns = "" }, "CNI_NETNS"},
		{"no netns on CHECK", CmdCheck, func(a *skel.CmdArgs) { a.Netns = "" }, "CNI_NETNS"},
		{"relative netns", CmdDel, func(a *skel.CmdArgs) { a.Netns = "netns/pod" }, "CNI_NETNS"},
		{"args without =", CmdAdd, func(a *skel.CmdArgs) { a.Args = "K8S_POD_NAME" }, "CNI_ARGS"},
		{"args empty key", CmdAdd, func(a *skel.CmdArgs) { a.Args = "=x" }, "CNI_ARGS"},
		{"args double =", CmdAdd, func(a *skel.CmdArgs) { a.Args = "A=b=c" }, "CNI_ARGS"},
		{"args trailing ;", CmdAdd, func(a *skel.CmdArgs) { a.Args = "A=b;" }, "CNI_ARGS"},
		{"args duplicate", CmdAdd, func(a *skel.CmdArgs) { a.Args = "A=b;A=c" }, "CNI_ARGS sets A twice"},
		{"name without namespace", CmdAdd, func(a *skel.CmdArgs) { a.Args = "K8S_POD_NAME=web" }, "K8S_POD_NAMESPACE"},
		{"namespace without name", CmdAdd, func(a *skel.CmdArgs) { a.Args = "K8S_POD_NAMESPACE=default" }, "K8S_POD_NAME"},
		{"bad namespace", CmdAdd, func(a *skel.CmdArgs) { a.Args = "K8S_POD_NAMESPACE=Bad_NS;K8S_POD_NAME=web" }, "K8S_POD_NAMESPACE"},
		{"bad pod name", CmdAdd, func(a *skel.CmdArgs) { a.Args = "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=Web" }, "K8S_POD_NAME"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := validArgs()
			tc.mutate(args)
			_, err := ParseEnv(tc.command, args)
			wantCode(t, err, types.ErrInvalidEnvironmentVariables, tc.names)
		})
	}
}

func TestParseEnvRefusesCommandsWithoutAttachment(t *testing.T) {
	_, err := ParseEnv("GC", validArgs())
	wantCode(t, err, types.ErrInternal, "GC")
}
