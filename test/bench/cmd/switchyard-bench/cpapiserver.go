package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard-net/switchyard/agent/kubeclient"
	"github.com/switchyard-net/switchyard/test/lab/controlplane"
)

// cpAPIServer starts a real Kubernetes control plane (etcd, kube-apiserver and the controllers, from the lab's
// build) in a namespace of its own, creates namespace "bench" and the objects, and returns a clientset for it. The
// worker's proxy then lists and watches a real API server, so its memory is the agent's own: no second copy of
// every object in a fake clientset's tracker. What creating the objects allocated is returned to the OS and the
// peak-RSS mark is reset before the measurement starts. stop stops the control plane and removes its namespace.
func cpAPIServer(ctx context.Context, nsvc, neps int) (_ kubernetes.Interface, stop func(), err error) {
	c := &cleanups{}
	defer func() {
		if err != nil {
			c.run()
		}
	}()
	bin := os.Getenv("SWITCHYARD_CONTROLPLANE_BIN")
	if bin == "" {
		bin = controlplane.DefaultBinDir()
	}
	if missing := controlplane.MissingBinaries(bin); len(missing) > 0 {
		return nil, nil, fmt.Errorf("control plane binaries %v missing in %s: run `make controlplane`", missing, bin)
	}
	netns, err := newNetns(c, "a")
	if err != nil {
		return nil, nil, err
	}
	dir, err := tempDir(c, "sybapi")
	if err != nil {
		return nil, nil, err
	}
	cp, err := controlplane.Start(ctx, controlplane.Config{Dir: filepath.Join(dir, "cp"), BinDir: bin, Netns: netns,
		AdvertiseIP: "127.0.0.1", ServiceCIDR: "10.96.0.0/16", ClusterCIDR: "10.244.0.0/16"})
	if err != nil {
		return nil, nil, err
	}
	c.add(func() { _ = cp.Stop(context.WithoutCancel(ctx)) })
	rc := kubeclient.WithProtobuf(cp.RESTConfig()) // as the agent's client
	rc.QPS, rc.Burst = -1, 0                       // no client-side rate limit while loading
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, err
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}},
		metav1.CreateOptions{}); err != nil {
		return nil, nil, err
	}
	if err := createServices(ctx, cs, nsvc, neps); err != nil {
		return nil, nil, err
	}
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil { // reset VmHWM
		return nil, nil, fmt.Errorf("resetting the peak RSS mark: %w", err)
	}
	return cs, c.run, nil
}

// createServices creates Services 0..n-1 and their EndpointSlices (cpService) with 8 workers.
func createServices(ctx context.Context, cs kubernetes.Interface, n, m int) error {
	next := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				svc, sl := cpService(i, m)
				if _, err := cs.CoreV1().Services("bench").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
					errs <- fmt.Errorf("creating Service %s: %w", svc.Name, err)
					return
				}
				if _, err := cs.DiscoveryV1().EndpointSlices("bench").Create(ctx, sl, metav1.CreateOptions{}); err != nil {
					errs <- fmt.Errorf("creating EndpointSlice %s: %w", sl.Name, err)
					return
				}
			}
		})
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil && len(errs) > 0 {
		err = <-errs
	}
	return err
}
