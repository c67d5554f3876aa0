// Package workload is what runs in a lab pod: a small server in the spirit of agnhost serve-hostname (every TCP
// connection, UDP datagram and SCTP association is answered with the pod's name) and the probe the lab and the e2e
// connectivity matrices use to test reachability from inside a network namespace.
package workload

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"
)

// Options configures Serve.
type Options struct {
	Name      string // the answer: the pod's name
	TCP       []int  // TCP ports to serve
	UDP       []int  // UDP ports to serve
	SCTP      []int  // SCTP ports to serve (skipped, with one log line, when the kernel has no SCTP)
	ReadyFile string // written once every listener is bound; removed when Serve returns. Optional.
	// Log receives Serve's few messages; logrus' standard logger when nil.
	Log logrus.FieldLogger
}

// Flag names shared by Args (the kubelet builds a command line) and BindFlags (the lab's serve command parses it).
const (
	FlagName      = "name"
	FlagTCP       = "tcp"
	FlagUDP       = "udp"
	FlagSCTP      = "sctp"
	FlagReadyFile = "ready-file"
)

// BindFlags registers the flags that Args produces on fs, storing into o.
func BindFlags(fs *pflag.FlagSet, o *Options) {
	fs.StringVar(&o.Name, FlagName, o.Name, "the name every answer carries (the pod's name)")
	fs.IntSliceVar(&o.TCP, FlagTCP, o.TCP, "TCP ports to serve (repeat or comma-separate)")
	fs.IntSliceVar(&o.UDP, FlagUDP, o.UDP, "UDP ports to serve (repeat or comma-separate)")
	fs.IntSliceVar(&o.SCTP, FlagSCTP, o.SCTP, "SCTP ports to serve, when the kernel has SCTP")
	fs.StringVar(&o.ReadyFile, FlagReadyFile, o.ReadyFile, "file written once every listener is bound")
}

// Args renders o as the command-line flags BindFlags parses (Log is not rendered).
func (o Options) Args() []string {
	args := []string{"--" + FlagName + "=" + o.Name}
	for _, p := range []struct {
		flag  string
		ports []int
	}{{FlagTCP, o.TCP}, {FlagUDP, o.UDP}, {FlagSCTP, o.SCTP}} {
		if len(p.ports) > 0 {
			args = append(args, "--"+p.flag+"="+joinPorts(p.ports))
		}
	}
	if o.ReadyFile != "" {
		args = append(args, "--"+FlagReadyFile+"="+o.ReadyFile)
	}
	return args
}

// Validate checks the name and that every port is in 1..65535 and listed once per protocol.
func (o Options) Validate() error {
	if o.Name == "" {
		return fmt.Errorf("workload: options: name is empty")
	}
	for _, p := range []struct {
		proto string
		ports []int
	}{{"tcp", o.TCP}, {"udp", o.UDP}, {"sctp", o.SCTP}} {
		seen := map[int]bool{}
		for _, port := range p.ports {
			if port < 1 || port > 65535 {
				return fmt.Errorf("workload: options: %s port %d is outside 1..65535", p.proto, port)
			}
			if seen[port] {
				return fmt.Errorf("workload: options: %s port %d is listed twice", p.proto, port)
			}
			seen[port] = true
		}
	}
	return nil
}

func joinPorts(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}
