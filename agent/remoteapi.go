package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"maps"
	"math/big"
	"net"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard-net/switchyard/agent/apiserver"
	"github.com/switchyard-net/switchyard/cni/api"
)

// The remote API (docs/debugging.md): the local API's read-only endpoints over TLS on the node's transport
// address. The agent makes a self-signed certificate at every start and publishes its SHA-256 with the port in
// the Lease <node> of namespace switchyard-agents; yardctl pins it. Clients authenticate with a Kubernetes bearer
// token (TokenReview) and need get on nodes/switchyard (SubjectAccessReview); pod addresses are refused.

// startRemoteAPI serves the remote API when it is configured and the agent has the Kubernetes API and a transport
// address. It never stops the agent: a failure is logged, the node's networking does not depend on it.
func (a *Agent) startRemoteAPI(ctx context.Context) {
	log := a.log.WithField("component", "remote-api")
	state := "off: remoteAPIPort is 0"
	defer func() {
		a.mu.Lock()
		a.remoteAPI = state
		a.mu.Unlock()
	}()
	switch {
	case a.cfg.RemoteAPIPort == 0:
		return
	case a.kube == nil || a.transport == nil || a.transport.Addr == nil:
		state = "off: it needs the Kubernetes API and a transport address"
		log.Info("remote API " + state)
		return
	}
	ip := a.transport.Addr.IP
	cert, sum, err := selfSignedCert(a.cfg.NodeName, ip, time.Now())
	if err != nil {
		state = "off: no certificate: " + err.Error()
		log.WithError(err).Error("remote API off: no certificate")
		return
	}
	// The setup's API requests are bounded: the node's readiness waits for them.
	setup, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	auth := &apiserver.KubeAuth{Client: a.kube, Node: a.cfg.NodeName}
	if err := auth.Preflight(setup); err != nil {
		state = "off: it could not check its clients: " + err.Error()
		log.WithError(err).Error("remote API off: it could not check its clients")
		return
	}
	addr := net.JoinHostPort(ip.String(), strconv.Itoa(a.cfg.RemoteAPIPort))
	srv, err := apiserver.ListenRemote(addr, cert, a, auth, a.isPodAddress, a.metrics.ObserveRemote, log)
	if err != nil {
		state = "off: " + err.Error()
		log.WithError(err).Error("remote API off")
		return
	}
	if err := a.publishRemoteAPI(setup, sum); err != nil {
		state = "off: cannot publish its certificate: " + err.Error()
		log.WithError(err).Error("remote API off: cannot publish its certificate (yardctl could not check it)")
		_ = srv.Close()
		return
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(); err != nil {
			log.WithError(err).Error("remote API stopped")
		}
	}()
	state = "https://" + addr
	log.WithFields(logrus.Fields{"address": addr, "sha256": sum}).Info("remote API serving")
}

// publishRemoteAPI records the port and the certificate's SHA-256 in the node's Lease in switchyard-agents.
func (a *Agent) publishRemoteAPI(ctx context.Context, sum string) error {
	leases := a.kube.CoordinationV1().Leases(api.RemoteAPINamespace)
	ann := map[string]string{api.AnnotationRemotePort: strconv.Itoa(a.cfg.RemoteAPIPort), api.AnnotationRemoteSHA256: sum}
	now := metav1.NewMicroTime(time.Now())
	holder := "switchyard-agent " + a.cfg.NodeName
	l, err := leases.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Annotations: ann},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, AcquireTime: &now, RenewTime: &now}}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	maps.Copy(l.Annotations, ann)
	l.Spec.HolderIdentity, l.Spec.AcquireTime, l.Spec.RenewTime = &holder, &now, &now
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}

// isPodAddress says whether ip is in a pod CIDR (this node's or a peer's): pods may not use the remote API.
func (a *Agent) isPodAddress(ip net.IP) bool {
	if a.node.PodCIDR != nil && a.node.PodCIDR.Contains(ip) {
		return true
	}
	if a.peers != nil {
		for _, p := range a.peers.Peers() {
			for _, c := range p.PodCIDRs {
				if c.Contains(ip) {
					return true
				}
			}
		}
	}
	return false
}

// selfSignedCert makes the remote API's certificate (ECDSA P-256, a year, for the node's name and address) and
// returns it with the hex SHA-256 of its DER, which clients pin.
func selfSignedCert(node string, ip net.IP, now time.Time) (tls.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, "", err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "switchyard-agent " + node},
		NotBefore: now.Add(-time.Minute), NotAfter: now.AddDate(1, 0, 0), DNSNames: []string{node}, IPAddresses: []net.IP{ip},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("self-signed certificate: %w", err)
	}
	sum := sha256.Sum256(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, hex.EncodeToString(sum[:]), nil
}
