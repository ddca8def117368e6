package dns

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/shoalproject/shoal/catalog"
)

// ErrNoDatacenter is returned by a Reader for a datacenter it cannot reach
// or does not know; the query is answered NXDOMAIN, as Consul does when
// there is no path to a datacenter. Any other Reader error is SERVFAIL.
var ErrNoDatacenter = errors.New("dns: no path to datacenter")

// Reader is the catalog as the DNS server reads it.
//
// Methods are called concurrently from many goroutines and must be cheap
// on the hot path (served from memory). What they return is shared: the
// server never modifies it, and implementations must not modify it after
// returning it. Names are lower case; implementations compare them
// case-insensitively. They return an error if ctx is done first.
type Reader interface {
	// ServiceNodes returns every instance of service in dc, whatever its
	// health, with its node and checks (the node's and the instance's).
	// An unknown service has no instances and no error.
	ServiceNodes(ctx context.Context, dc, service string) ([]catalog.Instance, error)
	// Node returns the node called name in dc; nil means there is none.
	Node(ctx context.Context, dc, name string) (*catalog.Node, error)
	// Nodes returns every node of dc, for reverse lookups.
	Nodes(ctx context.Context, dc string) ([]*catalog.Node, error)
}

// ServiceLister is an optional ability of a Reader: listing the names of
// dc's services lets reverse lookups find service addresses too.
type ServiceLister interface {
	// Services returns the names of dc's services.
	Services(ctx context.Context, dc string) ([]string, error)
}

// QueryExecutor is an optional ability of a Reader: running a prepared
// query, for <name>.query.<domain>.
type QueryExecutor interface {
	// ExecuteQuery runs the prepared query with this ID or name in dc. It
	// returns the instances to answer with, in order (already filtered for
	// health), the queried service and the TTL the query asks for (0: the
	// service's TTL); ok=false means there is no such query.
	ExecuteQuery(ctx context.Context, dc, name string) (insts []catalog.Instance, service string, ttl time.Duration, ok bool, err error)
}

// VirtualIPs is an optional ability of a Reader: the services' virtual IPs
// (the routing mesh's), answered for <service>.virtual.<domain> as Consul
// answers its virtual IPs. Without it such names are NXDOMAIN.
type VirtualIPs interface {
	// VIP returns the virtual IP of service (lower case); ok is false
	// when it has none.
	VIP(service string) (addr netip.Addr, ok bool)
}
