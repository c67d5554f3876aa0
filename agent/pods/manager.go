package pods

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"
	"github.com/sirupsen/logrus"

	"github.com/switchyard-net/switchyard/agent/ipam"
	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/cni/podnet"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
	"github.com/switchyard-net/switchyard/ovs/ovsdb"
)

// Ports is what the manager needs from OVSDB.
type Ports interface {
	EnsurePort(ctx context.Context, spec ovsdb.PortSpec) error
	DeletePort(ctx context.Context, bridge, name string) error
	WaitOfport(ctx context.Context, name string) (int32, error)
	OfportsInUse(bridge string) map[int32]bool
}

// Flows is what the manager needs from the desired-state flow store.
type Flows interface {
	Stage(owner flows.Owner, f []openflow.Flow, g []openflow.Group) error
	Set(ctx context.Context, owner flows.Owner, f []openflow.Flow, g []openflow.Group) error
	Delete(ctx context.Context, owner flows.Owner) error
}

// Settings are the node facts every attachment uses.
type Settings struct {
	Bridge        string
	Network       string // the CNI network name
	MTU           int
	TxChecksumOff bool // the switch cannot complete partial checksums (SetTxChecksumOff changes it)
	Node          flows.NodeConfig
	OfportTimeout time.Duration
	// FlushConntrack, if set, removes the conntrack entries of a detached pod's IP (best effort: they would
	// otherwise outlive the pod, for a day when established).
	FlushConntrack func(ctx context.Context, ip net.IP) error
	// PortAdded, if set, watches for the switch's report that a port was added (openflow.Client.WatchPortAdded):
	// an ADD then waits for whichever comes first, that report or the port's number in OVSDB.
	PortAdded func(name string) (wait func(context.Context) (uint32, error), stop func(), ok bool)
}

// Manager owns the pods attached on this node.
type Manager struct {
	set   Settings
	ipam  *ipam.Allocator
	ports Ports
	flows Flows
	log   logrus.FieldLogger

	mu       sync.Mutex
	pods     map[Key]*Pod
	locks    map[Key]*keyLock
	reserved map[int32]bool // OpenFlow port numbers picked by ADDs in flight

	txChecksumOff atomic.Bool // Settings.TxChecksumOff, as SetTxChecksumOff last set it
}

type keyLock struct {
	sync.Mutex
	users int
}

// NewManager returns a manager with no pods; call Restore with OVSDB's ports before serving requests.
func NewManager(set Settings, alloc *ipam.Allocator, ports Ports, fl Flows, log logrus.FieldLogger) *Manager {
	if set.OfportTimeout == 0 {
		set.OfportTimeout = 10 * time.Second
	}
	m := &Manager{set: set, ipam: alloc, ports: ports, flows: fl, log: log,
		pods: map[Key]*Pod{}, locks: map[Key]*keyLock{}, reserved: map[int32]bool{}}
	m.txChecksumOff.Store(set.TxChecksumOff)
	return m
}

// lock serialises requests for one attachment; different attachments proceed in parallel.
func (m *Manager) lock(k Key) func() {
	m.mu.Lock()
	l := m.locks[k]
	if l == nil {
		l = &keyLock{}
		m.locks[k] = l
	}
	l.users++
	m.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		m.mu.Lock()
		if l.users--; l.users == 0 {
			delete(m.locks, k)
		}
		m.mu.Unlock()
	}
}

