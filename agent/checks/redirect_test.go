package checks

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestHTTPRedirects: a check follows a redirect to its own host and port,
// but not one to another host (which would let a checked service point the
// agent anywhere, CVE-2022-29153), and none with DisableRedirects.
func TestHTTPRedirects(t *testing.T) {
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		w.Write([]byte("other host"))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/", http.StatusFound)
		case "/ok":
			w.Write([]byte("fine"))
		}
	}))
	defer srv.Close()

	cases := []struct {
		name      string
		path      string
		disable   bool
		want      string
		output    string
		otherHits int32
	}{
		{"same host is followed", "/same", false, Passing, "200 OK Output: fine", 0},
		{"another host is not followed", "/away", false, Critical, "302 Found", 0},
		{"disable_redirects follows none", "/same", true, Critical, "302 Found", 0},
		{"a redirect loop ends", "/loop", false, Critical, "302 Found", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			otherHits.Store(0)
			rec := &recorder{}
			c := &HTTP{CheckID: "c", URL: srv.URL + tc.path, Timeout: 2 * time.Second, DisableRedirects: tc.disable, Notify: rec}
			c.Check()
			got := rec.last(t)
			if got.status != tc.want || !strings.Contains(got.output, tc.output) {
				t.Errorf("got %s %q, want %s containing %q", got.status, got.output, tc.want, tc.output)
			}
			if n := otherHits.Load(); n != tc.otherHits {
				t.Errorf("the other host was asked %d times, want %d", n, tc.otherHits)
			}
		})
	}
}
