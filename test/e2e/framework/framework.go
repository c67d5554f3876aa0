// Package framework runs e2e tests against a lab: one lab per test package, brought up by Main (or a running lab
// reused when SWITCHYARD_LAB names its state directory), with helpers to create pods, Services and policies through
// client-go and to probe connectivity from inside pods.
package framework

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/switchyard-net/switchyard/test/lab/cluster"
	"github.com/switchyard-net/switchyard/test/lab/controlplane"
)

// Framework is the lab a test package runs against.
type Framework struct {
	Lab    *cluster.Lab
	Client kubernetes.Interface
}

var current *Framework

// LabOptions are the lab a package wants (nodes, mode, tunnel, topology); Main fills in names and paths.
type LabOptions = cluster.Options

// DefaultLab is 3 nodes, encap with geneve, flat.
func DefaultLab() LabOptions {
	return LabOptions{Nodes: 3, Mode: "encap", Tunnel: "geneve", Topology: "flat",
		UnderlayCIDR: "192.168.77.0/24", Underlay2: "192.168.78.0/24", ClusterCIDR: "10.244.0.0/16", ServiceCIDR: "10.96.0.0/16"}
}

// Main is a test package's TestMain: it brings a lab up (or reuses $SWITCHYARD_LAB), runs the tests and tears the
// lab down (unless reused, or SWITCHYARD_KEEP_LAB=1 for debugging). It skips everything when not root or when the
// control plane binaries are not built.
func Main(m *testing.M, o LabOptions) {
	flag.Parse()
	os.Exit(run(m, o))
}

func run(m *testing.M, o LabOptions) int {
	if os.Geteuid() != 0 {
		fmt.Println("e2e tests need root; skipping")
		return 0
	}
	if testing.Short() {
		fmt.Println("-short: skipping e2e tests")
		return 0
	}
	if dir := os.Getenv("SWITCHYARD_LAB"); dir != "" {
		l, err := cluster.Open(dir)
		if err != nil {
			fmt.Println(err)
			return 1
		}
		return runWith(m, l)
	}
	if o.CPBinDir == "" {
		o.CPBinDir = controlplane.DefaultBinDir()
	}
	if missing := controlplane.MissingBinaries(o.CPBinDir); len(missing) > 0 {
		fmt.Printf("control plane binaries %v missing in %s: run `make controlplane`\n", missing, o.CPBinDir)
		return 1
	}
	bin, err := buildBinaries()
	if err != nil {
		fmt.Println(err)
		return 1
	}
	o.BinDir = bin
	o.Name = "e" + randHex(2)
	o.StateDir = filepath.Join(os.TempDir(), "switchyard-e2e-"+o.Name)
	say := func(f string, a ...any) { fmt.Printf("lab %s: "+f+"\n", append([]any{o.Name}, a...)...) }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	l, err := cluster.Up(ctx, o, say)
	cancel()
	if err != nil {
		fmt.Printf("lab up: %v\n", err)
		os.RemoveAll(bin)
		return 1
	}
	code := runWith(m, l)
	if os.Getenv("SWITCHYARD_KEEP_LAB") == "1" { // the binaries stay too: the lab's processes run them
		fmt.Printf("lab kept: SWITCHYARD_LAB=%s (remove with: %s/switchyard-lab --state %s down)\n", o.StateDir, bin, o.StateDir)
		return code
	}
	defer os.RemoveAll(bin)
	if err := l.Down(context.Background(), say); err != nil {
		fmt.Printf("lab down: %v\n", err)
		return 1
	}
	return code
}

func runWith(m *testing.M, l *cluster.Lab) int {
	cs, err := l.Client()
	if err != nil {
		fmt.Println(err)
		return 1
	}
	current = &Framework{Lab: l, Client: cs}
	return m.Run()
}

// Get returns the package's lab.
func Get(t testing.TB) *Framework {
	t.Helper()
	if current == nil {
		t.Fatal("no lab: the package's TestMain must call framework.Main")
	}
	return current
}

// buildBinaries builds switchyard-agent, switchyard-cni, switchyard-lab and yardctl into a temporary directory, with the
// install scripts beside them, as `make build` lays them out.
func buildBinaries() (string, error) {
	dir, err := os.MkdirTemp("", "sye2ebin")
	if err != nil {
		return "", err
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/switchyard-agent", "./cmd/switchyard-cni", "./cmd/switchyard-lab", "./cmd/yardctl")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building binaries: %v\n%s", err, out)
	}
	if out, err := exec.Command("cp", "-r", filepath.Join(root, "build", "images", "scripts"), filepath.Join(dir, "scripts")).CombinedOutput(); err != nil {
		return "", fmt.Errorf("copying scripts: %v %s", err, out)
	}
	return dir, nil
}

// repoRoot is the module root, found from this source file.
func repoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the source tree")
	}
	return filepath.Abs(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
