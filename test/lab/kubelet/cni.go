package kubelet

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

// cniNetwork invokes the node's CNI plugins through libcni, as containerd does: the first *.conflist in the
// configuration directory (read on every call, since the agent may rewrite it), plugins from the bin directory,
// results cached in the cache directory.
type cniNetwork struct {
	confDir string
	cni     *libcni.CNIConfig
}

func newCNINetwork(confDir, binDir, cacheDir string) *cniNetwork {
	return &cniNetwork{confDir: confDir, cni: libcni.NewCNIConfigWithCacheDir([]string{binDir}, cacheDir, nil)}
}

// conflist loads the first conflist of the configuration directory in lexical order.
func (n *cniNetwork) conflist() (*libcni.NetworkConfigList, error) {
	files, err := filepath.Glob(filepath.Join(n.confDir, "*.conflist"))
	if err != nil {
		return nil, fmt.Errorf("cni: listing %s: %w", n.confDir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("cni: no network config (*.conflist) in %s", n.confDir)
	}
	sort.Strings(files)
	list, err := libcni.ConfListFromFile(files[0])
	if err != nil {
		return nil, fmt.Errorf("cni: loading %s: %w", files[0], err)
	}
	return list, nil
}

func (n *cniNetwork) Ready() error {
	_, err := n.conflist()
	return err
}

// runtimeConf is what containerd passes for a pod sandbox.
func runtimeConf(a attachment) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: a.SandboxID,
		NetNS:       a.NetnsPath,
		IfName:      podIfName,
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", a.PodNamespace},
			{"K8S_POD_NAME", a.PodName},
			{"K8S_POD_INFRA_CONTAINER_ID", a.SandboxID},
			{"K8S_POD_UID", string(a.PodUID)},
		},
	}
}

func (n *cniNetwork) Add(ctx context.Context, a attachment) ([]string, error) {
	list, err := n.conflist()
	if err != nil {
		return nil, err
	}
	res, err := n.cni.AddNetworkList(ctx, list, runtimeConf(a))
	if err != nil {
		return nil, fmt.Errorf("cni: ADD %s for pod %s/%s: %w", list.Name, a.PodNamespace, a.PodName, err)
	}
	ips, err := podIPs(res)
	if err != nil {
		return nil, fmt.Errorf("cni: ADD %s for pod %s/%s: %w", list.Name, a.PodNamespace, a.PodName, err)
	}
	return ips, nil
}

func (n *cniNetwork) Check(ctx context.Context, a attachment) error {
	list, err := n.conflist()
	if err != nil {
		return err
	}
	if err := n.cni.CheckNetworkList(ctx, list, runtimeConf(a)); err != nil {
		return fmt.Errorf("cni: CHECK %s for pod %s/%s: %w", list.Name, a.PodNamespace, a.PodName, err)
	}
	return nil
}

func (n *cniNetwork) Del(ctx context.Context, a attachment) error {
	list, err := n.conflist()
	if err != nil {
		return err
	}
	if err := n.cni.DelNetworkList(ctx, list, runtimeConf(a)); err != nil {
		return fmt.Errorf("cni: DEL %s for pod %s/%s: %w", list.Name, a.PodNamespace, a.PodName, err)
	}
	return nil
}

func (n *cniNetwork) GC(ctx context.Context, valid []attachment) error {
	list, err := n.conflist()
	if err != nil {
		return err
	}
	args := &libcni.GCArgs{}
	for _, a := range valid {
		args.ValidAttachments = append(args.ValidAttachments, types.GCAttachment{ContainerID: a.SandboxID, IfName: podIfName})
	}
	if err := n.cni.GCNetworkList(ctx, list, args); err != nil {
		return fmt.Errorf("cni: GC %s: %w", list.Name, err)
	}
	return nil
}

// podIPs returns the addresses the result puts on interfaces inside the sandbox (all of them when the result
// names no interfaces).
func podIPs(res types.Result) ([]string, error) {
	r, err := types100.NewResultFromResult(res)
	if err != nil {
		return nil, fmt.Errorf("converting the result: %w", err)
	}
	var ips []string
	for _, ipc := range r.IPs {
		if ipc.Interface != nil && *ipc.Interface >= 0 && *ipc.Interface < len(r.Interfaces) &&
			r.Interfaces[*ipc.Interface].Sandbox == "" {
			continue // an address on a host-side interface
		}
		ips = append(ips, ipc.Address.IP.String())
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("the result has no pod IP")
	}
	return ips, nil
}
