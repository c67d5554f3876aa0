// Package wire is the local API's vocabulary: its paths, the JSON bodies the switchyard-cni plugin and the
// switchyard-agent exchange on the agent's root-only unix socket, and the timeouts of the calls. It imports nothing
// but the standard library's basics, so the plugin, which runs once per CNI call, does not carry net/http (package
// api, the full client and server side, re-exports all of it).
package wire

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/types"
)

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

// Timeouts bound each kind of call to the agent. A zero field takes its default from
// DefaultTimeouts.
type Timeouts struct {
	// Connect bounds dialing the socket. A missing socket or a refused connection fails at once
	// regardless; this only matters when the agent's accept backlog is full.
	Connect time.Duration
	Add     time.Duration
	Del     time.Duration
	Check   time.Duration
	GC      time.Duration
	Status  time.Duration
	// Request bounds calls made through Do (for example yardctl's GET endpoints).
	Request time.Duration
}

// DefaultTimeouts returns the timeouts used for zero fields of Timeouts.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		Connect: 2 * time.Second,
		Add:     60 * time.Second,
		Del:     30 * time.Second,
		Check:   30 * time.Second,
		GC:      60 * time.Second,
		Status:  5 * time.Second,
		Request: 10 * time.Second,
	}
}

// WithDefaults returns t with every zero field filled from DefaultTimeouts.
func (t Timeouts) WithDefaults() Timeouts {
	d := DefaultTimeouts()
	for _, f := range []struct{ got, def *time.Duration }{
		{&t.Connect, &d.Connect}, {&t.Add, &d.Add}, {&t.Del, &d.Del}, {&t.Check, &d.Check},
		{&t.GC, &d.GC}, {&t.Status, &d.Status}, {&t.Request, &d.Request},
	} {
		if *f.got <= 0 {
			*f.got = *f.def
		}
	}
	return t
}

// Limits on how much of an answer a client reads.
const (
	MaxAnswerBytes = 32 << 20
	MaxErrorBytes  = 64 << 10
)

// AnswerError turns a non-2xx answer of the agent at socket to method path into a *types.Error: the CNI error of
// its Error body, or else ErrInternal (ErrTryAgainLater for HTTP 503) quoting the body. raw is at most
// MaxErrorBytes of it.
func AnswerError(socket, method, path string, status int, raw []byte) *types.Error {
	var apiErr Error
	if json.Unmarshal(raw, &apiErr) == nil && apiErr.Code != 0 {
		return types.NewError(apiErr.Code, apiErr.Msg, apiErr.Details)
	}
	code := types.ErrInternal
	if status == 503 {
		code = types.ErrTryAgainLater
	}
	return types.NewError(code,
		fmt.Sprintf("switchyard-agent at %s answered %s %s with HTTP %d and no CNI error", socket, method, path, status),
		strings.TrimSpace(string(raw)))
}
