package api_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/cni/api/apitest"
)

func wantCNIError(t *testing.T, err error, code uint, contains string) {
	t.Helper()
	var cniErr *types.Error
	if !errors.As(err, &cniErr) {
		t.Fatalf("error %v (%T) is not a *types.Error", err, err)
	}
	if cniErr.Code != code {
		t.Fatalf("error code %d, want %d (%v)", cniErr.Code, code, cniErr)
	}
	if !strings.Contains(cniErr.Error(), contains) {
		t.Fatalf("error %q does not mention %q", cniErr.Error(), contains)
	}
}

func TestAddSendsRequestAndDecodesAttachment(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	want := api.Attachment{HostIfName: "sy1234", HostMAC: "0a:58:0a:f4:01:05", PodIfName: "eth0",
		PodMAC: "0a:58:0a:f4:01:06", Netns: "/var/run/netns/p", IPCIDR: "10.244.1.5/24", Gateway: "10.244.1.1", MTU: 1450, OFPort: 12}
	agent.Reply(http.MethodPost, api.PathCNIAdd, http.StatusOK, want)

	req := api.CNIRequest{Network: "switchyard", ContainerID: "abc", Netns: "/var/run/netns/p", IfName: "eth0",
		PodNamespace: "default", PodName: "web-0", MTU: 1400}
	got, err := api.NewClient(agent.Socket, api.Timeouts{}).Add(context.Background(), req)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if *got != want {
		t.Fatalf("attachment %+v, want %+v", *got, want)
	}
	reqs := agent.Requests()
	if len(reqs) != 1 || reqs[0].Method != http.MethodPost || reqs[0].Path != api.PathCNIAdd {
		t.Fatalf("agent received %+v, want one POST %s", reqs, api.PathCNIAdd)
	}
	var sent api.CNIRequest
	reqs[0].Decode(t, &sent)
	if sent != req {
		t.Fatalf("agent received %+v, want %+v", sent, req)
	}
}

func TestAgentErrorBecomesCNIError(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	agent.Reply(http.MethodPost, api.PathCNIAdd, http.StatusConflict,
		api.Error{Code: types.ErrTryAgainLater, Msg: "IPAM pool exhausted", Details: "10.244.1.0/24"})
	_, err := api.NewClient(agent.Socket, api.Timeouts{}).Add(context.Background(), api.CNIRequest{})
	wantCNIError(t, err, types.ErrTryAgainLater, "IPAM pool exhausted; 10.244.1.0/24")
}

func TestNon2xxWithoutCNIErrorNamesStatus(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	agent.Handle(http.MethodPost, api.PathCNIDel, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	agent.Handle(http.MethodGet, api.PathStatus, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "starting", http.StatusServiceUnavailable)
	})
	c := api.NewClient(agent.Socket, api.Timeouts{})
	wantCNIError(t, c.Del(context.Background(), api.CNIRequest{}), types.ErrInternal, "HTTP 500")
	_, err := c.Status(context.Background())
	wantCNIError(t, err, types.ErrTryAgainLater, "HTTP 503")
}

func TestUndecodableAnswerIsInternalError(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	agent.Handle(http.MethodPost, api.PathCNICheck, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("{not json"))
	})
	_, err := api.NewClient(agent.Socket, api.Timeouts{}).Check(context.Background(), api.CNIRequest{})
	wantCNIError(t, err, types.ErrInternal, "undecodable answer")
}

func TestMissingSocketIsTryAgainLaterAtOnce(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "absent.sock")
	start := time.Now()
	_, err := api.NewClient(socket, api.Timeouts{}).Add(context.Background(), api.CNIRequest{})
	wantCNIError(t, err, types.ErrTryAgainLater, socket)
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("failing on a missing socket took %s", elapsed)
	}
}

func TestRefusedConnectionIsTryAgainLaterAtOnce(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "dead.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false) // leave the socket file behind with nobody listening
	l.Close()

	start := time.Now()
	err = api.NewClient(socket, api.Timeouts{}).Del(context.Background(), api.CNIRequest{})
	wantCNIError(t, err, types.ErrTryAgainLater, "connection refused")
	wantCNIError(t, err, types.ErrTryAgainLater, socket)
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("failing on a refused connection took %s", elapsed)
	}
}

func TestSlowAgentTimesOutWithTryAgainLater(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	agent.Handle(http.MethodPost, api.PathCNIAdd, func(http.ResponseWriter, *http.Request) { <-release })

	start := time.Now()
	_, err := api.NewClient(agent.Socket, api.Timeouts{Add: 200 * time.Millisecond}).Add(context.Background(), api.CNIRequest{})
	wantCNIError(t, err, types.ErrTryAgainLater, "did not answer POST /v1/cni/add within 200ms")
	if elapsed := time.Since(start); elapsed < 200*time.Millisecond || elapsed > 2*time.Second {
		t.Fatalf("timeout of 200ms took %s", elapsed)
	}
}

func TestGCAndStatusAndDo(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	removed := api.GCResponse{Removed: []api.AttachmentKey{{ContainerID: "old", IfName: "eth0"}}}
	agent.Reply(http.MethodPost, api.PathCNIGC, http.StatusOK, removed)
	agent.Reply(http.MethodGet, api.PathStatus, http.StatusOK, api.Status{Ready: false, Reason: "no pod CIDR yet", Node: "n1"})
	agent.Reply(http.MethodGet, api.PathPods, http.StatusOK, []string{"default/web-0"})
	c := api.NewClient(agent.Socket, api.Timeouts{})

	gc, err := c.GC(context.Background(), api.GCRequest{Network: "switchyard", Valid: []api.AttachmentKey{{ContainerID: "live", IfName: "eth0"}}})
	if err != nil || len(gc.Removed) != 1 || gc.Removed[0].ContainerID != "old" {
		t.Fatalf("GC = %+v, %v; want one removed attachment \"old\"", gc, err)
	}
	var sent api.GCRequest
	agent.Requests()[0].Decode(t, &sent)
	if len(sent.Valid) != 1 || sent.Valid[0] != (api.AttachmentKey{ContainerID: "live", IfName: "eth0"}) {
		t.Fatalf("agent received GC request %+v", sent)
	}

	st, err := c.Status(context.Background())
	if err != nil || st.Ready || st.Reason != "no pod CIDR yet" || st.Node != "n1" {
		t.Fatalf("Status = %+v, %v; want not ready with its reason", st, err)
	}

	var pods []string
	if err := c.Do(context.Background(), http.MethodGet, api.PathPods, nil, &pods); err != nil || len(pods) != 1 {
		t.Fatalf("Do GET %s = %v, %v", api.PathPods, pods, err)
	}
	if r := agent.Requests()[2]; r.Method != http.MethodGet || len(r.Body) != 0 {
		t.Fatalf("GET request sent %s with body %q", r.Method, r.Body)
	}
}
