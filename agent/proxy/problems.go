package proxy

import (
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/switchyard-net/switchyard/agent/events"
)

// Problems lists what of a Service the agent cannot program although the API server accepted it: addresses that
// are not IPv4 (ignored; the rest of the Service works), and a Service without an IPv4 ClusterIP. Ignored
// Services (ExternalName, headless, another proxy's) have none.
func Problems(svc *corev1.Service) []string {
	if Ignored(svc) != "" {
		return nil
	}
	var out []string
	if len(clusterIPs(svc)) == 0 {
		out = append(out, fmt.Sprintf("no IPv4 ClusterIP in %v: the Service gets no flows", svc.Spec.ClusterIPs))
	}
	for i, s := range svc.Spec.ExternalIPs {
		if net.ParseIP(s).To4() == nil {
			out = append(out, fmt.Sprintf("spec.externalIPs[%d] %q is not an IPv4 address; ignored", i, s))
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for i, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP != "" && net.ParseIP(in.IP).To4() == nil {
				out = append(out, fmt.Sprintf("status.loadBalancer.ingress[%d].ip %q is not an IPv4 address; ignored", i, in.IP))
			}
		}
	}
	return out
}

// reportProblems reports a Service's problems and the error that kept it from being programmed (if any) as an
// InvalidService Event, or clears them.
func (c *Controller) reportProblems(svc *corev1.Service, computeErr error) {
	probs := Problems(svc)
	if computeErr != nil {
		probs = append(probs, computeErr.Error())
	}
	c.cfg.Events.Report(svc, "Service", svc.Namespace, svc.Name, events.InvalidService, strings.Join(probs, "; "))
}
