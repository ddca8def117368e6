// Package docker is the driver that runs tasks as Docker containers, through
// the Engine API (github.com/moby/moby/client). It negotiates the API
// version, so that Debian's engine 20.10 (API 1.41) and current engines both
// work. It pulls a task's image by the spec's pull policy (pull.go): in the
// background through driver.Preparer, with progress, or within Start; the
// registry credentials come from Options.Credentials, by name or by the
// image's registry host.
//
// Every container it creates carries the labels shoal.alloc, shoal.service,
// shoal.index, shoal.version and, with Options.Node, shoal.node (over the
// spec's own labels) and is named "<service>.<index>.<first 8 of the
// allocation ID>". The engine is the only state: Inspect, List and Stop find
// containers by the shoal.alloc (and shoal.node) labels, so a restarted
// agent, or a second Driver, sees the tasks of the first.
//
// It is also the overlay's driver.NetworkAttacher: EnsureNetwork binds a
// bridge network to the overlay's bridge device (network.go), after
// CheckSameNetNS has made sure the engine shares the agent's network
// namespace (netns.go).
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/shoalproject/shoal/driver"
)

// Name is the driver's name.
const Name = "docker"

// Options configure the driver.
type Options struct {
	// Host is the engine's address, such as "unix:///var/run/docker.sock"
	// or "tcp://10.0.0.5:2375". Empty means DOCKER_HOST, else the default
	// socket. DOCKER_API_VERSION, DOCKER_CERT_PATH and DOCKER_TLS_VERIFY are
	// honoured as by the docker CLI.
	Host string
	// Node is this agent's node ID. When set, containers are labelled
	// shoal.node=<Node> and the driver sees only containers with that label,
	// so that agents sharing one engine (dev mode, tests) keep to their own
	// tasks. Empty means every container with a shoal.alloc label.
	Node string
	// CPUHardLimitMHz, when positive, is the MHz of one core: each task is
	// then also capped at resources.cpu / CPUHardLimitMHz CPUs. Zero
	// (default) leaves CPU a relative weight only (CPU shares).
	CPUHardLimitMHz int
	// Credentials are the registry logins specs may use, by name (see
	// Credential). Nil means none: pulls are anonymous.
	Credentials map[string]Credential
}

// Driver runs tasks as containers of one engine. It is safe for concurrent
// use; calls for one allocation are serialised.
type Driver struct {
	logger hclog.Logger
	opts   Options
	cli    *client.Client
	locks  driver.AllocLocks
	pulls  pulls

	// ctx bounds the background pulls; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
}

var (
	_ driver.Driver   = (*Driver)(nil)
	_ driver.Preparer = (*Driver)(nil)
	_ driver.Watcher  = (*Driver)(nil)
)

