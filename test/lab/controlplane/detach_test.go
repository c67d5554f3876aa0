package controlplane

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Environment of the helper process of TestControlPlaneOutlivesCaller.
const (
	helperDirEnv   = "SWITCHYARD_CP_HELPER_DIR"
	helperNetnsEnv = "SWITCHYARD_CP_HELPER_NETNS"
)

// TestControlPlaneOutlivesCaller starts the control plane from a helper process that exits at once (as the
// lab's `up` command does), then re-opens it with Attach, checks it runs, and stops it. It also covers a
// loopback AdvertiseIP (no endpoint reconciler).
func TestControlPlaneOutlivesCaller(t *testing.T) {
	if os.Getenv(helperDirEnv) != "" {
		t.Skip("helper process")
	}
	binDir := requireControlPlane(t)
	netns := newNetns(t)
	dir := t.TempDir()

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStart$", "-test.v")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir, helperNetnsEnv+"="+netns,
		"SWITCHYARD_CONTROLPLANE_BIN="+binDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper start: %v\n%s", err, out)
	}
	t.Logf("helper process exited:\n%s", out)

	cp, err := Attach(dir)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	cp.SetLogf(t.Logf)
	t.Cleanup(func() { _ = cp.Stop(context.Background()) })
	if err := cp.Running(); err != nil {
		t.Fatalf("control plane did not outlive its caller: %v", err)
	}
	if _, err := Start(context.Background(), cp.Config()); err == nil {
		t.Fatal("second Start on a running Dir succeeded, want a refusal")
	} else {
		t.Logf("second Start refused: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cp.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := cp.Running(); err == nil {
		t.Fatal("Running after Stop: nil, want an error")
	}

	// Starting again from the same Dir keeps the CA, the tokens and etcd's data.
	again, err := Start(ctx, cp.Config())
	if err != nil {
		t.Fatalf("restart from the same Dir: %v", err)
	}
	t.Cleanup(func() { _ = again.Stop(context.Background()) })
	if again.RESTConfig().BearerToken != cp.RESTConfig().BearerToken || !bytes.Equal(again.ca.certPEM, cp.ca.certPEM) {
		t.Error("restart changed the admin token or the CA")
	}
	if err := again.Stop(ctx); err != nil {
		t.Fatalf("Stop after restart: %v", err)
	}
}

// TestHelperStart is the helper process of TestControlPlaneOutlivesCaller: it starts a control plane and exits
// without stopping it.
func TestHelperStart(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("only run as the helper of TestControlPlaneOutlivesCaller")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, err := Start(ctx, Config{
		Dir: dir, BinDir: DefaultBinDir(), Netns: os.Getenv(helperNetnsEnv), AdvertiseIP: "127.0.0.1",
		ServiceCIDR: testServiceCIDR, ClusterCIDR: testClusterCIDR, Logf: t.Logf,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
}
