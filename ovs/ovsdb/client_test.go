package ovsdb

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-net/switchyard/ovs/ovsdb/vswitchd"
	"github.com/switchyard-net/switchyard/ovs/privateovs"
	"github.com/switchyard-net/switchyard/test/nettest"
)

func TestConnectErrorNamesEndpoint(t *testing.T) {
	endpoint := "unix:/nonexistent/" + nettest.UniqueName("db") + ".sock"
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := Connect(ctx, endpoint, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), endpoint) {
		t.Fatalf("Connect to a missing socket: %v, want an error naming %s", err, endpoint)
	}
}

func TestReconnectAfterDatabaseRestart(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	e.ensureBridge(t, "br-int")
	if !e.c.Connected() {
		t.Fatal("not connected after Connect")
	}
	if err := e.ovs.StopDB(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the client to notice the disconnection", func() bool { return !e.c.Connected() })
	// While disconnected, reads answer from the last known state.
	if len(e.c.Ports("br-int")) != 1 {
		t.Fatalf("Ports(br-int) while disconnected = %+v, want the local port", e.c.Ports("br-int"))
	}
	if err := e.ovs.StartDB(e.ctx); err != nil {
		t.Fatal(err)
	}
	// The caller does nothing: the write blocks until the client has reconnected by itself.
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	if err := e.c.EnsurePort(ctx, PortSpec{Bridge: "br-int", Name: "gw0", Type: InterfaceInternal}); err != nil {
		t.Fatalf("EnsurePort after ovsdb-server restart: %v", err)
	}
	if !e.c.Connected() {
		t.Fatal("not connected after a successful write")
	}
	if ofport, err := e.c.WaitOfport(ctx, "gw0"); err != nil || ofport <= 0 {
		t.Fatalf("WaitOfport(gw0) after restart = %d, %v", ofport, err)
	}
	// The re-synced cache follows changes made by others too.
	e.vsctl(t, "add-port", "br-int", "other0", "--", "set", "Interface", "other0", "type=internal")
	waitFor(t, "the cache to show a port added with ovs-vsctl", func() bool {
		_, ok := e.c.InterfaceByName("other0")
		return ok
	})
	if got := len(e.c.Ports("br-int")); got != 3 {
		t.Fatalf("Ports(br-int) has %d ports after restart, want 3", got)
	}
}

func TestOnInterfaceChangeSeesOfport(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	e.ensureBridge(t, "br-int")
	var mu sync.Mutex
	var ofports []int
	deleted := false
	e.c.OnInterfaceChange(func(old, new *vswitchd.Interface) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case new == nil && old.Name == "gw0":
			deleted = true
		case new != nil && new.Name == "gw0" && new.Ofport != nil:
			ofports = append(ofports, *new.Ofport)
		}
	})
	if err := e.c.EnsurePort(e.ctx, PortSpec{Bridge: "br-int", Name: "gw0", Type: InterfaceInternal, OfportRequest: 3}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hook to see gw0 get ofport 3", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ofports) > 0 && ofports[len(ofports)-1] == 3
	})
	if err := e.c.DeletePort(e.ctx, "br-int", "gw0"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hook to see gw0 deleted", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return deleted
	})
}

func TestCloseStopsGoroutines(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	// Other goroutines come and go meanwhile (e.c handles vswitchd's updates in short-lived ones, earlier tests'
	// clients wind down): only goroutines started after this point and running OVSDB client code count.
	before := goroutines()
	c, err := Connect(e.ctx, "unix:"+e.ovs.DBSocket, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(clientGoroutinesSince(before)) == 0 {
		t.Fatal("Connect started no goroutine: the check below would prove nothing")
	}
	c.Close()
	c.Close()
	var left []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if left = clientGoroutinesSince(before); len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			break
		}
	}
	t.Fatalf("%d goroutines of the closed client still running 10 s after Close:\n%s", len(left),
		strings.Join(left, "\n\n"))
}

func TestCloseWhileReconnectingDoesNotReconnect(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	if err := e.ovs.StopDB(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the client to notice the disconnection", func() bool { return !e.c.Connected() })
	e.c.Close()
	if err := e.ovs.StartDB(e.ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * reconnectMaxWait)
	if e.c.Connected() {
		t.Fatal("a closed client reconnected")
	}
}
