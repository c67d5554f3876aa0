// Command switchyard-cni is the Switchyard CNI plugin. Container runtimes execute it with the
// CNI_* environment and the network config on stdin; it forwards each command to the node's
// switchyard-agent, which owns IPAM, the pod's veth, its OVS port and its flows.
package main

import (
	"github.com/containernetworking/cni/pkg/skel"

	"github.com/switchyard-net/switchyard/cni/plugin"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	skel.PluginMainFuncs(plugin.New().Funcs(), plugin.VersionInfo(), plugin.About(version))
}
