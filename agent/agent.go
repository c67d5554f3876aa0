// Package agent is the switchyard-agent: it wires OVSDB, the OpenFlow pipeline, IPAM and the pods on this node
// together, and serves the local API the CNI plugin and yardctl use.
package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard-net/switchyard/agent/apiserver"
	"github.com/switchyard-net/switchyard/agent/cniconf"
	"github.com/switchyard-net/switchyard/agent/config"
	"github.com/switchyard-net/switchyard/agent/events"
	"github.com/switchyard-net/switchyard/agent/gateway"
	"github.com/switchyard-net/switchyard/agent/ipam"
	"github.com/switchyard-net/switchyard/agent/kubeclient"
	"github.com/switchyard-net/switchyard/agent/metrics"
	"github.com/switchyard-net/switchyard/agent/networkpolicy"
	"github.com/switchyard-net/switchyard/agent/nodeinfo"
	"github.com/switchyard-net/switchyard/agent/noderoute"
	"github.com/switchyard-net/switchyard/agent/podconntrack"
	"github.com/switchyard-net/switchyard/agent/pods"
	"github.com/switchyard-net/switchyard/agent/proxy"
	"github.com/switchyard-net/switchyard/agent/snat"
	"github.com/switchyard-net/switchyard/agent/transport"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
	"github.com/switchyard-net/switchyard/ovs/ovsdb"
	"github.com/switchyard-net/switchyard/ovs/unixctl"
)

// pipelineOwner owns the node's static flows.
var pipelineOwner = flows.Owner{Category: flows.Pipeline, Key: "node"}

// Agent is one node's agent.
type Agent struct {
	cfg config.Config
	log logrus.FieldLogger

	db    *ovsdb.Client
	of    *openflow.Client
	store *flows.Store
	pods  *pods.Manager
	node  flows.NodeConfig

	kube      kubernetes.Interface      // nil in standalone use (podCIDR configured, no kubeconfig)
	transport *transport.Interface      // nil if there is none (standalone use without a route)
	peers     *noderoute.Controller     // nil in standalone use
	proxy     *proxy.Controller         // nil in standalone use
	policies  *networkpolicy.Controller // nil in standalone use
	snat      *snat.Masquerade

	podConntrack  *podconntrack.Flusher // flushes deleted remote pods' connections; nil in standalone use
	ctCtl         *unixctl.Client       // podConntrack's connection to ovs-vswitchd; nil in standalone use
	deniedLogging bool                  // the meter of logged denials is set (deniedlog.go)
	events        *events.Recorder      // Events on objects the agent cannot fully realize; nil in standalone use

	metrics *metrics.Metrics

	mu        sync.Mutex
	ready     bool
	notReady  string
	remoteAPI string // where the remote API listens, or "off: why" (yardctl status)
}

// Run starts the agent and blocks until ctx is cancelled. The local API answers from the first moment (CNI
// requests get "try again later" until the node is set up); the CNI conflist is written once the agent is ready,
// which is what tells the container runtime that the node's network is up.
func Run(ctx context.Context, cfg config.Config, log logrus.FieldLogger) error {
	a := &Agent{cfg: cfg, log: log, notReady: "starting", snat: &snat.Masquerade{}}
	srv, err := apiserver.Listen(cfg.APISocket, a, log.WithField("component", "api"))
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	a.metrics = metrics.New(a)
	srv.ObserveCNI(a.metrics.ObserveCNI)
	go func() { serveErr <- srv.Serve() }()
	if cfg.MetricsAddress != "" {
		go func() {
			if err := a.metrics.Serve(ctx, cfg.MetricsAddress, a); err != nil {
				serveErr <- fmt.Errorf("metrics on %s: %w", cfg.MetricsAddress, err)
			}
		}()
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		if a.db != nil {
			a.db.Close()
		}
		if a.of != nil {
			a.of.Close()
		}
		if a.ctCtl != nil {
			a.ctCtl.Close()
		}
		a.events.Stop()
	}()

	if err := a.start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		log.Info("stopping; flows stay installed so pods keep working until the next agent starts")
		return nil
	case err := <-serveErr:
		return fmt.Errorf("local API: %w", err)
	}
}

