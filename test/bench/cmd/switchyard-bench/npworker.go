package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	goruntime "runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/switchyard-net/switchyard/agent/networkpolicy"
	"github.com/switchyard-net/switchyard/agent/networkpolicy/synthetic"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
	"github.com/switchyard-net/switchyard/ovs/privateovs"
)

// NPResult is what one np-worker process measured (JSON on stdout).
type NPResult struct {
	Pods, Policies, Namespaces, LocalPods int
	ColdSeconds                           float64 // StageAll (informers synced, every policy computed and staged) + the first Reconcile
	ColdCPUSeconds                        float64 // user+system CPU of the worker and its ovs-ofctl children during it
	Flows                                 int     // on the bridge afterwards (the pipeline's included)
	PolicyFlows                           int     // flows of the EgressRule and IngressRule tables
	ConjActions                           int     // conjunction() actions in those flows
	RSSMB, PeakRSSMB, VswitchdRSSMB       float64 // as CPResult
	// ChangeMillis: per kind of change (npChangeKinds), the API call to the controller reporting the event
	// programmed (Controller.Progress): informer delivery, model, delta, flows, one bundle applied.
	ChangeMillis map[string][]float64
}

// npChangeKinds are the single changes timed, in the order they run.
var npChangeKinds = []string{"policy update", "policy create", "policy delete", "pod label", "pod add", "pod delete", "namespace label"}

// npWorkerMain programs NetworkPolicy into a private OVS through the agent's own code: the networkpolicy controller
// (agent/networkpolicy: informers on NetworkPolicies, Pods and Namespaces, the policy model, the flow compiler)
// on a fake clientset, and the flows Store over ovs/openflow's bundles, as switchyard-agent wires them
// (agent/policies.go: the datapath's megaflows purged after every change), the local pods' OpenFlow ports coming
// from a table instead of the CNI's attachments.
func npWorkerMain(args []string) error {
	fs := flag.NewFlagSet("np-worker", flag.ContinueOnError)
	npods := fs.Int("pods", 1000, "pods (policies: half as many; see synthetic.ForObjects)")
	nchg := fs.Int("changes", 20, "single changes to time of each kind")
	prof := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	ctx, o, store, done, err := startWorker(fs, args)
	if err != nil {
		return err
	}
	defer done()
	cl := synthetic.ForObjects(*npods)
	nss, pods, nps := cl.Objects()
	ports := &localPorts{m: map[string]localPort{}}
	var objs []runtime.Object
	for _, ns := range nss {
		objs = append(objs, ns)
	}
	for _, p := range pods {
		objs = append(objs, p)
		ports.add(p)
	}
	for _, np := range nps {
		objs = append(objs, np)
	}
	cs := fake.NewClientset(objs...)
	objs = nil
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetLevel(logrus.WarnLevel) // a failed Sync (retried) shows
	r := &NPResult{Pods: cl.Pods, Policies: cl.Policies, Namespaces: cl.Namespaces, LocalPods: len(ports.m),
		ChangeMillis: map[string][]float64{}}
	if err := startProfile(*prof); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	cpu0 := cpuSeconds()
	t0 := time.Now()
	of := openflow.New(openflow.Config{Bridge: "br-int", RunDir: o.RunDir, VswitchdCtl: o.VswitchdCtl(), NativeBundles: true})
	ctl, err := networkpolicy.New(networkpolicy.Config{NodeName: synthetic.LocalNode, PurgeDatapath: of.PurgeDatapathFlows},
		cs, store, ports.lookup, log)
	if err != nil {
		return err
	}
	if err := ctl.StageAll(ctx); err != nil {
		return err
	}
	if err := store.Reconcile(ctx); err != nil {
		return err
	}
	r.ColdSeconds = time.Since(t0).Seconds()
	r.ColdCPUSeconds = cpuSeconds() - cpu0
	if err := ctl.Run(ctx); err != nil {
		return err
	}
	if _, err := waitProgrammed(ctl, 0); err != nil {
		return err
	}
	if r.Flows, r.PolicyFlows, r.ConjActions, err = policyFlowCounts(ctx, o); err != nil {
		return err
	}
	ch := &npChanger{cs: cs, cl: cl, ports: ports, pods: pods}
	for _, kind := range npChangeKinds {
		for i := 0; i < *nchg; i++ {
			ms, err := ch.time(ctx, ctl, kind, i)
			if err != nil {
				return fmt.Errorf("%s %d: %w", kind, i, err)
			}
			r.ChangeMillis[kind] = append(r.ChangeMillis[kind], ms)
		}
	}
	goruntime.GC()
	r.RSSMB, r.PeakRSSMB = procMemMB(os.Getpid())
	r.VswitchdRSSMB, _ = procMemMB(o.VswitchdPID())
	return json.NewEncoder(os.Stdout).Encode(r)
}

// localPort is a local pod's attachment.
type localPort struct {
	ip     netip.Addr
	ofport uint32
}

// localPorts stands in for the agent's attachments: the pods of the local node, OpenFlow ports from 10.
type localPorts struct {
	mu   sync.Mutex
	m    map[string]localPort
	next uint32
}

