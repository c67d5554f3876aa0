package crossnode

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	corev1 "k8s.io/api/core/v1"
)

// Each node's ovs-vswitchd runs with userspace TSO exactly in noEncap mode (start-ovs.sh reads the agent's
// configuration), and its pods get the offloads it can carry: tx checksum offload and TSO in noEncap, off in the
// encapsulating modes (docs/modes.md). A bulk TCP transfer from every pod to the last node's pod arrives intact.
func (e *env) offloads(t *testing.T) {
	tso := e.mode == "noEncap"
	for i := 1; i <= e.nodes; i++ {
		db := "unix:" + filepath.Join(e.f.Lab.NodeDir(i), "ovs", "db.sock")
		out, _ := exec.Command("ovs-vsctl", "--db="+db, "--timeout=5", "get", "Open_vSwitch", ".", "other_config").CombinedOutput()
		if got := strings.Contains(string(out), `userspace-tso-enable="true"`); got != tso {
			t.Errorf("node %d: ovs-vswitchd's userspace TSO is %t in mode %s, want %t (other_config %s)", i, got, e.mode, tso, strings.TrimSpace(string(out)))
		}
	}
	server := e.pods[len(e.pods)-1]
	for _, p := range e.pods {
		podNS := e.f.Netns(t, p)
		out, err := exec.Command("ip", "netns", "exec", podNS, "ethtool", "-k", "eth0").CombinedOutput()
		if err != nil {
			t.Fatalf("ethtool -k eth0 in %s: %v\n%s", p.Name, err, out)
		}
		if on := strings.Contains(string(out), "tx-checksumming: on"); on != tso {
			t.Errorf("pod %s (mode %s) has tx checksum offload %t, want %t", p.Name, e.mode, on, tso)
		}
		if err := bulkTCP(podNS, "/run/netns/"+e.f.Netns(t, server), server, 8<<20); err != nil {
			t.Errorf("bulk TCP %s -> %s: %v", p.Name, server.Name, err)
		}
	}
}

// bulkTCP sends size random bytes from namespace fromNS to a temporary listener in the server pod's namespace (at
// serverNS) and checks that the listener received exactly them.
func bulkTCP(fromNS, serverNS string, server *corev1.Pod, size int) error {
	var ln net.Listener
	if err := ns.WithNetNSPath(serverNS, func(ns.NetNS) (err error) {
		ln, err = net.Listen("tcp4", ":0")
		return err
	}); err != nil {
		return err
	}
	defer ln.Close()
	digest := make(chan []byte, 1)
	go func() {
		h := sha256.New()
		if c, err := ln.Accept(); err == nil {
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			_, _ = io.Copy(h, c)
			c.Close()
		}
		digest <- h.Sum(nil)
	}()
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		return err
	}
	addr := net.JoinHostPort(server.Status.PodIP, fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
	if err := ns.WithNetNSPath("/run/netns/"+fromNS, func(ns.NetNS) error {
		c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		_, err = c.Write(data)
		return err
	}); err != nil {
		return err
	}
	want := sha256.Sum256(data)
	select {
	case got := <-digest:
		if !bytes.Equal(got, want[:]) {
			return fmt.Errorf("the server received other bytes than were sent (%d sent)", size)
		}
		return nil
	case <-time.After(40 * time.Second):
		return fmt.Errorf("the server did not finish receiving %d bytes", size)
	}
}
