package flows

import (
	"fmt"
	"math/big"
)

// DefaultCTZone is the conntrack zone of the pod network.
const DefaultCTZone uint16 = 65520

// RegField is a bit range [Start..End] (inclusive, 0 = least significant) of an NXM register
// reg0..reg15.
type RegField struct {
	Reg        int
	Start, End int
}

// The register fields of the pipeline.
var (
	// PortKindField (reg0[0..3]) says what kind of port the packet came in on.
	PortKindField = RegField{Reg: 0, Start: 0, End: 3}
	// OutputReadyField (reg0[4]) is set once TargetOFPortField holds the output port.
	OutputReadyField = RegField{Reg: 0, Start: 4, End: 4}
	// TargetOFPortField (reg1) is the OpenFlow port the packet will be output to.
	TargetOFPortField = RegField{Reg: 1, Start: 0, End: 31}
)

// The register marks of the pipeline.
var (
	FromTunnel  = RegMark{Field: PortKindField, Value: 1}
	FromGateway = RegMark{Field: PortKindField, Value: 2}
	FromPod     = RegMark{Field: PortKindField, Value: 3}
	OutputReady = RegMark{Field: OutputReadyField, Value: 1}
)

func (f RegField) check(v uint32) {
	if f.Reg < 0 || f.Reg > 15 || f.Start < 0 || f.End > 31 || f.Start > f.End {
		panic(fmt.Sprintf("flows: invalid register field reg%d[%d..%d]", f.Reg, f.Start, f.End))
	}
	if width := f.End - f.Start + 1; width < 32 && uint64(v) >= 1<<width {
		panic(fmt.Sprintf("flows: value %#x does not fit register field %s", v, f))
	}
}

func (f RegField) whole() bool { return f.Start == 0 && f.End == 31 }

func (f RegField) mask() uint32 {
	return uint32((uint64(1)<<(f.End-f.Start+1) - 1) << f.Start)
}

// String returns the field in NXM syntax, as used by move and output actions:
// "NXM_NX_REG0[0..3]", "NXM_NX_REG0[4]" or "NXM_NX_REG1[]".
func (f RegField) String() string {
	switch {
	case f.whole():
		return fmt.Sprintf("NXM_NX_REG%d[]", f.Reg)
	case f.Start == f.End:
		return fmt.Sprintf("NXM_NX_REG%d[%d]", f.Reg, f.Start)
	default:
		return fmt.Sprintf("NXM_NX_REG%d[%d..%d]", f.Reg, f.Start, f.End)
	}
}

// Match returns the match on the field holding v: "reg0=0x3/0xf", or "reg1=0xa" for a whole register.
func (f RegField) Match(v uint32) string {
	f.check(v)
	if f.whole() {
		return fmt.Sprintf("reg%d=%s", f.Reg, hexText(uint64(v)))
	}
	return fmt.Sprintf("reg%d=%s/%#x", f.Reg, hexText(uint64(v<<f.Start)), f.mask())
}

// Load returns the action that stores v in the field, in the form ovs-ofctl prints it back:
// "set_field:0x3/0xf->reg0", or "set_field:0xa->reg1" for a whole register.
func (f RegField) Load(v uint32) string {
	f.check(v)
	if f.whole() {
		return fmt.Sprintf("set_field:%s->reg%d", hexText(uint64(v)), f.Reg)
	}
	return fmt.Sprintf("set_field:%s/%#x->reg%d", hexText(uint64(v<<f.Start)), f.mask(), f.Reg)
}

// RegMark is a value of a register field, such as "the packet came from a pod".
type RegMark struct {
	Field RegField
	Value uint32
}

// Match returns the match on the mark.
func (m RegMark) Match() string { return m.Field.Match(m.Value) }

// Load returns the action that sets the mark.
func (m RegMark) Load() string { return m.Field.Load(m.Value) }

// CtField is a bit range [Start..End] (inclusive) of ct_mark (32 bits) or ct_label (128 bits).
// A field is at most 64 bits wide. No pipeline flow uses one yet; later features (services,
// network policy) will declare theirs next to the register fields.
type CtField struct {
	Label      bool // ct_label instead of ct_mark
	Start, End int
}

func (f CtField) name() string {
	if f.Label {
		return "ct_label"
	}
	return "ct_mark"
}

func (f CtField) check(v uint64) {
	size := 32
	if f.Label {
		size = 128
	}
	width := f.End - f.Start + 1
	if f.Start < 0 || f.End >= size || width < 1 || width > 64 {
		panic(fmt.Sprintf("flows: invalid %s field [%d..%d]", f.name(), f.Start, f.End))
	}
	if width < 64 && v >= 1<<width {
		panic(fmt.Sprintf("flows: value %#x does not fit %s[%d..%d]", v, f.name(), f.Start, f.End))
	}
}

