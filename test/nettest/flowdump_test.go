package nettest

import "testing"

func TestFlowDumpHelpers(t *testing.T) {
	a := []string{"cookie=0x3000000000001, table=0, priority=1 actions=drop", "cookie=0x3000000000002, table=10, actions=goto_table:20"}
	b := []string{"cookie=0x4000000000002, table=10, actions=goto_table:20", "cookie=0x4000000000001, table=0, priority=1 actions=drop",
		"table=90, actions=drop"}
	if d := MultisetDiff(WithoutCookies(a), WithoutCookies(b[:2])); d != "" {
		t.Errorf("same flows in other rounds differ: %s", d)
	}
	if d := MultisetDiff(WithoutCookies(a), WithoutCookies(b)); d != "+ table=90, actions=drop (x1)" {
		t.Errorf("diff %q", d)
	}
	rs := CookieRounds(b)
	if rs[4] != 2 || rs[0] != 1 || len(rs) != 2 {
		t.Errorf("rounds %v", rs)
	}
	if got := RoundList(rs); got != "0x0(1 flows) 0x4(2 flows)" {
		t.Errorf("RoundList %q", got)
	}
}
