package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/agent"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/version"
)

// AgentFactory returns the factory of the "agent" command.
func AgentFactory(ui cli.Ui) cli.CommandFactory {
	return func() (cli.Command, error) { return &agentCommand{ui: ui}, nil }
}

// agentCommand runs an agent until it is signalled or asked to leave.
type agentCommand struct {
	ui cli.Ui
}

func (c *agentCommand) Synopsis() string { return "Runs a Shoal agent" }

func (c *agentCommand) Help() string {
	return strings.TrimSpace(`
Usage: shoal agent [options]

  Starts the Shoal agent and runs until an interrupt is received. The agent
  represents a single node in a cluster: with -server it also runs Raft and
  holds the replicated state; -dev runs one in-memory server for trying
  Shoal out.

  SIGINT or SIGTERM leave the cluster gracefully; a second signal exits at
  once.

`) + "\n\n" + flagList()
}

// flagList is the options part of config.Usage (which has its own header).
func flagList() string {
	u := config.Usage()
	if i := strings.Index(u, "Options:"); i >= 0 {
		return u[i:]
	}
	return u
}

func (c *agentCommand) Run(args []string) int {
	cfg, err := config.Load(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.ui.Error(c.Help())
			return 1
		}
		c.ui.Error(err.Error())
		return 1
	}
	logger := hclog.NewInterceptLogger(&hclog.LoggerOptions{
		Name:       "agent",
		Level:      hclog.LevelFromString(cfg.LogLevel),
		JSONFormat: cfg.LogJSON,
		Output:     os.Stderr,
	})
	a, err := agent.New(cfg, logger)
	if err != nil {
		c.ui.Error(err.Error())
		return 1
	}
	// Catch signals before starting, so none is lost during start-up.
	sigCh := make(chan os.Signal, 4)
	signal.Notify(sigCh, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigCh)

	if err := a.Start(context.Background()); err != nil {
		c.ui.Error(err.Error())
		return 1
	}
	mode := "client"
	if cfg.Server {
		mode = "server"
	}
	if cfg.DevMode {
		mode = "dev (in-memory server)"
	}
	c.ui.Output(fmt.Sprintf("==> %s agent running: node %q, %s, datacenter %s, HTTP %v",
		version.String(), cfg.NodeName, mode, cfg.Datacenter, a.HTTPAddrs()))

	for {
		select {
		case <-a.ShutdownCh():
			_ = a.Shutdown() // returns once a shutdown begun elsewhere is done
			if err := a.Err(); err != nil {
				c.ui.Error(fmt.Sprintf("==> Agent stopped: %v", err))
				return 1
			}
			return 0
		case sig := <-sigCh:
			if sig == syscall.SIGHUP {
				logger.Info("SIGHUP received; reloading services and checks")
				if err := a.Reload(); err != nil {
					logger.Error("reload failed", "error", err)
				}
				continue
			}
			if !leavesOn(cfg, sig) {
				c.ui.Output(fmt.Sprintf("==> Caught signal %v: exiting without leaving the cluster (%s)", sig, leaveSetting(sig)))
				if err := a.Shutdown(); err != nil {
					c.ui.Error(fmt.Sprintf("Error shutting down: %v", err))
					return 1
				}
				return 0
			}
			c.ui.Output(fmt.Sprintf("==> Caught signal %v: leaving cluster gracefully (signal again to exit at once)", sig))
			return c.leave(a, sigCh)
		}
	}
}

// leavesOn reports whether sig (SIGTERM or SIGINT) makes the agent leave
// the cluster before it exits: Consul's leave_on_terminate and
// skip_leave_on_interrupt when the configuration sets them; unset, Shoal
// leaves on both, servers included (Consul's servers do neither by
// default: docs/configuration.md).
func leavesOn(cfg *config.Config, sig os.Signal) bool {
	if sig == syscall.SIGTERM {
		return cfg.LeaveOnTerminate == nil || *cfg.LeaveOnTerminate
	}
	return cfg.SkipLeaveOnInterrupt == nil || !*cfg.SkipLeaveOnInterrupt
}

// leaveSetting names the setting that decided leavesOn for sig.
func leaveSetting(sig os.Signal) string {
	if sig == syscall.SIGTERM {
		return "leave_on_terminate = false"
	}
	return "skip_leave_on_interrupt = true"
}

// leave leaves gracefully unless another signal arrives first.
func (c *agentCommand) leave(a *agent.Agent, sigCh <-chan os.Signal) int {
	done := make(chan error, 1)
	go func() { done <- a.Leave() }()
	select {
	case err := <-done:
		if err != nil {
			c.ui.Error(fmt.Sprintf("Error leaving: %v", err))
			return 1
		}
		return 0
	case <-sigCh:
		c.ui.Output("==> Second signal received: exiting without leaving")
		return 1
	case <-time.After(30 * time.Second):
		c.ui.Error("Timed out leaving gracefully")
		return 1
	}
}
