package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DeniedCount is the packets NetworkPolicy dropped for one isolated pod in one direction, attributed to one of
// the policies isolating it.
type DeniedCount struct {
	Policy, Pod, Direction string
	Packets                uint64
}

// DeniedSource reads the denied-packet counters at scrape time (the default-drop flows' counters).
type DeniedSource func(ctx context.Context) ([]DeniedCount, error)

var descDenied = prometheus.NewDesc("switchyard_denied_packets_total",
	"Packets of new connections NetworkPolicy dropped, per isolated local pod and direction (ingress, egress), under each policy that isolates the pod. The counter restarts when the pod's drop flow is reinstalled.",
	[]string{"policy", "pod", "direction"}, nil)

// ObserveDenied exports switchyard_denied_packets_total from src. Call it once.
func (m *Metrics) ObserveDenied(src DeniedSource) { m.reg.MustRegister(deniedCollector{src}) }

type deniedCollector struct{ src DeniedSource }

func (d deniedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descDenied }

func (d deniedCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := d.src(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descDenied, err)
		return
	}
	for _, c := range counts {
		ch <- prometheus.MustNewConstMetric(descDenied, prometheus.CounterValue, float64(c.Packets), c.Policy, c.Pod, c.Direction)
	}
}
