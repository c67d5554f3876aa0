package openflow

import (
	"strings"
	"testing"
)

func TestModLineGolden(t *testing.T) {
	flow := Flow{Table: 10, Priority: 200, Cookie: 0x1f, Match: "ip,nw_dst=10.0.0.2", Actions: "output:3"}
	group := Group{ID: 7, Type: GroupSelect, Buckets: []Bucket{
		{ID: 1, Weight: 100, Actions: "output:3"},
		{ID: 2, Actions: "set_field:aa:bb:cc:dd:ee:ff->eth_dst,output:4"},
	}}
	cases := []struct {
		mod  Mod
		want string
	}{
		{Mod{Op: AddFlow, Flow: flow}, "flow add table=10,priority=200,cookie=0x1f,ip,nw_dst=10.0.0.2,actions=output:3"},
		{Mod{Op: AddFlow, Flow: Flow{Table: 0, Priority: 0}}, "flow add table=0,priority=0,cookie=0x0,actions=drop"},
		{Mod{Op: ModifyFlow, Flow: flow}, "flow modify_strict table=10,priority=200,ip,nw_dst=10.0.0.2,actions=output:3"},
		{Mod{Op: DeleteFlow, Flow: flow}, "flow delete_strict table=10,priority=200,ip,nw_dst=10.0.0.2"},
		{Mod{Op: DeleteFlow, Flow: Flow{Table: 3, Priority: 1}}, "flow delete_strict table=3,priority=1"},
		{Mod{Op: AddGroup, Group: group}, "group add group_id=7,type=select," +
			"bucket=bucket_id:1,weight:100,actions=output:3," +
			"bucket=bucket_id:2,actions=set_field:aa:bb:cc:dd:ee:ff->eth_dst,output:4"},
		{Mod{Op: ModifyGroup, Group: Group{ID: 7, Type: GroupAll}}, "group modify group_id=7,type=all"},
		{Mod{Op: AddGroup, Group: Group{ID: 8, Type: GroupIndirect, Buckets: []Bucket{{}}}},
			"group add group_id=8,type=indirect,bucket=bucket_id:0,actions=drop"},
		{Mod{Op: DeleteGroup, Group: group}, "group delete group_id=7"},
	}
	for _, c := range cases {
		got, err := c.mod.Line()
		if err != nil {
			t.Errorf("%v: %v", c.mod, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s line:\n got %s\nwant %s", c.mod.Op, got, c.want)
		}
	}
}

func TestModLineRefusesBadMods(t *testing.T) {
	cases := map[string]Mod{
		"unknown op":         {Op: ModOp(42)},
		"group without type": {Op: AddGroup, Group: Group{ID: 1}},
		"newline in match":   {Op: AddFlow, Flow: Flow{Match: "ip\nflow delete", Actions: "drop"}},
		"newline in bucket":  {Op: ModifyGroup, Group: Group{ID: 1, Type: GroupAll, Buckets: []Bucket{{Actions: "drop\r"}}}},
	}
	for name, m := range cases {
		if line, err := m.Line(); err == nil {
			t.Errorf("%s: got line %q, want an error", name, line)
		}
	}
}

func TestBundleText(t *testing.T) {
	text, err := BundleText([]Mod{
		{Op: DeleteGroup, Group: Group{ID: 2}},
		{Op: AddFlow, Flow: Flow{Table: 1, Priority: 5, Cookie: 0x2, Match: "arp", Actions: "NORMAL"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "group delete group_id=2\nflow add table=1,priority=5,cookie=0x2,arp,actions=NORMAL\n"
	if text != want {
		t.Fatalf("got %q, want %q", text, want)
	}
	_, err = BundleText([]Mod{{Op: DeleteGroup}, {Op: AddGroup}})
	if err == nil || !strings.Contains(err.Error(), "mod 1") {
		t.Fatalf("error %v does not name mod 1", err)
	}
}

func TestModOpString(t *testing.T) {
	if got := DeleteFlow.String(); got != "flow delete_strict" {
		t.Fatalf("DeleteFlow.String() = %q", got)
	}
	if got := ModOp(9).String(); got != "ModOp(9)" {
		t.Fatalf("ModOp(9).String() = %q", got)
	}
}
