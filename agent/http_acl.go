package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shoalproject/shoal/acl"
	"github.com/shoalproject/shoal/rpcapi"
)

// aclRoutes are Consul's /v1/acl endpoints. The servers check the
// caller's acl:read / acl:write; these handlers only carry the token.
func (a *Agent) aclRoutes() []route {
	put, get := []string{http.MethodPut}, []string{http.MethodGet}
	crud := []string{http.MethodGet, http.MethodPut, http.MethodDelete}
	return []route{
		{"/v1/acl/bootstrap", put, a.aclBootstrap},
		{"/v1/acl/token", put, a.aclTokenCreate},
		{"/v1/acl/token/self", get, a.aclTokenSelf},
		{"/v1/acl/token/{id}", crud, a.aclToken},
		{"/v1/acl/tokens", get, a.aclTokenList},
		{"/v1/acl/policy", put, a.aclPolicyCreate},
		{"/v1/acl/policy/{id}", crud, a.aclPolicy},
		{"/v1/acl/policy/name/{name}", get, a.aclPolicyByName},
		{"/v1/acl/policies", get, a.aclPolicyList},
		{"/v1/acl/role", put, a.aclRoleCreate},
		{"/v1/acl/role/{id}", crud, a.aclRole},
		{"/v1/acl/role/name/{name}", get, a.aclRoleByName},
		{"/v1/acl/roles", get, a.aclRoleList},
		{"/v1/agent/token/{kind}", put, a.agentToken},
	}
}

// requestToken returns the token a request carries — X-Consul-Token,
// then "Authorization: Bearer", then ?token= — or the agent's default
// token (acl.tokens.default; empty means anonymous).
func (a *Agent) requestToken(r *http.Request) string { return a.tokenOf(r, query(r)) }

// tokenOf is requestToken with r's query parameters q.
func (a *Agent) tokenOf(r *http.Request, q url.Values) string {
	if t := r.Header.Get("X-Consul-Token"); t != "" {
		return t
	}
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, t, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(t)
		}
	}
	if t := q.Get("token"); t != "" {
		return t
	}
	return a.tokens.defaultToken()
}

// aclError maps ACL errors, local or from a server, to Consul's statuses.
func aclError(err error) error {
	switch {
	case err == nil:
		return nil
	case rpcapi.IsRemote(err, acl.ErrPermissionDenied), rpcapi.IsRemote(err, acl.ErrNotFound),
		rpcapi.IsRemote(err, acl.ErrBootstrapDone):
		msg := err.Error()
		if !strings.HasPrefix(msg, acl.ErrPermissionDenied.Error()) {
			msg = acl.ErrPermissionDenied.Error() + ": " + msg
		}
		return HTTPError{Code: http.StatusForbidden, Msg: msg}
	case rpcapi.IsRemote(err, acl.ErrInvalid):
		return HTTPError{Code: http.StatusBadRequest, Msg: err.Error()}
	case rpcapi.IsRemote(err, rpcapi.ErrACLDisabled):
		return HTTPError{Code: http.StatusUnauthorized, Msg: err.Error()}
	}
	return err
}

// aclRPC calls an ACL endpoint and maps its errors.
func (a *Agent) aclRPC(r *http.Request, method string, args, reply any) error {
	return aclError(a.delegate.RPC(r.Context(), method, args, reply))
}

// decodeOptionalBody decodes a JSON body into v; an empty body leaves v
// as is (bootstrap and deletes send none).
func decodeOptionalBody(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return badRequest("Request body read failed: %v", err)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return badRequest("Request decode failed: %v", err)
	}
	return nil
}

