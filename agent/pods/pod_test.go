package pods

import (
	"net"
	"strings"
	"testing"
)

func TestExternalIDsRoundTrip(t *testing.T) {
	ip, ipnet, _ := net.ParseCIDR("10.244.1.7/24")
	ipnet.IP = ip
	mac, _ := net.ParseMAC("0a:58:0a:f4:01:07")
	p := &Pod{Key: Key{ContainerID: "abc123", IfName: "eth0"}, Namespace: "default", Name: "web", Network: "switchyard",
		Netns: "/run/netns/x", HostIfName: "sy0123456789ab", IP: ipnet, MAC: mac}
	got, err := podFromPort(p.HostIfName, 5, p.ExternalIDs())
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != p.Key || got.Ref() != "default/web" || got.IP.String() != "10.244.1.7/24" || got.MAC.String() != mac.String() ||
		got.OFPort != 5 || got.Netns != p.Netns || got.Network != "switchyard" {
		t.Errorf("round trip: %+v", got)
	}
	if !strings.Contains(got.owner().Key, "default/web/eth0@abc123") {
		t.Errorf("owner key %q does not name the pod", got.owner().Key)
	}
}

func TestPodFromPortIgnoresForeignAndReportsDamage(t *testing.T) {
	if p, err := podFromPort("gw", 2, map[string]string{ExtOwner: OwnerValue, ExtKind: "gateway"}); p != nil || err != nil {
		t.Errorf("gateway port: %v %v", p, err)
	}
	if p, err := podFromPort("eth9", 3, nil); p != nil || err != nil {
		t.Errorf("foreign port: %v %v", p, err)
	}
	bad := map[string]string{ExtOwner: OwnerValue, ExtKind: KindPod, ExtContainerID: "c", ExtIfName: "eth0", ExtIP: "nope", ExtMAC: "0a:58:0a:f4:01:07"}
	if _, err := podFromPort("sy1", 4, bad); err == nil || !strings.Contains(err.Error(), ExtIP) {
		t.Errorf("want an error naming %s, got %v", ExtIP, err)
	}
	delete(bad, ExtContainerID)
	if _, err := podFromPort("sy1", 4, bad); err == nil || !strings.Contains(err.Error(), ExtContainerID) {
		t.Errorf("want an error naming %s, got %v", ExtContainerID, err)
	}
}

func TestPodRefWithoutKubernetesArgs(t *testing.T) {
	p := &Pod{Key: Key{ContainerID: "abc", IfName: "eth0"}}
	if p.Ref() != "abc" {
		t.Errorf("Ref %q", p.Ref())
	}
}
