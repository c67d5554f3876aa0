// Package apiserver serves the agent's local API (cni/api) on a root-only unix socket: CNI requests from the
// plugin, and the agent's view for yardctl.
package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"
	"github.com/sirupsen/logrus"

	"github.com/switchyard-net/switchyard/cni/api"
)

// Backend is the agent behind the API.
type Backend interface {
	Ready() (bool, string)
	Add(ctx context.Context, req api.CNIRequest) (*api.Attachment, error)
	Del(ctx context.Context, req api.CNIRequest) error
	Check(ctx context.Context, req api.CNIRequest) (*api.Attachment, error)
	GC(ctx context.Context, network string, valid []api.AttachmentKey) ([]api.AttachmentKey, error)
	Status() api.Status
	StatusDetail(ctx context.Context) *api.StatusDetail
	Pods() []api.Attachment
	Flows(ctx context.Context) (*api.FlowList, error)
	Trace(ctx context.Context, req api.TraceRequest) (*api.TraceResult, error)
	Nodes() (*api.NodeList, error)
	Services(ctx context.Context) (*api.ServiceList, error)
	Policies(ctx context.Context) (*api.PolicyList, error)
}

// Server is the local API server.
type Server struct {
	b       Backend
	observe func(op string, took time.Duration, err error)
	log     logrus.FieldLogger
	http    *http.Server
	ln      net.Listener
}

// Listen creates the socket, readable and writable by root only (its directory is created 0700).
func Listen(path string, b Backend, log logrus.FieldLogger) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("API socket dir: %w", err)
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("removing stale API socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("API socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{b: b, log: log, ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathCNIAdd, s.cni(func(ctx context.Context, r api.CNIRequest) (any, error) { return b.Add(ctx, r) }))
	mux.HandleFunc("POST "+api.PathCNIDel, s.cni(func(ctx context.Context, r api.CNIRequest) (any, error) { return struct{}{}, b.Del(ctx, r) }))
	mux.HandleFunc("POST "+api.PathCNICheck, s.cni(func(ctx context.Context, r api.CNIRequest) (any, error) { return b.Check(ctx, r) }))
	mux.HandleFunc("POST "+api.PathCNIGC, s.gc)
	s.readOnly(mux)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s, nil
}

// readOnly registers the endpoints that only read the agent's state (yardctl's): served on the local socket and,
// authenticated, remotely (ListenRemote).
func (s *Server) readOnly(mux *http.ServeMux) {
	mux.HandleFunc("GET "+api.PathStatus, func(w http.ResponseWriter, r *http.Request) {
		st := s.b.Status()
		if r.URL.Query().Get("detail") == "true" {
			st.Detail = s.b.StatusDetail(r.Context())
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET "+api.PathPods, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.b.Pods()) })
	mux.HandleFunc("GET "+api.PathFlows, view(func(r *http.Request) (any, error) { return s.b.Flows(r.Context()) }))
	mux.HandleFunc("GET "+api.PathTrace, s.trace)
	mux.HandleFunc("GET "+api.PathNodes, view(func(*http.Request) (any, error) { return s.b.Nodes() }))
	mux.HandleFunc("GET "+api.PathServices, view(func(r *http.Request) (any, error) { return s.b.Services(r.Context()) }))
	mux.HandleFunc("GET "+api.PathPolicies, view(func(r *http.Request) (any, error) { return s.b.Policies(r.Context()) }))
}

// ObserveCNI registers a function told about every CNI request (operation, duration, result), for metrics.
func (s *Server) ObserveCNI(fn func(op string, took time.Duration, err error)) { s.observe = fn }

// Serve blocks until Shutdown.
func (s *Server) Serve() error {
	if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting requests and waits for running ones.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }

// Close releases a server that never served: its listener.
func (s *Server) Close() error { return s.ln.Close() }

// view answers a read-only GET: the backend's answer, or "try again later" with its error (not ready, OVS busy).
func view(get func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := get(r)
		if err != nil {
			writeErr(w, cnitypes.NewError(cnitypes.ErrTryAgainLater, err.Error(), ""))
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

func (s *Server) cni(do func(context.Context, api.CNIRequest) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req api.CNIRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeErr(w, cnitypes.NewError(cnitypes.ErrDecodingFailure, "decoding CNI request: "+err.Error(), ""))
			return
		}
		if ok, why := s.b.Ready(); !ok {
			writeErr(w, cnitypes.NewError(cnitypes.ErrTryAgainLater, "switchyard-agent is not ready: "+why, ""))
			return
		}
		start := time.Now()
		out, err := do(r.Context(), req)
		if s.observe != nil {
			s.observe(strings.TrimPrefix(r.URL.Path, "/v1/cni/"), time.Since(start), err)
		}
		log := s.log.WithFields(logrus.Fields{"op": r.URL.Path, "container": req.ContainerID, "ifname": req.IfName,
			"pod": req.PodNamespace + "/" + req.PodName, "took": time.Since(start).Round(time.Microsecond)})
		if err != nil {
			log.WithError(err).Warn("CNI request failed")
			writeErr(w, err)
			return
		}
		log.Debug("CNI request done")
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) gc(w http.ResponseWriter, r *http.Request) {
	var req api.GCRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeErr(w, cnitypes.NewError(cnitypes.ErrDecodingFailure, "decoding GC request: "+err.Error(), ""))
		return
	}
	if ok, why := s.b.Ready(); !ok {
		writeErr(w, cnitypes.NewError(cnitypes.ErrTryAgainLater, "switchyard-agent is not ready: "+why, ""))
		return
	}
	removed, err := s.b.GC(r.Context(), req.Network, req.Valid)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.GCResponse{Removed: removed})
}

// trace answers GET PathTrace: a bad query is a decoding error, a failed trace an internal one.
func (s *Server) trace(w http.ResponseWriter, r *http.Request) {
	req, err := api.ParseTraceRequest(r.URL.Query())
	if err != nil {
		writeErr(w, cnitypes.NewError(cnitypes.ErrDecodingFailure, "trace request: "+err.Error(), ""))
		return
	}
	if ok, why := s.b.Ready(); !ok {
		writeErr(w, cnitypes.NewError(cnitypes.ErrTryAgainLater, "switchyard-agent is not ready: "+why, ""))
		return
	}
	res, err := s.b.Trace(r.Context(), req)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func writeErr(w http.ResponseWriter, err error) {
	e := api.Error{Code: cnitypes.ErrInternal, Msg: err.Error()}
	var ce *cnitypes.Error
	if errors.As(err, &ce) {
		e = api.Error{Code: ce.Code, Msg: ce.Msg, Details: ce.Details}
	}
	status := http.StatusInternalServerError
	switch e.Code {
	case cnitypes.ErrTryAgainLater:
		status = http.StatusServiceUnavailable
	case cnitypes.ErrDecodingFailure, cnitypes.ErrInvalidEnvironmentVariables, cnitypes.ErrInvalidNetworkConfig:
		status = http.StatusBadRequest
	case cnitypes.ErrUnknownContainer:
		status = http.StatusNotFound
	}
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
