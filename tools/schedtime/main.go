// Command schedtime measures the scheduler from outside, as issue 19 did
// against Docker Swarm: three emulated hosts (a network namespace, a Docker
// engine and a shoal server each; internal/hostlab), the FROM-scratch hello
// image, and an observer polling each engine's API every 50 ms for the
// service's running containers. Each round times:
//
//   - deploy:  3 replicas written → 3 containers running
//   - scale:   3 → 30 → 30 running
//   - update:  6 replicas, a new version (parallelism 1, delay 0) → 6 of
//     the new version running and none of the old
//   - gated:   the same with update.health_gated and an HTTP check
//   - nodeloss: a host that runs replicas goes down (link cut, agent
//     killed, engine halted) → 3 running on the others; it then returns
//
// and reports the most containers seen running above the declaration. It
// needs root, iproute2, nsenter and dockerd; it prints medians [min–max].
//
//	go build -o /tmp/shoal . && go run ./tools/schedtime -bin /tmp/shoal -n 3
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/shoalproject/shoal/internal/hostlab"
)

const image = "shoal-test/hello:1"

func main() {
	bin := flag.String("bin", "", "path to the shoal binary (required)")
	n := flag.Int("n", 3, "rounds")
	net := flag.Int("net", 90, "lab network 10.<net>.0.0/24")
	only := flag.String("scenarios", "deploy,scale,update,gated,nodeloss", "comma-separated scenarios to run")
	verbose := flag.Bool("v", false, "print progress")
	keep := flag.Bool("keep", false, "keep the agents' logs (the directory is printed)")
	agentArgs := flag.String("agent-args", "", "extra agent arguments, space-separated (such as -log-level debug)")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "schedtime: -bin is required")
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "shoal-schedtime-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *keep {
		fmt.Fprintln(os.Stderr, "schedtime: logs in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	logf := func(string, ...any) {}
	if *verbose {
		logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	}
	c, err := hostlab.New(hostlab.Config{Bin: *bin, Dir: dir, Prefix: fmt.Sprintf("st%d", os.Getpid()%1000), Net: *net,
		Image: image, Logf: logf, AgentArgs: strings.Fields(*agentArgs)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "schedtime:", err)
		os.Exit(1)
	}
	r := &runner{c: c, logf: logf, times: map[string][]time.Duration{}}
	want := strings.Split(*only, ",")
	err = r.rounds(*n, want)
	if err != nil {
		fmt.Fprintln(os.Stderr, "schedtime:", err)
		if *verbose {
			fmt.Fprintln(os.Stderr, c.Logs())
		}
	}
	c.Close()
	r.print(want)
	if err != nil {
		os.Exit(1)
	}
}

type runner struct {
	c     *hostlab.Cluster
	logf  func(string, ...any)
	times map[string][]time.Duration
	// over is the most containers seen running above the limit.
	over int
}

func spec(name string, replicas int, version string, gated bool) string {
	extra := ""
	if gated {
		extra = `, "update": {"parallelism": 1, "health_gated": true}, "check": {"http": "/health", "interval": "1s"}`
	}
	return fmt.Sprintf(`{"name": %q, "image": %q, "replicas": %d, "ports": [{"name": "http", "container": 8080}],
		"env": {"VERSION": %q}, "resources": {"cpu": 50, "memory": 32}%s}`, name, image, replicas, version, extra)
}

func (r *runner) rounds(n int, want []string) error {
	for i := 1; i <= n; i++ {
		for _, sc := range []struct {
			name string
			fn   func(service string) error
		}{
			{"deploy", r.deploy}, {"scale", r.scale}, {"update", func(s string) error { return r.update(s, false) }},
			{"gated", func(s string) error { return r.update(s, true) }}, {"nodeloss", r.nodeLoss},
		} {
			if !slices.Contains(want, sc.name) {
				continue
			}
			service := fmt.Sprintf("%s%d", sc.name, i)
			if err := sc.fn(service); err != nil {
				return fmt.Errorf("round %d, %s: %w", i, sc.name, err)
			}
			if err := r.remove(service); err != nil {
				return fmt.Errorf("round %d, %s: remove: %w", i, sc.name, err)
			}
		}
		fmt.Printf("round %d:", i)
		for _, name := range want {
			if ts := r.times[name]; len(ts) == i {
				fmt.Printf(" %s %.2fs", name, ts[i-1].Seconds())
			}
		}
		fmt.Println()
	}
	return nil
}

// timed writes a spec through the leader and returns how long until the
// observer saw ok.
func (r *runner) timed(obs *hostlab.Observer, service, doc string, timeout time.Duration, ok func(hostlab.Sample) bool) (time.Duration, error) {
	leader, err := r.c.Leader(30 * time.Second)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := r.c.Put(leader, service, doc); err != nil {
		return 0, err
	}
	s, err := obs.WaitFor(timeout, ok)
	return s.At.Sub(start), err
}

