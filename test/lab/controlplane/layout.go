package controlplane

import "path/filepath"

// Process names, in start order. Stop goes through them in reverse.
const (
	etcdName              = "etcd"
	apiserverName         = "kube-apiserver"
	controllerManagerName = "kube-controller-manager"
	schedulerName         = "kube-scheduler"
)

// components are the binaries the control plane needs in BinDir (kubectl is not run, but the lab hands it out).
var components = []string{etcdName, apiserverName, controllerManagerName, schedulerName, "kubectl"}

// processes are the long-running members, in start order.
var processes = []string{etcdName, apiserverName, controllerManagerName, schedulerName}

// layout names the files under a control plane's Dir.
type layout string

func (l layout) path(elem ...string) string {
	return filepath.Join(append([]string{string(l)}, elem...)...)
}

func (l layout) configFile() string         { return l.path("controlplane.json") }
func (l layout) pkiDir() string             { return l.path("pki") }
func (l layout) pki(name string) string     { return l.path("pki", name) }
func (l layout) tokenFile() string          { return l.path("tokens.csv") }
func (l layout) kubeconfigDir() string      { return l.path("kubeconfigs") }
func (l layout) etcdDataDir() string        { return l.path("etcd") }
func (l layout) logFile(name string) string { return l.path("logs", name+".log") }
func (l layout) pidFile(name string) string { return l.path("run", name+".pid") }
func (l layout) kubeconfig(name string) string {
	return l.path("kubeconfigs", name+".kubeconfig")
}
