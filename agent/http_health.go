package agent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/rpcapi"
)

func (a *Agent) healthRoutes() []route {
	return []route{
		{"/v1/health/node/{node...}", get, a.healthNodeChecks},
		{"/v1/health/checks/{service...}", get, a.healthServiceChecks},
		{"/v1/health/service/{service...}", get, a.healthServiceNodes},
		{"/v1/health/state/{state...}", get, a.healthChecksInState},
	}
}

func filterChecks(f *filter, checks []*catalog.HealthCheck) []*catalog.HealthCheck {
	out := []*catalog.HealthCheck{}
	for _, c := range checks {
		if f == nil || f.match(c) {
			if c.ServiceTags == nil {
				c.ServiceTags = []string{}
			}
			out = append(out, c)
		}
	}
	return out
}

func (a *Agent) healthNodeChecks(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.NodeRequest{Node: r.PathValue("node")}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	if args.Node == "" {
		return nil, badRequest("Missing node name")
	}
	f, err := parseFilter(r, (*catalog.HealthCheck)(nil))
	if err != nil {
		return nil, err
	}
	var reply rpcapi.IndexedChecks
	if err := a.delegate.RPC(r.Context(), "Health.NodeChecks", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	return filterChecks(f, reply.Checks), nil
}

func (a *Agent) healthServiceChecks(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.ServiceChecksRequest{ServiceName: r.PathValue("service")}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	if args.ServiceName == "" {
		return nil, badRequest("Missing service name")
	}
	f, err := parseFilter(r, (*catalog.HealthCheck)(nil))
	if err != nil {
		return nil, err
	}
	args.NodeMetaFilters = parseNodeMeta(r)
	var reply rpcapi.IndexedChecks
	if err := a.delegate.RPC(r.Context(), "Health.ServiceChecks", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	return filterChecks(f, reply.Checks), nil
}

func (a *Agent) healthChecksInState(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.ChecksInStateRequest{State: r.PathValue("state")}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	// An unknown state matches no check: 200 [] as Consul answers.
	f, err := parseFilter(r, (*catalog.HealthCheck)(nil))
	if err != nil {
		return nil, err
	}
	args.NodeMetaFilters = parseNodeMeta(r)
	var reply rpcapi.IndexedChecks
	if err := a.delegate.RPC(r.Context(), "Health.ChecksInState", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	return filterChecks(f, reply.Checks), nil
}

// healthServiceJSON is one entry of /v1/health/service/<name>.
type healthServiceJSON struct {
	Node    *catalog.Node
	Service *agentServiceJSON
	Checks  []*catalog.HealthCheck
}

func (a *Agent) healthServiceNodes(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.ServiceSpecificRequest{ServiceName: r.PathValue("service")}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	if args.ServiceName == "" {
		return nil, badRequest("Missing service name")
	}
	q := r.URL.Query()
	if v, ok := q["passing"]; ok {
		args.PassingOnly = true
		if len(v) > 0 && v[0] != "" {
			b, err := strconv.ParseBool(v[0])
			if err != nil {
				return nil, badRequest("Invalid value for ?passing")
			}
			args.PassingOnly = b
		}
	}
	f, err := parseFilter(r, healthServiceJSON{})
	if err != nil {
		return nil, err
	}
	args.ServiceTags = q["tag"]
	args.NodeMetaFilters = parseNodeMeta(r)
	var reply rpcapi.IndexedCheckServiceNodes
	if err := a.delegate.RPC(r.Context(), "Health.ServiceNodes", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	out := []healthServiceJSON{}
	for _, n := range reply.Nodes {
		e := healthServiceJSON{Node: n.Node, Service: a.toAgentService(n.Service), Checks: filterChecks(nil, n.Checks)}
		if f == nil || f.match(e) {
			out = append(out, e)
		}
	}
	sortNear(a.rtts(r), out, func(e healthServiceJSON) string {
		if e.Node == nil {
			return ""
		}
		return e.Node.Node
	})
	return out, nil
}

// filter is a parsed ?filter expression: a subset of Consul's
// go-bexpr language. Supported: Selector == / != value,
// value in / not in Selector, Selector contains / not contains value,
// Selector is empty / is not empty, Selector matches / not matches "re",
// combined with and, or, not and parentheses. Selectors are dotted field
// paths of the JSON result (Service.Tags, Node.Meta.env, Checks.Status).
type filter struct{ root fnode }

type fnode interface{ eval(v any) bool }

// Bounds on a ?filter expression: its length and how deeply parentheses
// and "not" nest. Consul has none, and a megabyte of nested parentheses
// costs it (and cost Shoal) hundreds of megabytes.
const (
	maxFilterLen   = 16 << 10
	maxFilterDepth = 32
)

// parseFilter reads ?filter; nil when absent. Selectors are checked
// against the fields of elem, the type of one element of the result (a
// value or a nil pointer): a selector naming no field is refused with 400
// ("Selector ... is not valid"), as Consul does, rather than matching
// nothing.
func parseFilter(r *http.Request, elem any) (*filter, error) {
	s := r.URL.Query().Get("filter")
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	f, err := compileFilter(s, reflect.TypeOf(elem))
	if err != nil {
		return nil, badRequest("Failed to create boolean expression evaluator: %v", err)
	}
	return f, nil
}

// compileFilter parses s; with a non-nil elem it also checks every
// selector against elem's fields.
func compileFilter(s string, elem reflect.Type) (*filter, error) {
	if len(s) > maxFilterLen {
		return nil, fmt.Errorf("filter is %d bytes long, more than the limit of %d", len(s), maxFilterLen)
	}
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	p := &fparser{toks: toks, elem: elem}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos].s)
	}
	return &filter{root: n}, nil
}

// match evaluates the filter against obj's JSON form.
func (f *filter) match(obj any) bool {
	b, err := json.Marshal(obj)
	if err != nil {
		return false
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return false
	}
	return f.root.eval(v)
}

type ftok struct {
	s      string
	quoted bool
}

func lexFilter(s string) ([]ftok, error) {
	var out []ftok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case unicode.IsSpace(rune(c)):
			i++
		case c == '(' || c == ')':
			out = append(out, ftok{s: string(c)})
			i++
		case c == '=' || c == '!':
			if i+1 < len(s) && s[i+1] == '=' {
				out = append(out, ftok{s: s[i : i+2]})
				i += 2
				continue
			}
			return nil, fmt.Errorf("unexpected %q at %d", c, i)
		case c == '"' || c == '`':
			j := i + 1
			var b strings.Builder
			for j < len(s) && s[j] != c {
				if s[j] == '\\' && c == '"' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string")
			}
			out = append(out, ftok{s: b.String(), quoted: true})
			i = j + 1
		default:
			j := i
			for j < len(s) && !unicode.IsSpace(rune(s[j])) && !strings.ContainsRune("()=!\"`", rune(s[j])) {
				j++
			}
			out = append(out, ftok{s: s[i:j]})
			i = j
		}
	}
	return out, nil
}