func running(n int) func(hostlab.Sample) bool {
	return func(s hostlab.Sample) bool { return s.Total() == n }
}

// observe runs fn with an observer of service, and records how far the
// count went above its limit.
func (r *runner) observe(service string, limit int, fn func(*hostlab.Observer) error) error {
	obs := r.c.Observer(service, limit)
	err := fn(obs)
	obs.Close()
	for _, s := range obs.Violations() {
		r.over = max(r.over, s.Total()-s.Limit)
		r.logf("%s: %d running at %s (limit %d, per host %v)", service, s.Total(), s.At.Format("15:04:05.000"), s.Limit, s.PerHost)
	}
	return err
}

func (r *runner) record(name string, d time.Duration) {
	r.times[name] = append(r.times[name], d)
	r.logf("%s: %v", name, d.Round(time.Millisecond))
}

func (r *runner) deploy(service string) error {
	return r.observe(service, 3, func(obs *hostlab.Observer) error {
		d, err := r.timed(obs, service, spec(service, 3, "1", false), time.Minute, running(3))
		r.record("deploy", d)
		return err
	})
}

func (r *runner) scale(service string) error {
	return r.observe(service, 30, func(obs *hostlab.Observer) error {
		if _, err := r.timed(obs, service, spec(service, 3, "1", false), time.Minute, running(3)); err != nil {
			return err
		}
		d, err := r.timed(obs, service, spec(service, 30, "1", false), 2*time.Minute, running(30))
		r.record("scale", d)
		return err
	})
}

func (r *runner) update(service string, gated bool) error {
	name := "update"
	if gated {
		name = "gated"
	}
	return r.observe(service, 6+1, func(obs *hostlab.Observer) error {
		if _, err := r.timed(obs, service, spec(service, 6, "1", gated), time.Minute, running(6)); err != nil {
			return err
		}
		old, err := obs.WaitFor(time.Second, running(6))
		if err != nil {
			return err
		}
		d, err := r.timed(obs, service, spec(service, 6, "2", gated), 3*time.Minute, func(s hostlab.Sample) bool {
			if s.Total() != 6 {
				return false
			}
			for v := range old.Versions {
				if s.Versions[v] > 0 {
					return false
				}
			}
			return true
		})
		r.record(name, d)
		return err
	})
}

func (r *runner) nodeLoss(service string) error {
	return r.observe(service, 3, func(obs *hostlab.Observer) error {
		if _, err := r.timed(obs, service, spec(service, 3, "1", false), time.Minute, running(3)); err != nil {
			return err
		}
		leader, err := r.c.Leader(30 * time.Second)
		if err != nil {
			return err
		}
		s, err := obs.WaitFor(time.Second, running(3))
		if err != nil {
			return err
		}
		var victim *hostlab.Host
		vi := 0
		for i, h := range r.c.Hosts {
			if h != leader && s.PerHost[i] > 0 {
				victim, vi = h, i
			}
		}
		if victim == nil {
			return errors.New("no replica outside the leader's host")
		}
		start := time.Now()
		if err := r.c.Down(victim); err != nil {
			return err
		}
		s, err = obs.WaitFor(time.Minute, func(s hostlab.Sample) bool { return s.Total() == 3 && s.PerHost[vi] == 0 })
		r.record("nodeloss", s.At.Sub(start))
		if err != nil {
			return err
		}
		if err := r.c.Up(victim); err != nil {
			return err
		}
		_, err = r.c.Leader(30 * time.Second)
		return err
	})
}

// remove deletes the service and waits until none of its containers runs.
func (r *runner) remove(service string) error {
	leader, err := r.c.Leader(30 * time.Second)
	if err != nil {
		return err
	}
	if err := r.c.Delete(leader, service); err != nil {
		return err
	}
	obs := r.c.Observer(service, 1000)
	defer obs.Close()
	_, err = obs.WaitFor(2*time.Minute, running(0))
	return err
}

func (r *runner) print(want []string) {
	fmt.Println("scenario  median [min–max] seconds")
	for _, name := range want {
		ts := slices.Clone(r.times[name])
		if len(ts) == 0 {
			continue
		}
		slices.Sort(ts)
		fmt.Printf("%-9s %.2f [%.2f–%.2f] (%d runs)\n", name, ts[len(ts)/2].Seconds(), ts[0].Seconds(), ts[len(ts)-1].Seconds(), len(ts))
	}
	fmt.Printf("most containers running above the declaration: %d\n", r.over)
}
