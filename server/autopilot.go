package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/server/fsm"
)

// Autopilot's health thresholds, Consul's defaults: a server is healthy
// while it is alive in Serf, heard from the leader within
// LastContactThreshold, on the leader's term and at most MaxTrailingLogs
// behind it. These constants and Config.CleanupDeadServers are the
// configuration until an operator stores one (Operator.AutopilotSetConfiguration),
// as JSON in the KV store at autopilotConfigKey, replicated by Raft.
const (
	autopilotConfigKey = "shoal/autopilot/config"

	autopilotLastContactThreshold    = 200 * time.Millisecond
	autopilotMaxTrailingLogs         = 250
	autopilotServerStabilizationTime = 10 * time.Second
	// statsTimeout bounds the leader's question to each server.
	statsTimeout = time.Second
)

// AutopilotDefaults are the autopilot settings of a server's own
// configuration (the agent's autopilot block), in force until an
// operator stores a configuration; zero fields take Consul's defaults.
type AutopilotDefaults struct {
	MinQuorum               uint
	LastContactThreshold    time.Duration
	MaxTrailingLogs         uint64
	ServerStabilizationTime time.Duration
}

// healthTracker remembers since when each server has been healthy
// (StableSince). The zero value is ready to use.
type healthTracker struct {
	mu    sync.Mutex
	since map[string]time.Time
}

// stableSince records whether server id is healthy now and returns since
// when it has been (zero when it is not).
func (h *healthTracker) stableSince(id string, healthy bool, now time.Time) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.since == nil {
		h.since = map[string]time.Time{}
	}
	if !healthy {
		delete(h.since, id)
		return time.Time{}
	}
	if t, ok := h.since[id]; ok {
		return t
	}
	h.since[id] = now
	return now
}

// localRaftStats is this server's own log position and contact.
func (s *Server) localRaftStats() rpcapi.RaftStats {
	st := s.raft.Stats()
	out := rpcapi.RaftStats{LastIndex: s.raft.LastIndex(), LastContact: -1}
	out.LastTerm, _ = strconv.ParseUint(st["last_log_term"], 10, 64)
	if s.IsLeader() {
		out.LastContact = 0
	} else if d, err := time.ParseDuration(st["last_contact"]); err == nil {
		out.LastContact = d
	}
	cf := s.raft.GetConfiguration()
	if cf.Error() == nil {
		out.Peers = len(cf.Configuration().Servers)
	}
	return out
}

// raftStats asks every server of the configuration for its Raft stats,
// concurrently, each within statsTimeout. A server that does not answer
// is absent from the result.
func (s *Server) raftStats(ctx context.Context, servers []raft.Server) map[raft.ServerID]rpcapi.RaftStats {
	out := map[raft.ServerID]rpcapi.RaftStats{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, srv := range servers {
		if srv.ID == raft.ServerID(s.cfg.NodeID) {
			st := s.localRaftStats()
			mu.Lock()
			out[srv.ID] = st
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, statsTimeout)
			defer cancel()
			var st rpcapi.RaftStats
			if err := s.pool.RPC(cctx, string(srv.Address), "Status.RaftStats", &struct{}{}, &st); err != nil {
				s.logger.Debug("autopilot: no raft stats", "server", srv.ID, "error", err)
				return
			}
			mu.Lock()
			out[srv.ID] = st
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// autopilotConfig is the configuration in force: the stored one, else
// the defaults.
func (s *Server) autopilotConfig() rpcapi.AutopilotConfig {
	tx := s.State().ReadTxn()
	defer tx.Abort()
	var reply rpcapi.AutopilotConfigReply
	if _, err := s.readAutopilotConfig(tx, nil, &reply); err != nil {
		s.logger.Error("autopilot: stored configuration unreadable, using defaults", "error", err)
		return s.defaultAutopilotConfig()
	}
	return reply.Config
}

func (s *Server) defaultAutopilotConfig() rpcapi.AutopilotConfig {
	d := s.cfg.Autopilot // defaulted by Config.withDefaults
	return rpcapi.AutopilotConfig{
		CleanupDeadServers:      s.cfg.CleanupDeadServers,
		MinQuorum:               d.MinQuorum,
		LastContactThreshold:    d.LastContactThreshold,
		MaxTrailingLogs:         d.MaxTrailingLogs,
		ServerStabilizationTime: d.ServerStabilizationTime,
	}
}

// readAutopilotConfig fills reply with the stored configuration, or the
// defaults (indexes 0) when none is stored, and returns the key's index
// for blocking queries.
func (s *Server) readAutopilotConfig(tx *memdb.Txn, ws memdb.WatchSet, reply *rpcapi.AutopilotConfigReply) (uint64, error) {
	idx, ent, err := kv.Get(tx, ws, autopilotConfigKey)
	if err != nil {
		return 0, err
	}
	if ent == nil {
		reply.Config, reply.CreateIndex, reply.ModifyIndex = s.defaultAutopilotConfig(), 0, 0
		return idx, nil
	}
	var c rpcapi.AutopilotConfig
	if err := json.Unmarshal(ent.Value, &c); err != nil {
		return 0, fmt.Errorf("autopilot: decode %s: %w", autopilotConfigKey, err)
	}
	reply.Config, reply.CreateIndex, reply.ModifyIndex = c, ent.CreateIndex, ent.ModifyIndex
	return idx, nil
}

// AutopilotGetConfiguration reads the autopilot configuration (Consul's
// GET /v1/operator/autopilot/configuration); a blocking query.
func (e *Operator) AutopilotGetConfiguration(args *rpcapi.DCRequest, reply *rpcapi.AutopilotConfigReply) error {
	if done, err := e.s.forward("Operator.AutopilotGetConfiguration", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		return e.s.readAutopilotConfig(tx, ws, reply)
	})
}

// ErrInvalidAutopilotConfig means a configuration to store is malformed.
var ErrInvalidAutopilotConfig = errors.New("invalid autopilot configuration")

// AutopilotSetConfiguration stores the autopilot configuration through
// Raft, with CAS when asked; reply reports whether it was stored.
func (e *Operator) AutopilotSetConfiguration(args *rpcapi.AutopilotSetConfigRequest, reply *bool) error {
	if done, err := e.s.forward("Operator.AutopilotSetConfiguration", args, args, reply); done {
		return err
	}
	c := args.Config
	if c.LastContactThreshold < 0 || c.ServerStabilizationTime < 0 {
		return fmt.Errorf("%w: durations must not be negative", ErrInvalidAutopilotConfig)
	}
	val, err := json.Marshal(c)
	if err != nil {
		return err
	}
	req := kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: autopilotConfigKey, Value: val}, Now: time.Now().UnixNano()}
	if args.CAS {
		req.Op, req.Entry.ModifyIndex = kv.OpCAS, args.ModifyIndex
	}
	res, err := e.s.raftApply(fsm.KVSRequestType, &req)
	if err != nil {
		return err
	}
	*reply, _ = res.(bool)
	return nil
}

