package sched

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseConstraint(t *testing.T) {
	tests := []struct {
		in      string
		attr    string
		op      Operator
		values  []string
		wantErr string
	}{
		{in: "node.meta.storage == ssd", attr: "node.meta.storage", op: OpEqual, values: []string{"ssd"}},
		{in: "node.role!=server", attr: AttrRole, op: OpNotEqual, values: []string{"server"}},
		{in: `node.name == "web 1"`, attr: AttrName, op: OpEqual, values: []string{"web 1"}},
		{in: "node.name in (a, b ,c)", attr: AttrName, op: OpIn, values: []string{"a", "b", "c"}},
		{in: "node.id in(x)", attr: AttrID, op: OpIn, values: []string{"x"}},
		{in: "  node.meta.zone   regexp   ^eu-  ", attr: "node.meta.zone", op: OpRegexp, values: []string{"^eu-"}},
		{in: "node.datacenter == dc1", attr: AttrDatacenter, op: OpEqual, values: []string{"dc1"}},
		{in: "", wantErr: `sched: invalid constraint "": empty constraint`},
		{in: "node.role", wantErr: `missing operator after "node.role" (use ==, !=, in, regexp)`},
		{in: "node.role ~= x", wantErr: `unknown operator "~=" (use ==, !=, in, regexp)`},
		{in: "node.meta. == x", wantErr: `unknown attribute "node.meta."`},
		{in: "node.name in ()", wantErr: `empty value in list "()"`},
		{in: "node.name in (a,,b)", wantErr: `empty value in list "(a,,b)"`},
		{in: "node.name regexp [", wantErr: `invalid regexp "["`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			c, err := ParseConstraint(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalidConstraint) {
					t.Fatalf("err = %v, want %q wrapping ErrInvalidConstraint", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Attribute != tc.attr || c.Operator != tc.op || !reflect.DeepEqual(c.Values, tc.values) || c.String() != tc.in {
				t.Errorf("got %+v", c)
			}
		})
	}
}

func TestConstraintMatch(t *testing.T) {
	n := testNode("id-1", withRole(RoleServer), withMeta("zone", "eu-west-1", "storage", "ssd"))
	n.Name = "alpha"
	tests := []struct {
		expr string
		want bool
	}{
		{"node.name == alpha", true},
		{"node.name == beta", false},
		{"node.id == id-1", true},
		{"node.role == server", true},
		{"node.role != server", false},
		{"node.role != client", true},
		{"node.datacenter == dc1", true},
		{"node.meta.storage == ssd", true},
		{"node.meta.storage == hdd", false},
		{"node.meta.gpu == yes", false},   // unset: == fails
		{"node.meta.gpu != yes", true},    // unset: != holds
		{"node.meta.gpu in (yes)", false}, // unset: in fails
		{"node.meta.gpu regexp .*", false},
		{"node.name in (beta, alpha)", true},
		{"node.name in (beta, gamma)", false},
		{"node.meta.zone regexp ^eu-", true},
		{"node.meta.zone regexp ^us-", false},
		{"node.meta.zone regexp west", true}, // unanchored
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			c, err := ParseConstraint(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Match(n); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}
