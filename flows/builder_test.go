package flows

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// everyBuilderMethod uses every match and action the builder offers (in a scrambled order,
// to exercise the canonical field order).
func everyBuilderMethod() []openflow.Flow {
	mac := mustMAC("0a:58:0a:f4:01:02")
	ip := net.ParseIP("10.244.1.2")
	mark := CtMark{Field: CtField{Start: 0, End: 0}, Value: 1}
	return []openflow.Flow{
		NewFlow(SpoofGuard, 100).IPv4DstNet(mustCIDR("10.244.2.0/24")).IPv4SrcNet(mustCIDR("10.244.1.0/24")).
			EthDst(mac).EthSrc(mac).InPort(7).RegValue(TargetOFPortField, 7).Reg(FromPod).CtMark(mark).CtState("+est+trk").
			Then().Group(3).Done(),
		NewFlow(ARPResponder, 100).ARPSha(mac).ARPOp(ARPRequest).ARPTpa(ip).ARPSpa(ip).
			Then().Move(FieldARPSpa, FieldARPTpa).SetARPSpa(ip).SetARPSha(mac).SetARPOp(ARPReply).OutputInPort().Done(),
		NewFlow(L3Forwarding, 100).IPv4Dst(ip).IPv4Src(ip).
			Then().SetEthSrc(mac).SetEthDst(mac).DecTTL().Load(OutputReady).LoadValue(TargetOFPortField, 3).
			CT(CTCommit(), CTZone(DefaultCTZone), CTExec(mark.Set())).Output(3).OutputReg(TargetOFPortField).Done(),
		NewFlow(Conntrack, 100).IP().Then().CT(CTTable(ConntrackState), CTZone(1), CTNAT()).Goto(ConntrackState),
		NewFlow(L3Forwarding, 100).IP().Then().SetTunnelID(0).SetTunnelDst(net.ParseIP("192.168.77.12")).
			SetTunnelID(5).SetTunnelDst(net.ParseIP("fd00::12")).Goto(L2ForwardingCalc),
	}
}

func TestBuilderText(t *testing.T) {
	got := everyBuilderMethod()
	want := []string{
		"table=10,priority=100,ct_state=+est+trk,ct_mark=0x1/0x1,ip,reg0=0x3/0xf,reg1=0x7,in_port=7,dl_src=0a:58:0a:f4:01:02,dl_dst=0a:58:0a:f4:01:02,nw_src=10.244.1.0/24,nw_dst=10.244.2.0/24,actions=group:3",
		"table=20,priority=100,arp,arp_spa=10.244.1.2,arp_tpa=10.244.1.2,arp_op=1,arp_sha=0a:58:0a:f4:01:02,actions=move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:10.244.1.2->arp_spa,set_field:0a:58:0a:f4:01:02->arp_sha,set_field:2->arp_op,IN_PORT",
		"table=50,priority=100,ip,nw_src=10.244.1.2,nw_dst=10.244.1.2,actions=set_field:0a:58:0a:f4:01:02->eth_src,set_field:0a:58:0a:f4:01:02->eth_dst,dec_ttl,set_field:0x10/0x10->reg0,set_field:0x3->reg1,ct(commit,zone=65520,exec(set_field:0x1/0x1->ct_mark)),output:3,output:NXM_NX_REG1[]",
		"table=30,priority=100,ip,actions=ct(table=31,zone=1,nat),goto_table:31",
		"table=50,priority=100,ip,actions=set_field:0->tun_id,set_field:192.168.77.12->tun_dst,set_field:0x5->tun_id,set_field:fd00::12->tun_ipv6_dst,goto_table:60",
	}
	for i := range want {
		if line := flowLine(got[i]); line != want[i] {
			t.Errorf("flow %d:\n got  %s\n want %s", i, line, want[i])
		}
	}
	if got[0].Cookie != 0 {
		t.Errorf("builder set cookie %#x; the Store stamps cookies", got[0].Cookie)
	}
}

