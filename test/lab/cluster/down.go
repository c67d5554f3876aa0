package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/switchyard-net/switchyard/test/lab/controlplane"
	"github.com/switchyard-net/switchyard/test/lab/proc"
	"github.com/switchyard-net/switchyard/test/lab/topology"
)

// Down removes everything the lab created: pods, kubelets, agents, Open vSwitch instances, the control plane, the
// API forwarder, every namespace and the state directory. It goes on past errors and reports them all.
func (l *Lab) Down(ctx context.Context, say Progress) error { return l.down(ctx, say, false) }

// down is Down; keepLogs keeps the state directory (minus lab.json, so a new `up` may start) for a post-mortem.
func (l *Lab) down(ctx context.Context, say Progress, keepLogs bool) error {
	var errs []error
	for i := 1; i <= l.Options.Nodes; i++ {
		say("stopping %s", l.Plan.NodeName(i))
		if err := l.stopNode(i); err != nil {
			errs = append(errs, err)
		}
	}
	if err := proc.Stop(l.dir("proc"), "api-forward", 5*time.Second); err != nil {
		errs = append(errs, err)
	}
	if _, err := os.Stat(l.ControlPlaneDir()); err == nil {
		say("stopping the control plane")
		if cp, err := controlplane.Attach(l.ControlPlaneDir()); err == nil {
			sctx, cancel := context.WithTimeout(ctx, time.Minute)
			if err := cp.Stop(sctx); err != nil {
				errs = append(errs, err)
			}
			cancel()
		} else {
			errs = append(errs, err)
		}
	}
	say("deleting namespaces")
	if err := removePodNamespaces(l.Plan); err != nil {
		errs = append(errs, err)
	}
	if err := topology.Destroy(l.Plan); err != nil {
		errs = append(errs, err)
	}
	if keepLogs && len(errs) == 0 {
		say("logs kept in %s", l.Options.StateDir)
		return os.Remove(stateFile(l.Options.StateDir))
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(l.Options.StateDir); err != nil {
			errs = append(errs, err)
		}
	} else {
		say("state kept in %s for inspection", l.Options.StateDir)
	}
	return errors.Join(errs...)
}

// removePodNamespaces deletes any pod namespace of the lab that a kubelet did not remove.
func removePodNamespaces(p *topology.Plan) error {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return err
	}
	var errs []error
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		for i := 1; i <= p.Nodes; i++ {
			if strings.HasPrefix(f[0], p.PodNetnsPrefix(i)) {
				if o, err := exec.Command("ip", "netns", "del", f[0]).CombinedOutput(); err != nil {
					errs = append(errs, fmt.Errorf("ip netns del %s: %v: %s", f[0], err, o))
				}
			}
		}
	}
	return errors.Join(errs...)
}
