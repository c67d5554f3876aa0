package flows

import (
	"context"
	"errors"
	"testing"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// Apply changes several owners in one bundle, lets a flow move between two owners of the batch,
// deletes owners, and leaves everything as it was when the bundle fails.
func TestApplyChangesOwnersInOneBundle(t *testing.T) {
	s, sw := reconciledStore(t)
	ctx := context.Background()
	a, b, c := Owner{Policy, "x/a"}, Owner{Policy, "addr:10.0.0.1/32"}, Owner{Policy, "pod:x/c"}
	f1 := NewFlow(EgressRule, 200).InPort(3).Then().Conjunctions([]ConjRef{{ID: 2, Clause: 1, Of: 2}})
	f2 := PolicyConjunctionFlow(PolicyEgress, 2)
	f3 := PolicyDropPod(PolicyIngress, 3)
	if err := s.Apply(ctx, []OwnerChange{{Owner: a, Flows: []openflow.Flow{f1, f2}}, {Owner: c, Flows: []openflow.Flow{f3}}}); err != nil {
		t.Fatal(err)
	}
	if len(sw.bundles) != 1 || len(sw.bundles[0]) != 3 {
		t.Fatalf("bundles %v, want one of 3 adds", sw.bundles)
	}
	// f1 moves from a to b, c goes away, a keeps f2: one bundle adding f1 (new cookie) and deleting f3.
	if err := s.Apply(ctx, []OwnerChange{{Owner: a, Flows: []openflow.Flow{f2}}, {Owner: b, Flows: []openflow.Flow{f1}},
		{Owner: c, Delete: true}, {Owner: Owner{Policy, "never/was"}, Delete: true}}); err != nil {
		t.Fatal(err)
	}
	if len(sw.bundles) != 2 {
		t.Fatalf("%d bundles, want 2", len(sw.bundles))
	}
	got := sw.bundles[1]
	if len(got) != 2 || got[0].Op != openflow.AddFlow || got[0].Flow.Key() != f1.Key() || got[1].Op != openflow.DeleteFlow || got[1].Flow.Key() != f3.Key() {
		t.Fatalf("second bundle %v, want add %s then delete %s", got, f1.Key(), f3.Key())
	}
	if o, ok := s.OwnerOf(got[0].Flow.Cookie); !ok || o != b {
		t.Errorf("moved flow's cookie belongs to %v, want %v", o, b)
	}
	if len(s.Owners()) != 2 {
		t.Errorf("owners %v, want a and b", s.Owners())
	}
	// A failing bundle changes nothing; a flow claimed by an owner outside the batch is an error.
	sw.failNext = errors.New("boom")
	if err := s.Apply(ctx, []OwnerChange{{Owner: a, Delete: true}, {Owner: c, Flows: []openflow.Flow{f3}}}); err == nil {
		t.Fatal("Apply succeeded although the bundle failed")
	}
	if len(s.Owners()) != 2 || s.FlowCount() != 2 {
		t.Errorf("after a failed bundle: %d owners, %d flows; want 2 and 2", len(s.Owners()), s.FlowCount())
	}
	if err := s.Apply(ctx, []OwnerChange{{Owner: c, Flows: []openflow.Flow{f1}}}); err == nil {
		t.Error("Apply gave owner c a flow of owner b")
	}
	if err := s.Apply(ctx, []OwnerChange{{Owner: c, Flows: []openflow.Flow{f3}}}); err != nil {
		t.Errorf("the store is not usable after a refused batch: %v", err)
	}
}

// PortRangeMasks covers exactly the range with aligned blocks.
func TestPortRangeMasks(t *testing.T) {
	for _, r := range [][2]uint16{{80, 80}, {80, 90}, {1, 65535}, {0, 65535}, {1024, 2047}, {32000, 32768}} {
		masks := PortRangeMasks(r[0], r[1])
		covered := 0
		for p := 0; p <= 65535; p++ {
			in := false
			for _, m := range masks {
				if uint16(p)&m.Mask == m.Value {
					if in {
						t.Errorf("range %v: port %d covered twice by %v", r, p, masks)
					}
					in = true
				}
			}
			if in != (uint16(p) >= r[0] && uint16(p) <= r[1]) {
				t.Errorf("range %v: port %d covered=%v by %v", r, p, in, masks)
			}
			if in {
				covered++
			}
		}
		if covered != int(r[1]-r[0])+1 {
			t.Errorf("range %v covers %d ports", r, covered)
		}
	}
	if n := len(PortRangeMasks(1, 65534)); n > 30 {
		t.Errorf("1-65534 takes %d masks, want at most 30", n)
	}
}
