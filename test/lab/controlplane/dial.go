package controlplane

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
)

// dialer returns a DialContext that opens connections inside the network namespace at netnsPath, or in the
// caller's namespace when netnsPath is empty. A socket belongs to the namespace it was created in, so only the
// socket's creation has to happen on a thread switched into the namespace; the connection is then usable from
// any goroutine.
func dialer(netnsPath string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if netnsPath == "" {
		return d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
			var err error
			conn, err = d.DialContext(ctx, network, addr)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("dial %s in network namespace %s: %w", addr, netnsPath, err)
		}
		return conn, nil
	}
}
