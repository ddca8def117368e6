package agent

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	metrics "github.com/hashicorp/go-metrics"
	"github.com/hashicorp/go-metrics/prometheus"
	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/shoalproject/shoal/agent/config"
)

// telemetry holds the agent's metric sinks: an in-memory one for the JSON
// view of /v1/agent/metrics, a Prometheus one for ?format=prometheus, and
// the statsd and statsite sinks the telemetry block asks for.
//
// Raft, Serf and memberlist emit through go-metrics' process-wide sink, so
// newTelemetry installs these sinks globally; in a process running several
// agents (tests) the last one started receives those.
type telemetry struct {
	inmem    *metrics.InmemSink
	registry *prom.Registry
	// remote are the statsd and statsite sinks, stopped by shutdown.
	remote []*closableSink
}

func newTelemetry(cfg config.Telemetry, logger hclog.Logger) (*telemetry, error) {
	reg := prom.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	retention := cfg.PrometheusRetentionTime
	if retention == 0 {
		retention = time.Minute
	}
	ps, err := prometheus.NewPrometheusSinkFrom(prometheus.PrometheusOpts{Expiration: retention, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("agent: prometheus sink: %w", err)
	}
	t := &telemetry{inmem: metrics.NewInmemSink(10*time.Second, time.Minute), registry: reg}
	sinks := metrics.FanoutSink{t.inmem, ps}
	if cfg.StatsdAddress != "" {
		s, err := metrics.NewStatsdSinkWithLogger(cfg.StatsdAddress, logger.Named("statsd"))
		if err != nil {
			return nil, fmt.Errorf("agent: statsd sink: %w", err)
		}
		t.remote = append(t.remote, &closableSink{MetricSink: s, stop: s.Shutdown})
	}
	if cfg.StatsiteAddress != "" {
		s, err := metrics.NewStatsiteSinkWithLogger(cfg.StatsiteAddress, logger.Named("statsite"))
		if err != nil {
			t.shutdown()
			return nil, fmt.Errorf("agent: statsite sink: %w", err)
		}
		t.remote = append(t.remote, &closableSink{MetricSink: s, stop: s.Shutdown})
	}
	for _, s := range t.remote {
		sinks = append(sinks, s)
	}
	mc := metrics.DefaultConfig(cfg.MetricsPrefix)
	mc.EnableHostname = false
	mc.EnableRuntimeMetrics = true
	mc.FilterDefault = cfg.FilterDefault
	mc.AllowedPrefixes, mc.BlockedPrefixes = cfg.Filters()
	if _, err := metrics.NewGlobal(mc, sinks); err != nil {
		t.shutdown()
		return nil, fmt.Errorf("agent: metrics: %w", err)
	}
	return t, nil
}

// prometheusHandler serves the Prometheus text format.
func (t *telemetry) prometheusHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{})
}

// shutdown stops the statsd and statsite sinks.
func (t *telemetry) shutdown() {
	for _, s := range t.remote {
		s.close()
	}
}

// closableSink drops what it is sent once closed. go-metrics' statsd and
// statsite sinks panic when sent a metric after Shutdown, and the
// process-wide sink may still hold this one (Raft goroutines that have not
// stopped yet, or a later agent of the same process that failed to start).
type closableSink struct {
	metrics.MetricSink
	stop func()

	mu     sync.RWMutex
	closed bool
}

func (s *closableSink) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.stop()
	}
}

// send runs f unless the sink is closed.
func (s *closableSink) send(f func()) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.closed {
		f()
	}
}

func (s *closableSink) SetGauge(key []string, val float32) {
	s.send(func() { s.MetricSink.SetGauge(key, val) })
}

func (s *closableSink) SetGaugeWithLabels(key []string, val float32, labels []metrics.Label) {
	s.send(func() { s.MetricSink.SetGaugeWithLabels(key, val, labels) })
}

func (s *closableSink) SetPrecisionGauge(key []string, val float64) {
	s.send(func() { setPrecisionGauge(s.MetricSink, key, val, nil) })
}

func (s *closableSink) SetPrecisionGaugeWithLabels(key []string, val float64, labels []metrics.Label) {
	s.send(func() { setPrecisionGauge(s.MetricSink, key, val, labels) })
}

func (s *closableSink) EmitKey(key []string, val float32) {
	s.send(func() { s.MetricSink.EmitKey(key, val) })
}

func (s *closableSink) IncrCounter(key []string, val float32) {
	s.send(func() { s.MetricSink.IncrCounter(key, val) })
}

func (s *closableSink) IncrCounterWithLabels(key []string, val float32, labels []metrics.Label) {
	s.send(func() { s.MetricSink.IncrCounterWithLabels(key, val, labels) })
}

func (s *closableSink) AddSample(key []string, val float32) {
	s.send(func() { s.MetricSink.AddSample(key, val) })
}

func (s *closableSink) AddSampleWithLabels(key []string, val float32, labels []metrics.Label) {
	s.send(func() { s.MetricSink.AddSampleWithLabels(key, val, labels) })
}

// setPrecisionGauge sets a float64 gauge where the sink has them and, as
// go-metrics' FanoutSink, drops it where it has not.
func setPrecisionGauge(sink metrics.MetricSink, key []string, val float64, labels []metrics.Label) {
	if p, ok := sink.(metrics.PrecisionGaugeMetricSink); ok {
		p.SetPrecisionGaugeWithLabels(key, val, labels)
	}
}
