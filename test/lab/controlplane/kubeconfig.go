package controlplane

import (
	"fmt"
	"os"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// clusterName and contextName are the names inside every lab kubeconfig.
const (
	clusterName = "switchyard-lab"
	contextName = "switchyard-lab"
)

// credentials is how a kubeconfig's user authenticates: a bearer token, or a client certificate and key (PEM).
type credentials struct {
	Token   string
	CertPEM []byte
	KeyPEM  []byte
}

// writeKubeconfig writes a self-contained kubeconfig (the CA and credentials embedded, so it can be copied
// anywhere) for one user of server, with mode 0600.
func writeKubeconfig(path, server string, caPEM []byte, user string, creds credentials) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{
		Token:                 creds.Token,
		ClientCertificateData: creds.CertPEM,
		ClientKeyData:         creds.KeyPEM,
	}
	cfg.Contexts[contextName] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: user}
	cfg.CurrentContext = contextName
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encode kubeconfig %s: %w", path, err)
	}
	return writeFile(path, data, 0o600)
}

// readPEMPair reads a certificate and key written by authority.issue, for embedding in a kubeconfig.
func readPEMPair(certPath, keyPath string) (credentials, error) {
	cert, err := os.ReadFile(certPath)
	if err != nil {
		return credentials{}, fmt.Errorf("read client certificate: %w", err)
	}
	key, err := os.ReadFile(keyPath)
	if err != nil {
		return credentials{}, fmt.Errorf("read client key: %w", err)
	}
	return credentials{CertPEM: cert, KeyPEM: key}, nil
}
