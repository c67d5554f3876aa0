package networkpolicy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/switchyard-net/switchyard/agent/events"
	"github.com/switchyard-net/switchyard/agent/kubeclient"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
	"github.com/switchyard-net/switchyard/policy"
)

// FlowStore is what the controller needs from the flows Store.
type FlowStore interface {
	Stage(owner flows.Owner, f []openflow.Flow, g []openflow.Group) error
	Apply(ctx context.Context, changes []flows.OwnerChange) error
}

// LocalPorts finds a pod of this node's attachment: its address and OpenFlow port.
type LocalPorts func(namespace, name string) (ip netip.Addr, ofport uint32, ok bool)

// Config is this node's side of NetworkPolicy.
type Config struct {
	NodeName string
	Resync   time.Duration // informer resync; 0 means 10 minutes
	// PurgeDatapath, if set, is called after every batch of policy flows is installed, to drop the datapath's cached
	// megaflows so that each flow is judged by the new tables (openflow.Client.PurgeDatapathFlows: OVS's own
	// revalidation can leave a Geneve megaflow with its old verdict, docs/networkpolicy.md). A failed purge is retried
	// like a failed bundle.
	PurgeDatapath func(ctx context.Context) error
	// PodGone, if set, is called with each address of a pod of another node (not hostNetwork) that was deleted or
	// ended (Succeeded, Failed), unless a live pod holds the address again. It is called from the informer's
	// goroutine and must not block (package podconntrack queues it).
	PodGone func(ip netip.Addr)
	// DeniedLogging says the node can log denials (the agent set flows.DeniedLogMeter); LogDenied logs every
	// isolated pod's, else only those of policies annotated LogDeniedAnnotation (logdenied.go).
	DeniedLogging, LogDenied bool
	// Events reports policies the agent cannot fully realize (events.go); nil: none.
	Events *events.Recorder
}

// Controller keeps the policy flows of this node in step with the API's NetworkPolicies, Pods and Namespaces.
type Controller struct {
	cfg   Config
	store FlowStore
	ports LocalPorts
	log   logrus.FieldLogger

	model  *policy.Store
	ifac   informers.SharedInformerFactory
	pods   corelisters.PodLister
	byIP   cache.Indexer // live pods by address (podIPIndex)
	synced []cache.InformerSynced
	kick   chan struct{}

	events     atomic.Uint64 // informer events folded into the model
	programmed atomic.Uint64 // events whose flows are on the switch (or that changed none)
	reportKick chan struct{} // a policy changed: report problems now (events.go)

	mu      sync.Mutex
	pending map[string]int // local pods whose port must be looked up (again), with the lookups so far
	staged  bool
	logged  map[policy.PolicyKey]bool // policies asking for their denials to be logged
	relog   bool                      // logged changed: recompute the local pods' drop flows

	purge bool // installed flows that the datapath has not been purged for yet (the worker's)

	comp *compiler // owned by StageAll, then by the worker
}

// New returns a controller watching cs. Call StageAll before the flow store's first Reconcile, then Run.
func New(cfg Config, cs kubernetes.Interface, store FlowStore, ports LocalPorts, log logrus.FieldLogger) (*Controller, error) {
	if store == nil || ports == nil || cfg.NodeName == "" {
		return nil, errors.New("networkpolicy controller needs a flow store, the local ports and the node's name")
	}
	if cfg.Resync == 0 {
		cfg.Resync = 10 * time.Minute
	}
	c := &Controller{cfg: cfg, store: store, ports: ports, log: log, model: policy.NewStore(),
		kick: make(chan struct{}, 1), pending: map[string]int{}, comp: newCompiler(), logged: map[policy.PolicyKey]bool{},
		reportKick: make(chan struct{}, 1)}
	c.comp.logDenied = c.logDenied
	c.ifac = informers.NewSharedInformerFactoryWithOptions(cs, cfg.Resync, informers.WithTransform(kubeclient.StripManagedFields))
	npInf := c.ifac.Networking().V1().NetworkPolicies().Informer()
	podInf := c.ifac.Core().V1().Pods()
	nsInf := c.ifac.Core().V1().Namespaces().Informer()
	c.pods = podInf.Lister()
	if err := podInf.Informer().AddIndexers(cache.Indexers{podIPIndex: livePodIPs}); err != nil {
		return nil, err
	}
	c.byIP = podInf.Informer().GetIndexer()
	c.synced = []cache.InformerSynced{npInf.HasSynced, podInf.Informer().HasSynced, nsInf.HasSynced}
	for _, reg := range []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{npInf, handler(c.counted, c.upsertPolicy, c.deletePolicy)},
		{podInf.Informer(), podHandler(c.counted, c.upsertPod, c.deletePod, c.podGone)},
		{nsInf, handler(c.counted, c.upsertNamespace, c.deleteNamespace)},
	} {
		if _, err := reg.inf.AddEventHandler(reg.h); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// handler adapts typed upsert and delete functions to informer callbacks; done runs after each event.
func handler[T any](done func(), upsert func(T), del func(T)) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { typed(o, upsert, done) },
		UpdateFunc: func(_, o any) { typed(o, upsert, done) },
		DeleteFunc: func(o any) {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			typed(o, del, done)
		},
	}
}

