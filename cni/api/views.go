package api

// Paths of the agent's views of Services and NetworkPolicies (yardctl services, yardctl policies).
const (
	PathServices = "/v1/services"
	PathPolicies = "/v1/policies"
)

// ServiceList is the answer of PathServices: every Service this node's proxy knows, sorted by name.
type ServiceList struct {
	Node     string        `json:"node"`
	Services []ServiceInfo `json:"services"`
}

// ServiceInfo is one Service as this node serves it.
type ServiceInfo struct {
	Name string `json:"name"` // namespace/name
	// Ignored says why Switchyard does not load balance it ("headless", "ExternalName", "served by proxy x").
	Ignored       string             `json:"ignored,omitempty"`
	LoadBalancers []LoadBalancerInfo `json:"loadBalancers,omitempty"`
	// Rejected are the entry points ("10.96.0.12 tcp/80") without any endpoint: the host refuses them.
	Rejected []string `json:"rejected,omitempty"`
	// Flows counts the Service's installed flows; Packets sums their packet counters (the ServiceLB and
	// EndpointDNAT lookups of its connections' first packets).
	Flows   int    `json:"flows"`
	Packets uint64 `json:"packets"`
}

// LoadBalancerInfo is one select group of a Service: where it is entered and its buckets.
type LoadBalancerInfo struct {
	Group    uint32   `json:"group"`
	Protocol string   `json:"protocol"`
	Entries  []string `json:"entries"` // "10.96.0.10:80", "nodePort 30080", "192.0.2.7:80 (SNAT)"
	// Endpoints are the group's buckets in order: "10.244.1.2:8080".
	Endpoints []EndpointInfo `json:"endpoints"`
	// AffinitySeconds is sessionAffinity ClientIP's timeout; 0 without affinity.
	AffinitySeconds uint32 `json:"affinitySeconds,omitempty"`
	// InOVS says whether br-int has the group with as many buckets as endpoints (false: not programmed yet, or lost).
	InOVS bool `json:"inOVS"`
}

// EndpointInfo is one bucket of a Service's group.
type EndpointInfo struct {
	Address string `json:"address"` // ip:port
	Local   bool   `json:"local,omitempty"`
	Pod     string `json:"pod,omitempty"` // namespace/name when it is a pod of this node
}

// PolicyList is the answer of PathPolicies: the NetworkPolicies the node's controller has, sorted by name.
type PolicyList struct {
	Node     string       `json:"node"`
	Policies []PolicyInfo `json:"policies"`
}

// PolicyInfo is one NetworkPolicy as this node realizes it.
type PolicyInfo struct {
	Name string `json:"name"` // namespace/name
	// Isolates are the pods of this node the policy isolates, with the packets their default-drop flows dropped.
	Isolates []IsolatedPod `json:"isolates,omitempty"`
	Rules    []PolicyRule  `json:"rules"`
	Errors   []string      `json:"errors,omitempty"`   // spec errors: those rules are ignored
	Warnings []string      `json:"warnings,omitempty"` // e.g. a named port no selected pod declares
}

// IsolatedPod is a local pod a policy isolates in one direction.
type IsolatedPod struct {
	Pod       string `json:"pod"`       // namespace/name
	Direction string `json:"direction"` // ingress or egress
	Denied    uint64 `json:"denied"`    // packets its default-drop flow dropped (shared by every policy isolating it)
}

// PolicyRule is one normalized rule: who may connect on which ports.
type PolicyRule struct {
	Direction string   `json:"direction"` // ingress or egress
	Index     int      `json:"index"`     // position in spec.ingress or spec.egress
	Peers     []string `json:"peers"`     // "any", or the peer groups: "pods ns=x {app=friend} (2 addresses)"
	Ports     []string `json:"ports"`     // "any", "TCP/8080", "TCP/http (named, 1 pod)"
}
