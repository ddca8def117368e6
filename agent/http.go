package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/ui"
)

// HTTPError is an error with the HTTP status it should be answered with.
// Its message is written as the plain-text body, as Consul does.
type HTTPError struct {
	Code int
	Msg  string
}

func (e HTTPError) Error() string { return e.Msg }

func badRequest(format string, args ...any) error {
	return HTTPError{Code: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// endpoint handles one request. A non-nil result is written as JSON with
// status 200; an error as plain text with its HTTPError code (else 500).
type endpoint func(w http.ResponseWriter, r *http.Request) (any, error)

// route is one path of the API: its handler and the methods it allows.
type route struct {
	pattern string
	methods []string
	fn      endpoint
}

// apiRoutes lists every route of the HTTP API; handler registers them and
// Routes describes them for the docs.
func (a *Agent) apiRoutes() []route {
	var routes []route
	routes = append(routes, a.statusRoutes()...)
	routes = append(routes, a.agentRoutes()...)
	routes = append(routes, a.operatorRoutes()...)
	routes = append(routes, a.catalogRoutes()...)
	routes = append(routes, a.kvRoutes()...)
	routes = append(routes, a.schedRoutes()...)
	routes = append(routes, a.snapshotRoutes()...)
	return routes
}

func (a *Agent) handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.apiRoutes() {
		mux.Handle(rt.pattern, a.wrap(rt))
	}
	mux.Handle(docsPrefix, docsHandler())
	mux.Handle(ui.Prefix, ui.Handler()) // the web UI (package ui); GET /ui redirects here
	if a.cfg.EnableDebug {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
			return
		}
		http.NotFound(w, r)
	})
	return secureHeaders(mux)
}

// wrap adapts an endpoint: method check, metrics, JSON or error output.
func (a *Agent) wrap(rt route) http.Handler {
	metricKey := []string{"api", "http"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		defer func() {
			metrics.MeasureSinceWithLabels(metricKey, start, []metrics.Label{
				{Name: "method", Value: r.Method}, {Name: "path", Value: metricPath(rt.pattern)}})
		}()
		if !allowed(rt.methods, r.Method) {
			w.Header().Set("Allow", strings.Join(rt.methods, ","))
			http.Error(w, fmt.Sprintf("method %s not allowed", r.Method), http.StatusMethodNotAllowed)
			return
		}
		obj, err := rt.fn(w, r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if obj == nil {
			return
		}
		writeJSON(w, r, obj)
	})
}

func metricPath(pattern string) string {
	return strings.Trim(strings.ReplaceAll(pattern, "/", "_"), "_")
}

func allowed(methods []string, m string) bool {
	for _, x := range methods {
		if x == m {
			return true
		}
	}
	return false
}

func (a *Agent) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	var he HTTPError
	if errors.As(err, &he) {
		code = he.Code
	}
	if code >= 500 {
		a.logger.Error("request failed", "method", r.Method, "url", r.URL.String(), "error", err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprint(w, err.Error())
}

func writeJSON(w http.ResponseWriter, r *http.Request, obj any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	if _, ok := r.URL.Query()["pretty"]; ok {
		enc.SetIndent("", "    ")
	}
	_ = enc.Encode(obj)
}

// parseQuery reads Consul's query parameters: dc, stale, consistent,
// index and wait.
func parseQuery(r *http.Request, q *rpcapi.QueryOptions) error {
	v := r.URL.Query()
	q.Datacenter = v.Get("dc")
	_, q.AllowStale = v["stale"]
	_, q.RequireConsistent = v["consistent"]
	if q.AllowStale && q.RequireConsistent {
		return badRequest("Cannot specify ?stale with ?consistent, conflicting semantics.")
	}
	if s := v.Get("index"); s != "" {
		idx, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return badRequest("Invalid index")
		}
		q.MinQueryIndex = idx
	}
	if s := v.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return badRequest("Invalid wait time")
		}
		q.MaxQueryTime = d
	}
	return nil
}

// setMeta writes the headers of a read: X-Consul-Index,
// X-Consul-KnownLeader, X-Consul-LastContact and
// X-Consul-Effective-Consistency.
func setMeta(w http.ResponseWriter, m *rpcapi.QueryMeta) {
	h := w.Header()
	h.Set("X-Consul-Index", strconv.FormatUint(m.Index, 10))
	h.Set("X-Consul-KnownLeader", strconv.FormatBool(m.KnownLeader))
	h.Set("X-Consul-LastContact", strconv.FormatInt(m.LastContact.Milliseconds(), 10))
	if m.ConsistencyLevel != "" {
		h.Set("X-Consul-Effective-Consistency", m.ConsistencyLevel)
	}
}
