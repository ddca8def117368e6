package command

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/sched"
)

// svcCommand is one "shoal svc ..." (or "shoal overlay ...") sub-command:
// the command skeleton with its argument count and action.
type svcCommand struct {
	baseCommand
	nargs int // required positional arguments; -1: at least one
	run   func(c *svcCommand, client *api.Client, addr string, args []string) int

	// options used by some sub-commands
	detach  bool
	timeout time.Duration
	tail    int
	index   int
	version int
}

func newSvcCommand(ui cli.Ui, name, usage, synopsis string, nargs int,
	extra func(c *svcCommand, fs *flag.FlagSet), run func(*svcCommand, *api.Client, string, []string) int) *svcCommand {
	c := &svcCommand{nargs: nargs, run: run}
	var own func(fs *flag.FlagSet)
	if extra != nil {
		own = func(fs *flag.FlagSet) { extra(c, fs) }
	}
	c.init(ui, "svc "+name, synopsis, usage, clientHTTPLast, own)
	return c
}

// Run implements cli.Command.
func (c *svcCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	n := c.flags.NArg()
	if (c.nargs >= 0 && n != c.nargs) || (c.nargs < 0 && n == 0) {
		return c.usageError(fmt.Sprintf("This command takes %s argument(s), got %d", argWord(c.nargs), n))
	}
	client := c.client()
	if client == nil {
		return 1
	}
	return c.run(c, client, c.addr, c.flags.Args())
}

func argWord(n int) string {
	if n < 0 {
		return "at least one"
	}
	return strconv.Itoa(n)
}

func waitFlags(c *svcCommand, fs *flag.FlagSet) {
	fs.BoolVar(&c.detach, "detach", false, "Return once the change is stored instead of waiting for the service to converge.")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Minute, "How long to wait for convergence.")
}

// svcCommands returns the svc sub-commands.
func svcCommands(ui cli.Ui) map[string]cli.CommandFactory {
	return map[string]cli.CommandFactory{
		"svc": func() (cli.Command, error) {
			return &helpOnlyCommand{synopsis: "Deploys and inspects scheduled services", help: svcHelp}, nil
		},
		"svc deploy": func() (cli.Command, error) {
			return newSvcCommand(ui, "deploy", `
Usage: shoal svc deploy [options] SPEC.json

  Validates a service spec, stores it at shoal/services/<name> (which is the
  deployment: a plain KV write does the same), then waits until the service
  has converged, failed, or rolled back, printing progress. "-" reads the
  spec from standard input.`, "Deploys a service spec and waits for it", 1, waitFlags, runDeploy), nil
		},
		"svc create": func() (cli.Command, error) { return newSpecEditCommand(ui, true), nil },
		"svc update": func() (cli.Command, error) { return newSpecEditCommand(ui, false), nil },
		"svc ls": func() (cli.Command, error) {
			return newSvcCommand(ui, "ls", `
Usage: shoal svc ls [options]

  Lists the scheduled services: version, replicas running of desired,
  healthy, and what is wrong (spec errors, unplaced replicas, updates).`, "Lists scheduled services", 0, nil, runLs), nil
		},
		"svc ps": func() (cli.Command, error) {
			return newSvcCommand(ui, "ps", `
Usage: shoal svc ps [options] SERVICE

  Lists a service's replicas: node, slot, version, desired and actual
  state, health, IP, restarts and why.`, "Lists a service's replicas", 1, nil, runPs), nil
		},
		"svc scale": func() (cli.Command, error) {
			return newSvcCommand(ui, "scale", `
Usage: shoal svc scale [options] SERVICE=REPLICAS...

  Sets the replica count of services (a compare-and-set of their specs) and
  waits for them to converge.`, "Scales services", -1, waitFlags, runScale), nil
		},
		"svc rm": func() (cli.Command, error) {
			return newSvcCommand(ui, "rm", `
Usage: shoal svc rm [options] SERVICE...

  Deletes services' specs; their replicas are stopped. Waits until they are.`,
				"Removes services", -1, waitFlags, runRm), nil
		},
		"svc rebalance": func() (cli.Command, error) {
			return newSvcCommand(ui, "rebalance", `
Usage: shoal svc rebalance [options] SERVICE

  Moves replicas of a spread service onto nodes that have fewer, for
  example after nodes joined (at most the update parallelism per call).`,
				"Evens out a service across nodes", 1, nil, runRebalance), nil
		},
		"svc logs": func() (cli.Command, error) {
			return newSvcCommand(ui, "logs", `
Usage: shoal svc logs [options] SERVICE

  Prints the logs of a service's running replicas, fetched from the agents
  of the nodes that run them.`, "Prints a service's logs", 1, func(c *svcCommand, fs *flag.FlagSet) {
				fs.IntVar(&c.tail, "tail", 100, "Lines from the end of each replica's log; 0 for all.")
				fs.IntVar(&c.index, "index", -1, "Only the replica in this slot.")
			}, runLogs), nil
		},
	}
}

