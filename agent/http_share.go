package agent

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoalproject/shoal/rpcapi"
)

// Shared blocking queries. A write to a key that 1,000 clients watch wakes
// 1,000 blocking queries that all ask the same question; answered one by
// one, each costs an RPC (a store read on the leader and a reply), a JSON
// encoding and a write. Here identical blocking queries share one call of
// the endpoint — one RPC, one encoding — and every caller gets the same
// response bytes.
//
// Two requests are the same query when they have the same method, path,
// query parameters (all but wait and token: index, stale, recurse, keys,
// separator, raw, filter, dc, pretty, ...) and ACL token. Only blocking
// queries (?index > 0) share, and never ?consistent ones: a caller joins a
// call that started before it came, whose answer is one the store held
// after the caller's index — what a blocking query promises — but a
// consistent read promises leadership checked after the request arrived.
//
// Each caller keeps its own wait, as Consul's: it answers at the latest
// when its wait (plus up to 1/16 of jitter) is over. The shared call
// carries the wait of the caller that started it, whose answer it is
// however it ends; when it ends with no change (index unchanged) before a
// joiner's wait is over, the joiner joins or starts the next call with
// the rest of its wait; when the joiner's own deadline passes first, it
// leaves the call (which goes on for the others) and answers with a read
// of its own that does not block.

// sharedRoutes are the routes whose blocking GETs share one call.
var sharedRoutes = map[string]bool{
	"/v1/kv/{key...}":                 true,
	"/v1/catalog/service/{name...}":   true,
	"/v1/catalog/services":            true,
	"/v1/catalog/nodes":               true,
	"/v1/health/service/{service...}": true,
	"/v1/health/checks/{service...}":  true,
	"/v1/health/state/{state...}":     true,
}

// sharedResponse is one recorded HTTP answer, replayed to every caller of
// a shared call. It is never modified once recorded.
type sharedResponse struct {
	code   int // 0 when the endpoint wrote nothing
	header http.Header
	body   []byte
}

// index returns the response's X-Consul-Index and whether it has one.
func (s *sharedResponse) index() (uint64, bool) {
	v := s.header.Get("X-Consul-Index")
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return n, err == nil
}

// replay writes s to w.
func (s *sharedResponse) replay(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range s.header {
		h[k] = slices.Clone(v)
	}
	if s.code != 0 {
		w.WriteHeader(s.code)
	}
	if len(s.body) > 0 {
		_, _ = w.Write(s.body)
	}
}

// responseRecorder records what an endpoint writes (behind a typedWriter,
// which sets the Content-Type as for a direct answer).
type responseRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *responseRecorder) Header() http.Header { return r.header }

func (r *responseRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *responseRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.body.Write(b)
}

// sharedQuery reads the blocking parameters of r: its index and its wait
// (defaulted and capped as the servers do). ok is false when r is not a
// query that may share: not a GET, not blocking, consistent, or with
// parameters the endpoint will refuse.
func sharedQuery(r *http.Request) (index uint64, wait time.Duration, ok bool) {
	if r.Method != http.MethodGet {
		return 0, 0, false
	}
	q := query(r)
	if q.Has("consistent") {
		return 0, 0, false
	}
	index, err := strconv.ParseUint(q.Get("index"), 10, 64)
	if err != nil || index == 0 {
		return 0, 0, false
	}
	var d time.Duration
	if s := q.Get("wait"); s != "" {
		if d, err = time.ParseDuration(s); err != nil {
			return 0, 0, false
		}
	}
	return index, rpcapi.QueryWait(d), true
}

// sharedKey identifies r's query: method, path, every query parameter
// but wait and token (sorted by url.Values.Encode), and the ACL token.
func sharedKey(r *http.Request) string {
	q := r.URL.Query()
	q.Del("wait")
	q.Del("token")
	token, _ := rpcapi.AuthTokenFrom(r.Context())
	return strings.Join([]string{r.Method, r.URL.Path, q.Encode(), token}, "\x00")
}

// withQuery returns a copy of r under ctx whose query has param set to
// value, or removed when value is "".
func withQuery(ctx context.Context, r *http.Request, param, value string) *http.Request {
	r2 := r.Clone(ctx)
	q := r2.URL.Query()
	if value == "" {
		q.Del(param)
	} else {
		q.Set(param, value)
	}
	r2.URL.RawQuery = q.Encode()
	return r2
}

// serveShared answers r, a blocking query, through a call shared with the
// identical queries in flight (see the comment at the top of the file);
// serve answers one request on its own. It reports false, having written
// nothing, when r is not a query that may share.
func (a *Agent) serveShared(w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter, *http.Request)) bool {
	index, wait, ok := sharedQuery(r)
	if !ok {
		return false
	}
	start := time.Now()
	ctx, cancel := context.WithDeadline(r.Context(), start.Add(wait+wait/16))
	defer cancel()
	key := sharedKey(r)
	for {
		rest := time.Until(start.Add(wait))
		res, joined, err := a.flights.Do(ctx, key, func(fctx context.Context) (*sharedResponse, error) {
			rec := &responseRecorder{header: http.Header{}}
			serve(&typedWriter{ResponseWriter: rec}, withQuery(fctx, r, "wait", rest.String()))
			return &sharedResponse{code: rec.code, header: rec.header, body: rec.body.Bytes()}, nil
		})
		switch {
		case r.Context().Err() != nil:
			return true // the client went away: nobody reads an answer
		case err == nil:
		case ctx.Err() != nil:
			// This caller's wait is over before the shared call's: answer,
			// as on a timeout, with the current result.
			serve(w, withQuery(r.Context(), r, "index", ""))
			return true
		default:
			a.writeError(w, r, err)
			return true
		}
		if got, ok := res.index(); ok && got == index && joined && time.Now().Before(start.Add(wait)) {
			// Another caller's call timed out with no change before this
			// caller's wait is over. (A call this caller started carried
			// its own wait: its answer is this caller's timeout answer.)
			continue
		}
		res.replay(w)
		return true
	}
}
