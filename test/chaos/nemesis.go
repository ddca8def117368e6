package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"time"
)

// FaultKind is a kind of fault the nemesis injects.
type FaultKind string

// Fault kinds, one at a time.
const (
	KillRandom      FaultKind = "kill-random"      // kill -9 a random server, restart it on its data dir
	KillLeader      FaultKind = "kill-leader"      // the same, the leader
	PauseRandom     FaultKind = "pause-random"     // SIGSTOP a random server, then SIGCONT
	PauseLeader     FaultKind = "pause-leader"     // the same, the leader
	PartitionRandom FaultKind = "partition-random" // cut a random server off the other two
	PartitionLeader FaultKind = "partition-leader" // cut the leader off: it is in the minority
	KillMajority    FaultKind = "kill-majority"    // kill -9 the leader and one other server: no quorum until both restart
	KillAll         FaultKind = "kill-all"         // kill -9 every server at once (the whole cluster crashes), restart them all
	CrashCycle      FaultKind = "crash"            // crash mode: kill -9 and restart at once or soon
)

// faultKinds are the kinds of the consistent and default modes.
var faultKinds = []FaultKind{KillRandom, KillLeader, PauseRandom, PauseLeader, PartitionRandom, PartitionLeader, KillMajority, KillAll}

// allServers is Fault.Server for a fault on every server.
const allServers = "all"

// Fault is one injected fault, timed on the history's clock.
type Fault struct {
	Kind       FaultKind
	Server     string
	Start, End time.Duration
	Hold       time.Duration
	Note       string
}

func (f Fault) String() string {
	s := fmt.Sprintf("%-16s %-3s at %6.1fs for %4.1fs", f.Kind, f.Server, f.Start.Seconds(), f.Hold.Seconds())
	if f.Note != "" {
		s += " (" + f.Note + ")"
	}
	return s
}

// nemesis injects faults into a cluster from a seeded schedule. The
// schedule's choices (kinds, random targets, durations) depend on the
// seed only; which server is the leader depends on the run.
type nemesis struct {
	cfg  Config
	c    *Cluster
	rec  *Recorder
	rng  *rand.Rand
	logf func(string, ...any)
	// scale shortens every duration for short runs: Duration/120s, within
	// [0.5, 1].
	scale float64
}

func newNemesis(cfg Config, c *Cluster, rec *Recorder, logf func(string, ...any)) *nemesis {
	scale := cfg.Duration.Seconds() / 120
	scale = min(max(scale, 0.5), 1)
	return &nemesis{cfg: cfg, c: c, rec: rec, rng: rand.New(rand.NewSource(cfg.Seed)), logf: logf, scale: scale}
}

// between draws a duration in [lo, hi) seconds, scaled.
func (n *nemesis) between(lo, hi float64) time.Duration {
	return time.Duration((lo + n.rng.Float64()*(hi-lo)) * n.scale * float64(time.Second))
}

// sleep returns false if ctx is done first.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// run injects faults until cfg.Duration has passed and every kind was
// injected once (the first six faults are a seeded permutation of the
// kinds), each followed by healing and a wait for a leader.
func (n *nemesis) run(ctx context.Context) []Fault {
	var faults []Fault
	start := time.Now()
	order := n.rng.Perm(len(faultKinds))
	for i := 0; ctx.Err() == nil && (i < len(order) || time.Since(start) < n.cfg.Duration); i++ {
		kind := faultKinds[n.rng.Intn(len(faultKinds))]
		if i < len(order) {
			kind = faultKinds[order[i]]
		}
		quiet, target := n.between(3, 6), n.rng.Intn(len(n.c.Procs))
		// The second server of kill-majority, drawn for every fault so that
		// the schedule's later draws do not depend on the kinds.
		other := (target + 1 + n.rng.Intn(len(n.c.Procs)-1)) % len(n.c.Procs)
		var hold time.Duration
		switch kind {
		case KillRandom, KillLeader, KillMajority, KillAll:
			hold = n.between(3, 7)
		case PauseRandom, PauseLeader:
			hold = n.between(3, 9)
		default:
			hold = n.between(6, 12)
		}
		if !sleep(ctx, quiet) {
			break
		}
		f := Fault{Kind: kind, Hold: hold}
		if kind == KillLeader || kind == PauseLeader || kind == PartitionLeader || kind == KillMajority {
			if l, err := n.c.Leader(); err == nil {
				if other == l {
					other = target
				}
				target = l
			} else {
				f.Note = "no leader: a random server"
			}
		}
		victims := []int{target}
		f.Server = n.c.Procs[target].Name
		switch kind {
		case KillMajority:
			victims = append(victims, other)
			f.Server += "+" + n.c.Procs[other].Name
		case KillAll:
			victims, f.Server = n.every(), allServers
		}
		f.Start = n.rec.Now()
		n.logf("nemesis: %s %s for %v", kind, f.Server, hold.Round(time.Millisecond))
		if err := n.inject(ctx, kind, victims, hold); err != nil {
			f.Note += " " + err.Error()
			n.logf("nemesis: %s: %v", kind, err)
		}
		f.End = n.rec.Now()
		faults = append(faults, f)
		if _, err := n.c.WaitLeader(ctx, 30*time.Second); err != nil {
			n.logf("nemesis: after %s: %v", kind, err)
		}
	}
	return faults
}

