package podnet

import (
	"bytes"
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/switchyard-net/switchyard/test/nettest"
)

// setupPod runs Setup from inside node for a fresh pod netns and registers a Teardown.
func setupPod(t *testing.T, node, pod ns.NetNS, cfg Config) *Attachment {
	t.Helper()
	var att *Attachment
	in(t, node, func() (err error) {
		att, err = Setup(pod.Path(), cfg)
		return err
	})
	t.Cleanup(func() {
		_ = node.Do(func(ns.NetNS) error { return Teardown(pod.Path(), cfg.IfName, cfg.HostIfName) })
	})
	return att
}

func TestSetupCheckGARPTeardown(t *testing.T) {
	requireRoot(t)
	node, pod := newNetNS(t), newNetNS(t)
	cfg := testConfig(uniqueContainerID(t))
	att := setupPod(t, node, pod, cfg)

	if att.HostIfName != cfg.HostIfName || att.PodIfName != cfg.IfName || !bytes.Equal(att.PodMAC, cfg.MAC) {
		t.Fatalf("attachment %+v does not match config %+v", att, cfg)
	}
	in(t, node, func() error {
		host, err := netlink.LinkByName(cfg.HostIfName)
		if err != nil {
			return err
		}
		a := host.Attrs()
		if host.Type() != "veth" || a.MTU != 1450 || a.Flags&net.FlagUp == 0 || a.RawFlags&unix.IFF_NOARP == 0 || a.Promisc == 0 {
			t.Errorf("host veth: type %s, MTU %d, flags %v, raw flags %#x; want veth, 1450, up, NOARP, promiscuous",
				host.Type(), a.MTU, a.Flags, a.RawFlags)
		}
		if a.Index != att.HostIndex || !bytes.Equal(a.HardwareAddr, att.HostMAC) {
			t.Errorf("host veth index %d MAC %s, attachment says %d %s", a.Index, a.HardwareAddr, att.HostIndex, att.HostMAC)
		}
		addrs, err := netlink.AddrList(host, netlink.FAMILY_ALL)
		if err != nil || len(addrs) != 0 {
			t.Errorf("host veth addresses = %v, %v; want none", addrs, err)
		}
		return nil
	})
	in(t, pod, func() error {
		link, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		a := link.Attrs()
		if a.MTU != 1450 || a.Flags&net.FlagUp == 0 || !bytes.Equal(a.HardwareAddr, cfg.MAC) || a.Index != att.PodIndex {
			t.Errorf("pod eth0: MTU %d, flags %v, MAC %s, index %d", a.MTU, a.Flags, a.HardwareAddr, a.Index)
		}
		if v6, err := netlink.AddrList(link, netlink.FAMILY_V6); err != nil || len(v6) != 0 {
			t.Errorf("pod eth0 IPv6 addresses = %v, %v; want none (IPv6 off for an IPv4 pod)", v6, err)
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
		if err != nil || len(addrs) != 1 || addrs[0].IPNet.String() != "10.244.1.5/24" {
			t.Errorf("pod eth0 addresses = %v, %v; want 10.244.1.5/24", addrs, err)
		}
		routes, err := netlink.RouteList(link, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		var defaults []netlink.Route
		for _, r := range routes {
			if isDefault(r.Dst) {
				defaults = append(defaults, r)
			}
		}
		if len(defaults) != 1 || !defaults[0].Gw.Equal(cfg.Gateway) {
			t.Errorf("pod default routes = %v, want one via %s", defaults, cfg.Gateway)
		}
		on, err := txChecksum("eth0")
		if err != nil || on {
			t.Errorf("pod eth0 tx checksum on=%v, err=%v; want off", on, err)
		}
		return nil
	})

	in(t, node, func() error { return Check(pod.Path(), cfg) })

	t.Run("gratuitous ARP reaches the host veth", func(t *testing.T) {
		in(t, node, func() error {
			fd := openARPSniffer(t, att.HostIndex)
			if err := nettest.SendGratuitousARP(pod.Path(), "eth0", cfg.IP.IP, cfg.MAC); err != nil {
				return err
			}
			waitForGARP(t, fd, cfg.IP.IP, cfg.MAC)
			return nil
		})
	})

	t.Run("Check names a changed MAC", func(t *testing.T) {
		in(t, pod, func() error {
			link, err := netlink.LinkByName("eth0")
			if err != nil {
				return err
			}
			return netlink.LinkSetHardwareAddr(link, net.HardwareAddr{0x0a, 0x58, 1, 2, 3, 4})
		})
		err := node.Do(func(ns.NetNS) error { return Check(pod.Path(), cfg) })
		if err == nil || !strings.Contains(err.Error(), "MAC 0a:58:01:02:03:04") {
			t.Fatalf("Check after MAC change = %v, want an error naming the MAC", err)
		}
	})

	t.Run("Check notices a missing host veth", func(t *testing.T) {
		other := cfg
		other.HostIfName = HostVethName(uniqueContainerID(t), "eth0")
		err := node.Do(func(ns.NetNS) error { return Check(pod.Path(), other) })
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("Check with a wrong host veth name = %v", err)
		}
	})

	in(t, node, func() error { return Teardown(pod.Path(), cfg.IfName, cfg.HostIfName) })
	requireNoLink(t, node, cfg.HostIfName)
	requireNoLink(t, pod, cfg.IfName)
	in(t, node, func() error { return Teardown(pod.Path(), cfg.IfName, cfg.HostIfName) })
}

func TestTxChecksumStaysOnWhenNotRequested(t *testing.T) {
	requireRoot(t)
	node, pod := newNetNS(t), newNetNS(t)
	cfg := testConfig(uniqueContainerID(t))
	cfg.TxChecksumOff = false
	setupPod(t, node, pod, cfg)
	in(t, pod, func() error {
		on, err := txChecksum("eth0")
		if err != nil || !on {
			t.Errorf("tx checksum on=%v, err=%v; want on (the veth default)", on, err)
		}
		return nil
	})
	in(t, node, func() error { return Check(pod.Path(), cfg) })
	cfg.TxChecksumOff = true
	err := node.Do(func(ns.NetNS) error { return Check(pod.Path(), cfg) })
	if err == nil || !strings.Contains(err.Error(), "tx checksum") {
		t.Fatalf("Check wanting tx off = %v, want a tx checksum error", err)
	}
}

// openARPSniffer opens a packet socket receiving ARP frames on ifIndex, closed at test end.
func openARPSniffer(t *testing.T, ifIndex int) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ARP)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: ifIndex}); err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval((200 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return fd
}

// waitForGARP reads fd until a gratuitous ARP announcing ip at mac arrives, or fails.
func waitForGARP(t *testing.T, fd int, ip net.IP, mac net.HardwareAddr) {
	t.Helper()
	want := nettest.GARPFrame(ip.To4(), mac)[:42]
	buf := make([]byte, 2048)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("read ARP sniffer: %v", err)
		}
		if n >= len(want) && bytes.Equal(buf[:len(want)], want) {
			return
		}
	}
	t.Fatalf("no gratuitous ARP for %s at %s seen on the host veth", ip, mac)
}

// htons converts a 16-bit value to network byte order, as packet sockets want their protocol.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
