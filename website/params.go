package website

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// queryParams reads the agent's HTTP handlers (the non-test Go files in
// dir) and returns, by route pattern, the query parameters each route
// reads: the string keys of r.URL.Query() (or query(r)) lookups in its handler and in
// every function of the package the handler calls, transitively. The
// route → handler mapping comes from the route table's literals
// ({pattern, methods, a.handler}).
func queryParams(dir string) (map[string][]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	reads := map[string]map[string]bool{} // function name → params it reads itself
	calls := map[string]map[string]bool{} // function name → functions it calls
	handlers := map[string]string{}       // pattern → handler function name
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			fn := fd.Name.Name
			if reads[fn] == nil {
				reads[fn], calls[fn] = map[string]bool{}, map[string]bool{}
			}
			scanFunc(fd, reads[fn], calls[fn], handlers)
		}
	}
	out := map[string][]string{}
	for pattern, h := range handlers {
		seen := map[string]bool{}
		params := map[string]bool{}
		var visit func(fn string)
		visit = func(fn string) {
			if seen[fn] {
				return
			}
			seen[fn] = true
			for p := range reads[fn] {
				params[p] = true
			}
			for c := range calls[fn] {
				visit(c)
			}
		}
		visit(h)
		list := make([]string, 0, len(params))
		for p := range params {
			list = append(list, p)
		}
		sort.Strings(list)
		out[pattern] = list
	}
	return out, nil
}

// scanFunc records what fd reads from the query string, what it calls,
// and any route literals it holds.
func scanFunc(fd *ast.FuncDecl, reads, calls map[string]bool, handlers map[string]string) {
	body := fd.Body
	// Identifiers holding r.URL.Query() or query(r), and parameters of
	// type url.Values (a query handed down by the caller).
	queryVars := map[string]bool{}
	for _, p := range fd.Type.Params.List {
		if sel, ok := p.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Values" {
			if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "url" {
				for _, n := range p.Names {
					queryVars[n.Name] = true
				}
			}
		}
	}
	isQuery := func(e ast.Expr) bool {
		if id, ok := e.(*ast.Ident); ok {
			return queryVars[id.Name]
		}
		call, ok := e.(*ast.CallExpr)
		if !ok {
			return false
		}
		switch fun := call.Fun.(type) {
		case *ast.SelectorExpr: // r.URL.Query()
			return fun.Sel.Name == "Query"
		case *ast.Ident: // query(r), the agent's once-parsed query
			return fun.Name == "query"
		}
		return false
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for i, rhs := range n.Rhs {
				if i < len(n.Lhs) && isQuery(rhs) {
					if id, ok := n.Lhs[i].(*ast.Ident); ok {
						queryVars[id.Name] = true
					}
				}
			}
		case *ast.IndexExpr:
			if s, ok := stringLit(n.Index); ok && isQuery(n.X) {
				reads[s] = true
			}
		case *ast.CallExpr:
			switch fun := n.Fun.(type) {
			case *ast.SelectorExpr:
				if (fun.Sel.Name == "Get" || fun.Sel.Name == "Has") && isQuery(fun.X) && len(n.Args) == 1 {
					if s, ok := stringLit(n.Args[0]); ok {
						reads[s] = true
					}
				}
				calls[fun.Sel.Name] = true
			case *ast.Ident:
				calls[fun.Name] = true
			}
		case *ast.CompositeLit:
			// A route literal: {"/v1/...", methods, a.handler or a.make(...)}.
			if len(n.Elts) != 3 {
				return true
			}
			pattern, ok := stringLit(n.Elts[0])
			if !ok || !strings.HasPrefix(pattern, "/v1/") {
				return true
			}
			h := n.Elts[2]
			if call, ok := h.(*ast.CallExpr); ok {
				h = call.Fun
			}
			if sel, ok := h.(*ast.SelectorExpr); ok {
				handlers[pattern] = sel.Sel.Name
			}
		}
		return true
	})
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}
