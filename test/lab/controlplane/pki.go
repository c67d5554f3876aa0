package controlplane

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// certValidity is how long every lab certificate is valid; the lab is short-lived but may be left running.
const certValidity = 5 * 365 * 24 * time.Hour

// authority is the lab's CA: it signs the apiserver's serving certificate and client certificates, and clients
// trust it.
type authority struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
}

// loadOrCreateCA reads the CA from certPath and keyPath, or creates and writes a new one when neither exists, so
// a control plane restarted from the same Dir keeps its identity and old kubeconfigs keep working.
func loadOrCreateCA(certPath, keyPath string) (*authority, error) {
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	if certErr == nil && keyErr == nil {
		return parseCA(certPEM, keyPEM)
	}
	if !errors.Is(certErr, os.ErrNotExist) || !errors.Is(keyErr, os.ErrNotExist) {
		return nil, fmt.Errorf("CA: need both or neither of %s and %s: %v / %v", certPath, keyPath, certErr, keyErr)
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "switchyard-lab-" + strings.TrimSuffix(filepath.Base(certPath), ".crt")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if tmpl.SerialNumber, err = serial(); err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeKeyPair(certPath, certPEM, keyPath, key); err != nil {
		return nil, err
	}
	return parseCA(certPEM, mustMarshalKey(key))
}

// parseCA decodes a PEM certificate and EC private key.
func parseCA(certPEM, keyPEM []byte) (*authority, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, fmt.Errorf("CA certificate: no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, fmt.Errorf("CA key: no PEM block")
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	return &authority{cert: cert, certPEM: certPEM, key: key}, nil
}

// issue signs a new leaf certificate for a fresh key and writes both as PEM files. Serving certificates get
// ips and dnsNames as SANs; client certificates carry the user as CN and the groups as O.
func (a *authority) issue(certPath, keyPath string, subject pkix.Name, ips []net.IP, dnsNames []string,
	usage x509.ExtKeyUsage) error {
	key, err := newKey()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		Subject:     subject,
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(certValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: ips,
		DNSNames:    dnsNames,
	}
	if tmpl.SerialNumber, err = serial(); err != nil {
		return err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return fmt.Errorf("sign certificate for %q: %w", subject.CommonName, err)
	}
	return writeKeyPair(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPath, key)
}

// loadOrCreateServiceAccountKey makes sure the service-account signing key pair exists: the private key (PEM EC
// key) signs tokens in the apiserver and kube-controller-manager, the public key (PEM PKIX) verifies them.
func loadOrCreateServiceAccountKey(pubPath, keyPath string) error {
	_, pubErr := os.Stat(pubPath)
	_, keyErr := os.Stat(keyPath)
	if pubErr == nil && keyErr == nil {
		return nil
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return fmt.Errorf("marshal service-account public key: %w", err)
	}
	return writeKeyPair(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), keyPath, key)
}

// newKey makes an ECDSA P-256 key: fast to generate and accepted everywhere Kubernetes takes a key.
func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ECDSA key: %w", err)
	}
	return key, nil
}

// serial returns a random 128-bit certificate serial number.
func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return n, nil
}

// mustMarshalKey encodes an EC key as PEM; it cannot fail for a key from newKey.
func mustMarshalKey(key *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		panic(fmt.Sprintf("marshal ECDSA P-256 key: %v", err))
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// writeKeyPair writes a PEM certificate or public key (0644) and a private key (0600).
func writeKeyPair(certPath string, certPEM []byte, keyPath string, key *ecdsa.PrivateKey) error {
	if err := writeFile(keyPath, mustMarshalKey(key), 0o600); err != nil {
		return err
	}
	return writeFile(certPath, certPEM, 0o644)
}
