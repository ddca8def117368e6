package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// Report is what a run found.
type Report struct {
	Mode     string
	Seed     int64
	Workload time.Duration // how long the clients ran
	Counts   map[Kind]map[Outcome]int
	Faults   []Fault
	Checks   []CheckResult
	// Applied are the servers' raft applied indexes once they agreed.
	Applied []string
	// OutDir holds the history and visualizations, if anything was written.
	OutDir string
	Errs   []error
}

// Err joins everything that went wrong; nil means the run passed.
func (r *Report) Err() error { return errors.Join(r.Errs...) }

// Ops returns the number of operations and those that succeeded.
func (r *Report) Ops() (all, ok int) {
	for _, byOutcome := range r.Counts {
		for o, n := range byOutcome {
			all += n
			if o == OK {
				ok += n
			}
		}
	}
	return all, ok
}

// String summarises the report for a test log.
func (r *Report) String() string {
	var b strings.Builder
	all, ok := r.Ops()
	secs := r.Workload.Seconds()
	under := "under faults"
	if len(r.Faults) == 0 {
		under = "without faults"
	}
	fmt.Fprintf(&b, "mode %s, seed %d: %d ops in %.1fs %s (%.0f ops/s, %.0f ok ops/s)\n",
		r.Mode, r.Seed, all, secs, under, float64(all)/secs, float64(ok)/secs)
	kinds := make([]string, 0, len(r.Counts))
	for k := range r.Counts {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		c := r.Counts[Kind(k)]
		fmt.Fprintf(&b, "  %-8s ok %6d  failed %5d  unknown %5d\n", k, c[OK], c[Failed], c[Unknown])
	}
	fmt.Fprintf(&b, "faults (%d):\n", len(r.Faults))
	for _, f := range r.Faults {
		fmt.Fprintf(&b, "  %s\n", f)
	}
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "check %-8s %6d ops: %s in %v", c.Model, c.Ops, c.Result, c.Took.Round(time.Millisecond))
		if c.HTML != "" {
			fmt.Fprintf(&b, ", view: %s", c.HTML)
		}
		b.WriteString("\n")
	}
	if len(r.Applied) > 0 {
		fmt.Fprintf(&b, "raft applied index per server after healing: %s\n", strings.Join(r.Applied, ", "))
	}
	if r.OutDir != "" {
		fmt.Fprintf(&b, "history and views in %s\n", r.OutDir)
	}
	if err := r.Err(); err != nil {
		fmt.Fprintf(&b, "FAILED:\n%v\n", err)
	} else {
		b.WriteString("PASSED\n")
	}
	return b.String()
}