func (l *localPorts) add(p *corev1.Pod) {
	if p.Spec.NodeName != synthetic.LocalNode {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	l.m[p.Namespace+"/"+p.Name] = localPort{ip: netip.MustParseAddr(p.Status.PodIP), ofport: 9 + l.next}
}

func (l *localPorts) lookup(ns, name string) (netip.Addr, uint32, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.m[ns+"/"+name]
	return p.ip, p.ofport, ok
}

// waitProgrammed waits until the controller has programmed every event after the first `after` (0: every event
// so far, and the store quiet) and returns when that happened.
func waitProgrammed(ctl *networkpolicy.Controller, after uint64) (time.Time, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		events, done := ctl.Progress()
		if events > after && done >= events {
			return time.Now(), nil
		}
		time.Sleep(200 * time.Microsecond)
	}
	events, done := ctl.Progress()
	return time.Time{}, fmt.Errorf("event %d not programmed after 2 minutes (%d events, %d programmed)", after+1, events, done)
}

// npChanger makes the single changes of the benchmark through the API.
type npChanger struct {
	cs    *fake.Clientset
	cl    synthetic.Cluster
	ports *localPorts
	pods  []*corev1.Pod
	added []*corev1.Pod // pods created by "pod add", deleted by "pod delete"
	teams map[int]int   // namespaces moved by "namespace label", to their current team
}

// time makes change i of a kind and returns the milliseconds from the API call to the event programmed.
func (c *npChanger) time(ctx context.Context, ctl *networkpolicy.Controller, kind string, i int) (float64, error) {
	before, done := ctl.Progress()
	if done < before {
		if _, err := waitProgrammed(ctl, 0); err != nil {
			return 0, err
		}
		before, _ = ctl.Progress()
	}
	t0 := time.Now()
	if err := c.change(ctx, kind, i); err != nil {
		return 0, err
	}
	t1, err := waitProgrammed(ctl, before)
	if err != nil {
		return 0, err
	}
	return float64(t1.Sub(t0)) / float64(time.Millisecond), nil
}

// change makes change i of a kind. Objects are picked with a stride, so that changes spread over the cluster.
func (c *npChanger) change(ctx context.Context, kind string, i int) error {
	k := i * 7919
	nw, core := c.cs.NetworkingV1(), c.cs.CoreV1()
	switch kind {
	case "policy update": // one port of a policy changes: every rule keeps its peers
		np := c.cl.Policy(k%c.cl.Policies, int32(81+i%50))
		_, err := nw.NetworkPolicies(np.Namespace).Update(ctx, np, metav1.UpdateOptions{})
		return err
	case "policy create": // a new policy like an existing one: its peers are a team (a third of the pods) and a role
		np := c.cl.Policy(k%c.cl.Policies, int32(1000+i))
		np.Name = fmt.Sprintf("extra%d", i)
		_, err := nw.NetworkPolicies(np.Namespace).Create(ctx, np, metav1.CreateOptions{})
		return err
	case "policy delete":
		np := c.cl.Policy(k%c.cl.Policies, 0)
		return nw.NetworkPolicies(np.Namespace).Delete(ctx, fmt.Sprintf("extra%d", i), metav1.DeleteOptions{})
	case "pod label": // a pod changes app: it leaves one applied-to and peer selection and joins another
		n := k % len(c.pods) // a different pod each time (7919 is prime), from its app to the next
		p := c.pods[n].DeepCopy()
		p.Labels["app"] = fmt.Sprintf("app%d", (n+1)%c.cl.Apps)
		_, err := core.Pods(p.Namespace).Update(ctx, p, metav1.UpdateOptions{})
		return err
	case "pod add": // a new pod (every tenth on this node, with a port) in a selected app
		p := c.cl.Pod(k%c.cl.Pods, i%c.cl.Apps)
		p.Name = fmt.Sprintf("extra%d", i)
		p.Spec.NodeName = fmt.Sprintf("n%d", 1+i%10)
		p.Status.PodIP = fmt.Sprintf("10.99.%d.%d", i/250, 1+i%250)
		p.Status.PodIPs = []corev1.PodIP{{IP: p.Status.PodIP}}
		c.ports.add(p)
		c.added = append(c.added, p)
		_, err := core.Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
		return err
	case "pod delete":
		p := c.added[i%len(c.added)]
		return core.Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
	case "namespace label": // a namespace moves to another team: its pods leave one team's peer group for another
		n := k % c.cl.Namespaces
		if c.teams == nil {
			c.teams = map[int]int{}
		}
		team, ok := c.teams[n]
		if !ok {
			team = n % synthetic.Teams // as synthetic.Cluster.Objects labels it
		}
		c.teams[n] = (team + 1) % synthetic.Teams
		ns := c.cl.Namespace(n, c.teams[n])
		_, err := core.Namespaces().Update(ctx, ns, metav1.UpdateOptions{})
		return err
	}
	return fmt.Errorf("unknown change %q", kind)
}

// policyFlowCounts counts the flows on br-int, those of the policy tables and their conjunction actions.
func policyFlowCounts(ctx context.Context, o *privateovs.OVS) (all, pol, conj int, err error) {
	out, err := o.Ofctl(ctx, "dump-flows", "br-int", "--no-stats")
	if err != nil {
		return 0, 0, 0, err
	}
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "actions=") {
			continue
		}
		all++
		for _, t := range []flows.Table{flows.EgressRule, flows.IngressRule} {
			if strings.Contains(line, " table="+strconv.Itoa(int(t.ID))+",") {
				pol++
				conj += strings.Count(line, "conjunction(")
			}
		}
	}
	return all, pol, conj, nil
}

// runNPWorker runs one np-worker process and decodes its result.
func runNPWorker(ctx context.Context, pods, changes int) (*NPResult, error) {
	return runWorker[NPResult](ctx, "np-worker", "-pods", strconv.Itoa(pods), "-changes", strconv.Itoa(changes))
}