func (a *Agent) aclBootstrap(w http.ResponseWriter, r *http.Request) (any, error) {
	var args rpcapi.ACLBootstrapRequest
	args.Datacenter = query(r).Get("dc")
	var out acl.Token
	if err := a.aclRPC(r, "ACL.Bootstrap", &args, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// tokenBody is a token as Consul's clients send it.
type tokenBody struct {
	acl.Token
	// ExpirationTTL is a duration string ("1h") or nanoseconds.
	ExpirationTTL json.RawMessage
}

func (a *Agent) tokenSet(r *http.Request, create bool, accessor string) (any, error) {
	var body tokenBody
	if err := decodeOptionalBody(r, &body); err != nil {
		return nil, err
	}
	if !create {
		if body.AccessorID != "" && body.AccessorID != accessor {
			return nil, badRequest("Token Accessor ID in URL and payload do not match")
		}
		body.AccessorID = accessor
	}
	ttl, err := parseDurationJSON(body.ExpirationTTL)
	if err != nil {
		return nil, badRequest("Request decode failed: ExpirationTTL: %v", err)
	}
	args := rpcapi.ACLTokenSetRequest{Token: body.Token, Create: create, ExpirationTTL: ttl}
	args.Token.CreateIndex, args.Token.ModifyIndex = 0, 0
	args.Datacenter = query(r).Get("dc")
	var reply rpcapi.ACLTokenReply
	if err := a.aclRPC(r, "ACL.TokenSet", &args, &reply); err != nil {
		return nil, err
	}
	return reply.Token, nil
}

// parseDurationJSON reads a duration given as a string or nanoseconds.
func parseDurationJSON(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return time.ParseDuration(s)
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, errors.New("want a duration")
	}
	return time.Duration(n), nil
}

func (a *Agent) aclTokenCreate(w http.ResponseWriter, r *http.Request) (any, error) {
	return a.tokenSet(r, true, "")
}

func (a *Agent) aclTokenSelf(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.ACLTokenGetRequest{Self: true}
	return a.tokenGet(w, r, &args)
}

func (a *Agent) tokenGet(w http.ResponseWriter, r *http.Request, args *rpcapi.ACLTokenGetRequest) (any, error) {
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	var reply rpcapi.ACLTokenReply
	if err := a.aclRPC(r, "ACL.TokenGet", args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	if reply.Token == nil {
		return nil, HTTPError{Code: http.StatusNotFound, Msg: "ACL token not found"}
	}
	return reply.Token, nil
}

// aclToken serves GET, PUT and DELETE of /v1/acl/token/{id}.
func (a *Agent) aclToken(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	switch r.Method {
	case http.MethodGet:
		return a.tokenGet(w, r, &rpcapi.ACLTokenGetRequest{AccessorID: id})
	case http.MethodPut:
		return a.tokenSet(r, false, id)
	}
	return a.aclDelete(r, "ACL.TokenDelete", id)
}

func (a *Agent) aclDelete(r *http.Request, method, id string) (any, error) {
	args := rpcapi.ACLDeleteRequest{ID: id}
	args.Datacenter = query(r).Get("dc")
	var ok bool
	if err := a.aclRPC(r, method, &args, &ok); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *Agent) aclTokenList(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.ACLTokenListRequest{Policy: query(r).Get("policy"), Role: query(r).Get("role")}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	var reply rpcapi.ACLTokenList
	if err := a.aclRPC(r, "ACL.TokenList", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	if reply.Tokens == nil {
		reply.Tokens = []*acl.Token{}
	}
	return reply.Tokens, nil
}

func (a *Agent) policySet(r *http.Request, id string) (any, error) {
	var p acl.Policy
	if err := decodeOptionalBody(r, &p); err != nil {
		return nil, err
	}
	if id != "" {
		if p.ID != "" && p.ID != id {
			return nil, badRequest("Policy ID in URL and payload do not match")
		}
		p.ID = id
	} else if p.ID != "" {
		return nil, badRequest("Cannot specify an ID when creating a policy")
	}
	p.CreateIndex, p.ModifyIndex = 0, 0
	args := rpcapi.ACLPolicySetRequest{Policy: p}
	args.Datacenter = query(r).Get("dc")
	var reply rpcapi.ACLPolicyReply
	if err := a.aclRPC(r, "ACL.PolicySet", &args, &reply); err != nil {
		return nil, err
	}
	return reply.Policy, nil
}

func (a *Agent) aclPolicyCreate(w http.ResponseWriter, r *http.Request) (any, error) {
	return a.policySet(r, "")
}

func (a *Agent) policyGet(w http.ResponseWriter, r *http.Request, id, name string) (any, error) {
	args := rpcapi.ACLGetRequest{ID: id, Name: name}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	var reply rpcapi.ACLPolicyReply
	if err := a.aclRPC(r, "ACL.PolicyGet", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	if reply.Policy == nil {
		return nil, HTTPError{Code: http.StatusNotFound, Msg: "ACL policy not found"}
	}
	return reply.Policy, nil
}

// aclPolicy serves GET, PUT and DELETE of /v1/acl/policy/{id}.
func (a *Agent) aclPolicy(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	switch r.Method {
	case http.MethodGet:
		return a.policyGet(w, r, id, "")
	case http.MethodPut:
		return a.policySet(r, id)
	}
	return a.aclDelete(r, "ACL.PolicyDelete", id)
}

func (a *Agent) aclPolicyByName(w http.ResponseWriter, r *http.Request) (any, error) {
	return a.policyGet(w, r, "", r.PathValue("name"))
}

func (a *Agent) aclPolicyList(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.ACLListRequest{}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	var reply rpcapi.ACLPolicyList
	if err := a.aclRPC(r, "ACL.PolicyList", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	if reply.Policies == nil {
		reply.Policies = []*acl.Policy{}
	}
	return reply.Policies, nil
}

func (a *Agent) roleSet(r *http.Request, id string) (any, error) {
	var role acl.Role
	if err := decodeOptionalBody(r, &role); err != nil {
		return nil, err
	}
	if id != "" {
		if role.ID != "" && role.ID != id {
			return nil, badRequest("Role ID in URL and payload do not match")
		}
		role.ID = id
	} else if role.ID != "" {
		return nil, badRequest("Cannot specify an ID when creating a role")
	}
	role.CreateIndex, role.ModifyIndex = 0, 0
	args := rpcapi.ACLRoleSetRequest{Role: role}
	args.Datacenter = query(r).Get("dc")
	var reply rpcapi.ACLRoleReply
	if err := a.aclRPC(r, "ACL.RoleSet", &args, &reply); err != nil {
		return nil, err
	}
	return reply.Role, nil
}

func (a *Agent) aclRoleCreate(w http.ResponseWriter, r *http.Request) (any, error) {
	return a.roleSet(r, "")
}

func (a *Agent) roleGet(w http.ResponseWriter, r *http.Request, id, name string) (any, error) {
	args := rpcapi.ACLGetRequest{ID: id, Name: name}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	var reply rpcapi.ACLRoleReply
	if err := a.aclRPC(r, "ACL.RoleGet", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	if reply.Role == nil {
		return nil, HTTPError{Code: http.StatusNotFound, Msg: "ACL role not found"}
	}
	return reply.Role, nil
}

// aclRole serves GET, PUT and DELETE of /v1/acl/role/{id}.
func (a *Agent) aclRole(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	switch r.Method {
	case http.MethodGet:
		return a.roleGet(w, r, id, "")
	case http.MethodPut:
		return a.roleSet(r, id)
	}
	return a.aclDelete(r, "ACL.RoleDelete", id)
}

func (a *Agent) aclRoleByName(w http.ResponseWriter, r *http.Request) (any, error) {
	return a.roleGet(w, r, "", r.PathValue("name"))
}

func (a *Agent) aclRoleList(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.ACLListRequest{}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	var reply rpcapi.ACLRoleList
	if err := a.aclRPC(r, "ACL.RoleList", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	if reply.Roles == nil {
		reply.Roles = []*acl.Role{}
	}
	return reply.Roles, nil
}

// newACLResolver builds the resolver of request tokens, or nil when ACLs
// are off.
func (a *Agent) newACLResolver() *aclResolver {
	c := a.cfg.ACL
	if !c.Enabled {
		return nil
	}
	var local func(string) (*acl.Authorizer, error)
	if a.server != nil {
		local = a.server.Authorizer // the server's own state and cache
	}
	return newACLResolver(a.delegate.RPC, local, c.DownPolicy, c.TokenTTL)
}

// routeACL returns the ACL decision of a route. A route without one is
// a programming error: it would serve without any authorization.
func (a *Agent) routeACL(pattern string) routeACL {
	d, ok := routeACLs()[pattern]
	if !ok {
		panic(fmt.Sprintf("agent: HTTP route %s has no ACL decision in routeACLs", pattern))
	}
	return d
}

// authorize runs a route's up-front check for the request's token. It
// returns the token's authorizer (nil when ACLs are off or the route
// needs none) for filterResult.
func (a *Agent) authorize(r *http.Request, d routeACL) (*acl.Authorizer, error) {
	if a.acl == nil || d.none != "" || d.server {
		return nil, nil
	}
	z, err := a.acl.authorizer(r.Context(), a.requestToken(r))
	if err != nil {
		return nil, aclError(err)
	}
	if d.check != nil {
		if err := d.check(a, z, r); err != nil {
			return nil, aclError(err)
		}
	}
	return z, nil
}

// filterResult removes from obj what z may not read, and says so in
// X-Consul-Results-Filtered-By-ACLs.
func (a *Agent) filterResult(w http.ResponseWriter, r *http.Request, d routeACL, z *acl.Authorizer, obj any) (any, error) {
	if z == nil || d.filter == nil || obj == nil {
		return obj, nil
	}
	out, removed, err := d.filter.apply(z, r, obj)
	if err != nil {
		return nil, err
	}
	if removed {
		w.Header().Set("X-Consul-Results-Filtered-By-ACLs", "true")
	}
	return out, nil
}

// redactedURL is the request URL for logs, with a ?token= secret hidden.
func redactedURL(r *http.Request) string {
	u := *r.URL
	q := u.Query()
	if q.Has("token") {
		q.Set("token", "<hidden>")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
