package ovsdb

import (
	"reflect"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/switchyard-net/switchyard/ovs/ovsdb/vswitchd"
)

// TestModelsCopyThemselves guards the models' generation with modelgen -extended: libovsdb copies a row on every
// cache read and every cache update, and a model without its generated DeepCopy is copied through a JSON marshal
// and unmarshal instead (about 20 times slower for a Bridge row listing 100 ports; see BenchmarkEnsurePort).
func TestModelsCopyThemselves(t *testing.T) {
	dbModel, err := vswitchd.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	for table, typ := range dbModel.Types() {
		m := reflect.New(typ.Elem()).Interface()
		if _, ok := m.(model.CloneableModel); !ok {
			t.Errorf("model of table %s (%s) has no CloneModel: regenerate with modelgen -extended (go generate ./ovs/ovsdb/...)", table, typ)
		}
		if _, ok := m.(model.ComparableModel); !ok {
			t.Errorf("model of table %s (%s) has no EqualsModel: regenerate with modelgen -extended", table, typ)
		}
	}
	// The copy is deep: changing it leaves the original alone.
	br := &vswitchd.Bridge{UUID: "u", Name: "br-int", Ports: []string{"p1", "p2"}, ExternalIDs: map[string]string{"k": "v"}}
	c := model.Clone(br).(*vswitchd.Bridge)
	c.Ports[0], c.ExternalIDs["k"] = "changed", "changed"
	if br.Ports[0] != "p1" || br.ExternalIDs["k"] != "v" || !model.Equal(br, &vswitchd.Bridge{UUID: "u", Name: "br-int",
		Ports: []string{"p1", "p2"}, ExternalIDs: map[string]string{"k": "v"}}) {
		t.Fatalf("changing a clone changed the original: %+v", br)
	}
}
