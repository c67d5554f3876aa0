package controlplane

import (
	"fmt"
	"strconv"
	"strings"
)

// controllers are the kube-controller-manager controllers the lab runs: node pod CIDRs, EndpointSlices (what
// Switchyard's Service load balancing reads), namespaces, service accounts and their tokens, the kube-root-ca.crt
// ConfigMap projected service-account volumes need, the workload controllers, and garbage collection. The
// node-lifecycle controller keeps the node.kubernetes.io/not-ready and unreachable taints in step with the Ready
// condition (the TaintNodesByCondition admission puts not-ready on every new Node, so without it nothing would ever
// schedule); taint-based eviction is a separate controller the lab leaves out, so a stopped kubelet never has its
// pods evicted. No cloud controllers.
var controllers = []string{
	"node-ipam-controller",
	"node-lifecycle-controller",
	"endpointslice-controller",
	"endpointslice-mirroring-controller",
	"namespace-controller",
	"serviceaccount-controller",
	"serviceaccount-token-controller",
	"root-ca-certificate-publisher-controller",
	"garbage-collector-controller",
	"pod-garbage-collector-controller",
	"replicaset-controller",
	"deployment-controller",
	"daemonset-controller",
	"ttl-controller",
}

// serviceAccountIssuer is the issuer of service-account tokens (the conventional in-cluster apiserver URL).
const serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// etcdArgs are etcd's flags: data in Dir, clients and peers on loopback only.
func etcdArgs(cfg Config) []string {
	l := layout(cfg.Dir)
	return []string{
		"--name=lab",
		"--data-dir=" + l.etcdDataDir(),
		"--listen-client-url=" + etcdClientURL(cfg),
		fmt.Sprintf("--listen-peer-url=http://127.0.0.1:%d", cfg.EtcdPeerPort),
	}
}

// etcdClientURL is where etcd serves clients (the apiserver) inside Netns.
func etcdClientURL(cfg Config) string {
	return fmt.Sprintf("http://127.0.0.1:%d", cfg.EtcdClientPort)
}

// apiserverArgs are kube-apiserver's flags: TLS from the lab CA, static tokens and client certificates for
// authentication, Node and RBAC authorization, the default admission plugins, and service-account tokens.
func apiserverArgs(cfg Config) []string {
	l := layout(cfg.Dir)
	args := []string{
		"--etcd-servers=" + etcdClientURL(cfg),
		"--bind-address=" + cfg.AdvertiseIP,
		"--advertise-address=" + cfg.AdvertiseIP,
		"--secure-port=" + strconv.Itoa(cfg.SecurePort),
		"--tls-cert-file=" + l.pki("apiserver.crt"),
		"--tls-private-key-file=" + l.pki("apiserver.key"),
		"--client-ca-file=" + l.pki("ca.crt"),
		"--token-auth-file=" + l.tokenFile(),
		"--authorization-mode=Node,RBAC",
		"--service-cluster-ip-range=" + cfg.ServiceCIDR,
		"--service-account-issuer=" + serviceAccountIssuer,
		"--service-account-key-file=" + l.pki("sa.pub"),
		"--service-account-signing-key-file=" + l.pki("sa.key"),
		"--kubelet-client-certificate=" + l.pki("apiserver-kubelet-client.crt"),
		"--kubelet-client-key=" + l.pki("apiserver-kubelet-client.key"),
		"--requestheader-client-ca-file=" + l.pki("front-proxy-ca.crt"),
		"--requestheader-allowed-names=" + frontProxyClientName,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + l.pki("front-proxy-client.crt"),
		"--proxy-client-key-file=" + l.pki("front-proxy-client.key"),
		"--allow-privileged=true", // Switchyard's agent runs privileged
		"--profiling=false",
	}
	if cfg.advertiseIsLoopback() {
		// The lease reconciler would publish the loopback address as the kubernetes Service's endpoint, which
		// the apiserver refuses; with none, that Service simply has no endpoints.
		args = append(args, "--endpoint-reconciler-type=none")
	}
	return args
}

// controllerManagerArgs are kube-controller-manager's flags: node pod CIDRs from ClusterCIDR, per-controller
// service-account credentials, the key that signs service-account tokens and the CA they carry.
func controllerManagerArgs(cfg Config) []string {
	l := layout(cfg.Dir)
	kubeconfig := l.kubeconfig("controller-manager")
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--leader-elect=false",
		"--controllers=" + strings.Join(controllers, ","),
		"--use-service-account-credentials=true",
		"--allocate-node-cidrs=true",
		"--cluster-cidr=" + cfg.ClusterCIDR,
		"--node-cidr-mask-size=" + strconv.Itoa(cfg.NodeCIDRMaskSize),
		"--service-cluster-ip-range=" + cfg.ServiceCIDR,
		"--service-account-private-key-file=" + l.pki("sa.key"),
		"--root-ca-file=" + l.pki("ca.crt"),
		"--profiling=false",
	}
}

// schedulerArgs are kube-scheduler's flags.
func schedulerArgs(cfg Config) []string {
	kubeconfig := layout(cfg.Dir).kubeconfig("scheduler")
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--leader-elect=false",
		"--profiling=false",
	}
}
