package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// refPluginsVersion is the containernetworking/plugins release the reference plugins are built from; it is
// pinned by test/bench/refplugins/go.mod.
const refPluginsVersion = "v1.9.1"

// Binaries are the programs a run uses, built from the work tree at the start of the run.
type Binaries struct {
	Dir    string // switchyard-agent, switchyard (the CNI plugin under its type), switchyard-cni, switchyard-lab, scripts/
	RefDir string // bridge, host-local
}

// buildBinaries builds Switchyard's binaries from repo and the reference plugins from their own module
// (test/bench/refplugins), into temporary directories that c removes.
func buildBinaries(ctx context.Context, c *cleanups, repo string) (*Binaries, error) {
	dir, err := tempDir(c, "sybnbin")
	if err != nil {
		return nil, err
	}
	b := &Binaries{Dir: dir, RefDir: filepath.Join(dir, "ref")}
	// Each side is built as it ships: Switchyard as build/images/Dockerfile builds it, the reference plugins as
	// their release script (scripts/release.sh) does. Both are static (CGO_ENABLED=0): a dynamically linked
	// plugin pays the dynamic loader on every exec (about 1 ms per plugin here).
	if err := goBuild(ctx, repo, dir, []string{"-trimpath", "-ldflags", "-s -w"},
		"./cmd/switchyard-agent", "./cmd/switchyard-cni", "./cmd/switchyard-lab"); err != nil {
		return nil, err
	}
	// libcni finds a plugin by its type; the lab's install-cni.sh copies switchyard-cni itself.
	if err := copyFile(filepath.Join(dir, "switchyard-cni"), filepath.Join(dir, "switchyard")); err != nil {
		return nil, err
	}
	if out, err := exec.Command("cp", "-r", filepath.Join(repo, "build", "images", "scripts"), filepath.Join(dir, "scripts")).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("copying the node scripts: %v: %s", err, out)
	}
	ld := "-extldflags -static -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=" + refPluginsVersion
	if err := goBuild(ctx, filepath.Join(repo, "test", "bench", "refplugins"), b.RefDir, []string{"-ldflags", ld},
		"github.com/containernetworking/plugins/plugins/main/bridge",
		"github.com/containernetworking/plugins/plugins/ipam/host-local"); err != nil {
		return nil, err
	}
	return b, nil
}

// goBuild builds pkgs into out, statically (CGO_ENABLED=0), with the given extra flags.
func goBuild(ctx context.Context, dir, out string, flags []string, pkgs ...string) error {
	args := append([]string{"build", "-o", out + "/"}, flags...)
	cmd := exec.CommandContext(ctx, "go", append(args, pkgs...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s (in %s): %v\n%s", strings.Join(pkgs, " "), dir, err, out)
	}
	return nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}
