package dockertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Bridge is the default bridge address of the engine this package starts.
const Bridge = "172.31.250.1/24"

// daemon is the shared test engine (step 3 of the package comment) as one
// test binary uses it: it holds a shared flock on dir/users until release.
type daemon struct {
	dir     string
	host    string
	users   *os.File
	started bool // by this process, rather than joined
}

// canStart returns the dockerd binary, or what is missing to start one.
func canStart() (dockerd, missing string) {
	var why []string
	if uid := os.Geteuid(); uid != 0 {
		why = append(why, fmt.Sprintf("not root (euid %d)", uid))
	}
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/dockerd"); serr == nil {
			dockerd, err = "/usr/sbin/dockerd", nil
		}
	}
	if err != nil {
		why = append(why, "no dockerd in PATH or /usr/sbin (apt-get install docker.io)")
	}
	return dockerd, strings.Join(why, ", ")
}

func sharedDir() string { return filepath.Join(os.TempDir(), "shoal-dockertest") }

// join starts the shared engine, or joins it when another test binary
// already did, and registers this process as one of its users.
func join(dockerd string) (*daemon, error) {
	dir := sharedDir()
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer lock.Close() // unlocks
	users, err := flock(filepath.Join(dir, "users"), syscall.LOCK_SH)
	if err != nil {
		return nil, err
	}
	d := &daemon{dir: dir, host: "unix://" + filepath.Join(dir, "docker.sock"), users: users}
	if ping(d.host, 3*time.Second) == nil {
		return d, nil // started by another test binary, or left by a killed one
	}
	// Nothing answers: clear what a killed run may have left, then start.
	if err := d.stopLocked(); err != nil {
		users.Close()
		return nil, err
	}
	if err := saveHostState(dir); err != nil {
		users.Close()
		return nil, err
	}
	for _, sub := range []string{"data", "exec"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			users.Close()
			return nil, err
		}
	}
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		users.Close()
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(dockerd,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"-H", d.host,
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"--bip", Bridge,
		"--iptables=true",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	// dockerd runs iptables, modprobe and friends from PATH.
	cmd.Env = append(os.Environ(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:"+os.Getenv("PATH"))
	// Its own session: the engine outlives this binary when others still
	// use it, and a ^C to go test does not hit it mid-start.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		users.Close()
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if ping(d.host, 2*time.Second) == nil {
			d.started = true
			return d, nil
		}
		select {
		case err := <-exited:
			why := logTail(filepath.Join(dir, "dockerd.log"))
			_ = d.stopLocked()
			users.Close()
			return nil, fmt.Errorf("dockerd exited (%v): %s", err, why)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			why := logTail(filepath.Join(dir, "dockerd.log"))
			_ = d.stopLocked()
			users.Close()
			return nil, fmt.Errorf("dockerd did not answer at %s within 60s: %s", d.host, why)
		}
	}
}

// release unregisters this process and, when it was the last user, stops
// the engine and removes the directory.
func (d *daemon) release() error {
	lock, err := lockDir(d.dir)
	if err != nil {
		d.users.Close()
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(d.users.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		d.users.Close() // another binary still uses the engine
		return nil
	}
	defer d.users.Close()
	if err := d.stopLocked(); err != nil {
		return err
	}
	// Whoever waits for the lock notices that its file is gone (lockDir).
	os.Remove(filepath.Join(d.dir, "users"))
	os.Remove(filepath.Join(d.dir, "lock"))
	os.Remove(d.dir)
	return nil
}

// lockDir creates dir if needed and takes the exclusive lock on dir/lock.
// The last user removes the directory, so a lock taken on a file that was
// removed meanwhile is dropped and taken again on the new file.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "lock")
	for attempt := 0; ; attempt++ {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		f, err := flock(path, syscall.LOCK_EX)
		if errors.Is(err, os.ErrNotExist) && attempt < 100 {
			continue // the directory was removed between the two calls
		}
		if err != nil {
			return nil, err
		}
		held, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
		if attempt >= 100 {
			return nil, fmt.Errorf("cannot lock %s: it keeps being replaced", path)
		}
	}
}

// stopLocked stops the engine of the pidfile by PID (SIGTERM, SIGKILL after
// 30s), then containerd and shims left below its exec root, unmounts what
// remains below the directory and removes the engine's files. The caller
// holds the lock.
func (d *daemon) stopLocked() error {
	pidfile := filepath.Join(d.dir, "docker.pid")
	if pid := readPid(pidfile); pid > 0 && cmdlineHas(pid, d.dir) {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		if !waitGone(pid, 30*time.Second) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			waitGone(pid, 5*time.Second)
		}
	}
	RemoveLeftovers(d.dir)
	restoreHostState(d.dir)
	var errs []error
	for _, name := range []string{"data", "exec", "docker.sock", "docker.pid", "dockerd.log", hostStateFile} {
		if err := os.RemoveAll(filepath.Join(d.dir, name)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean up the test engine in %s: %w", d.dir, err)
	}
	return nil
}

// RemoveLeftovers cleans up after a stopped dockerd whose roots are under
// dir (data and exec roots dir/data and dir/exec): it kills the containerd
// and shim processes whose command line names dir/exec (dockerd may die
// without stopping them) and unmounts what is still mounted below dir,
// deepest first.
func RemoveLeftovers(dir string) {
	for _, pid := range pidsWithCmdline(filepath.Join(dir, "exec")) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		waitGone(pid, 5*time.Second)
	}
	for _, m := range mountsBelow(dir) {
		_ = syscall.Unmount(m, syscall.MNT_DETACH)
	}
}

