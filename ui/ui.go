// Package ui is Shoal's web UI: static ES modules and CSS embedded in the
// binary and served by every agent at /ui/. The UI talks to the agent only
// through the public HTTP API (/v1/...), so it needs no build step and no
// server-side code beyond this file server.
//
// Every response carries a Content-Security-Policy that allows scripts,
// styles and connections to this origin only, with no inline script or
// style: data shown by the UI is rendered as text nodes (see
// static/js/dom.js), and even a mistake there could not run a script.
package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// Prefix is the URL path the UI is served under.
const Prefix = "/ui/"

// CSP is the Content-Security-Policy of every UI response: same-origin
// scripts, styles, images and API calls; no inline code, no frames, no
// plugins, no form posts elsewhere.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Files returns the UI's files, rooted at the directory holding index.html.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}

type file struct {
	body  []byte
	etag  string
	ctype string
}

// Handler serves the UI under Prefix. Unknown paths answer 404; the UI's
// own views live in the URL fragment (#/services, #/kv/...), so a reload
// or a shared link always asks for index.html.
func Handler() http.Handler {
	files := map[string]file{}
	root := Files()
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		files[p] = file{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: ct}
		return nil
	})
	if err != nil {
		panic(err) // embedded files are always readable
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method "+r.Method+" not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		if name == "" {
			name = "index.html"
		}
		f, ok := files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		// Revalidate every time: a new binary may serve new files under
		// the same names; the ETag keeps revalidation cheap.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		h.Set("Content-Type", f.ctype)
		if match := r.Header.Get("If-None-Match"); match == f.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(f.body)
	})
}
