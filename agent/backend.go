package agent

import (
	"context"

	"github.com/switchyard-net/switchyard/cni/api"
)

// The Agent is the local API's backend (apiserver.Backend).

// Ready says whether the agent serves CNI requests, and if not, why.
func (a *Agent) Ready() (bool, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ready, a.notReady
}

// Add attaches a pod.
func (a *Agent) Add(ctx context.Context, req api.CNIRequest) (*api.Attachment, error) {
	return a.pods.Add(ctx, req)
}

// Del detaches a pod.
func (a *Agent) Del(ctx context.Context, req api.CNIRequest) error { return a.pods.Del(ctx, req) }

// Check verifies a pod's attachment.
func (a *Agent) Check(ctx context.Context, req api.CNIRequest) (*api.Attachment, error) {
	return a.pods.Check(ctx, req)
}

// GC removes attachments the runtime no longer lists.
func (a *Agent) GC(ctx context.Context, network string, valid []api.AttachmentKey) ([]api.AttachmentKey, error) {
	return a.pods.GC(ctx, network, valid)
}

// Status is the agent's state for CNI STATUS and yardctl.
func (a *Agent) Status() api.Status {
	ready, why := a.Ready()
	s := api.Status{Ready: ready, Reason: why, Node: a.cfg.NodeName, Bridge: a.cfg.Bridge, Datapath: a.cfg.DatapathType}
	if ready {
		s.PodCIDR = a.node.PodCIDR.String()
		s.LocalPods = len(a.pods.List())
		s.Flows = a.store.FlowCount()
	}
	return s
}

// Pods lists the local attachments.
func (a *Agent) Pods() []api.Attachment {
	if ready, _ := a.Ready(); !ready {
		return nil
	}
	return a.pods.Attachments()
}
