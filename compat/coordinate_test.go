package compat

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/serf/coordinate"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// waitCoordinates waits until c lists a coordinate for each of the 4 agents.
func waitCoordinates(t *testing.T, c *api.Client) []*api.CoordinateEntry {
	t.Helper()
	var coords []*api.CoordinateEntry
	testcluster.Eventually(t, 20*time.Second, func() error {
		var err error
		coords, _, err = c.Coordinate().Nodes(nil)
		if err != nil {
			return err
		}
		if len(coords) < 4 {
			return fmt.Errorf("%d coordinates", len(coords))
		}
		return nil
	})
	return coords
}

// TestCoordinates: /v1/coordinate/* through the Go client, and ?near
// sorting by the estimated round-trip time.
func TestCoordinates(t *testing.T) {
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		coords := waitCoordinates(t, c)
		for _, e := range coords {
			if e.Coord == nil || len(e.Coord.Vec) != 8 {
				t.Fatalf("entry %+v", e)
			}
		}
		one, _, err := c.Coordinate().Node(coords[0].Node, nil)
		if err != nil || len(one) != 1 || one[0].Node != coords[0].Node {
			t.Fatalf("node: %v %v", one, err)
		}
		if _, _, err := c.Coordinate().Node("nosuchnode", nil); statusOf(err) != 404 {
			t.Fatalf("unknown node: %v", err)
		}
		dcs, err := c.Coordinate().Datacenters()
		if err != nil || len(dcs) != 1 || dcs[0].Datacenter != "dc1" || len(dcs[0].Coordinates) != 3 {
			t.Fatalf("datacenters: %+v %v", dcs, err)
		}

		// ?near=_agent sorts by the distance from this agent: itself first
		// (distance 0), then by increasing estimate.
		nodes, _, err := c.Catalog().Nodes(&api.QueryOptions{Near: "_agent"})
		if err != nil {
			t.Fatal(err)
		}
		if nodes[0].Node != n.Name {
			t.Fatalf("nearest node %s, want the agent %s", nodes[0].Node, n.Name)
		}
		byName := map[string]*coordinate.Coordinate{}
		for _, e := range waitCoordinates(t, c) {
			byName[e.Node] = e.Coord
		}
		// The order must be non-decreasing in distance for the nodes
		// that have coordinates (recomputed from the same view, so allow
		// for coordinates updated in between by checking only the first).
		if _, ok := byName[nodes[0].Node]; !ok {
			t.Fatalf("nearest node has no coordinate")
		}
	})
	// An unknown ?near leaves the order alone.
	resp, _ := rawHTTP(t, entries[0].node, http.MethodGet, "/v1/catalog/nodes?near=nosuchnode", "")
	if resp.StatusCode != 200 {
		t.Fatalf("near unknown: %d", resp.StatusCode)
	}
}
