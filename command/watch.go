package command

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// watchParams are the flags the watch types read. A new watch type adds
// its fields here, its flags in newWatchCommand and its entry in
// watchTypes.
type watchParams struct {
	key    string
	prefix string
	// service, tag, passingOnly and state: the catalog watch types.
	service     string
	tag         string
	passingOnly bool
	state       string
	// name: the event watch type.
	name string
}

// watchType is one kind of watch.
type watchType struct {
	// validate reports what is wrong with the parameters, or nil.
	validate func(p *watchParams) error
	// query runs one (blocking) read with opts and returns the result to
	// hand to the handler, as JSON, and its index.
	query func(c *api.Client, p *watchParams, opts *api.QueryOptions) (any, uint64, error)
}

// watchTypes maps -type values to their implementation.
func watchTypes() map[string]watchType {
	types := map[string]watchType{
		"key": {
			validate: func(p *watchParams) error {
				if p.key == "" {
					return fmt.Errorf("Must specify a single key to watch")
				}
				return nil
			},
			query: func(c *api.Client, p *watchParams, opts *api.QueryOptions) (any, uint64, error) {
				pair, meta, err := c.KV().Get(p.key, opts)
				if err != nil {
					return nil, 0, err
				}
				if pair == nil {
					return nil, meta.LastIndex, nil
				}
				return pair, meta.LastIndex, nil
			},
		},
		"keyprefix": {
			validate: func(p *watchParams) error {
				if p.prefix == "" {
					return fmt.Errorf("Must specify a single prefix to watch")
				}
				return nil
			},
			query: func(c *api.Client, p *watchParams, opts *api.QueryOptions) (any, uint64, error) {
				pairs, meta, err := c.KV().List(p.prefix, opts)
				if err != nil {
					return nil, 0, err
				}
				if pairs == nil {
					pairs = api.KVPairs{}
				}
				return pairs, meta.LastIndex, nil
			},
		},
	}
	maps.Copy(types, catalogWatchTypes())
	types["event"] = eventWatchType()
	return types
}

// watchCommand implements "shoal watch".
type watchCommand struct {
	baseCommand
	typ    string
	shell  bool
	params watchParams
}

func newWatchCommand(ui cli.Ui) *watchCommand {
	c := &watchCommand{}
	var types []string
	for t := range watchTypes() {
		types = append(types, t)
	}
	c.init(ui, "watch", "Watch for changes in Shoal", `
Usage: shoal watch [options] [child...]

  Watches a view of the data with blocking queries. Without a child it
  prints the current view as JSON and exits; with one, it runs child with
  the view as JSON on stdin (and $CONSUL_INDEX set) now and every time the
  view changes, until interrupted.`, clientServerHTTP, func(fs *flag.FlagSet) {
		fs.StringVar(&c.typ, "type", "", "The watch `type`: "+strings.Join(slices.Sorted(slices.Values(types)), ", ")+". Required.")
		fs.StringVar(&c.params.key, "key", "", "The `key` to watch (type key).")
		fs.StringVar(&c.params.prefix, "prefix", "", "The key `prefix` to watch (type keyprefix).")
		fs.StringVar(&c.params.service, "service", "", "The `service` to watch (type service; type checks: its checks).")
		fs.StringVar(&c.params.tag, "tag", "", "Only instances with this `tag` (type service).")
		fs.BoolVar(&c.params.passingOnly, "passingonly", false, "Only instances whose checks all pass (type service).")
		fs.StringVar(&c.params.name, "name", "", "Only events with this `name` (type event).")
		fs.StringVar(&c.params.state, "state", "", "The check `state` to watch: any, passing, warning, critical (type checks).")
		fs.BoolVar(&c.shell, "shell", true, "Run the handler with \"sh -c\".")
	})
	return c
}

func (c *watchCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	if c.typ == "" {
		return c.usageError("Must specify watch type")
	}
	wt, ok := watchTypes()[c.typ]
	if !ok {
		return c.usageError(fmt.Sprintf("Unsupported watch type: %s", c.typ))
	}
	if err := wt.validate(&c.params); err != nil {
		return c.usageError(err.Error())
	}
	client := c.client()
	if client == nil {
		return 1
	}
	handler := c.flags.Args()
	opts := c.http.queryOptions()
	if len(handler) == 0 {
		res, _, err := wt.query(client, &c.params, opts)
		if err != nil {
			return c.fail("querying Shoal agent", err)
		}
		b, _ := json.MarshalIndent(res, "", "    ")
		c.ui.Output(string(b))
		return 0
	}

	sigCh := make(chan os.Signal, 1)
	signal.Notify(sigCh, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigCh)
	type answer struct {
		res   any
		index uint64
		err   error
	}
	var index uint64
	first := true
	retry := time.Second
	for {
		q := *opts
		q.WaitIndex, q.WaitTime = index, 5*time.Minute
		ch := make(chan answer, 1)
		go func() {
			res, idx, err := wt.query(client, &c.params, &q)
			ch <- answer{res, idx, err}
		}()
		var a answer
		select {
		case <-sigCh:
			return 0
		case a = <-ch:
		}
		if a.err != nil {
			c.ui.Error(agentError(c.addr, "querying Shoal agent", a.err))
			select {
			case <-sigCh:
				return 0
			case <-time.After(retry):
			}
			retry = min(retry*2, 30*time.Second)
			continue
		}
		retry = time.Second
		if a.index < index {
			index = 0 // the index went backwards (a snapshot restore): start over
			continue
		}
		if !first && a.index == index {
			continue // woken without a change
		}
		first, index = false, a.index
		if err := c.runHandler(handler, a.res, a.index); err != nil {
			c.ui.Error(fmt.Sprintf("Error executing handler: %s", err))
		}
	}
}

// runHandler runs the handler with res as JSON on its stdin.
func (c *watchCommand) runHandler(args []string, res any, index uint64) error {
	b, err := json.MarshalIndent(res, "", "    ")
	if err != nil {
		return err
	}
	var cmd *exec.Cmd
	if c.shell {
		cmd = exec.Command("/bin/sh", "-c", strings.Join(args, " "))
	} else {
		cmd = exec.Command(args[0], args[1:]...)
	}
	cmd.Stdin = bytes.NewReader(b)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "CONSUL_INDEX="+strconv.FormatUint(index, 10))
	return cmd.Run()
}
