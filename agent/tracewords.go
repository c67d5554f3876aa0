package agent

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// Reading a trace: each table lookup in plain words, from the table, the owner of the matched flow (its cookie)
// and the flow's actions.

var (
	setFieldRe   = regexp.MustCompile(`^set_field:([^-]+)->(\S+)$`)
	natDstRe     = regexp.MustCompile(`nat\(dst=([0-9.]+)(?::(\d+))?\)`)
	natSrcRe     = regexp.MustCompile(`nat\(src=([0-9.:-]+)\)`)
	ctZoneRe     = regexp.MustCompile(`zone=(\d+)`)
	outputPortRe = regexp.MustCompile(`^-> output port is (\S+)$`)
	groupRe      = regexp.MustCompile(`^group:(\d+)$`)
	inPortRe     = regexp.MustCompile(`(?:^|,)in_port=(\d+)(?:,|$)`)
)

// stepOwner is the owner of a traced flow, if the store knows its cookie.
type stepOwner struct {
	Kind, Key string
}

// display is how people name the owner: a pod's key "ns/name/eth0@container" shows as "ns/name".
func (o stepOwner) display() string {
	if o.Kind == flows.Pod.String() {
		return podDisplay(o.Key)
	}
	return o.Key
}

// podDisplay shortens a pod owner key to namespace/name.
func podDisplay(key string) string {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) < 2 {
		return key
	}
	return parts[0] + "/" + parts[1]
}

// actionTexts are a step's actions as text.
func actionTexts(s openflow.TraceStep) []string {
	out := make([]string, len(s.Actions))
	for i, a := range s.Actions {
		out[i] = a.Text
	}
	return out
}

// setField returns the value a step's actions load into field ("tun_dst", "reg1").
func setField(s openflow.TraceStep, field string) (string, bool) {
	for _, a := range s.Actions {
		if m := setFieldRe.FindStringSubmatch(a.Text); m != nil && m[2] == field {
			return m[1], true
		}
	}
	return "", false
}

// actionWith returns the first action that starts with prefix.
func actionWith(s openflow.TraceStep, prefix string) (string, bool) {
	for _, a := range s.Actions {
		if strings.HasPrefix(a.Text, prefix) {
			return a.Text, true
		}
	}
	return "", false
}

// drops says the step's flow drops the packet: its only action is drop (a drop after ct() merely ends the pass).
func drops(s openflow.TraceStep) bool {
	return !s.Miss && (len(s.Actions) == 0 || len(s.Actions) == 1 && s.Actions[0].Text == "drop")
}

// stepOutputPort is the port a step's output action resolved to ("5", "IN_PORT"), if any.
func stepOutputPort(s openflow.TraceStep) (string, bool) {
	for _, a := range s.Actions {
		switch {
		case a.Text == "IN_PORT":
			return "IN_PORT", true
		case strings.HasPrefix(a.Text, "output:"):
			port := strings.TrimPrefix(a.Text, "output:")
			for _, note := range a.Notes {
				if strings.HasPrefix(note, ">>") {
					return "", false
				}
				if m := outputPortRe.FindStringSubmatch(note); m != nil {
					port = m[1]
				}
			}
			return port, true
		}
	}
	return "", false
}

// portWords names an OpenFlow port of this node: "pod x/b (port 5)", "the tunnel", "the host (gateway)".
func (n *traceNode) portWords(port string) string {
	id, err := strconv.ParseUint(port, 10, 32)
	switch {
	case err != nil:
		return "port " + port
	case uint32(id) == n.GatewayPort:
		return "the host (gateway port " + port + ")"
	case n.TunnelPort != 0 && uint32(id) == n.TunnelPort:
		return "the tunnel (port " + port + ")"
	}
	if p, ok := n.podByPort(uint32(id)); ok {
		return fmt.Sprintf("pod %s (port %d)", p.Pod, p.OFPort)
	}
	return "port " + port
}

// tunnelWords is "node2 via geneve (tun_dst 192.168.77.12)".
func (n *traceNode) tunnelWords(tunDst string) string {
	name := tunDst
	if peer, ok := n.peerAt(parseIP(tunDst)); ok {
		name = "node " + peer.Name
	}
	typ := n.TunnelType
	if typ == "" {
		typ = "the tunnel"
	}
	return fmt.Sprintf("%s via %s (tun_dst %s)", name, typ, tunDst)
}

