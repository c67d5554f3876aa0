package kubelet

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
)

// network is how the kubelet wires pod sandboxes. The lab's kubelet always uses libcni (cniNetwork); the
// interface lets unit tests inject failures.
type network interface {
	// Ready returns nil when the node's network is configured (a valid conflist exists), else why not.
	Ready() error
	// Add attaches the sandbox and returns the pod's IPs.
	Add(ctx context.Context, a attachment) ([]string, error)
	// Check verifies an earlier Add.
	Check(ctx context.Context, a attachment) error
	// Del detaches the sandbox; it succeeds for a sandbox that was never (or only partly) attached.
	Del(ctx context.Context, a attachment) error
	// GC removes every attachment of the network that is not in valid.
	GC(ctx context.Context, valid []attachment) error
}

// attachment identifies a pod sandbox to the network.
type attachment struct {
	SandboxID    string // CNI container id
	NetnsPath    string // empty on Del when the namespace is gone
	PodNamespace string
	PodName      string
	PodUID       types.UID
}

// podIfName is the pod's interface, as with every container runtime.
const podIfName = "eth0"

// attachmentOf describes the record's sandbox.
func attachmentOf(r *podRecord) attachment {
	a := attachment{SandboxID: r.SandboxID, PodNamespace: r.Namespace, PodName: r.Name, PodUID: r.UID}
	if r.Netns != "" && netnsExists(r.Netns) {
		a.NetnsPath = netnsPath(r.Netns)
	}
	return a
}
