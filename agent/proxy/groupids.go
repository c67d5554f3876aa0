package proxy

import (
	"fmt"
	"sort"
)

// maxGroupID is the largest group id the proxy hands out (OpenFlow reserves 0xffffff00 and up).
const maxGroupID = 0xfffffff0

// groupIDs allocates group ids per (Service, load balancer key), stable while the key exists and
// reused (smallest first) once freed.
type groupIDs struct {
	next uint32 // smallest id never handed out; 0 means 1
	free []uint32
	ids  map[string]map[lbKey]uint32 // service key -> load balancer -> id
}

func newGroupIDs() *groupIDs { return &groupIDs{ids: map[string]map[lbKey]uint32{}} }

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
		id, err := g.allocate()
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

func (g *groupIDs) allocate() (uint32, error) {
	if len(g.free) > 0 {
		id := g.free[0]
		g.free = g.free[1:]
		return id, nil
	}
	if g.next == 0 {
		g.next = 1
	}
	if g.next > maxGroupID {
		return 0, fmt.Errorf("all %d group ids are in use", uint32(maxGroupID))
	}
	id := g.next
	g.next++
	return id, nil
}

func (g *groupIDs) release(ids ...uint32) {
	g.free = append(g.free, ids...)
	sort.Slice(g.free, func(i, j int) bool { return g.free[i] < g.free[j] })
}