// New returns a driver for the engine of opts. It does not contact the
// engine (see Available); the API version is negotiated on first use.
func New(logger hclog.Logger, opts Options) (*Driver, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	copts := []client.Opt{client.FromEnv}
	if opts.Host != "" {
		copts = append(copts, client.WithHost(opts.Host))
	}
	cli, err := client.New(copts...)
	if err != nil {
		return nil, fmt.Errorf("docker: client: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Driver{logger: logger.Named(Name), opts: opts, cli: cli, ctx: ctx, cancel: cancel}, nil
}

// Close stops the pulls in flight and releases the client's connections.
func (d *Driver) Close() error {
	d.cancel()
	return d.cli.Close()
}

// Name returns "docker".
func (d *Driver) Name() string { return Name }

// Available pings the engine (negotiating the API version) and reports,
// wrapping driver.ErrUnavailable, why it cannot be used.
func (d *Driver) Available(ctx context.Context) error {
	p, err := d.cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("docker: %w: engine at %s: %w", driver.ErrUnavailable, d.cli.DaemonHost(), err)
	}
	if p.OSType != "" && p.OSType != "linux" {
		return fmt.Errorf("docker: %w: engine at %s runs %s containers, not linux", driver.ErrUnavailable, d.cli.DaemonHost(), p.OSType)
	}
	return nil
}

// Start removes the allocation's old container if any, makes sure the image
// is present (pulling it by the spec's policy, unless Prepare already did),
// creates the container and starts it. When the start fails it
// removes the container again.
func (d *Driver) Start(ctx context.Context, t *driver.Task) (driver.Status, error) {
	if t == nil || t.Spec == nil || t.AllocID == "" {
		return driver.Status{}, errors.New("docker: start: task without allocation ID or spec")
	}
	if t.Spec.Image == "" {
		return driver.Status{}, fmt.Errorf("docker: start %s: the spec names no image", t.AllocID)
	}
	unlock := d.locks.Lock(t.AllocID)
	defer unlock()

	// The time of each engine call, for the debug line below.
	t0 := time.Now()
	if err := d.removeAll(ctx, t.AllocID, 0); err != nil {
		return driver.Status{}, fmt.Errorf("docker: start %s: remove the old container: %w", t.AllocID, err)
	}
	if err := d.ensureImage(ctx, t); err != nil {
		return driver.Status{}, fmt.Errorf("docker: start %s: %w", t.AllocID, err)
	}
	opts, err := d.createOptions(t)
	if err != nil {
		return driver.Status{}, fmt.Errorf("docker: start %s: %w", t.AllocID, err)
	}
	t1 := time.Now()
	created, err := d.cli.ContainerCreate(ctx, opts)
	if cerrdefs.IsConflict(err) && d.removeStrayName(ctx, opts.Name) {
		created, err = d.cli.ContainerCreate(ctx, opts)
	}
	if err != nil {
		return driver.Status{}, fmt.Errorf("docker: start %s: create %s: %w", t.AllocID, opts.Name, err)
	}
	for _, w := range created.Warnings {
		d.logger.Warn("engine warning on create", "alloc", t.AllocID, "container", opts.Name, "warning", w)
	}
	t2 := time.Now()
	if _, err := d.cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, rerr := d.cli.ContainerRemove(rmCtx, created.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); rerr != nil && !cerrdefs.IsNotFound(rerr) {
			d.logger.Warn("cannot remove a container that failed to start", "alloc", t.AllocID, "container", created.ID, "error", rerr)
		}
		return driver.Status{}, fmt.Errorf("docker: start %s: start %s: %w", t.AllocID, opts.Name, err)
	}
	t3 := time.Now()
	st, err := d.inspect(ctx, created.ID)
	if err != nil {
		return driver.Status{}, fmt.Errorf("docker: start %s: %w", t.AllocID, err)
	}
	d.logger.Debug("started", "alloc", t.AllocID, "container", opts.Name, "id", shortID(created.ID), "ip", st.IP,
		"prepare", t1.Sub(t0).Round(time.Millisecond), "create", t2.Sub(t1).Round(time.Millisecond),
		"start", t3.Sub(t2).Round(time.Millisecond), "inspect", time.Since(t3).Round(time.Millisecond))
	return st, nil
}

// removeStrayName force-removes the container called name when Shoal made
// it (it has the shoal.alloc label) and reports whether it did.
func (d *Driver) removeStrayName(ctx context.Context, name string) bool {
	c, err := d.cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil || c.Container.Config == nil || c.Container.Config.Labels[LabelAlloc] == "" {
		return false
	}
	_, err = d.cli.ContainerRemove(ctx, c.Container.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	return err == nil || cerrdefs.IsNotFound(err)
}

// Stop stops the allocation's container (SIGTERM, SIGKILL after grace,
// rounded up to whole seconds) and removes it with its anonymous volumes.
func (d *Driver) Stop(ctx context.Context, allocID string, grace time.Duration) error {
	unlock := d.locks.Lock(allocID)
	defer unlock()
	if err := d.removeAll(ctx, allocID, grace); err != nil {
		return fmt.Errorf("docker: stop %s: %w", allocID, err)
	}
	return nil
}

// removeAll stops and removes every container labelled with allocID.
func (d *Driver) removeAll(ctx context.Context, allocID string, grace time.Duration) error {
	ids, err := d.find(ctx, allocID)
	if err != nil {
		return err
	}
	secs := int((grace + time.Second - 1) / time.Second)
	for _, id := range ids {
		if grace > 0 {
			if _, err := d.cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs}); err != nil && !cerrdefs.IsNotFound(err) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				// Force removal below kills it anyway.
				d.logger.Warn("stop failed, removing by force", "alloc", allocID, "container", shortID(id), "error", err)
			}
		}
		if _, err := d.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
			// A forced removal conflicts only with one already under way
			// (an operator's `docker rm -f`, the engine's own clean-up):
			// wait for that one instead of failing, which would cost a
			// restart its back-off.
			if !cerrdefs.IsConflict(err) || !d.waitRemoved(ctx, id) {
				return fmt.Errorf("remove %s: %w", shortID(id), err)
			}
		}
		d.logger.Debug("removed", "alloc", allocID, "container", shortID(id))
	}
	return nil
}