// describeStep puts one table lookup in plain words.
func (n *traceNode) describeStep(s openflow.TraceStep, owner stepOwner) api.TraceStep {
	out := api.TraceStep{Table: s.Table, Miss: s.Miss, Priority: s.Priority, Cookie: s.Cookie, OwnerKind: owner.Kind,
		Owner: owner.Key, Match: s.Match, Actions: actionTexts(s)}
	t, known := flows.TableByID(s.Table)
	out.TableName = t.Name
	if !known {
		out.TableName = strconv.Itoa(int(s.Table))
	}
	out.Says = n.says(t, s, owner)
	return out
}

// says is the plain-words line of a step.
func (n *traceNode) says(t flows.Table, s openflow.TraceStep, o stepOwner) string {
	if s.Miss {
		if t.ID == flows.SpoofGuard.ID {
			return "dropped: no flow matched (spoofed source?)"
		}
		return "dropped: no flow matched"
	}
	who := o.display()
	switch t.ID {
	case flows.Classifier.ID:
		return n.classifierWords(s, o)
	case flows.SpoofGuard.ID:
		switch {
		case o.Kind == flows.Pod.String():
			return "from pod " + who
		case drops(s):
			return "dropped: no flow allows this port, MAC and source address (spoofed source?)"
		case strings.Contains(s.Match, fmt.Sprintf("in_port=%d", n.GatewayPort)):
			return "from the host: the gateway may send any address"
		}
	case flows.Conntrack.ID:
		if ct, ok := actionWith(s, "ct("); ok {
			zone := ""
			if m := ctZoneRe.FindStringSubmatch(ct); m != nil {
				zone = " (zone " + m[1] + ")"
			}
			if strings.Contains(s.Match, "0xf000") || strings.Contains(s.Match, "169.254.") {
				return "un-SNAT of a Service connection" + zone
			}
			return "through conntrack" + zone + ": tracks the connection, un-NATs replies"
		}
		if drops(s) {
			return "dropped: not IP"
		}
		return "skips conntrack: host traffic through the tunnel"
	case flows.ConntrackState.ID:
		switch {
		case strings.Contains(s.Match, "+inv"):
			return "dropped: conntrack says the packet is invalid"
		case strings.Contains(s.Match, "+new"):
			return "a new connection: to the Service tables"
		}
		return "an established connection"
	case flows.SessionAffinity.ID:
		if o.Kind == flows.Service.String() {
			return "session affinity: the endpoint Service " + who + " gave this client before"
		}
		return "no remembered endpoint"
	case flows.ServiceLB.ID:
		if o.Kind == flows.Service.String() {
			if g, ok := actionWith(s, "group:"); ok {
				return fmt.Sprintf("Service %s: choose an endpoint (%s)", who, g)
			}
			return "Service " + who
		}
		return "not a Service address"
	case flows.EndpointDNAT.ID:
		if m := natDstRe.FindStringSubmatch(strings.Join(actionTexts(s), ",")); m != nil {
			ep := m[1]
			if m[2] != "" {
				ep += ":" + m[2]
			}
			return fmt.Sprintf("Service %s -> endpoint %s", who, ep)
		}
		if drops(s) {
			return "dropped: the chosen endpoint has no DNAT flow"
		}
	case flows.EgressRule.ID, flows.IngressRule.ID:
		return policyWords(t, s, o)
	case flows.L3Forwarding.ID:
		return n.l3Words(s, o)
	case flows.L2ForwardingCalc.ID:
		if v, ok := setField(s, "reg1"); ok {
			if port, err := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 32); err == nil {
				return "to " + n.portWords(strconv.FormatUint(port, 10))
			}
		}
		return "no local destination MAC"
	case flows.ConntrackCommit.ID:
		all := strings.Join(actionTexts(s), ",")
		if m := natSrcRe.FindStringSubmatch(all); m != nil {
			return "commits the connection with SNAT to " + m[1]
		}
		if strings.Contains(all, "ct(commit") {
			return "commits the new connection to conntrack"
		}
		return "nothing to commit"
	case flows.Output.ID:
		if port, ok := stepOutputPort(s); ok {
			if port == "IN_PORT" {
				return "back out of the port it came from (hairpin)"
			}
			return "to " + n.portWords(port)
		}
		if drops(s) {
			return "dropped: no output port was chosen"
		}
	}
	if drops(s) {
		return "dropped"
	}
	m, a := flows.Describe(s.Match, strings.Join(actionTexts(s), ","))
	return m + " -> " + a
}

