package flows

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

func TestTablesInOrderWithFixedIDs(t *testing.T) {
	want := []struct {
		id   uint8
		name string
	}{
		{0, "Classifier"}, {10, "SpoofGuard"}, {20, "ARPResponder"}, {30, "Conntrack"},
		{31, "ConntrackState"}, {35, "SessionAffinity"}, {40, "ServiceLB"}, {41, "EndpointDNAT"}, {45, "EgressRule"}, {50, "L3Forwarding"}, {60, "L2ForwardingCalc"},
		{70, "IngressRule"}, {80, "ConntrackCommit"}, {90, "Output"},
	}
	got := Tables()
	if len(got) != len(want) {
		t.Fatalf("Tables() has %d tables, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].ID != w.id || got[i].Name != w.name || got[i].Description == "" {
			t.Errorf("table %d is %d %q (description %q), want %d %q", i, got[i].ID, got[i].Name, got[i].Description, w.id, w.name)
		}
		if byID, ok := TableByID(w.id); !ok || byID.Name != w.name {
			t.Errorf("TableByID(%d) = %v, %v", w.id, byID, ok)
		}
		if byName, ok := TableByName(w.name); !ok || byName.ID != w.id {
			t.Errorf("TableByName(%q) = %v, %v", w.name, byName, ok)
		}
	}
	if _, ok := TableByID(46); ok {
		t.Errorf("TableByID(46) found a table that is not declared")
	}
}

func TestDeclaringADuplicateTablePanics(t *testing.T) {
	before := len(declared)
	defer func() { declared = declared[:before] }()
	mustPanic(t, "duplicate id", "collides", func() { declareTable(31, "Other", "") })
	mustPanic(t, "duplicate name", "collides", func() { declareTable(99, "Output", "") })
}

// docs/pipeline.md is the reader's map of the pipeline: every table must be in it, as a table
// row "| id | Name |".
func TestPipelineDocListsEveryTable(t *testing.T) {
	doc, err := os.ReadFile("../docs/pipeline.md")
	if err != nil {
		t.Fatalf("reading the pipeline documentation: %v", err)
	}
	for _, table := range Tables() {
		row := regexp.MustCompile(`(?m)^\|\s*` + strconv.Itoa(int(table.ID)) + `\s*\|\s*` + regexp.QuoteMeta(table.Name) + `\s*\|`)
		if !row.Match(doc) {
			t.Errorf("docs/pipeline.md has no row \"| %d | %s |\"", table.ID, table.Name)
		}
	}
}
