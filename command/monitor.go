package command

import (
	"flag"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hashicorp/cli"
)

// monitorCommand implements "shoal monitor": it streams the agent's logs
// (GET /v1/agent/monitor) until interrupted.
type monitorCommand struct {
	baseCommand
	logLevel string
	logJSON  bool
	// stop ends the stream as an interrupt would; nil: SIGINT/SIGTERM.
	stop <-chan struct{}
}

func newMonitorCommand(ui cli.Ui) *monitorCommand {
	c := &monitorCommand{}
	c.init(ui, "monitor", "Stream logs from a Shoal agent", `
Usage: shoal monitor [options]

  Shows recent log messages of a Shoal agent, and attaches to the agent,
  outputting log messages as they occur in real time. The monitor lets you
  listen for log levels that may be filtered out of the agent's own output.
  Stop it with Ctrl-C.`, clientHTTP, func(fs *flag.FlagSet) {
		fs.StringVar(&c.logLevel, "log-level", "INFO", "The `level` of logs to show: TRACE, DEBUG, INFO, WARN or ERROR.")
		fs.BoolVar(&c.logJSON, "log-json", false, "Output logs in JSON format.")
	})
	return c
}

// Run implements cli.Command.
func (c *monitorCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	client := c.client()
	if client == nil {
		return 1
	}
	stop := c.stop
	if stop == nil {
		sigCh := make(chan os.Signal, 1)
		signal.Notify(sigCh, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sigCh)
		ch := make(chan struct{})
		go func() { <-sigCh; close(ch) }()
		stop = ch
	}
	stopCh := make(chan struct{})
	defer close(stopCh)
	var (
		logs chan string
		err  error
	)
	if c.logJSON {
		logs, err = client.Agent().MonitorJSON(c.logLevel, stopCh, nil)
	} else {
		logs, err = client.Agent().Monitor(c.logLevel, stopCh, nil)
	}
	if err != nil {
		return c.fail("starting monitor", err)
	}
	for {
		select {
		case line, ok := <-logs:
			if !ok {
				c.ui.Error("Remote side ended the monitor! This usually means that the remote side has exited or crashed.")
				return 1
			}
			c.ui.Output(strings.TrimRight(line, "\n"))
		case <-stop:
			return 0
		}
	}
}
