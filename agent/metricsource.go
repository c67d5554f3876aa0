package agent

import (
	"context"
	"strconv"

	"github.com/switchyard-net/switchyard/flows"
)

// The Agent is the metrics' Source.

// OVSDBConnected says whether the OVSDB client is connected.
func (a *Agent) OVSDBConnected() bool { return a.db != nil && a.db.Connected() }

// OpenFlowConnected says whether br-int answers OpenFlow requests.
func (a *Agent) OpenFlowConnected(ctx context.Context) bool {
	return a.of != nil && a.of.Connected(ctx) == nil
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
