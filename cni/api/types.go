// Package api is the contract between the switchyard-cni plugin and the switchyard-agent: JSON
// over HTTP on the agent's root-only unix socket. The plugin is a thin client; the agent owns
// IPAM, the pod's veth, its OVS port and its flows.
package api

// Paths served by the agent's local API.
const (
	PathCNIAdd   = "/v1/cni/add"
	PathCNIDel   = "/v1/cni/del"
	PathCNICheck = "/v1/cni/check"
	PathCNIGC    = "/v1/cni/gc"
	PathStatus   = "/v1/status"
	PathPods     = "/v1/pods"
)

// DefaultSocket is where the agent listens unless configured otherwise.
const DefaultSocket = "/var/run/switchyard/agent.sock"

// CNIRequest carries one CNI invocation to the agent.
type CNIRequest struct {
	Network      string `json:"network"`                // the conflist's name
	ContainerID  string `json:"containerID"`            // CNI_CONTAINERID
	Netns        string `json:"netns"`                  // CNI_NETNS (path); may be empty on DEL
	IfName       string `json:"ifName"`                 // CNI_IFNAME
	PodNamespace string `json:"podNamespace,omitempty"` // K8S_POD_NAMESPACE from CNI_ARGS
	PodName      string `json:"podName,omitempty"`      // K8S_POD_NAME from CNI_ARGS
	// MTU overrides the agent's pod MTU when non-zero (from the network config).
	MTU int `json:"mtu,omitempty"`
}

// Attachment is what the agent returns for ADD and CHECK: enough for the plugin to build a CNI
// 1.1 result.
type Attachment struct {
	HostIfName string `json:"hostIfName"`
	HostMAC    string `json:"hostMAC"`
	PodIfName  string `json:"podIfName"`
	PodMAC     string `json:"podMAC"`
	Netns      string `json:"netns"`
	IPCIDR     string `json:"ipCIDR"` // e.g. "10.244.1.5/24"
	Gateway    string `json:"gateway"`
	MTU        int    `json:"mtu"`
	OFPort     int32  `json:"ofport"`
	// The pod, for yardctl (the CNI plugin ignores these).
	PodNamespace string `json:"podNamespace,omitempty"`
	PodName      string `json:"podName,omitempty"`
	ContainerID  string `json:"containerID,omitempty"`
}

// GCRequest lists the attachments the runtime still considers valid (CNI GC, cni.dev/valid-attachments).
type GCRequest struct {
	Network string          `json:"network"`
	Valid   []AttachmentKey `json:"valid"`
}

// AttachmentKey identifies an attachment the way CNI does.
type AttachmentKey struct {
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifName"`
}

// GCResponse says what GC removed.
type GCResponse struct {
	Removed []AttachmentKey `json:"removed"`
}

// Status is the agent's readiness, used by CNI STATUS and yardctl.
type Status struct {
	Ready     bool   `json:"ready"`
	Reason    string `json:"reason,omitempty"` // why not ready
	Node      string `json:"node"`
	PodCIDR   string `json:"podCIDR"`
	Bridge    string `json:"bridge"`
	Datapath  string `json:"datapath"`
	LocalPods int    `json:"localPods"`
	Flows     int    `json:"flows"`
	// Detail is filled when asked for (GET PathStatus?detail=true, yardctl status): it costs OVS and API requests.
	Detail *StatusDetail `json:"detail,omitempty"`
}

// StatusDetail is the agent's connections and what it programs, for yardctl status.
type StatusDetail struct {
	OVSDB    bool `json:"ovsdb"`    // the OVSDB client is connected
	OpenFlow bool `json:"openflow"` // br-int answers OpenFlow requests
	// KubeAPI is "ok", "standalone" (no Kubernetes API configured) or why the API does not answer.
	KubeAPI string `json:"kubeAPI"`
	// RemoteAPI is where the remote API listens ("https://192.168.77.11:10351"), or "off: <why>".
	RemoteAPI string `json:"remoteAPI"`
	Peers     int    `json:"peers"`
	Services  int    `json:"services"` // Services with flows on this node
	Policies  int    `json:"policies"` // NetworkPolicies the controller knows
	// FlowsPerTable counts br-int's flows by table name.
	FlowsPerTable map[string]uint64 `json:"flowsPerTable,omitempty"`
}

// Error is the body of every non-2xx answer. Code is a CNI error code (types.Err*).
type Error struct {
	Code    uint   `json:"code"`
	Msg     string `json:"msg"`
	Details string `json:"details,omitempty"`
}
