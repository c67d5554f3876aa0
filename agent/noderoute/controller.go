package noderoute

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/switchyard-net/switchyard/agent/keyqueue"
	"github.com/switchyard-net/switchyard/agent/kubeclient"
	"github.com/switchyard-net/switchyard/agent/snat"
	"github.com/switchyard-net/switchyard/agent/transport"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// FlowStore is what the controller needs from the flows Store.
type FlowStore interface {
	Stage(owner flows.Owner, f []openflow.Flow, g []openflow.Group) error
	Set(ctx context.Context, owner flows.Owner, f []openflow.Flow, g []openflow.Group) error
	Delete(ctx context.Context, owner flows.Owner) error
}

// TunnelNeighbors seeds OVS's tunnel neighbour cache (netdev datapath).
type TunnelNeighbors interface {
	Set(ctx context.Context, ip net.IP, mac net.HardwareAddr) error
}

// SNAT keeps the masquerade rules (nil: SNAT is off).
type SNAT interface {
	Apply(ctx context.Context, r snat.Rules) error
}

// Config is this node's side of the decision.
type Config struct {
	NodeName string
	Mode     string // ModeEncap, ModeNoEncap or ModeHybrid
	// Node is the node's pipeline configuration (gateway, pod CIDR).
	Node flows.NodeConfig
	// TunnelOFPort is the flow-based tunnel port (encap and hybrid).
	TunnelOFPort uint32
	// Transport is this node's transport address with its subnet's prefix (hybrid decides on it; nil in
	// standalone use means every peer is encapsulated in hybrid mode).
	Transport *net.IPNet
	// GatewayName is the gateway interface (the SNAT rules never masquerade traffic into it).
	GatewayName string
	// Resync is the informer's resync period: every peer is synced again (and its tunnel neighbour re-seeded).
	Resync time.Duration
}

// Deps are the controller's effects; tests replace them.
type Deps struct {
	Flows  FlowStore
	Routes HostRoutes
	// Neighbors, if set, seeds the tunnel neighbour cache for encapsulated peers on the transport subnet with the
	// peer's physical bridge MAC (netdev datapath).
	Neighbors TunnelNeighbors
	SNAT      SNAT
}

// Controller keeps the flows, routes and tunnel neighbours of every peer node.
type Controller struct {
	cfg    Config
	deps   Deps
	log    logrus.FieldLogger
	ifac   informers.SharedInformerFactory
	nodes  corelisters.NodeLister
	synced cache.InformerSynced
	queue  *keyqueue.Queue

	mu     sync.Mutex
	peers  map[string]*Peer // applied (or staged) peers
	staged bool
}

// New returns a controller watching cs's Nodes. Call Start, then Stage before the flow store's first Reconcile,
// then Run.
func New(cfg Config, cs kubernetes.Interface, deps Deps, log logrus.FieldLogger) (*Controller, error) {
	if deps.Flows == nil || deps.Routes == nil {
		return nil, errors.New("node route controller needs a flow store and host routes")
	}
	switch cfg.Mode {
	case ModeEncap, ModeNoEncap, ModeHybrid:
	default:
		return nil, fmt.Errorf("node route controller: unknown traffic mode %q", cfg.Mode)
	}
	if cfg.Resync == 0 {
		cfg.Resync = 5 * time.Minute
	}
	c := &Controller{cfg: cfg, deps: deps, log: log, peers: map[string]*Peer{}, queue: keyqueue.New("noderoute", "node", log)}
	c.ifac = informers.NewSharedInformerFactoryWithOptions(cs, cfg.Resync, informers.WithTransform(kubeclient.StripManagedFields))
	inf := c.ifac.Core().V1().Nodes()
	c.nodes, c.synced = inf.Lister(), inf.Informer().HasSynced
	if _, err := inf.Informer().AddEventHandler(c.queue.Handler(keyqueue.ObjectKey)); err != nil {
		return nil, err
	}
	return c, nil
}

