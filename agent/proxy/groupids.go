package proxy

import (
	"fmt"
	"hash/fnv"
)

// maxGroupID is the largest group id the proxy hands out (OpenFlow reserves 0xffffff00 and up).
const maxGroupID = 0xfffffff0

// groupIDs allocates group ids per (Service, load balancer key). An id is a hash of the Service and the key
// (probing past ids in use), so an agent that restarts gives every load balancer the id it had before and the
// reconcile replaces groups and flows in place instead of renumbering them. Ids are stable while the key exists.
type groupIDs struct {
	used map[uint32]bool
	ids  map[string]map[lbKey]uint32 // service key -> load balancer -> id
}

func newGroupIDs() *groupIDs {
	return &groupIDs{used: map[uint32]bool{}, ids: map[string]map[lbKey]uint32{}}
}

// assign returns the ids of the service's load balancers, allocating the missing ones, and the
// ids of its load balancers that are gone (the caller frees them once the bridge no longer uses them).
func (g *groupIDs) assign(service string, keys []lbKey) (ids []uint32, gone []uint32, err error) {
	had := g.ids[service]
	next := make(map[lbKey]uint32, len(keys))
	for _, k := range keys {
		if id, ok := had[k]; ok {
			next[k] = id
			continue
		}
		id, err := g.allocate(service, k)
		if err != nil {
			for k2, id2 := range next {
				if _, old := had[k2]; !old {
					g.release(id2)
				}
			}
			return nil, nil, fmt.Errorf("service %s: %w", service, err)
		}
		next[k] = id
	}
	for k, id := range had {
		if _, keep := next[k]; !keep {
			gone = append(gone, id)
		}
	}
	if len(next) == 0 {
		delete(g.ids, service)
	} else {
		g.ids[service] = next
	}
	for _, k := range keys {
		ids = append(ids, next[k])
	}
	return ids, gone, nil
}

// forget drops every id of a deleted service and returns them for freeing.
func (g *groupIDs) forget(service string) []uint32 {
	var gone []uint32
	for _, id := range g.ids[service] {
		gone = append(gone, id)
	}
	delete(g.ids, service)
	return gone
}

// maxProbes bounds the search for a free id after a hash collision.
const maxProbes = 1 << 16

func (g *groupIDs) allocate(service string, k lbKey) (uint32, error) {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s|%s|%s|%t", service, k.Port, k.Protocol, k.External)
	id := h.Sum32()%maxGroupID + 1
	for range maxProbes {
		if !g.used[id] {
			g.used[id] = true
			return id, nil
		}
		id = id%maxGroupID + 1
	}
	return 0, fmt.Errorf("no free group id near %#x after %d probes", id, maxProbes)
}

func (g *groupIDs) release(ids ...uint32) {
	for _, id := range ids {
		delete(g.used, id)
	}
}
