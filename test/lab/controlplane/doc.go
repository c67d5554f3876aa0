// Package controlplane runs the lab's Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) as detached background processes, optionally inside a network namespace.
//
// The binaries come from test/controlplane/build.sh (a separate Go module, so this package and the main module
// never import k8s.io/kubernetes). Start generates everything the processes need under Config.Dir (a CA, the
// apiserver's serving certificate, a service-account key pair, a static token file, kubeconfigs), starts the
// processes in dependency order and waits until the cluster is usable. The processes outlive the caller; Attach
// re-opens a running control plane from its Dir, and Stop shuts it down in reverse order.
//
// Layout of Dir:
//
//	controlplane.json   the Config the control plane was started with
//	pki/                ca.crt ca.key apiserver.crt apiserver.key sa.pub sa.key, client certificates
//	tokens.csv          the apiserver's static token file
//	kubeconfigs/        admin.kubeconfig, controller-manager.kubeconfig, scheduler.kubeconfig, others on demand
//	etcd/               etcd's data directory
//	logs/<name>.log     each process's stdout and stderr
//	run/<name>.pid      each process's pid
//
// There is no kube-proxy and no cloud controller: Services are Switchyard's job.
package controlplane