// removalWait bounds how long removeAll waits for a removal someone else
// started.
const removalWait = 30 * time.Second

// waitRemoved reports whether the container id is gone within
// removalWait, polling the engine.
func (d *Driver) waitRemoved(ctx context.Context, id string) bool {
	ctx, cancel := context.WithTimeout(ctx, removalWait)
	defer cancel()
	for {
		_, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// find returns the IDs of the containers labelled with allocID, running or
// not, newest first.
func (d *Driver) find(ctx context.Context, allocID string) ([]string, error) {
	res, err := d.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: d.labelFilter(LabelAlloc + "=" + allocID),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	sort.Slice(res.Items, func(i, j int) bool { return res.Items[i].Created > res.Items[j].Created })
	ids := make([]string, 0, len(res.Items))
	for _, c := range res.Items {
		// The filter matches on the exact value; check anyway, engines differ.
		if c.Labels[LabelAlloc] == allocID && (d.opts.Node == "" || c.Labels[LabelNode] == d.opts.Node) {
			ids = append(ids, c.ID)
		}
	}
	return ids, nil
}

// Inspect returns the status of the allocation's container (the newest
// when there are several), driver.ErrNotFound when it has none.
func (d *Driver) Inspect(ctx context.Context, allocID string) (driver.Status, error) {
	ids, err := d.find(ctx, allocID)
	if err != nil {
		return driver.Status{}, fmt.Errorf("docker: inspect %s: %w", allocID, err)
	}
	if len(ids) == 0 {
		return driver.Status{}, fmt.Errorf("docker: inspect %s: %w", allocID, driver.ErrNotFound)
	}
	st, err := d.inspect(ctx, ids[0])
	if cerrdefs.IsNotFound(err) {
		return driver.Status{}, fmt.Errorf("docker: inspect %s: %w", allocID, driver.ErrNotFound)
	}
	if err != nil {
		return driver.Status{}, fmt.Errorf("docker: inspect %s: %w", allocID, err)
	}
	return st, nil
}

func (d *Driver) inspect(ctx context.Context, id string) (driver.Status, error) {
	res, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return driver.Status{}, fmt.Errorf("inspect container %s: %w", shortID(id), err)
	}
	return status(&res.Container), nil
}

// labelFilter matches containers with the label term (label or
// label=value) and, with Options.Node, this node's label.
func (d *Driver) labelFilter(term string) client.Filters {
	f := make(client.Filters).Add("label", term)
	if d.opts.Node != "" {
		f.Add("label", LabelNode+"="+d.opts.Node)
	}
	return f
}

// List returns the status of every container with a shoal.alloc label (and
// this node's shoal.node label, with Options.Node), running or not, sorted
// by allocation ID.
func (d *Driver) List(ctx context.Context) ([]driver.Status, error) {
	res, err := d.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: d.labelFilter(LabelAlloc),
	})
	if err != nil {
		return nil, fmt.Errorf("docker: list: %w", err)
	}
	out := make([]driver.Status, 0, len(res.Items))
	for _, c := range res.Items {
		st, err := d.inspect(ctx, c.ID)
		if cerrdefs.IsNotFound(err) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("docker: list: %w", err)
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].AllocID != out[j].AllocID {
			return out[i].AllocID < out[j].AllocID
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Logs copies the last tail lines (all when tail <= 0) of the container's
// stdout and stderr to w, demultiplexed, in the order the engine has them.
func (d *Driver) Logs(ctx context.Context, allocID string, tail int, w io.Writer) error {
	ids, err := d.find(ctx, allocID)
	if err != nil {
		return fmt.Errorf("docker: logs %s: %w", allocID, err)
	}
	if len(ids) == 0 {
		return fmt.Errorf("docker: logs %s: %w", allocID, driver.ErrNotFound)
	}
	opts := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "all"}
	if tail > 0 {
		opts.Tail = strconv.Itoa(tail)
	}
	rc, err := d.cli.ContainerLogs(ctx, ids[0], opts)
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("docker: logs %s: %w", allocID, driver.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("docker: logs %s: %w", allocID, err)
	}
	defer rc.Close()
	// Shoal never allocates a TTY, so the stream is always multiplexed.
	if _, err := stdcopy.StdCopy(w, w, rc); err != nil {
		return fmt.Errorf("docker: logs %s: %w", allocID, err)
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
