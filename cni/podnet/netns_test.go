package podnet

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"
)

// requireRoot skips tests that create network namespaces and links.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
}

// newNetNS creates a uniquely named, bind-mounted netns that is removed when the test ends.
func newNetNS(t *testing.T) ns.NetNS {
	t.Helper()
	n, err := testutils.NewNS()
	if err != nil {
		t.Fatalf("create netns: %v", err)
	}
	t.Cleanup(func() { deleteNetNS(t, n) })
	return n
}

// deleteNetNS unmounts and removes a netns made by newNetNS; calling it twice is fine.
func deleteNetNS(t *testing.T, n ns.NetNS) {
	t.Helper()
	if _, err := os.Stat(n.Path()); os.IsNotExist(err) {
		return
	}
	n.Close()
	if err := testutils.UnmountNS(n); err != nil {
		t.Errorf("remove netns %s: %v", n.Path(), err)
	}
}

// in runs f inside netns n and fails the test on error.
func in(t *testing.T, n ns.NetNS, f func() error) {
	t.Helper()
	if err := n.Do(func(ns.NetNS) error { return f() }); err != nil {
		t.Fatal(err)
	}
}

// uniqueContainerID returns a random container ID so parallel runs never share link names.
func uniqueContainerID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// linkExists reports whether a link called name exists in the calling thread's netns.
func linkExists(t *testing.T, name string) bool {
	t.Helper()
	link, err := findLink(name)
	if err != nil {
		t.Fatal(err)
	}
	return link != nil
}

// requireNoLink fails the test if name exists in netns n.
func requireNoLink(t *testing.T, n ns.NetNS, name string) {
	t.Helper()
	in(t, n, func() error {
		if linkExists(t, name) {
			t.Errorf("link %q still exists in %s", name, n.Path())
		}
		return nil
	})
}

// addLink creates a link in netns n.
func addLink(t *testing.T, n ns.NetNS, link netlink.Link) {
	t.Helper()
	in(t, n, func() error { return netlink.LinkAdd(link) })
}
