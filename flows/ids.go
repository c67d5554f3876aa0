package flows

import (
	"fmt"
	"sort"
)

// idAllocator hands out 40-bit object ids, reusing freed ones (smallest first).
type idAllocator struct {
	next uint64   // smallest id never handed out; ids start at 1
	free []uint64 // freed ids, sorted
}

func (a *idAllocator) allocate() (uint64, error) {
	if len(a.free) > 0 {
		id := a.free[0]
		a.free = a.free[1:]
		return id, nil
	}
	if a.next == 0 {
		a.next = 1
	}
	if a.next > MaxObjectID {
		return 0, fmt.Errorf("all %d object ids are in use", MaxObjectID)
	}
	id := a.next
	a.next++
	return id, nil
}

func (a *idAllocator) release(id uint64) {
	i := sort.Search(len(a.free), func(i int) bool { return a.free[i] >= id })
	a.free = append(a.free, 0)
	copy(a.free[i+1:], a.free[i:])
	a.free[i] = id
}
