package proxy

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/switchyard-net/switchyard/flows"
)

// ServiceView is one Service as this node's proxy serves it (yardctl services).
type ServiceView struct {
	Key string // namespace/name
	// Ignored says why the proxy does not serve it ("headless", "ExternalName", "served by proxy x"); "" if it does.
	Ignored string
	// LoadBalancers are the installed load balancers: group id, entry points, endpoints (the group's buckets).
	LoadBalancers []flows.LoadBalancer
	// Reject are the entry points without any endpoint, which the host's nftables refuses.
	Reject []HostEntry
}

// View lists every Service the informer knows, sorted by key, with what the proxy installed for it.
func (c *Controller) View() ([]ServiceView, error) {
	svcs, err := c.services.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ServiceView, 0, len(svcs))
	for _, svc := range svcs {
		key := svc.Namespace + "/" + svc.Name
		out = append(out, ServiceView{Key: key, Ignored: Ignored(svc), LoadBalancers: slices.Clone(c.lbs[key]),
			Reject: slices.Clone(c.hosts[key].Reject)})
	}
	slices.SortFunc(out, func(a, b ServiceView) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}
