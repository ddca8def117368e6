package agent

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/shoalproject/shoal/website/dist"
)

// docsPrefix is where the agent serves the docs site built into its binary
// (website/dist), so the docs that match a binary ship with it.
const docsPrefix = "/docs/"

// RouteInfo describes one route of the HTTP API: the table the docs site's
// API reference is generated from and checked against.
type RouteInfo struct {
	// Pattern is the net/http ServeMux pattern, e.g. "/v1/kv/{key...}".
	Pattern string
	// Methods are the HTTP methods the route accepts; others get 405.
	Methods []string
	// ACL says per method what a token needs when ACLs are enabled
	// (RouteACL).
	ACL map[string]string
}

// Routes lists every route of the HTTP API in registration order. It reads
// the same table the agent's router is built from, so a new route is listed
// without further work.
func Routes() []RouteInfo {
	var out []RouteInfo
	for _, rt := range (&Agent{}).apiRoutes() {
		info := RouteInfo{Pattern: rt.pattern, Methods: append([]string(nil), rt.methods...), ACL: map[string]string{}}
		for _, m := range rt.methods {
			info.ACL[m] = RouteACL(rt.pattern, m)
		}
		out = append(out, info)
	}
	return out
}

// docsHandler serves the embedded docs site under docsPrefix: GET and HEAD
// only, index.html for the prefix itself.
func docsHandler() http.Handler {
	site, err := fs.Sub(dist.Site, "site")
	if err != nil {
		panic(err) // "site" is a fixed, valid path: a programmer error
	}
	files := http.StripPrefix(strings.TrimSuffix(docsPrefix, "/"), http.FileServerFS(site))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET,HEAD")
			http.Error(w, "method "+r.Method+" not allowed", http.StatusMethodNotAllowed)
			return
		}
		files.ServeHTTP(w, r)
	})
}
