package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/driver/docker"
	"github.com/shoalproject/shoal/driver/exec"
)

// setupDrivers finds the drivers this node can run replicas with: exec
// always (a supervised process), docker when an engine answers. It
// returns their names, sorted, for the node's Serf tags. The docker driver
// is also the overlay's network attacher.
func (a *Agent) setupDrivers(ctx context.Context) []string {
	a.drivers = map[string]driver.Driver{}
	stateDir := filepath.Join(a.cfg.DataDir, "exec")
	if a.cfg.DevMode || a.cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "shoal-exec-")
		if err != nil {
			a.logger.Error("exec driver disabled: no state dir", "error", err)
		}
		stateDir, a.tempExecDir = dir, dir
	}
	if stateDir != "" {
		if ex, err := exec.New(a.logger, exec.Options{StateDir: stateDir}); err != nil {
			a.logger.Error("exec driver disabled", "error", err)
		} else {
			a.drivers[ex.Name()] = ex
		}
	}
	if dk, err := docker.New(a.logger, docker.Options{Node: a.nodeID}); err != nil {
		a.logger.Info("docker driver disabled", "reason", err)
	} else {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := dk.Available(cctx)
		cancel()
		if err != nil {
			a.logger.Info("docker driver disabled", "reason", err)
		} else {
			a.drivers[dk.Name()] = dk
			a.attacher = dk
		}
	}
	names := make([]string, 0, len(a.drivers))
	for n := range a.drivers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
