package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/switchyard-net/switchyard/cni/api"
)

// How yardctl reaches agents (docs/debugging.md): the local socket on a node; per-node sockets (--socket-template,
// --node-socket: the lab, where every node's socket is on one machine); or, with --kubeconfig, any node's remote
// API: HTTPS to the Node's InternalIP at the port its agent publishes in its Lease (namespace switchyard-agents),
// the certificate pinned to the SHA-256 published there, authenticated with the kubeconfig's bearer token.

// kube is the Kubernetes client and config of --kubeconfig.
type kube struct {
	cs kubernetes.Interface
	rc *rest.Config
}

// kubeClient builds a client from a kubeconfig path; nil for "".
func kubeClient(path string) (*kube, error) {
	if path == "" {
		return nil, nil
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig %s: %w", path, err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig %s: %w", path, err)
	}
	return &kube{cs: cs, rc: rc}, nil
}

// remoteAgent returns a client for node's agent through its remote API.
func (k *kube) remoteAgent(ctx context.Context, node string, timeouts api.Timeouts) (*api.Client, error) {
	if k.rc.BearerToken == "" && k.rc.BearerTokenFile == "" && k.rc.ExecProvider == nil && k.rc.AuthProvider == nil {
		return nil, errors.New("the kubeconfig's user has no bearer token: the agents' remote API authenticates tokens only (TokenReview), not client certificates")
	}
	n, err := k.cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", node, err)
	}
	l, err := k.cs.CoordinationV1().Leases(api.RemoteAPINamespace).Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("node %s's agent publishes no remote API (no Lease %s/%s): it is not ready, has remoteAPIPort 0, or is older",
			node, api.RemoteAPINamespace, node)
	}
	if err != nil {
		return nil, fmt.Errorf("node %s's agent remote API: %w", node, err)
	}
	base, sum, err := remoteEndpoint(n, l)
	if err != nil {
		return nil, err
	}
	rt, err := rest.HTTPWrappersForConfig(k.rc, pinnedTransport(sum))
	if err != nil {
		return nil, fmt.Errorf("kubeconfig credentials: %w", err)
	}
	return api.NewRemoteClient(base, rt, timeouts), nil
}

// remoteEndpoint is where a Node's agent serves its remote API (its InternalIP, the port of its Lease) and the
// SHA-256 of its certificate.
func remoteEndpoint(n *corev1.Node, l *coordinationv1.Lease) (base, sum string, err error) {
	port, sum := l.Annotations[api.AnnotationRemotePort], l.Annotations[api.AnnotationRemoteSHA256]
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 || len(sum) != 2*sha256.Size {
		return "", "", fmt.Errorf("Lease %s/%s: port %q and certificate SHA-256 %q are not valid (annotations %s, %s)",
			l.Namespace, l.Name, port, sum, api.AnnotationRemotePort, api.AnnotationRemoteSHA256)
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && net.ParseIP(a.Address).To4() != nil {
			return "https://" + net.JoinHostPort(a.Address, port), strings.ToLower(sum), nil
		}
	}
	return "", "", fmt.Errorf("node %s has no IPv4 InternalIP to reach its agent at", n.Name)
}

// pinnedTransport accepts only a server whose certificate has SHA-256 sum (the agent's certificate is
// self-signed; its Lease, which only the agents may write, vouches for it). It goes through
// $HTTPS_PROXY when set.
func pinnedTransport(sum string) *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, // verified below, by pin
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("the agent sent no certificate")
				}
				got := sha256.Sum256(cs.PeerCertificates[0].Raw)
				if hex.EncodeToString(got[:]) != sum {
					return fmt.Errorf("the agent's certificate has SHA-256 %x, its Node publishes %s: not the agent (or it restarted: retry)", got, sum)
				}
				return nil
			}},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConns:        4,
		IdleConnTimeout:     30 * time.Second,
	}
}