// valueAndMask returns v shifted into place and the field's mask, both in hex.
func (f CtField) valueAndMask(v uint64) (string, string) {
	f.check(v)
	value := new(big.Int).Lsh(new(big.Int).SetUint64(v), uint(f.Start))
	ones := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(f.End-f.Start+1)), big.NewInt(1))
	mask := ones.Lsh(ones, uint(f.Start))
	if value.Sign() == 0 {
		return "0", "0x" + mask.Text(16)
	}
	return "0x" + value.Text(16), "0x" + mask.Text(16)
}

// hexText writes v the way ovs-ofctl prints field values: "0" or "0x1f".
func hexText(v uint64) string {
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("%#x", v)
}

// Match returns the match on the field holding v: "ct_mark=0x2/0x6".
func (f CtField) Match(v uint64) string {
	value, mask := f.valueAndMask(v)
	return fmt.Sprintf("%s=%s/%s", f.name(), value, mask)
}

// Set returns the action that stores v in the field, for use inside ct(commit,exec(...)):
// "set_field:0x2/0x6->ct_mark".
func (f CtField) Set(v uint64) string {
	value, mask := f.valueAndMask(v)
	return fmt.Sprintf("set_field:%s/%s->%s", value, mask, f.name())
}

// CtMark is a value of a ct_mark or ct_label field, such as "this connection was load-balanced".
type CtMark struct {
	Field CtField
	Value uint64
}

// Match returns the match on the mark.
func (m CtMark) Match() string { return m.Field.Match(m.Value) }

// Set returns the ct(exec(...)) action that sets the mark.
func (m CtMark) Set() string { return m.Field.Set(m.Value) }

// The fields of Service load balancing (servicelb.go, docs/services.md). reg3, reg4 and reg5 are
// the Services' own registers; ct_mark[0..2] are the Services' conntrack marks.
var (
	// EndpointIPField (reg3) holds the IPv4 address of the endpoint chosen for a new Service
	// connection (by a group bucket or a learned affinity flow).
	EndpointIPField = RegField{Reg: 3, Start: 0, End: 31}
	// EndpointPortField (reg4[0..15]) holds the chosen endpoint's port.
	EndpointPortField = RegField{Reg: 4, Start: 0, End: 15}
	// EndpointStateField (reg4[16..18]) says how far endpoint selection is (EndpointToSelect, ...).
	EndpointStateField = RegField{Reg: 4, Start: 16, End: 18}
	// ServiceNeedSNATField (reg4[19]) is set by an entry point whose connections must be SNATed so
	// that the replies come back through this node (externalTrafficPolicy Cluster).
	ServiceNeedSNATField = RegField{Reg: 4, Start: 19, End: 19}
	// UnSNATDoneField (reg4[20]) is set once a packet has been un-SNATed in the SNAT zone.
	UnSNATDoneField = RegField{Reg: 4, Start: 20, End: 20}
	// ServiceLBIDField (reg5) identifies the load balancer (group) that chose the endpoint, so
	// that endpoint flows of different Services never share a match.
	ServiceLBIDField = RegField{Reg: 5, Start: 0, End: 31}

	// ServiceCTField (ct_mark[0]) marks a connection DNATed to a Service endpoint: it is already
	// committed and ConntrackCommit leaves it alone.
	ServiceCTField = CtField{Start: 0, End: 0}
	// HairpinCTField (ct_mark[1]) marks a Service connection from an endpoint to itself.
	HairpinCTField = CtField{Start: 1, End: 1}
	// SNATCTField (ct_mark[2]) marks a Service connection that must be SNATed.
	SNATCTField = CtField{Start: 2, End: 2}
)

// The register and conntrack marks of Service load balancing.
var (
	EndpointToSelect = RegMark{Field: EndpointStateField, Value: 1} // no affinity flow matched: pick one
	EndpointSelected = RegMark{Field: EndpointStateField, Value: 2} // reg3/reg4 hold the endpoint
	EndpointToLearn  = RegMark{Field: EndpointStateField, Value: 3} // picked; remember it (affinity)
	ServiceNeedSNAT  = RegMark{Field: ServiceNeedSNATField, Value: 1}
	UnSNATDone       = RegMark{Field: UnSNATDoneField, Value: 1}

	ServiceCTMark = CtMark{Field: ServiceCTField, Value: 1}
	HairpinCTMark = CtMark{Field: HairpinCTField, Value: 1}
	SNATCTMark    = CtMark{Field: SNATCTField, Value: 1}
)
