package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/switchyard-net/switchyard/cni/api"
)

// Authorizer decides whether a remote request may read the agent's API.
type Authorizer interface {
	// Authorize returns who the client is; a refusal is an *AuthError (401 or 403).
	Authorize(ctx context.Context, r *http.Request) (user string, err error)
}

// AuthError refuses a remote request: Status 401 (no or a bad credential) or 403 (not allowed).
type AuthError struct {
	Status int
	Msg    string
}

func (e *AuthError) Error() string { return e.Msg }

// Results of remote requests, as ObserveRemote reports them.
const (
	RemoteOK              = "ok"
	RemoteUnauthenticated = "unauthenticated"
	RemoteForbidden       = "forbidden"
	RemoteError           = "error"
	RemoteRefused         = "refused" // a connection from a refused address
)

// ListenRemote serves the read-only endpoints (never the CNI ones) over TLS on addr, for yardctl from outside the
// node. Every request must pass auth; connections from addresses refuse says yes to (the pod CIDRs: a
// NetworkPolicy cannot protect a host port) are closed before the TLS handshake. observe, if not nil, is told the
// result of every request and refused connection.
func ListenRemote(addr string, cert tls.Certificate, b Backend, auth Authorizer, refuse func(net.IP) bool, observe func(result string), log logrus.FieldLogger) (*Server, error) {
	if auth == nil || refuse == nil {
		return nil, errors.New("remote API needs an authorizer and the addresses to refuse")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("remote API on %s: %w", addr, err)
	}
	if observe == nil {
		observe = func(string) {}
	}
	s := &Server{b: b, log: log}
	s.ln = tls.NewListener(&refusingListener{Listener: ln, refuse: refuse, observe: observe, log: log},
		&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	mux := http.NewServeMux()
	s.readOnly(mux)
	s.http = &http.Server{Handler: authenticated(auth, mux, observe, log), ReadHeaderTimeout: 5 * time.Second}
	return s, nil
}

// Addr is where the server listens.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// authenticated runs auth before next; a refusal answers with an api.Error naming why.
func authenticated(auth Authorizer, next http.Handler, observe func(string), log logrus.FieldLogger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := auth.Authorize(r.Context(), r)
		if err != nil {
			status, result := http.StatusServiceUnavailable, RemoteError
			var ae *AuthError
			if errors.As(err, &ae) {
				status, result = ae.Status, RemoteForbidden
				if status == http.StatusUnauthorized {
					result = RemoteUnauthenticated
				}
			}
			observe(result)
			log.WithFields(logrus.Fields{"remote": r.RemoteAddr, "path": r.URL.Path, "status": status}).WithError(err).Info("remote API request refused")
			writeJSON(w, status, api.Error{Code: api.ErrRemoteRefused, Msg: err.Error()})
			return
		}
		log.WithFields(logrus.Fields{"remote": r.RemoteAddr, "path": r.URL.Path, "user": user}).Debug("remote API request")
		observe(RemoteOK)
		next.ServeHTTP(w, r)
	})
}

// refusingListener closes connections from refused addresses as soon as they are accepted.
type refusingListener struct {
	net.Listener
	refuse  func(net.IP) bool
	observe func(string)
	log     logrus.FieldLogger
}

func (l *refusingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok && l.refuse(a.IP) {
			l.log.WithField("remote", a.String()).Info("remote API: connection from a pod address refused")
			l.observe(RemoteRefused)
			c.Close()
			continue
		}
		return c, nil
	}
}
