package command

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hashicorp/cli"
	"github.com/shoalproject/shoal/watch"
)

// watchCommand implements "shoal watch".
type watchCommand struct {
	baseCommand
	shell  bool
	params watch.Params
}

func newWatchCommand(ui cli.Ui) *watchCommand {
	c := &watchCommand{}
	c.init(ui, "watch", "Watch for changes in Shoal", `
Usage: shoal watch [options] [child...]

  Watches a view of the data with blocking queries. Without a child it
  prints the current view as JSON and exits; with one, it runs child with
  the view as JSON on stdin (and $CONSUL_INDEX set) now and every time the
  view changes, until interrupted.`, clientServerHTTP, func(fs *flag.FlagSet) {
		fs.StringVar(&c.params.Type, "type", "", "The watch `type`: "+strings.Join(watch.Types(), ", ")+". Required.")
		fs.StringVar(&c.params.Key, "key", "", "The `key` to watch (type key).")
		fs.StringVar(&c.params.Prefix, "prefix", "", "The key `prefix` to watch (type keyprefix).")
		fs.StringVar(&c.params.Service, "service", "", "The `service` to watch (type service; type checks: its checks).")
		fs.StringVar(&c.params.Tag, "tag", "", "Only instances with this `tag` (type service).")
		fs.BoolVar(&c.params.PassingOnly, "passingonly", false, "Only instances whose checks all pass (type service).")
		fs.StringVar(&c.params.Name, "name", "", "Only events with this `name` (type event).")
		fs.StringVar(&c.params.State, "state", "", "The check `state` to watch: any, passing, warning, critical (type checks).")
		fs.BoolVar(&c.shell, "shell", true, "Run the handler with \"sh -c\".")
	})
	return c
}

func (c *watchCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	plan, err := watch.New(c.params)
	if err != nil {
		return c.usageError(strings.TrimPrefix(err.Error(), watch.ErrInvalid.Error()+": "))
	}
	client := c.client()
	if client == nil {
		return 1
	}
	handler := c.flags.Args()
	opts := c.http.queryOptions()
	if len(handler) == 0 {
		res, _, err := plan.Query(client, opts)
		if err != nil {
			return c.fail("querying Shoal agent", err)
		}
		b, _ := json.MarshalIndent(res, "", "    ")
		c.ui.Output(string(b))
		return 0
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	argv := handler
	if c.shell {
		argv = []string{strings.Join(handler, " ")}
	}
	_ = plan.Run(ctx, client, *opts, watch.Script(argv, c.shell, os.Stdout, os.Stderr), func(err error) {
		var we *watch.Error
		if errors.As(err, &we) && we.Op == "query" {
			c.ui.Error(agentError(c.addr, "querying Shoal agent", we.Err))
			return
		}
		c.ui.Error(fmt.Sprintf("Error executing handler: %s", errors.Unwrap(err)))
	})
	return 0
}