func (n *traceNode) classifierWords(s openflow.TraceStep, o stepOwner) string {
	if drops(s) {
		return "dropped: the packet came from a port Switchyard does not know"
	}
	port := ""
	if m := inPortRe.FindStringSubmatch(s.Match); m != nil {
		port = m[1]
	}
	if o.Kind == flows.Pod.String() {
		return fmt.Sprintf("port %s is pod %s", port, o.display())
	}
	if port != "" {
		return "from " + n.portWords(port)
	}
	return "classified"
}

func (n *traceNode) l3Words(s openflow.TraceStep, o stepOwner) string {
	if o.Kind == flows.Node.String() {
		if dst, ok := setField(s, "tun_dst"); ok {
			return "to " + n.tunnelWords(dst)
		}
		return "to node " + o.Key + " through the host (direct routing)"
	}
	if o.Kind == flows.Pod.String() {
		if strings.Contains(s.Match, "dl_dst="+flows.VirtualMAC.String()) {
			return "from the tunnel to pod " + o.display()
		}
		return "routed to pod " + o.display()
	}
	if dst, ok := setField(s, "tun_dst"); ok {
		return "to " + n.tunnelWords(dst)
	}
	if strings.Contains(s.Match, "dl_dst="+flows.VirtualMAC.String()) {
		return "from the tunnel to the host"
	}
	return "not routed in OVS: switched by destination MAC"
}

// policyWords reads a NetworkPolicy table's step. Policy owners are read by category and key only: "<ns>/<name>"
// is a policy's own flow (a rule allowed), "pod:<ns>/<name>" a pod's isolation (drop) or allow-all flow, other keys
// shared clauses; any other owner is named as is.
func policyWords(t flows.Table, s openflow.TraceStep, o stepOwner) string {
	dir := "egress"
	if t.ID == flows.IngressRule.ID {
		dir = "ingress"
	}
	switch {
	case o.Kind == flows.Policy.String():
		if pod, ok := strings.CutPrefix(o.Key, "pod:"); ok {
			if drops(s) {
				return fmt.Sprintf("dropped: pod %s is isolated for %s and no NetworkPolicy rule allows this connection", pod, dir)
			}
			return fmt.Sprintf("allowed: a NetworkPolicy rule allows every %s connection of pod %s", dir, pod)
		}
		if drops(s) {
			return "dropped by Policy " + o.Key
		}
		if id, ok := strings.CutPrefix(o.Key, "conj:"); ok {
			// The conj_id flow of a conjunction shared by the rules with this peer and ports: all its clauses
			// matched (explainPolicy names the rule from the model).
			return fmt.Sprintf("allowed by a NetworkPolicy rule (%s conjunction %s)", dir, id)
		}
		if strings.Contains(o.Key, ":") || !strings.Contains(o.Key, "/") {
			return fmt.Sprintf("%s clause of NetworkPolicy rules (Policy %s)", dir, o.Key)
		}
		return fmt.Sprintf("allowed by policy %s (%s)", o.Key, dir)
	case drops(s):
		return "dropped"
	case strings.Contains(s.Match, "-new"):
		return "an established connection passes"
	case strings.Contains(s.Match, "nw_src="):
		return "the node's own traffic passes"
	}
	return "no NetworkPolicy isolates this side (" + dir + ")"
}

// isPolicyDrop says whether a described step is a NetworkPolicy drop.
func isPolicyDrop(s api.TraceStep) bool {
	return s.OwnerKind == flows.Policy.String() && strings.HasPrefix(s.Says, "dropped")
}
