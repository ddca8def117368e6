package agent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
)

func (a *Agent) sessionRoutes() []route {
	put, get := []string{http.MethodPut}, []string{http.MethodGet}
	return []route{
		{"/v1/session/create", put, a.sessionCreate},
		{"/v1/session/destroy/{id}", put, a.sessionDestroy},
		{"/v1/session/renew/{id}", put, a.sessionRenew},
		{"/v1/session/info/{id}", get, a.sessionInfo},
		{"/v1/session/node/{node}", get, a.sessionNode},
		{"/v1/session/list", get, a.sessionList},
	}
}

// sessionCreateBody is the body of /v1/session/create. A nil check list
// means "not given": only when all three are, the session gets the node's
// serfHealth check.
type sessionCreateBody struct {
	Name          string
	Node          string
	LockDelay     json.RawMessage
	Behavior      kv.SessionBehavior
	TTL           string
	Checks        []string
	NodeChecks    []string
	ServiceChecks []kv.ServiceCheck
}

// lockDelayMinThreshold: a LockDelay below it is taken as seconds, as
// Consul's FixupLockDelay does ("15" means 15 s, "15000000000" too).
const lockDelayMinThreshold = 1000

func parseLockDelay(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return kv.DefaultLockDelay, nil
	}
	var d time.Duration
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if d, err = time.ParseDuration(s); err != nil {
			return 0, err
		}
	} else {
		var n float64
		if err := json.Unmarshal(raw, &n); err != nil {
			return 0, fmt.Errorf("invalid LockDelay %s", raw)
		}
		d = time.Duration(n)
	}
	if d < lockDelayMinThreshold {
		d *= time.Second
	}
	return d, nil
}

func (a *Agent) sessionCreate(w http.ResponseWriter, r *http.Request) (any, error) {
	var body sessionCreateBody
	data, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(data))) > 0 {
		if err := json.Unmarshal(data, &body); err != nil {
			return nil, badRequest("Request decode failed: %v", err)
		}
	}
	delay, err := parseLockDelay(body.LockDelay)
	if err != nil {
		return nil, badRequest("Request decode failed: %v", err)
	}
	s := kv.Session{Name: body.Name, Node: body.Node, LockDelay: delay, Behavior: body.Behavior,
		TTL: body.TTL, ServiceChecks: body.ServiceChecks}
	if s.Node == "" {
		s.Node = a.cfg.NodeName
	}
	if body.Checks == nil && body.NodeChecks == nil && body.ServiceChecks == nil {
		s.NodeChecks = []string{kv.SerfHealthCheckID}
	} else {
		s.NodeChecks = []string{}
		seen := map[string]bool{}
		for _, c := range append(append([]string(nil), body.NodeChecks...), body.Checks...) {
			if !seen[c] {
				seen[c] = true
				s.NodeChecks = append(s.NodeChecks, c)
			}
		}
	}
	if s.TTL != "" {
		if _, err := time.ParseDuration(s.TTL); err != nil {
			return nil, badRequest("Request decode failed: invalid TTL %q: %v", s.TTL, err)
		}
	}
	args := rpcapi.SessionRequest{Op: kv.SessionCreate, Session: s}
	args.Datacenter = query(r).Get("dc")
	var id string
	if err := a.delegate.RPC(r.Context(), "Session.Apply", &args, &id); err != nil {
		return nil, err
	}
	return map[string]string{"ID": id}, nil
}

func (a *Agent) sessionDestroy(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	if id == "" {
		return nil, badRequest("Missing session")
	}
	args := rpcapi.SessionRequest{Op: kv.SessionDestroy, Session: kv.Session{ID: id}}
	args.Datacenter = query(r).Get("dc")
	var out string
	if err := a.delegate.RPC(r.Context(), "Session.Apply", &args, &out); err != nil {
		return nil, err
	}
	return true, nil
}

func (a *Agent) sessionRenew(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	if id == "" {
		return nil, badRequest("Missing session")
	}
	args := rpcapi.SessionRenewRequest{SessionID: id}
	args.Datacenter = query(r).Get("dc")
	var reply rpcapi.IndexedSessions
	if err := a.delegate.RPC(r.Context(), "Session.Renew", &args, &reply); err != nil {
		return nil, err
	}
	if len(reply.Sessions) == 0 {
		return nil, HTTPError{Code: http.StatusNotFound, Msg: fmt.Sprintf("Session id '%s' not found", id)}
	}
	return sessionsJSON(reply.Sessions), nil
}

func (a *Agent) sessionInfo(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.SessionSpecificRequest{SessionID: r.PathValue("id")}
	return a.sessionRead(w, r, "Session.Get", &args, &args.QueryOptions)
}

func (a *Agent) sessionNode(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.NodeRequest{Node: r.PathValue("node")}
	return a.sessionRead(w, r, "Session.NodeSessions", &args, &args.QueryOptions)
}

func (a *Agent) sessionList(w http.ResponseWriter, r *http.Request) (any, error) {
	var args rpcapi.DCRequest
	return a.sessionRead(w, r, "Session.List", &args, &args.QueryOptions)
}

// sessionRead runs a session read and answers a list, empty rather than
// null.
func (a *Agent) sessionRead(w http.ResponseWriter, r *http.Request, method string, args any, q *rpcapi.QueryOptions) (any, error) {
	if err := parseQuery(r, q); err != nil {
		return nil, err
	}
	var reply rpcapi.IndexedSessions
	if err := a.delegate.RPC(r.Context(), method, args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	if reply.Sessions == nil {
		reply.Sessions = []*kv.Session{}
	}
	return sessionsJSON(reply.Sessions), nil
}

// sessionsJSON prepares sessions for output: NodeChecks is [] rather than
// null when a session has none, as Consul answers.
func sessionsJSON(ss []*kv.Session) []*kv.Session {
	for _, s := range ss {
		if s.NodeChecks == nil {
			s.NodeChecks = []string{}
		}
	}
	return ss
}
