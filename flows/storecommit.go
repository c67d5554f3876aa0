package flows

import "context"

// pendingChange is one Set or Delete waiting to be committed.
type pendingChange struct {
	ctx    context.Context
	change OwnerChange
	done   chan error // receives the result once
}

// commit applies one owner's change, sharing the bundle with whatever other changes are waiting (group commit).
// Each caller queues its change and then takes the store's lock; whoever holds the lock takes every queued change
// of distinct owners and commits them together, so a caller finds its change either already committed by an
// earlier holder or commits it itself. While one bundle runs the next batch gathers: there is no timer and no added
// wait, and a lone change is committed exactly as before.
//
// A batch is one Apply. If that fails (one owner's flows are invalid or conflict, the switch rejects a mod, the
// holder's context ends), every change of the batch is committed again on its own with its own context, so one
// owner's failure never fails the others and each caller gets its own error.
func (s *Store) commit(ctx context.Context, c OwnerChange) error {
	p := &pendingChange{ctx: ctx, change: c, done: make(chan error, 1)}
	s.queueMu.Lock()
	s.queue = append(s.queue, p)
	s.queueMu.Unlock()

	s.mu.Lock()
	if batch := s.takeQueued(); len(batch) > 0 {
		s.commitLocked(ctx, batch)
	}
	s.mu.Unlock()
	return <-p.done
}

// takeQueued removes from the queue the changes of a batch: the first change of every owner. A second change of
// an owner stays queued for the next batch (its caller has not taken the lock yet, so someone will), because the
// changes of a batch are applied as if at once and two changes of one owner must apply in order.
func (s *Store) takeQueued() []*pendingChange {
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	var batch, rest []*pendingChange
	seen := map[Owner]bool{}
	for _, p := range s.queue {
		if seen[p.change.Owner] {
			rest = append(rest, p)
			continue
		}
		seen[p.change.Owner] = true
		batch = append(batch, p)
	}
	s.queue = rest
	return batch
}

// commitLocked commits a batch under s.mu and tells every caller its result.
func (s *Store) commitLocked(ctx context.Context, batch []*pendingChange) {
	if len(batch) > 1 {
		changes := make([]OwnerChange, len(batch))
		for i, p := range batch {
			changes[i] = p.change
		}
		if s.applyLocked(ctx, changes) == nil {
			for _, p := range batch {
				p.done <- nil
			}
			return
		}
		// Nothing of the batch was applied: commit each change alone so that only the faulty ones fail.
	}
	for _, p := range batch {
		if p.change.Delete {
			p.done <- s.deleteLocked(p.ctx, p.change.Owner)
		} else {
			p.done <- s.setLocked(p.ctx, p.change.Owner, p.change.Flows, p.change.Groups)
		}
	}
}
