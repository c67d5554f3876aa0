package openflow

import (
	"bytes"
	"testing"
)

// TestEncoderKnowsItsSubset: what the native encoder takes and what it leaves to ovs-ofctl.
func TestEncoderKnowsItsSubset(t *testing.T) {
	encodable := []Flow{
		{Match: "ip,in_port=3,nw_src=10.0.0.0/8", Actions: "goto_table:10"},
		{Match: "arp,arp_op=1", Actions: "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],IN_PORT"},
		{Match: "reg0=0x10/0x10", Actions: "set_field:0x1/0x1->reg3,output:7"},
		{Match: "", Actions: "drop"},
	}
	for _, f := range encodable {
		if _, ok := encodeFlowMod(Mod{Op: AddFlow, Flow: f}, 1); !ok {
			t.Errorf("%q actions %q: not encodable, want encodable", f.Match, f.Actions)
		}
	}
	not := []Mod{
		{Op: AddFlow, Flow: Flow{Match: "tcp,tp_dst=80", Actions: "output:1"}},                             // tcp: not in the subset
		{Op: AddFlow, Flow: Flow{Match: "ip", Actions: "ct(commit,zone=1),goto_table:2"}},                  // ct
		{Op: AddFlow, Flow: Flow{Match: "ip", Actions: "goto_table:2,output:1"}},                           // goto_table not last
		{Op: AddFlow, Flow: Flow{Match: "nw_src=10.0.0.1", Actions: "drop"}},                               // no ip prerequisite
		{Op: AddFlow, Flow: Flow{Match: "arp,arp_tpa=10.0.0.1", Actions: "output:LOCAL"}},                  // named port
		{Op: AddFlow, Flow: Flow{Match: "reg16=1", Actions: "drop"}},                                       // no such register
		{Op: AddFlow, Flow: Flow{Match: "in_port=1,in_port=2", Actions: "drop"}},                           // twice
		{Op: AddFlow, Flow: Flow{Match: "ip", Actions: "move:NXM_OF_ETH_SRC[0..7]->NXM_OF_ETH_DST[0..7]"}}, // part of a field
		{Op: ModifyFlow, Flow: Flow{Match: "ip", Actions: "drop"}},                                         // modify: ovs-ofctl
		{Op: AddGroup, Group: Group{ID: 1, Type: GroupSelect}},
	}
	for _, m := range not {
		if _, ok := encodeFlowMod(m, 1); ok {
			t.Errorf("%+v: encodable, want left to ovs-ofctl", m)
		}
	}
}

func TestFieldValuesAsOVSStoresThem(t *testing.T) {
	for _, c := range []struct {
		f           oxmField
		text        string
		value, mask []byte
	}{
		{oxmIPv4Src, "10.1.2.3/24", []byte{10, 1, 2, 0}, []byte{255, 255, 255, 0}},
		{oxmIPv4Src, "10.1.2.3/32", []byte{10, 1, 2, 3}, nil}, // all-ones mask: exact
		{oxmIPv4Dst, "10.0.0.0/255.0.0.0", []byte{10, 0, 0, 0}, []byte{255, 0, 0, 0}},
		{oxmReg(0), "0x13/0x10", []byte{0, 0, 0, 0x10}, []byte{0, 0, 0, 0x10}},
		{oxmReg(1), "10", []byte{0, 0, 0, 10}, nil},
		{oxmARPOp, "2", []byte{0, 2}, nil},
		{oxmEthSrc, "0a:58:0a:f4:01:02", []byte{0x0a, 0x58, 0x0a, 0xf4, 1, 2}, nil},
	} {
		v, m, ok := parseFieldValue(c.f, c.text, true)
		if !ok || !bytes.Equal(v, c.value) || !bytes.Equal(m, c.mask) {
			t.Errorf("%s: value %x mask %x ok %v, want %x %x", c.text, v, m, ok, c.value, c.mask)
		}
	}
	if _, _, ok := parseFieldValue(oxmEthSrc, "0a:58:0a:f4:01", true); ok {
		t.Error("a 5-byte MAC parsed")
	}
}
