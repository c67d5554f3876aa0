package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SuppressedSource reads, at scrape time, the denied-connection log lines the agent's token bucket dropped and the
// packets the OVS meter dropped on their way to the agent.
type SuppressedSource func(ctx context.Context) (agent, meter uint64, err error)

var descDeniedLogSuppressed = prometheus.NewDesc("switchyard_denied_log_suppressed_total",
	"Denied-connection log lines not written because of the rate limit (deniedLogRate), by the limit that dropped them: the OVS meter on the way to the agent (restarts with ovs-vswitchd) or the agent's token bucket.",
	[]string{"by"}, nil)

// ObserveDeniedLogSuppressed exports switchyard_denied_log_suppressed_total from src. Call it once.
func (m *Metrics) ObserveDeniedLogSuppressed(src SuppressedSource) {
	m.reg.MustRegister(suppressedCollector{src})
}

type suppressedCollector struct{ src SuppressedSource }

func (s suppressedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descDeniedLogSuppressed }

func (s suppressedCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	agent, meter, err := s.src(ctx)
	ch <- prometheus.MustNewConstMetric(descDeniedLogSuppressed, prometheus.CounterValue, float64(agent), "agent")
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descDeniedLogSuppressed, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(descDeniedLogSuppressed, prometheus.CounterValue, float64(meter), "meter")
}
