package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/switchyard-net/switchyard/agent/proxy"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
	"github.com/switchyard-net/switchyard/ovs/privateovs"
)

// CPResult is what one cp-worker process measured (JSON on stdout).
type CPResult struct {
	Services, Endpoints int
	ColdSeconds         float64   // StageAll (informers synced, every Service planned) + the store's first Reconcile
	ColdCPUSeconds      float64   // user+system CPU of the worker and its ovs-ofctl children during the cold start
	Flows, Groups       int       // on the bridge afterwards (dump-flows, dump-groups)
	ResyncSeconds       float64   // after Run: the informers' initial events re-sync every Service (no-op bundles)
	RSSMB, PeakRSSMB    float64   // the worker's VmRSS after programming (after a GC) and VmHWM
	VswitchdRSSMB       float64   // ovs-vswitchd's VmRSS afterwards
	UpdateMillis        []float64 // one endpoint of one Service changes: EndpointSlice update to the bundle applied
	ArrivalSeconds      float64   // Arrivals new Services created while running, until all are programmed
	Arrivals            int
}

// cpWorkerMain programs Services into a private OVS through the agent's own code: the proxy controller
// (agent/proxy: informers, planning, group ids) and the flows Store (flows.NewStore over ovs/openflow's ovs-ofctl
// bundles), exactly as switchyard-agent wires them (agent/services.go), except that the host nftables rules are not
// applied (a no-op HostRules). With -apiserver (what `make bench` runs) the proxy watches a real kube-apiserver
// (cpAPIServer); without it, client-go's fake clientset, whose object tracker holds a second copy of every object
// in this process (quick runs and profiling).
func cpWorkerMain(args []string) error {
	fs := flag.NewFlagSet("cp-worker", flag.ContinueOnError)
	nsvc := fs.Int("services", 100, "Services")
	neps := fs.Int("endpoints", 10, "endpoints per Service")
	nupd := fs.Int("updates", 20, "single-endpoint updates to time")
	narr := fs.Int("arrivals", 20, "Services created while running")
	prof := fs.String("cpuprofile", "", "write a CPU profile of the cold start to this file")
	api := fs.Bool("apiserver", false, "list and watch a real kube-apiserver (the lab's control plane) instead of a fake clientset")
	ctx, o, store, done, err := startWorker(fs, args)
	if err != nil {
		return err
	}
	defer done()
	updates := make(chan flows.Owner, 1024)
	var applied atomic.Int64 // Sets and Deletes the store finished
	store.Observe(func(owner flows.Owner, _ time.Duration, err error) {
		applied.Add(1)
		if err == nil {
			select {
			case updates <- owner:
			default:
			}
		}
	})
	svcCfg := flows.ServiceConfig{Node: cpNode(), SNATZone: flows.DefaultSNATCTZone}
	if err := store.Stage(flows.Owner{Category: flows.Pipeline, Key: "services"}, flows.ServicePipelineFlows(svcCfg), nil); err != nil {
		return err
	}
	var cs kubernetes.Interface
	if *api {
		var stop func()
		if cs, stop, err = cpAPIServer(ctx, *nsvc, *neps); err != nil {
			return err
		}
		defer stop()
	} else {
		var objs []runtime.Object
		for i := 0; i < *nsvc; i++ {
			svc, sl := cpService(i, *neps)
			objs = append(objs, svc, sl)
		}
		cs = fake.NewClientset(objs...)
	}
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetLevel(logrus.ErrorLevel)

	r := &CPResult{Services: *nsvc, Endpoints: *neps}
	if err := startProfile(*prof); err != nil {
		return err
	}
	cpu0 := cpuSeconds()
	t0 := time.Now()
	p, err := proxy.New(proxy.Config{NodeName: "node-1", Services: svcCfg}, cs, store, noHostRules{}, log)
	if err != nil {
		return err
	}
	if err := p.StageAll(ctx); err != nil {
		return err
	}
	if err := store.Reconcile(ctx); err != nil {
		return err
	}
	r.ColdSeconds = time.Since(t0).Seconds()
	r.ColdCPUSeconds = cpuSeconds() - cpu0
	pprof.StopCPUProfile()
	if r.Flows, r.Groups, err = bridgeCounts(ctx, o); err != nil {
		return err
	}
	t1 := time.Now()
	if err := p.Run(ctx); err != nil {
		return err
	}
	// The informers' initial events queue every Service once more after Run; time that pass until the store has
	// been quiet for a second, so that the updates below measure the steady state.
	for last, quiet := applied.Load(), time.Now(); time.Since(quiet) < time.Second; time.Sleep(20 * time.Millisecond) {
		if n := applied.Load(); n != last {
			last, quiet = n, time.Now()
		}
	}
	r.ResyncSeconds = time.Since(t1).Seconds() - 1
	drain(updates)
	for i := 0; i < *nupd; i++ {
		k := (i * 7919) % *nsvc
		ms, err := timeUpdate(ctx, cs, updates, k, i)
		if err != nil {
			return err
		}
		r.UpdateMillis = append(r.UpdateMillis, ms)
	}
	if r.ArrivalSeconds, err = timeArrivals(ctx, cs, p, *nsvc, *narr, *neps); err != nil {
		return err
	}
	r.Arrivals = *narr
	goruntime.GC()
	r.RSSMB, r.PeakRSSMB = procMemMB(os.Getpid())
	r.VswitchdRSSMB, _ = procMemMB(o.VswitchdPID())
	return json.NewEncoder(os.Stdout).Encode(r)
}

