package proxy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/switchyard-net/switchyard/agent/events"
	"github.com/switchyard-net/switchyard/agent/keyqueue"
	"github.com/switchyard-net/switchyard/agent/kubeclient"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// FlowStore is what the proxy needs from the flows Store.
type FlowStore interface {
	Stage(owner flows.Owner, f []openflow.Flow, g []openflow.Group) error
	Set(ctx context.Context, owner flows.Owner, f []openflow.Flow, g []openflow.Group) error
	Delete(ctx context.Context, owner flows.Owner) error
}

// HostRules keeps the host's nftables rules of the Services (NFT in production).
type HostRules interface {
	Apply(ctx context.Context, s HostState) error
}

// Config is this node's side of the proxy.
type Config struct {
	NodeName string
	Services flows.ServiceConfig
	Resync   time.Duration    // informer resync; 0 means 10 minutes
	Workers  int              // parallel Service syncs; 0 means 2
	Events   *events.Recorder // Services that cannot be fully programmed (problems.go); nil: none
}

// Owner is the flow owner of a Service.
func Owner(serviceKey string) flows.Owner {
	return flows.Owner{Category: flows.Service, Key: serviceKey}
}

// Controller keeps the flows of every Service and the host rules in step with the API.
type Controller struct {
	cfg   Config
	store FlowStore
	host  HostRules
	log   logrus.FieldLogger

	ifac     informers.SharedInformerFactory
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	// sliceIndex finds a Service's slices by "namespace/service-name" (byServiceIndex).
	sliceIndex cache.Indexer
	synced     []cache.InformerSynced
	queue      *keyqueue.Queue
	hostKick   chan struct{}

	mu     sync.Mutex
	ids    *groupIDs
	hosts  map[string]HostPlan // service key -> its host plan
	staged bool
	flows  map[string]int                  // service key -> installed flows + groups, for Stats
	lbs    map[string][]flows.LoadBalancer // service key -> its installed load balancers, for View
}

// New returns a proxy watching cs's Services and EndpointSlices. Call StageAll before the flow
// store's first Reconcile, then Run.
func New(cfg Config, cs kubernetes.Interface, store FlowStore, host HostRules, log logrus.FieldLogger) (*Controller, error) {
	if store == nil || host == nil {
		return nil, errors.New("service proxy needs a flow store and host rules")
	}
	if cfg.NodeName == "" {
		return nil, errors.New("service proxy needs the node's name")
	}
	if err := cfg.Services.Validate(); err != nil {
		return nil, fmt.Errorf("service proxy: %w", err)
	}
	if cfg.Resync == 0 {
		cfg.Resync = 10 * time.Minute
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	c := &Controller{cfg: cfg, store: store, host: host, log: log, ids: newGroupIDs(),
		hosts: map[string]HostPlan{}, flows: map[string]int{}, lbs: map[string][]flows.LoadBalancer{}, hostKick: make(chan struct{}, 1),
		queue: keyqueue.New("proxy", "service", log)}
	c.ifac = informers.NewSharedInformerFactoryWithOptions(cs, cfg.Resync, informers.WithTransform(kubeclient.StripManagedFields))
	svcInf := c.ifac.Core().V1().Services()
	sliceInf := c.ifac.Discovery().V1().EndpointSlices()
	c.services, c.slices = svcInf.Lister(), sliceInf.Lister()
	// Slices indexed by their Service, so computing one Service reads only its own slices (a label-selector list
	// scans every slice of the namespace: quadratic in a namespace with thousands of Services).
	if err := sliceInf.Informer().AddIndexers(cache.Indexers{byServiceIndex: sliceServiceKey}); err != nil {
		return nil, fmt.Errorf("service proxy: endpointslice index: %w", err)
	}
	c.sliceIndex = sliceInf.Informer().GetIndexer()
	c.synced = []cache.InformerSynced{svcInf.Informer().HasSynced, sliceInf.Informer().HasSynced}
	if _, err := svcInf.Informer().AddEventHandler(c.queue.Handler(keyqueue.ObjectKey)); err != nil {
		return nil, err
	}
	if _, err := sliceInf.Informer().AddEventHandler(c.queue.Handler(sliceServiceOf)); err != nil {
		return nil, err
	}
	return c, nil
}

// sliceServiceOf is the key of the Service an EndpointSlice belongs to, "" if it names none.
func sliceServiceOf(obj any) string {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	s, ok := obj.(*discovery.EndpointSlice)
	if !ok || s.Labels[discovery.LabelServiceName] == "" {
		return ""
	}
	return s.Namespace + "/" + s.Labels[discovery.LabelServiceName]
}

// StageAll starts the informers, waits until they have listed every Service and EndpointSlice,
// and stages the flows of every Service, before the store's first Reconcile: an agent restart
// then replaces the Services' flows in place.
func (c *Controller) StageAll(ctx context.Context) error {
	c.ifac.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("service and endpointslice informers did not sync: %w", ctx.Err())
	}
	svcs, err := c.services.List(labels.Everything())
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, svc := range svcs {
		key := svc.Namespace + "/" + svc.Name
		p, err := c.compute(key, svc)
		if err != nil {
			c.log.WithError(err).WithField("service", key).Warn("service not staged; its sync retries")
			continue
		}
		c.hosts[key] = p.host
		if len(p.flows)+len(p.groups) == 0 {
			continue
		}
		if err := c.store.Stage(Owner(key), p.flows, p.groups); err != nil {
			return fmt.Errorf("staging flows of service %s: %w", key, err)
		}
		c.flows[key], c.lbs[key] = len(p.flows)+len(p.groups), p.lbs
	}
	c.staged = true
	return nil
}

