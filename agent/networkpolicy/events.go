package networkpolicy

import (
	"context"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/switchyard-net/switchyard/agent/events"
)

// Policies the agent cannot fully realize get Warning Events (agent/events): InvalidPolicy for the parts the model
// rejected (policy.PolicyStatus.Errors; they allow nothing), UnresolvedNamedPort for named ports no selected pod
// has (Warnings; they resolve, and the Event is cleared, once such a pod appears). Named-port resolution changes
// with pods, so every policy's status is checked after a policy changes and every reportEvery.
const reportEvery = 5 * time.Second

// reportLoop reports the policies' problems until ctx ends.
func (c *Controller) reportLoop(ctx context.Context) {
	if c.cfg.Events == nil {
		return
	}
	lister := c.ifac.Networking().V1().NetworkPolicies().Lister()
	for {
		nps, err := lister.List(labels.Everything())
		if err == nil {
			for _, np := range nps {
				st, ok := c.model.Status(np.Namespace, np.Name)
				if !ok {
					continue
				}
				var errs []string
				for _, e := range st.Errors {
					errs = append(errs, e.Error())
				}
				c.cfg.Events.Report(np, "NetworkPolicy", np.Namespace, np.Name, events.InvalidPolicy, strings.Join(errs, "; "))
				c.cfg.Events.Report(np, "NetworkPolicy", np.Namespace, np.Name, events.UnresolvedNamedPort, strings.Join(st.Warnings, "; "))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-c.reportKick:
		case <-time.After(reportEvery):
		}
	}
}

// kickReport asks reportLoop for a pass now.
func (c *Controller) kickReport() {
	select {
	case c.reportKick <- struct{}{}:
	default:
	}
}