type fparser struct {
	toks  []ftok
	pos   int
	depth int          // nesting of parentheses and not
	elem  reflect.Type // selectors are checked against it; nil: unchecked
}

// selector parses a dotted selector and checks it against p.elem.
func (p *fparser) selector(s string) ([]string, error) {
	path := strings.Split(s, ".")
	if p.elem != nil && !validSelector(p.elem, path) {
		return nil, fmt.Errorf("Selector %q is not valid", s)
	}
	return path, nil
}

// validSelector reports whether path names a field of t, through the
// JSON names (or Go names, any case) of struct fields, any key of a map,
// and the elements of lists.
func validSelector(t reflect.Type, path []string) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	if len(path) == 0 {
		return true
	}
	switch t.Kind() {
	case reflect.Map:
		return validSelector(t.Elem(), path[1:])
	case reflect.Interface:
		return true // free-form JSON: anything may be there
	case reflect.Struct:
		if t == reflect.TypeOf(json.RawMessage{}) {
			return true
		}
		ft, ok := fieldByJSONName(t, path[0])
		return ok && validSelector(ft, path[1:])
	}
	return false
}

// fieldByJSONName finds the field of struct t encoded as name (by its
// JSON name or Go name, case-insensitively), through embedded structs.
func fieldByJSONName(t reflect.Type, name string) (reflect.Type, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && tag == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				if ft, ok := fieldByJSONName(et, name); ok {
					return ft, true
				}
				continue
			}
		}
		if strings.EqualFold(tag, name) || (tag == "" && strings.EqualFold(f.Name, name)) {
			return f.Type, true
		}
	}
	return nil, false
}

func (p *fparser) peek(words ...string) bool {
	if p.pos >= len(p.toks) || p.toks[p.pos].quoted {
		return false
	}
	for _, w := range words {
		if p.toks[p.pos].s == w {
			return true
		}
	}
	return false
}

func (p *fparser) next() (ftok, error) {
	if p.pos >= len(p.toks) {
		return ftok{}, fmt.Errorf("unexpected end of expression")
	}
	t := p.toks[p.pos]
	p.pos++
	return t, nil
}

type andNode struct{ a, b fnode }
type orNode struct{ a, b fnode }
type notNode struct{ a fnode }