// Add attaches a pod: IP, OpenFlow port number, then at the same time its flows on one side and its veth and OVS
// port on the other. Each step is undone if another fails, so a failed ADD leaves nothing
// behind. It returns once the pod's flows are installed and its port is in the switch.
//
// The agent picks the port's OpenFlow number itself (ofport_request) instead of waiting for vswitchd to pick one,
// so the pod's flows need not wait for the port: they go into the switch while the veth and the port are being
// made. Until the port exists they match nothing and output nowhere, and the pod cannot send before ADD returns,
// so it never sends without its spoof guard.
func (m *Manager) Add(ctx context.Context, req api.CNIRequest) (_ *api.Attachment, err error) {
	took := newSteps()
	key := Key{ContainerID: req.ContainerID, IfName: req.IfName}
	defer m.lock(key)()
	if p := m.Get(key); p != nil {
		if p.Netns != req.Netns {
			return nil, apiErr(cnitypes.ErrInvalidEnvironmentVariables, "container %s interface %s is already attached in netns %s, not %s",
				key.ContainerID, key.IfName, p.Netns, req.Netns)
		}
		return m.attachment(p), nil // a repeated ADD returns the existing attachment
	}
	if _, err := os.Stat(req.Netns); err != nil {
		return nil, apiErr(cnitypes.ErrInvalidEnvironmentVariables, "CNI_NETNS %q: %v", req.Netns, err)
	}
	mtu := m.set.MTU
	if req.MTU != 0 {
		mtu = req.MTU
	}
	p := &Pod{Key: key, Namespace: req.PodNamespace, Name: req.PodName, Network: m.set.Network,
		Netns: req.Netns, HostIfName: podnet.HostVethName(key.ContainerID, key.IfName)}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	// 1. An address from the node's pod CIDR, and an OpenFlow port number.
	// The allocation is written and reaches the disk (fsync) while the rest is done; ADD answers only once it is
	// durable.
	done := took.time("ipam")
	ip, durable, err := m.ipam.AllocateUnsynced(ipam.Key{ContainerID: key.ContainerID, IfName: key.IfName})
	done()
	if err != nil {
		return nil, apiErr(cnitypes.ErrTryAgainLater, "allocating an IP for %s: %v", p.Ref(), err)
	}
	undo = append(undo, func() {
		m.logUndo(p, "release IP", m.ipam.Release(ipam.Key{ContainerID: key.ContainerID, IfName: key.IfName}))
	})
	syncDone := make(chan error, 1)
	go func() {
		defer took.time("ipam-sync")()
		syncDone <- durable()
	}()
	synced := false
	defer func() { // a failed ADD waits too, before its undo releases the allocation
		if !synced {
			<-syncDone
		}
	}()
	p.IP = &net.IPNet{IP: ip, Mask: m.set.Node.PodCIDR.Mask}
	p.MAC = podnet.PodMAC(ip)
	done = took.time("pick")
	p.OFPort, err = m.reserveOfport()
	done()
	if err != nil {
		return nil, apiErr(cnitypes.ErrTryAgainLater, "choosing an OpenFlow port for %s: %v", p.Ref(), err)
	}
	undo = append(undo, func() { m.unreserveOfport(p.OFPort) }) // after the port is deleted again

	// 2. Its flows, in one bundle (shared with concurrent ADDs), while the veth and the port are made.
	flowsDone := make(chan error, 1)
	go func() {
		defer took.time("flows")()
		flowsDone <- m.flows.Set(ctx, p.owner(), m.podFlows(p), nil)
	}()
	err = m.plumb(ctx, p, req.Netns, mtu, took, &undo)
	if ferr := <-flowsDone; ferr == nil {
		undo = append(undo, func() { m.logUndo(p, "delete flows", m.flows.Delete(context.Background(), p.owner())) })
	} else if err == nil {
		err = apiErr(cnitypes.ErrInternal, "installing flows of %s: %v", p.Ref(), ferr)
	}
	if err != nil {
		return nil, err
	}

	synced = true
	if err := <-syncDone; err != nil {
		return nil, apiErr(cnitypes.ErrIOFailure, "recording the IP of %s: %v", p.Ref(), err)
	}

	// No gratuitous ARP: a pod's MAC is derived from its address (podnet.PodMAC), so no neighbour can hold another
	// MAC for it, even for an address reused from a deleted pod; the node's host stack and the pods learn it from
	// the switch's ARP responder. (Announcing it cost the switch two upcalls per pod, on the next pod's ADD.)

	m.mu.Lock()
	m.pods[key] = p
	delete(m.reserved, p.OFPort) // the pod holds it now
	m.mu.Unlock()
	m.log.WithFields(logrus.Fields{"pod": p.Ref(), "ip": p.IP, "port": p.HostIfName, "ofport": p.OFPort, "took": took.total(), "steps": took.String()}).Info("pod attached")
	return m.attachment(p), nil
}

