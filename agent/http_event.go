package agent

import (
	"errors"
	"io"
	"net/http"
	"regexp"
	"time"

	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/server"
)

// eventRoutes serves Consul's user events: fire one by gossip, list the
// ones this agent received (a blocking read of the agent's own buffer).
func (a *Agent) eventRoutes() []route {
	return []route{
		{"/v1/event/fire/{name...}", put, a.eventFire},
		{"/v1/event/list", get, a.eventList},
	}
}

func (a *Agent) eventFire(w http.ResponseWriter, r *http.Request) (any, error) {
	q := query(r)
	e := &userEvent{ID: newUUID(), Name: r.PathValue("name"), Version: 1,
		NodeFilter: q.Get("node"), ServiceFilter: q.Get("service"), TagFilter: q.Get("tag")}
	if e.Name == "" {
		return nil, badRequest("Missing name")
	}
	if e.TagFilter != "" && e.ServiceFilter == "" {
		return nil, badRequest("Cannot provide tag filter without service filter")
	}
	for _, f := range []string{e.NodeFilter, e.ServiceFilter, e.TagFilter} {
		if _, err := regexp.Compile(f); err != nil {
			return nil, badRequest("Invalid filter %q: %v", f, err)
		}
	}
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err // only a body over the limit fails: 413
	}
	if len(payload) > 0 {
		e.Payload = payload
	}
	msg, err := encodeUserEvent(e)
	if err != nil {
		return nil, err
	}
	if err := a.delegate.UserEvent(userEventPrefix+e.Name, msg); err != nil {
		if errors.Is(err, server.ErrEventTooLarge) {
			return nil, HTTPError{Code: http.StatusRequestEntityTooLarge, Msg: err.Error()}
		}
		return nil, err
	}
	return e, nil
}

// eventList answers the events received, oldest first, optionally of one
// ?name. Its index is derived from the last event's ID; with ?index equal
// to it, the request waits for the next event or ?wait.
func (a *Agent) eventList(w http.ResponseWriter, r *http.Request) (any, error) {
	var opts rpcapi.QueryOptions
	if err := parseQuery(r, &opts); err != nil {
		return nil, err
	}
	name := query(r).Get("name")
	var timeout <-chan time.Time
	if opts.MinQueryIndex > 0 {
		t := time.NewTimer(server.QueryWait(&opts))
		defer t.Stop()
		timeout = t.C
	}
	for {
		all, _, notify := a.events.list()
		out := []*userEvent{}
		for _, e := range all {
			if name == "" || e.Name == name {
				out = append(out, e)
			}
		}
		// A non-zero index when empty, so that a watch does not spin.
		index := uint64(1)
		if len(out) > 0 {
			index = eventIndex(out[len(out)-1].ID)
		}
		if opts.MinQueryIndex == 0 || index != opts.MinQueryIndex {
			setMeta(w, &rpcapi.QueryMeta{Index: index, KnownLeader: true})
			return out, nil
		}
		select {
		case <-notify:
		case <-timeout:
			setMeta(w, &rpcapi.QueryMeta{Index: index, KnownLeader: true})
			return out, nil
		case <-r.Context().Done():
			return nil, r.Context().Err()
		case <-a.shutdownCh:
			return nil, errors.New("agent shutting down")
		}
	}
}
