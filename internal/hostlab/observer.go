package hostlab

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Sample is what the Observer saw at one moment: a service's running
// containers on each engine, by the shoal.version label.
type Sample struct {
	At time.Time
	// PerHost counts running containers per host (host order).
	PerHost []int
	// Versions counts running containers per spec version.
	Versions map[string]int
	// Limit is the limit in force when the sample was taken.
	Limit int
}

// Total is the number of running containers on all hosts.
func (s Sample) Total() int {
	n := 0
	for _, c := range s.PerHost {
		n += c
	}
	return n
}

// Observer polls every engine's API at a fixed interval and counts the
// running containers of one service, from outside Shoal. An engine that
// does not answer (its host is down) counts as running none. Methods are
// safe for concurrent use.
type Observer struct {
	service string
	clients []*http.Client

	mu         sync.Mutex
	limit      int
	last       Sample
	samples    int
	violations []Sample
	changed    chan struct{} // closed and replaced on every sample

	cancel context.CancelFunc
	done   chan struct{}
}

// NewObserver starts polling the engines at socks ("unix:///path" as in
// DOCKER_HOST) every interval for the running containers of service.
// limit is the most that may run at once (SetLimit changes it); a sample
// above it is a violation. Close stops it.
func NewObserver(socks []string, service string, interval time.Duration, limit int) *Observer {
	o := &Observer{service: service, limit: limit, changed: make(chan struct{}), done: make(chan struct{})}
	for _, s := range socks {
		path := strings.TrimPrefix(s, "unix://")
		o.clients = append(o.clients, &http.Client{Timeout: time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			}}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel = cancel
	go o.run(ctx, interval)
	return o
}

// Observer returns an observer of service on every engine of c.
func (c *Cluster) Observer(service string, limit int) *Observer {
	var socks []string
	for _, h := range c.Hosts {
		socks = append(socks, h.Engine.Sock)
	}
	return NewObserver(socks, service, 50*time.Millisecond, limit)
}

func (o *Observer) run(ctx context.Context, interval time.Duration) {
	defer close(o.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		o.sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (o *Observer) sample(ctx context.Context) {
	s := Sample{At: time.Now(), PerHost: make([]int, len(o.clients)), Versions: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, cl := range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vs, err := o.running(ctx, cl)
			if err != nil {
				return // down: runs nothing a user can reach
			}
			mu.Lock()
			defer mu.Unlock()
			for _, v := range vs {
				s.PerHost[i]++
				s.Versions[v]++
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	s.Limit = o.limit
	if s.Total() > o.limit {
		o.violations = append(o.violations, s)
	}
	o.last = s
	o.samples++
	close(o.changed)
	o.changed = make(chan struct{})
}

// running lists the shoal.version labels of the service's running
// containers on one engine.
func (o *Observer) running(ctx context.Context, cl *http.Client) ([]string, error) {
	filters, _ := json.Marshal(map[string][]string{"label": {"shoal.service=" + o.service}, "status": {"running"}})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/containers/json?filters="+url.QueryEscape(string(filters)), nil)
	if err != nil {
		return nil, err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("hostlab: engine answered %s", resp.Status)
	}
	var cs []struct{ Labels map[string]string }
	if err := json.NewDecoder(resp.Body).Decode(&cs); err != nil {
		return nil, err
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Labels["shoal.version"]
	}
	return out, nil
}

// SetLimit changes the most containers that may run at once from the next
// sample on.
func (o *Observer) SetLimit(n int) {
	o.mu.Lock()
	o.limit = n
	o.mu.Unlock()
}

// Violations returns the samples that counted more than their limit.
func (o *Observer) Violations() []Sample {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Sample(nil), o.violations...)
}

// Samples returns how many samples were taken.
func (o *Observer) Samples() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.samples
}

// WaitFor waits up to timeout for a sample taken after now that satisfies
// ok, and returns it. It returns ErrTimeout, with the last sample, when
// none did.
func (o *Observer) WaitFor(timeout time.Duration, ok func(Sample) bool) (Sample, error) {
	start := time.Now()
	deadline := time.After(timeout)
	for {
		o.mu.Lock()
		s, ch := o.last, o.changed
		o.mu.Unlock()
		if s.At.After(start) && ok(s) {
			return s, nil
		}
		select {
		case <-ch:
		case <-deadline:
			return s, fmt.Errorf("%w after %v: last sample %v per host, versions %v", ErrTimeout, timeout, s.PerHost, s.Versions)
		}
	}
}

// Close stops polling.
func (o *Observer) Close() {
	o.cancel()
	<-o.done
}
