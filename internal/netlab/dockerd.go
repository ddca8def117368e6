package netlab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/shoalproject/shoal/internal/dockertest"
)

// Dockerd is a Docker engine of its own inside a host's namespace, as in
// ../shared/HOSTS.md: its own data and exec roots, socket and bridge
// subnet, and its own hostname.
type Dockerd struct {
	Dir  string
	Sock string // "unix://<dir>/docker.sock", for DOCKER_HOST
	cmd  *exec.Cmd
	done chan struct{}
}

// StartDockerd starts an engine in the host's network namespace with its
// state under dir and docker0 on bip (such as "172.30.1.1/24"), and waits
// until it answers. extra are more dockerd flags (such as
// "--insecure-registry", "10.80.0.1:5000").
func (h *Host) StartDockerd(dir, bip string, extra ...string) (*Dockerd, error) {
	if _, err := exec.LookPath("dockerd"); err != nil {
		return nil, errors.New("netlab: dockerd not found (apt-get install docker.io)")
	}
	for _, d := range []string{"data", "exec"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	d := &Dockerd{Dir: dir, Sock: "unix://" + filepath.Join(dir, "docker.sock"), done: make(chan struct{})}
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return nil, err
	}
	// Each of setsid, unshare, sh's exec and nsenter replaces itself with
	// the next, so the PID we hold is dockerd's.
	d.cmd = exec.Command("setsid", "unshare", "--uts", "sh", "-c", `hostname "$0"; exec "$@"`, h.Name,
		"nsenter", "--net=/var/run/netns/"+h.NS,
		"dockerd", "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"-H", d.Sock, "--pidfile", filepath.Join(dir, "docker.pid"), "--bip", bip)
	d.cmd.Args = append(d.cmd.Args, extra...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("netlab: start dockerd: %w", err)
	}
	go func() {
		_ = d.cmd.Wait()
		logf.Close()
		close(d.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if exec.Command("docker", "-H", d.Sock, "version").Run() == nil {
			return d, nil
		}
		select {
		case <-d.done:
			log, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
			return nil, fmt.Errorf("netlab: dockerd exited: %s", tail(string(log), 1500))
		default:
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, errors.New("netlab: dockerd did not answer within 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Stop stops the engine by PID, then the containerd and shim processes
// it left (found by their exec root in /proc), unmounts what remains under
// its directory and removes it.
func (d *Dockerd) Stop() {
	d.Halt()
	_ = os.RemoveAll(d.Dir)
}

// Halt stops the engine by PID as a host going down would (its containers
// stop with it), cleans up what it left running or mounted, and keeps its
// state: StartDockerd with the same directory brings the engine back with
// its images and stopped containers, as after a reboot.
func (d *Dockerd) Halt() {
	if d.cmd != nil && d.cmd.Process != nil {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(20 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	}
	dockertest.RemoveLeftovers(d.Dir)
}
