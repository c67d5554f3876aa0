// Package kubelet is the lab's minimal kubelet: one per lab node. It registers the Node, keeps its Lease and
// status fresh, and runs the pods bound to the node without containers: each pod gets a network namespace wired by
// the node's CNI (through libcni, as containerd does), and each container is a host process started inside that
// namespace, detached so that a kubelet restart leaves workloads running.
package kubelet

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"

	"github.com/sirupsen/logrus"
	"k8s.io/client-go/kubernetes"
)

// Config describes one lab node's kubelet.
type Config struct {
	NodeName string // the Node object's name
	NodeIP   string // the node's InternalIP; also the IP of hostNetwork pods
	// Client is an authenticated clientset; Teardown does not need it.
	Client kubernetes.Interface
	// CNIConfDir, CNIBinDir, CNICacheDir are the node's; the switchyard-agent writes the conflist into CNIConfDir.
	CNIConfDir, CNIBinDir, CNICacheDir string
	// StateDir holds this kubelet's bookkeeping: a directory per pod with its record, pidfiles and logs.
	StateDir string
	// NodeNetns names the node's network namespace, where hostNetwork pods run ("" runs them in the kubelet's).
	NodeNetns string
	// NetnsPrefix starts the name of every pod namespace this kubelet creates (at most 22 characters of
	// [a-z0-9-]; the name is the prefix and a short id, at most 30 characters). Namespaces with this prefix that
	// no pod of this kubelet uses are deleted, so no other node's prefix may start with this one (end it with
	// "-": "lab-n1-" and "lab-n10-" are safe together).
	NetnsPrefix string
	// ServeCommand is the argv prefix of the built-in server; the kubelet appends workload.Options.Args().
	ServeCommand []string
	Log          logrus.FieldLogger // logrus' standard logger when nil
}

// maxNetnsName bounds pod namespace names; maxPrefix leaves room for an id of at least 8 characters.
const (
	maxNetnsName = 30
	maxPrefix    = maxNetnsName - 8
)

var prefixRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// validate checks cfg; needClient is false for Teardown. It fills in the default logger.
func (c *Config) validate(needClient bool) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("kubelet: config: "+format, args...)) }
	if c.NodeName == "" {
		bad("nodeName is empty")
	}
	if net.ParseIP(c.NodeIP) == nil {
		bad("nodeIP %q is not an IP address", c.NodeIP)
	}
	if needClient && c.Client == nil {
		bad("client is nil")
	}
	for name, dir := range map[string]string{"cniConfDir": c.CNIConfDir, "cniBinDir": c.CNIBinDir,
		"cniCacheDir": c.CNICacheDir, "stateDir": c.StateDir} {
		if !filepath.IsAbs(dir) {
			bad("%s %q is not an absolute path", name, dir)
		}
	}
	if len(c.NetnsPrefix) > maxPrefix || !prefixRE.MatchString(c.NetnsPrefix) {
		bad("netnsPrefix %q must be 1 to %d characters of [a-z0-9-]", c.NetnsPrefix, maxPrefix)
	}
	if len(c.ServeCommand) == 0 || c.ServeCommand[0] == "" {
		bad("serveCommand is empty")
	}
	if c.Log == nil {
		c.Log = logrus.StandardLogger()
	}
	return errors.Join(errs...)
}