// plumb makes the pod's veth (pod side configured in its netns, host side left in ours) and its OVS port, which
// carries the pod's identity and asks for the pod's OpenFlow port number, and waits until vswitchd has the port.
// It appends the undo of each step it completed.
func (m *Manager) plumb(ctx context.Context, p *Pod, netns string, mtu int, took *steps, undo *[]func()) error {
	done := took.time("veth")
	att, err := podnet.Setup(netns, podnet.Config{ContainerID: p.ContainerID, IfName: p.IfName,
		HostIfName: p.HostIfName, IP: p.IP, Gateway: m.set.Node.GatewayIP, MAC: p.MAC, MTU: mtu,
		TxChecksumOff: m.txChecksumOff.Load()})
	done()
	if err != nil {
		return apiErr(cnitypes.ErrInternal, "setting up the veth of %s: %v", p.Ref(), err)
	}
	p.HostMAC = att.HostMAC
	*undo = append(*undo, func() { m.logUndo(p, "remove veth", podnet.Teardown(netns, p.IfName, p.HostIfName)) })

	var added func(context.Context) (uint32, error)
	if m.set.PortAdded != nil {
		wait, stop, ok := m.set.PortAdded(p.HostIfName)
		defer stop()
		if ok {
			added = wait
		}
	}
	done = took.time("port")
	err = m.ports.EnsurePort(ctx, ovsdb.PortSpec{Bridge: m.set.Bridge, Name: p.HostIfName,
		OfportRequest: int(p.OFPort), ExternalIDs: p.ExternalIDs()})
	done()
	if err != nil {
		return apiErr(cnitypes.ErrInternal, "adding OVS port %s for %s: %v", p.HostIfName, p.Ref(), err)
	}
	*undo = append(*undo, func() {
		m.logUndo(p, "delete OVS port", m.ports.DeletePort(context.Background(), m.set.Bridge, p.HostIfName))
	})
	done = took.time("ofport")
	got, err := m.waitOfport(ctx, p.HostIfName, added)
	done()
	if err != nil {
		return apiErr(cnitypes.ErrInternal, "waiting for the ofport of %s: %v", p.HostIfName, err)
	}
	if got != p.OFPort {
		return apiErr(cnitypes.ErrInternal, "vswitchd gave port %s OpenFlow port %d, not the requested %d (does another program add ports to %s?)",
			p.HostIfName, got, p.OFPort, m.set.Bridge)
	}
	return nil
}

// waitOfport waits until vswitchd has the port: the switch's report of the added port (added, when watched: it
// returns once the port forwards) or its number in OVSDB, whichever comes first. vswitchd writes the number at the
// end of the reconfiguration that adds the port, which on a node with many ports takes a few milliseconds after
// the port exists; an error it writes to OVSDB instead (a device it cannot open) ends the wait. A report that
// cannot be had (the OpenFlow connection fails) leaves the wait to OVSDB.
func (m *Manager) waitOfport(ctx context.Context, name string, added func(context.Context) (uint32, error)) (int32, error) {
	wctx, cancel := context.WithTimeout(ctx, m.set.OfportTimeout)
	defer cancel() // also ends the other wait once one has answered
	if added == nil {
		return m.ports.WaitOfport(wctx, name)
	}
	type answer struct {
		ofport int32
		err    error
	}
	fromDB, fromSwitch := make(chan answer, 1), make(chan answer, 1)
	go func() {
		n, err := m.ports.WaitOfport(wctx, name)
		fromDB <- answer{n, err}
	}()
	go func() {
		n, err := added(wctx)
		fromSwitch <- answer{int32(n), err}
	}()
	for {
		select {
		case a := <-fromSwitch:
			if a.err == nil {
				return a.ofport, nil
			}
			fromSwitch = nil // OVSDB will tell
		case a := <-fromDB:
			return a.ofport, a.err
		}
	}
}

