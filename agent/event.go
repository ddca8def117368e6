package agent

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/serf/serf"
)

// userEventPrefix marks Serf user events that carry a Shoal (Consul) user
// event, as Consul's "consul:event:".
const userEventPrefix = "consul:event:"

// eventBufferSize is how many received events an agent keeps, Consul's 256.
const eventBufferSize = 256

// userEvent is a user event as /v1/event/* shows it (Consul's
// api.UserEvent). On the wire, the Serf user event's payload is the event
// as JSON without its payload, a NUL byte, then the raw payload (JSON never
// holds a NUL byte): base64 would cost a third of the small room gossip has.
type userEvent struct {
	ID            string
	Name          string
	Payload       []byte `json:",omitempty"`
	NodeFilter    string
	ServiceFilter string
	TagFilter     string
	Version       int
	LTime         uint64
}

// eventIndex is the blocking index of an event list: derived from the last
// event's UUID exactly as the Go client's Event.IDToIndex, so that
// `consul watch -type event` can compare them.
func eventIndex(id string) uint64 {
	if len(id) != 36 {
		return 0
	}
	lower := id[0:8] + id[9:13] + id[14:18]
	upper := id[19:23] + id[24:36]
	lo, err1 := strconv.ParseUint(lower, 16, 64)
	hi, err2 := strconv.ParseUint(upper, 16, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return lo ^ hi
}

// eventBuffer holds the last events this agent received, oldest first,
// and wakes blocked list requests when one arrives.
type eventBuffer struct {
	mu     sync.Mutex
	events []*userEvent
	notify chan struct{} // closed and replaced on each new event
}

func newEventBuffer() *eventBuffer { return &eventBuffer{notify: make(chan struct{})} }

// add appends e, dropping the oldest beyond eventBufferSize.
func (b *eventBuffer) add(e *userEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, e)
	if len(b.events) > eventBufferSize {
		b.events = append([]*userEvent(nil), b.events[len(b.events)-eventBufferSize:]...)
	}
	close(b.notify)
	b.notify = make(chan struct{})
}

// list returns the events (a copy of the list), the index of the last
// one and a channel closed when the next arrives.
func (b *eventBuffer) list() ([]*userEvent, uint64, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]*userEvent(nil), b.events...)
	var idx uint64
	if len(out) > 0 {
		idx = eventIndex(out[len(out)-1].ID)
	}
	return out, idx, b.notify
}

// handleUserEvent is the Serf user-event receiver: it decodes Shoal's
// events and keeps those whose filters match this agent.
func (a *Agent) handleUserEvent(ue serf.UserEvent) {
	if !strings.HasPrefix(ue.Name, userEventPrefix) {
		return
	}
	e, err := decodeUserEvent(ue.Payload)
	if err != nil {
		a.logger.Warn("event: undecodable user event", "name", ue.Name, "error", err)
		return
	}
	e.LTime = uint64(ue.LTime)
	if !a.eventMatches(e) {
		return
	}
	a.logger.Debug("event: new user event", "name", e.Name, "id", e.ID)
	a.events.add(e)
}

// encodeUserEvent is the wire form of e (see userEvent).
func encodeUserEvent(e *userEvent) ([]byte, error) {
	head := *e
	head.Payload = nil
	b, err := json.Marshal(&head)
	if err != nil {
		return nil, err
	}
	return append(append(b, 0), e.Payload...), nil
}

// decodeUserEvent reads the wire form of an event.
func decodeUserEvent(b []byte) (*userEvent, error) {
	head, payload, _ := bytes.Cut(b, []byte{0})
	var e userEvent
	if err := json.Unmarshal(head, &e); err != nil {
		return nil, err
	}
	if len(payload) > 0 {
		e.Payload = payload
	}
	return &e, nil
}

// eventMatches reports whether e's node, service and tag filters (regular
// expressions) match this agent, as Consul's shouldProcessUserEvent.
func (a *Agent) eventMatches(e *userEvent) bool {
	if e.NodeFilter != "" {
		re, err := regexp.Compile(e.NodeFilter)
		if err != nil || !re.MatchString(a.cfg.NodeName) {
			return false
		}
	}
	if e.ServiceFilter == "" {
		return true
	}
	svcRe, err := regexp.Compile(e.ServiceFilter)
	if err != nil {
		return false
	}
	var tagRe *regexp.Regexp
	if e.TagFilter != "" {
		if tagRe, err = regexp.Compile(e.TagFilter); err != nil {
			return false
		}
	}
	if a.local == nil {
		return false
	}
	for _, s := range a.local.state.Services() {
		if !svcRe.MatchString(s.Service) {
			continue
		}
		if tagRe == nil {
			return true
		}
		for _, t := range s.Tags {
			if tagRe.MatchString(t) {
				return true
			}
		}
	}
	return false
}