func TestBuilderRejectsMistakes(t *testing.T) {
	mustPanic(t, "ip and arp", "matches both", func() { NewFlow(Classifier, 1).IP().ARPOp(1) })
	mustPanic(t, "goto backwards", "does not go forward", func() { NewFlow(Output, 1).Then().Goto(Classifier) })
	mustPanic(t, "goto same table", "does not go forward", func() { NewFlow(Output, 1).Then().Goto(Output) })
	mustPanic(t, "drop after actions", "drops after actions", func() { NewFlow(Output, 1).Then().DecTTL().Drop() })
	mustPanic(t, "nil MAC", "not an Ethernet MAC", func() { NewFlow(Output, 1).EthSrc(nil) })
	mustPanic(t, "IPv6 address", "not an IPv4 address", func() { NewFlow(Output, 1).IPv4Src(net.ParseIP("fd00::1")) })
	mustPanic(t, "nil IP", "not an IPv4 address", func() { NewFlow(Output, 1).Then().SetARPSpa(nil) })
	mustPanic(t, "IPv6 subnet", "not an IPv4 subnet", func() { NewFlow(Output, 1).IPv4DstNet(mustCIDR("fd00::/64")) })
	mustPanic(t, "nil tunnel destination", "not an IP address", func() { NewFlow(Output, 1).Then().SetTunnelDst(nil) })
}

func TestBuilderIPv4SubnetInSixteenBytes(t *testing.T) {
	n := &net.IPNet{IP: net.ParseIP("10.244.3.7"), Mask: net.CIDRMask(96+24, 128)}
	if got := NewFlow(Output, 1).IPv4DstNet(n).Then().Drop().Match; got != "ip,nw_dst=10.244.3.0/24" {
		t.Errorf("16-byte IPv4 subnet: got %q", got)
	}
}

// ovs-ofctl parse-flows reads flows without a switch and prints them back the way dump-flows
// does. Every flow this package builds must parse, and print back as the same text.
func TestFlowsParseAsOVSPrintsThem(t *testing.T) {
	ofctl, err := exec.LookPath("ovs-ofctl")
	if err != nil {
		t.Skip("ovs-ofctl is not installed")
	}
	all := append(PipelineFlows(testNode), PodFlows(testNode, testPod1)...)
	all = append(all, TunnelPortFlows(testNode, 1)...)
	all = append(all, PeerFlows(testNode, testPeerTunnel)...)
	all = append(all, PeerFlows(testNode, testPeerDirect)...)
	all = append(all, VirtualARPFlows(net.ParseIP("10.244.2.1"), mustMAC("aa:bb:cc:dd:ee:ff"))...)
	all = append(all, everyBuilderMethod()...)
	var file strings.Builder
	for _, f := range all {
		file.WriteString(flowLine(f) + "\n")
	}
	path := filepath.Join(t.TempDir(), "flows.txt")
	if err := os.WriteFile(path, []byte(file.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ofctl, "-O", "OpenFlow15", "parse-flows", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ovs-ofctl parse-flows rejected the flows: %v\n%s", err, out)
	}
	var printed []string
	for _, line := range strings.Split(string(out), "\n") {
		if _, rest, ok := strings.Cut(line, "OFPT_FLOW_MOD (OF1.5) (xid=0x"); ok {
			_, mod, _ := strings.Cut(rest, ": ADD ")
			printed = append(printed, mod)
		}
	}
	if len(printed) != len(all) {
		t.Fatalf("ovs-ofctl printed %d flow mods for %d flows:\n%s", len(printed), len(all), out)
	}
	for i, f := range all {
		want := fmt.Sprintf("table:%d priority=%d", f.Table, f.Priority)
		if f.Match != "" {
			want += "," + f.Match
		}
		want += " actions=" + f.Actions
		if f.Table == 0 {
			want = strings.TrimPrefix(want, "table:0 ") // OVS omits table 0
		}
		if printed[i] != want {
			t.Errorf("flow %d prints back differently:\n ours %s\n ovs  %s", i, want, printed[i])
		}
	}
}
