package flows

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

func TestIDReuseAndOwnerOf(t *testing.T) {
	s, sw := reconciledStore(t)
	owners := []Owner{{Pod, "a"}, {Pod, "b"}, {Pod, "c"}}
	for i, o := range owners {
		port := uint32(20 + i)
		mustSet(t, s, o, []openflow.Flow{classifierPod(port), outputHairpin(port)}, nil)
		if id := ownerID(t, s, o); id != uint64(i+1) {
			t.Errorf("owner %s got id %d, want %d", o, id, i+1)
		}
	}
	bCookie := MakeCookie(s.Round(), Pod, 2)
	if got, ok := s.OwnerOf(bCookie); !ok || got != owners[1] {
		t.Errorf("OwnerOf(%#x) = %v, %v", bCookie, got, ok)
	}
	bundles := len(sw.bundles)
	if err := s.Delete(context.Background(), owners[1]); err != nil {
		t.Fatal(err)
	}
	if len(sw.bundles) != bundles+1 || !slices.Equal(opsOf(sw.lastBundle()), []string{"DeleteFlow", "DeleteFlow"}) {
		t.Errorf("Delete sent %v in %d bundles", opsOf(sw.lastBundle()), len(sw.bundles)-bundles)
	}
	if _, ok := s.OwnerOf(bCookie); ok || len(sw.table()) != 4 || s.FlowCount() != 4 {
		t.Errorf("deleted owner still known or its flows remain: %q", sw.table())
	}
	d := Owner{Service, "d"}
	mustSet(t, s, d, []openflow.Flow{groupFlow(4)}, []openflow.Group{selectGroup(4, 20)})
	if id := ownerID(t, s, d); id != 2 {
		t.Errorf("new owner got id %d, want the freed id 2", id)
	}
	if got, ok := s.OwnerOf(MakeCookie(s.Round(), Service, 2)); !ok || got != d {
		t.Errorf("OwnerOf the reused id = %v, %v; want %s", got, ok, d)
	}
	if _, ok := s.OwnerOf(MakeCookie(s.Round(), Pod, 2)); ok {
		t.Error("OwnerOf matched the reused id under the old category")
	}
	if _, ok := s.OwnerOf(MakeCookie(s.Round()+1, Service, 2)); ok {
		t.Error("OwnerOf matched a cookie of another round")
	}
	if err := s.Delete(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if ops := opsOf(sw.lastBundle()); !slices.Equal(ops, []string{"DeleteFlow", "DeleteGroup 4"}) {
		t.Errorf("deleting an owner with a group sent %v", ops)
	}
	if err := s.Delete(context.Background(), Owner{Pod, "never-set"}); err != nil {
		t.Errorf("deleting an unknown owner: %v", err)
	}
}

func TestConcurrentSets(t *testing.T) {
	s, sw := reconciledStore(t)
	mustSet(t, s, nodeOwner, PipelineFlows(testNode), nil)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			pod := PodSpec{OFPort: uint32(100 + i), MAC: net.HardwareAddr{0x0a, 0x58, 0x0a, 0xf4, 0x01, byte(100 + i)},
				IP: net.IPv4(10, 244, 1, byte(100+i))}
			if err := s.Set(context.Background(), Owner{Pod, fmt.Sprint("pod-", i)}, PodFlows(testNode, pod), nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got, want := sw.table(), desiredTable(s); !slices.Equal(got, want) || len(got) != len(PipelineFlows(testNode))+32*len(PodFlows(testNode, testPod1)) {
		t.Errorf("bridge (%d flows) differs from the desired state (%d flows)", len(got), len(want))
	}
}
