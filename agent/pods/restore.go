package pods

import (
	"fmt"
	"net"

	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// PortRecord is a port as OVSDB reports it.
type PortRecord struct {
	Name        string
	OFPort      int32
	MACInUse    string // the host veth's MAC as OVS reports it
	ExternalIDs map[string]string
}

// Restore rebuilds the manager's pods from the bridge's ports after an agent restart and stages their flows in
// the store (without touching the switch: the store's Reconcile installs everything at once). Ports whose
// interface is gone (no ofport) are remembered so a later DEL or GC can clean them, but get no flows. Damaged
// records are returned as errors and skipped.
func (m *Manager) Restore(ports []PortRecord) []error {
	var errs []error
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, pr := range ports {
		p, err := podFromPort(pr.Name, pr.OFPort, pr.ExternalIDs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if p == nil {
			continue
		}
		p.HostMAC, _ = net.ParseMAC(pr.MACInUse)
		m.pods[p.Key] = p
		if p.OFPort > 0 {
			if err := m.flows.Stage(p.owner(), m.podFlows(p), nil); err != nil {
				errs = append(errs, fmt.Errorf("pod %s: %w", p.Ref(), err))
			}
		}
	}
	return errs
}

// owner names the pod in flow cookies: namespace/name, interface and a short container id, so yardctl can show
// which pod a flow belongs to even when a pod of the same name is being recreated.
func (p *Pod) owner() flows.Owner {
	cid := p.ContainerID
	if len(cid) > 12 {
		cid = cid[:12]
	}
	return flows.Owner{Category: flows.Pod, Key: p.Ref() + "/" + p.IfName + "@" + cid}
}

func (m *Manager) podFlows(p *Pod) []openflow.Flow {
	return flows.PodFlows(m.set.Node, flows.PodSpec{OFPort: uint32(p.OFPort), MAC: p.MAC, IP: p.IP.IP.To4()})
}
