package networkpolicy

import (
	"net/netip"
	"strconv"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
	"github.com/switchyard-net/switchyard/policy"
)

// Logged denials (docs/networkpolicy.md, "Drop visibility"): the default-drop flow of an isolated local pod sends
// denied packets to the agent (flows.PolicyDropPodLogged) when the node logs every denial (Config.LogDenied) or
// when one of the policies isolating the pod in that direction carries LogDeniedAnnotation: "true".

// LogDeniedAnnotation on a NetworkPolicy asks the agents to log the connections denied to the pods it isolates.
const LogDeniedAnnotation = "switchyard.io/log-denied"

// logsDenied says whether np asks for its denials to be logged.
func logsDenied(np *networkingv1.NetworkPolicy) bool {
	v, ok := np.Annotations[LogDeniedAnnotation]
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// noteLogging records whether a policy asks for logging (deleted: it no longer exists). When that changes, or a
// logged policy changes at all (its isolation may have changed), every local pod's drop flows are recomputed.
func (c *Controller) noteLogging(np *networkingv1.NetworkPolicy, deleted bool) {
	key := policy.PolicyKey{Namespace: np.Namespace, Name: np.Name}
	logs := !deleted && logsDenied(np)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !logs && !c.logged[key] {
		return
	}
	if logs {
		c.logged[key] = true
	} else {
		delete(c.logged, key)
	}
	c.relog = true
}

// takeRelog marks every local pod's owner when the logged policies changed since the last call.
func (c *Controller) takeRelog() {
	c.mu.Lock()
	relog := c.relog
	c.relog = false
	c.mu.Unlock()
	if relog {
		for key := range c.comp.pods {
			c.comp.mark(podOwner(key))
		}
	}
}

// logDenied says whether the denials of the local pod at ip in direction d are logged.
func (c *Controller) logDenied(ip netip.Addr, d policy.Direction) bool {
	if !c.cfg.DeniedLogging {
		return false
	}
	if c.cfg.LogDenied {
		return true
	}
	isolators := c.model.Isolators(ip, d)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range isolators {
		if c.logged[k] {
			return true
		}
	}
	return false
}

// dropFlow is the default-drop flow of an isolated local pod: logged or plain.
func (c *compiler) dropFlow(d policy.Direction, lp localPod) openflow.Flow {
	if c.logDenied != nil && c.logDenied(lp.ip, d) {
		return flows.PolicyDropPodLogged(direction(d), lp.ofport)
	}
	return flows.PolicyDropPod(direction(d), lp.ofport)
}

// DeniedAt names what decided a denied packet that the default-drop flow with cookie sent to the agent from table
// (EgressRule or IngressRule): the local pod, the direction and the policies isolating the pod.
func (c *Controller) DeniedAt(table uint8, cookie uint64, ownerOf func(cookie uint64) (flows.Owner, bool)) (pod string, d policy.Direction, isolators []policy.PolicyKey, ok bool) {
	return c.deniedAt(table, cookie, ownerOf, c.podIP)
}

func (c *Controller) deniedAt(table uint8, cookie uint64, ownerOf func(cookie uint64) (flows.Owner, bool),
	ipOf func(podKey string) (netip.Addr, bool)) (string, policy.Direction, []policy.PolicyKey, bool) {
	var d policy.Direction
	switch table {
	case flows.EgressRule.ID:
		d = policy.Egress
	case flows.IngressRule.ID:
		d = policy.Ingress
	default:
		return "", 0, nil, false
	}
	owner, ok := ownerOf(cookie)
	if !ok {
		return "", d, nil, false
	}
	pod, ok := PodOfOwner(owner)
	if !ok {
		return "", d, nil, false
	}
	ip, ok := ipOf(pod)
	if !ok {
		return pod, d, nil, true
	}
	return pod, d, c.model.Isolators(ip, d), true
}
