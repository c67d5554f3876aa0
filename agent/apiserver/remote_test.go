package apiserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/switchyard-net/switchyard/cni/api"
)

// backend answers the read-only endpoints; the CNI ones must never be reached remotely.
type backend struct{ t *testing.T }

func (b backend) Ready() (bool, string) { return true, "" }
func (b backend) Add(context.Context, api.CNIRequest) (*api.Attachment, error) {
	b.t.Error("CNI ADD reached the backend")
	return nil, nil
}
func (b backend) Del(context.Context, api.CNIRequest) error {
	b.t.Error("CNI DEL reached the backend")
	return nil
}
func (b backend) Check(context.Context, api.CNIRequest) (*api.Attachment, error) {
	b.t.Error("CNI CHECK reached the backend")
	return nil, nil
}
func (b backend) GC(context.Context, string, []api.AttachmentKey) ([]api.AttachmentKey, error) {
	b.t.Error("CNI GC reached the backend")
	return nil, nil
}
func (b backend) Status() api.Status                                                { return api.Status{Ready: true, Node: "n1"} }
func (b backend) StatusDetail(context.Context) *api.StatusDetail                    { return &api.StatusDetail{} }
func (b backend) Pods() []api.Attachment                                            { return nil }
func (b backend) Flows(context.Context) (*api.FlowList, error)                      { return &api.FlowList{Node: "n1"}, nil }
func (b backend) Trace(context.Context, api.TraceRequest) (*api.TraceResult, error) { return nil, nil }
func (b backend) Nodes() (*api.NodeList, error)                                     { return &api.NodeList{Node: "n1"}, nil }
func (b backend) Services(context.Context) (*api.ServiceList, error) {
	return &api.ServiceList{Node: "n1"}, nil
}
func (b backend) Policies(context.Context) (*api.PolicyList, error) {
	return &api.PolicyList{Node: "n1"}, nil
}

// tokenAuth lets token "good" in, refuses "bad" with 403 and anything else with 401.
type tokenAuth struct{}

func (tokenAuth) Authorize(_ context.Context, r *http.Request) (string, error) {
	switch r.Header.Get("Authorization") {
	case "Bearer good":
		return "alice", nil
	case "Bearer bad":
		return "", &AuthError{Status: http.StatusForbidden, Msg: "bob may not"}
	}
	return "", &AuthError{Status: http.StatusUnauthorized, Msg: "who are you"}
}

func testCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func serveRemote(t *testing.T, refuse func(net.IP) bool) (string, *results) {
	t.Helper()
	seen := &results{n: map[string]int{}}
	s, err := ListenRemote("127.0.0.1:0", testCert(t), backend{t}, tokenAuth{}, refuse, seen.add, logrus.New())
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve() }()
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return "https://" + s.Addr().String(), seen
}

// results counts what the server observed.
type results struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *results) add(result string) { r.mu.Lock(); r.n[result]++; r.mu.Unlock() }

func (r *results) get(result string) int { r.mu.Lock(); defer r.mu.Unlock(); return r.n[result] }

func TestRemoteServesOnlyAuthorizedReads(t *testing.T) {
	base, seen := serveRemote(t, func(net.IP) bool { return false })
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	do := func(method, path, token string) int {
		req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", api.PathStatus, "good", 200},
		{"GET", api.PathServices, "good", 200},
		{"GET", api.PathPolicies, "good", 200},
		{"GET", api.PathStatus, "", 401},
		{"GET", api.PathFlows, "bad", 403},
		{"POST", api.PathCNIAdd, "good", 404},
		{"POST", api.PathCNIDel, "good", 404},
		{"POST", api.PathCNIGC, "good", 404},
		{"POST", api.PathCNIAdd, "", 401}, // refused before it could learn anything
	} {
		if got := do(tc.method, tc.path, tc.token); got != tc.want {
			t.Errorf("%s %s with token %q: %d, want %d", tc.method, tc.path, tc.token, got, tc.want)
		}
	}
	for result, want := range map[string]int{RemoteOK: 6, RemoteUnauthenticated: 2, RemoteForbidden: 1} {
		if got := seen.get(result); got != want {
			t.Errorf("observed %d %s, want %d", got, result, want)
		}
	}
}

func TestRemoteRefusesAddresses(t *testing.T) {
	base, seen := serveRemote(t, func(ip net.IP) bool { return ip.IsLoopback() })
	conn, err := tls.Dial("tcp", strings.TrimPrefix(base, "https://"), &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		conn.Close()
		t.Fatal("a refused address completed the TLS handshake")
	}
	if seen.get(RemoteRefused) != 1 {
		t.Errorf("the refused connection was not observed")
	}
}