const svcHelp = `Usage: shoal svc <subcommand> [options] [args]

  Services scheduled by Shoal: a spec stored at shoal/services/<name> is a
  deployment; the leader places its replicas and agents run them.

  Subcommands: deploy, create, update, ls, ps, scale, rm, rebalance, logs, history, rollback.`

// parentCommand prints help for a command group.
// serviceSummary mirrors the agent's /v1/shoal/services entries.
type serviceSummary struct {
	Name, Version, Error            string
	Unplaced                        []string
	Update                          *sched.UpdateStatus
	LastGoodVersion, RolledBackFrom string
	Desired, Running, Healthy       int
	Outdated                        int
}

type allocView struct {
	ID, Service, Version, NodeID, NodeName string
	Index                                  int
	DesiredStatus, DesiredDescription      string
	ClientStatus                           string
	Healthy                                bool
	IP, ClientDescription                  string
	Restarts, ExitCode                     int
	Ports                                  []sched.Port
	ClientTime                             int64
	Spec                                   *sched.Spec
}

type serviceDetail struct {
	serviceSummary
	Allocs []allocView
}

func readSpec(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

func runDeploy(c *svcCommand, client *api.Client, addr string, args []string) int {
	raw, err := readSpec(args[0])
	if err != nil {
		c.ui.Error(fmt.Sprintf("Error reading spec: %v", err))
		return 1
	}
	spec, err := sched.ParseSpec(raw)
	if err != nil {
		c.ui.Error(fmt.Sprintf("Invalid spec: %v", err))
		return 1
	}
	if _, err := client.KV().Put(&api.KVPair{Key: sched.SpecPrefix + spec.Name, Value: raw}, nil); err != nil {
		return c.fail("storing the spec", err)
	}
	c.ui.Output(fmt.Sprintf("==> Deployed %s version %s", spec.Name, spec.Version()))
	if c.detach {
		return 0
	}
	return c.waitConverged(client, addr, spec.Name, spec.Version())
}

// getService reads a service's detail; found is false when the agent
// answers 404 (no such service, or its last replica is gone).
func getService(client *api.Client, name string) (d serviceDetail, found bool, err error) {
	_, err = client.Raw().Query("/v1/shoal/services/"+name, &d, nil)
	if se := (api.StatusError{}); errors.As(err, &se) && se.Code == http.StatusNotFound {
		return d, false, nil
	}
	return d, err == nil, err
}

// waitConverged polls the service until every desired replica of version
// runs (and is healthy), the update fails or rolls back, or the timeout.
func (c *svcCommand) waitConverged(client *api.Client, addr, name, version string) int {
	deadline := time.Now().Add(c.timeout)
	last := ""
	for {
		d, found, err := getService(client, name)
		if err != nil {
			return c.fail("reading the service", err)
		}
		if found {
			line := progressLine(&d.serviceSummary) + pendingInfo(d.Allocs)
			if line != last {
				c.ui.Output("    " + line)
				last = line
			}
			switch {
			case d.Error != "":
				c.ui.Error("==> Spec rejected: " + d.Error)
				return 1
			case d.RolledBackFrom == version:
				c.ui.Error(fmt.Sprintf("==> Update to %s failed: rolled back to %s", version, d.LastGoodVersion))
				return 1
			case d.Update != nil && d.Update.Halted:
				c.ui.Error(fmt.Sprintf("==> Update to %s halted after %d failed replicas", version, d.Update.Failed))
				return 1
			case d.Version == version && d.Outdated == 0 && len(d.Unplaced) == 0 && d.Running == d.Desired &&
				allHealthy(d):
				c.ui.Output(fmt.Sprintf("==> %s converged: %d/%d replicas running", name, d.Running, d.Desired))
				return 0
			}
		}
		if time.Now().After(deadline) {
			c.ui.Error(fmt.Sprintf("==> Timed out after %v waiting for %s to converge", c.timeout, name))
			return 1
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func allHealthy(d serviceDetail) bool {
	for _, a := range d.Allocs {
		if a.DesiredStatus == "run" && a.ClientStatus == "running" && !a.Healthy && a.Spec != nil && a.Spec.Check != nil {
			return false
		}
	}
	return true
}

func progressLine(s *serviceSummary) string {
	parts := []string{fmt.Sprintf("%d/%d running", s.Running, s.Desired), fmt.Sprintf("%d healthy", s.Healthy)}
	if s.Outdated > 0 {
		parts = append(parts, fmt.Sprintf("%d outdated", s.Outdated))
	}
	if len(s.Unplaced) > 0 {
		parts = append(parts, "unplaced: "+strings.Join(s.Unplaced, "; "))
	}
	return s.Name + ": " + strings.Join(parts, ", ")
}

// pendingInfo says why replicas wait, such as "; slot 1: pulling
// reg:5000/web:1: 45 % on n2", for the progress line.
func pendingInfo(allocs []allocView) string {
	var b strings.Builder
	for _, a := range allocs {
		if a.DesiredStatus == "run" && a.ClientStatus == "pending" && a.ClientDescription != "" {
			fmt.Fprintf(&b, "; slot %d: %s", a.Index, a.ClientDescription)
		}
	}
	return b.String()
}

func runLs(c *svcCommand, client *api.Client, addr string, args []string) int {
	var out []serviceSummary
	if _, err := client.Raw().Query("/v1/shoal/services", &out, nil); err != nil {
		return c.fail("listing services", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	rows := [][]string{{"Name", "Version", "Replicas", "Healthy", "Status"}}
	for _, s := range out {
		status := "ok"
		switch {
		case s.Error != "":
			status = "error: " + s.Error
		case len(s.Unplaced) > 0:
			status = "unplaced: " + strings.Join(s.Unplaced, "; ")
		case s.Update != nil && s.Update.Halted:
			status = "update halted"
		case s.Outdated > 0:
			status = fmt.Sprintf("updating (%d outdated)", s.Outdated)
		case s.Running < s.Desired:
			status = "converging"
		}
		rows = append(rows, []string{s.Name, s.Version, fmt.Sprintf("%d/%d", s.Running, s.Desired),
			strconv.Itoa(s.Healthy), status})
	}
	c.ui.Output(formatTable(rows))
	return 0
}

func runPs(c *svcCommand, client *api.Client, addr string, args []string) int {
	var d serviceDetail
	if _, err := client.Raw().Query("/v1/shoal/services/"+args[0], &d, nil); err != nil {
		return c.fail("reading the service", err)
	}
	sort.Slice(d.Allocs, func(i, j int) bool {
		if d.Allocs[i].Index != d.Allocs[j].Index {
			return d.Allocs[i].Index < d.Allocs[j].Index
		}
		return d.Allocs[i].ID < d.Allocs[j].ID
	})
	rows := [][]string{{"ID", "Node", "Slot", "Version", "Desired", "State", "Health", "IP", "Restarts", "Since", "Info"}}
	for _, a := range d.Allocs {
		health := "-"
		if a.ClientStatus == "running" {
			health = map[bool]string{true: "healthy", false: "unhealthy"}[a.Healthy]
		}
		since := "-"
		if a.ClientTime > 0 {
			since = time.Since(time.Unix(0, a.ClientTime)).Round(time.Second).String()
		}
		info := a.ClientDescription
		if a.DesiredDescription != "" {
			info = strings.TrimSpace(a.DesiredDescription + " " + info)
		}
		rows = append(rows, []string{shortID(a.ID), a.NodeName, strconv.Itoa(a.Index), a.Version, a.DesiredStatus,
			a.ClientStatus, health, orDash(a.IP), strconv.Itoa(a.Restarts), since, orDash(info)})
	}
	c.ui.Output(formatTable(rows))
	return 0
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runScale(c *svcCommand, client *api.Client, addr string, args []string) int {
	type target struct {
		name    string
		version string
	}
	var waits []target
	for _, arg := range args {
		name, count, ok := strings.Cut(arg, "=")
		n, err := strconv.Atoi(count)
		if !ok || name == "" || err != nil || n < 0 {
			return c.usageError(fmt.Sprintf("Invalid argument %q: want SERVICE=REPLICAS", arg))
		}
		pair, _, err := client.KV().Get(sched.SpecPrefix+name, nil)
		if err != nil {
			return c.fail("reading the spec", err)
		}
		if pair == nil {
			c.ui.Error(fmt.Sprintf("No such service: %s", name))
			return 1
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(pair.Value, &doc); err != nil {
			c.ui.Error(fmt.Sprintf("Stored spec of %s is not a JSON object: %v", name, err))
			return 1
		}
		doc["replicas"] = json.RawMessage(strconv.Itoa(n))
		raw, _ := json.Marshal(doc)
		spec, err := sched.ParseSpec(raw)
		if err != nil {
			c.ui.Error(fmt.Sprintf("Cannot scale %s: %v", name, err))
			return 1
		}
		pair.Value = raw
		ok, _, err = client.KV().CAS(pair, nil)
		if err != nil {
			return c.fail("storing the spec", err)
		}
		if !ok {
			c.ui.Error(fmt.Sprintf("The spec of %s changed meanwhile; nothing written, try again", name))
			return 1
		}
		c.ui.Output(fmt.Sprintf("==> %s scaled to %d", name, n))
		waits = append(waits, target{name, spec.Version()})
	}
	if c.detach {
		return 0
	}
	for _, w := range waits {
		if code := c.waitConverged(client, addr, w.name, w.version); code != 0 {
			return code
		}
	}
	return 0
}

func runRm(c *svcCommand, client *api.Client, addr string, args []string) int {
	for _, name := range args {
		if _, err := client.KV().Delete(sched.SpecPrefix+name, nil); err != nil {
			return c.fail("deleting the spec", err)
		}
		c.ui.Output(fmt.Sprintf("==> Removed %s", name))
	}
	if c.detach {
		return 0
	}
	deadline := time.Now().Add(c.timeout)
	for _, name := range args {
		for {
			// The service is listed until its last replica has stopped.
			d, found, err := getService(client, name)
			if err != nil {
				return c.fail("reading the service", err)
			}
			running := 0
			for _, a := range d.Allocs {
				if a.ClientStatus == "running" || a.ClientStatus == "pending" {
					running++
				}
			}
			if !found || running == 0 {
				c.ui.Output(fmt.Sprintf("    %s: all replicas stopped", name))
				break
			}
			if time.Now().After(deadline) {
				c.ui.Error(fmt.Sprintf("==> Timed out: %d replicas of %s still running", running, name))
				return 1
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	return 0
}

func runRebalance(c *svcCommand, client *api.Client, addr string, args []string) int {
	var reply struct{ Moves int }
	req, err := http.NewRequest(http.MethodPut, "http://"+addr+"/v1/shoal/services/"+args[0]+"/rebalance", nil)
	if err != nil {
		c.ui.Error(err.Error())
		return 1
	}
	if err := doJSON(req, &reply); err != nil {
		return c.fail("rebalancing", err)
	}
	c.ui.Output(fmt.Sprintf("==> %s: moving %d replicas", args[0], reply.Moves))
	return 0
}

func doJSON(req *http.Request, out any) error {
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("Unexpected response code: %d (%s)", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return json.Unmarshal(body, out)
}

func runLogs(c *svcCommand, client *api.Client, addr string, args []string) int {
	var d serviceDetail
	if _, err := client.Raw().Query("/v1/shoal/services/"+args[0], &d, nil); err != nil {
		return c.fail("reading the service", err)
	}
	members, err := client.Agent().Members(false)
	if err != nil {
		return c.fail("listing members", err)
	}
	httpAddr := map[string]string{}
	for _, m := range members {
		if p := m.Tags["http"]; p != "" {
			httpAddr[m.Name] = net.JoinHostPort(m.Addr, p)
		}
	}
	shown := 0
	for _, a := range d.Allocs {
		if a.DesiredStatus != "run" || (c.index >= 0 && a.Index != c.index) {
			continue
		}
		target, ok := httpAddr[a.NodeName]
		if !ok {
			c.ui.Error(fmt.Sprintf("==> %s.%d: node %s advertises no HTTP address", a.Service, a.Index, a.NodeName))
			continue
		}
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(fmt.Sprintf("http://%s/v1/shoal/allocs/%s/logs?tail=%d", target, a.ID, c.tail))
		if err != nil {
			c.ui.Error(fmt.Sprintf("==> %s.%d on %s: %v", a.Service, a.Index, a.NodeName, err))
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.ui.Output(fmt.Sprintf("==> %s.%d on %s (%s)", a.Service, a.Index, a.NodeName, shortID(a.ID)))
		c.ui.Output(strings.TrimRight(string(body), "\n"))
		shown++
	}
	if shown == 0 {
		c.ui.Error("No running replicas to show logs of")
		return 1
	}
	return 0
}
