package plugin

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/cni/api/apitest"
)

func wantCode(t *testing.T, err error, code uint, contains string) {
	t.Helper()
	var cniErr *types.Error
	if !errors.As(err, &cniErr) || cniErr.Code != code || !strings.Contains(cniErr.Error(), contains) {
		t.Fatalf("error %v (%T), want CNI code %d mentioning %q", err, err, code, contains)
	}
}

// The plugin's own HTTP/1.0 client against the same fake agent (a net/http server) as cni/api.Client's tests.
func TestAgentClientTalksToTheAgentsServer(t *testing.T) {
	agent := apitest.NewFakeAgent(t)
	want := api.Attachment{HostIfName: "sy1234", HostMAC: "0a:58:0a:f4:01:05", PodIfName: "eth0",
		PodMAC: "0a:58:0a:f4:01:06", Netns: "/var/run/netns/p", IPCIDR: "10.244.1.5/24", Gateway: "10.244.1.1", MTU: 1450, OFPort: 12}
	agent.Reply(http.MethodPost, api.PathCNIAdd, http.StatusOK, want)
	big := api.GCResponse{}
	for range 5000 { // an answer far larger than one write
		big.Removed = append(big.Removed, api.AttachmentKey{ContainerID: strings.Repeat("c", 64), IfName: "eth0"})
	}
	agent.Reply(http.MethodPost, api.PathCNIGC, http.StatusOK, big)
	agent.Reply(http.MethodPost, api.PathCNIDel, http.StatusNoContent, nil)
	agent.ReplyError(http.MethodPost, api.PathCNICheck, http.StatusInternalServerError, types.ErrInternal, "ovsdb transaction failed")
	agent.Handle(http.MethodGet, api.PathStatus, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("starting"))
	})
	c := newAgentClient(agent.Socket, api.Timeouts{})
	ctx := context.Background()

	req := api.CNIRequest{Network: "switchyard", ContainerID: "abc", Netns: "/var/run/netns/p", IfName: "eth0", MTU: 1400}
	got, err := c.add(ctx, req)
	if err != nil || *got != want {
		t.Fatalf("add: %+v, %v; want %+v", got, err, want)
	}
	var sent api.CNIRequest
	agent.Requests()[0].Decode(t, &sent)
	if sent != req {
		t.Fatalf("agent received %+v, want %+v", sent, req)
	}
	if gc, err := c.gc(ctx, api.GCRequest{Network: "switchyard"}); err != nil || len(gc.Removed) != len(big.Removed) {
		t.Fatalf("gc: %d removed, %v", len(gc.Removed), err)
	}
	if err := c.del(ctx, req); err != nil {
		t.Fatalf("del: %v", err)
	}
	_, err = c.check(ctx, req)
	wantCode(t, err, types.ErrInternal, "ovsdb transaction failed")
	_, err = c.status(ctx)
	wantCode(t, err, types.ErrTryAgainLater, "HTTP 503 and no CNI error")
}

func TestAgentClientUnreachableAndSlowAgent(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.sock")
	_, err := newAgentClient(missing, api.Timeouts{}).add(context.Background(), api.CNIRequest{})
	wantCode(t, err, types.ErrTryAgainLater, "not reachable at "+missing)

	agent := apitest.NewFakeAgent(t)
	agent.Handle(http.MethodPost, api.PathCNIAdd, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	_, err = newAgentClient(agent.Socket, api.Timeouts{Add: 100 * time.Millisecond}).add(context.Background(), api.CNIRequest{})
	wantCode(t, err, types.ErrTryAgainLater, "did not answer POST /v1/cni/add within 100ms")
}
