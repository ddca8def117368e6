package agent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shoalproject/shoal/agent/config"
)

func TestNodeID(t *testing.T) {
	const stored = "0b1c2d3e-0000-4000-8000-000000000001"
	cases := []struct {
		name       string
		configured string
		file       *string // content of node-id before; nil: none
		want       string  // "" means a new ID, which must be persisted
	}{
		{"configured wins", "ABCDEF00-0000-4000-8000-000000000002", idFile(stored), "abcdef00-0000-4000-8000-000000000002"},
		{"persisted", "", idFile(stored + "\n"), stored},
		{"none: new and persisted", "", nil, ""},
		{"empty file left by a full disk: replaced", "", idFile(""), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "node-id")
			if tc.file != nil {
				if err := os.WriteFile(path, []byte(*tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := nodeID(&config.Config{DataDir: dir, NodeID: tc.configured})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != "" {
				if got != tc.want {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
				return
			}
			b, err := os.ReadFile(path)
			if len(got) != 36 || err != nil || string(b) != got {
				t.Fatalf("new ID %q; node-id holds %q (%v)", got, b, err)
			}
			if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
				t.Fatalf("temporary file left behind: %v", err)
			}
		})
	}
}

func idFile(s string) *string { return &s }
