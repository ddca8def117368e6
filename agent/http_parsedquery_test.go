package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestQueryFollowsTheRequestsQuery: query(r) serves the values wrap
// parsed only while r still carries the query string they came from; a
// copy with another query (withQuery, the shared blocking queries) reads
// its own.
func TestQueryFollowsTheRequestsQuery(t *testing.T) {
	r := httptest.NewRequest("GET", "/v1/kv/k?index=7&stale", nil)
	pq := &parsedQuery{raw: r.URL.RawQuery, v: r.URL.Query()}
	r = r.WithContext(context.WithValue(r.Context(), parsedQueryKey{}, pq))
	cases := []struct {
		name      string
		req       *http.Request
		wantIndex string
	}{
		{"as parsed in wrap", r, "7"},
		{"index removed since", withQuery(r.Context(), r, "index", ""), ""},
		{"index changed since", withQuery(r.Context(), r, "index", "9"), "9"},
		{"never parsed", httptest.NewRequest("GET", "/v1/kv/k?index=3&stale", nil), "3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := query(tc.req)
			if got := q.Get("index"); got != tc.wantIndex {
				t.Errorf("index %q, want %q", got, tc.wantIndex)
			}
			if !q.Has("stale") {
				t.Error("?stale lost")
			}
		})
	}
}