// reserveOfport picks the lowest OpenFlow port number that no port of the bridge has or has asked for, no pod
// holds and no ADD in flight has picked. The number stays reserved until the pod holds it, or until a failed ADD
// has deleted its port again (unreserveOfport).
func (m *Manager) reserveOfport() (int32, error) {
	used := m.ports.OfportsInUse(m.set.Bridge)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.pods {
		used[p.OFPort] = true
	}
	for n := int32(firstPodOfport); n <= maxOfport; n++ {
		if !used[n] && !m.reserved[n] {
			m.reserved[n] = true
			return n, nil
		}
	}
	return 0, fmt.Errorf("all OpenFlow port numbers of bridge %s from %d to %d are in use", m.set.Bridge, firstPodOfport, maxOfport)
}

func (m *Manager) unreserveOfport(n int32) {
	m.mu.Lock()
	delete(m.reserved, n)
	m.mu.Unlock()
}

// OpenFlow port numbers pods get: below are the node's own ports (tunnel 1, gateway 2); 65279 is the highest
// number a port may request.
const (
	firstPodOfport = 3
	maxOfport      = 65279
)

// Del detaches a pod. It is idempotent: a missing pod, netns, port, veth or allocation is success. The pod's flows,
// its OVS port and its veth are removed at the same time (without its flows nothing is sent to the port, and a
// port without its device carries nothing either), its conntrack entries as soon as its flows are gone; the IP is
// released last so it cannot be reused while still plumbed, and the OpenFlow port number with it.
func (m *Manager) Del(ctx context.Context, req api.CNIRequest) error {
	took := newSteps()
	key := Key{ContainerID: req.ContainerID, IfName: req.IfName}
	defer m.lock(key)()
	p := m.Get(key)
	known := p != nil
	if !known { // never attached, or already gone: clean whatever a crashed attempt may have left
		p = &Pod{Key: key, Netns: req.Netns, HostIfName: podnet.HostVethName(key.ContainerID, key.IfName)}
	}
	netns := req.Netns
	if netns == "" {
		netns = p.Netns
	}
	var flowsErr, portErr, vethErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer took.time("port")()
		portErr = m.ports.DeletePort(ctx, m.set.Bridge, p.HostIfName)
	}()
	go func() { // the slowest step: the kernel waits for grace periods before the pair is gone
		defer wg.Done()
		defer took.time("veth")()
		vethErr = podnet.Teardown(netns, key.IfName, p.HostIfName)
	}()
	if known {
		done := took.time("flows")
		flowsErr = m.flows.Delete(ctx, p.owner())
		done()
	}
	// With the pod's flows gone the switch neither delivers to it nor takes from it: its conntrack entries can go
	// while the veth is still being removed.
	if flowsErr == nil && m.set.FlushConntrack != nil && p.IP != nil {
		done := took.time("conntrack")
		err := m.set.FlushConntrack(ctx, p.IP.IP)
		done()
		if err != nil {
			m.log.WithError(err).WithField("pod", p.Ref()).Warn("flushing the conntrack entries of the detached pod")
		}
	}
	wg.Wait()
	switch {
	case flowsErr != nil:
		return apiErr(cnitypes.ErrTryAgainLater, "deleting flows of %s: %v", p.Ref(), flowsErr)
	case portErr != nil:
		return apiErr(cnitypes.ErrTryAgainLater, "deleting OVS port %s: %v", p.HostIfName, portErr)
	case vethErr != nil:
		return apiErr(cnitypes.ErrTryAgainLater, "removing veth %s: %v", p.HostIfName, vethErr)
	}
	done := took.time("ipam")
	err := m.ipam.Release(ipam.Key{ContainerID: key.ContainerID, IfName: key.IfName})
	done()
	if err != nil {
		return apiErr(cnitypes.ErrIOFailure, "releasing the IP of %s: %v", p.Ref(), err)
	}
	m.mu.Lock()
	_, was := m.pods[key]
	delete(m.pods, key)
	m.mu.Unlock()
	if was {
		m.log.WithFields(logrus.Fields{"pod": p.Ref(), "port": p.HostIfName, "took": took.total(), "steps": took.String()}).Info("pod detached")
	}
	return nil
}

