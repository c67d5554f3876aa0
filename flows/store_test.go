package flows

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

var (
	nodeOwner = Owner{Pipeline, "node"}
	pod1Owner = Owner{Pod, "default/web-1"}
	pod2Owner = Owner{Pod, "default/web-2"}
	svcOwner  = Owner{Service, "default/web"}
)

// desiredTable renders the store's desired flows like fakeSwitch.table.
func desiredTable(s *Store) []string {
	var lines []string
	for _, o := range s.Owners() {
		for _, f := range o.Flows {
			lines = append(lines, fmt.Sprintf("%s cookie=%#x actions=%s", f.Key(), f.Cookie, f.Actions))
		}
	}
	slices.Sort(lines)
	return lines
}

func reconciledStore(t *testing.T) (*Store, *fakeSwitch) {
	t.Helper()
	sw := newFakeSwitch()
	s := NewStore(sw)
	if err := s.Reconcile(context.Background()); err != nil {
		t.Fatalf("reconciling an empty bridge: %v", err)
	}
	return s, sw
}

func mustSet(t *testing.T, s *Store, owner Owner, flows []openflow.Flow, groups []openflow.Group) {
	t.Helper()
	if err := s.Set(context.Background(), owner, flows, groups); err != nil {
		t.Fatalf("Set(%s): %v", owner, err)
	}
}

func keys(flows []openflow.Flow) map[string]bool {
	out := map[string]bool{}
	for _, f := range flows {
		out[f.Key()] = true
	}
	return out
}

func ownerID(t *testing.T, s *Store, owner Owner) uint64 {
	t.Helper()
	for _, o := range s.Owners() {
		if o.Owner == owner {
			return o.ID
		}
	}
	t.Fatalf("owner %s is not in the store", owner)
	return 0
}

// selectGroup is a service group whose buckets output to the given ports.
func selectGroup(id uint32, ports ...uint32) openflow.Group {
	g := openflow.Group{ID: id, Type: openflow.GroupSelect}
	for i, p := range ports {
		g.Buckets = append(g.Buckets, openflow.Bucket{ID: uint32(i), Actions: fmt.Sprintf("output:%d", p)})
	}
	return g
}

func groupFlow(id uint32) openflow.Flow {
	return NewFlow(L3Forwarding, 300).IPv4Dst(net.ParseIP("10.96.0.10")).Then().Group(id).Done()
}

func TestSetAppliesOnlyTheDifference(t *testing.T) {
	s, sw := reconciledStore(t)
	mustSet(t, s, nodeOwner, PipelineFlows(testNode), nil)
	mustSet(t, s, pod1Owner, PodFlows(testNode, testPod1), nil)
	mustSet(t, s, pod2Owner, PodFlows(testNode, testPod2), nil)
	if got, want := sw.table(), desiredTable(s); !slices.Equal(got, want) {
		t.Fatalf("bridge differs from the desired state:\n got  %q\n want %q", got, want)
	}
	bundles := len(sw.bundles)

	moved := testPod1
	moved.IP = net.ParseIP("10.244.1.9")
	oldKeys, newKeys := keys(PodFlows(testNode, testPod1)), keys(PodFlows(testNode, moved))
	mustSet(t, s, pod1Owner, PodFlows(testNode, moved), nil)

	if len(sw.bundles) != bundles+1 {
		t.Fatalf("changing one pod made %d bundles, want 1", len(sw.bundles)-bundles)
	}
	pod1Cookie := MakeCookie(s.Round(), Pod, ownerID(t, s, pod1Owner))
	var adds, deletes int
	for _, m := range sw.lastBundle() {
		key := m.Flow.Key()
		switch m.Op {
		case openflow.AddFlow:
			adds++
			if oldKeys[key] || !newKeys[key] || m.Flow.Cookie != pod1Cookie {
				t.Errorf("add of %s (cookie %#x) is not a new flow of pod 1", key, m.Flow.Cookie)
			}
		case openflow.DeleteFlow:
			deletes++
			if !oldKeys[key] || newKeys[key] {
				t.Errorf("delete of %s is not a removed flow of pod 1", key)
			}
		default:
			t.Errorf("unexpected mod %+v", m)
		}
	}
	changed := 0
	for k := range newKeys {
		if !oldKeys[k] {
			changed++
		}
	}
	if changed == 0 || adds != changed || deletes != changed {
		t.Errorf("bundle has %d adds and %d deletes, want %d of each", adds, deletes, changed)
	}
	if got, want := sw.table(), desiredTable(s); !slices.Equal(got, want) {
		t.Errorf("bridge differs from the desired state after the change:\n got  %q\n want %q", got, want)
	}

	mustSet(t, s, pod1Owner, PodFlows(testNode, moved), nil)
	if len(sw.bundles) != bundles+1 {
		t.Errorf("setting the same flows again sent a bundle: %+v", sw.lastBundle())
	}
}

