package agent

import (
	"testing"

	"github.com/hashicorp/go-hclog"
	metrics "github.com/hashicorp/go-metrics"
	"github.com/shoalproject/shoal/agent/config"
)

// A stopped agent's statsd and statsite sinks may still be the process's
// sink (Raft goroutines emit while they stop): a metric sent to them
// after shutdown is dropped, where go-metrics' sinks would panic (a send
// on their closed queue).
func TestMetricAfterShutdownIsDropped(t *testing.T) {
	cfg := config.Default().Telemetry
	cfg.StatsdAddress, cfg.StatsiteAddress = "127.0.0.1:9", "127.0.0.1:9"
	tel, err := newTelemetry(cfg, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if len(tel.remote) != 2 {
		t.Fatalf("%d remote sinks, want 2", len(tel.remote))
	}
	tel.shutdown()
	tel.shutdown() // twice is harmless
	metrics.IncrCounter([]string{"after", "shutdown"}, 1)
	metrics.SetGauge([]string{"after", "shutdown"}, 1)
	metrics.AddSample([]string{"after", "shutdown"}, 1)
	metrics.SetPrecisionGauge([]string{"after", "shutdown"}, 1)
	metrics.EmitKey([]string{"after", "shutdown"}, 1)
}