// noHostRules stands in for the proxy's nftables rules, which the benchmark does not apply to the machine.
type noHostRules struct{}

func (noHostRules) Apply(context.Context, proxy.HostState) error { return nil }

// startWorker parses a worker's flags and starts its switch: a private OVS with br-int (cpBridge) and a flows
// Store over it with the node pipeline staged. done ends the worker's context (at most 15 minutes) and removes
// everything.
func startWorker(fs *flag.FlagSet, args []string) (context.Context, *privateovs.OVS, *flows.Store, func(), error) {
	if err := fs.Parse(args); err != nil {
		return nil, nil, nil, nil, err
	}
	c := &cleanups{}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	done := func() { cancel(); c.run() }
	o, err := cpBridge(ctx, c)
	if err != nil {
		done()
		return nil, nil, nil, nil, err
	}
	store := flows.NewStore(openflow.New(openflow.Config{Bridge: "br-int", RunDir: o.RunDir, VswitchdCtl: o.VswitchdCtl(),
		NativeBundles: true}))
	if err := store.Stage(flows.Owner{Category: flows.Pipeline, Key: "node"}, flows.PipelineFlows(cpNode()), nil); err != nil {
		done()
		return nil, nil, nil, nil, err
	}
	return ctx, o, store, done, nil
}

// startProfile starts a CPU profile into path, if not empty (pprof.StopCPUProfile ends it).
func startProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return pprof.StartCPUProfile(f)
}

// cpBridge starts a private OVS in its own namespace with br-int (netdev, secure, OpenFlow 1.5) and the gateway
// port at OpenFlow port 2, as the agent creates it.
func cpBridge(ctx context.Context, c *cleanups) (*privateovs.OVS, error) {
	node, err := newNetns(c, "c")
	if err != nil {
		return nil, err
	}
	dir, err := tempDir(c, "sybnc")
	if err != nil {
		return nil, err
	}
	o, err := privateovs.Start(ctx, privateovs.Options{Dir: filepath.Join(dir, "ovs"), Netns: node})
	if err != nil {
		return nil, err
	}
	c.add(func() { _ = o.Stop() })
	return o, o.Vsctl(ctx, "add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev", "fail_mode=secure",
		"protocols=OpenFlow15", "--", "add-port", "br-int", "gw0", "--", "set", "interface", "gw0", "type=internal",
		"ofport_request=2", `mac="0a:58:0a:f4:01:01"`)
}

func cpNode() flows.NodeConfig {
	_, cidr, _ := net.ParseCIDR("10.244.1.0/24")
	mac, _ := net.ParseMAC("0a:58:0a:f4:01:01")
	return flows.NodeConfig{GatewayOFPort: 2, GatewayMAC: mac, GatewayIP: net.IPv4(10, 244, 1, 1).To4(), PodCIDR: cidr,
		CTZone: flows.DefaultCTZone}
}

