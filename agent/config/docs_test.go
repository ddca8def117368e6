package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocumentedExampleLoads keeps docs/configuration.md's example true:
// its HCL block must load and mean what it says.
func TestDocumentedExampleLoads(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```hcl\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/configuration.md has no hcl block")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "example.hcl")
	block = strings.Replace(block, `"/var/lib/shoal"`, `"`+filepath.Join(dir, "data")+`"`, 1)
	block = strings.ReplaceAll(block, "10.0.0.1", "127.0.0.1")
	if err := os.WriteFile(path, []byte(block), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{"-config-file", path})
	if err != nil {
		t.Fatalf("documented example: %v", err)
	}
	if !c.Server || c.BootstrapExpect != 3 || c.Ports.HTTP != 8500 || c.NodeMeta["storage"] != "ssd" ||
		len(c.Services) != 1 || !c.Overlay.Enabled || c.Overlay.CIDR != "10.42.0.0/16" {
		t.Fatalf("documented example loaded as %+v", c)
	}
}
