package networkpolicy

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
)

type discardStore struct{}

func (discardStore) Stage(flows.Owner, []openflow.Flow, []openflow.Group) error { return nil }
func (discardStore) Apply(context.Context, []flows.OwnerChange) error           { return nil }

// The pod events that report a released address to PodGone: a deleted or ended pod of another node, once, unless a
// live pod holds the address again; never a pod of this node or a hostNetwork pod.
func TestPodGoneReportsReleasedRemoteAddresses(t *testing.T) {
	var gone []string
	c, err := New(Config{NodeName: "n1", PodGone: func(ip netip.Addr) { gone = append(gone, ip.String()) }},
		fake.NewClientset(), discardStore{}, func(string, string) (netip.Addr, uint32, bool) { return netip.Addr{}, 0, false },
		logrus.New())
	if err != nil {
		t.Fatal(err)
	}
	h := podHandler(c.counted, c.upsertPod, c.deletePod, c.podGone).(cache.ResourceEventHandlerFuncs)
	// The informer updates its indexer before it calls the handlers; so does this test.
	add := func(p *corev1.Pod) {
		if err := c.byIP.Add(p); err != nil {
			t.Fatal(err)
		}
		h.OnAdd(p, false)
	}
	update := func(old, p *corev1.Pod) {
		if err := c.byIP.Update(p); err != nil {
			t.Fatal(err)
		}
		h.OnUpdate(old, p)
	}
	del := func(p *corev1.Pod, tombstone bool) {
		if err := c.byIP.Delete(p); err != nil {
			t.Fatal(err)
		}
		if tombstone {
			h.OnDelete(cache.DeletedFinalStateUnknown{Key: p.Namespace + "/" + p.Name, Obj: p})
			return
		}
		h.OnDelete(p)
	}
	expect := func(step string, want ...string) {
		t.Helper()
		if !slices.Equal(gone, want) {
			t.Errorf("%s: PodGone got %v, want %v", step, gone, want)
		}
		gone = nil
	}

	remote := pod("x", "a", "n2", "10.244.2.5", nil)
	add(remote)
	expect("remote pod added")
	del(remote, false)
	expect("remote pod deleted", "10.244.2.5")

	tomb := pod("x", "t", "n2", "10.244.2.9", nil)
	add(tomb)
	del(tomb, true)
	expect("remote pod deleted (tombstone)", "10.244.2.9")

	local := pod("x", "b", "n1", "10.244.1.5", nil)
	add(local)
	del(local, false)
	expect("local pod deleted (CNI DEL flushes it)")

	host := pod("x", "h", "n2", "192.168.1.12", nil)
	host.Spec.HostNetwork = true
	add(host)
	del(host, false)
	expect("hostNetwork pod deleted (the node's address)")

	old, reuser := pod("x", "old", "n2", "10.244.2.7", nil), pod("x", "new", "n3", "10.244.2.7", nil)
	add(old)
	add(reuser)
	del(old, false)
	expect("deleted while another live pod has its address")

	job := pod("x", "job", "n3", "10.244.3.4", nil)
	add(job)
	done := job.DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	update(job, done)
	expect("remote pod ended", "10.244.3.4")
	update(done, done.DeepCopy())
	del(done, false)
	expect("ended pod updated and deleted (already reported)")

	noIP := pod("x", "pending", "n2", "", nil)
	add(noIP)
	del(noIP, false)
	expect("pod without an address")
}
