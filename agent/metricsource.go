package agent

import (
	"context"
	"strconv"
	"time"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/flows"
)

// The Agent is the metrics' Source.

// OVSDBConnected says whether the OVSDB client is connected.
func (a *Agent) OVSDBConnected() bool { return a.db != nil && a.db.Connected() }

// OpenFlowConnected says whether br-int answers OpenFlow requests.
func (a *Agent) OpenFlowConnected(ctx context.Context) bool {
	return a.of != nil && a.of.Connected(ctx) == nil
}

// StatusDetail is the agent's connections and what it programs (GET /v1/status?detail=true, yardctl status).
func (a *Agent) StatusDetail(ctx context.Context) *api.StatusDetail {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	d := &api.StatusDetail{OVSDB: a.OVSDBConnected(), OpenFlow: a.OpenFlowConnected(ctx), KubeAPI: "standalone"}
	if a.kube != nil {
		d.KubeAPI = "ok"
		if err := a.kube.CoreV1().RESTClient().Get().AbsPath("/version").Do(ctx).Error(); err != nil {
			d.KubeAPI = err.Error()
		}
	}
	a.mu.Lock()
	d.RemoteAPI = a.remoteAPI
	a.mu.Unlock()
	if ready, _ := a.Ready(); !ready {
		return d
	}
	if a.peers != nil {
		d.Peers = len(a.peers.Peers())
	}
	if a.proxy != nil {
		d.Services, _ = a.proxy.Stats()
	}
	if a.policies != nil {
		d.Policies = a.policies.Model().Stats().Policies
	}
	d.FlowsPerTable, _ = a.FlowsPerTable(ctx)
	return d
}

// LocalPods is the number of attached pods.
func (a *Agent) LocalPods() int {
	if ready, _ := a.Ready(); !ready {
		return 0
	}
	return len(a.pods.List())
}

// FlowsPerTable counts br-int's installed flows per table name.
func (a *Agent) FlowsPerTable(ctx context.Context) (map[string]uint64, error) {
	if a.of == nil {
		return nil, nil
	}
	counts, err := a.of.FlowCount(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for id, n := range counts {
		name := strconv.Itoa(int(id))
		if t, ok := flows.TableByID(id); ok {
			name = t.Name
		}
		out[name] = n
	}
	return out, nil
}
