// Package apitest provides a fake switchyard-agent for tests: an HTTP server on a unix socket
// that records every request it receives and answers with canned replies.
package apitest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/switchyard-net/switchyard/cni/api"
)

// maxSocketPath is the longest path a unix socket address can hold on Linux (sun_path less its NUL).
const maxSocketPath = 107

// Request is one request the fake agent received.
type Request struct {
	Method string
	Path   string
	Body   []byte
}

// Decode unmarshals the request's JSON body into v, failing the test if it cannot.
func (r Request) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("fake agent: body of %s %s is not the expected JSON: %v\n%s", r.Method, r.Path, err, r.Body)
	}
}

// FakeAgent is an HTTP server on a unix socket standing in for the switchyard-agent.
// Routes without a handler answer 404 with an api.Error of code types.ErrInternal.
type FakeAgent struct {
	// Socket is the path of the unix socket the fake agent listens on.
	Socket string

	mu       sync.Mutex
	requests []Request
	handlers map[string]http.HandlerFunc
}

// NewFakeAgent starts a fake agent on a socket in a temporary directory; the test's cleanup
// stops it.
func NewFakeAgent(t testing.TB) *FakeAgent {
	t.Helper()
	socket := filepath.Join(socketDir(t), "agent.sock")
	listener, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatalf("fake agent: listening on %s: %v", socket, err)
	}
	f := &FakeAgent{Socket: socket, handlers: map[string]http.HandlerFunc{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	srv.Listener.Close()
	srv.Listener = listener
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

// socketDir returns a temporary directory short enough to hold a socket path.
func socketDir(t testing.TB) string {
	dir := t.TempDir()
	if len(filepath.Join(dir, "agent.sock")) <= maxSocketPath {
		return dir
	}
	dir, err := os.MkdirTemp("", "sy-agent-")
	if err != nil {
		t.Fatalf("fake agent: creating a socket directory: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Handle installs h for requests with this method and path.
func (f *FakeAgent) Handle(method, path string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[method+" "+path] = h
}

// Reply makes the fake agent answer method and path with status and body encoded as JSON
// (no body when body is nil).
func (f *FakeAgent) Reply(method, path string, status int, body any) {
	f.Handle(method, path, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, status, body)
	})
}

// ReplyError makes the fake agent answer method and path with status and an api.Error body.
func (f *FakeAgent) ReplyError(method, path string, status int, code uint, msg string) {
	f.Reply(method, path, status, api.Error{Code: code, Msg: msg})
}

// Requests returns a copy of every request received so far, in order.
func (f *FakeAgent) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.requests...)
}

func (f *FakeAgent) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, api.Error{Code: types.ErrIOFailure, Msg: "fake agent: reading body: " + err.Error()})
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, Request{Method: r.Method, Path: r.URL.Path, Body: body})
	h := f.handlers[r.Method+" "+r.URL.Path]
	f.mu.Unlock()
	if h == nil {
		writeJSON(w, http.StatusNotFound, api.Error{Code: types.ErrInternal, Msg: fmt.Sprintf("fake agent: no handler for %s %s", r.Method, r.URL.Path)})
		return
	}
	h(w, r)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	if body == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