func typed[T any](o any, fn func(T), done func()) {
	if t, ok := o.(T); ok {
		fn(t)
		done()
	}
}

// counted counts an event the model has taken (see Progress) and wakes the worker. The count comes after the
// model's change and before the wake-up: a Sync that reads the count has the change in its delta, and a Sync that
// runs after the wake-up reads the count.
func (c *Controller) counted() {
	c.events.Add(1)
	c.poke()
}

// podHandler is handler for Pods, and also calls gone when a pod is deleted or ends (its address is released).
func podHandler(done func(), upsert, del, gone func(*corev1.Pod)) cache.ResourceEventHandler {
	h := handler(done, upsert, del).(cache.ResourceEventHandlerFuncs)
	return cache.ResourceEventHandlerFuncs{
		AddFunc: h.AddFunc,
		UpdateFunc: func(old, o any) {
			h.UpdateFunc(old, o)
			if op, ok := old.(*corev1.Pod); ok && !ended(op) {
				if p, ok := o.(*corev1.Pod); ok && ended(p) {
					gone(p)
				}
			}
		},
		DeleteFunc: func(o any) {
			h.DeleteFunc(o)
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			if p, ok := o.(*corev1.Pod); ok && !ended(p) {
				gone(p)
			}
		},
	}
}

// ended says whether a pod has ended: its node has released its address.
func ended(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// podIPIndex indexes the live pods of the pod network (not hostNetwork, not ended) by address.
const podIPIndex = "podIP"

func livePodIPs(o any) ([]string, error) {
	p, ok := o.(*corev1.Pod)
	if !ok || p.Spec.HostNetwork || ended(p) {
		return nil, nil
	}
	var ips []string
	for _, a := range podAddrs(p) {
		ips = append(ips, a.String())
	}
	return ips, nil
}

// podAddrs are a pod's valid IPv4 addresses.
func podAddrs(p *corev1.Pod) []netip.Addr {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	add(p.Status.PodIP)
	for _, ip := range p.Status.PodIPs {
		add(ip.IP)
	}
	return out
}

// podGone reports the addresses of a deleted or ended pod of another node to Config.PodGone. A pod of this node
// is left out (CNI DEL flushed its connections here), and so is a hostNetwork pod (its address is its node's).
func (c *Controller) podGone(p *corev1.Pod) {
	if c.cfg.PodGone == nil || p.Spec.HostNetwork || p.Spec.NodeName == c.cfg.NodeName {
		return
	}
	for _, ip := range podAddrs(p) {
		if !c.PodIPInUse(ip) {
			c.cfg.PodGone(ip)
		}
	}
}

// PodIPInUse says whether a live pod (not hostNetwork, not ended) has ip, as far as the informer knows.
func (c *Controller) PodIPInUse(ip netip.Addr) bool {
	objs, err := c.byIP.ByIndex(podIPIndex, ip.String())
	return err == nil && len(objs) > 0
}

func (c *Controller) upsertPolicy(np *networkingv1.NetworkPolicy) {
	if err := c.model.UpsertPolicy(np); err != nil {
		c.log.WithError(err).Warn("networkpolicy has malformed parts; they allow nothing")
	}
	c.noteLogging(np, false)
	c.kickReport()
	c.poke()
}

func (c *Controller) deletePolicy(np *networkingv1.NetworkPolicy) {
	c.model.DeletePolicy(np.Namespace, np.Name)
	c.noteLogging(np, true)
	c.cfg.Events.Forget("NetworkPolicy", np.Namespace, np.Name)
	c.poke()
}

func (c *Controller) upsertPod(p *corev1.Pod) {
	if err := c.model.UpsertPod(p); err != nil {
		c.log.WithError(err).Debug("pod has unusable addresses or ports")
	}
	c.touchLocal(p)
}

func (c *Controller) deletePod(p *corev1.Pod) {
	c.model.DeletePod(p.Namespace, p.Name)
	c.touchLocal(p)
}

// touchLocal queues a local pod for a port lookup.
func (c *Controller) touchLocal(p *corev1.Pod) {
	if p.Spec.NodeName == c.cfg.NodeName && !p.Spec.HostNetwork {
		c.mu.Lock()
		c.pending[p.Namespace+"/"+p.Name] = 0
		c.mu.Unlock()
	}
	c.poke()
}

func (c *Controller) upsertNamespace(ns *corev1.Namespace) {
	c.model.UpsertNamespace(ns)
	c.poke()
}

func (c *Controller) deleteNamespace(ns *corev1.Namespace) {
	c.model.DeleteNamespace(ns.Name)
	c.poke()
}

func (c *Controller) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// StageAll starts the informers, waits until they have listed everything, and stages the policy flows before the
// store's first Reconcile, so that a restarted agent replaces them in place (pods stay isolated throughout).
func (c *Controller) StageAll(ctx context.Context) error {
	c.ifac.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("networkpolicy, pod and namespace informers did not sync: %w", ctx.Err())
	}
	c.resolvePending()
	c.comp.apply(c.model.TakeDelta())
	c.comp.markAll()
	changes := c.comp.changes()
	for _, ch := range changes {
		if ch.Delete {
			continue
		}
		if err := c.store.Stage(ch.Owner, ch.Flows, nil); err != nil {
			return fmt.Errorf("staging policy flows of %s: %w", ch.Owner, err)
		}
	}
	c.comp.clean(changes)
	c.mu.Lock()
	c.staged = true
	c.mu.Unlock()
	st := c.model.Stats()
	c.log.WithFields(logrus.Fields{"policies": st.Policies, "rules": st.Rules, "groups": st.Groups,
		"owners": len(changes)}).Info("networkpolicy flows staged")
	return nil
}

