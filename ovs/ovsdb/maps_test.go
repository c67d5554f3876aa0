package ovsdb

import (
	"reflect"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

func TestMapMutations(t *testing.T) {
	var column map[string]string
	current := map[string]string{"same": "1", "changed": "old", "gone": "x", "foreign": "kept"}
	want := map[string]string{"same": "1", "changed": "new", "gone": "", "added": "a", "absent": ""}
	muts := mapMutations(&column, current, want)
	if len(muts) != 2 {
		t.Fatalf("got %d mutations, want delete then insert: %+v", len(muts), muts)
	}
	if muts[0].Mutator != ovsdb.MutateOperationDelete || !reflect.DeepEqual(muts[0].Value, []string{"changed", "gone"}) {
		t.Errorf("first mutation = %+v, want delete of changed and gone", muts[0])
	}
	wantInsert := map[string]string{"changed": "new", "added": "a"}
	if muts[1].Mutator != ovsdb.MutateOperationInsert || !reflect.DeepEqual(muts[1].Value, wantInsert) {
		t.Errorf("second mutation = %+v, want insert of %v", muts[1], wantInsert)
	}
	if muts[0].Field != &column || muts[1].Field != &column {
		t.Error("mutations do not point at the given column")
	}
	if got := mapMutations(&column, current, map[string]string{"same": "1", "absent": ""}); got != nil {
		t.Errorf("no difference gave mutations %+v", got)
	}
}
