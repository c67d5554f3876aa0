package openflow

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// pipelineFlows use the actions go-openvswitch's parser rejects (ct nat, conjunction, group,
// learn, registers, notes). They are written the way OVS prints them, so each must come back
// from DumpFlows exactly as given.
var pipelineFlows = []Flow{
	{Table: 0, Priority: 100, Cookie: 0x10, Match: "ip,in_port=1,nw_src=10.0.0.2", Actions: "ct(table=10,zone=5,nat)"},
	{Table: 0, Priority: 90, Cookie: 0x11, Match: "arp", Actions: "group:1"},
	{Table: 0, Priority: 0, Cookie: 0x12, Actions: "drop"},
	{Table: 10, Priority: 200, Cookie: 0x20, Match: "ct_state=+est+trk,ip", Actions: "conjunction(5,1/2)"},
	{Table: 10, Priority: 200, Cookie: 0x21, Match: "conj_id=5,ip",
		Actions: "set_field:0x5->reg0,set_field:aa:bb:cc:00:00:01->eth_dst,resubmit(,20)"},
	{Table: 10, Priority: 10, Cookie: 0x22, Match: "tcp,tp_dst=80",
		Actions: "learn(table=30,hard_timeout=60,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),goto_table:20"},
	{Table: 20, Priority: 5, Cookie: 0x23, Match: "ipv6,ipv6_dst=fd00::/64", Actions: "dec_ttl,output:2"},
	{Table: 20, Priority: DefaultPriority, Cookie: 0x24, Match: "reg0=0x5/0xff", Actions: "output:NXM_NX_REG1[0..15],note:01.02.00.00.00.00"},
}

var selectGroup = Group{ID: 1, Type: GroupSelect, Buckets: []Bucket{
	{ID: 1, Weight: 100, Actions: "output:1"},
	{ID: 2, Weight: 50, Actions: "set_field:aa:bb:cc:dd:ee:ff->eth_dst,output:2"},
}}

func TestBundleRoundTripsThroughDumps(t *testing.T) {
	c, _ := testBridge(t)
	ctx := testContext(t)
	if err := c.Connected(ctx); err != nil {
		t.Fatal(err)
	}
	mods := append([]Mod{{Op: AddGroup, Group: selectGroup}}, addFlows(pipelineFlows...)...)
	mustBundle(t, c, mods...)

	flows := mustDumpFlows(t, c)
	byKey := map[string]Flow{}
	for _, f := range flows {
		byKey[f.Key()] = f
	}
	if len(flows) != len(pipelineFlows) {
		t.Fatalf("dumped %d flows, want %d: %+v", len(flows), len(pipelineFlows), flows)
	}
	for _, want := range pipelineFlows {
		if got := byKey[want.Key()]; got != want {
			t.Errorf("flow %s:\n got %+v\nwant %+v", want.Key(), got, want)
		}
	}
	groups, err := c.DumpGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(groups, []Group{selectGroup}) {
		t.Fatalf("groups %+v, want %+v", groups, selectGroup)
	}
	counts, err := c.FlowCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (map[uint8]uint64{0: 3, 10: 3, 20: 2}); !reflect.DeepEqual(counts, want) {
		t.Fatalf("FlowCount %v, want %v", counts, want)
	}

	// Wipe the bridge and replay exactly what was dumped: the bridge must come back identical.
	if err := c.DeleteAllFlowsAndGroups(ctx); err != nil {
		t.Fatal(err)
	}
	if left := mustDumpFlows(t, c); len(left) != 0 {
		t.Fatalf("%d flows left after DeleteAllFlowsAndGroups", len(left))
	}
	replay := []Mod{{Op: AddGroup, Group: groups[0]}}
	mustBundle(t, c, append(replay, addFlows(flows...)...)...)
	if again := mustDumpFlows(t, c); !reflect.DeepEqual(again, flows) {
		t.Fatalf("after re-adding the dump:\n got %+v\nwant %+v", again, flows)
	}
	if again, err := c.DumpGroups(ctx); err != nil || !reflect.DeepEqual(again, groups) {
		t.Fatalf("groups after re-adding the dump: %+v, %v", again, err)
	}
}

func TestModifyStrictKeepsCookieAndDeleteStrictIsExact(t *testing.T) {
	c, _ := testBridge(t)
	low := Flow{Table: 1, Priority: 10, Cookie: 0x5, Match: "ip", Actions: "drop"}
	high := Flow{Table: 1, Priority: 20, Cookie: 0x6, Match: "ip", Actions: "drop"}
	mustBundle(t, c, addFlows(low, high)...)

	modified := low
	modified.Cookie, modified.Actions = 0x99, "output:1" // the cookie must be ignored
	mustBundle(t, c, Mod{Op: ModifyFlow, Flow: modified})
	want := []Flow{{Table: 1, Priority: 20, Cookie: 0x6, Match: "ip", Actions: "drop"},
		{Table: 1, Priority: 10, Cookie: 0x5, Match: "ip", Actions: "output:1"}}
	if got := mustDumpFlows(t, c); !reflect.DeepEqual(got, want) {
		t.Fatalf("after modify_strict:\n got %+v\nwant %+v", got, want)
	}

	// Modifying a flow that does not exist adds nothing (OpenFlow 1.1+ semantics).
	mustBundle(t, c, Mod{Op: ModifyFlow, Flow: Flow{Table: 1, Priority: 30, Match: "ip", Actions: "drop"}})
	if got := mustDumpFlows(t, c); len(got) != 2 {
		t.Fatalf("modify of a missing flow added one: %+v", got)
	}

	mustBundle(t, c, Mod{Op: DeleteFlow, Flow: Flow{Table: 1, Priority: 10, Match: "ip"}})
	if got := mustDumpFlows(t, c); !reflect.DeepEqual(got, want[:1]) {
		t.Fatalf("after delete_strict of priority 10:\n got %+v\nwant %+v", got, want[:1])
	}
}

