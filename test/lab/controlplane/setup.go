package controlplane

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"strconv"
)

// apiserverDNSNames are the DNS SANs of the apiserver's serving certificate: the in-cluster names of the
// kubernetes Service, and localhost for forwarders on a host's loopback.
var apiserverDNSNames = []string{
	"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost",
}

// kubeletClientUser is the identity the apiserver presents to kubelets (logs, exec); a cluster admin, as kubeadm
// makes it.
const kubeletClientUser = "kube-apiserver-kubelet-client"

// frontProxyClientName is the identity the apiserver presents to aggregated API servers.
const frontProxyClientName = "front-proxy-client"

// prepare writes everything the processes read: the CA and service-account keys (kept if they exist), a fresh
// apiserver serving certificate for the current addresses, the token file and the components' kubeconfigs.
// It returns the CA and the static users' tokens.
func prepare(cfg Config) (*authority, map[string]tokenUser, error) {
	l := layout(cfg.Dir)
	ca, err := loadOrCreateCA(l.pki("ca.crt"), l.pki("ca.key"))
	if err != nil {
		return nil, nil, err
	}
	if err := loadOrCreateServiceAccountKey(l.pki("sa.pub"), l.pki("sa.key")); err != nil {
		return nil, nil, err
	}
	serviceIP, err := firstServiceIP(cfg.ServiceCIDR)
	if err != nil {
		return nil, nil, err
	}
	ips := []net.IP{net.ParseIP(cfg.AdvertiseIP), net.IPv4(127, 0, 0, 1), serviceIP}
	if err := ca.issue(l.pki("apiserver.crt"), l.pki("apiserver.key"), pkix.Name{CommonName: "kube-apiserver"},
		ips, apiserverDNSNames, x509.ExtKeyUsageServerAuth); err != nil {
		return nil, nil, fmt.Errorf("apiserver serving certificate: %w", err)
	}
	if err := ca.issue(l.pki("apiserver-kubelet-client.crt"), l.pki("apiserver-kubelet-client.key"),
		pkix.Name{CommonName: kubeletClientUser, Organization: []string{"system:masters"}}, nil, nil,
		x509.ExtKeyUsageClientAuth); err != nil {
		return nil, nil, fmt.Errorf("apiserver kubelet client certificate: %w", err)
	}
	// The front-proxy CA lets the apiserver proxy to aggregated APIs, and its presence in the
	// extension-apiserver-authentication ConfigMap keeps the controller-manager's and scheduler's delegated
	// authentication from complaining about a missing request-header CA. A separate CA, as kubeadm does.
	frontProxy, err := loadOrCreateCA(l.pki("front-proxy-ca.crt"), l.pki("front-proxy-ca.key"))
	if err != nil {
		return nil, nil, fmt.Errorf("front-proxy CA: %w", err)
	}
	if err := frontProxy.issue(l.pki("front-proxy-client.crt"), l.pki("front-proxy-client.key"),
		pkix.Name{CommonName: frontProxyClientName}, nil, nil, x509.ExtKeyUsageClientAuth); err != nil {
		return nil, nil, fmt.Errorf("front-proxy client certificate: %w", err)
	}
	users, err := loadOrCreateTokens(l.tokenFile())
	if err != nil {
		return nil, nil, err
	}
	server := apiserverURL(cfg.AdvertiseIP, cfg.SecurePort)
	for file, user := range map[string]string{
		"admin":              "admin",
		"controller-manager": "system:kube-controller-manager",
		"scheduler":          "system:kube-scheduler",
	} {
		if err := writeKubeconfig(l.kubeconfig(file), server, ca.certPEM, user,
			credentials{Token: users[user].Token}); err != nil {
			return nil, nil, err
		}
	}
	return ca, users, nil
}

// apiserverURL is the https URL of an apiserver at ip:port.
func apiserverURL(ip string, port int) string {
	return "https://" + net.JoinHostPort(ip, strconv.Itoa(port))
}
