package driver

import (
	"context"
	"errors"
	"net/netip"
)

// ErrOtherNetNS means the driver's engine runs in another network namespace
// than this process: a bridge network it creates appears there, not here.
var ErrOtherNetNS = errors.New("driver: the engine runs in another network namespace")

// NetworkSpec describes a network bound to a bridge device that exists
// already (the overlay's), so that tasks attached to it get addresses of
// Subnet.
type NetworkSpec struct {
	Name    string
	Bridge  string // the Linux bridge to use
	Subnet  netip.Prefix
	Gateway netip.Addr
	MTU     int
}

// NetworkAttacher is the ability of a driver whose tasks can join the
// overlay: it binds a network of its own to the overlay's bridge, and a
// Task whose Network names it is attached there. The docker driver has it;
// the exec driver (host networking) does not. Methods are safe for
// concurrent use and return an error if and only if ctx is done or the
// operation failed.
type NetworkAttacher interface {
	// CheckSameNetNS returns an error wrapping ErrOtherNetNS when the
	// engine runs in another network namespace (where the overlay's bridge
	// is not), nil when it shares this one or that cannot be told.
	CheckSameNetNS(ctx context.Context) error
	// EnsureNetwork creates the network, or recreates it when it exists
	// with another subnet or bridge. A network that still has tasks
	// attached is left as it is, with an error.
	EnsureNetwork(ctx context.Context, ns NetworkSpec) error
	// RemoveNetwork removes the network; a missing one is not an error.
	RemoveNetwork(ctx context.Context, name string) error
}
