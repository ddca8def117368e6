package website

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/shoalproject/shoal/sched"
)

// SpecAnchor is the id of a spec field's row.
func SpecAnchor(key string) string { return "spec-" + anchorize(key) }

// specIndex matches the index part of a validation field such as
// "ports[%d].name" or "env[%s]".
var specIndex = regexp.MustCompile(`\[[^\]]*\]`)

// validationRules reads sched's validator calls — v.add(field, format, …)
// in validate.go — and returns their messages by spec key ("ports[].name").
func validationRules(dir string) (map[string][]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(dir, "validate.go"), nil, 0)
	if err != nil {
		return nil, err
	}
	rules := map[string][]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 2 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "add" {
			return true
		}
		key, ok1 := stringArg(call.Args[0])
		msg, ok2 := stringArg(call.Args[1])
		if !ok1 || !ok2 {
			return true
		}
		key = specIndex.ReplaceAllString(key, "[]")
		key = strings.TrimSuffix(key, "[]")
		msg = strings.NewReplacer("%q", "…", "%s", "…", "%d", "N", "%v", "…").Replace(msg)
		for _, m := range rules[key] {
			if m == msg {
				return true
			}
		}
		rules[key] = append(rules[key], msg)
		return true
	})
	return rules, nil
}

// stringArg is the literal string of e, or of the format of a
// fmt.Sprintf(e, …) call.
func stringArg(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			s, err := strconv.Unquote(e.Value)
			return s, err == nil
		}
	case *ast.CallExpr:
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Sprintf" && len(e.Args) > 0 {
			return stringArg(e.Args[0])
		}
	}
	return "", false
}

// SpecKeys lists every key of a service spec.
func SpecKeys() []string {
	var keys []string
	for _, f := range walkFields(reflect.TypeFor[sched.Spec](), reflect.Value{}, "", nil) {
		keys = append(keys, f.Key)
	}
	return keys
}

// specDefaultsOf is the spec whose canonical form shows the defaults.
const specDefaultsOf = `{"name": "web", "image": "nginx:1.27"}`

// genSpec writes the service spec reference from sched.Spec, its doc
// comments, the defaults Canonicalize fills in and the validator's rules.
func genSpec(in *Inputs) ([]byte, error) {
	dir := filepath.Join(in.Root, "sched")
	docs, err := fieldDocs(dir)
	if err != nil {
		return nil, err
	}
	rules, err := validationRules(dir)
	if err != nil {
		return nil, err
	}
	spec, err := sched.ParseSpec([]byte(specDefaultsOf))
	if err != nil {
		return nil, err
	}
	fields := walkFields(reflect.TypeFor[sched.Spec](), reflect.ValueOf(*spec), "", docs)
	for i := range fields {
		if fields[i].Key == "name" || fields[i].Key == "image" {
			fields[i].Default = "" // given in specDefaultsOf, not defaults
		}
	}
	var b strings.Builder
	b.WriteString("# Service spec reference\n\n")
	b.WriteString("A service is deployed by writing its spec, a JSON document, to the KV key `shoal/services/<name>`; " +
		"the [deployments guide](../../docs/scheduler.md) shows the workflow. A spec that fails validation is not " +
		"scheduled: `shoal svc validate` and `POST /v1/shoal/validate` report every problem at once. " +
		"This page is generated from the scheduler's spec struct: the defaults are what the scheduler fills in for `" +
		specDefaultsOf + "`, and the rules are the validator's own messages.\n\n")
	writeFieldTable(&b, fields, SpecAnchor, func(f field) string {
		rs := rules[strings.TrimSuffix(f.Key, "[]")]
		if len(rs) == 0 {
			return ""
		}
		return "**Rejected when:** " + mdCell(strings.Join(quoteEach(rs), "; ")) + "."
	})
	var other []string
	known := map[string]bool{}
	for _, f := range fields {
		known[f.Key] = true
	}
	for k, rs := range rules {
		if !known[k] {
			for _, r := range rs {
				other = append(other, fmt.Sprintf("`%s`: %s", k, r))
			}
		}
	}
	if len(other) > 0 {
		sortStrings(other)
		b.WriteString("## Other validation rules\n\n")
		for _, o := range other {
			fmt.Fprintf(&b, "- %s\n", o)
		}
		b.WriteString("\n")
	}
	return []byte(b.String()), nil
}

func quoteEach(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "“" + s + "”"
	}
	return out
}
