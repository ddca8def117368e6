package website

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shoalproject/shoal/agent"
)

// compatRow is one row of docs/consul-compat.md's table of Consul's
// endpoint families.
type compatRow struct {
	family string
	paths  []string // absolute, as the row gives them (<placeholders>, trailing *)
	has    bool     // the Shoal column is not "no"
}

var (
	backticked = regexp.MustCompile("`([^`]*)`")
	relative   = regexp.MustCompile(`^[a-z]`) // "token", "node/<node>": a path relative to the one before
)

// compatRows reads the table under "## Endpoint families". A path the row
// gives relative ("`token`" after "`/v1/acl/bootstrap`") is taken in the
// directory of the absolute path before it; tokens that are not paths
// ("`?near`") are skipped.
func compatRows(doc string) []compatRow {
	_, rest, ok := strings.Cut(doc, "\n## Endpoint families\n")
	if !ok {
		return nil
	}
	var rows []compatRow
	started := false
	for _, line := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(line, "|") {
			if started {
				break
			}
			continue
		}
		started = true
		cells := strings.Split(strings.ReplaceAll(line, `\|`, "¦"), "|")
		if len(cells) < 5 {
			continue
		}
		family, pathCell, shoal := strings.TrimSpace(cells[1]), cells[2], strings.TrimSpace(cells[3])
		if family == "Consul family" || strings.HasPrefix(family, "---") {
			continue
		}
		row := compatRow{family: family, has: shoal != "no"}
		dir := ""
		for _, m := range backticked.FindAllStringSubmatch(pathCell, -1) {
			p := strings.ReplaceAll(m[1], "¦", "|")
			switch {
			case strings.HasPrefix(p, "/"):
				dir = p[:strings.LastIndex(p, "/")+1]
			case dir != "" && relative.MatchString(p):
				p = dir + p
			default:
				continue
			}
			row.paths = append(row.paths, p)
		}
		rows = append(rows, row)
	}
	return rows
}

// literal is the part of a path before its first placeholder or wildcard:
// "/v1/query/" for the doc's "/v1/query/<id>/execute", "/v1/kv/" for the
// route pattern "/v1/kv/{key...}".
func literal(p string) string {
	if i := strings.IndexAny(p, "<*{"); i >= 0 {
		return p[:i]
	}
	return p
}

// served reports the routes of the agent that serve something under the
// doc's path p: a route at or below it, or a route whose wildcard covers
// it.
func served(routes []agent.RouteInfo, p string) []string {
	want := literal(p)
	var out []string
	for _, rt := range routes {
		lit := literal(rt.Pattern)
		wild := lit != rt.Pattern
		if strings.HasPrefix(lit, want) || (wild && strings.HasPrefix(want, lit)) {
			out = append(out, rt.Pattern)
		}
	}
	return out
}

// TestConsulCompatTableMatchesRoutes keeps docs/consul-compat.md true to
// the agent: a family the table marks "no" has none of its paths among the
// agent's routes, and one it marks as present has every one of them.
func TestConsulCompatTableMatchesRoutes(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(moduleRoot(t), "docs", "consul-compat.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := compatRows(string(doc))
	if len(rows) < 20 {
		t.Fatalf("read %d rows of the endpoint-family table of docs/consul-compat.md; its layout changed", len(rows))
	}
	routes := agent.Routes()
	for _, row := range rows {
		if len(row.paths) == 0 {
			t.Errorf("row %q: no path read", row.family)
		}
		for _, p := range row.paths {
			got := served(routes, p)
			switch {
			case row.has && len(got) == 0:
				t.Errorf("row %q says Shoal serves %s, but no route of the agent does", row.family, p)
			case !row.has && len(got) > 0:
				t.Errorf("row %q says Shoal has no %s, but the agent serves %v", row.family, p, got)
			}
		}
	}
}

func TestCompatRows(t *testing.T) {
	doc := "x\n## Endpoint families\n\n| Consul family | paths | Shoal | notes |\n| --- | --- | --- | --- |\n" +
		"| ACLs | `/v1/acl/bootstrap`, `token/self`; `/v1/agent/token/<default\\|agent>` | yes | see `shoal acl` |\n" +
		"| Coordinates | `/v1/coordinate/nodes`, `node/<node>`; `?near` | yes | |\n" +
		"| Peering | `/v1/peering*` | no | |\n\nafter\n| not | a | row | |\n"
	got := compatRows(doc)
	want := []compatRow{
		{"ACLs", []string{"/v1/acl/bootstrap", "/v1/acl/token/self", "/v1/agent/token/<default|agent>"}, true},
		{"Coordinates", []string{"/v1/coordinate/nodes", "/v1/coordinate/node/<node>"}, true},
		{"Peering", []string{"/v1/peering*"}, false},
	}
	if len(got) != len(want) {
		t.Fatalf("rows %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].family != want[i].family || got[i].has != want[i].has || strings.Join(got[i].paths, " ") != strings.Join(want[i].paths, " ") {
			t.Errorf("row %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	routes := []agent.RouteInfo{{Pattern: "/v1/kv/{key...}"}, {Pattern: "/v1/agent/join/{address}"}, {Pattern: "/v1/peering/list"}}
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/v1/kv/foo", 1},         // under a wildcard
		{"/v1/agent/join", 1},     // a route below it
		{"/v1/peering*", 1},       // a route with that prefix
		{"/v1/config/*", 0},       // nothing
		{"/v1/agent/leave", 0},    // a sibling is not it
		{"/v1/query/<id>/x", 0},   // placeholder cut
		{"/v1/agent/join/x", 1},   // the route's own wildcard
		{"/v1/kvx", 0},            // not under /v1/kv/
		{"/v1/peering/list", 1},   // exact
		{"/v1/agent/joinx", 0},    // "/v1/agent/join/" is not a prefix of it
		{"/v1/agent/join/", 1},    // and is of this
		{"/v1/peerings", 0},       // no
		{"/v1/agent/join/{x}", 1}, // the doc may use a route's own form
	} {
		if got := served(routes, tc.path); len(got) != tc.want {
			t.Errorf("served(%q) = %v, want %d routes", tc.path, got, tc.want)
		}
	}
}
