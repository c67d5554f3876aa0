package flows

import "testing"

func TestDescribe(t *testing.T) {
	cases := []struct{ match, actions, wantMatch, wantActions string }{
		{"in_port=5", FromPod.Load() + ",goto_table:10", "in_port=5", "mark from-pod,goto SpoofGuard"},
		{OutputReady.Match() + ",reg1=0x7", "output:NXM_NX_REG1[]", "output-ready,TargetOFPort=7", "output:TargetOFPort"},
		{"ip,dl_dst=0a:58:0a:f4:00:03", TargetOFPortField.Load(3) + "," + OutputReady.Load() + ",goto_table:80",
			"ip,dl_dst=0a:58:0a:f4:00:03", "TargetOFPort:=3,mark output-ready,goto ConntrackCommit"},
		{"ip", "ct(table=31,zone=65520,nat)", "ip", "ct(table=ConntrackState,zone=65520,nat)"},
		{"", "", "any packet", "drop"},
		{"arp,arp_tpa=10.244.0.2,arp_op=1", "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:0a:58:0a:f4:00:02->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],set_field:0a:58:0a:f4:00:02->arp_sha,move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:10.244.0.2->arp_spa,IN_PORT",
			"arp,arp_tpa=10.244.0.2,arp_op=1", "answer the ARP request in OVS: 10.244.0.2 is at 0a:58:0a:f4:00:02"},
	}
	for _, c := range cases {
		m, a := Describe(c.match, c.actions)
		if m != c.wantMatch || a != c.wantActions {
			t.Errorf("Describe(%q, %q) = %q, %q; want %q, %q", c.match, c.actions, m, a, c.wantMatch, c.wantActions)
		}
	}
}
