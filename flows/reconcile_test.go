package flows

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

func TestReconcileReplacesStaleFlowsWithoutGap(t *testing.T) {
	sw := newFakeSwitch()
	// What a previous agent run left: round 7 with the same pipeline and a pod that is gone,
	// a round 9 leftover, a foreign flow with cookie 0, a group to update and one to delete.
	for _, f := range PipelineFlows(testNode) {
		f.Cookie = MakeCookie(7, Pipeline, 1)
		sw.flows[f.Key()] = f
	}
	for _, f := range PodFlows(testNode, PodSpec{OFPort: 12, MAC: mustMAC("0a:58:0a:f4:01:04"), IP: net.ParseIP("10.244.1.4")}) {
		f.Cookie = MakeCookie(7, Pod, 3)
		sw.flows[f.Key()] = f
	}
	leftover := NewFlow(Output, 5).InPort(99).Then().Drop()
	leftover.Cookie = MakeCookie(9, Policy, 1)
	sw.flows[leftover.Key()] = leftover
	foreign := NewFlow(Classifier, 5).InPort(98).Then().Drop()
	sw.flows[foreign.Key()] = foreign
	sw.groups[1] = selectGroup(1, 10)
	sw.groups[5] = selectGroup(5, 10)

	s := NewStore(sw)
	for _, st := range []struct {
		owner  Owner
		flows  []openflow.Flow
		groups []openflow.Group
	}{
		{nodeOwner, PipelineFlows(testNode), nil},
		{pod1Owner, PodFlows(testNode, testPod1), nil},
		{pod2Owner, PodFlows(testNode, testPod2), nil},
		{svcOwner, []openflow.Flow{groupFlow(1)}, []openflow.Group{selectGroup(1, 10, 11)}},
	} {
		if err := s.Stage(st.owner, st.flows, st.groups); err != nil {
			t.Fatalf("Stage(%s): %v", st.owner, err)
		}
	}
	if len(sw.events) != 0 {
		t.Fatalf("Stage touched the bridge: %v", sw.events)
	}

	for pass := 1; pass <= 2; pass++ {
		sw.events = nil
		before := s.Round()
		if err := s.Reconcile(context.Background()); err != nil {
			t.Fatalf("Reconcile pass %d: %v", pass, err)
		}
		round := s.Round()
		if round == 0 || round == before || round == 7 || round == 9 {
			t.Errorf("pass %d picked round %d (before %d); it must be new and not on the bridge", pass, round, before)
		}
		if got, want := sw.table(), desiredTable(s); !slices.Equal(got, want) {
			t.Errorf("pass %d: bridge differs from the desired state:\n got  %q\n want %q", pass, got, want)
		}
		if len(sw.flows) != s.FlowCount() {
			t.Errorf("pass %d: bridge has %d flows, store %d", pass, len(sw.flows), s.FlowCount())
		}
		if len(sw.groups) != 1 || !reflect.DeepEqual(sw.groups[1], selectGroup(1, 10, 11)) {
			t.Errorf("pass %d: bridge groups %v, want only the updated group 1", pass, sw.groups)
		}
		if len(sw.events) < 2 || sw.events[0] != "bundle" || !strings.HasPrefix(sw.events[1], "delete-flows") {
			t.Errorf("pass %d: events %v: the new round must be installed before stale rounds are deleted", pass, sw.events)
		}
		for _, e := range sw.events {
			if c, _ := RoundCookie(round); e == fmt.Sprintf("delete-flows %#x/%#x", c, RoundMask) {
				t.Errorf("pass %d deleted its own round", pass)
			}
		}
	}
	if _, ok := s.OwnerOf(MakeCookie(7, Pipeline, 1)); ok {
		t.Error("OwnerOf answered for a cookie of a stale round")
	}
}
