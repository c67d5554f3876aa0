// Package yamls holds the install manifests' sources, embedded so the lab applies exactly what users apply.
package yamls

import "embed"

// Base holds the manifest sources (base/*.yaml).
//
//go:embed base/*.yaml
var Base embed.FS

// AgentRBAC is the agent's ServiceAccount, ClusterRole and binding.
func AgentRBAC() []byte {
	b, err := Base.ReadFile("base/agent-rbac.yaml")
	if err != nil {
		panic(err) // embedded at build time
	}
	return b
}

// Agent identity, as in base/agent-rbac.yaml.
const (
	AgentNamespace      = "kube-system"
	AgentServiceAccount = "switchyard-agent"
)
