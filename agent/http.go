package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"net/url"
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
	routes = append(routes, a.autopilotRoutes()...)
	routes = append(routes, a.hostRoutes()...)
	routes = append(routes, a.monitorRoutes()...)
	routes = append(routes, a.eventRoutes()...)
	routes = append(routes, a.coordinateRoutes()...)
	routes = append(routes, a.queryRoutes()...)
	routes = append(routes, a.catalogRoutes()...)
	routes = append(routes, a.kvRoutes()...)
	routes = append(routes, a.schedRoutes()...)
	routes = append(routes, a.snapshotRoutes()...)
	routes = append(routes, a.keyringRoutes()...)
	routes = append(routes, a.aclRoutes()...)
	routes = append(routes, a.internalRoutes()...)
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

// wrap adapts an endpoint: method check, ACL decision (routeACLs),
// metrics, JSON or error output; identical blocking queries of the
// sharedRoutes share one call (http_share.go).
func (a *Agent) wrap(rt route) http.Handler {
	metricKey := []string{"api", "http"}
	decision := a.routeACL(rt.pattern)
	share := sharedRoutes[rt.pattern]
	path := metricPath(rt.pattern)
	allow := strings.Join(append([]string{http.MethodOptions}, rt.methods...), ",")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		defer func() {
			metrics.MeasureSinceWithLabels(metricKey, start, []metrics.Label{
				{Name: "method", Value: r.Method}, {Name: "path", Value: path}})
		}()
		if r.Method == http.MethodOptions {
			// As Consul: 200, no body, the methods in Allow.
			w.Header().Set("Allow", allow)
			return
		}
		if !allowed(rt.methods, r.Method) {
			w.Header().Set("Allow", allow)
			http.Error(w, fmt.Sprintf("method %s not allowed", r.Method), http.StatusMethodNotAllowed)
			return
		}
		// The query string, parsed once for the whole request (query).
		pq := &parsedQuery{raw: r.URL.RawQuery, v: r.URL.Query()}
		ctx := context.WithValue(r.Context(), parsedQueryKey{}, pq)
		r = r.WithContext(rpcapi.WithAuthToken(ctx, a.tokenOf(r, pq.v)))
		if err := a.checkDatacenter(rt.pattern, r); err != nil {
			a.writeError(w, r, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodySize)
		serve := func(w http.ResponseWriter, r *http.Request) { a.serveEndpoint(w, r, rt, decision) }
		if share && a.serveShared(w, r, serve) {
			return
		}
		serve(w, r)
	})
}

// serveEndpoint answers r with rt's endpoint: ACL decision, the endpoint,
// ACL filtering of its result, JSON or error output.
func (a *Agent) serveEndpoint(w http.ResponseWriter, r *http.Request, rt route, decision routeACL) {
	z, err := a.authorize(r, decision)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	obj, err := rt.fn(w, r)
	if err == nil {
		obj, err = a.filterResult(w, r, decision, z, obj)
	}
	if err != nil {
		a.writeError(w, r, aclError(err))
		return
	}
	if obj == nil {
		return
	}
	writeJSON(w, r, obj)
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
	if r.Context().Err() != nil {
		// The client went away (a watch or a blocking query cancelled):
		// nobody reads an answer, and nothing failed on our side.
		a.logger.Debug("request cancelled", "method", r.Method, "url", r.URL.String(), "error", err)
		return
	}
	code := http.StatusInternalServerError
	var he HTTPError
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		code = he.Code
	case errors.As(err, &mb):
		code = http.StatusRequestEntityTooLarge
		err = fmt.Errorf("Request body too large, max size: %d bytes", mb.Limit)
	}
	if code >= 500 {
		a.logger.Error("request failed", "method", r.Method, "url", redactedURL(r), "error", err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprint(w, err.Error())
}

// writeJSON writes obj as the JSON body, as Consul does: compact and
// without a trailing newline, or indented with one under ?pretty.
func writeJSON(w http.ResponseWriter, r *http.Request, obj any) {
	writeJSONStatus(w, r, http.StatusOK, obj)
}

// writeJSONStatus is writeJSON with another status than 200.
func writeJSONStatus(w http.ResponseWriter, r *http.Request, code int, obj any) {
	var b []byte
	var err error
	if _, pretty := query(r)["pretty"]; pretty {
		b, err = json.MarshalIndent(obj, "", "    ")
		b = append(b, '\n')
	} else {
		b, err = json.Marshal(obj)
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("encoding the response: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// maxBodySize bounds every request body; a larger one is answered 413
// with the limit. Endpoints with their own, smaller limit (KV values,
// transactions) check it first.
const maxBodySize = 8 << 20

// decodeBody decodes the JSON request body into v: 413 when it exceeds
// maxBodySize, 400 when it is not valid JSON.
func decodeBody(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return err
		}
		return badRequest("Request decode failed: %v", err)
	}
	return nil
}

// errNoDCPath is Consul's error for a datacenter it cannot reach
// (structs.ErrNoDCPath); Shoal knows only its own datacenter.
var errNoDCPath = errors.New("No path to datacenter")

// checkDatacenter refuses ?dc= naming another datacenter than the
// agent's, with Consul's 500 "No path to datacenter", before anything is
// read or written. The agent's own endpoints ignore ?dc, as Consul's do.
func (a *Agent) checkDatacenter(pattern string, r *http.Request) error {
	dc := query(r).Get("dc")
	if dc == "" || strings.EqualFold(dc, a.cfg.Datacenter) {
		return nil
	}
	for _, p := range dcFreePrefixes {
		if strings.HasPrefix(pattern, p) {
			return nil
		}
	}
	return errNoDCPath
}

// dcFreePrefixes are the routes that serve the local agent or the list of
// datacenters, where Consul ignores ?dc.
var dcFreePrefixes = []string{"/v1/agent/", "/v1/catalog/datacenters", "/v1/coordinate/datacenters"}

// parsedQuery is a request's query string and its parsed values.
type parsedQuery struct {
	raw string
	v   url.Values
}

type parsedQueryKey struct{}

// query returns r's query parameters; the caller must not change them.
// wrap parses them once per request (url.URL.Query parses anew at each
// call, a map and its strings each time); a request whose query has
// changed since (withQuery) is parsed again.
func query(r *http.Request) url.Values {
	if pq, ok := r.Context().Value(parsedQueryKey{}).(*parsedQuery); ok && pq.raw == r.URL.RawQuery {
		return pq.v
	}
	return r.URL.Query()
}

// parseQuery reads Consul's query parameters: dc, stale, consistent,
// index and wait.
func parseQuery(r *http.Request, q *rpcapi.QueryOptions) error {
	v := query(r)
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
	if m.ResultsFilteredByACLs {
		h.Set("X-Consul-Results-Filtered-By-ACLs", "true")
	}
}
