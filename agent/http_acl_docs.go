package agent

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/shoalproject/shoal/acl"
	"github.com/shoalproject/shoal/agent/config"
)

// docsPathParam matches a ServeMux wildcard, e.g. {key...}.
var docsPathParam = regexp.MustCompile(`\{([a-zA-Z]+)(\.\.\.)?\}`)

// RouteACL says, for the docs, what a token needs to call pattern with
// method when ACLs are enabled. It is read from the route's own decision
// (routeACLs): a check is run against a token holding nothing, and each
// permission it asks for is granted in turn until the check passes, so the
// text cannot drift from what the agent enforces. The servers check the
// same permissions again on the RPCs the handler makes.
func RouteACL(pattern, method string) string {
	rt, ok := routeACLs()[pattern]
	switch {
	case !ok:
		return ""
	case rt.none != "":
		return "none: " + rt.none
	case rt.server:
		return "checked by the servers (`acl` read or write)"
	}
	var parts []string
	if rt.check != nil {
		parts = append(parts, probeCheck(rt.check, pattern, method))
	}
	if f := rt.filter; f != nil && (f.only == nil || f.only(docsRequest(pattern, method))) {
		parts = append(parts, "results filtered to what the token may read ("+f.describe()+")")
	}
	return strings.Join(parts, "; ")
}

// docsRequest is a request for pattern with every path parameter "example".
func docsRequest(pattern, method string) *http.Request {
	path := docsPathParam.ReplaceAllString(pattern, "example")
	r, err := http.NewRequest(method, "http://agent"+path, http.NoBody)
	if err != nil {
		panic(err) // a route pattern is a valid path: a programmer error
	}
	for _, m := range docsPathParam.FindAllStringSubmatch(pattern, -1) {
		r.SetPathValue(m[1], "example")
	}
	return r
}

// probeCheck lists the permissions check asks for, granting each in turn.
func probeCheck(check func(*Agent, *acl.Authorizer, *http.Request) error, pattern, method string) (desc string) {
	defer func() {
		if recover() != nil {
			desc = "checked against what the request carries (see the ACLs guide)"
		}
	}()
	a := &Agent{cfg: &config.Config{NodeName: "example"}}
	rules := &acl.Rules{Exact: map[acl.Resource]map[string]acl.Access{}, Prefix: map[acl.Resource]map[string]acl.Access{}}
	var needs []string
	for range 6 {
		err := check(a, acl.NewAuthorizer("", acl.DefaultDeny, rules), docsRequest(pattern, method))
		var pe *acl.PermissionError
		if !errors.As(err, &pe) {
			break
		}
		needs = append(needs, fmt.Sprintf("`%s` %s", pe.Resource, pe.Access))
		switch pe.Resource {
		case acl.GlobalOperator:
			rules.Operator = pe.Access
		case acl.GlobalKeyring:
			rules.Keyring = pe.Access
		case acl.GlobalACL:
			rules.ACL = pe.Access
		default:
			res := acl.Resource(pe.Resource)
			if rules.Prefix[res] == nil {
				rules.Prefix[res] = map[string]acl.Access{}
			}
			rules.Prefix[res][""] = pe.Access
		}
	}
	if len(needs) == 0 {
		// Nothing asked for with an empty request: the check reads what
		// the request carries (a body's items, the object it names).
		return "checked against what the request carries (see the ACLs guide)"
	}
	return strings.Join(slices.Compact(needs), " and ")
}

// describe names the resources a result filter checks.
func (f *resultFilter) describe() string {
	var res []string
	if f.keyed != "" {
		res = append(res, string(f.keyed))
	}
	for _, fl := range f.fields {
		res = append(res, string(fl.res))
	}
	slices.Sort(res)
	res = slices.Compact(res)
	for i, r := range res {
		res[i] = "`" + r + "` read"
	}
	return strings.Join(res, ", ")
}
