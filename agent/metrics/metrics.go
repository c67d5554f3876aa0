// Package metrics is the agent's Prometheus metrics and health endpoints (/metrics, /healthz, /readyz), served on a
// configurable address (loopback by default: pods cannot reach it unless the operator opens it).
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Source is what the metrics read from the agent at scrape time.
type Source interface {
	Ready() (bool, string)
	OVSDBConnected() bool
	OpenFlowConnected(ctx context.Context) bool
	LocalPods() int
	FlowsPerTable(ctx context.Context) (map[string]uint64, error)
}

// Metrics holds the agent's collectors.
type Metrics struct {
	reg         *prometheus.Registry
	programming *prometheus.HistogramVec
	cni         *prometheus.HistogramVec
	reconcile   prometheus.Gauge
	remote      *prometheus.CounterVec
}

// New registers the agent's metrics reading from src.
func New(src Source) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.programming = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "switchyard_programming_duration_seconds",
		Help:    "Time to install one object's flow change in OVS (one bundle), by object kind (pod, node, service, policy, pipeline).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"kind", "result"})
	m.cni = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "switchyard_cni_duration_seconds",
		Help:    "Time the agent took to serve a CNI request, by operation (add, del, check, gc) and result.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"op", "result"})
	m.reconcile = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "switchyard_reconcile_duration_seconds",
		Help: "Duration of the last full flow reconcile (agent start).",
	})
	m.remote = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchyard_remote_api_requests_total",
		Help: "Requests to the remote API (yardctl --kubeconfig), by result: ok, unauthenticated (no or an unknown token), forbidden (no RBAC access), error (the reviews failed), and refused (connections from pod addresses, closed at once).",
	}, []string{"result"})
	m.reg.MustRegister(m.programming, m.cni, m.reconcile, m.remote, &scrape{src: src},
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// ObserveProgramming records one object's flow change.
func (m *Metrics) ObserveProgramming(kind string, took time.Duration, err error) {
	m.programming.WithLabelValues(kind, result(err)).Observe(took.Seconds())
}

// ObserveCNI records one CNI request.
func (m *Metrics) ObserveCNI(op string, took time.Duration, err error) {
	m.cni.WithLabelValues(op, result(err)).Observe(took.Seconds())
}

// ObserveRemote counts one remote API request or refused connection by its result.
func (m *Metrics) ObserveRemote(result string) { m.remote.WithLabelValues(result).Inc() }

// SetReconcile records the last reconcile's duration.
func (m *Metrics) SetReconcile(took time.Duration) { m.reconcile.Set(took.Seconds()) }

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// Serve serves /metrics, /healthz (the process answers) and /readyz (the agent is ready) on addr until ctx ends.
func (m *Metrics) Serve(ctx context.Context, addr string, src Source) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	// A collector that fails (ovs-ofctl hanging while OVS restarts) must not hide the other metrics.
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ok, why := src.Ready(); !ok {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// scrape collects the gauges read from the agent at scrape time.
type scrape struct{ src Source }

var (
	descFlows    = prometheus.NewDesc("switchyard_flows", "OpenFlow flows installed on br-int, per table.", []string{"table"}, nil)
	descOVSDB    = prometheus.NewDesc("switchyard_ovsdb_connected", "1 when the agent is connected to ovsdb-server.", nil, nil)
	descOpenFlow = prometheus.NewDesc("switchyard_openflow_connected", "1 when br-int answers OpenFlow requests.", nil, nil)
	descPods     = prometheus.NewDesc("switchyard_local_pods", "Pods attached on this node.", nil, nil)
	descReady    = prometheus.NewDesc("switchyard_agent_ready", "1 when the agent serves CNI requests.", nil, nil)
)

func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFlows, descOVSDB, descOpenFlow, descPods, descReady} {
		ch <- d
	}
}

func (s *scrape) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ready, _ := s.src.Ready()
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, b2f(ready))
	ch <- prometheus.MustNewConstMetric(descOVSDB, prometheus.GaugeValue, b2f(s.src.OVSDBConnected()))
	ch <- prometheus.MustNewConstMetric(descOpenFlow, prometheus.GaugeValue, b2f(s.src.OpenFlowConnected(ctx)))
	ch <- prometheus.MustNewConstMetric(descPods, prometheus.GaugeValue, float64(s.src.LocalPods()))
	if perTable, err := s.src.FlowsPerTable(ctx); err == nil {
		for t, n := range perTable {
			ch <- prometheus.MustNewConstMetric(descFlows, prometheus.GaugeValue, float64(n), t)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
