package agent

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/go-bexpr"
)

// Bounds on a ?filter expression, checked before it is parsed: its length,
// how deeply parentheses and unary "not" nest, and its parse cost. Consul
// has none, and a megabyte of nested parentheses costs its parser (and
// cost Shoal's) hundreds of megabytes before it crashes.
//
// go-bexpr's parser backtracks: every level of parentheses parses what it
// holds about four times over, so 8 levels around one comparison take a
// second and 16 would take hours. The cost of a filter is therefore its
// bytes weighted by 4^(parenthesis depth), and must stay under
// maxFilterCost: 16 KiB flat, 4 KiB inside two levels, 256 bytes inside
// four, at most six levels (about 40 ms and 20 MB to parse).
const (
	maxFilterLen   = 16 << 10
	maxFilterDepth = 32
	maxFilterCost  = 64 << 10
)

// filter is a compiled ?filter expression, evaluated by go-bexpr as
// Consul evaluates it: selectors are the Go field names of one element of
// the result (Service.Tags, Node.Meta.env, Checks.Status), with ==, !=,
// in, not in, contains, not contains, matches, not matches, is empty, is
// not empty, and, or, not and parentheses. A selector through a list
// matches when any element matches (Checks.Status == critical); a missing
// map key matches != and is empty and nothing else.
//
// go-bexpr v0.1.2 is the version Consul itself uses: later versions
// dropped the typed selectors (an unknown selector is found only while
// evaluating, and selectors through lists no longer work).
type filter struct {
	eval *bexpr.Evaluator
}

// parseFilter reads ?filter; nil when absent. elem is one element of the
// result (a value or a typed nil pointer; match must be given values of
// exactly that type). A selector naming no field of elem is refused with
// 400 ("Selector ... is not valid"), as Consul does, rather than
// matching nothing.
func parseFilter(r *http.Request, elem any) (*filter, error) {
	s := query(r).Get("filter")
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	f, err := compileFilter(s, elem)
	if err != nil {
		return nil, badRequest("Failed to create boolean expression evaluator: %v", err)
	}
	return f, nil
}

// compileFilter bounds s, then parses it and checks its selectors against
// elem's type.
func compileFilter(s string, elem any) (*filter, error) {
	if len(s) > maxFilterLen {
		return nil, fmt.Errorf("filter is %d bytes long, more than the limit of %d", len(s), maxFilterLen)
	}
	if d := filterDepth(s); d > maxFilterDepth {
		return nil, fmt.Errorf("filter nests %d levels deep, more than the limit of %d", d, maxFilterDepth)
	}
	if c := filterCost(s); c > maxFilterCost {
		return nil, fmt.Errorf("filter nests too much inside parentheses: its cost (bytes weighted by 4 per level of parentheses) is %d, more than the limit of %d", c, maxFilterCost)
	}
	e, err := bexpr.CreateEvaluatorForType(s, nil, elem)
	if err != nil {
		return nil, err
	}
	return &filter{eval: e}, nil
}

// match reports whether v (of the type the filter was compiled for)
// satisfies the filter. A value the evaluator cannot walk (a nil pointer
// on a selector's path) does not match.
func (f *filter) match(v any) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	ok, err := f.eval.Evaluate(v)
	return err == nil && ok
}

// filterDepth returns the deepest nesting of parentheses and unary "not"
// in s, skipping quoted strings. A "not" counts from where it stands until
// the next and/or at its level or the parenthesis that closes its level;
// "not" before in/contains/matches and after "is" is an operator, not a
// nesting.
func filterDepth(s string) int {
	var (
		levels  []int // nots carried into each open parenthesis
		carried int   // sum of levels
		cur     int   // unary nots pending at the current level
		deepest int
		prev    string
	)
	toks := filterWords(s)
	for i, t := range toks {
		switch t {
		case "(":
			levels = append(levels, cur)
			carried += cur
			cur = 0
		case ")":
			if n := len(levels); n > 0 {
				cur = levels[n-1]
				carried -= cur
				levels = levels[:n-1]
			}
		case "and", "or":
			cur = 0
		case "not":
			next := ""
			if i+1 < len(toks) {
				next = toks[i+1]
			}
			if prev != "is" && next != "in" && next != "contains" && next != "matches" {
				cur++
			}
		}
		if d := len(levels) + carried + cur; d > deepest {
			deepest = d
		}
		prev = t
	}
	return deepest
}

// filterCost returns the bytes of s weighted by 4^d, d the depth of
// parentheses (outside quoted strings) the byte stands at; it stops
// counting past maxFilterCost.
func filterCost(s string) int {
	cost, depth := 0, 0
	var quote byte
	for i := 0; i < len(s) && cost <= maxFilterCost; i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '`':
			quote = c
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		}
		w := 1
		for k := 0; k < depth && w <= maxFilterCost; k++ {
			w *= 4
		}
		cost += w
	}
	return cost
}

// filterWords splits s into parentheses and bare words; quoted strings
// become one placeholder word.
func filterWords(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			out = append(out, string(c))
			i++
		case c == '"' || c == '`':
			j := i + 1
			for j < len(s) && s[j] != c {
				if c == '"' && s[j] == '\\' {
					j++
				}
				j++
			}
			out = append(out, `""`)
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()\"`", rune(s[j])) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}
