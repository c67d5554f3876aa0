package api

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// Paths of the agent's debugging API (yardctl trace, explain and nodes).
const (
	PathTrace = "/v1/trace"
	PathNodes = "/v1/nodes"
)

// Where a traced packet enters br-int when TraceRequest.InPort says so.
const (
	InPortGateway = "gateway" // from the node's host stack, through the gateway port
	InPortTunnel  = "tunnel"  // from a peer node, through the tunnel port (set TunSrc)
)

// TraceRequest is one packet to trace on a node: the first packet of a new connection from Src to Dst. By default
// the packet comes from the local pod that owns Src; InPort makes it enter elsewhere (a pod's OpenFlow port number,
// InPortGateway or InPortTunnel), which also traces a spoofed source.
type TraceRequest struct {
	Src   string `json:"src"`             // source IPv4 address
	Dst   string `json:"dst"`             // destination IPv4 address
	Proto string `json:"proto"`           // tcp, udp or icmp
	DPort uint16 `json:"dport,omitempty"` // destination port (tcp, udp)
	// InPort is where the packet enters ("" for Src's pod port).
	InPort string `json:"inPort,omitempty"`
	// TunSrc is the transport address of the node the packet was tunnelled from (InPort tunnel; implied by it).
	TunSrc string `json:"tunSrc,omitempty"`
	// Endpoint names the Service endpoint ("ip" or "ip:port") whose bucket the trace follows when the packet
	// reaches a Service's select group; "" follows the first bucket.
	Endpoint string `json:"endpoint,omitempty"`
}

// Query encodes the request as the query of GET PathTrace.
func (r TraceRequest) Query() string {
	v := url.Values{}
	v.Set("src", r.Src)
	v.Set("dst", r.Dst)
	if r.Proto != "" {
		v.Set("proto", r.Proto)
	}
	if r.DPort != 0 {
		v.Set("dport", strconv.Itoa(int(r.DPort)))
	}
	if r.InPort != "" {
		v.Set("in_port", r.InPort)
	}
	if r.TunSrc != "" {
		v.Set("tun_src", r.TunSrc)
	}
	if r.Endpoint != "" {
		v.Set("endpoint", r.Endpoint)
	}
	return PathTrace + "?" + v.Encode()
}

// ParseTraceRequest reads and checks a GET PathTrace query. The protocol defaults to tcp with a port and icmp
// without one; tun_src alone means the packet comes from the tunnel.
func ParseTraceRequest(v url.Values) (TraceRequest, error) {
	r := TraceRequest{Src: v.Get("src"), Dst: v.Get("dst"), Proto: v.Get("proto"), InPort: v.Get("in_port"), TunSrc: v.Get("tun_src"),
		Endpoint: v.Get("endpoint")}
	if r.Endpoint != "" {
		host, port, err := net.SplitHostPort(r.Endpoint)
		if err != nil {
			host = r.Endpoint
		} else if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return r, fmt.Errorf("endpoint %q: the port must be 1-65535", r.Endpoint)
		}
		if ip := net.ParseIP(host); ip == nil || ip.To4() == nil {
			return r, fmt.Errorf("endpoint %q: want an IPv4 address, optionally with :port", r.Endpoint)
		}
	}
	for _, a := range []struct{ name, val string }{{"src", r.Src}, {"dst", r.Dst}, {"tun_src", r.TunSrc}} {
		if a.val == "" && a.name == "tun_src" {
			continue
		}
		if ip := net.ParseIP(a.val); ip == nil || ip.To4() == nil {
			return r, fmt.Errorf("%s %q: want an IPv4 address", a.name, a.val)
		}
	}
	if p := v.Get("dport"); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return r, fmt.Errorf("dport %q: want a port number 1-65535", p)
		}
		r.DPort = uint16(n)
	}
	if r.Proto == "" {
		r.Proto = "icmp"
		if r.DPort != 0 {
			r.Proto = "tcp"
		}
	}
	switch r.Proto {
	case "tcp", "udp":
		if r.DPort == 0 {
			return r, fmt.Errorf("proto %s needs dport", r.Proto)
		}
	case "icmp":
		if r.DPort != 0 {
			return r, fmt.Errorf("proto icmp takes no dport")
		}
	default:
		return r, fmt.Errorf("proto %q: want tcp, udp or icmp", r.Proto)
	}
	if r.TunSrc != "" && r.InPort == "" {
		r.InPort = InPortTunnel
	}
	if r.InPort == InPortTunnel && r.TunSrc == "" {
		return r, fmt.Errorf("in_port tunnel needs tun_src (the sending node's transport address)")
	}
	if r.InPort != "" && r.InPort != InPortGateway && r.InPort != InPortTunnel {
		if n, err := strconv.ParseUint(r.InPort, 10, 16); err != nil || n == 0 {
			return r, fmt.Errorf("in_port %q: want an OpenFlow port number, %q or %q", r.InPort, InPortGateway, InPortTunnel)
		}
	}
	return r, nil
}