// Run applies the host rules, then follows Service and EndpointSlice events until ctx ends. Call
// it after the store's first Reconcile.
func (c *Controller) Run(ctx context.Context) error {
	c.mu.Lock()
	staged := c.staged
	c.mu.Unlock()
	if !staged {
		return errors.New("service proxy: Run before StageAll")
	}
	go c.applyHostRules(ctx)
	c.kickHost()
	c.queue.Run(ctx, c.cfg.Workers, c.Sync)
	return nil
}

// Sync makes the flows and host rules of one Service ("namespace/name") match the informers'
// view: one Store.Set (one bundle) with the Service's groups and flows, or a Delete.
func (c *Controller) Sync(ctx context.Context, key string) error {
	svc, err := c.serviceByKey(key)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var gone []uint32
	defer func() { c.ids.release(gone...) }()
	if svc == nil {
		if err := c.store.Delete(ctx, Owner(key)); err != nil {
			return err
		}
		gone = c.ids.forget(key)
		ns, name, _ := cache.SplitMetaNamespaceKey(key)
		c.cfg.Events.Forget("Service", ns, name)
		delete(c.flows, key)
		delete(c.lbs, key)
		c.setHost(key, HostPlan{}, false)
		return nil
	}
	p, err := c.compute(key, svc)
	c.reportProblems(svc, err)
	if err != nil {
		return err
	}
	if len(p.flows)+len(p.groups) == 0 {
		err = c.store.Delete(ctx, Owner(key))
	} else {
		err = c.store.Set(ctx, Owner(key), p.flows, p.groups)
	}
	if err != nil {
		return err
	}
	c.flows[key], c.lbs[key] = len(p.flows)+len(p.groups), p.lbs
	c.setHost(key, p.host, true)
	return nil
}

// computed is one Service's flows, groups and host plan, and the load balancers they come from.
type computed struct {
	flows  []openflow.Flow
	groups []openflow.Group
	lbs    []flows.LoadBalancer
	host   HostPlan
}

// compute plans a Service and turns the plan into flows and groups, allocating group ids. The
// ids of load balancers the Service no longer has are freed after the call (under c.mu, the
// Store has applied the change by then, or the caller failed and retries with the same keys).
func (c *Controller) compute(key string, svc *corev1.Service) (computed, error) {
	objs, err := c.sliceIndex.ByIndex(byServiceIndex, svc.Namespace+"/"+svc.Name)
	if err != nil {
		return computed{}, err
	}
	slices := make([]*discovery.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if es, ok := o.(*discovery.EndpointSlice); ok {
			slices = append(slices, es)
		}
	}
	plan := ComputePlan(svc, slices, c.cfg.NodeName)
	keys := make([]lbKey, len(plan.LBs))
	for i, p := range plan.LBs {
		keys[i] = p.Key
	}
	ids, gone, err := c.ids.assign(key, keys)
	if err != nil {
		return computed{}, err
	}
	c.ids.release(gone...)
	lbs := make([]flows.LoadBalancer, 0, len(plan.LBs))
	for i, p := range plan.LBs {
		p.LB.ID = ids[i]
		if err := c.cfg.Services.ValidateLoadBalancer(p.LB); err != nil {
			return computed{}, fmt.Errorf("service %s port %q: %w", key, p.Key.Port, err)
		}
		lbs = append(lbs, p.LB)
	}
	fl, groups := flows.ServiceFlows(c.cfg.Services, lbs)
	return computed{flows: fl, groups: groups, lbs: lbs, host: plan.Host}, nil
}

func (c *Controller) serviceByKey(key string) (*corev1.Service, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil, err
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return svc, err
}

// setHost records a Service's host plan and kicks the host rule applier if it changed.
func (c *Controller) setHost(key string, p HostPlan, present bool) {
	old, had := c.hosts[key]
	if !present {
		delete(c.hosts, key)
	} else {
		c.hosts[key] = p
	}
	if had != present || !equalHostPlans(old, p) {
		c.kickHost()
	}
}

func equalHostPlans(a, b HostPlan) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func (c *Controller) kickHost() {
	select {
	case c.hostKick <- struct{}{}:
	default:
	}
}

// applyHostRules applies the merged host state after every change, coalescing bursts; a failure
// is retried after a second.
func (c *Controller) applyHostRules(ctx context.Context) {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.hostKick:
		case <-retry.C:
		}
		c.mu.Lock()
		state := hostState(c.hosts)
		c.mu.Unlock()
		if err := c.host.Apply(ctx, state); err != nil {
			c.log.WithError(err).Warn("service host rules; retrying")
			retry.Reset(time.Second)
		}
	}
}

// Stats reports the number of Services with flows and their flows plus groups.
func (c *Controller) Stats() (services, flowsAndGroups int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.flows {
		if n > 0 {
			services++
			flowsAndGroups += n
		}
	}
	return services, flowsAndGroups
}

// byServiceIndex indexes EndpointSlices by "namespace/<kubernetes.io/service-name label>".
const byServiceIndex = "service"

func sliceServiceKey(obj any) ([]string, error) {
	es, ok := obj.(*discovery.EndpointSlice)
	if !ok {
		return nil, nil
	}
	name := es.Labels[discovery.LabelServiceName]
	if name == "" {
		return nil, nil
	}
	return []string{es.Namespace + "/" + name}, nil
}
