package agent

import (
	"context"
	"io"
	"net/http"
	"sync"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/watch"
)

// agentWatches runs the watches setting (Consul's agent watches): each
// watch is a goroutine of watch.Plan.Run that reads through the agent's
// own API, in process (no port, TLS or token file needed), and runs its
// script or HTTP handler on every change. Reload replaces them all.
type agentWatches struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// start runs defs, after stopping those running. It holds the lock
// throughout, so that two reloads at once cannot both start a set (and
// leave one that stop would never end).
func (w *agentWatches) start(a *Agent, defs []config.Watch) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopLocked()
	select {
	case <-a.shutdownCh: // a reload that raced with shutdown
		return
	default:
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	logger := a.logger.Named("watch")
	for i, d := range defs {
		plan, err := watch.New(d.Params)
		if err != nil { // config.Validate checked them
			logger.Error("invalid watch", "index", i, "error", err)
			continue
		}
		client, err := inProcessClient(a.apiHandler, d.Token)
		if err != nil {
			logger.Error("watch client", "index", i, "error", err)
			continue
		}
		l := logger.With("index", i, "type", d.Type)
		out := l.StandardWriter(&hclog.StandardLoggerOptions{ForceLevel: hclog.Info})
		var h watch.Handler
		switch {
		case d.HTTP != nil:
			h = watch.HTTP(*d.HTTP)
		case len(d.Args) > 0:
			h = watch.Script(d.Args, false, out, out)
		default:
			h = watch.Script([]string{d.Shell}, true, out, out)
		}
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			_ = plan.Run(ctx, client, api.QueryOptions{Datacenter: d.Datacenter}, h, func(err error) {
				l.Error("watch failed", "error", err)
			})
		}()
	}
	if len(defs) > 0 {
		logger.Info("watches started", "count", len(defs))
	}
}

// stop ends the running watches (a handler in progress is killed) and
// waits for them.
func (w *agentWatches) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopLocked()
}

func (w *agentWatches) stopLocked() {
	if w.cancel != nil {
		w.cancel()
		w.cancel = nil
	}
	w.done.Wait()
}

// inProcessClient returns a Consul API client whose requests h serves in
// process, with token ("" for the agent's default token) whatever the
// process's CONSUL_HTTP_TOKEN or CONSUL_HTTP_TOKEN_FILE say (api.NewClient
// reads them for a client without a token).
func inProcessClient(h http.Handler, token string) (*api.Client, error) {
	return api.NewClient(&api.Config{
		Address: "agent.in-process", Scheme: "http", Token: token,
		HttpClient: &http.Client{Transport: handlerTransport{h: h, token: token}},
	})
}

// handlerTransport serves a request with the agent's API handler in
// process, as if it came from 127.0.0.1 with token, and returns the
// response once the handler has finished (a blocking query's answer
// included).
type handlerTransport struct {
	h     http.Handler
	token string
}

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	in := r.Clone(r.Context())
	in.Header.Del("X-Consul-Token")
	in.Header.Del("Authorization")
	if t.token != "" {
		in.Header.Set("X-Consul-Token", t.token)
	}
	in.RemoteAddr = "127.0.0.1:0"
	in.RequestURI = r.URL.RequestURI()
	in.Host = "127.0.0.1"
	if in.Body == nil {
		in.Body = http.NoBody
	}
	rec := &responseRecorder{header: http.Header{}} // http_share.go
	t.h.ServeHTTP(rec, in)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	return &http.Response{
		Status: http.StatusText(rec.code), StatusCode: rec.code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rec.header, Body: io.NopCloser(&rec.body), ContentLength: int64(rec.body.Len()), Request: r,
	}, nil
}
