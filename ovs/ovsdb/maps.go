package ovsdb

import (
	"cmp"
	"maps"
	"slices"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// Columns like external_ids and other_config are shared with other programs (ovs-vsctl, the distribution's
// scripts), so Switchyard merges into them instead of replacing them: the keys it names get its values, a key
// given with an empty value is removed, and keys it does not name are left alone. The merge is sent as OVSDB
// mutations, which the server applies atomically, so a concurrent writer's keys are never lost.

// mapMutations returns the mutations that merge want into current (nil if nothing differs). field must point at
// the map column of the model passed to Mutate.
func mapMutations(field *map[string]string, current, want map[string]string) []model.Mutation {
	var remove []string
	insert := map[string]string{}
	for _, k := range sortedKeys(want) {
		v := want[k]
		old, present := current[k]
		switch {
		case v == "" && present:
			remove = append(remove, k)
		case v != "" && !present:
			insert[k] = v
		case v != "" && old != v:
			remove = append(remove, k) // insert does not overwrite an existing key
			insert[k] = v
		}
	}
	var muts []model.Mutation
	if len(remove) > 0 {
		muts = append(muts, model.Mutation{Field: field, Mutator: ovsdb.MutateOperationDelete, Value: remove})
	}
	if len(insert) > 0 {
		muts = append(muts, model.Mutation{Field: field, Mutator: ovsdb.MutateOperationInsert, Value: insert})
	}
	return muts
}

// withoutEmpty returns m without the keys whose value is empty (for a new row, where "remove" means "do not set").
func withoutEmpty(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K { return slices.Sorted(maps.Keys(m)) }

func contains(set []string, s string) bool { return slices.Contains(set, s) }

// sameSet says whether two OVSDB sets hold the same elements (sets have no order).
func sameSet[T ~string](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	as, bs := slices.Clone(a), slices.Clone(b)
	slices.Sort(as)
	slices.Sort(bs)
	return slices.Equal(as, bs)
}

// sameStringMap compares two maps, treating nil and empty alike.
func sameStringMap(a, b map[string]string) bool { return maps.Equal(a, b) }
