package plugin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/cni/api/apitest"
)

func stdinFor(t *testing.T, conf map[string]any) []byte {
	t.Helper()
	data, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestAddPrintsResultAndLogsToFile(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	att := testAttachment()
	agent.Reply(http.MethodPost, api.PathCNIAdd, http.StatusOK, att)
	logFile := filepath.Join(t.TempDir(), "logs", "cni.log")
	var stdout, stderr bytes.Buffer
	p := &Plugin{Stdout: &stdout, Stderr: &stderr}

	err := p.Add(&skel.CmdArgs{ContainerID: "c1", Netns: "/var/run/netns/p1", IfName: "eth0", StdinData: stdinFor(t, map[string]any{
		"cniVersion": "1.0.0", "name": "switchyard", "type": "switchyard", "agentSocket": agent.Socket,
		"logLevel": "info", "logFile": logFile})})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	var result types100.Result
	if err := json.Unmarshal(stdout.Bytes(), &result); err != nil {
		t.Fatalf("stdout is not a result: %v\n%s", err, stdout.Bytes())
	}
	if result.CNIVersion != "1.0.0" || len(result.Interfaces) != 2 || result.Interfaces[podIfIndex].Sandbox != "/var/run/netns/p1" {
		t.Fatalf("result %s", stdout.Bytes())
	}
	logged, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("logFile not written: %v", err)
	}
	if !strings.Contains(string(logged), "attached") || !strings.Contains(string(logged), "containerID=c1") {
		t.Fatalf("log does not record the attachment: %s", logged)
	}
	if stderr.Len() != 0 {
		t.Fatalf("stderr got output although logFile is set: %s", stderr.Bytes())
	}
}

func TestDelPassesOtherAgentErrors(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	agent.ReplyError(http.MethodPost, api.PathCNIDel, http.StatusInternalServerError, types.ErrInternal, "ovsdb transaction failed")
	p := &Plugin{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	err := p.Del(&skel.CmdArgs{ContainerID: "c1", IfName: "eth0", StdinData: stdinFor(t, map[string]any{
		"cniVersion": "1.1.0", "name": "switchyard", "type": "switchyard", "agentSocket": agent.Socket})})
	wantErr(t, err, types.ErrInternal, "ovsdb transaction failed")
}

func TestDelKeepsExistingNetns(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	agent.Reply(http.MethodPost, api.PathCNIDel, http.StatusNoContent, nil)
	netns := filepath.Join(t.TempDir(), "netns-standin")
	if err := os.WriteFile(netns, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p := &Plugin{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	err := p.Del(&skel.CmdArgs{ContainerID: "c1", Netns: netns, IfName: "eth0", StdinData: stdinFor(t, map[string]any{
		"cniVersion": "1.1.0", "name": "switchyard", "type": "switchyard", "agentSocket": agent.Socket})})
	if err != nil {
		t.Fatalf("Del: %v", err)
	}
	var req api.CNIRequest
	agent.Requests()[0].Decode(t, &req)
	if req.Netns != netns {
		t.Fatalf("agent received netns %q, want %q", req.Netns, netns)
	}
}
