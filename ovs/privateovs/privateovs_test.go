package privateovs_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-net/switchyard/ovs/privateovs"
	"github.com/switchyard-net/switchyard/test/nettest"
)

func TestStartStopInNetns(t *testing.T) {
	nettest.RequireOVS(t)
	ns := nettest.NewNetns(t, "povs")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	o, err := privateovs.Start(ctx, privateovs.Options{Netns: ns, FlowRestoreWait: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := o.Dir
	if err := o.Vsctl(ctx, "add-br", "br-test", "--", "set", "bridge", "br-test", "datapath_type=netdev",
		"protocols=OpenFlow15"); err != nil {
		t.Fatal(err)
	}
	// vswitchd runs in the namespace: its netdev bridge's tap device lives there, not here.
	if !nettest.LinkExistsIn(t, ns, "br-test") {
		t.Fatalf("bridge tap br-test not found in netns %s", ns)
	}
	if out, err := o.Ofctl(ctx, "dump-flows", "br-test"); err != nil || !strings.Contains(out, "OFPST_FLOW") {
		t.Fatalf("dump-flows: %v %q", err, out)
	}
	if err := o.StopVswitchd(); err != nil {
		t.Fatal(err)
	}
	if err := o.StartVswitchd(ctx); err != nil {
		t.Fatalf("restart vswitchd: %v", err)
	}
	vpid := o.VswitchdPID()
	if vpid == 0 {
		t.Fatal("no vswitchd pid after restart")
	}
	if err := o.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("dir %s left behind: %v", dir, err)
	}
	if err := nettest.ProcessAlive(vpid); err == nil {
		t.Fatalf("ovs-vswitchd %d still running", vpid)
	}
	if err := o.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}
