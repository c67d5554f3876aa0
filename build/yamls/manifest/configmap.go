package manifest

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// AgentConfig is the ConfigMap's agent.yaml: every option of the agent with its default, commented with its doc,
// except the per-node ones (nodeName, kubeconfig, podCIDR), which the DaemonSet or the Node supply. Keys are
// config.Config's json tags, so the agent loads it strictly (unknown keys are errors).
func AgentConfig(fields []Field) (string, error) {
	var b strings.Builder
	b.WriteString("# switchyard-agent configuration (docs/install.md, \"Configuration\"). Keys are the agent's options;\n")
	b.WriteString("# values are the defaults. Per node: nodeName comes from $NODE_NAME, the pod CIDR from the Node object.\n")
	b.WriteString("# The switchyard-ovs container reads datapathType and trafficMode too (system: loads the openvswitch\n")
	b.WriteString("# module; netdev in noEncap: ovs-vswitchd with userspace TSO).\n")
	prevDoc := ""
	for _, f := range fields {
		if _, skip := perNode[f.Key]; skip {
			continue
		}
		v, err := yaml.Marshal(map[string]any{f.Key: f.Default})
		if err != nil {
			return "", fmt.Errorf("option %s: %w", f.Key, err)
		}
		if f.Doc != prevDoc { // options declared under one comment share it
			for _, l := range wrap(f.Doc, 100) {
				b.WriteString("# " + l + "\n")
			}
		}
		prevDoc = f.Doc
		b.Write(v)
	}
	return b.String(), nil
}

// wrap splits text into lines of at most width characters (longer words stay whole).
func wrap(text string, width int) []string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(text) {
		if cur != "" && len(cur)+1+len(w) > width {
			lines = append(lines, cur)
			cur = ""
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}
