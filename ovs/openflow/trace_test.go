package openflow

import (
	"reflect"
	"testing"
)

// stepSummary is a TraceStep without Bridge, for compact expectations.
type stepSummary struct {
	Pass, Depth int
	Table       uint8
	Miss        bool
	Priority    uint16
	Cookie      uint64
	Match       string
	Actions     []string
}

func summarize(t *testing.T, tr *Trace) []stepSummary {
	t.Helper()
	var out []stepSummary
	for _, s := range tr.Steps {
		if s.Bridge != "br0" {
			t.Errorf("step in table %d: bridge %q, want br0", s.Table, s.Bridge)
		}
		sum := stepSummary{Pass: s.Pass, Depth: s.Depth, Table: s.Table, Miss: s.Miss, Priority: s.Priority,
			Cookie: s.Cookie, Match: s.Match}
		for _, a := range s.Actions {
			sum.Actions = append(sum.Actions, a.Text)
		}
		out = append(out, sum)
	}
	return out
}

func TestParseTraceTwoTables(t *testing.T) {
	tr, err := ParseTrace(readTestdata(t, "trace_two_tables.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []stepSummary{
		{Table: 0, Priority: 10, Cookie: 0xa, Match: "ip,in_port=1", Actions: []string{"goto_table:10"}},
		{Table: 10, Priority: 20, Cookie: 0xb, Match: "ip,nw_dst=10.0.0.2",
			Actions: []string{"set_field:aa:bb:cc:dd:ee:ff->eth_dst", "output:2"}},
	}
	if got := summarize(t, tr); !reflect.DeepEqual(got, want) {
		t.Fatalf("steps:\n got %+v\nwant %+v", got, want)
	}
	if tr.Dropped() || !reflect.DeepEqual(tr.OutputPorts(), []string{"2"}) {
		t.Fatalf("Dropped %v, OutputPorts %v", tr.Dropped(), tr.OutputPorts())
	}
	if got := tr.FinalDatapathActions(); got != "set(eth(dst=aa:bb:cc:dd:ee:ff)),2" {
		t.Fatalf("datapath actions %q", got)
	}
}

func TestParseTraceMiss(t *testing.T) {
	tr, err := ParseTrace(readTestdata(t, "trace_miss.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []stepSummary{
		{Table: 0, Priority: 10, Cookie: 0xa, Match: "ip,in_port=1", Actions: []string{"goto_table:10"}},
		{Table: 10, Miss: true, Actions: []string{"drop"}},
	}
	if got := summarize(t, tr); !reflect.DeepEqual(got, want) {
		t.Fatalf("steps:\n got %+v\nwant %+v", got, want)
	}
	if !tr.Dropped() || len(tr.OutputPorts()) != 0 {
		t.Fatalf("Dropped %v, OutputPorts %v", tr.Dropped(), tr.OutputPorts())
	}
}

// A resubmit nests table 5 inside table 0; ct(table=10) recirculates into a second pass.
func TestParseTraceResubmitAndRecirculation(t *testing.T) {
	tr, err := ParseTrace(readTestdata(t, "trace_ct_recirc.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []stepSummary{
		{Table: 0, Priority: 10, Cookie: 0xa, Match: "ip,in_port=1",
			Actions: []string{"resubmit(,5)", "ct(table=10,zone=3)", "drop"}},
		{Depth: 1, Table: 5, Priority: DefaultPriority, Actions: []string{"set_field:0x1->reg0"}},
		{Pass: 1, Table: 10, Priority: 20, Cookie: 0xb, Match: "ct_state=+new+trk,ip",
			Actions: []string{"ct(commit,zone=3)", "drop", "group:1"}},
	}
	if got := summarize(t, tr); !reflect.DeepEqual(got, want) {
		t.Fatalf("steps:\n got %+v\nwant %+v", got, want)
	}
	if n := len(tr.Steps[0].Actions[2].Notes); n != 2 {
		t.Fatalf("drop after ct has %d notes, want 2: %v", n, tr.Steps[0].Actions[2].Notes)
	}
	if len(tr.DatapathActions) != 2 || !tr.Dropped() {
		t.Fatalf("datapath actions %q, Dropped %v", tr.DatapathActions, tr.Dropped())
	}
}

func TestParseTraceOutputs(t *testing.T) {
	tr, err := ParseTrace(readTestdata(t, "trace_outputs.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// output:9 does not exist (">>"), output:NXM_NX_REG1[0..15] resolved to 2.
	if got, want := tr.OutputPorts(), []string{"LOCAL", "IN_PORT", "2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("OutputPorts %v, want %v", got, want)
	}
	if tr.Dropped() {
		t.Fatalf("Dropped with datapath actions %q", tr.DatapathActions)
	}
}

func TestParseTraceRejectsGarbage(t *testing.T) {
	if _, err := ParseTrace("Bad openflow flow syntax: ipx: unknown field ipx\n"); err == nil {
		t.Fatal("want an error for output without datapath actions")
	}
	if _, err := ParseTrace(" 0. something odd\nDatapath actions: drop\n"); err == nil {
		t.Fatal("want an error for a step that is neither a rule nor a miss")
	}
}

func TestDelivers(t *testing.T) {
	cases := map[string]bool{
		"drop":                              false,
		"ct(zone=3),recirc(0x1)":            false,
		"set(eth(dst=aa:bb:cc:dd:ee:ff)),2": true,
		"clone(tnl_push(tnl_port(4),header(size=50,type=4),out_port(1)),5)": true,
		"clone(ct(commit),recirc(0x2))":                                     false,
		"userspace(pid=0,controller(reason=1))":                             true,
		"hash(sym_l4(0)),recirc(0x9)":                                       false,
	}
	for actions, want := range cases {
		if got := delivers(actions); got != want {
			t.Errorf("delivers(%q) = %v, want %v", actions, got, want)
		}
	}
}
