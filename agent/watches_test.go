package agent_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestConfiguredWatchesRunTheirHandlers: the watches setting, as Consul's
// agent watches. A script watch of a key and an HTTP watch of a prefix on
// a client agent run once at start and again on each change, with the view
// as JSON and its index; a reload replaces them; shutdown stops them.
func TestConfiguredWatchesRunTheirHandlers(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "key.json")
	// The handler writes stdin and $CONSUL_INDEX, then renames, so that a
	// reader never sees half a file.
	script := fmt.Sprintf(`cat > %[1]s.tmp && echo "$CONSUL_INDEX" >> %[1]s.tmp && mv %[1]s.tmp %[1]s`, out)

	type hit struct {
		method, index, ctype, auth string
		body                       []byte
	}
	var mu sync.Mutex
	var hits []hit
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hits = append(hits, hit{r.Method, r.Header.Get("X-Consul-Index"), r.Header.Get("Content-Type"), r.Header.Get("Authorization"), b})
		mu.Unlock()
	}))
	defer srv.Close()
	lastHit := func() (hit, int) {
		mu.Lock()
		defer mu.Unlock()
		if len(hits) == 0 {
			return hit{}, 0
		}
		return hits[len(hits)-1], len(hits)
	}

	c := testcluster.New(t, testcluster.Options{Servers: 1, Clients: 1, Configure: func(i int, cfg *config.Config) {
		if i != 1 {
			return
		}
		cfg.Watches = []map[string]interface{}{
			{"type": "key", "key": "w/one", "args": []interface{}{"/bin/sh", "-c", script}},
			{"type": "keyprefix", "prefix": "w/", "handler_type": "http", "http_handler_config": map[string]interface{}{
				"path": srv.URL + "/hook", "method": "put", "timeout": "5s",
				"header": map[string]interface{}{"Authorization": []interface{}{"Bearer x"}},
			}},
		}
	}})
	c.WaitForLeader(20 * time.Second)
	client := c.Nodes[1]

	// At start: the key is absent (null), the prefix empty ([]).
	testcluster.Eventually(t, 20*time.Second, func() error {
		b, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(string(b), "null\n") {
			return fmt.Errorf("first run got %q, want null", b)
		}
		if h, n := lastHit(); n == 0 || strings.TrimSpace(string(h.body)) != "[]" {
			return fmt.Errorf("first http run: %d requests, last body %q", n, h.body)
		}
		return nil
	})

	if _, err := client.API(t).KV().Put(&api.KVPair{Key: "w/one", Value: []byte("hello")}, nil); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		b, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		view, index, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		var pair api.KVPair
		if err := json.Unmarshal([]byte(view), &pair); err != nil || string(pair.Value) != "hello" {
			return fmt.Errorf("script got %q (%v), want the pair with hello", view, err)
		}
		if index != fmt.Sprint(pair.ModifyIndex) {
			return fmt.Errorf("CONSUL_INDEX %q, want %d", index, pair.ModifyIndex)
		}
		h, _ := lastHit()
		var pairs []api.KVPair
		if err := json.Unmarshal(h.body, &pairs); err != nil || len(pairs) != 1 || string(pairs[0].Value) != "hello" {
			return fmt.Errorf("http got %q (%v)", h.body, err)
		}
		if h.method != http.MethodPut || h.index != fmt.Sprint(pairs[0].ModifyIndex) || h.ctype != "application/json" || h.auth != "Bearer x" {
			return fmt.Errorf("http request %+v", h)
		}
		return nil
	})

	// A reload reads the config files again; this agent has none, so the
	// watches stop: a later write runs no handler.
	if err := client.Agent.Reload(); err != nil {
		t.Fatal(err)
	}
	_, before := lastHit()
	if _, err := client.API(t).KV().Put(&api.KVPair{Key: "w/two", Value: []byte("x")}, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if _, after := lastHit(); after != before {
		t.Fatalf("%d http requests after the reload removed the watch", after-before)
	}
}