// hostStateFile records what dockerd changes in the network namespace and
// does not undo when it stops: the FORWARD policy (it sets DROP) and the
// docker0 bridge.
const hostStateFile = "host-state.json"

type hostState struct {
	ForwardAccept bool `json:"forward_accept"` // FORWARD policy was ACCEPT
	HadDocker0    bool `json:"had_docker0"`
	// HadChains: the DOCKER chains existed (another engine made them).
	HadChains bool `json:"had_docker_chains"`
}

// saveHostState records the host's state before dockerd starts.
func saveHostState(dir string) error {
	var hs hostState
	out, err := exec.Command(sbin("iptables"), "-S", "FORWARD").Output()
	hs.ForwardAccept = err == nil && bytes.HasPrefix(out, []byte("-P FORWARD ACCEPT"))
	_, err = os.Stat("/sys/class/net/docker0")
	hs.HadDocker0 = err == nil
	hs.HadChains = exec.Command(sbin("iptables"), "-S", "DOCKER").Run() == nil
	b, err := json.Marshal(hs)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, hostStateFile), b, 0o600)
}

// restoreHostState undoes what the engine changed in this network
// namespace, unless another dockerd runs in it (it needs them).
func restoreHostState(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, hostStateFile))
	if err != nil {
		return
	}
	var hs hostState
	if json.Unmarshal(b, &hs) != nil || dockerdInMyNetns() {
		return
	}
	if hs.ForwardAccept {
		_ = exec.Command(sbin("iptables"), "-P", "FORWARD", "ACCEPT").Run()
	}
	if !hs.HadDocker0 {
		_ = exec.Command(sbin("ip"), "link", "del", "docker0").Run()
	}
	if !hs.HadChains {
		removeDockerRules()
	}
}

// removeDockerRules deletes the iptables rules and chains the engine
// created (scripts/test.sh does the same for the engine it starts).
func removeDockerRules() {
	ipt := sbin("iptables")
	bridgeNet := strings.TrimSuffix(Bridge, "1/24") // "172.31.250."
	for _, table := range []string{"filter", "nat"} {
		out, _ := exec.Command(ipt, "-t", table, "-S").Output()
		for _, rule := range strings.Split(string(out), "\n") {
			if !strings.HasPrefix(rule, "-A ") || !(strings.Contains(rule, "-j DOCKER") ||
				strings.Contains(rule, "docker0") || strings.Contains(rule, bridgeNet)) {
				continue
			}
			_ = exec.Command(ipt, append([]string{"-t", table, "-D"}, strings.Fields(rule)[1:]...)...).Run()
		}
	}
	for _, chain := range []string{"DOCKER-USER", "DOCKER-ISOLATION-STAGE-1", "DOCKER-ISOLATION-STAGE-2", "DOCKER"} {
		if exec.Command(ipt, "-F", chain).Run() == nil {
			_ = exec.Command(ipt, "-X", chain).Run()
		}
	}
	if exec.Command(ipt, "-t", "nat", "-F", "DOCKER").Run() == nil {
		_ = exec.Command(ipt, "-t", "nat", "-X", "DOCKER").Run()
	}
}

// sbin finds a system command also when PATH lacks the sbin directories.
func sbin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	return name
}

// dockerdInMyNetns reports whether a dockerd runs in this process's
// network namespace.
func dockerdInMyNetns() bool {
	mine, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return true
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if strings.TrimSpace(string(comm)) != "dockerd" {
			continue
		}
		if ns, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "net")); err == nil && ns == mine {
			return true
		}
	}
	return false
}

// flock opens (creating) path and locks it; closing the file unlocks.
func flock(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return f, nil
}

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
}

func cmdlineHas(pid int, s string) bool { return strings.Contains(cmdline(pid), s) }

// pidsWithCmdline returns the processes whose command line mentions s.
func pidsWithCmdline(s string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if cmdlineHas(pid, s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitGone waits until pid no longer exists (or is a zombie).
func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		if i := bytes.LastIndexByte(b, ')'); i > 0 && len(b) > i+2 && b[i+2] == 'Z' {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// mountsBelow lists mount points below dir, deepest first.
func mountsBelow(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			out = append(out, fields[4])
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// logTail returns the last lines of dockerd's log: the reason it failed is
// the last one.
func logTail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 2 {
		lines = lines[len(lines)-2:]
	}
	return strings.Join(lines, " | ")
}
