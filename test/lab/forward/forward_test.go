package forward

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/switchyard-net/switchyard/test/nettest"
)

func TestForwardIntoNamespace(t *testing.T) {
	nettest.RequireRoot(t)
	name := nettest.NewNetns(t, "fwd")
	path := "/run/netns/" + name
	var target net.Listener
	if err := ns.WithNetNSPath(path, func(ns.NetNS) error {
		var err error
		target, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer target.Close()
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