// ServerHealth reports the health of every Raft server, as the leader
// sees it (Consul's /v1/operator/autopilot/health).
func (e *Operator) ServerHealth(args *rpcapi.DCRequest, reply *rpcapi.OperatorHealthReply) error {
	if done, err := e.s.forward("Operator.ServerHealth", args, args, reply); done {
		return err
	}
	s := e.s
	cf := s.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	servers := cf.Configuration().Servers
	stats := s.raftStats(context.Background(), servers)
	members := map[string]memberView{}
	for _, m := range s.serf.Members() {
		if id := m.Tags["id"]; id != "" {
			build, _, _ := strings.Cut(m.Tags["build"], ":")
			members[id] = memberView{name: m.Name, status: m.Status.String(), version: build}
		}
	}
	_, leaderID := s.raft.LeaderWithID()
	leaderStats := stats[leaderID]
	now := time.Now()
	reply.Config = s.autopilotConfig()
	reply.Servers = nil
	healthyVoters, voters := 0, 0
	for _, srv := range servers {
		st, answered := stats[srv.ID]
		m := members[string(srv.ID)]
		h := rpcapi.ServerHealth{
			ID: string(srv.ID), Name: m.name, Address: string(srv.Address), SerfStatus: m.status,
			Version: m.version, Leader: srv.ID == leaderID, Voter: srv.Suffrage == raft.Voter,
			LastContact: st.LastContact, LastTerm: st.LastTerm, LastIndex: st.LastIndex,
		}
		if h.SerfStatus == "" {
			h.SerfStatus = "none"
		}
		h.Healthy = answered && h.SerfStatus == "alive" &&
			st.LastContact >= 0 && st.LastContact <= reply.Config.LastContactThreshold &&
			st.LastTerm == leaderStats.LastTerm &&
			st.LastIndex+reply.Config.MaxTrailingLogs >= leaderStats.LastIndex
		h.StableSince = s.serverHealth.stableSince(h.ID, h.Healthy, now)
		if h.Voter {
			voters++
			if h.Healthy {
				healthyVoters++
			}
		}
		reply.Servers = append(reply.Servers, h)
	}
	quorum := voters/2 + 1
	reply.FailureTolerance = max(healthyVoters-quorum, 0)
	reply.Healthy = healthyVoters >= quorum
	for _, h := range reply.Servers {
		if !h.Healthy {
			reply.Healthy = false
		}
	}
	return nil
}

// memberView is what ServerHealth needs of a Serf member.
type memberView struct{ name, status, version string }
