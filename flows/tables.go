// Package flows is Switchyard's OpenFlow pipeline as code: the tables of br-int, the register
// and conntrack fields that carry state between them, the cookie layout, a builder that reads
// like the flow it produces, the flows of the node and of each pod, and a Store that keeps the
// desired flows of every owning object and applies changes to the bridge as atomic bundles.
//
// A table's flows live in one file named after the table (classifier.go, spoofguard.go, ...);
// per-object functions (PipelineFlows, PodFlows, ...) in objects.go compose them.
package flows

import (
	"fmt"
	"sort"
)

// Table is one OpenFlow table of br-int.
type Table struct {
	ID          uint8
	Name        string // set into the bridge's Flow_Table rows, so dumps print it
	Description string
}

// String returns the table's name.
func (t Table) String() string { return t.Name }

// The pipeline's tables. Gaps in the ids are left for later features; adding a table is one
// more line here.
var (
	Classifier       = declareTable(0, "Classifier", "Marks the kind of the ingress port (pod, gateway, tunnel) and sends the packet on; drops packets from unknown ports.")
	SpoofGuard       = declareTable(10, "SpoofGuard", "Lets a pod send only with its own MAC and IP (ARP included); the gateway may send any IP or ARP.")
	ARPResponder     = declareTable(20, "ARPResponder", "Answers ARP requests for the gateway, local pods and virtual addresses inside OVS; passes pod gratuitous ARP to the gateway only; never floods.")
	Conntrack        = declareTable(30, "Conntrack", "Sends IP packets through conntrack (zone, un-NAT) and resumes in ConntrackState.")
	ConntrackState   = declareTable(31, "ConntrackState", "Drops packets conntrack marks invalid; sends new connections to the Service tables.")
	SessionAffinity  = declareTable(35, "SessionAffinity", "Remembers the endpoint of a Service client (sessionAffinity ClientIP): learned flows load it; the rest must select one.")
	ServiceLB        = declareTable(40, "ServiceLB", "Matches a new connection to a Service entry point (virtual IP, protocol, port) and selects an endpoint with the Service's select group.")
	EndpointDNAT     = declareTable(41, "EndpointDNAT", "Commits a new Service connection with DNAT to the selected endpoint and marks it (service, hairpin, SNAT) in ct_mark.")
	EgressRule       = declareTable(45, "EgressRule", "NetworkPolicy egress, enforced at the source pod after Service DNAT: allowed new connections go on, isolated pods' other new connections are dropped.")
	L3Forwarding     = declareTable(50, "L3Forwarding", "Routes packets addressed to the gateway MAC for a local pod: rewrites the MACs and decrements the TTL.")
	L2ForwardingCalc = declareTable(60, "L2ForwardingCalc", "Looks up the output port by destination MAC and marks the packet ready for output.")
	IngressRule      = declareTable(70, "IngressRule", "NetworkPolicy ingress, enforced at the destination pod's node once the output port is known: allowed new connections go on, the rest to isolated pods is dropped.")
	ConntrackCommit  = declareTable(80, "ConntrackCommit", "Commits new connections that will be output to conntrack.")
	Output           = declareTable(90, "Output", "Outputs ready packets to the target port (IN_PORT for hairpin); drops the rest.")
)

// declared holds every table declared with declareTable, in declaration order.
var declared []Table

// declareTable registers a table of the pipeline. It panics on a duplicate id or name,
// which is a programming error caught by the first test run.
func declareTable(id uint8, name, description string) Table {
	for _, t := range declared {
		if t.ID == id || t.Name == name {
			panic(fmt.Sprintf("flows: table %d %q collides with table %d %q", id, name, t.ID, t.Name))
		}
	}
	t := Table{ID: id, Name: name, Description: description}
	declared = append(declared, t)
	return t
}

// Tables returns the pipeline's tables ordered by id.
func Tables() []Table {
	out := append([]Table(nil), declared...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// TableByID returns the table with the given id.
func TableByID(id uint8) (Table, bool) {
	for _, t := range declared {
		if t.ID == id {
			return t, true
		}
	}
	return Table{}, false
}

// TableByName returns the table with the given name.
func TableByName(name string) (Table, bool) {
	for _, t := range declared {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}