// start brings the node up, in order: OVSDB, pod CIDR, transport interface (and MTU), bridge, gateway, tunnel port,
// the pods OVSDB remembers, the peer nodes, the full flow reconcile, the host side of the peers and SNAT, and finally
// readiness and the CNI conflist.
func (a *Agent) start(ctx context.Context) error {
	t0 := time.Now()
	a.setNotReady("connecting to OVSDB at " + a.cfg.OVSDBEndpoint)
	db, err := ovsdb.Connect(ctx, a.cfg.OVSDBEndpoint, a.log.WithField("component", "ovsdb"))
	if err != nil {
		return err
	}
	a.db = db
	if a.cfg.DatapathType == config.DatapathNetdev {
		if _, err := transport.ReleaseFlowRestoreWait(ctx, db, a.cfg.PhysicalBridge, a.log.WithField("component", "transport")); err != nil {
			return err
		}
	}

	a.setNotReady("waiting for the node's pod CIDR")
	podCIDR, err := a.podCIDR(ctx)
	if err != nil {
		return err
	}

	if a.kube != nil {
		a.events = events.New(a.kube, a.cfg.NodeName)
	}

	a.setNotReady("setting up the transport interface")
	if err := a.setupTransport(ctx); err != nil {
		return err
	}

	a.setNotReady("setting up bridge " + a.cfg.Bridge)
	names := map[uint8]string{}
	for _, t := range flows.Tables() {
		names[t.ID] = t.Name
	}
	if err := db.EnsureBridge(ctx, ovsdb.BridgeSpec{Name: a.cfg.Bridge, DatapathType: a.cfg.DatapathType,
		TableNames: names, ExternalIDs: map[string]string{"switchyard.io/owner": "switchyard"}}); err != nil {
		return err
	}
	if err := db.WaitVswitchd(ctx); err != nil {
		return fmt.Errorf("ovs-vswitchd did not apply bridge %s: %w", a.cfg.Bridge, err)
	}
	gw, err := gateway.Ensure(ctx, db, a.cfg.Bridge, a.cfg.GatewayName, podCIDR, a.cfg.MTU)
	if err != nil {
		return err
	}
	a.node = flows.NodeConfig{GatewayOFPort: uint32(gw.OFPort), GatewayMAC: gw.MAC, GatewayIP: gw.IP,
		PodCIDR: podCIDR, CTZone: uint16(a.cfg.CTZone)}
	if err := a.node.Validate(); err != nil {
		return err
	}
	if err := a.ensureTunnel(ctx); err != nil {
		return err
	}

	vswitchdCtl := a.cfg.VswitchdCtl
	a.of = openflow.New(openflow.Config{Bridge: a.cfg.Bridge, RunDir: a.cfg.OVSRunDir, VswitchdCtl: vswitchdCtl,
		PrestartBundles: true, NativeBundles: true})
	if err := a.waitOpenFlow(ctx); err != nil {
		return err
	}
	a.store = flows.NewStore(a.of)
	a.store.Observe(func(o flows.Owner, took time.Duration, err error) {
		a.metrics.ObserveProgramming(strings.ToLower(o.Category.String()), took, err)
	})

	alloc, err := ipam.New(filepath.Join(a.cfg.StateDir, "ipam"), a.cfg.NetworkName, podCIDR)
	if err != nil {
		return err
	}
	for _, s := range alloc.Stale() {
		a.log.WithFields(logrus.Fields{"ip": s.IP, "container": s.Key.ContainerID}).Warn("IPAM allocation outside the pod CIDR; CNI GC or DEL will release it")
	}
	txChecksumOff, err := podTxChecksumOff(a.cfg.DatapathType, a.cfg.TrafficMode, db.UserspaceTSO())
	if err != nil {
		return err
	}
	a.pods = pods.NewManager(pods.Settings{Bridge: a.cfg.Bridge, Network: a.cfg.NetworkName, MTU: a.cfg.MTU,
		TxChecksumOff: txChecksumOff, Node: a.node, FlushConntrack: a.flushConntrack,
		PortAdded: a.of.WatchPortAdded}, alloc, db, a.store,
		a.log.WithField("component", "pods"))

	a.setNotReady("reconciling flows")
	var records []pods.PortRecord
	for _, p := range db.Ports(a.cfg.Bridge) {
		records = append(records, pods.PortRecord{Name: p.Name, OFPort: p.Ofport, MACInUse: p.MACInUse, ExternalIDs: p.ExternalIDs})
	}
	for _, err := range a.pods.Restore(records) {
		a.log.WithError(err).Warn("skipping a damaged pod record in OVSDB")
	}
	a.followVswitchdOffloads() // pods attached under an earlier vswitchd
	if err := a.store.Stage(pipelineOwner, flows.PipelineFlows(a.node), nil); err != nil {
		return err
	}
	a.setNotReady("staging the flows of peer nodes")
	if err := a.stageCrossNode(ctx); err != nil {
		return err
	}
	a.setNotReady("staging Service flows")
	if err := a.stageServices(ctx); err != nil {
		return err
	}
	a.deniedLogging = a.setDeniedLogMeter(ctx)
	a.setNotReady("staging NetworkPolicy flows")
	if err := a.stagePolicies(ctx); err != nil {
		return err
	}
	a.setNotReady("reconciling flows")
	tr := time.Now()
	if err := a.store.Reconcile(ctx); err != nil {
		return fmt.Errorf("reconciling flows: %w", err)
	}
	if err := db.SetFlowRestoreWait(ctx, false); err != nil {
		return err
	}
	a.log.WithFields(logrus.Fields{"pods": len(a.pods.List()), "flows": a.store.FlowCount(),
		"reconcile": time.Since(tr).Round(time.Millisecond)}).Info("flows reconciled")
	a.metrics.SetReconcile(time.Since(tr))
	if err := a.runServices(ctx); err != nil {
		return err
	}
	if err := a.runPolicies(ctx); err != nil {
		return err
	}
	a.runDeniedLog(ctx)
	if err := a.runCrossNode(ctx); err != nil {
		return err
	}

	if err := cniconf.Write(a.cfg.CNIConfDir, a.cfg.CNIConfName, cniconf.New(a.cfg.NetworkName, a.cfg.APISocket)); err != nil {
		return fmt.Errorf("writing the CNI conflist: %w", err)
	}
	go a.watchVswitchd(ctx, 250*time.Millisecond)
	a.startRemoteAPI(ctx)
	a.mu.Lock()
	a.ready, a.notReady = true, ""
	a.mu.Unlock()
	a.log.WithFields(logrus.Fields{"node": a.cfg.NodeName, "podCIDR": podCIDR, "gateway": gw.IP,
		"took": time.Since(t0).Round(time.Millisecond)}).Info("agent ready")
	return nil
}