// TraceStep is one table lookup of a traced packet, in plain words.
type TraceStep struct {
	Table     uint8  `json:"table"`
	TableName string `json:"tableName"`
	Miss      bool   `json:"miss,omitempty"` // no flow matched
	Priority  uint16 `json:"priority,omitempty"`
	Cookie    uint64 `json:"cookie,omitempty"`
	// OwnerKind and Owner name the object the matched flow belongs to ("Pod", "x/a/eth0@3f2a9c1b2d4e"; "Service",
	// "x/web"; "Node", "node2"; "Policy", "x/allow-dns"; "Pipeline", "node").
	OwnerKind string   `json:"ownerKind,omitempty"`
	Owner     string   `json:"owner,omitempty"`
	Match     string   `json:"match,omitempty"`
	Actions   []string `json:"actions,omitempty"`
	// Says is the step in plain words: "from pod x/a", "Service x/web -> endpoint 10.244.1.5:8080".
	Says string `json:"says"`
	// Simulated marks a step the agent added because ofproto/trace cannot follow it (a select group's bucket).
	Simulated bool `json:"simulated,omitempty"`
}

// Verdict kinds: where the traced packet ends up on this node.
const (
	VerdictDelivered = "delivered" // output to a local pod
	VerdictHost      = "host"      // output to the gateway: the node's host stack takes it
	VerdictTunnel    = "tunnel"    // encapsulated towards a peer node
	VerdictDropped   = "dropped"   // dropped in br-int
	VerdictRefused   = "refused"   // a Service without endpoints: the host answers with a reset or ICMP error
)

// TraceVerdict says where the packet ends up on this node and what decided it.
type TraceVerdict struct {
	Kind    string `json:"kind"`
	Summary string `json:"summary"`           // one line: "delivered to pod x/b (port 5)", "dropped in SpoofGuard: ..."
	Pod     string `json:"pod,omitempty"`     // delivered: the pod (namespace/name)
	Table   string `json:"table,omitempty"`   // dropped: the table
	Reason  string `json:"reason,omitempty"`  // dropped or refused: why, naming the object that decided
	Decider string `json:"decider,omitempty"` // the object that decided ("Policy x/deny-all", "Service x/web")
	// Node is the peer the packet is sent to (tunnel, or host with direct routing); Next how to continue there.
	Node string     `json:"node,omitempty"`
	Next *TraceNext `json:"next,omitempty"`
}

// TraceNext is the request that continues a trace on the peer node the packet leaves for: the tuple as it leaves
// (after Service DNAT) and how it enters the peer.
type TraceNext struct {
	Node    string       `json:"node"`
	NodeIP  string       `json:"nodeIP"`
	Request TraceRequest `json:"request"`
}

// Why a trace follows a Service's bucket (ServiceNAT.Chosen).
const (
	ChosenNamed     = "named"
	ChosenConntrack = "conntrack"
	ChosenFirst     = "first"
)

// ServiceNAT is a Service connection's DNAT, when the trace went through a Service.
type ServiceNAT struct {
	Service   string `json:"service"`   // namespace/name
	Group     uint32 `json:"group"`     // the select group
	Endpoint  string `json:"endpoint"`  // ip:port the trace followed
	Endpoints int    `json:"endpoints"` // how many the Service's group could choose from
	// Bucket is the index of the bucket followed, and Chosen why: ChosenNamed (the request's Endpoint),
	// ChosenConntrack (the endpoint the datapath gave the client's connection from ClientPort, in conntrack) or
	// ChosenFirst.
	Bucket     int    `json:"bucket"`
	Chosen     string `json:"chosen"`
	ClientPort uint16 `json:"clientPort,omitempty"`
	// Choices are every bucket's endpoint, in bucket order.
	Choices []string `json:"choices,omitempty"`
}

// TraceResult is the answer of PathTrace.
type TraceResult struct {
	Node    string       `json:"node"`
	Request TraceRequest `json:"request"`
	// From says where the packet entered: "pod x/a (port 3)", "the gateway", "the tunnel from node1".
	From    string       `json:"from"`
	Flow    string       `json:"flow"` // the flow handed to ofproto/trace
	Steps   []TraceStep  `json:"steps"`
	NAT     *ServiceNAT  `json:"nat,omitempty"`
	Verdict TraceVerdict `json:"verdict"`
}

// NodeList is the answer of PathNodes: this node and its peers.
type NodeList struct {
	Node        string     `json:"node"`
	TrafficMode string     `json:"trafficMode"` // encap, noEncap or hybrid
	TunnelType  string     `json:"tunnelType,omitempty"`
	TransportIP string     `json:"transportIP,omitempty"`
	PodCIDR     string     `json:"podCIDR"`
	Peers       []PeerNode `json:"peers"`
}

// PeerNode is one peer node as this node reaches it.
type PeerNode struct {
	Name        string   `json:"name"`
	TransportIP string   `json:"transportIP"`
	PodCIDRs    []string `json:"podCIDRs"`
	Mode        string   `json:"mode"`             // encap or direct
	Tunnel      string   `json:"tunnel,omitempty"` // geneve or vxlan when encap
}
