package agent

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/shoalproject/shoal/acl"
)

// maxAuthorizeRequests bounds one /v1/internal/acl/authorize call, as
// Consul's (64).
const maxAuthorizeRequests = 64

// authorizeRequest is one question of /v1/internal/acl/authorize, in
// Consul's shape: may the caller's token access Segment of Resource at
// Access? Segment is empty for the global resources (operator, keyring,
// acl).
type authorizeRequest struct {
	Resource string
	Segment  string `json:",omitempty"`
	Access   string
}

// authorizeResponse is a question with its answer.
type authorizeResponse struct {
	authorizeRequest
	Allow bool
}

func (a *Agent) internalRoutes() []route {
	return []route{
		{"/v1/internal/acl/authorize", []string{http.MethodPost}, a.aclAuthorize},
	}
}

// aclAuthorize answers, for the request's own token, which of the listed
// accesses it holds — what the web UI asks to disable the actions a token
// lacks. With ACLs disabled every access is allowed. It reveals only the
// caller's own permissions, so the route needs none (routeACLs).
func (a *Agent) aclAuthorize(_ http.ResponseWriter, r *http.Request) (any, error) {
	var reqs []authorizeRequest
	if err := json.NewDecoder(r.Body).Decode(&reqs); err != nil {
		return nil, badRequest("Failed to decode request body: %v", err)
	}
	if len(reqs) > maxAuthorizeRequests {
		return nil, badRequest("Refusing to process more than %d authorizations at once", maxAuthorizeRequests)
	}
	z := acl.AllowAll()
	if a.acl != nil {
		var err error
		if z, err = a.acl.authorizer(r.Context(), a.requestToken(r)); err != nil {
			return nil, aclError(err)
		}
	}
	out := make([]authorizeResponse, len(reqs))
	for i, q := range reqs {
		allow, err := authorizeOne(z, q)
		if err != nil {
			return nil, badRequest("Invalid authorization request at index %d: %v", i, err)
		}
		out[i] = authorizeResponse{authorizeRequest: q, Allow: allow}
	}
	return out, nil
}

// authorizeOne decides one question.
func authorizeOne(z *acl.Authorizer, q authorizeRequest) (bool, error) {
	var need acl.Access
	switch q.Access {
	case "read":
		need = acl.AccessRead
	case "list":
		need = acl.AccessList
	case "write":
		need = acl.AccessWrite
	default:
		return false, fmt.Errorf("unknown access level %q (read, list or write)", q.Access)
	}
	switch q.Resource {
	case acl.GlobalOperator, acl.GlobalKeyring, acl.GlobalACL:
		if q.Segment != "" {
			return false, fmt.Errorf("resource %q takes no segment", q.Resource)
		}
		return z.GlobalAllowed(q.Resource, need), nil
	}
	res := acl.Resource(q.Resource)
	switch res {
	case acl.ResourceKey, acl.ResourceService, acl.ResourceNode, acl.ResourceSession,
		acl.ResourceAgent, acl.ResourceEvent, acl.ResourceQuery, acl.ResourceDeploy:
	default:
		return false, fmt.Errorf("unknown resource %q", q.Resource)
	}
	if need == acl.AccessList && res != acl.ResourceKey {
		return false, fmt.Errorf("access list applies only to resource key")
	}
	return z.Allowed(res, q.Segment, need), nil
}
