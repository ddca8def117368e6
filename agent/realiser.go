package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoalproject/shoal/agent/local"
	"github.com/shoalproject/shoal/agent/realiser"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/sched"
	"github.com/shoalproject/shoal/server"
)

// sourceScheduler marks service instances the realiser registered (they
// are not persisted: the realiser re-registers them after a restart).
const sourceScheduler = local.SourceScheduler

// schedTags are the Serf tags that tell the scheduler what this node can
// run: CPU (MHz), memory (MB), drivers, the host permissions its config
// allows, and the HTTP port for `svc logs`.
func (a *Agent) schedTags(drivers []string) map[string]string {
	tags := map[string]string{
		server.TagCPU:     strconv.Itoa(runtime.NumCPU() * 1000),
		server.TagMemory:  strconv.Itoa(memoryMB()),
		server.TagDrivers: strings.Join(drivers, ","),
	}
	var allows []string
	for _, p := range a.cfg.Scheduler.Allows() {
		allows = append(allows, string(p))
	}
	if len(allows) > 0 {
		tags[server.TagAllow] = strings.Join(allows, ",")
	}
	if a.cfg.Ports.HTTP > 0 {
		tags[server.TagHTTP] = strconv.Itoa(a.cfg.Ports.HTTP)
	}
	return tags
}

// memoryMB is the machine's total memory from /proc/meminfo (0 if unknown).
func memoryMB() int {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.Atoi(f[1])
			return kb / 1024
		}
	}
	return 0
}

// startRealiser runs the realiser when this node has drivers.
func (a *Agent) startRealiser() {
	if len(a.drivers) == 0 || a.local == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r := realiser.New(realiser.Config{
		NodeID: a.nodeID, NodeName: a.cfg.NodeName, AdvertiseAddr: a.cfg.AdvertiseAddr,
		Drivers: a.drivers, Allows: a.cfg.Scheduler.Allows(), Server: rpcSchedServer{rpc: a.delegate.RPC}, Overlay: a.overlayTarget, Unhealthy: a.unhealthyServices,
		Registry: &localRegistry{mgr: a.local.mgr, state: a.local.state},
		Logger:   a.logger,
	})
	a.realiser, a.realiserCancel, a.realiserDone = r, cancel, done
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer close(done)
		go func() {
			<-a.shutdownCh
			cancel()
		}()
		r.Run(ctx)
	}()
}

// stopReplicas stops the realiser and every replica of this node: the
// node is leaving, and the scheduler moves its replicas elsewhere.
func (a *Agent) stopReplicas() {
	if a.realiser == nil {
		return
	}
	a.realiserCancel()
	<-a.realiserDone
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.realiser.StopAll(ctx); err != nil {
		a.logger.Warn("leave: stopping replicas", "error", err)
	}
}

// rpcSchedServer is the realiser's Server over the Sched RPC endpoints.
type rpcSchedServer struct {
	rpc func(ctx context.Context, method string, args, reply any) error
}

func (s rpcSchedServer) NodeAllocs(ctx context.Context, nodeID string, minIndex uint64) ([]*sched.Alloc, uint64, error) {
	args := rpcapi.NodeAllocsRequest{NodeID: nodeID,
		// The first read is the leader's, later ones may be stale: see
		// realiser.Server.
		QueryOptions: rpcapi.QueryOptions{MinQueryIndex: minIndex, MaxQueryTime: time.Minute, AllowStale: minIndex > 0}}
	var reply rpcapi.IndexedAllocs
	if err := s.rpc(ctx, "Sched.NodeAllocs", &args, &reply); err != nil {
		return nil, 0, err
	}
	return reply.Allocs, reply.Index, nil
}

func (s rpcSchedServer) UpdateAllocs(ctx context.Context, req sched.UpdateRequest) error {
	args := rpcapi.AllocUpdateRequest{UpdateRequest: req}
	var reply struct{}
	return s.rpc(ctx, "Sched.UpdateAllocs", &args, &reply)
}

// localRegistry registers replicas in the agent's local state, so that
// anti-entropy puts them in the catalog with their checks.
type localRegistry struct {
	mgr   *local.Manager
	state *local.State
}

func checkID(instanceID string) string { return "service:" + instanceID }

// Register adds or updates a replica's instance. A check keeps its status
// across a re-registration of the same target (tags or metadata changed);
// a check whose target changed (a replica at a new address or port) starts
// critical, as a new one does, so that the replica enters the routing mesh
// only once it has answered there.
func (r *localRegistry) Register(inst realiser.Instance) error {
	cur := r.state.Service(inst.ID)
	if cur != nil && cur.Address == inst.Address && cur.Port == inst.Port &&
		slices.Equal(cur.Tags, inst.Tags) && maps.Equal(cur.Meta, inst.Meta) &&
		(inst.Check == nil) == (r.state.Check(checkID(inst.ID)) == nil) {
		return nil // unchanged: keep the check's state
	}
	moved := cur != nil && (cur.Address != inst.Address || cur.Port != inst.Port)
	def := &local.ServiceDefinition{ID: inst.ID, Name: inst.Name, Address: inst.Address, Port: inst.Port,
		Tags: inst.Tags, Meta: inst.Meta}
	if c := inst.Check; c != nil {
		cd := &local.CheckDefinition{CheckID: checkID(inst.ID), Name: "Replica health of " + inst.Name,
			Interval: local.Duration(c.Interval.Std()), Timeout: local.Duration(c.Timeout.Std())}
		switch {
		case c.HTTP != "":
			cd.HTTP = "http://" + inst.CheckTarget + c.HTTP
		case c.TCP:
			cd.TCP = inst.CheckTarget
		default:
			cd = nil // script checks run inside the replica: not supported yet
		}
		if cd != nil && moved {
			cd.Status = catalog.HealthCritical
		}
		def.Check = cd
	}
	if err := r.mgr.AddService(def, sourceScheduler, true); err != nil {
		return fmt.Errorf("register %s: %w", inst.ID, err)
	}
	return nil
}

func (r *localRegistry) Deregister(id string) error {
	if r.state.Service(id) == nil {
		return nil
	}
	if err := r.mgr.RemoveService(id); err != nil && !errors.Is(err, local.ErrUnknownService) {
		return err
	}
	return nil
}

func (r *localRegistry) Health(id string) (healthy, known bool) {
	c := r.state.Check(checkID(id))
	if c == nil {
		return false, false
	}
	return c.Status == catalog.HealthPassing, true
}

// unhealthyServices returns the services among names without a passing
// instance (depends_on), read with stale consistency from any server.
func (a *Agent) unhealthyServices(ctx context.Context, names []string) ([]string, error) {
	var missing []string
	for _, name := range names {
		args := rpcapi.ServiceSpecificRequest{ServiceName: name, PassingOnly: true,
			QueryOptions: rpcapi.QueryOptions{AllowStale: true}}
		var reply rpcapi.IndexedCheckServiceNodes
		if err := a.delegate.RPC(ctx, "Health.ServiceNodes", &args, &reply); err != nil {
			return nil, err
		}
		if len(reply.Nodes) == 0 {
			missing = append(missing, name)
		}
	}
	return missing, nil
}