func TestSetReaddsFlowWhoseActionsChanged(t *testing.T) {
	s, sw := reconciledStore(t)
	flow := NewFlow(Output, 100).InPort(5).Then().Output(6).Done()
	other := NewFlow(Output, 100).InPort(6).Then().Output(5).Done()
	mustSet(t, s, pod1Owner, []openflow.Flow{flow, other}, nil)
	flow.Actions = "output:7"
	mustSet(t, s, pod1Owner, []openflow.Flow{flow, other}, nil)
	mods := sw.lastBundle()
	want := MakeCookie(s.Round(), Pod, ownerID(t, s, pod1Owner))
	if len(mods) != 1 || mods[0].Op != openflow.AddFlow || mods[0].Flow.Actions != "output:7" || mods[0].Flow.Cookie != want {
		t.Fatalf("changing one flow's actions sent %+v, want one AddFlow with cookie %#x", mods, want)
	}
	if got, wantTable := sw.table(), desiredTable(s); !slices.Equal(got, wantTable) {
		t.Errorf("bridge differs from the desired state:\n got  %q\n want %q", got, wantTable)
	}
}

func TestSetOrdersGroupsAroundFlows(t *testing.T) {
	s, sw := reconciledStore(t)
	mustSet(t, s, svcOwner, []openflow.Flow{groupFlow(1)}, []openflow.Group{selectGroup(1, 10)})
	if ops := opsOf(sw.lastBundle()); !slices.Equal(ops, []string{"AddGroup 1", "AddFlow"}) {
		t.Errorf("first set sent %v", ops)
	}
	// Move the flow to a new group 2, change group 1 and keep it, then drop group 1.
	mustSet(t, s, svcOwner, []openflow.Flow{groupFlow(2)}, []openflow.Group{selectGroup(1, 11), selectGroup(2, 12)})
	if ops := opsOf(sw.lastBundle()); !slices.Equal(ops, []string{"ModifyGroup 1", "AddGroup 2", "AddFlow"}) {
		t.Errorf("second set sent %v", ops)
	}
	mustSet(t, s, svcOwner, []openflow.Flow{groupFlow(2)}, []openflow.Group{selectGroup(2, 12)})
	if ops := opsOf(sw.lastBundle()); !slices.Equal(ops, []string{"DeleteGroup 1"}) {
		t.Errorf("third set sent %v", ops)
	}
	if len(sw.groups) != 1 || !reflect.DeepEqual(sw.groups[2], selectGroup(2, 12)) || len(sw.table()) != 1 {
		t.Errorf("bridge holds groups %v and flows %q", sw.groups, sw.table())
	}
}

func opsOf(mods []openflow.Mod) []string {
	names := map[openflow.ModOp]string{openflow.AddFlow: "AddFlow", openflow.ModifyFlow: "ModifyFlow",
		openflow.DeleteFlow: "DeleteFlow", openflow.AddGroup: "AddGroup", openflow.ModifyGroup: "ModifyGroup",
		openflow.DeleteGroup: "DeleteGroup"}
	var out []string
	for _, m := range mods {
		if m.Op >= openflow.AddGroup {
			out = append(out, fmt.Sprintf("%s %d", names[m.Op], m.Group.ID))
		} else {
			out = append(out, names[m.Op])
		}
	}
	return out
}

