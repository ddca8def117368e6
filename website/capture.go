package website

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shoalproject/shoal/agent"
)

// responseLines bounds a captured response shown in the reference.
const responseLines = 40

// blockingWait is the ?wait= of the blocking probe; a route blocks if the
// probe parks for at least half of it.
const blockingWait = time.Second

// Capture sends the reference's example requests to the agent at base
// (e.g. "http://127.0.0.1:8500"), in order, and probes every GET route for
// blocking and consistency support. The agent must be a fresh single
// server named "docs" with a leader.
func Capture(ctx context.Context, base string) (Examples, error) {
	c := capturer{base: base, routeOf: routeMatcher(), vars: map[string]string{}, bodies: map[string]string{}}
	if err := c.run(ctx, exampleSteps); err != nil {
		return c.ex, err
	}
	facts, err := probeRoutes(ctx, base, c.vars["token"], c.ex.Examples)
	if err != nil {
		return c.ex, err
	}
	c.ex.Routes = facts
	// The last steps end the agent (leave): after the probe.
	if err := c.run(ctx, finalSteps); err != nil {
		return c.ex, err
	}
	return c.ex, nil
}

// capturer sends example steps to one agent and records the examples.
type capturer struct {
	base    string
	routeOf func(method, target string) string
	// vars are the values steps saved (SaveID), by name; "token" is sent
	// as X-Consul-Token with every later request.
	vars map[string]string
	// bodies are the raw responses steps saved (SaveBody), by file name.
	bodies map[string]string
	ex     Examples
}

func (c *capturer) run(ctx context.Context, steps []exampleStep) error {
	for _, st := range steps {
		p := st.Path
		body := st.Body
		for k, v := range c.vars {
			p = strings.ReplaceAll(p, "{{"+k+"}}", v)
			body = strings.ReplaceAll(body, "{{"+k+"}}", v)
		}
		if st.BodyFile != "" {
			body = c.bodies[st.BodyFile]
		}
		status, resp, err := sendUntil(ctx, st, c.base+p, body, c.vars["token"])
		if err != nil {
			return err
		}
		route := c.routeOf(st.Method, p)
		if route == "" {
			return fmt.Errorf("website: example %s %s matches no route", st.Method, p)
		}
		e := Example{Route: route, Method: st.Method, Path: p, Body: body, BodyFile: st.BodyFile, Status: status}
		if st.BodyFile != "" {
			e.Body = ""
		}
		e.Response, e.Shape = showResponse(route, resp)
		if st.SaveID != "" {
			field := st.Field
			if field == "" {
				field = "ID"
			}
			v, err := jsonField(resp, field)
			if err != nil {
				return fmt.Errorf("website: example %s %s: %w", st.Method, p, err)
			}
			c.vars[st.SaveID] = v
		}
		if st.SaveBody != "" {
			c.bodies[st.SaveBody] = string(resp)
		}
		c.ex.Examples = append(c.ex.Examples, e)
	}
	return nil
}

// jsonField is the value at a dotted path ("Member.Port") of a JSON
// object, as text.
func jsonField(body []byte, path string) (string, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("no %s in %q: %w", path, body, err)
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return "", fmt.Errorf("no %s in %q", path, body)
		}
		v = m[k]
	}
	switch v := v.(type) {
	case string:
		if v != "" {
			return v, nil
		}
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	}
	return "", fmt.Errorf("no %s in %q", path, body)
}

