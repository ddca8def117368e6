package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	if dk, err := docker.New(a.logger, docker.Options{Node: a.nodeID, Credentials: a.registryCredentials()}); err != nil {
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

// registryCredentials turns the config's registry_auth into the docker
// driver's credentials, reading password files. A credential whose file
// cannot be read is left out (and logged): pulls that need it then fail
// saying it is not configured.
func (a *Agent) registryCredentials() map[string]docker.Credential {
	if len(a.cfg.RegistryAuth) == 0 {
		return nil
	}
	out := make(map[string]docker.Credential, len(a.cfg.RegistryAuth))
	for name, rc := range a.cfg.RegistryAuth {
		pw := rc.Password
		if rc.PasswordFile != "" {
			b, err := os.ReadFile(rc.PasswordFile)
			if err != nil {
				a.logger.Error("registry credential left out: cannot read its password file", "name", name, "error", err)
				continue
			}
			pw = strings.TrimRight(string(b), "\r\n")
		}
		out[name] = docker.Credential{Server: rc.Server, Username: rc.Username, Password: pw}
	}
	return out
}
