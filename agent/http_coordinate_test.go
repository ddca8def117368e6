package agent

import (
	"slices"
	"testing"
	"time"
)

func TestSortNear(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name  string
		rtt   map[string]time.Duration
		nodes []string
		want  []string
	}{
		{"nearest first", map[string]time.Duration{"a": 3 * ms, "b": 1 * ms, "c": 2 * ms}, []string{"a", "b", "c"}, []string{"b", "c", "a"}},
		{"unknown nodes last, in order", map[string]time.Duration{"b": 1 * ms}, []string{"x", "b", "y"}, []string{"b", "x", "y"}},
		{"ties keep their order", map[string]time.Duration{"a": ms, "b": ms, "c": 0}, []string{"a", "b", "c"}, []string{"c", "a", "b"}},
		{"no near: untouched", nil, []string{"c", "a", "b"}, []string{"c", "a", "b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := slices.Clone(tc.nodes)
			sortNear(tc.rtt, got, func(s string) string { return s })
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
