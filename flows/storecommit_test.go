package flows

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// concurrentChanges holds the switch inside a first bundle (of a new owner "first-N"), starts one goroutine per change
// while it is held, waits until all of them are queued behind it, then lets everything through. It returns each
// change's error, by index.
func concurrentChanges(t *testing.T, s *Store, sw *fakeSwitch, changes []OwnerChange) []error {
	t.Helper()
	ctx := context.Background()
	hold := make(chan struct{})
	sw.mu.Lock()
	sw.hold, sw.entered = hold, make(chan struct{}, 1)
	sw.mu.Unlock()
	first := make(chan error, 1)
	n := len(sw.bundles) // a new owner each time, so that its Set has something to send
	go func() {
		first <- s.Set(ctx, Owner{Pod, fmt.Sprintf("first-%d", n)}, []openflow.Flow{testPodFlow(t, uint32(900+n))}, nil)
	}()
	select {
	case <-sw.entered:
	case err := <-first:
		t.Fatalf("first Set did not reach the switch: %v", err)
	}
	sw.mu.Lock()
	sw.hold = nil // later bundles go straight through
	sw.mu.Unlock()
	errs := make([]error, len(changes))
	var wg sync.WaitGroup
	for i, c := range changes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.Delete {
				errs[i] = s.Delete(ctx, c.Owner)
			} else {
				errs[i] = s.Set(ctx, c.Owner, c.Flows, c.Groups)
			}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		s.queueMu.Lock()
		queued := len(s.queue)
		s.queueMu.Unlock()
		if queued == len(changes) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d changes queued behind the held bundle", queued, len(changes))
		}
	}
	close(hold)
	if err := <-first; err != nil {
		t.Fatalf("first Set: %v", err)
	}
	wg.Wait()
	return errs
}

func testPodFlow(t *testing.T, port uint32) openflow.Flow {
	t.Helper()
	return NewFlow(Classifier, 190).InPort(port).Then().Goto(SpoofGuard)
}

func podChange(i int) OwnerChange {
	ip := net.IPv4(10, 0, 0, byte(i+2))
	return OwnerChange{Owner: Owner{Pod, fmt.Sprintf("default/p%d", i)},
		Flows: []openflow.Flow{NewFlow(Classifier, 190).InPort(uint32(i + 3)).Then().Goto(SpoofGuard),
			NewFlow(SpoofGuard, 200).IP().InPort(uint32(i + 3)).IPv4Src(ip).Then().Goto(ARPResponder)}}
}

// Twenty pods attached at once share one bundle behind the one that was running.
func TestConcurrentSetsShareOneBundle(t *testing.T) {
	s, sw := reconciledStore(t)
	var changes []OwnerChange
	for i := 0; i < 20; i++ {
		changes = append(changes, podChange(i))
	}
	for i, err := range concurrentChanges(t, s, sw, changes) {
		if err != nil {
			t.Errorf("Set of %s: %v", changes[i].Owner, err)
		}
	}
	if len(sw.bundles) != 2 || len(sw.bundles[1]) != 40 {
		t.Fatalf("%d bundles (sizes %v), want the held one and one of 40 adds", len(sw.bundles), bundleSizes(sw))
	}
	for _, c := range changes {
		for _, f := range c.Flows {
			if !installedAs(sw, s, f, c.Owner) {
				t.Errorf("flow %s of %s is not on the switch with its owner's cookie", f.Key(), c.Owner)
			}
		}
	}
	// And 20 concurrent Deletes share one bundle too.
	var dels []OwnerChange
	for _, c := range changes {
		dels = append(dels, OwnerChange{Owner: c.Owner, Delete: true})
	}
	for i, err := range concurrentChanges(t, s, sw, dels) {
		if err != nil {
			t.Errorf("Delete of %s: %v", dels[i].Owner, err)
		}
	}
	if n := len(sw.bundles); n != 4 || len(sw.bundles[3]) != 40 {
		t.Fatalf("%d bundles (sizes %v), want 4, the last of 40 deletes", n, bundleSizes(sw))
	}
	if got := len(sw.table()); got != 2 {
		t.Errorf("%d flows left on the switch, want only the two first-N owners'", got)
	}
}

// One pod whose flows the switch rejects, and one whose flow another pod of the batch also claims, fail alone:
// the other pods of the batch are installed.
func TestFailureOfOnePodInABatchFailsOnlyThatPod(t *testing.T) {
	s, sw := reconciledStore(t)
	sw.rejectActions = "reject-me"
	var changes []OwnerChange
	for i := 0; i < 20; i++ {
		changes = append(changes, podChange(i))
	}
	changes[5].Flows = append(changes[5].Flows, openflow.Flow{Table: SpoofGuard.ID, Priority: 1, Match: "ip", Actions: "reject-me"})
	changes[12].Flows = append(changes[12].Flows, changes[11].Flows[0]) // pod 11's classifier flow
	errs := concurrentChanges(t, s, sw, changes)
	if errs[5] == nil || !strings.Contains(errs[5].Error(), "switch rejects") {
		t.Errorf("pod 5 (flow the switch rejects): err %v", errs[5])
	}
	if (errs[11] == nil) == (errs[12] == nil) || !strings.Contains(fmt.Sprint(errs[11], errs[12]), "already owned") {
		t.Errorf("pods 11 and 12 claim the same flow: want exactly one 'already owned' error, got %v and %v", errs[11], errs[12])
	}
	for i, err := range errs {
		if i == 5 || i == 11 || i == 12 {
			continue
		}
		if err != nil {
			t.Errorf("pod %d failed with the batch: %v", i, err)
			continue
		}
		for _, f := range changes[i].Flows {
			if !installedAs(sw, s, f, changes[i].Owner) {
				t.Errorf("flow %s of pod %d is missing", f.Key(), i)
			}
		}
	}
	if _, ok := s.owners[changes[5].Owner]; ok {
		t.Errorf("the store keeps pod 5 although its flows were rejected")
	}
	for _, line := range sw.table() {
		if strings.Contains(line, "reject-me") {
			t.Errorf("rejected flow installed: %s", line)
		}
	}
}

func bundleSizes(sw *fakeSwitch) []int {
	var n []int
	for _, b := range sw.bundles {
		n = append(n, len(b))
	}
	return n
}

// installedAs says whether f is on the switch with a cookie of owner.
func installedAs(sw *fakeSwitch, s *Store, f openflow.Flow, owner Owner) bool {
	sw.mu.Lock()
	got, ok := sw.flows[f.Key()]
	sw.mu.Unlock()
	if !ok || got.Actions != f.Actions {
		return false
	}
	o, ok := s.OwnerOf(got.Cookie)
	return ok && o == owner
}