func TestBundleIsAtomic(t *testing.T) {
	c, _ := testBridge(t)
	ctx := testContext(t)
	mustBundle(t, c, append([]Mod{{Op: AddGroup, Group: selectGroup}}, addFlows(pipelineFlows[:3]...)...)...)
	before := mustDumpFlows(t, c)

	// ovs-ofctl refuses line 3 before sending anything.
	err := c.Bundle(ctx, []Mod{
		{Op: DeleteFlow, Flow: pipelineFlows[0]},
		{Op: AddFlow, Flow: Flow{Table: 2, Priority: 1, Match: "ip", Actions: "drop"}},
		{Op: AddFlow, Flow: Flow{Table: 2, Priority: 2, Match: "ip", Actions: "output:1,drop"}},
		{Op: AddFlow, Flow: Flow{Table: 2, Priority: 3, Match: "ip", Actions: "drop"}},
	})
	var rejected *RejectedError
	if !errors.As(err, &rejected) || rejected.LineNo != 3 || !strings.Contains(rejected.Line, "output:1,drop") ||
		!strings.Contains(err.Error(), "output:1,drop") {
		t.Fatalf("want a RejectedError naming line 3, got %#v (%v)", err, err)
	}
	if after := mustDumpFlows(t, c); !reflect.DeepEqual(after, before) {
		t.Fatalf("a refused bundle changed the flows:\n got %+v\nwant %+v", after, before)
	}

	// The switch refuses the second mod (unknown group): the first must be rolled back.
	err = c.Bundle(ctx, []Mod{
		{Op: DeleteFlow, Flow: pipelineFlows[0]},
		{Op: AddFlow, Flow: Flow{Table: 2, Priority: 1, Match: "ip", Actions: "group:77"}},
	})
	if !errors.As(err, &rejected) || !strings.Contains(err.Error(), "OFPBAC_BAD_OUT_GROUP") ||
		!strings.Contains(err.Error(), "group:77") {
		t.Fatalf("want a RejectedError quoting the bad group mod, got %v", err)
	}
	if after := mustDumpFlows(t, c); !reflect.DeepEqual(after, before) {
		t.Fatalf("a rejected bundle changed the flows:\n got %+v\nwant %+v", after, before)
	}

	// Adding a group that exists is refused too, and a flow added alongside it is not kept.
	err = c.Bundle(ctx, append(addFlows(Flow{Table: 2, Priority: 1, Actions: "drop"}), Mod{Op: AddGroup, Group: selectGroup}))
	if !errors.As(err, &rejected) || !strings.Contains(err.Error(), "OFPGMFC_GROUP_EXISTS") {
		t.Fatalf("want GROUP_EXISTS, got %v", err)
	}
	if after := mustDumpFlows(t, c); !reflect.DeepEqual(after, before) {
		t.Fatalf("a rejected bundle changed the flows:\n got %+v\nwant %+v", after, before)
	}
}

func TestDeleteFlowsByCookieMask(t *testing.T) {
	c, _ := testBridge(t)
	ctx := testContext(t)
	mustBundle(t, c, addFlows(
		Flow{Table: 0, Priority: 1, Cookie: 0x1_0001, Match: "ip", Actions: "drop"},
		Flow{Table: 5, Priority: 1, Cookie: 0x1_0002, Match: "arp", Actions: "drop"},
		Flow{Table: 0, Priority: 2, Cookie: 0x2_0001, Match: "ip", Actions: "drop"},
	)...)
	owned, err := c.DumpFlowsMatching(ctx, "cookie=0x10000/0xffff0000")
	if err != nil {
		t.Fatal(err)
	}
	if len(owned) != 2 || owned[0].Cookie>>16 != 1 || owned[1].Cookie>>16 != 1 {
		t.Fatalf("DumpFlowsMatching cookie 0x1/0xffff0000: %+v", owned)
	}
	if err := c.DeleteFlows(ctx, 0x1_0000, 0xffff_0000); err != nil {
		t.Fatal(err)
	}
	left := mustDumpFlows(t, c)
	if len(left) != 1 || left[0].Cookie != 0x2_0001 {
		t.Fatalf("after deleting cookie 0x1xxxx: %+v", left)
	}
	if err := c.DeleteFlows(ctx, 0, 0); err == nil {
		t.Fatal("DeleteFlows with mask 0 must be refused")
	}
	if len(mustDumpFlows(t, c)) != 1 {
		t.Fatal("DeleteFlows with mask 0 deleted flows")
	}
	var rejected *RejectedError
	if _, err := c.DumpFlowsMatching(ctx, "cookie=zz"); !errors.As(err, &rejected) {
		t.Fatalf("bad filter: want a RejectedError, got %v", err)
	}
}
