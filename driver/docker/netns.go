package docker

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/shoalproject/shoal/driver"
)

// CheckSameNetNS reports, for an engine reached over a unix socket, whether
// the process listening on it (the engine, or the service manager that
// opened the socket for it) is in this process's network namespace. It
// returns nil when it is, or when that cannot be told (a TCP engine, or
// /proc not readable), and an error wrapping driver.ErrOtherNetNS when it is not.
func (d *Driver) CheckSameNetNS(ctx context.Context) error {
	host := d.cli.DaemonHost()
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return nil
	}
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "unix", path)
	if err != nil {
		return fmt.Errorf("docker: engine at %s: %w", host, err)
	}
	defer c.Close()
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return nil
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || credErr != nil || cred.Pid <= 0 {
		return nil
	}
	theirs, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cred.Pid))
	ours, err2 := os.Readlink("/proc/thread-self/ns/net")
	if err1 != nil || err2 != nil || theirs == ours {
		return nil
	}
	return fmt.Errorf("docker: %w (engine at %s, pid %d, %s; this agent %s)", driver.ErrOtherNetNS, host, cred.Pid, theirs, ours)
}