// Start starts the informer and waits until it has listed every Node.
func (c *Controller) Start(ctx context.Context) error {
	c.ifac.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return fmt.Errorf("node informer did not sync: %w", ctx.Err())
	}
	return nil
}

// Node returns a Node from the informer's cache.
func (c *Controller) Node(name string) (*corev1.Node, error) { return c.nodes.Get(name) }

// Stage stages the flows of every peer the informer knows, before the store's first Reconcile, so that an agent
// restart replaces the peers' flows in place instead of removing and re-adding them.
func (c *Controller) Stage() error {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range nodes {
		p, err := c.peerOf(n)
		if err != nil || p == nil {
			c.logSkip(n.Name, err)
			continue
		}
		if err := c.deps.Flows.Stage(Owner(p.Name), c.peerFlows(p), nil); err != nil {
			return fmt.Errorf("staging flows of node %s: %w", p.Name, err)
		}
		c.peers[p.Name] = p
		c.log.WithFields(logrus.Fields{"node": p.Name, "nodeIP": p.NodeIP, "podCIDRs": p.PodCIDRs, "encap": p.Encap}).
			Info("peer node staged")
	}
	c.staged = true
	return nil
}

// Run applies the host side of every staged peer, removes routes and neighbour entries of nodes that are gone, and
// then follows Node events until ctx ends. Call it after the store's first Reconcile.
func (c *Controller) Run(ctx context.Context) error {
	c.mu.Lock()
	if !c.staged {
		c.mu.Unlock()
		return errors.New("node route controller: Run before Stage")
	}
	desired := c.peerList()
	c.mu.Unlock()
	var errs []error
	for _, p := range desired {
		if err := c.deps.Routes.Ensure(p); err != nil {
			errs = append(errs, err) // the first sync of the node retries
		}
		c.seedNeighbor(ctx, p)
	}
	if err := c.deps.Routes.Prune(desired); err != nil {
		errs = append(errs, err)
	}
	if err := c.applySNAT(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		c.log.WithError(err).Warn("host routes of peer nodes: retrying per node")
	}
	c.queue.Run(ctx, 1, c.sync)
	return nil
}

// Peers lists the applied peers, sorted by name.
func (c *Controller) Peers() []Peer {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Peer
	for _, p := range c.peerList() {
		out = append(out, *p)
	}
	return out
}

func (c *Controller) peerList() []*Peer {
	out := make([]*Peer, 0, len(c.peers))
	for _, p := range c.peers {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// sync makes the flows, routes and tunnel neighbour of one node match its Node object (or its absence).
func (c *Controller) sync(ctx context.Context, name string) error {
	var want *Peer
	n, err := c.nodes.Get(name)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return err
	default:
		want, err = c.peerOf(n)
		if err != nil || want == nil {
			c.logSkip(name, err)
			want = nil
		}
	}
	c.mu.Lock()
	old := c.peers[name]
	c.mu.Unlock()
	if want == nil {
		if err := c.remove(ctx, old, name); err != nil {
			return err
		}
	} else if err := c.apply(ctx, old, want); err != nil {
		return err
	}
	return c.applySNAT(ctx)
}

// apply installs want's flows (only the difference to old reaches the bridge), then its routes, then removes what
// old had and want does not.
func (c *Controller) apply(ctx context.Context, old, want *Peer) error {
	if err := c.deps.Flows.Set(ctx, Owner(want.Name), c.peerFlows(want), nil); err != nil {
		return err
	}
	c.mu.Lock()
	c.peers[want.Name] = want
	c.mu.Unlock()
	if err := c.deps.Routes.Ensure(want); err != nil {
		return err
	}
	if err := c.deps.Routes.Remove(old, want); err != nil {
		return err
	}
	c.seedNeighbor(ctx, want)
	if !old.Equal(want) {
		c.log.WithFields(logrus.Fields{"node": want.Name, "nodeIP": want.NodeIP, "podCIDRs": want.PodCIDRs,
			"encap": want.Encap}).Info("peer node programmed")
	}
	return nil
}

// remove deletes a peer's routes first (the host stops sending to it), then its flows.
func (c *Controller) remove(ctx context.Context, old *Peer, name string) error {
	if err := c.deps.Routes.Remove(old, nil); err != nil {
		return err
	}
	if err := c.deps.Flows.Delete(ctx, Owner(name)); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.peers, name)
	c.mu.Unlock()
	if old != nil {
		c.log.WithField("node", name).Info("peer node removed")
	}
	return nil
}

