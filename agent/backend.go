package agent

import (
	"context"
	"fmt"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/flows"
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

// Flows dumps br-int with counters and names each flow's table and owner.
func (a *Agent) Flows(ctx context.Context) (*api.FlowList, error) {
	if ready, why := a.Ready(); !ready {
		return nil, fmt.Errorf("agent not ready: %s", why)
	}
	dumped, err := a.of.DumpFlows(ctx)
	if err != nil {
		return nil, err
	}
	out := &api.FlowList{Node: a.cfg.NodeName, Bridge: a.cfg.Bridge, Round: a.store.Round()}
	for _, f := range dumped {
		e := api.FlowEntry{Table: f.Table, Priority: f.Priority, Cookie: f.Cookie, Match: f.Match, Actions: f.Actions,
			Packets: f.Packets, Bytes: f.Bytes}
		if t, ok := flows.TableByID(f.Table); ok {
			e.TableName = t.Name
		}
		if o, ok := a.store.OwnerOf(f.Cookie); ok {
			e.OwnerKind, e.Owner = o.Category.String(), o.Key
		}
		out.Flows = append(out.Flows, e)
	}
	return out, nil
}
