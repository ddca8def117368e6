package ui

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	cases := []struct {
		name, method, path, ifNoneMatch string
		code                            int
		ctype                           string
	}{
		{"index", "GET", "/ui/", "", 200, "text/html; charset=utf-8"},
		{"index by name", "GET", "/ui/index.html", "", 200, "text/html; charset=utf-8"},
		{"module", "GET", "/ui/js/app.js", "", 200, "javascript"},
		{"stylesheet", "GET", "/ui/css/app.css", "", 200, "text/css"},
		{"head", "HEAD", "/ui/js/api.js", "", 200, "javascript"},
		{"missing", "GET", "/ui/nope.js", "", 404, ""},
		{"no listing", "GET", "/ui/js/", "", 404, ""},
		{"post", "POST", "/ui/", "", 405, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.code {
				t.Fatalf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.code)
			}
			if got := rec.Header().Get("Content-Security-Policy"); got != CSP {
				t.Errorf("CSP %q", got)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			if tc.ctype != "" && !strings.Contains(rec.Header().Get("Content-Type"), tc.ctype) {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), tc.ctype)
			}
		})
	}
}

func TestHandlerRevalidates(t *testing.T) {
	h := Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/ui/js/app.js", nil))
	etag := rec.Header().Get("ETag")
	if etag == "" || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, rec.Header().Get("Cache-Control"))
	}
	req := httptest.NewRequest("GET", "/ui/js/app.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Fatalf("revalidation: %d with %d bytes, want 304 and none", rec.Code, rec.Body.Len())
	}
}

// TestNoUnsafeSinks keeps the rule that data is rendered as text: no
// HTML-parsing sink or eval in the UI's code, no inline script, style or
// event handler in its HTML (the CSP would block them anyway), and no
// file from elsewhere (the agent may run air-gapped).
func TestNoUnsafeSinks(t *testing.T) {
	forbidden := []struct {
		ext string
		re  *regexp.Regexp
	}{
		{".js", regexp.MustCompile(`\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\(['"]style`)},
		{".html", regexp.MustCompile(`(?i)<script(?:[^>]*)>[^<\s]|\sstyle=|\son[a-z]+=|<style`)},
		{"", regexp.MustCompile(`(?i)(src|href)=["']?(https?:)?//|import\s+[^;]*from\s+['"]https?:`)},
	}
	err := fs.WalkDir(Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Files(), p)
		if err != nil {
			return err
		}
		for _, f := range forbidden {
			if f.ext != "" && !strings.HasSuffix(p, f.ext) {
				continue
			}
			if m := f.re.Find(b); m != nil {
				t.Errorf("%s contains %q", p, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
