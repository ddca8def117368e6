package sched

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Operator is a constraint's comparison.
type Operator string

// Operators.
const (
	// OpEqual holds when the attribute is set and equals the value.
	OpEqual Operator = "=="
	// OpNotEqual holds when the attribute is unset or differs from the
	// value (as in Docker Swarm: "node.meta.disk != ssd" matches a node
	// without the key).
	OpNotEqual Operator = "!="
	// OpIn holds when the attribute is set and equals one of the values,
	// written "(a, b, c)".
	OpIn Operator = "in"
	// OpRegexp holds when the attribute is set and matches the RE2
	// expression (unanchored: use ^ and $).
	OpRegexp Operator = "regexp"
)

// Node attributes a constraint can test.
const (
	AttrName       = "node.name"
	AttrID         = "node.id"
	AttrRole       = "node.role"
	AttrDatacenter = "node.datacenter"
	// AttrMetaPrefix followed by a key tests Node.Meta[key].
	AttrMetaPrefix = "node.meta."
)

// Constraint is a parsed placement rule "<attribute> <operator> <value>",
// such as "node.meta.storage == ssd", "node.role != server",
// "node.name in (a, b)" or "node.meta.zone regexp ^eu-".
type Constraint struct {
	// Raw is the text the constraint was parsed from.
	Raw string
	// Attribute is one of the Attr constants or AttrMetaPrefix+key.
	Attribute string
	// Operator is the comparison.
	Operator Operator
	// Values holds one value, or the listed ones for OpIn.
	Values []string

	re *regexp.Regexp // compiled Values[0] for OpRegexp
}

// ParseConstraint parses a constraint expression. The attribute and
// operator are separated by spaces (optional around == and !=); the value is
// the rest of the text, trimmed, with one pair of surrounding double quotes
// removed. Errors wrap ErrInvalidConstraint.
func ParseConstraint(s string) (*Constraint, error) {
	c, msg := parseConstraint(s)
	if msg != "" {
		return nil, fmt.Errorf("sched: %w %s: %s", ErrInvalidConstraint, strconv.Quote(s), msg)
	}
	return c, nil
}

// parseConstraint returns the constraint, or a message (without the input)
// saying what is wrong with it.
func parseConstraint(s string) (*Constraint, string) {
	rest := strings.TrimSpace(s)
	if rest == "" {
		return nil, "empty constraint"
	}
	end := strings.IndexAny(rest, " \t=!")
	if end <= 0 {
		return nil, fmt.Sprintf("missing operator after %s (use ==, !=, in, regexp)", strconv.Quote(rest))
	}
	attr := rest[:end]
	if msg := checkAttribute(attr); msg != "" {
		return nil, msg
	}
	rest = strings.TrimSpace(rest[end:])

	var op string
	switch {
	case strings.HasPrefix(rest, "=="), strings.HasPrefix(rest, "!="):
		op = rest[:2]
	default:
		if e := strings.IndexAny(rest, " \t("); e >= 0 {
			op = rest[:e]
		} else {
			op = rest
		}
	}
	value := strings.TrimSpace(rest[len(op):])
	c := &Constraint{Raw: s, Attribute: attr, Operator: Operator(op)}
	switch c.Operator {
	case OpEqual, OpNotEqual:
		value = unquote(value)
		if value == "" {
			return nil, fmt.Sprintf("missing value after %s", strconv.Quote(op))
		}
		c.Values = []string{value}
	case OpIn:
		if !strings.HasPrefix(value, "(") || !strings.HasSuffix(value, ")") {
			return nil, fmt.Sprintf(`"in" needs a list in parentheses such as "(a, b)", got %s`, strconv.Quote(value))
		}
		for _, v := range strings.Split(value[1:len(value)-1], ",") {
			v = unquote(strings.TrimSpace(v))
			if v == "" {
				return nil, fmt.Sprintf(`empty value in list %s`, strconv.Quote(value))
			}
			c.Values = append(c.Values, v)
		}
	case OpRegexp:
		value = unquote(value)
		if value == "" {
			return nil, `missing expression after "regexp"`
		}
		re, err := regexp.Compile(value)
		if err != nil {
			return nil, fmt.Sprintf("invalid regexp %s: %v", strconv.Quote(value), err)
		}
		c.Values, c.re = []string{value}, re
	default:
		return nil, fmt.Sprintf("unknown operator %s (use ==, !=, in, regexp)", strconv.Quote(op))
	}
	return c, ""
}

func checkAttribute(attr string) string {
	switch attr {
	case AttrName, AttrID, AttrRole, AttrDatacenter:
		return ""
	}
	if key, ok := strings.CutPrefix(attr, AttrMetaPrefix); ok && key != "" {
		return ""
	}
	return fmt.Sprintf("unknown attribute %s (use node.name, node.id, node.role, node.datacenter, node.meta.<key>)", strconv.Quote(attr))
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// String returns the text the constraint was parsed from.
func (c *Constraint) String() string { return c.Raw }

// Match reports whether node n satisfies the constraint.
func (c *Constraint) Match(n *Node) bool {
	v, ok := n.attribute(c.Attribute)
	switch c.Operator {
	case OpEqual:
		return ok && v == c.Values[0]
	case OpNotEqual:
		return !ok || v != c.Values[0]
	case OpIn:
		if !ok {
			return false
		}
		for _, want := range c.Values {
			if v == want {
				return true
			}
		}
		return false
	case OpRegexp:
		return ok && c.re.MatchString(v)
	}
	return false
}

// attribute returns a node attribute and whether it is set. Empty name,
// role and datacenter count as unset.
func (n *Node) attribute(attr string) (string, bool) {
	switch attr {
	case AttrName:
		return n.Name, n.Name != ""
	case AttrID:
		return n.ID, n.ID != ""
	case AttrRole:
		return n.Role, n.Role != ""
	case AttrDatacenter:
		return n.Datacenter, n.Datacenter != ""
	}
	if key, ok := strings.CutPrefix(attr, AttrMetaPrefix); ok {
		v, ok := n.Meta[key]
		return v, ok
	}
	return "", false
}
