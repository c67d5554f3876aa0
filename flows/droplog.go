package flows

import (
	"fmt"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// Logged denials (docs/networkpolicy.md, "Drop visibility"). The default-drop flow of an isolated local pod whose
// denials are logged sends the packet to the agent instead of dropping it silently: meter DeniedLogMeter first
// (packets over its rate are dropped there), then the controller action with the packet's first
// DeniedLogMaxLen bytes. The flow's table, priority and match stay those of the plain drop, so its counters still
// count every denied packet and it replaces a plain drop atomically.

// DeniedLogMeter is the OpenFlow meter that rate-limits logged denials on their way to the agent. The agent sets
// it (openflow.Client.SetMeter) before it installs any flow.
const DeniedLogMeter uint32 = 1

// DeniedLogMaxLen is how much of a denied packet reaches the agent: enough for the IP and L4 headers.
const DeniedLogMaxLen = 128

// DeniedLogMeterSpec is the meter for at most rate logged denials per second on this node.
func DeniedLogMeterSpec(rate uint32) openflow.Meter {
	return openflow.Meter{ID: DeniedLogMeter, Rate: rate, Burst: rate}
}

// PolicyDropPodLogged drops the new connections of an isolated local pod that no rule allowed, like
// PolicyDropPod, and sends them (metered) to the agent, which logs them.
func PolicyDropPodLogged(d PolicyDirection, ofport uint32) openflow.Flow {
	return appliedTo(d, priorityPolicyDrop, ofport).Then().Meter(DeniedLogMeter).ToController(DeniedLogMaxLen).Done()
}

// Meter passes the packet through an OpenFlow meter, which may drop it.
func (a *ActionBuilder) Meter(id uint32) *ActionBuilder { return a.add("meter:%d", id) }

// ToController sends the first maxLen bytes of the packet to the controller connections (a packet-in), in the
// form ovs-ofctl prints it back.
func (a *ActionBuilder) ToController(maxLen uint16) *ActionBuilder {
	if maxLen == 0 {
		panic(fmt.Sprintf("flows: table %s priority %d sends an empty packet to the controller", a.match.table, a.match.priority))
	}
	return a.add("CONTROLLER:%d", maxLen)
}