// peerOf computes the peer of a Node; nil (without error) for this node itself and for nodes that have no pod CIDR
// or transport address yet.
func (c *Controller) peerOf(n *corev1.Node) (*Peer, error) {
	if n.Name == c.cfg.NodeName {
		return nil, nil
	}
	cidrs, err := PodCIDRs(n)
	if err != nil {
		return nil, err
	}
	if len(cidrs) == 0 {
		return nil, nil
	}
	v6 := c.cfg.Transport != nil && c.cfg.Transport.IP.To4() == nil
	ip := NodeIP(n, v6)
	if ip == nil {
		return nil, nil
	}
	p := &Peer{Name: n.Name, NodeIP: ip, PodCIDRs: cidrs, Encap: Decide(c.cfg.Mode, c.cfg.Transport, ip)}
	if err := c.cfg.Node.ValidatePeer(c.spec(p)); err != nil {
		return nil, fmt.Errorf("node %s: %w", n.Name, err)
	}
	return p, nil
}

func (c *Controller) logSkip(name string, err error) {
	if err != nil {
		c.log.WithError(err).WithField("node", name).Warn("ignoring peer node")
	} else if name != c.cfg.NodeName {
		c.log.WithField("node", name).Debug("peer node has no pod CIDR or InternalIP yet")
	}
}

func (c *Controller) spec(p *Peer) flows.PeerSpec {
	return flows.PeerSpec{NodeIP: p.NodeIP, PodCIDRs: p.PodCIDRs, Tunnel: p.Encap, TunnelOFPort: c.cfg.TunnelOFPort}
}

func (c *Controller) peerFlows(p *Peer) []openflow.Flow {
	return flows.PeerFlows(c.cfg.Node, c.spec(p))
}

// seedNeighbor pre-seeds OVS's tunnel neighbour cache with the peer's physical bridge MAC, for encapsulated peers
// on the transport subnet (a peer behind a router is reached through the router's MAC, which OVS learns itself).
func (c *Controller) seedNeighbor(ctx context.Context, p *Peer) {
	if c.deps.Neighbors == nil || !p.Encap || c.cfg.Transport == nil || !c.cfg.Transport.Contains(p.NodeIP) {
		return
	}
	if err := c.deps.Neighbors.Set(ctx, p.NodeIP, transport.PhysicalBridgeMAC(p.NodeIP)); err != nil {
		c.log.WithError(err).WithField("node", p.Name).Warn("seeding the tunnel neighbour cache (the first packet may be lost)")
	}
}

// applySNAT exempts every node's pod CIDRs and addresses from masquerading.
func (c *Controller) applySNAT(ctx context.Context) error {
	if c.deps.SNAT == nil {
		return nil
	}
	r := snat.Rules{LocalPodCIDR: c.cfg.Node.PodCIDR, Gateway: c.cfg.GatewayName}
	if c.cfg.Transport != nil {
		r.NodeIPs = append(r.NodeIPs, c.cfg.Transport.IP)
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing nodes for the SNAT rules: %w", err)
	}
	for _, n := range nodes {
		cidrs, _ := PodCIDRs(n)
		r.PodCIDRs = append(r.PodCIDRs, cidrs...)
		for _, a := range n.Status.Addresses {
			if ip := net.ParseIP(a.Address); ip != nil && (a.Type == corev1.NodeInternalIP || a.Type == corev1.NodeExternalIP) {
				r.NodeIPs = append(r.NodeIPs, ip)
			}
		}
	}
	return c.deps.SNAT.Apply(ctx, r)
}
