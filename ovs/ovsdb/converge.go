package ovsdb

import (
	"context"
	"fmt"
	"time"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/switchyard-net/switchyard/ovs/ovsdb/vswitchd"
)

const (
	// cacheRecheckEvery re-evaluates a wait even without a cache event: libovsdb drops events when its event
	// buffer is full, so an event is a hint, not a guarantee.
	cacheRecheckEvery = time.Second
	// staleReadAfter is how long a read without a context waits for the cache to re-sync after a reconnect before
	// it answers from the last known state.
	staleReadAfter = 100 * time.Millisecond
)

// planFunc computes, from the cache, the operations that still have to be sent to reach a desired state.
// No operations means the cache already shows that state.
type planFunc func(ctx context.Context) ([]ovsdb.Operation, error)

// converge sends plan's operations in one transaction, if there are any, then waits until the cache shows the
// result (plan has nothing left to do). what names the change in errors.
func (c *Client) converge(ctx context.Context, what string, plan planFunc) error {
	ops, err := plan(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if len(ops) == 0 {
		return nil
	}
	if err := c.transact(ctx, ops); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var left []ovsdb.Operation
	err = c.waitCache(ctx, func(ctx context.Context) (bool, error) {
		left, err = plan(ctx)
		return len(left) == 0, err
	})
	if err != nil {
		return fmt.Errorf("%s: transaction committed but the cache does not show it (%d operations left): %w",
			what, len(left), err)
	}
	return nil
}

// transact runs operations as one transaction and turns OVSDB operation errors into a Go error.
func (c *Client) transact(ctx context.Context, ops []ovsdb.Operation) error {
	results, err := c.ovs.Transact(ctx, ops...)
	if err != nil {
		return fmt.Errorf("transaction: %w", err)
	}
	if _, err := ovsdb.CheckOperationResults(results, ops); err != nil {
		return fmt.Errorf("transaction: %w", err)
	}
	return nil
}

// waitCache evaluates done whenever the cache changes (and at least every cacheRecheckEvery) until it says true,
// fails, or ctx ends.
func (c *Client) waitCache(ctx context.Context, done func(ctx context.Context) (bool, error)) error {
	recheck := time.NewTicker(cacheRecheckEvery)
	defer recheck.Stop()
	for {
		changed := c.changedChan() // taken before the check, so no change between check and wait is missed
		ok, err := done(ctx)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-recheck.C:
		}
	}
}

func (c *Client) changedChan() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// onCacheEvent runs on libovsdb's event goroutine for every row added, updated or deleted in the cache
// (old is nil for an added row, m for a deleted one). After a reconnect every row is added again.
func (c *Client) onCacheEvent(table string, old, m model.Model) {
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	hooks := c.ifaceHooks
	c.mu.Unlock()
	if table != vswitchd.InterfaceTable || len(hooks) == 0 {
		return
	}
	oldIface, _ := old.(*vswitchd.Interface)
	newIface, _ := m.(*vswitchd.Interface)
	for _, hook := range hooks {
		hook(oldIface, newIface)
	}
}

// readContext bounds a cache read that has no context of its own (see staleReadAfter).
func readContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), staleReadAfter)
}

// opsBuilder collects the operations of one transaction from libovsdb's operation constructors, keeping the first
// error.
type opsBuilder struct {
	ops []ovsdb.Operation
	err error
}

func (b *opsBuilder) add(ops []ovsdb.Operation, err error) {
	if err != nil && b.err == nil {
		b.err = err
	}
	b.ops = append(b.ops, ops...)
}

// result returns the operations, or the first error.
func (b *opsBuilder) result() ([]ovsdb.Operation, error) {
	if b.err != nil {
		return nil, b.err
	}
	return b.ops, nil
}
