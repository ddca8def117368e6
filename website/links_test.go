package website

import (
	"strings"
	"testing"
)

func TestCheckLinks(t *testing.T) {
	page := func(body string) []byte { return []byte("<!doctype html><html><body>" + body + "</body></html>") }
	cases := []struct {
		name  string
		files map[string][]byte
		want  []string // substrings of the problems, in order; none for a clean site
	}{
		{"clean", map[string][]byte{
			"index.html":     page(`<a href="guides/kv.html#cas">x</a><a href="#top">y</a><h1 id="top">t</h1><a href="https://example.com/x">z</a>`),
			"guides/kv.html": page(`<h2 id="cas">c</h2><a href="../index.html">home</a><link href="../style.css">`),
			"style.css":      []byte("body{}"),
		}, nil},
		{"missing file", map[string][]byte{
			"index.html": page(`<a href="guides/nope.html">x</a>`),
		}, []string{"no file guides/nope.html"}},
		{"missing anchor", map[string][]byte{
			"index.html": page(`<a href="#nope">x</a>`),
		}, []string{"no anchor #nope"}},
		{"absolute path", map[string][]byte{
			"index.html": page(`<a href="/v1/kv">x</a>`),
		}, []string{"absolute link"}},
		{"directory link means its index", map[string][]byte{
			"index.html": page(`<a href="guides/">x</a>`),
		}, []string{"no file guides/index.html"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckLinks(tc.files)
			if len(got) != len(tc.want) {
				t.Fatalf("problems %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %q lacks %q", got[i], w)
				}
			}
		})
	}
}
