package policy

import (
	"fmt"
	"net/netip"
	"strings"
)

// Protocol is an IP protocol number as NetworkPolicy ports know them.
type Protocol uint8

// The protocols of networking.k8s.io/v1 NetworkPolicyPort.
const (
	TCP  Protocol = 6
	UDP  Protocol = 17
	SCTP Protocol = 132
)

// String returns the Kubernetes spelling (TCP, UDP, SCTP).
func (p Protocol) String() string {
	switch p {
	case TCP:
		return "TCP"
	case UDP:
		return "UDP"
	case SCTP:
		return "SCTP"
	}
	return fmt.Sprintf("proto-%d", uint8(p))
}

// Direction is the direction of a rule or of isolation, seen from the pod the policy applies to.
type Direction uint8

// Ingress rules match traffic to the applied-to pods, Egress rules traffic from them.
const (
	Ingress Direction = iota
	Egress
)

// String returns "ingress" or "egress".
func (d Direction) String() string {
	if d == Egress {
		return "egress"
	}
	return "ingress"
}

// PolicyKey names a NetworkPolicy.
type PolicyKey struct{ Namespace, Name string }

// String returns "namespace/name".
func (k PolicyKey) String() string { return k.Namespace + "/" + k.Name }

// GroupID identifies an address group while it exists. IDs are never reused (a group that disappears and comes
// back gets a new ID), so a flows layer can key its state by them without ABA problems.
type GroupID uint32

// RuleID identifies a normalized rule. Like GroupID it is never reused; it fits an OpenFlow conjunction id.
type RuleID uint32

// GroupKind says what a group's members are.
type GroupKind uint8

const (
	// PodGroup members are pod IPs (as /32 or /128 prefixes, Port 0) selected by a namespace and pod selector.
	PodGroup GroupKind = iota
	// CIDRGroup members are the non-overlapping prefixes of an ipBlock after its excepts were cut out (Port 0).
	CIDRGroup
	// NamedPortGroup members are (pod IP, port number) pairs: the pods of a base selection (a pod selector or an
	// ipBlock) that have a container port with the group's name and protocol, with that port's number.
	NamedPortGroup
)

// String returns "pods", "cidrs" or "named-port".
func (k GroupKind) String() string {
	return [...]string{"pods", "cidrs", "named-port"}[k]
}

// Member is one element of a group: a prefix, and for NamedPortGroup the destination port number.
type Member struct {
	Prefix netip.Prefix
	Port   uint16
}

// String returns "10.0.0.1/32" or, with a port, "10.0.0.1/32:8080".
func (m Member) String() string {
	if m.Port == 0 {
		return m.Prefix.String()
	}
	return fmt.Sprintf("%s:%d", m.Prefix, m.Port)
}

// Less orders members by address, prefix length, then port.
func (m Member) Less(o Member) bool {
	if c := m.Prefix.Addr().Compare(o.Prefix.Addr()); c != 0 {
		return c < 0
	}
	if m.Prefix.Bits() != o.Prefix.Bits() {
		return m.Prefix.Bits() < o.Prefix.Bits()
	}
	return m.Port < o.Port
}

// Group is a content-addressed address set shared by every rule whose peer (or applied-to selection) has the
// same definition. Key is the canonical definition, e.g. `pods ns=x {pod=a}` or `cidrs 10.0.0.0/9,10.128.0.0/9`.
type Group struct {
	ID       GroupID
	Kind     GroupKind
	Key      string
	Protocol Protocol // NamedPortGroup only
	PortName string   // NamedPortGroup only
	Members  []Member // sorted
}

// PortRange is a numeric port match: Port..EndPort of Protocol. Port 0 means every port of the protocol.
type PortRange struct {
	Protocol      Protocol
	Port, EndPort uint16
}

// Matches reports whether the range admits port on proto.
func (r PortRange) Matches(proto Protocol, port uint16) bool {
	return r.Protocol == proto && (r.Port == 0 || (port >= r.Port && port <= r.EndPort))
}

// String returns "TCP", "TCP/80" or "TCP/80-90".
func (r PortRange) String() string {
	switch {
	case r.Port == 0:
		return r.Protocol.String()
	case r.Port == r.EndPort:
		return fmt.Sprintf("%s/%d", r.Protocol, r.Port)
	}
	return fmt.Sprintf("%s/%d-%d", r.Protocol, r.Port, r.EndPort)
}

// Rule is one normalized ingress or egress rule of a policy. It allows a connection when
//
//	ingress: dst ∈ AppliedTo ∧ src ∈ Peers ∧ (AnyPort ∨ (proto,port) ∈ Ports ∨ (dst,port) ∈ NamedPorts[proto])
//	egress:  src ∈ AppliedTo ∧ (dst ∈ Peers ∧ (AnyPort ∨ (proto,port) ∈ Ports) ∨ (dst,port) ∈ NamedPorts[proto])
//
// where "x ∈ Peers" is AnyPeer or membership in one of the Peers groups (OR). Named ports are resolved per pod:
// an ingress rule's NamedPorts groups hold the applied-to pods that have the port, an egress rule's hold the
// peer pods that have it (so a named port never matches an address that is not a known pod); a pod whose
// containers declare the name more than once contributes one member per port number. A rule whose ports
// are all named has AnyPort false and no Ports. Rules are immutable: a changed rule is a removed one plus an
// added one.
type Rule struct {
	ID         RuleID
	Policy     PolicyKey
	Direction  Direction
	Index      int // position in spec.ingress or spec.egress
	AppliedTo  GroupID
	AnyPeer    bool
	Peers      []GroupID
	AnyPort    bool
	Ports      []PortRange
	NamedPorts []GroupID
}

// String describes the rule for logs and yardctl, by policy and position.
func (r Rule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s rule %d (id %d): applied-to g%d", r.Policy, r.Direction, r.Index, r.ID, r.AppliedTo)
	if r.AnyPeer {
		b.WriteString(", any peer")
	} else {
		fmt.Fprintf(&b, ", peers %v", r.Peers)
	}
	if r.AnyPort {
		b.WriteString(", any port")
	} else {
		fmt.Fprintf(&b, ", ports %v, named %v", r.Ports, r.NamedPorts)
	}
	return b.String()
}
