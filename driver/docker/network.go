package docker

import (
	"context"
	"fmt"
	"strconv"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/shoalproject/shoal/driver"
)

var _ driver.NetworkAttacher = (*Driver)(nil)

// EnsureNetwork creates the network, or recreates it when it exists with
// another subnet or bridge (a node that leased a new subnet). A network
// that still has containers attached is left as it is, with an error.
func (d *Driver) EnsureNetwork(ctx context.Context, ns driver.NetworkSpec) error {
	cur, err := d.cli.NetworkInspect(ctx, ns.Name, client.NetworkInspectOptions{})
	switch {
	case err == nil:
		n := cur.Network
		same := n.Options["com.docker.network.bridge.name"] == ns.Bridge && len(n.IPAM.Config) == 1 &&
			n.IPAM.Config[0].Subnet == ns.Subnet
		if same {
			return nil
		}
		if len(n.Containers) > 0 {
			return fmt.Errorf("docker: network %s has another subnet and %d containers attached", ns.Name, len(n.Containers))
		}
		if _, err := d.cli.NetworkRemove(ctx, ns.Name, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("docker: remove stale network %s: %w", ns.Name, err)
		}
	case !cerrdefs.IsNotFound(err):
		return fmt.Errorf("docker: inspect network %s: %w", ns.Name, err)
	}
	opts := map[string]string{"com.docker.network.bridge.name": ns.Bridge}
	if ns.MTU > 0 {
		opts["com.docker.network.driver.mtu"] = strconv.Itoa(ns.MTU)
	}
	_, err = d.cli.NetworkCreate(ctx, ns.Name, client.NetworkCreateOptions{
		Driver:  "bridge",
		IPAM:    &network.IPAM{Config: []network.IPAMConfig{{Subnet: ns.Subnet, Gateway: ns.Gateway}}},
		Options: opts,
		Labels:  map[string]string{"shoal.network": "overlay"},
	})
	if err != nil {
		return fmt.Errorf("docker: create network %s: %w", ns.Name, err)
	}
	return nil
}

// RemoveNetwork removes the network; a missing one is not an error.
func (d *Driver) RemoveNetwork(ctx context.Context, name string) error {
	if _, err := d.cli.NetworkRemove(ctx, name, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("docker: remove network %s: %w", name, err)
	}
	return nil
}
