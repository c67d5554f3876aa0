package controlplane

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"k8s.io/client-go/rest"
)

// RESTConfig is a cluster-admin client-go configuration for Server. When the control plane runs in a network
// namespace, its connections are opened inside that namespace, so it works from any namespace of the caller.
func (c *ControlPlane) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            c.Server(),
		BearerToken:     c.users["admin"].Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.ca.certPEM},
		Dial:            dialer(c.cfg.netnsPath()),
		QPS:             50,
		Burst:           100,
	}
}

// httpClient is an HTTP client that trusts the lab CA and dials inside Netns, for health checks.
func (c *ControlPlane) httpClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(c.ca.cert)
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialContext:       dialer(c.cfg.netnsPath()),
			TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true,
		},
	}
}

// KubeconfigFor writes a cluster-admin kubeconfig whose server is server (for example a forwarder on the
// host's loopback, https://127.0.0.1:16443; the serving certificate names 127.0.0.1 and localhost) and returns
// its path in Dir.
func (c *ControlPlane) KubeconfigFor(server string) (string, error) {
	name, err := kubeconfigName("admin", server)
	if err != nil {
		return "", err
	}
	path := layout(c.cfg.Dir).kubeconfig(name)
	if err := writeKubeconfig(path, server, c.ca.certPEM, "admin", credentials{Token: c.users["admin"].Token}); err != nil {
		return "", err
	}
	return path, nil
}

// KubeconfigForUser issues a client certificate from the lab CA for user in groups (for example
// "system:node:lab-1" in "system:nodes" for a kubelet, which the Node authorizer requires), writes a
// kubeconfig with it for server ("" means Server) and returns its path in Dir.
func (c *ControlPlane) KubeconfigForUser(user string, groups []string, server string) (string, error) {
	if user == "" {
		return "", fmt.Errorf("kubeconfig for user: empty user name")
	}
	if server == "" {
		server = c.Server()
	}
	name, err := kubeconfigName(user, server)
	if err != nil {
		return "", err
	}
	l := layout(c.cfg.Dir)
	certPath, keyPath := l.pki("client-"+name+".crt"), l.pki("client-"+name+".key")
	if err := c.ca.issue(certPath, keyPath, pkix.Name{CommonName: user, Organization: groups}, nil, nil,
		x509.ExtKeyUsageClientAuth); err != nil {
		return "", fmt.Errorf("kubeconfig for user %q: %w", user, err)
	}
	creds, err := readPEMPair(certPath, keyPath)
	if err != nil {
		return "", fmt.Errorf("kubeconfig for user %q: %w", user, err)
	}
	path := l.kubeconfig(name)
	if err := writeKubeconfig(path, server, c.ca.certPEM, user, creds); err != nil {
		return "", err
	}
	return path, nil
}

// unsafeChars are the characters replaced in derived file names.
var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// kubeconfigName derives a file name from a user and an https server URL, e.g. admin-127.0.0.1-16443.
func kubeconfigName(user, server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("kubeconfig server %q: want https://host:port", server)
	}
	return unsafeChars.ReplaceAllString(user+"-"+u.Hostname()+"-"+u.Port(), "_"), nil
}
