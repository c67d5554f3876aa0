package flows

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// countingSwitch counts the bundles sent to a real bridge.
type countingSwitch struct {
	*openflow.Client
	bundles atomic.Int32
}

func (c *countingSwitch) Bundle(ctx context.Context, mods []openflow.Mod) error {
	c.bundles.Add(1)
	return c.Client.Bundle(ctx, mods)
}

// Against a real bridge: 20 pods attached at once share bundles and all get their flows; in a second wave one pod
// has a flow OVS rejects (a group that does not exist) and fails alone, the 19 others are installed.
func TestConcurrentPodFlowsInOVS(t *testing.T) {
	o := startPrivateOVS(t)
	o.vsctl(t, "add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev", "fail_mode=secure", "protocols=OpenFlow15")
	sw := &countingSwitch{Client: openflow.New(openflow.Config{Bridge: "br-int", RunDir: o.dir, VswitchdCtl: o.path("ovs-vswitchd.ctl")})}
	s := NewStore(sw)
	ctx := context.Background()
	if err := s.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	pod := func(i int) (Owner, []openflow.Flow) {
		ip := net.IPv4(10, 244, 1, byte(10+i))
		return Owner{Pod, fmt.Sprintf("default/p%d", i)},
			PodFlows(testNode, PodSpec{OFPort: uint32(10 + i), MAC: net.HardwareAddr{0x0a, 0x58, 10, 244, 1, byte(10 + i)}, IP: ip})
	}
	wave := func(first int, bad int) []error {
		errs := make([]error, 20)
		var wg sync.WaitGroup
		for i := first; i < first+20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner, fl := pod(i)
				if i == bad {
					fl = append(fl, openflow.Flow{Table: ARPResponder.ID, Priority: 7, Match: fmt.Sprintf("in_port=%d,arp", 10+i), Actions: "group:4242"})
				}
				errs[i-first] = s.Set(ctx, owner, fl, nil)
			}()
		}
		wg.Wait()
		return errs
	}
	for i, err := range wave(0, -1) {
		if err != nil {
			t.Errorf("pod %d: %v", i, err)
		}
	}
	if n := sw.bundles.Load(); n >= 20 {
		t.Errorf("%d bundles for 20 concurrent pods: they were not committed together", n)
	}
	for i, err := range wave(20, 27) {
		if (err != nil) != (i+20 == 27) {
			t.Errorf("pod %d: err %v (only pod 27 has a flow OVS rejects)", i+20, err)
		}
	}
	installed := map[int]int{} // flows matching each pod's port
	for _, m := range regexp.MustCompile(`in_port=(\d+)[, ]`).FindAllStringSubmatch(o.ofctl(t, "dump-flows", "--no-stats"), -1) {
		port, _ := strconv.Atoi(m[1])
		installed[port-10]++
	}
	for i := 0; i < 40; i++ {
		if got := installed[i]; (got == 0) != (i == 27) {
			t.Errorf("pod %d: %d flows matching its port on the bridge", i, got)
		}
	}
	if _, ok := s.owners[Owner{Pod, "default/p27"}]; ok {
		t.Error("the store keeps pod 27, whose flows OVS rejected")
	}
}