// every is the index of every server.
func (n *nemesis) every() []int {
	all := make([]int, len(n.c.Procs))
	for i := range all {
		all[i] = i
	}
	return all
}

// inject applies one fault to the servers victims for hold, then undoes
// it. Only the kill kinds take more than one server.
func (n *nemesis) inject(ctx context.Context, kind FaultKind, victims []int, hold time.Duration) error {
	i := victims[0]
	switch kind {
	case KillRandom, KillLeader, KillMajority, KillAll:
		for _, v := range victims {
			n.c.Kill(v)
		}
		sleep(ctx, hold)
		var errs []error
		for _, v := range victims {
			errs = append(errs, n.c.Restart(ctx, v, 30*time.Second))
		}
		return errors.Join(errs...)
	case PauseRandom, PauseLeader:
		if err := n.c.Pause(i); err != nil {
			return err
		}
		sleep(ctx, hold)
		return n.c.Resume(i)
	default:
		if err := n.c.Isolate(i); err != nil {
			return err
		}
		sleep(ctx, hold)
		return n.c.HealAll(ctx, 30*time.Second)
	}
}

// crashCycles kills a random server (the leader one time in three) with
// SIGKILL cfg.Cycles times, restarting it at once or after up to 2 s;
// one cycle in six kills every server at once instead (a whole-cluster
// crash) and restarts them all. Every restart must succeed.
func (n *nemesis) crashCycles(ctx context.Context) []Fault {
	var faults []Fault
	for cycle := 0; cycle < n.cfg.Cycles && ctx.Err() == nil; cycle++ {
		quiet := time.Duration(500+n.rng.Intn(1000)) * time.Millisecond
		target, leader := n.rng.Intn(len(n.c.Procs)), n.rng.Intn(3) == 0
		all := n.rng.Intn(6) == 0
		var delay time.Duration
		if n.rng.Intn(2) == 1 {
			delay = time.Duration(200+n.rng.Intn(1800)) * time.Millisecond
		}
		if !sleep(ctx, quiet) {
			break
		}
		f := Fault{Kind: CrashCycle, Hold: delay}
		switch {
		case all:
			f.Note = "every server"
		case leader:
			f.Note = "leader"
			if l, err := n.c.Leader(); err == nil {
				target = l
			} else {
				f.Note = "no leader: a random server"
			}
		}
		f.Server, f.Start = n.c.Procs[target].Name, n.rec.Now()
		victims := []int{target}
		if all {
			f.Server, victims = allServers, n.every()
		}
		n.logf("crash %d/%d: kill -9 %s, restart after %v %s", cycle+1, n.cfg.Cycles, f.Server, delay, f.Note)
		for _, v := range victims {
			n.c.Kill(v)
		}
		sleep(ctx, delay)
		for _, v := range victims {
			if err := n.c.Restart(ctx, v, 30*time.Second); err != nil {
				f.Note += " RESTART FAILED"
				n.logf("crash %d: %v", cycle+1, err)
			}
		}
		f.End = n.rec.Now()
		faults = append(faults, f)
		if _, err := n.c.WaitLeader(ctx, 30*time.Second); err != nil {
			n.logf("crash %d: %v", cycle+1, err)
		}
	}
	return faults
}
