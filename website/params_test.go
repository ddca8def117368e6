package website

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/shoalproject/shoal/agent"
)

// TestQueryParams checks the parameters read from the handlers' source
// for routes whose parameters a user relies on, and that every route of
// the table was found in the source.
func TestQueryParams(t *testing.T) {
	params, err := queryParams(filepath.Join(moduleRoot(t), "agent"))
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range agent.Routes() {
		if _, ok := params[rt.Pattern]; !ok {
			t.Errorf("route %s: no handler found in agent's source", rt.Pattern)
		}
	}
	cases := []struct {
		pattern string
		want    []string
	}{
		{"/v1/kv/{key...}", []string{"acquire", "cas", "consistent", "flags", "index", "keys", "raw", "recurse", "release", "separator", "stale", "wait"}},
		{"/v1/health/service/{service...}", []string{"passing", "tag", "index", "stale"}},
		{"/v1/agent/check/pass/{id...}", []string{"note"}},
		{"/v1/operator/raft/peer", []string{"address", "id"}},
		{"/v1/shoal/allocs/{id}/logs", []string{"tail"}},
		// Read through a url.Values parameter (the agent's tokenOf).
		{"/v1/internal/acl/authorize", []string{"token"}},
	}
	for _, tc := range cases {
		t.Run(tc.pattern, func(t *testing.T) {
			for _, w := range tc.want {
				if !slices.Contains(params[tc.pattern], w) {
					t.Errorf("params %v lack %q", params[tc.pattern], w)
				}
			}
		})
	}
}
