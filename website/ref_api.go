package website

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/shoalproject/shoal/agent"
)

// apiGroups titles the route groups (the path segment after /v1/). A group
// missing here is still listed, under its segment name.
var apiGroups = map[string]string{
	"status":   "Status",
	"agent":    "Agent: the local node, its services and checks",
	"operator": "Operator",
	"catalog":  "Catalog",
	"health":   "Health",
	"kv":       "KV store",
	"session":  "Sessions",
	"txn":      "Transactions",
	"shoal":    "Scheduler and overlay (Shoal's own API)",
	"snapshot": "Snapshots",
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)(\.\.\.)?\}`)

// routeGroup is a route's group: the path segment after /v1/.
func routeGroup(pattern string) string {
	rest := strings.TrimPrefix(pattern, "/v1/")
	g, _, _ := strings.Cut(rest, "/")
	return g
}

// RouteAnchor is the id of a route's section in the API reference.
func RouteAnchor(pattern string) string {
	s := strings.TrimPrefix(pattern, "/v1/")
	s = pathParam.ReplaceAllString(s, "$1")
	s = strings.NewReplacer("/", "-", ".", "-", "_", "-").Replace(s)
	return "route-" + strings.Trim(s, "-")
}

// genAPI writes the HTTP API reference from agent.Routes and the captured
// examples.
func genAPI(in *Inputs) ([]byte, error) {
	routes := agent.Routes()
	params, err := queryParams(filepath.Join(in.Root, "agent"))
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("# HTTP API reference\n\n")
	fmt.Fprintf(&b, "Every agent serves this API on its HTTP port (default `127.0.0.1:8500`). "+
		"This page is generated from the agent's route table: it lists all %d routes, "+
		"and each example is a request sent to a real single-server agent with the response it gave. "+
		"That agent ran with [ACLs](../guides/acl.html) enabled (default deny) and gossip encryption on: "+
		"the first example bootstraps the ACL system, and every later request carried the management token it returned "+
		"in `X-Consul-Token` — left out of the commands below. With ACLs enabled, add "+
		"`-H \"X-Consul-Token: $CONSUL_HTTP_TOKEN\"` to each.\n\n", len(routes))
	b.WriteString("Shoal speaks Consul's API: its official clients and `curl` scripts work unchanged. " +
		"Errors are plain text with a 4xx or 5xx status; `?pretty` indents JSON on every route.\n\n" +
		"## Blocking queries and consistency modes\n\n" +
		"A route marked *blocking* answers with an `X-Consul-Index` header. Send it back as `?index=N` " +
		"(and `?wait=`, default 5m, at most 10m) and the request parks until the data it reads changes past N " +
		"or the wait ends — no polling. A route marked with *consistency modes* takes `?stale` (any server may answer, " +
		"possibly behind: check `X-Consul-LastContact`) or `?consistent` (the leader confirms its leadership first); " +
		"the default mode is served by the leader. Reads return `X-Consul-KnownLeader` and `X-Consul-LastContact`.\n\n")

	b.WriteString("## Routes\n\n| Methods | Path | Blocking | Consistency modes |\n| --- | --- | --- | --- |\n")
	for _, rt := range routes {
		f := in.Examples.Routes[rt.Pattern]
		fmt.Fprintf(&b, "| %s | [`%s`](#%s) | %s | %s |\n", strings.Join(rt.Methods, " "), rt.Pattern,
			RouteAnchor(rt.Pattern), yesNo(hasGet(rt) && f.Blocking), yesNo(hasGet(rt) && f.Consistency))
	}
	b.WriteString("\n")

	var groups []string
	byGroup := map[string][]agent.RouteInfo{}
	for _, rt := range routes {
		g := routeGroup(rt.Pattern)
		if _, ok := byGroup[g]; !ok {
			groups = append(groups, g)
		}
		byGroup[g] = append(byGroup[g], rt)
	}
	examples := map[string][]Example{}
	for _, ex := range in.Examples.Examples {
		examples[ex.Route] = append(examples[ex.Route], ex)
	}
	for _, g := range groups {
		title := apiGroups[g]
		if title == "" {
			title = "/v1/" + g
		}
		fmt.Fprintf(&b, "## %s\n\n", title)
		for _, rt := range byGroup[g] {
			writeRoute(&b, rt, in.Examples.Routes[rt.Pattern], params[rt.Pattern], examples[rt.Pattern])
		}
	}
	return []byte(b.String()), nil
}

func hasGet(rt agent.RouteInfo) bool {
	for _, m := range rt.Methods {
		if m == "GET" {
			return true
		}
	}
	return false
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

func writeRoute(b *strings.Builder, rt agent.RouteInfo, f RouteFacts, query []string, exs []Example) {
	fmt.Fprintf(b, "### `%s` {#%s}\n\n", rt.Pattern, RouteAnchor(rt.Pattern))
	fmt.Fprintf(b, "| Methods | Blocking query | Consistency modes |\n| --- | --- | --- |\n| %s | %s | %s |\n\n",
		strings.Join(rt.Methods, ", "), yesNo(hasGet(rt) && f.Blocking), yesNo(hasGet(rt) && f.Consistency))
	b.WriteString("ACL (when [ACLs](../guides/acl.html) are enabled; read from the route's own decision):\n\n")
	for _, m := range rt.Methods {
		fmt.Fprintf(b, "* `%s`: %s\n", m, rt.ACL[m])
	}
	b.WriteString("\n")
	if params := pathParam.FindAllStringSubmatch(rt.Pattern, -1); len(params) > 0 {
		b.WriteString("Path parameters: ")
		for i, p := range params {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(b, "`%s`", p[1])
			if p[2] != "" {
				b.WriteString(" (the rest of the path, may contain `/`)")
			}
		}
		b.WriteString(".\n\n")
	}
	if len(query) > 0 {
		b.WriteString("Query parameters (read from the handler's source): ")
		for i, q := range query {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(b, "`%s`", q)
		}
		b.WriteString(".\n\n")
	}
	for _, m := range rt.Methods {
		if why := noExample[m+" "+rt.Pattern]; why != "" {
			fmt.Fprintf(b, "No captured example of `%s`: %s.\n\n", m, why)
		}
	}
	for _, ex := range exs {
		fmt.Fprintf(b, "```sh\n%s\n```\n\n", CurlCommand(ex))
		fmt.Fprintf(b, "Response `%d`:\n\n", ex.Status)
		lang := "text"
		if strings.HasPrefix(ex.Response, "{") || strings.HasPrefix(ex.Response, "[") {
			lang = "json"
		}
		resp := ex.Response
		if resp == "" {
			resp = "(empty body)"
		}
		fmt.Fprintf(b, "```%s\n%s\n```\n\n", lang, strings.TrimRight(resp, "\n"))
	}
}

// CurlCommand is the curl command line that sends ex to an agent on
// localhost:8500.
func CurlCommand(ex Example) string {
	var parts []string
	parts = append(parts, "curl")
	if ex.Method != "GET" {
		parts = append(parts, "-X", ex.Method)
	}
	if ex.Body != "" {
		parts = append(parts, "--data", shellQuote(ex.Body))
	}
	if ex.BodyFile != "" {
		parts = append(parts, "--data-binary", "@"+ex.BodyFile)
	}
	if ex.Route == "/v1/snapshot" && ex.Method == "GET" {
		parts = append(parts, "-o", "backup.snap")
	}
	parts = append(parts, shellQuote("http://localhost:8500"+ex.Path))
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/:.-_=,@%+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
