package compat

import (
	"fmt"
	"net/http"
	"reflect"
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

		// ?near=_agent sorts by the estimated distance from this agent,
		// nearest first. Coordinates move with every probe: compare with
		// the distances of a snapshot taken just before and just after.
		testcluster.Eventually(t, 20*time.Second, func() error {
			before := coordsByName(t, c)
			nodes, _, err := c.Catalog().Nodes(&api.QueryOptions{Near: "_agent"})
			if err != nil {
				return err
			}
			after := coordsByName(t, c)
			if !reflect.DeepEqual(before, after) {
				return fmt.Errorf("coordinates moved during the read")
			}
			from := before[n.Name]
			var last time.Duration
			for i, node := range nodes {
				co, ok := before[node.Node]
				if !ok {
					continue // registered without an agent: sorted last
				}
				d := from.DistanceTo(co)
				if i > 0 && d < last {
					return fmt.Errorf("order %v: %s at %v after %v", nodeNames(nodes), node.Node, d, last)
				}
				last = d
			}
			return nil
		})
	})
	// An unknown ?near leaves the order alone.
	resp, _ := rawHTTP(t, entries[0].node, http.MethodGet, "/v1/catalog/nodes?near=nosuchnode", "")
	if resp.StatusCode != 200 {
		t.Fatalf("near unknown: %d", resp.StatusCode)
	}
}

func coordsByName(t *testing.T, c *api.Client) map[string]*coordinate.Coordinate {
	t.Helper()
	out := map[string]*coordinate.Coordinate{}
	entries, _, err := c.Coordinate().Nodes(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		out[e.Node] = e.Coord
	}
	return out
}

func nodeNames(nodes []*api.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Node)
	}
	return out
}
