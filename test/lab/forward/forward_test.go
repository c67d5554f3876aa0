package forward

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/switchyard-net/switchyard/test/nettest"
)

// listenIn listens on the loopback of a new namespace; it returns the namespace's path and the listener.
func listenIn(t *testing.T, prefix string) (string, net.Listener) {
	t.Helper()
	nettest.RequireRoot(t)
	path := "/run/netns/" + nettest.NewNetns(t, prefix)
	var ln net.Listener
	if err := ns.WithNetNSPath(path, func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return path, ln
}

func TestForwardIntoNamespace(t *testing.T) {
	path, target := listenIn(t, "fwd")
	go func() {
		c, err := target.Accept()
		if err == nil {
			_, _ = c.Write([]byte("inside"))
			c.Close()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = Serve(ctx, ln, path, target.Addr().String()) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	if string(b) != "inside" {
		t.Errorf("got %q", b)
	}
}