func (n andNode) eval(v any) bool { return n.a.eval(v) && n.b.eval(v) }
func (n orNode) eval(v any) bool  { return n.a.eval(v) || n.b.eval(v) }
func (n notNode) eval(v any) bool { return !n.a.eval(v) }

func (p *fparser) or() (fnode, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek("or") {
		p.pos++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *fparser) and() (fnode, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peek("and") {
		p.pos++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

func (p *fparser) unary() (fnode, error) {
	if p.peek("not", "(") {
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxFilterDepth {
			return nil, fmt.Errorf("filter nests deeper than %d levels", maxFilterDepth)
		}
	}
	if p.peek("not") {
		p.pos++
		n, err := p.unary()
		return notNode{n}, err
	}
	if p.peek("(") {
		p.pos++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.peek(")") {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return n, nil
	}
	return p.match()
}

// matchNode compares the values at a selector with a literal.
type matchNode struct {
	path  []string
	op    string // ==, !=, in, notin, empty, notempty, matches, notmatches
	value string
	re    *regexp.Regexp
}

func (p *fparser) match() (fnode, error) {
	first, err := p.next()
	if err != nil {
		return nil, err
	}
	// value in Selector / value not in Selector
	if p.peek("in") || (p.peek("not") && p.pos+1 < len(p.toks) && p.toks[p.pos+1].s == "in") {
		op := "in"
		if p.peek("not") {
			op = "notin"
			p.pos++
		}
		p.pos++
		sel, err := p.next()
		if err != nil {
			return nil, err
		}
		path, err := p.selector(sel.s)
		if err != nil {
			return nil, err
		}
		return &matchNode{path: path, op: op, value: first.s}, nil
	}
	if first.quoted {
		return nil, fmt.Errorf("expected a selector, got %q", first.s)
	}
	path, err := p.selector(first.s)
	if err != nil {
		return nil, err
	}
	m := &matchNode{path: path}
	op, err := p.next()
	if err != nil {
		return nil, err
	}
	switch op.s {
	case "==", "!=":
		m.op = op.s
	case "contains":
		m.op = "in"
	case "matches":
		m.op = "matches"
	case "is":
		m.op = "empty"
		if p.peek("not") {
			p.pos++
			m.op = "notempty"
		}
		if !p.peek("empty") {
			return nil, fmt.Errorf("expected empty after is")
		}
		p.pos++
		return m, nil
	case "not":
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		switch t.s {
		case "contains":
			m.op = "notin"
		case "matches":
			m.op = "notmatches"
		default:
			return nil, fmt.Errorf("unexpected %q after not", t.s)
		}
	default:
		return nil, fmt.Errorf("unknown operator %q", op.s)
	}
	val, err := p.next()
	if err != nil {
		return nil, err
	}
	m.value = val.s
	if m.op == "matches" || m.op == "notmatches" {
		if m.re, err = regexp.Compile(m.value); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// lookup returns every value at path; lists on the way are flattened, so
// Checks.Status yields each check's status.
func lookup(v any, path []string) []any {
	if len(path) == 0 {
		return []any{v}
	}
	switch x := v.(type) {
	case map[string]any:
		e, ok := x[path[0]]
		if !ok {
			for k, val := range x {
				if strings.EqualFold(k, path[0]) {
					e, ok = val, true
					break
				}
			}
		}
		if !ok {
			return nil
		}
		return lookup(e, path[1:])
	case []any:
		var out []any
		for _, e := range x {
			out = append(out, lookup(e, path)...)
		}
		return out
	}
	return nil
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func contains(v any, want string) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if scalar(e) == want {
				return true
			}
		}
		return false
	case map[string]any:
		_, ok := x[want]
		return ok
	case string:
		return strings.Contains(x, want)
	}
	return false
}

func (m *matchNode) eval(v any) bool {
	vals := lookup(v, m.path)
	any1 := func(fn func(any) bool) bool {
		for _, x := range vals {
			if fn(x) {
				return true
			}
		}
		return false
	}
	switch m.op {
	case "==":
		return any1(func(x any) bool { return scalar(x) == m.value })
	case "!=":
		return !any1(func(x any) bool { return scalar(x) == m.value })
	case "in":
		return any1(func(x any) bool { return contains(x, m.value) })
	case "notin":
		return !any1(func(x any) bool { return contains(x, m.value) })
	case "empty":
		return len(vals) == 0 || !any1(func(x any) bool { return !isEmpty(x) })
	case "notempty":
		return any1(func(x any) bool { return !isEmpty(x) })
	case "matches":
		return any1(func(x any) bool { return m.re.MatchString(scalar(x)) })
	case "notmatches":
		return !any1(func(x any) bool { return m.re.MatchString(scalar(x)) })
	}
	return false
}
