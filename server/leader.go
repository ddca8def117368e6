package server

import (
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/serf/serf"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/server/fsm"
)

// monitorLeadership starts the leader loop when this server gains
// leadership and stops it when it loses it.
func (s *Server) monitorLeadership() {
	var stop chan struct{}
	var done chan struct{}
	stopLoop := func() {
		if stop != nil {
			close(stop)
			<-done
			stop, done = nil, nil
		}
	}
	defer stopLoop()
	for {
		select {
		case isLeader := <-s.leaderNotify:
			if isLeader && stop == nil {
				stop, done = make(chan struct{}), make(chan struct{})
				go func(stop, done chan struct{}) {
					defer close(done)
					s.leaderLoop(stop)
				}(stop, done)
				s.logger.Info("cluster leadership acquired")
			} else if !isLeader && stop != nil {
				stopLoop()
				s.logger.Info("cluster leadership lost")
			}
		case <-s.shutdownCh:
			return
		}
	}
}

// leaderLoop runs the leader's duties until stop is closed.
func (s *Server) leaderLoop(stop chan struct{}) {
	defer s.readyForReads.Store(false)
	defer s.reads.revoke()
	// Apply everything committed in earlier terms before answering reads.
	for {
		term := s.raft.CurrentTerm()
		err := s.raft.Barrier(time.Minute).Error()
		if err == nil {
			if s.raft.CurrentTerm() == term {
				s.reads.setReady(term)
			}
			break
		}
		s.logger.Error("leader barrier failed", "error", err)
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.readyForReads.Store(true)
	s.initializeACLs(stop)
	schedDone := make(chan struct{})
	go func() { defer close(schedDone); s.schedulerLoop(stop) }()
	defer func() { <-schedDone }()
	go s.sessionTTLLoop(stop)

	reconcile := time.NewTicker(s.cfg.ReconcileInterval)
	defer reconcile.Stop()
	cleanup := time.NewTicker(cleanupInterval(s.cfg.DeadServerGrace))
	defer cleanup.Stop()
	s.reconcileAll()
	for {
		select {
		case <-stop:
			return
		case m := <-s.reconcileCh:
			s.reconcileMember(m)
		case <-reconcile.C:
			s.reconcileAll()
		case <-cleanup.C:
			if c := s.autopilotConfig(); c.CleanupDeadServers {
				s.pruneDeadServers(time.Now(), c.MinQuorum)
			}
		}
	}
}

func cleanupInterval(grace time.Duration) time.Duration {
	return min(max(grace/4, 100*time.Millisecond), 10*time.Second)
}

// reconcileAll reconciles every Serf member into the catalog and the Raft
// configuration, and removes catalog nodes Serf no longer knows.
func (s *Server) reconcileAll() {
	known := map[string]bool{}
	for _, m := range s.serf.Members() {
		known[m.Name] = true
		s.reconcileMember(m)
	}
	tx := s.State().ReadTxn()
	_, nodes, err := catalog.Nodes(tx, nil)
	tx.Abort()
	if err != nil {
		s.logger.Error("reconcile: list nodes", "error", err)
		return
	}
	for _, n := range nodes {
		if known[n.Node] {
			continue
		}
		// Only nodes that carry a serfHealth check came from Serf; others
		// were registered through the catalog API and are left alone.
		if s.hasSerfCheck(n.Node) {
			s.reconcileMember(serf.Member{Name: n.Node, Status: serf.StatusNone})
		}
	}
}

func (s *Server) hasSerfCheck(node string) bool {
	tx := s.State().ReadTxn()
	defer tx.Abort()
	_, checks, err := catalog.NodeChecks(tx, nil, node)
	if err != nil {
		return false
	}
	for _, c := range checks {
		if c.CheckID == catalog.SerfCheckID {
			return true
		}
	}
	return false
}

// reconcileMember brings one member's catalog node, serfHealth check and
// (for servers) Raft membership in line with its Serf status.
func (s *Server) reconcileMember(m serf.Member) {
	if m.Tags["dc"] != "" && m.Tags["dc"] != s.cfg.Datacenter {
		return
	}
	var err error
	switch m.Status {
	case serf.StatusAlive:
		err = s.handleAliveMember(m)
	case serf.StatusFailed:
		err = s.handleFailedMember(m)
	case serf.StatusLeft, serf.StatusNone:
		err = s.handleLeftMember(m)
	}
	if err != nil {
		s.logger.Error("reconcile member failed", "member", m.Name, "status", m.Status, "error", err)
	}
}

func (s *Server) handleAliveMember(m serf.Member) error {
	if srv, ok := parseServer(m); ok {
		if err := s.ensureVoter(srv); err != nil {
			return err
		}
	}
	return s.registerMember(m, catalog.HealthPassing, "Agent alive and reachable")
}

func (s *Server) handleFailedMember(m serf.Member) error {
	return s.registerMember(m, catalog.HealthCritical, "Agent not live or unreachable")
}

func (s *Server) registerMember(m serf.Member, status, output string) error {
	tx := s.State().ReadTxn()
	_, node, err := catalog.GetNode(tx, nil, m.Name)
	var serfCheck *catalog.HealthCheck
	if err == nil && node != nil {
		_, checks, _ := catalog.NodeChecks(tx, nil, m.Name)
		for _, c := range checks {
			if c.CheckID == catalog.SerfCheckID {
				serfCheck = c
			}
		}
	}
	tx.Abort()
	if err != nil {
		return err
	}
	addr := ""
	if m.Addr != nil {
		addr = m.Addr.String()
	}
	if node != nil && serfCheck != nil && serfCheck.Status == status &&
		node.Address == addr && node.ID == m.Tags["id"] {
		return nil // already in line: write nothing
	}
	req := catalog.RegisterRequest{
		Node:       m.Name,
		ID:         m.Tags["id"],
		Address:    addr,
		Datacenter: s.cfg.Datacenter,
		Check: &catalog.HealthCheck{
			CheckID: catalog.SerfCheckID, Name: catalog.SerfCheckName,
			Status: status, Output: output, Type: "serf",
		},
	}
	if node != nil {
		req.TaggedAddresses, req.NodeMeta = node.TaggedAddresses, node.Meta
		if addr == "" {
			req.Address = node.Address
		}
	}
	if _, ok := parseServer(m); ok && status == catalog.HealthPassing {
		port, _ := strconv.Atoi(m.Tags["port"])
		req.Service = &catalog.Service{ID: "consul", Service: "consul", Port: port}
	}
	_, err = s.raftApply(fsm.RegisterRequestType, &req)
	return err
}

func (s *Server) handleLeftMember(m serf.Member) error {
	if m.Name == s.cfg.NodeName {
		return nil // we are leaving; our successor cleans up
	}
	if id := m.Tags["id"]; MemberRole(m.Tags) == RoleServer && id != "" {
		if err := s.removeServer(raft.ServerID(id)); err != nil {
			return err
		}
	}
	if err := s.releaseOverlayLease(m.Name); err != nil {
		return err
	}
	tx := s.State().ReadTxn()
	_, node, err := catalog.GetNode(tx, nil, m.Name)
	tx.Abort()
	if err != nil || node == nil {
		return err
	}
	_, err = s.raftApply(fsm.DeregisterRequestType, &catalog.DeregisterRequest{Node: m.Name})
	return err
}

// ensureVoter adds srv to the Raft configuration as a voter, replacing a
// stale entry that holds its address under another ID.
func (s *Server) ensureVoter(srv serverInfo) error {
	if srv.Datacenter != s.cfg.Datacenter || srv.ID == "" {
		return nil
	}
	cf := s.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	for _, cur := range cf.Configuration().Servers {
		if cur.ID == raft.ServerID(srv.ID) && string(cur.Address) == srv.Addr && cur.Suffrage == raft.Voter {
			return nil
		}
		if string(cur.Address) == srv.Addr && cur.ID != raft.ServerID(srv.ID) {
			s.logger.Info("removing stale raft server with reused address", "id", cur.ID, "address", cur.Address)
			if err := s.raft.RemoveServer(cur.ID, 0, 0).Error(); err != nil {
				return err
			}
		}
	}
	s.logger.Info("adding raft voter", "server", srv.Name, "id", srv.ID, "address", srv.Addr)
	return s.raft.AddVoter(raft.ServerID(srv.ID), raft.ServerAddress(srv.Addr), 0, 0).Error()
}

func (s *Server) removeServer(id raft.ServerID) error {
	cf := s.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	for _, cur := range cf.Configuration().Servers {
		if cur.ID == id {
			s.logger.Info("removing raft server", "id", id)
			return s.raft.RemoveServer(id, 0, 0).Error()
		}
	}
	return nil
}

// pruneDeadServers removes voters that have been failed for longer than
// the grace period, one at a time, and only while the healthy voters left
// would still be a majority of the smaller configuration, and never below
// minQuorum voters (autopilot's MinQuorum; 0 for no floor).
func (s *Server) pruneDeadServers(now time.Time, minQuorum uint) {
	cf := s.raft.GetConfiguration()
	if cf.Error() != nil {
		return
	}
	byID := map[string]serf.Member{}
	for _, m := range s.serf.Members() {
		byID[m.Tags["id"]] = m
	}
	var voters, failed int
	var expired []raft.ServerID
	for _, srv := range cf.Configuration().Servers {
		if srv.Suffrage != raft.Voter {
			continue
		}
		voters++
		m, ok := byID[string(srv.ID)]
		if !ok || m.Status != serf.StatusFailed {
			continue
		}
		failed++
		if since, ok := s.members.failedSince(m.Name); ok && now.Sub(since) >= s.cfg.DeadServerGrace {
			expired = append(expired, srv.ID)
		}
	}
	for _, id := range expired {
		healthy := voters - failed
		if healthy < (voters-1)/2+1 {
			s.logger.Warn("not removing dead server: the rest would lack a quorum", "id", id)
			return
		}
		if voters-1 < int(minQuorum) {
			s.logger.Warn("not removing dead server: autopilot's MinQuorum", "id", id, "min_quorum", minQuorum)
			return
		}
		s.logger.Info("removing dead server after grace period", "id", id, "grace", s.cfg.DeadServerGrace)
		if err := s.raft.RemoveServer(id, 0, 0).Error(); err != nil {
			s.logger.Error("remove dead server", "id", id, "error", err)
			return
		}
		voters--
		failed--
	}
}