func TestFailedBundleLeavesStateUnchanged(t *testing.T) {
	s, sw := reconciledStore(t)
	mustSet(t, s, pod1Owner, PodFlows(testNode, testPod1), nil)
	owners, table, count := s.Owners(), sw.table(), s.FlowCount()
	unchanged := func(when string) {
		t.Helper()
		if !reflect.DeepEqual(s.Owners(), owners) || s.FlowCount() != count {
			t.Errorf("%s: desired state changed", when)
		}
		if !slices.Equal(sw.table(), table) {
			t.Errorf("%s: bridge changed", when)
		}
	}

	moved := testPod1
	moved.IP = net.ParseIP("10.244.1.9")
	sw.failNext = errors.New("ovs-ofctl: bundle rejected")
	err := s.Set(context.Background(), pod1Owner, PodFlows(testNode, moved), nil)
	if err == nil || !strings.Contains(err.Error(), "bundle rejected") || !strings.Contains(err.Error(), pod1Owner.String()) {
		t.Fatalf("failed Set returned %v, want an error naming the owner and the cause", err)
	}
	unchanged("after a failed change")

	sw.failNext = errors.New("ovs-ofctl: bundle rejected")
	if err := s.Set(context.Background(), pod2Owner, PodFlows(testNode, testPod2), nil); err == nil {
		t.Fatal("failed Set of a new owner returned no error")
	}
	unchanged("after a failed add")
	// The failed owner's flows and id were not kept: another owner may take its flows and id.
	virt := Owner{Node, "virtual"}
	mustSet(t, s, virt, VirtualARPFlows(testPod2.IP, testPod2.MAC), nil)
	if id := ownerID(t, s, virt); id != 2 {
		t.Errorf("owner after a failed add got id %d, want 2 (the failed owner's id is free again)", id)
	}

	sw.failNext = errors.New("ovs-ofctl: bundle rejected")
	if err := s.Delete(context.Background(), pod1Owner); err == nil {
		t.Fatal("failed Delete returned no error")
	}
	if _, ok := s.OwnerOf(MakeCookie(s.Round(), Pod, ownerID(t, s, pod1Owner))); !ok {
		t.Error("failed Delete dropped the owner")
	}

	// The next change is still diffed against what is on the bridge.
	mustSet(t, s, pod1Owner, PodFlows(testNode, moved), nil)
	if got, want := sw.table(), desiredTable(s); !slices.Equal(got, want) {
		t.Errorf("bridge differs from the desired state:\n got  %q\n want %q", got, want)
	}
}

func TestFlowOwnedByAnotherOwnerIsAnError(t *testing.T) {
	s, sw := reconciledStore(t)
	mustSet(t, s, pod1Owner, PodFlows(testNode, testPod1), []openflow.Group{selectGroup(1, 10)})
	bundles := len(sw.bundles)
	virt := Owner{Node, "virtual"}
	err := s.Set(context.Background(), virt, VirtualARPFlows(testPod1.IP, mustMAC("aa:bb:cc:dd:ee:ff")), nil)
	if err == nil || !strings.Contains(err.Error(), pod1Owner.String()) || !strings.Contains(err.Error(), virt.String()) {
		t.Errorf("conflicting flow: got %v, want an error naming %s and %s", err, pod1Owner, virt)
	}
	err = s.Set(context.Background(), svcOwner, nil, []openflow.Group{selectGroup(1, 11)})
	if err == nil || !strings.Contains(err.Error(), pod1Owner.String()) || !strings.Contains(err.Error(), svcOwner.String()) {
		t.Errorf("conflicting group: got %v, want an error naming %s and %s", err, pod1Owner, svcOwner)
	}
	twice := append(VirtualARPFlows(net.ParseIP("10.244.2.1"), testNode.GatewayMAC), VirtualARPFlows(net.ParseIP("10.244.2.1"), testPod1.MAC)...)
	if err := s.Set(context.Background(), virt, twice, nil); err == nil || !strings.Contains(err.Error(), "two flows") {
		t.Errorf("two flows with one key: got %v", err)
	}
	if err := s.Set(context.Background(), Owner{Key: "no-category"}, nil, nil); err == nil {
		t.Error("owner without category: no error")
	}
	if len(sw.bundles) != bundles || len(s.Owners()) != 1 {
		t.Errorf("rejected changes reached the bridge or the store")
	}
}

func TestSetAndDeleteNeedReconcileAndStageComesBefore(t *testing.T) {
	s := NewStore(newFakeSwitch())
	if err := s.Set(context.Background(), pod1Owner, PodFlows(testNode, testPod1), nil); !errors.Is(err, ErrNotReconciled) {
		t.Errorf("Set before Reconcile: got %v, want ErrNotReconciled", err)
	}
	if err := s.Delete(context.Background(), pod1Owner); !errors.Is(err, ErrNotReconciled) {
		t.Errorf("Delete before Reconcile: got %v, want ErrNotReconciled", err)
	}
	if err := s.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Stage(pod1Owner, PodFlows(testNode, testPod1), nil); err == nil {
		t.Error("Stage after Reconcile: no error")
	}
}
