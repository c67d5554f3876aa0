package agent

import (
	"context"

	"github.com/switchyard-net/switchyard/agent/droplog"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// Logged denials (docs/networkpolicy.md, "Drop visibility"): the agent sets the meter of the logged drop flows
// before every Reconcile (OVS keeps meters in memory only), and logs what the flows send it.

// setDeniedLogMeter sets flows.DeniedLogMeter. On a datapath without meters denials are not logged: false.
func (a *Agent) setDeniedLogMeter(ctx context.Context) bool {
	err := a.of.SetMeter(ctx, flows.DeniedLogMeterSpec(uint32(a.cfg.DeniedLogRate)))
	if err != nil {
		a.log.WithError(err).Warn("cannot set the OpenFlow meter of logged denials; denied connections are counted, not logged")
		return false
	}
	return true
}

// runDeniedLog starts logging what the logged drop flows send (with a policy controller only).
func (a *Agent) runDeniedLog(ctx context.Context) {
	if a.policies == nil || !a.deniedLogging {
		return
	}
	l := droplog.New(a.cfg.NodeName, a.cfg.DeniedLogRate, a.explainDenial, a.log.WithField("component", "droplog"))
	a.metrics.ObserveDeniedLogSuppressed(func(ctx context.Context) (uint64, uint64, error) {
		st, err := a.of.DumpMeterStats(ctx, flows.DeniedLogMeter)
		return l.Suppressed(), st.Dropped, err
	})
	go l.Run(ctx, a.of.MonitorPacketIns)
}

// explainDenial names the pod, direction and isolating policies of a denied packet, and the pods at its addresses.
func (a *Agent) explainDenial(p openflow.PacketIn) (droplog.Denial, bool) {
	pod, dir, isolators, ok := a.policies.DeniedAt(p.Table, p.Cookie, a.store.OwnerOf)
	if !ok {
		return droplog.Denial{}, false
	}
	d := droplog.Denial{Direction: dir.String(), Pod: pod, Proto: p.Proto,
		Src: droplog.Endpoint(p, true), Dst: droplog.Endpoint(p, false)}
	for _, k := range isolators {
		d.Policies = append(d.Policies, k.String())
	}
	if src, dst, ok := droplog.Addresses(p); ok {
		model := a.policies.Model()
		d.SrcPod, _, _ = model.PodAt(src)
		d.DstPod, _, _ = model.PodAt(dst)
	}
	return d, true
}
