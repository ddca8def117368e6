package compat

import (
	"testing"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/version"
)

// TestAgentVersionAndHost: /v1/agent/version and /v1/agent/host through
// the Go client, on servers and the client agent.
func TestAgentVersionAndHost(t *testing.T) {
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		v, err := c.Agent().Version()
		if err != nil {
			t.Fatal(err)
		}
		if v["HumanVersion"] != version.Version {
			t.Fatalf("version %v", v)
		}
		h, err := c.Agent().Host()
		if err != nil {
			t.Fatal(err)
		}
		mem, _ := h["Memory"].(map[string]any)
		host, _ := h["Host"].(map[string]any)
		disk, _ := h["Disk"].(map[string]any)
		cpus, _ := h["CPU"].([]any)
		if total, _ := mem["total"].(float64); total <= 0 {
			t.Errorf("memory %v", mem)
		}
		if host["hostname"] == "" || host["os"] != "linux" {
			t.Errorf("host %v", host)
		}
		if total, _ := disk["total"].(float64); total <= 0 {
			t.Errorf("disk %v", disk)
		}
		if len(cpus) == 0 {
			t.Errorf("no CPUs")
		}
		if errs, _ := h["Errors"].([]any); len(errs) != 0 {
			t.Errorf("errors %v", errs)
		}
	})
}
