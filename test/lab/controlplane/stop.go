package controlplane

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// stopGrace is how long each process gets between SIGTERM and SIGKILL.
const stopGrace = 10 * time.Second

// Stop shuts the control plane down: kube-scheduler, kube-controller-manager, kube-apiserver, and etcd last
// (an apiserver whose etcd is gone hangs on shutdown). Each gets SIGTERM, then SIGKILL after 10 s. Stop returns
// once every process is gone; it leaves Dir for the caller to remove. Only processes whose pidfile is in Dir and
// whose command line names Dir are signalled. Stopping a stopped control plane is not an error.
func (c *ControlPlane) Stop(ctx context.Context) error {
	began := time.Now()
	var errs []error
	for _, name := range slices.Backward(processes) {
		p, ok := c.procs[name]
		if !ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", name, err))
			continue
		}
		t := time.Now()
		signalled, err := p.stop(c.cfg.Dir, c.cfg.BinDir, stopGrace, c.cfg.logf)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		delete(c.procs, name)
		if signalled {
			c.cfg.logf("control plane: stopped %s (pid %d) in %s", name, p.pid, since(t))
		} else {
			c.cfg.logf("control plane: %s (pid %d) was not running", name, p.pid)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop control plane in %s: %w", c.cfg.Dir, err)
	}
	c.cfg.logf("control plane: stopped in %s", since(began))
	return nil
}

// Running checks that every process of the control plane is alive and the apiserver's /readyz is ok, and
// returns an error naming what is not.
func (c *ControlPlane) Running() error {
	var errs []error
	for _, name := range processes {
		p, ok := c.procs[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: no pidfile in %s", name, c.cfg.Dir))
		case !p.alive(c.cfg.Dir, c.cfg.BinDir):
			errs = append(errs, fmt.Errorf("%s (pid %d) is not running; see %s", name, p.pid, c.LogFile(name)))
		}
	}
	if len(errs) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.readyz(ctx); err != nil {
			errs = append(errs, fmt.Errorf("kube-apiserver not ready: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("control plane in %s: %w", c.cfg.Dir, err)
	}
	return nil
}