// sendUntil sends st; with st.WaitFor it repeats the request until the
// response contains it or waitForLimit passes.
func sendUntil(ctx context.Context, st exampleStep, target, reqBody, token string) (int, []byte, error) {
	deadline := time.Now().Add(waitForLimit)
	for {
		status, body, _, err := send(ctx, st.Method, target, reqBody, token)
		if err != nil || st.WaitFor == "" || bytes.Contains(body, []byte(st.WaitFor)) {
			return status, body, err
		}
		if time.Now().After(deadline) {
			return 0, nil, fmt.Errorf("website: example %s %s: no %s in the response after %s: %q",
				st.Method, target, st.WaitFor, waitForLimit, body)
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitForLimit bounds how long a step waits for its WaitFor.
const waitForLimit = 20 * time.Second

// routeMatcher returns a function that finds the route pattern a request
// matches, with the same ServeMux rules as the agent.
func routeMatcher() func(method, target string) string {
	mux := http.NewServeMux()
	for _, rt := range agent.Routes() {
		mux.Handle(rt.Pattern, http.NotFoundHandler())
	}
	return func(method, target string) string {
		req, err := http.NewRequest(method, "http://x"+target, nil)
		if err != nil {
			return ""
		}
		_, pattern := mux.Handler(req)
		return pattern
	}
}

// send sends one request, with token (if any) in X-Consul-Token.
func send(ctx context.Context, method, target, body, token string) (int, []byte, http.Header, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if token != "" {
		req.Header.Set("X-Consul-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("website: %s %s: %w", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

// showResponse is a response as the reference shows it: indented JSON or
// the text, trimmed to responseLines; and its JSON shape.
func showResponse(route string, body []byte) (shown, shape string) {
	if route == "/v1/snapshot" && len(body) > 0 && !json.Valid(body) {
		return "(the snapshot archive: gzip-compressed tar)", ""
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return strings.TrimRight(string(body), "\n"), ""
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		return string(body), ""
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) > responseLines {
		lines = append(lines[:responseLines], "  … (trimmed)")
	}
	return strings.Join(lines, "\n"), jsonShape(v)
}

// jsonShape describes the structure of v: its kind, an object's keys (in
// order) with the shapes of their values one level down, an array's first
// element's shape. Values, and the keys of objects keyed by data (more than
// 20 keys, or keyed by UUIDs such as node IDs), are left out, so equal
// shapes mean a client parses both alike.
func jsonShape(v any) string { return shapeDepth(v, 2) }

// uuidRE matches a UUID, e.g. a node ID.
var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// keyedByUUID reports whether every key of a non-empty object is a UUID:
// an object keyed by data (autopilot's servers by node ID).
func keyedByUUID(m map[string]any) bool {
	for k := range m {
		if !uuidRE.MatchString(k) {
			return false
		}
	}
	return len(m) > 0
}

func shapeDepth(v any, depth int) string {
	switch v := v.(type) {
	case map[string]any:
		if depth == 0 || len(v) > 20 || keyedByUUID(v) {
			return "object"
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + shapeDepth(v[k], depth-1)
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		if len(v) == 0 || depth == 0 {
			return "array"
		}
		return "[" + shapeDepth(v[0], depth-1) + "]"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// probeRoutes finds out, for every GET route, whether it supports blocking
// queries and consistency modes, by asking the agent.
func probeRoutes(ctx context.Context, base, token string, exs []Example) (map[string]RouteFacts, error) {
	paths := map[string]string{}
	for _, ex := range exs {
		if ex.Method == "GET" && paths[ex.Route] == "" {
			paths[ex.Route] = ex.Path
		}
	}
	facts := map[string]RouteFacts{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(agent.Routes()))
	for _, rt := range agent.Routes() {
		if !hasGet(rt) {
			continue
		}
		if streamingRoutes[rt.Pattern] {
			// A stream never ends: neither blocking nor consistency modes.
			facts[rt.Pattern] = RouteFacts{}
			continue
		}
		p := paths[rt.Pattern]
		if p == "" {
			p = pathParam.ReplaceAllString(rt.Pattern, "example")
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := probeRoute(ctx, base, token, p)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			facts[rt.Pattern] = f
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	return facts, <-errs
}

// streamingRoutes answer with a stream that lasts until the client goes
// away (Consul's /v1/agent/monitor): they are not probed.
var streamingRoutes = map[string]bool{"/v1/agent/monitor": true}

func probeRoute(ctx context.Context, base, token, p string) (RouteFacts, error) {
	var f RouteFacts
	withQuery := func(q string) string {
		if strings.Contains(p, "?") {
			return base + p + "&" + q
		}
		return base + p + "?" + q
	}
	plain, _, h, err := send(ctx, "GET", base+p, "", token)
	if err != nil {
		return f, err
	}
	both, _, _, err := send(ctx, "GET", withQuery("stale&consistent"), "", token)
	if err != nil {
		return f, err
	}
	f.Consistency = plain != http.StatusBadRequest && both == http.StatusBadRequest
	idx, err := strconv.ParseUint(h.Get("X-Consul-Index"), 10, 64)
	if err != nil || idx == 0 {
		return f, nil
	}
	for attempt := 0; attempt < 3 && !f.Blocking; attempt++ {
		start := time.Now()
		_, _, h2, err := send(ctx, "GET", withQuery(url.Values{"index": {strconv.FormatUint(idx, 10)}, "wait": {blockingWait.String()}}.Encode()), "", token)
		if err != nil {
			return f, err
		}
		if time.Since(start) >= blockingWait/2 {
			f.Blocking = true
			break
		}
		next, _ := strconv.ParseUint(h2.Get("X-Consul-Index"), 10, 64)
		if next <= idx {
			break // answered at once with nothing new: it does not block
		}
		idx = next // the data changed meanwhile: ask again from there
	}
	return f, nil
}
