package transport

import (
	"net"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// fakeHost is a namespace with links, addresses and routes.
type fakeHost struct {
	links  []netlink.Link
	addrs  map[int][]netlink.Addr
	routes []netlink.Route
}

func (h *fakeHost) LinkByName(name string) (netlink.Link, error) {
	for _, l := range h.links {
		if l.Attrs().Name == name {
			return l, nil
		}
	}
	return nil, netlink.LinkNotFoundError{}
}

func (h *fakeHost) LinkByIndex(i int) (netlink.Link, error) {
	for _, l := range h.links {
		if l.Attrs().Index == i {
			return l, nil
		}
	}
	return nil, netlink.LinkNotFoundError{}
}

func (h *fakeHost) AddrList(l netlink.Link, _ int) ([]netlink.Addr, error) {
	if l != nil {
		return h.addrs[l.Attrs().Index], nil
	}
	var all []netlink.Addr
	for i, as := range h.addrs {
		for _, a := range as {
			a.LinkIndex = i
			all = append(all, a)
		}
	}
	return all, nil
}

func (h *fakeHost) RouteList(_ netlink.Link, family int) ([]netlink.Route, error) {
	var out []netlink.Route
	for _, r := range h.routes {
		if (family == netlink.FAMILY_V4) == (r.Gw == nil || r.Gw.To4() != nil) {
			out = append(out, r)
		}
	}
	return out, nil
}

func link(i int, name string, mtu int) netlink.Link {
	return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: i, Name: name, MTU: mtu}}
}

func addr(cidr string) netlink.Addr {
	ip, n, _ := net.ParseCIDR(cidr)
	n.IP = ip
	return netlink.Addr{IPNet: n, Scope: unix.RT_SCOPE_UNIVERSE}
}

// A node as the lab makes it: eth0 holds the node address; eth1 another; the default route via eth1.
func labHost() *fakeHost {
	return &fakeHost{
		links: []netlink.Link{link(1, "lo", 65536), link(2, "eth0", 1500), link(3, "eth1", 9000)},
		addrs: map[int][]netlink.Addr{1: {{IPNet: &net.IPNet{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(8, 32)}, Scope: unix.RT_SCOPE_HOST}},
			2: {addr("192.168.77.11/24")}, 3: {addr("10.0.0.5/16"), addr("fd00::5/64")}},
		routes: []netlink.Route{{LinkIndex: 3, Gw: net.ParseIP("10.0.0.1")}},
	}
}

func TestFind(t *testing.T) {
	cases := []struct {
		name      string
		f         Finder
		wantIf    string
		wantAddr  string
		wantMTU   int
		wantBr    string
		wantError string
	}{
		{"node IP", Finder{NodeIP: net.ParseIP("192.168.77.11")}, "eth0", "192.168.77.11/24", 1500, "", ""},
		{"default route", Finder{}, "eth1", "10.0.0.5/16", 9000, "", ""},
		{"configured", Finder{Configured: "eth1", NodeIP: net.ParseIP("192.168.77.11")}, "eth1", "10.0.0.5/16", 9000, "", ""},
		{"configured, node IP on it", Finder{Configured: "eth0", NodeIP: net.ParseIP("192.168.77.11")}, "eth0", "192.168.77.11/24", 1500, "", ""},
		{"unknown configured", Finder{Configured: "eth7"}, "", "", 0, "", `transportInterface "eth7"`},
		{"node IP nowhere", Finder{NodeIP: net.ParseIP("192.168.77.99")}, "", "", 0, "", "no interface holds the node's InternalIP 192.168.77.99"},
	}
	for _, c := range cases {
		c.f.Host = labHost()
		got, err := c.f.Find()
		if c.wantError != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantError) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.wantError)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got.Name != c.wantIf || got.Addr.String() != c.wantAddr || got.MTU != c.wantMTU || got.Bridge != c.wantBr {
			t.Errorf("%s: got %+v (addr %s), want %s %s mtu %d bridge %q", c.name, got, got.Addr, c.wantIf, c.wantAddr, c.wantMTU, c.wantBr)
		}
	}
}

// After PrepareNetdev the address is on br-phy: a restarted agent finds the NIC behind it.
func TestFindAfterTheMove(t *testing.T) {
	h := labHost()
	h.links = append(h.links, link(4, "br-phy", 1500))
	h.addrs[4], h.addrs[2] = h.addrs[2], nil
	ports := func(br string) []string {
		if br == "br-phy" {
			return []string{"br-phy", "eth0"}
		}
		return nil
	}
	for _, f := range []Finder{
		{Host: h, NodeIP: net.ParseIP("192.168.77.11"), PhysicalBridge: "br-phy", BridgePorts: ports},
		{Host: h, Configured: "eth0", NodeIP: net.ParseIP("192.168.77.11"), PhysicalBridge: "br-phy", BridgePorts: ports},
	} {
		got, err := f.Find()
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		if got.Name != "eth0" || got.Bridge != "br-phy" || got.Addr.String() != "192.168.77.11/24" || got.MTU != 1500 {
			t.Errorf("configured %q: got %+v", f.Configured, got)
		}
	}
	noPorts := Finder{Host: h, NodeIP: net.ParseIP("192.168.77.11"), PhysicalBridge: "br-phy", BridgePorts: func(string) []string { return nil }}
	if _, err := noPorts.Find(); err == nil || !strings.Contains(err.Error(), "want exactly one interface") {
		t.Errorf("bridge without a port: %v", err)
	}
}

func TestInterfaceFacts(t *testing.T) {
	tr := &Interface{Addr: &net.IPNet{IP: net.ParseIP("192.168.77.11"), Mask: net.CIDRMask(24, 32)}}
	if tr.IPv6() || !tr.OnLink(net.ParseIP("192.168.77.200")) || tr.OnLink(net.ParseIP("192.168.78.1")) {
		t.Errorf("IPv4 transport facts wrong")
	}
	if mac := PhysicalBridgeMAC(net.ParseIP("192.168.77.11")).String(); mac != "0a:00:c0:a8:4d:0b" {
		t.Errorf("PhysicalBridgeMAC = %s", mac)
	}
}
