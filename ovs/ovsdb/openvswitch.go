package ovsdb

import (
	"context"
	"fmt"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// flowRestoreWaitKey is the Open_vSwitch other_config key that keeps a restarted vswitchd from touching the
// datapath until the flows have been restored (so traffic keeps flowing through the old datapath flows).
const flowRestoreWaitKey = "flow-restore-wait"

// SetFlowRestoreWait sets (on) or removes (off) Open_vSwitch other_config:flow-restore-wait. The agent clears it
// once it has programmed its flows after a vswitchd restart.
func (c *Client) SetFlowRestoreWait(ctx context.Context, on bool) error {
	value := ""
	if on {
		value = "true"
	}
	what := fmt.Sprintf("set flow-restore-wait=%t", on)
	return c.converge(ctx, what, func(ctx context.Context) ([]ovsdb.Operation, error) {
		root, err := c.root(ctx)
		if err != nil {
			return nil, err
		}
		muts := mapMutations(&root.OtherConfig, root.OtherConfig, map[string]string{flowRestoreWaitKey: value})
		if len(muts) == 0 {
			return nil, nil
		}
		return c.ovs.Where(root).Mutate(root, muts...)
	})
}

// FlowRestoreWait says whether Open_vSwitch other_config:flow-restore-wait is true, from the cache.
func (c *Client) FlowRestoreWait() bool { return c.otherConfigTrue(flowRestoreWaitKey) }

// userspaceTSOKey is the Open_vSwitch other_config key that turns on TCP segmentation offload in the userspace
// (netdev) datapath. ovs-vswitchd reads it once, when it starts; start-ovs.sh sets it just before starting it.
const userspaceTSOKey = "userspace-tso-enable"

// UserspaceTSO says whether Open_vSwitch other_config:userspace-tso-enable is true, from the cache: whether the
// userspace datapath takes, forwards and conntracks TSO packets with partial checksums. It describes the running
// ovs-vswitchd as long as nothing but start-ovs.sh changes the key (vswitchd reads it only when it starts).
func (c *Client) UserspaceTSO() bool { return c.otherConfigTrue(userspaceTSOKey) }

// otherConfigTrue says whether Open_vSwitch other_config:key is "true", from the cache.
func (c *Client) otherConfigTrue(key string) bool {
	ctx, cancel := readContext()
	defer cancel()
	root, err := c.root(ctx)
	return err == nil && root.OtherConfig[key] == "true"
}

// OVSVersion returns Open_vSwitch.ovs_version, which the distribution's startup script (ovs-ctl) fills in; empty
// if it is not set.
func (c *Client) OVSVersion() string {
	ctx, cancel := readContext()
	defer cancel()
	root, err := c.root(ctx)
	if err != nil {
		return ""
	}
	return deref(root.OVSVersion)
}

// vswitchdPlan wraps a plan that changes what ovs-vswitchd configures (bridges, ports): a transaction it sends
// also increments Open_vSwitch.next_cfg, as ovs-vsctl does, so that WaitVswitchd can tell when vswitchd has
// applied it.
func (c *Client) vswitchdPlan(plan planFunc) planFunc {
	return func(ctx context.Context) ([]ovsdb.Operation, error) {
		ops, err := plan(ctx)
		if err != nil || len(ops) == 0 {
			return ops, err
		}
		root, err := c.root(ctx)
		if err != nil {
			return nil, err
		}
		bump, err := c.ovs.Where(root).Mutate(root, model.Mutation{
			Field: &root.NextCfg, Mutator: ovsdb.MutateOperationAdd, Value: 1,
		})
		if err != nil {
			return nil, err
		}
		return append(ops, bump...), nil
	}
}

// WaitVswitchd waits until ovs-vswitchd has applied every change made so far (Open_vSwitch.cur_cfg has caught up
// with next_cfg), e.g. before connecting to a new bridge over OpenFlow. It blocks while vswitchd is not running.
func (c *Client) WaitVswitchd(ctx context.Context) error {
	var cur, next int
	err := c.waitCache(ctx, func(ctx context.Context) (bool, error) {
		root, err := c.root(ctx)
		if err != nil {
			return false, err
		}
		cur, next = root.CurCfg, root.NextCfg
		return cur >= next, nil
	})
	if err != nil {
		return fmt.Errorf("wait for ovs-vswitchd to apply configuration %d (it is at %d): %w", next, cur, err)
	}
	return nil
}