// flushConntrack removes a detached pod's connections from the pipeline's and the Service SNAT's conntrack zones.
func (a *Agent) flushConntrack(ctx context.Context, ip net.IP) error {
	return a.of.FlushConntrack(ctx, ip, uint16(a.cfg.CTZone), uint16(a.cfg.SNATCTZone))
}

// podCIDR comes from the configuration (standalone use) or the Node object.
func (a *Agent) podCIDR(ctx context.Context) (*net.IPNet, error) {
	if a.cfg.PodCIDR != "" {
		_, n, err := net.ParseCIDR(a.cfg.PodCIDR)
		return n, err
	}
	rc, err := kubeclient.Config(a.cfg.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("%w (set kubeconfig, or podCIDR for standalone use)", err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	a.kube = cs
	return nodeinfo.WaitPodCIDR(ctx, cs, a.cfg.NodeName, a.log)
}

// waitOpenFlow waits until vswitchd has created the bridge's management socket.
func (a *Agent) waitOpenFlow(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := a.of.Connected(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("bridge %s does not answer OpenFlow: %w", a.cfg.Bridge, errors.Join(err, ctx.Err()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (a *Agent) setNotReady(why string) {
	a.mu.Lock()
	a.notReady = why
	a.mu.Unlock()
	a.log.Info(why)
}
