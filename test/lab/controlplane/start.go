package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Readiness timeouts of Start, each also bounded by the caller's context.
const (
	etcdReadyTimeout      = 30 * time.Second
	apiserverReadyTimeout = 90 * time.Second
	controllersTimeout    = 60 * time.Second
)

// Start prepares cfg.Dir, starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler as detached
// processes (inside cfg.Netns) and returns once the apiserver's /readyz is ok and the controllers work (the
// default ServiceAccount exists). The processes keep running after the caller exits; stop them with Stop. If
// anything fails, whatever was started is stopped again. Start refuses a Dir whose control plane still runs.
func Start(ctx context.Context, cfg Config) (*ControlPlane, error) {
	began := time.Now()
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := refuseRunning(cfg); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	ca, users, err := prepare(cfg)
	if err != nil {
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	if err := saveConfig(cfg); err != nil {
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	cfg.logf("control plane: certificates, tokens and kubeconfigs ready in %s (%s)", cfg.Dir, since(began))

	c := &ControlPlane{cfg: cfg, ca: ca, users: users, procs: map[string]*process{}}
	if err := c.startAll(ctx, began); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if stopErr := c.Stop(stopCtx); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("clean up after failed start: %w", stopErr))
		}
		return nil, err
	}
	cfg.logf("control plane: ready at %s in %s (admin kubeconfig %s)", c.Server(), since(began), c.AdminKubeconfig())
	return c, nil
}

// startAll starts the processes in dependency order, waiting for each stage to be ready.
func (c *ControlPlane) startAll(ctx context.Context, began time.Time) error {
	cfg := c.cfg
	etcd, err := c.spawn(etcdName, etcdArgs(cfg))
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, "etcd", etcdReadyTimeout, []*process{etcd}, func(ctx context.Context) error {
		return getOK(ctx, c.httpClient(), etcdClientURL(cfg)+"/health", "", `"health":"true"`)
	}); err != nil {
		return err
	}
	cfg.logf("control plane: etcd ready (%s)", since(began))

	apiserver, err := c.spawn(apiserverName, apiserverArgs(cfg))
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, "kube-apiserver /readyz", apiserverReadyTimeout, []*process{etcd, apiserver},
		c.readyz); err != nil {
		return err
	}
	cfg.logf("control plane: kube-apiserver ready (%s)", since(began))

	cm, err := c.spawn(controllerManagerName, controllerManagerArgs(cfg))
	if err != nil {
		return err
	}
	sched, err := c.spawn(schedulerName, schedulerArgs(cfg))
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return fmt.Errorf("client for the apiserver: %w", err)
	}
	if err := c.waitFor(ctx, "the default ServiceAccount (kube-controller-manager)", controllersTimeout,
		[]*process{etcd, apiserver, cm, sched}, func(ctx context.Context) error {
			_, err := client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("default/default ServiceAccount not created yet")
			}
			return err
		}); err != nil {
		return err
	}
	cfg.logf("control plane: kube-controller-manager and kube-scheduler up (%s)", since(began))
	return nil
}

// spawn starts one process and remembers it, logging its pid.
func (c *ControlPlane) spawn(name string, args []string) (*process, error) {
	p, err := spawn(c.cfg, name, args)
	if err != nil {
		return nil, err
	}
	c.procs[name] = p
	c.cfg.logf("control plane: started %s (pid %d, log %s)", name, p.pid, layout(c.cfg.Dir).logFile(name))
	return p, nil
}

// readyz succeeds when the apiserver answers /readyz with ok.
func (c *ControlPlane) readyz(ctx context.Context) error {
	return getOK(ctx, c.httpClient(), c.Server()+"/readyz", c.users["admin"].Token, "ok")
}

// refuseRunning fails when a process recorded in cfg.Dir still runs: starting again would fight over the ports
// and the etcd data.
func refuseRunning(cfg Config) error {
	for _, name := range processes {
		p, err := readProcess(cfg.Dir, name)
		if err != nil {
			return err
		}
		if p != nil && p.alive(cfg.Dir, cfg.BinDir) {
			return fmt.Errorf("start control plane: %s (pid %d) from %s is still running; stop it first",
				name, p.pid, cfg.Dir)
		}
	}
	return nil
}

// since formats the time elapsed since t, to the millisecond.
func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