// Run follows the API until ctx ends; call it after the store's first Reconcile.
func (c *Controller) Run(ctx context.Context) error {
	c.mu.Lock()
	staged := c.staged
	c.mu.Unlock()
	if !staged {
		return errors.New("networkpolicy controller: Run before StageAll")
	}
	go c.work(ctx)
	go c.reportLoop(ctx)
	c.poke()
	return nil
}

// work applies every batch of changes as one bundle; a failed bundle is retried with backoff (the owners stay
// dirty, so the retry also carries what changed meanwhile).
func (c *Controller) work(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		if err := c.Sync(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			c.log.WithError(err).Warn("applying policy flows failed; retrying")
			time.AfterFunc(backoff, c.poke)
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
	}
}

// Sync takes the model's changes since the last call and installs them in one bundle, then purges the datapath's
// megaflows (Config.PurgeDatapath).
func (c *Controller) Sync(ctx context.Context) error {
	seen := c.events.Load() // every event counted so far is in the model, so in the delta taken below
	c.resolvePending()
	c.comp.apply(c.model.TakeDelta())
	c.takeRelog()
	if changes := c.comp.changes(); len(changes) > 0 {
		if err := c.store.Apply(ctx, changes); err != nil {
			return err
		}
		c.comp.clean(changes)
		c.purge = true
	}
	if c.purge && c.cfg.PurgeDatapath != nil {
		if err := c.cfg.PurgeDatapath(ctx); err != nil {
			return fmt.Errorf("purging the datapath flows after a policy change: %w", err)
		}
	}
	c.purge = false
	c.programmed.Store(seen)
	return nil
}

// Progress returns how many NetworkPolicy, Pod and Namespace events the controller has received, and how many of
// them have their flows on the switch (or changed none): an event is programmed once the second figure reaches
// the first as it was just after the event. A local pod whose attachment is not yet known counts as programmed
// without its pod flows (they follow its port lookup).
func (c *Controller) Progress() (events, programmed uint64) {
	return c.events.Load(), c.programmed.Load()
}

// maxLookups bounds the port lookups of a local pod whose attachment is missing (about 10 s).
const maxLookups = 20

// resolvePending looks up the ports of the local pods that changed. A pod whose attachment is not found (the
// kubelet reports the address once CNI ADD is done, so this is rare) is looked up again a little later.
func (c *Controller) resolvePending() {
	c.mu.Lock()
	keys := c.pending
	c.pending = map[string]int{}
	c.mu.Unlock()
	retry := false
	for key, tries := range keys {
		ns, name, _ := strings.Cut(key, "/")
		pod, err := c.pods.Pods(ns).Get(name)
		if err != nil || pod.Spec.NodeName != c.cfg.NodeName || pod.Status.PodIP == "" ||
			pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			c.comp.setLocalPod(key, netip.Addr{}, 0)
			continue
		}
		ip, ofport, ok := c.ports(ns, name)
		if !ok {
			c.comp.setLocalPod(key, netip.Addr{}, 0)
			if tries+1 < maxLookups {
				c.mu.Lock()
				if _, again := c.pending[key]; !again {
					c.pending[key] = tries + 1
				}
				c.mu.Unlock()
				retry = true
			}
			continue
		}
		c.comp.setLocalPod(key, ip, ofport)
	}
	if retry {
		time.AfterFunc(500*time.Millisecond, c.poke)
	}
}

// Model is the controller's NetworkPolicy model (for Evaluate and diagnostics).
func (c *Controller) Model() *policy.Store { return c.model }
