package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	metrics "github.com/hashicorp/go-metrics"
	"github.com/hashicorp/serf/serf"
	"github.com/shoalproject/shoal/rpcapi"
)

// Client is the server-facing half of a client agent: a Serf LAN member
// that learns the servers from their tags and sends RPCs to them over
// pooled connections, failing over to another server on error.
type Client struct {
	cfg    Config
	logger hclog.Logger

	serf    *serf.Serf
	eventCh chan serf.Event
	members *memberSet
	pool    *connPool

	mu        sync.Mutex
	preferred string // the server that answered last

	shutdownOnce sync.Once
	shutdownCh   chan struct{}
	wg           sync.WaitGroup
}

// NewClient starts a client: Serf, and the tracking of servers.
func NewClient(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{
		cfg:        cfg,
		logger:     cfg.Logger.Named("client"),
		eventCh:    make(chan serf.Event, 256),
		members:    newMemberSet(),
		pool:       newConnPool(cfg.TLS),
		shutdownCh: make(chan struct{}),
	}
	tags := baseTags(RoleTagClient, cfg.Datacenter, cfg.NodeID)
	var err error
	if c.serf, err = setupSerf(cfg, tags, c.eventCh, "client"); err != nil {
		return nil, err
	}
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.eventLoop() }()
	return c, nil
}

func (c *Client) eventLoop() {
	for {
		select {
		case e := <-c.eventCh:
			if ue, ok := e.(serf.UserEvent); ok {
				deliverUserEvent(c.cfg, ue)
			}
			if me, ok := e.(serf.MemberEvent); ok {
				now := time.Now()
				for _, m := range me.Members {
					if me.Type == serf.EventMemberReap {
						c.members.remove(m.Name)
						continue
					}
					c.members.update(m, now)
				}
			}
		case <-c.shutdownCh:
			return
		}
	}
}

// RPC sends a call to a server, trying others on failure, within the hold
// timeout.
func (c *Client) RPC(ctx context.Context, method string, args, reply any) error {
	metrics.IncrCounter(metricClientRPC, 1)
	info, _ := args.(rpcapi.RPCInfo)
	deadline := time.Now().Add(c.cfg.RPCHoldTimeout)
	var lastErr error
	for attempt := 0; ; attempt++ {
		addr := c.pickServer(attempt)
		if addr == "" {
			lastErr = fmt.Errorf("no known Shoal servers")
		} else {
			callCtx, cancel := callContext(ctx, args)
			err := c.pool.RPC(callCtx, addr, method, args, reply)
			cancel()
			if err == nil {
				c.setPreferred(addr)
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if info == nil || !retryable(info, err) {
				return err
			}
			lastErr = err
		}
		if time.Now().After(deadline) {
			return lastErr
		}
		select {
		case <-time.After(retryDelay(attempt)):
		case <-ctx.Done():
			return ctx.Err()
		case <-c.shutdownCh:
			return errShutdown
		}
	}
}

// pickServer returns the preferred server on the first attempt and a
// random other one after a failure.
func (c *Client) pickServer(attempt int) string {
	servers := c.members.servers(c.cfg.Datacenter)
	if len(servers) == 0 {
		return ""
	}
	c.mu.Lock()
	pref := c.preferred
	c.mu.Unlock()
	if attempt == 0 && pref != "" {
		for _, s := range servers {
			if s.Addr == pref {
				return pref
			}
		}
	}
	return servers[rand.N(len(servers))].Addr
}

func (c *Client) setPreferred(addr string) {
	c.mu.Lock()
	c.preferred = addr
	c.mu.Unlock()
}

// LocalMember is this node's Serf member.
func (c *Client) LocalMember() serf.Member { return c.serf.LocalMember() }

// LANMembers lists the Serf LAN members.
func (c *Client) LANMembers() []serf.Member { return c.serf.Members() }

// JoinLAN joins the cluster through the given Serf addresses.
func (c *Client) JoinLAN(addrs []string) (int, error) { return c.serf.Join(addrs, true) }

// RemoveFailedNode force-leaves a failed node; prune also forgets it.
func (c *Client) RemoveFailedNode(node string, prune bool) error {
	if prune {
		return c.serf.RemoveFailedNodePrune(node)
	}
	return c.serf.RemoveFailedNode(node)
}

// Stats describes the client for /v1/agent/self and `shoal info`.
func (c *Client) Stats() map[string]map[string]string {
	return map[string]map[string]string{
		"consul": {
			"server":        "false",
			"known_servers": strconv.Itoa(len(c.members.servers(c.cfg.Datacenter))),
		},
		"serf_lan": c.serf.Stats(),
	}
}

// Leave leaves the Serf cluster gracefully.
func (c *Client) Leave() error { return c.serf.Leave() }

// Shutdown stops the client without leaving. Safe to call more than once.
func (c *Client) Shutdown() error {
	c.shutdownOnce.Do(func() {
		close(c.shutdownCh)
		_ = c.serf.Shutdown()
		c.pool.Close()
		c.wg.Wait()
	})
	return nil
}

// SnapshotSave asks a server for a snapshot archive (see
// Server.SnapshotSave) and returns its stream, which the caller must close.
// Servers that cannot be reached, or know no leader, are retried within
// the hold timeout.
func (c *Client) SnapshotSave(ctx context.Context, opts rpcapi.QueryOptions) (io.ReadCloser, rpcapi.QueryMeta, error) {
	req := &snapshotRequest{Op: snapshotSave, QueryOptions: opts}
	deadline := time.Now().Add(c.cfg.RPCHoldTimeout)
	var lastErr error
	for attempt := 0; ; attempt++ {
		addr := c.pickServer(attempt)
		if addr == "" {
			lastErr = fmt.Errorf("no known Shoal servers")
		} else {
			rc, meta, err := c.pool.snapshotRemote(ctx, addr, req, nil)
			if err == nil {
				c.setPreferred(addr)
				return rc, meta, nil
			}
			if ctx.Err() != nil {
				return nil, meta, ctx.Err()
			}
			if !errors.Is(err, errDial) && !rpcapi.IsErrNoLeader(err) {
				return nil, meta, err
			}
			lastErr = err
		}
		if time.Now().After(deadline) {
			return nil, rpcapi.QueryMeta{}, lastErr
		}
		select {
		case <-time.After(retryDelay(attempt)):
		case <-ctx.Done():
			return nil, rpcapi.QueryMeta{}, ctx.Err()
		case <-c.shutdownCh:
			return nil, rpcapi.QueryMeta{}, errShutdown
		}
	}
}

// SnapshotRestore sends an archive to a server to restore (see
// Server.SnapshotRestore). The archive is streamed once, so only a failure
// to connect is retried on another server.
func (c *Client) SnapshotRestore(ctx context.Context, dc string, archive io.Reader) error {
	req := &snapshotRequest{Op: snapshotRestore, QueryOptions: rpcapi.QueryOptions{Datacenter: dc, AuthToken: ctxToken(ctx)}}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr := c.pickServer(attempt)
		if addr == "" {
			return fmt.Errorf("no known Shoal servers")
		}
		_, _, err := c.pool.snapshotRemote(ctx, addr, req, archive)
		if err == nil || !errors.Is(err, errDial) {
			return err
		}
		lastErr = err
	}
	return lastErr
}
