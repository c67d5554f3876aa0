package controlplane

import (
	"golang.org/x/sys/unix"
	"os"
	"testing"
	"time"
)

// TestProcessLifecycle spawns a detached process, finds it through its pidfile, and stops it.
func TestProcessLifecycle(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), BinDir: fakeBinDir(t)}
	t.Setenv(fakeSleepEnv, "1")
	// The extra argument names Dir, as the real processes' flags do; the testing package ignores it.
	p, err := spawn(cfg, etcdName, []string{"-test.run=^TestHelperSleep$", cfg.Dir})
	if err != nil {
		t.Fatal(err)
	}
	read, err := readProcess(cfg.Dir, etcdName)
	if err != nil || read == nil || read.pid != p.pid {
		t.Fatalf("readProcess = %+v, %v; want pid %d", read, err, p.pid)
	}
	if !read.alive(cfg.Dir, cfg.BinDir) {
		t.Fatal("spawned process not alive")
	}
	if sid, _ := unix.Getsid(p.pid); sid != p.pid {
		t.Errorf("session id %d, want its own session %d", sid, p.pid)
	}
	if read.alive(t.TempDir(), cfg.BinDir) {
		t.Error("process taken for one of another Dir")
	}
	began := time.Now()
	if signalled, err := read.stop(cfg.Dir, cfg.BinDir, 5*time.Second, t.Logf); err != nil || !signalled {
		t.Fatalf("stop = %v, %v; want true, nil", signalled, err)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("stop took %s, want SIGTERM to end it at once", d)
	}
	if _, err := os.Stat(layout(cfg.Dir).pidFile(etcdName)); !os.IsNotExist(err) {
		t.Errorf("pidfile left after stop: %v", err)
	}
}

// fakeSleepEnv makes TestHelperSleep sleep: the test binary then stands in for a control plane process.
const fakeSleepEnv = "SWITCHYARD_CP_FAKE_SLEEP"

// TestHelperSleep is the stand-in process of TestProcessLifecycle; it sleeps until signalled.
func TestHelperSleep(t *testing.T) {
	if os.Getenv(fakeSleepEnv) == "" {
		t.Skip("only run as the stand-in process of TestProcessLifecycle")
	}
	time.Sleep(10 * time.Minute)
}