// Run drives the workload against c (started, with a leader) under the
// mode's faults, heals everything and checks the outcome.
func Run(ctx context.Context, cfg Config, c *Cluster, logf func(string, ...any)) *Report {
	rep := &Report{Mode: cfg.Mode, Seed: cfg.Seed, Counts: map[Kind]map[Outcome]int{}}
	logf("chaos: mode %s, seed %d (%s=%d reproduces the schedule)", cfg.Mode, cfg.Seed, EnvSeed, cfg.Seed)
	rec := NewRecorder()
	w := newWorkload(cfg, rec, c.Procs, fmt.Sprintf("chaos-%x/", uint64(cfg.Seed)))

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go c.Watch(watchCtx)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.run(ctx, stop)
	}()
	began := time.Now()
	n := newNemesis(cfg, c, rec, logf)
	switch {
	case cfg.Mode == ModeCrash:
		rep.Faults = n.crashCycles(ctx)
	case cfg.NoFaults:
		logf("chaos: no faults (%s=off): the baseline", EnvFaults)
		select {
		case <-time.After(cfg.Duration):
		case <-ctx.Done():
		}
	default:
		rep.Faults = n.run(ctx)
	}
	close(stop)
	wg.Wait()
	rep.Workload = time.Since(began)

	// Heal, restart whatever is down, then check the cluster itself.
	if err := c.HealAll(ctx, 60*time.Second); err != nil {
		rep.Errs = append(rep.Errs, fmt.Errorf("chaos: heal: %w", err))
	}
	leader, err := c.WaitLeader(ctx, 60*time.Second)
	if err != nil {
		rep.Errs = append(rep.Errs, err)
	} else {
		rep.Applied, err = converge(ctx, c, w, 60*time.Second)
		if err != nil {
			rep.Errs = append(rep.Errs, err)
		}
		if err := w.finalReads(ctx, c.Procs[leader]); err != nil {
			rep.Errs = append(rep.Errs, err)
		}
	}
	stopWatch()
	rep.Errs = append(rep.Errs, c.Crashes()...)

	h := rec.Ops()
	for _, op := range h {
		if rep.Counts[op.Kind] == nil {
			rep.Counts[op.Kind] = map[Outcome]int{}
		}
		rep.Counts[op.Kind][op.Outcome]++
	}
	var notes []Annotation
	for _, f := range rep.Faults {
		notes = append(notes, Annotation{Start: f.Start, End: f.End, Description: string(f.Kind) + " " + f.Server})
	}
	outDir := func() (string, error) {
		if rep.OutDir != "" {
			return rep.OutDir, nil
		}
		dir := cfg.OutDir
		if dir == "" {
			var err error
			if dir, err = os.MkdirTemp("", fmt.Sprintf("shoal-chaos-%s-%d-", cfg.Mode, cfg.Seed)); err != nil {
				return "", fmt.Errorf("chaos: %w", err)
			}
		} else {
			dir = fmt.Sprintf("%s/%s-%d", dir, cfg.Mode, cfg.Seed)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return "", fmt.Errorf("chaos: %w", err)
			}
		}
		rep.OutDir = dir
		return dir, nil
	}
	checks, err := Check(h, cfg.CheckTimeout, notes, outDir)
	rep.Checks = checks
	if err != nil {
		rep.Errs = append(rep.Errs, err)
	}
	for _, check := range []func([]Op) error{CheckLockDirect, CheckPhantoms} {
		if err := check(h); err != nil {
			rep.Errs = append(rep.Errs, err)
		}
	}
	if rep.Err() != nil {
		if dir, err := outDir(); err == nil {
			data, _ := json.MarshalIndent(savedRun{cfg.Seed, cfg.Mode, rep.Faults, h}, "", " ")
			if _, err := writeFile(dir, "history.json", data); err != nil {
				rep.Errs = append(rep.Errs, err)
			}
		}
	}
	return rep
}

// converge waits until every server runs and serves, and their stale
// reads of every key agree; it returns their raft applied indexes.
func converge(ctx context.Context, c *Cluster, w *workload, timeout time.Duration) ([]string, error) {
	keys := append(append([]string(nil), w.keys...), w.lockKey)
	var applied []string
	err := pollCtx(ctx, timeout, func() error {
		applied = applied[:0]
		var first []string
		for i, p := range c.Procs {
			if !p.Running() {
				return fmt.Errorf("%w: %s is not running", ErrCrashed, p.Name)
			}
			a, _, err := c.RaftIndex(ctx, i)
			if err != nil {
				return fmt.Errorf("%s: %w", p.Name, err)
			}
			applied = append(applied, p.Name+"="+a)
			api := newAPIClient(p.HTTP, 3*time.Second)
			var vals []string
			for _, k := range keys {
				e, err := api.get(ctx, k, "stale")
				if err != nil {
					return fmt.Errorf("%s: stale read of %s: %w", p.Name, k, err)
				}
				v := valueOf(e)
				if e != nil {
					v += "/" + e.Session
				}
				vals = append(vals, v)
			}
			if first == nil {
				first = vals
				continue
			}
			for j := range keys {
				if vals[j] != first[j] {
					return fmt.Errorf("%w: %s: %s has %q, %s has %q", ErrDiverged, keys[j], c.Procs[0].Name, first[j], p.Name, vals[j])
				}
			}
		}
		return nil
	})
	return applied, err
}

// pollCtx calls fn every 250ms until it returns nil, timeout passes
// (fn's last error) or ctx is done.
func pollCtx(ctx context.Context, timeout time.Duration, fn func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// savedRun is the JSON of history.json, written next to a violation's
// views.
type savedRun struct {
	Seed    int64
	Mode    string
	Faults  []Fault
	History []Op
}

// LoadHistory reads a history.json that a failed run wrote.
func LoadHistory(path string) (mode string, faults []Fault, h []Op, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, nil, fmt.Errorf("chaos: %w", err)
	}
	var s savedRun
	if err := json.Unmarshal(data, &s); err != nil {
		return "", nil, nil, fmt.Errorf("chaos: %s: %w", path, err)
	}
	return s.Mode, s.Faults, s.History, nil
}