// Check verifies an attachment: the agent knows it, its OVS port has an ofport and its interface in the pod is
// as configured.
func (m *Manager) Check(ctx context.Context, req api.CNIRequest) (*api.Attachment, error) {
	key := Key{ContainerID: req.ContainerID, IfName: req.IfName}
	defer m.lock(key)()
	p := m.Get(key)
	if p == nil {
		return nil, apiErr(cnitypes.ErrUnknownContainer, "container %s interface %s is not attached", key.ContainerID, key.IfName)
	}
	if p.OFPort <= 0 {
		return nil, apiErr(cnitypes.ErrInternal, "OVS port %s of %s has no ofport", p.HostIfName, p.Ref())
	}
	if err := podnet.Check(p.Netns, podnet.Config{ContainerID: key.ContainerID, IfName: key.IfName,
		HostIfName: p.HostIfName, IP: p.IP, Gateway: m.set.Node.GatewayIP, MAC: p.MAC, MTU: m.set.MTU}); err != nil {
		return nil, apiErr(cnitypes.ErrInternal, "%s: %v", p.Ref(), err)
	}
	return m.attachment(p), nil
}

// GC detaches every pod of this network that the runtime no longer lists as valid, and releases IPs that no
// attachment holds.
func (m *Manager) GC(ctx context.Context, network string, valid []api.AttachmentKey) ([]api.AttachmentKey, error) {
	keep := map[Key]bool{}
	for _, v := range valid {
		keep[Key{ContainerID: v.ContainerID, IfName: v.IfName}] = true
	}
	var removed []api.AttachmentKey
	var errs []error
	for _, p := range m.List() {
		if p.Network != network || keep[p.Key] {
			continue
		}
		if err := m.Del(ctx, api.CNIRequest{Network: network, ContainerID: p.ContainerID, IfName: p.IfName, Netns: p.Netns}); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, api.AttachmentKey{ContainerID: p.ContainerID, IfName: p.IfName})
	}
	for _, a := range m.ipam.List() {
		k := Key{ContainerID: a.Key.ContainerID, IfName: a.Key.IfName}
		if keep[k] || m.Get(k) != nil {
			continue
		}
		if err := m.Del(ctx, api.CNIRequest{Network: network, ContainerID: k.ContainerID, IfName: k.IfName}); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, api.AttachmentKey{ContainerID: k.ContainerID, IfName: k.IfName})
	}
	return removed, errors.Join(errs...)
}

// Get returns the pod attached under key, or nil.
func (m *Manager) Get(k Key) *Pod {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pods[k]
}

// List returns the attached pods sorted by reference.
func (m *Manager) List() []*Pod {
	m.mu.Lock()
	out := make([]*Pod, 0, len(m.pods))
	for _, p := range m.pods {
		out = append(out, p)
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Ref()+out[i].IfName < out[j].Ref()+out[j].IfName })
	return out
}

// Attachments lists every attachment as the local API reports it.
func (m *Manager) Attachments() []api.Attachment {
	var out []api.Attachment
	for _, p := range m.List() {
		out = append(out, *m.attachment(p))
	}
	return out
}

func (m *Manager) attachment(p *Pod) *api.Attachment {
	return &api.Attachment{HostIfName: p.HostIfName, HostMAC: p.HostMAC.String(), PodIfName: p.IfName, PodMAC: p.MAC.String(), Netns: p.Netns,
		IPCIDR: p.IP.String(), Gateway: m.set.Node.GatewayIP.String(), MTU: m.set.MTU, OFPort: p.OFPort,
		PodNamespace: p.Namespace, PodName: p.Name, ContainerID: p.ContainerID}
}

func (m *Manager) logUndo(p *Pod, what string, err error) {
	if err != nil {
		m.log.WithError(err).WithField("pod", p.Ref()).Errorf("undo after failed ADD: %s", what)
	}
}

// apiErr is an error carrying the CNI error code the plugin will report.
func apiErr(code uint, format string, args ...any) error {
	return cnitypes.NewError(code, fmt.Sprintf(format, args...), "")
}
