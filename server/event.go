package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/serf/coordinate"
	"github.com/hashicorp/serf/serf"
	"github.com/shoalproject/shoal/rpcapi"
)

// ErrEventTooLarge means a user event does not fit in one Serf message.
var ErrEventTooLarge = errors.New("user event too large")

// UserEventSizeLimit is the most a user event (its name and encoded
// payload) may weigh. Serf's own limit is set a little above it
// (serfUserEventLimit), for its encoding; both fit in one gossip packet.
const (
	UserEventSizeLimit = 900
	serfUserEventLimit = 1024
)

// deliverUserEvent hands a Serf user event to the configured receiver.
func deliverUserEvent(cfg Config, ue serf.UserEvent) {
	if cfg.UserEvents != nil {
		cfg.UserEvents(ue)
	}
}

// fireUserEvent broadcasts a user event through s's gossip; it is
// delivered to every member, this one included.
func fireUserEvent(s *serf.Serf, name string, payload []byte) error {
	if len(name)+len(payload) > UserEventSizeLimit {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrEventTooLarge, len(name)+len(payload), UserEventSizeLimit)
	}
	return s.UserEvent(name, payload, false)
}

// UserEvent broadcasts a user event to the cluster by gossip.
func (s *Server) UserEvent(name string, payload []byte) error {
	return fireUserEvent(s.serf, name, payload)
}

// UserEvent broadcasts a user event to the cluster by gossip.
func (c *Client) UserEvent(name string, payload []byte) error {
	return fireUserEvent(c.serf, name, payload)
}

// Coordinate is this node's Serf network coordinate.
func (s *Server) Coordinate() (*coordinate.Coordinate, error) { return s.serf.GetCoordinate() }

// Coordinate is this node's Serf network coordinate.
func (c *Client) Coordinate() (*coordinate.Coordinate, error) { return c.serf.GetCoordinate() }

// CachedCoordinate is the last coordinate this node heard for member
// name, and whether it has one.
func (s *Server) CachedCoordinate(name string) (*coordinate.Coordinate, bool) {
	return s.serf.GetCachedCoordinate(name)
}

// CachedCoordinate is the last coordinate this node heard for member
// name, and whether it has one.
func (c *Client) CachedCoordinate(name string) (*coordinate.Coordinate, bool) {
	return c.serf.GetCachedCoordinate(name)
}

// QueryWait is how long a blocking query with options o waits at most:
// its ?wait, 5 min by default, 10 min at most (for blocking reads served
// by the agent itself, such as /v1/event/list).
func QueryWait(o *rpcapi.QueryOptions) time.Duration { return maxQueryTime(o) }
