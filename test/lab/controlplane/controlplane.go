package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ControlPlane is a running (or stopped) lab control plane, described by the files in its Dir.
type ControlPlane struct {
	cfg   Config
	ca    *authority
	users map[string]tokenUser
	procs map[string]*process // by name; only processes with a pidfile
}

// Attach re-opens the control plane whose state is in dir (from `status`, `down` or another process than the
// one that started it). It does not check that the processes run: see Running.
func Attach(dir string) (*ControlPlane, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("attach control plane: dir %q: %w", dir, err)
	}
	l := layout(dir)
	data, err := os.ReadFile(l.configFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("attach control plane: %s is not a control plane directory (no %s)", dir,
			filepath.Base(l.configFile()))
	}
	if err != nil {
		return nil, fmt.Errorf("attach control plane: %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("attach control plane: parse %s: %w", l.configFile(), err)
	}
	cfg.Dir = dir
	ca, err := loadOrCreateCA(l.pki("ca.crt"), l.pki("ca.key"))
	if err != nil {
		return nil, fmt.Errorf("attach control plane: %w", err)
	}
	users, err := readTokens(l.tokenFile())
	if err != nil {
		return nil, fmt.Errorf("attach control plane: %w", err)
	}
	c := &ControlPlane{cfg: cfg, ca: ca, users: users, procs: map[string]*process{}}
	for _, name := range processes {
		p, err := readProcess(dir, name)
		if err != nil {
			return nil, fmt.Errorf("attach control plane: %w", err)
		}
		if p != nil {
			c.procs[name] = p
		}
	}
	return c, nil
}

// saveConfig records the effective Config in Dir for Attach.
func saveConfig(cfg Config) error {
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("encode control plane config: %w", err)
	}
	return writeFile(layout(cfg.Dir).configFile(), append(data, '\n'), 0o600)
}

// SetLogf sends progress messages of later calls (Stop, for an attached control plane) to logf.
func (c *ControlPlane) SetLogf(logf func(format string, args ...any)) { c.cfg.Logf = logf }

// Config returns the effective configuration (defaults filled in, paths absolute).
func (c *ControlPlane) Config() Config { return c.cfg }

// Server is the apiserver's URL, https://AdvertiseIP:SecurePort.
func (c *ControlPlane) Server() string { return apiserverURL(c.cfg.AdvertiseIP, c.cfg.SecurePort) }

// AdminKubeconfig is the path of a cluster-admin kubeconfig for Server.
func (c *ControlPlane) AdminKubeconfig() string { return layout(c.cfg.Dir).kubeconfig("admin") }

// CACertFile is the path of the CA certificate clients must trust (also in every kubeconfig).
func (c *ControlPlane) CACertFile() string { return layout(c.cfg.Dir).pki("ca.crt") }

// CAKeyFile is the path of the CA's private key, for lab parts (kubelets) that issue their own certificates.
func (c *ControlPlane) CAKeyFile() string { return layout(c.cfg.Dir).pki("ca.key") }

// LogFile is the path of the log of one process ("etcd", "kube-apiserver", "kube-controller-manager",
// "kube-scheduler").
func (c *ControlPlane) LogFile(name string) string { return layout(c.cfg.Dir).logFile(name) }

// Pids returns the pid of each process that has a pidfile, by name.
func (c *ControlPlane) Pids() map[string]int {
	pids := map[string]int{}
	for name, p := range c.procs {
		pids[name] = p.pid
	}
	return pids
}

// RSS returns the resident set size in bytes of each running process, by name.
func (c *ControlPlane) RSS() map[string]int64 {
	rss := map[string]int64{}
	for name, p := range c.procs {
		if p.alive(c.cfg.Dir, c.cfg.BinDir) {
			rss[name] = p.rssBytes()
		}
	}
	return rss
}
