package openflow

import "context"

// Bundle applies all mods in one atomic OpenFlow 1.5 bundle (`ovs-ofctl bundle <switch> -`):
// either every mod takes effect or none does. A mod that does not parse or that the switch
// refuses makes it return a *RejectedError naming the line or the decoded mod; an unreachable
// bridge gives an *UnreachableError. No mods: nothing runs.
func (c *Client) Bundle(ctx context.Context, mods []Mod) error {
	if len(mods) == 0 {
		return nil
	}
	text, err := BundleText(mods)
	if err != nil {
		return err
	}
	_, err = c.ofctl(ctx, text, "bundle", c.target, "-")
	return err
}
