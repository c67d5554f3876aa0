package controlplane

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// pollInterval is how often readiness is checked while starting.
const pollInterval = 100 * time.Millisecond

// waitFor calls check until it returns nil, the watched processes die, timeout passes or ctx ends. The error of
// a failed wait names what was awaited, the last check error and, for a dead process, the end of its log.
func (c *ControlPlane) waitFor(ctx context.Context, what string, timeout time.Duration, watch []*process,
	check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		for _, p := range watch {
			if !p.alive(c.cfg.Dir, c.cfg.BinDir) {
				return fmt.Errorf("waiting for %s: %s (pid %d) exited; end of %s:\n%s",
					what, p.name, p.pid, layout(c.cfg.Dir).logFile(p.name), logTail(c.cfg.Dir, p.name, 20))
			}
		}
		checkCtx, cancelCheck := context.WithTimeout(ctx, 5*time.Second)
		last = check(checkCtx)
		cancelCheck()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: not ready after %s: %v", what, timeout, last)
		case <-time.After(pollInterval):
		}
	}
}

// getOK fetches url with client and succeeds when the answer is 200 with a body containing want.
func getOK(ctx context.Context, client *http.Client, url, bearer, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
