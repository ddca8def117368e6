package compat

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/agent/config"
)

// A Consul telemetry block that the real `consul validate` accepts loads
// in Shoal with the same meaning: Shoal's keys and value types are
// Consul's, and the keys Shoal does not implement are listed as ignored.
func TestConsulValidatesTelemetryBlock(t *testing.T) {
	bin := os.Getenv(EnvConsulBin)
	if bin == "" {
		t.Skipf("%s is not set: scripts/consul-cli.sh builds consul and runs this test", EnvConsulBin)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "telemetry.hcl")
	block := `data_dir = "` + filepath.Join(dir, "data") + `"
telemetry {
  prefix_filter             = ["-consul.raft.net", "+consul.raft.net.rpcEnqueue"]
  filter_default            = false
  metrics_prefix            = "consul"
  statsd_address            = "127.0.0.1:8125"
  statsite_address          = "127.0.0.1:8125"
  prometheus_retention_time = "24h"
  disable_hostname          = true
  dogstatsd_addr            = "127.0.0.1:8126"
  dogstatsd_tags            = ["env:test"]
  retry_failed_connection   = true
}
`
	if err := os.WriteFile(file, []byte(block), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := consulCLIEnv(t, bin, nil, "validate", file); err != nil {
		t.Fatalf("consul validate: %v\n%s", err, out)
	}
	c, err := config.Load([]string{"-bind", "127.0.0.1", "-node", "n1", "-config-file", file})
	if err != nil {
		t.Fatalf("shoal: %v", err)
	}
	want := config.Telemetry{
		PrefixFilter: []string{"-consul.raft.net", "+consul.raft.net.rpcEnqueue"}, FilterDefault: false,
		MetricsPrefix: "consul", StatsdAddress: "127.0.0.1:8125", StatsiteAddress: "127.0.0.1:8125",
		PrometheusRetentionTime: 24 * time.Hour,
	}
	if !reflect.DeepEqual(c.Telemetry, want) {
		t.Errorf("telemetry = %+v, want %+v", c.Telemetry, want)
	}
	ignored := strings.Join(c.Ignored, ",")
	if ignored != "telemetry.disable_hostname,telemetry.dogstatsd_addr,telemetry.dogstatsd_tags,telemetry.retry_failed_connection" {
		t.Errorf("ignored %q", ignored)
	}
}
