package agent

import (
	"fmt"
	"net/http"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	"github.com/hashicorp/go-metrics/prometheus"
	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsPrefix is Consul's, so existing dashboards and alerts keep working.
const metricsPrefix = "consul"

// telemetry holds the agent's metric sinks: an in-memory one for the JSON
// view of /v1/agent/metrics and a Prometheus one for ?format=prometheus.
//
// Raft, Serf and memberlist emit through go-metrics' process-wide sink, so
// newTelemetry installs these sinks globally; in a process running several
// agents (tests) the last one started receives those.
type telemetry struct {
	inmem    *metrics.InmemSink
	registry *prom.Registry
}

func newTelemetry() (*telemetry, error) {
	reg := prom.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ps, err := prometheus.NewPrometheusSinkFrom(prometheus.PrometheusOpts{Expiration: time.Minute, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("agent: prometheus sink: %w", err)
	}
	inm := metrics.NewInmemSink(10*time.Second, time.Minute)
	cfg := metrics.DefaultConfig(metricsPrefix)
	cfg.EnableHostname = false
	cfg.EnableRuntimeMetrics = true
	if _, err := metrics.NewGlobal(cfg, metrics.FanoutSink{inm, ps}); err != nil {
		return nil, fmt.Errorf("agent: metrics: %w", err)
	}
	return &telemetry{inmem: inm, registry: reg}, nil
}

// prometheusHandler serves the Prometheus text format.
func (t *telemetry) prometheusHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{})
}
