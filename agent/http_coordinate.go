package agent

import (
	"net/http"
	"sort"
	"time"

	"github.com/hashicorp/serf/coordinate"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/server"
)

// Network coordinates (Vivaldi, computed by Serf on every agent) and
// sorting by estimated round-trip time (?near). Consul stores them in the
// catalog through Raft; Shoal answers from the agent's Serf view, which
// holds each member's own last coordinate: reads are not blocking queries
// and are as fresh as gossip.

func (a *Agent) coordinateRoutes() []route {
	return []route{
		{"/v1/coordinate/datacenters", get, a.coordinateDatacenters},
		{"/v1/coordinate/nodes", get, a.coordinateNodes},
		{"/v1/coordinate/node/{node...}", get, a.coordinateNode},
	}
}

// nodeCoordinate is Consul's api.CoordinateEntry.
type nodeCoordinate struct {
	Node      string
	Segment   string
	Partition string `json:",omitempty"`
	Coord     *coordinate.Coordinate
}

// coordinates returns the coordinate of every alive LAN member this agent
// knows one for, sorted by node name.
func (a *Agent) coordinates() []nodeCoordinate {
	out := []nodeCoordinate{}
	self := a.cfg.NodeName
	for _, m := range a.delegate.LANMembers() {
		var c *coordinate.Coordinate
		if m.Name == self {
			c, _ = a.delegate.Coordinate()
		} else {
			c, _ = a.delegate.CachedCoordinate(m.Name)
		}
		if c != nil {
			out = append(out, nodeCoordinate{Node: m.Name, Coord: c})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}

// coordinateMeta sets read headers: the coordinates are the agent's own
// view, with no Raft index.
func coordinateMeta(w http.ResponseWriter) {
	setMeta(w, &rpcapi.QueryMeta{Index: 1, KnownLeader: true})
}

// coordinateDatacenters answers Consul's WAN map: Shoal has one
// datacenter, whose servers' (LAN) coordinates are listed.
func (a *Agent) coordinateDatacenters(w http.ResponseWriter, r *http.Request) (any, error) {
	servers := map[string]bool{}
	for _, m := range a.delegate.LANMembers() {
		if server.MemberRole(m.Tags) == server.RoleServer {
			servers[m.Name] = true
		}
	}
	coords := []nodeCoordinate{}
	for _, c := range a.coordinates() {
		if servers[c.Node] {
			coords = append(coords, c)
		}
	}
	return []map[string]any{{"Datacenter": a.cfg.Datacenter, "AreaID": "wan", "Coordinates": coords}}, nil
}

func (a *Agent) coordinateNodes(w http.ResponseWriter, r *http.Request) (any, error) {
	var q rpcapi.QueryOptions
	if err := parseQuery(r, &q); err != nil {
		return nil, err
	}
	coordinateMeta(w)
	return a.coordinates(), nil
}

// coordinateNode answers one node's coordinate, 404 when none is known.
func (a *Agent) coordinateNode(w http.ResponseWriter, r *http.Request) (any, error) {
	var q rpcapi.QueryOptions
	if err := parseQuery(r, &q); err != nil {
		return nil, err
	}
	node := r.PathValue("node")
	coordinateMeta(w)
	for _, c := range a.coordinates() {
		if c.Node == node {
			return []nodeCoordinate{c}, nil
		}
	}
	w.WriteHeader(http.StatusNotFound)
	return nil, nil
}

// rtts returns, for ?near=<node> ("_agent": this agent), the estimated
// round-trip time from that node to every node with a coordinate; nil
// when ?near is absent or the node has no coordinate (no sorting then).
func (a *Agent) rtts(r *http.Request) map[string]time.Duration {
	return a.rttsFrom(query(r).Get("near"))
}

// rttsFrom is rtts for the node named near.
func (a *Agent) rttsFrom(near string) map[string]time.Duration {
	if near == "" {
		return nil
	}
	if near == "_agent" {
		near = a.cfg.NodeName
	}
	coords := a.coordinates()
	var from *coordinate.Coordinate
	for _, c := range coords {
		if c.Node == near {
			from = c.Coord
		}
	}
	if from == nil {
		return nil
	}
	out := make(map[string]time.Duration, len(coords))
	for _, c := range coords {
		if from.IsCompatibleWith(c.Coord) {
			out[c.Node] = from.DistanceTo(c.Coord)
		}
	}
	return out
}

// sortNear orders items by the estimated RTT of their node from ?near,
// nearest first, nodes without a coordinate last, keeping the order of
// ties (Consul's ?near).
func sortNear[T any](rtt map[string]time.Duration, items []T, node func(T) string) {
	if rtt == nil {
		return
	}
	sort.SliceStable(items, func(i, j int) bool {
		di, iok := rtt[node(items[i])]
		dj, jok := rtt[node(items[j])]
		if iok != jok {
			return iok
		}
		return di < dj
	})
}
