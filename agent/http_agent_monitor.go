package agent

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// monitorBuffer is how many log lines a slow /v1/agent/monitor reader may
// fall behind before lines are dropped (the agent never blocks on it).
const monitorBuffer = 512

func (a *Agent) monitorRoutes() []route {
	return []route{{"/v1/agent/monitor", get, a.agentMonitor}}
}

// lineSink is an io.Writer for an hclog sink: each write is one log line,
// queued for the monitor stream, dropped when the queue is full.
type lineSink struct {
	mu      sync.Mutex
	lines   chan []byte
	dropped int
}

func (s *lineSink) Write(p []byte) (int, error) {
	line := append([]byte(nil), p...)
	select {
	case s.lines <- line:
	default:
		s.mu.Lock()
		s.dropped++
		s.mu.Unlock()
	}
	return len(p), nil
}

// takeDropped returns and resets the count of dropped lines.
func (s *lineSink) takeDropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.dropped
	s.dropped = 0
	return n
}

// agentMonitor streams the agent's log lines at ?loglevel (default info),
// as JSON with ?logjson, until the client goes away: Consul's
// /v1/agent/monitor. It needs the agent's logger to be an
// hclog.InterceptLogger (the shoal agent command makes one).
func (a *Agent) agentMonitor(w http.ResponseWriter, r *http.Request) (any, error) {
	q := query(r)
	levelName := q.Get("loglevel")
	if levelName == "" {
		levelName = "INFO"
	}
	level := hclog.LevelFromString(levelName)
	if level == hclog.NoLevel {
		return nil, badRequest("Unknown log level: %s", levelName)
	}
	_, logJSON := q["logjson"]
	il, ok := a.logger.(hclog.InterceptLogger)
	if !ok {
		return nil, HTTPError{Code: http.StatusNotImplemented, Msg: "this agent's logger cannot be monitored"}
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return nil, fmt.Errorf("streaming not supported")
	}
	sink := &lineSink{lines: make(chan []byte, monitorBuffer)}
	adapter := hclog.NewSinkAdapter(&hclog.LoggerOptions{Level: level, JSONFormat: logJSON, Output: sink})
	il.RegisterSink(adapter)
	defer il.DeregisterSink(adapter)

	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			return nil, nil
		case <-a.shutdownCh:
			return nil, nil
		case line := <-sink.lines:
			if n := sink.takeDropped(); n > 0 {
				fmt.Fprintf(w, "[WARN] monitor: dropped %d logs during monitor request\n", n)
			}
			if !strings.HasSuffix(string(line), "\n") {
				line = append(line, '\n')
			}
			if _, err := w.Write(line); err != nil {
				return nil, nil
			}
			flusher.Flush()
		}
	}
}
