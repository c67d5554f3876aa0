package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard-net/switchyard/test/lab/cluster"
	"github.com/switchyard-net/switchyard/test/lab/controlplane"
)

// crossMode is a cross-node lab: key, lab mode, tunnel, description, and the tunnel of its OVS NORMAL baseline
// ("" for the routed one).
type crossMode struct{ key, mode, tunnel, name, baseTunnel string }

// crossModes are the cross-node labs.
var crossModes = []crossMode{
	{"cross-geneve", "encap", "geneve", "Switchyard, cross-node, geneve", "geneve"},
	{"cross-vxlan", "encap", "vxlan", "Switchyard, cross-node, vxlan", "vxlan"},
	{"cross-noencap", "noEncap", "geneve", "Switchyard, cross-node, noEncap", ""},
}

// benchCrossnode brings up a 2-node lab per traffic mode (test/lab/cluster, as `switchyard-lab up` does), puts a
// pod on each node and measures traffic between them, in turn with the mode's OVS NORMAL baseline
// (crossbaseline.go) within each repetition. The lab and the baseline are taken down before the next mode.
func benchCrossnode(ctx context.Context, bins *Binaries, sz Sizes, reps int, logf func(string, ...any)) ([]*PathResult, error) {
	cp := controlplane.DefaultBinDir()
	if missing := controlplane.MissingBinaries(cp); len(missing) > 0 {
		return nil, fmt.Errorf("control plane binaries %v missing in %s: run `make controlplane` (or -only without crossnode)", missing, cp)
	}
	var results []*PathResult
	for _, m := range crossModes {
		rs, err := crossnodeMode(ctx, bins, cp, m, sz, reps, logf)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.key, err)
		}
		results = append(results, rs...)
	}
	return results, nil
}

// crossnodeMode measures one mode: its baseline's result, then Switchyard's.
func crossnodeMode(ctx context.Context, bins *Binaries, cpBin string, m crossMode, sz Sizes, reps int,
	logf func(string, ...any)) (_ []*PathResult, err error) {
	key := m.key
	labName := uniqueName("b")[:6] // at most 6 characters: it prefixes the lab's namespaces (sy<name>-...)
	state := filepath.Join(os.TempDir(), "switchyard-bench-"+labName)
	o := cluster.Options{Name: labName, StateDir: state, Nodes: 2, Mode: m.mode, Tunnel: m.tunnel, Topology: "flat",
		UnderlayCIDR: "192.168.150.0/24", Underlay2: "192.168.151.0/24", ClusterCIDR: "10.240.0.0/16",
		ServiceCIDR: "10.241.0.0/16", BinDir: bins.Dir, CPBinDir: cpBin}
	t0 := time.Now()
	say := func(f string, a ...any) {}
	l, err := cluster.Up(ctx, o, say)
	if err != nil {
		return nil, fmt.Errorf("lab up: %w", err)
	}
	defer func() {
		if derr := l.Down(context.Background(), say); derr != nil && err == nil {
			err = fmt.Errorf("lab down: %w", derr)
		}
	}()
	logf("crossnode %s: lab %s up in %.1f s", key, labName, time.Since(t0).Seconds())
	cs, err := l.Client()
	if err != nil {
		return nil, err
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	var nss, ips [2]string
	for i := range nss {
		pod := fmt.Sprintf("bench-n%d", i+1)
		ip, err := createLabPod(ctx, cs, l, pod, i+1)
		if err != nil {
			return nil, err
		}
		ips[i] = ip
		if nss[i], err = l.PodNetns(ctx, "bench/"+pod); err != nil {
			return nil, err
		}
	}
	p := Path{Key: key, Name: m.name, ClientNS: nss[0], ServerNS: nss[1], ServerIP: ips[1], MTU: linkMTU(nss[0], "eth0")}
	var bc cleanups
	defer bc.run()
	interrupted.add(bc.run)
	base, err := normalCrossPair(ctx, &bc, baselineOf[key], m.baseTunnel, p.MTU)
	if err != nil {
		return nil, fmt.Errorf("OVS NORMAL baseline: %w", err)
	}
	paths := []Path{base, p}
	results := []*PathResult{{Path: base}, {Path: p}}
	for rep := 0; rep < reps; rep++ {
		for i, p := range paths {
			r := results[i]
			if err := measurePath(ctx, p, sz.Duration, r); err != nil {
				return nil, err
			}
			logf("crossnode rep %d %-14s 1 stream %.2f Gbit/s, 4 streams %.2f Gbit/s, %.0f conn/s", rep+1, p.Key,
				r.Gbps1[rep], r.Gbps4[rep], r.CRR[rep])
		}
	}
	return results, nil
}

// createLabPod creates a pod with the lab's built-in server on node i and waits until it is ready; it returns
// the pod's address.
func createLabPod(ctx context.Context, cs kubernetes.Interface, l *cluster.Lab, name string, node int) (string, error) {
	grace := int64(1)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "bench"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "main", Image: "lab/builtin-server",
				Ports: []corev1.ContainerPort{{Name: "tcp", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}},
			NodeSelector:                  map[string]string{"kubernetes.io/hostname": l.Plan.NodeName(node)},
			TerminationGracePeriodSeconds: &grace,
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
	}
	if _, err := cs.CoreV1().Pods("bench").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return "", err
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		p, err := cs.CoreV1().Pods("bench").Get(ctx, name, metav1.GetOptions{})
		if err != nil || p.Status.PodIP == "" || p.Status.Phase != corev1.PodRunning {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return p.Status.PodIP, nil
			}
		}
	}
	return "", fmt.Errorf("pod bench/%s not ready after 2 minutes", name)
}
