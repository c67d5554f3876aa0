package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

// pluginBinary is the switchyard-cni binary TestMain builds; the tests execute it the way a
// container runtime does, so skel's own checks of the environment are part of what is tested.
var pluginBinary string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "switchyard-cni-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating a build directory:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	pluginBinary = filepath.Join(dir, "switchyard-cni")
	goTool, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "finding the go tool to build the plugin:", err)
		return 1
	}
	if out, err := exec.Command(goTool, "build", "-o", pluginBinary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building switchyard-cni: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// env is a CNI environment; a key set to "" is left out of the process environment.
type env map[string]string

// runtimeEnv returns what a runtime sets for command on a Kubernetes pod.
func runtimeEnv(command string) env {
	return env{
		"CNI_COMMAND":     command,
		"CNI_CONTAINERID": "c0ffee01",
		"CNI_NETNS":       "/var/run/netns/switchyard-test-absent",
		"CNI_IFNAME":      "eth0",
		"CNI_ARGS":        "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=c0ffee01",
		"CNI_PATH":        "/opt/cni/bin",
	}
}

// netConf returns the network config the agent writes, pointing at socket.
func netConf(cniVersion, socket string) map[string]any {
	return map[string]any{"cniVersion": cniVersion, "name": "switchyard", "type": "switchyard", "agentSocket": socket}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// outcome is what one plugin execution produced.
type outcome struct {
	stdout, stderr []byte
	exitCode       int
}

// runPlugin executes the plugin binary with exactly e as its environment and stdin as its input.
func runPlugin(t *testing.T, e env, stdin string) outcome {
	t.Helper()
	cmd := exec.Command(pluginBinary)
	for k, v := range e {
		if v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("running %s: %v", pluginBinary, err)
	}
	return outcome{stdout: stdout.Bytes(), stderr: stderr.Bytes(), exitCode: cmd.ProcessState.ExitCode()}
}

// wantSuccess fails the test unless the plugin exited 0.
func (o outcome) wantSuccess(t *testing.T) {
	t.Helper()
	if o.exitCode != 0 {
		t.Fatalf("plugin exited %d\nstdout: %s\nstderr: %s", o.exitCode, o.stdout, o.stderr)
	}
}

// wantError checks that the plugin failed with a CNI error of code whose message or details
// contain names, and returns the error.
func (o outcome) wantError(t *testing.T, code uint, names string) *types.Error {
	t.Helper()
	if o.exitCode == 0 {
		t.Fatalf("plugin succeeded, want CNI error %d\nstdout: %s", code, o.stdout)
	}
	var cniErr types.Error
	if err := json.Unmarshal(o.stdout, &cniErr); err != nil {
		t.Fatalf("stdout is not a CNI error: %v\nstdout: %s\nstderr: %s", err, o.stdout, o.stderr)
	}
	if cniErr.Code != code {
		t.Fatalf("CNI error code %d, want %d: %s", cniErr.Code, code, cniErr.Error())
	}
	if !strings.Contains(cniErr.Error(), names) {
		t.Fatalf("CNI error %q does not name %q", cniErr.Error(), names)
	}
	return &cniErr
}