// cpService is Service i (ClusterIP, one TCP port) and its EndpointSlice with m ready endpoints spread over 100
// nodes, one in ten on this node.
func cpService(i, m int) (*corev1.Service, *discovery.EndpointSlice) {
	name := fmt.Sprintf("svc-%d", i)
	ip := fmt.Sprintf("10.96.%d.%d", i/250, i%250+2) // .1 is the API server's kubernetes Service
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: ip, ClusterIPs: []string{ip},
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}}}}
	sl := &discovery.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "bench", Name: name + "-abc", Labels: map[string]string{discovery.LabelServiceName: name}},
		AddressType: discovery.AddressTypeIPv4,
		Ports:       []discovery.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(8080))}},
	}
	for j := 0; j < m; j++ {
		k := i*m + j
		sl.Endpoints = append(sl.Endpoints, discovery.Endpoint{
			Addresses:  []string{fmt.Sprintf("10.%d.%d.%d", 100+k/65536, k/256%256, k%256)},
			NodeName:   ptr.To(fmt.Sprintf("node-%d", k%100)),
			Conditions: discovery.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)}})
	}
	return svc, sl
}

// timeUpdate changes one endpoint address of Service k and waits until the store has applied that Service's
// bundle: the agent's whole path from the informer event to the flows on the bridge.
func timeUpdate(ctx context.Context, cs kubernetes.Interface, updates chan flows.Owner, k, i int) (float64, error) {
	name := fmt.Sprintf("svc-%d", k)
	sl, err := cs.DiscoveryV1().EndpointSlices("bench").Get(ctx, name+"-abc", metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	sl.Endpoints[i%len(sl.Endpoints)].Addresses = []string{fmt.Sprintf("10.99.%d.%d", i/250%250, i%250+1)}
	want := proxy.Owner("bench/" + name)
	drain(updates)
	t0 := time.Now()
	if _, err := cs.DiscoveryV1().EndpointSlices("bench").Update(ctx, sl, metav1.UpdateOptions{}); err != nil {
		return 0, err
	}
	for {
		select {
		case o := <-updates:
			if o == want {
				return float64(time.Since(t0)) / float64(time.Millisecond), nil
			}
		case <-time.After(30 * time.Second):
			return 0, fmt.Errorf("update of %s not programmed after 30 s", name)
		}
	}
}

// timeArrivals creates n new Services (and slices) while the proxy runs and waits until all are programmed.
func timeArrivals(ctx context.Context, cs kubernetes.Interface, p *proxy.Controller, base, n, m int) (float64, error) {
	before, _ := p.Stats()
	t0 := time.Now()
	for i := base; i < base+n; i++ {
		svc, sl := cpService(i, m)
		if _, err := cs.CoreV1().Services("bench").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return 0, err
		}
		if _, err := cs.DiscoveryV1().EndpointSlices("bench").Create(ctx, sl, metav1.CreateOptions{}); err != nil {
			return 0, err
		}
	}
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if got, _ := p.Stats(); got >= before+n {
			return time.Since(t0).Seconds(), nil
		}
	}
	return 0, fmt.Errorf("%d new Services not programmed after 5 minutes", n)
}

func drain(ch chan flows.Owner) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// bridgeCounts counts the flows and groups on br-int.
func bridgeCounts(ctx context.Context, o *privateovs.OVS) (int, int, error) {
	fl, err := o.Ofctl(ctx, "dump-flows", "br-int", "--no-stats")
	if err != nil {
		return 0, 0, err
	}
	gr, err := o.Ofctl(ctx, "dump-groups", "br-int")
	if err != nil {
		return 0, 0, err
	}
	return strings.Count(fl, "actions="), strings.Count(gr, "group_id="), nil
}

// cpuSeconds is the user+system CPU of this process and its waited-for children.
func cpuSeconds() float64 {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

// procMemMB reads VmRSS and VmHWM of a process in MB.
func procMemMB(pid int) (rss, hwm float64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			hwm = kb / 1024
		}
	}
	return rss, hwm
}

// runCPWorker runs one cp-worker process and decodes its result.
func runCPWorker(ctx context.Context, nsvc, neps, nupd, narr int) (*CPResult, error) {
	return runWorker[CPResult](ctx, "cp-worker", "-apiserver", "-services", strconv.Itoa(nsvc), "-endpoints", strconv.Itoa(neps),
		"-updates", strconv.Itoa(nupd), "-arrivals", strconv.Itoa(narr))
}

// runWorker runs this binary's subcommand and decodes the JSON it prints.
func runWorker[T any](ctx context.Context, sub string, args ...string) (*T, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, append([]string{sub}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v: %s", sub, strings.Join(args, " "), err, stderr.String())
	}
	var r T
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("%s output: %v: %s", sub, err, out)
	}
	return &r, nil
}
