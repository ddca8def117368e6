package watch

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		want string // "" for valid
	}{
		{"no type", Params{}, "Must specify watch type"},
		{"unknown type", Params{Type: "x"}, "Unsupported watch type: x"},
		{"key", Params{Type: "key", Key: "a"}, ""},
		{"key without key", Params{Type: "key"}, "Must specify a single key to watch"},
		{"keyprefix without prefix", Params{Type: "keyprefix"}, "Must specify a single prefix to watch"},
		{"service without service", Params{Type: "service"}, "Must specify a single service to watch"},
		{"checks by service and state", Params{Type: "checks", Service: "a", State: "passing"}, "Cannot specify service and state"},
		{"checks by state", Params{Type: "checks", State: "critical"}, ""},
		{"services", Params{Type: "services"}, ""},
		{"nodes", Params{Type: "nodes"}, ""},
		{"every event", Params{Type: "event"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.p)
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want == "" && p.Type != tt.p.Type:
				t.Fatalf("plan %+v", p)
			case tt.want != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err %v, want ErrInvalid with %q", err, tt.want)
			}
		})
	}
	if got := strings.Join(Types(), ","); got != "checks,event,key,keyprefix,nodes,service,services" {
		t.Fatalf("Types() = %s", got)
	}
}

func TestScriptHandler(t *testing.T) {
	var out bytes.Buffer
	h := Script([]string{`cat; echo "index=$CONSUL_INDEX"`}, true, &out, &out)
	if err := h(context.Background(), map[string]int{"a": 1}, 42); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "{\"a\":1}\nindex=42\n" {
		t.Fatalf("handler saw %q", got)
	}
	if err := Script([]string{"false"}, false, &out, &out)(context.Background(), nil, 1); err == nil {
		t.Fatal("a failing script reported no error")
	}
}

func TestHTTPHandler(t *testing.T) {
	status := http.StatusNoContent
	var got *http.Request
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := new(bytes.Buffer)
		_, _ = b.ReadFrom(r.Body)
		got, body = r, b.String()
		w.WriteHeader(status)
		_, _ = w.Write([]byte("nope"))
	}))
	defer srv.Close()
	h := HTTP(HTTPConfig{Path: srv.URL + "/x", Header: map[string][]string{"X-A": {"1"}}})
	if err := h(context.Background(), []string{"v"}, 7); err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/x" || got.Header.Get("X-Consul-Index") != "7" ||
		got.Header.Get("X-A") != "1" || got.Header.Get("Content-Type") != "application/json" || body != "[\"v\"]\n" {
		t.Fatalf("request %s %s %v %q", got.Method, got.URL, got.Header, body)
	}
	status = http.StatusInternalServerError
	if err := h(context.Background(), nil, 8); err == nil || !strings.Contains(err.Error(), "500 Internal Server Error: nope") {
		t.Fatalf("a 500 answer: %v", err)
	}
}

// TestRunDoesNotSpinOnIndexZero: a server that answers X-Consul-Index 0
// (which ?index=0 never blocks on) is asked with index 1 next, so the
// watch blocks instead of querying in a loop.
func TestRunDoesNotSpinOnIndexZero(t *testing.T) {
	var mu sync.Mutex
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		if idx := r.URL.Query().Get("index"); idx != "" && idx != "0" {
			<-r.Context().Done() // a blocking query with nothing new
			return
		}
		w.Header().Set("X-Consul-Index", "0")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c, err := api.NewClient(&api.Config{Address: strings.TrimPrefix(srv.URL, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Params{Type: "services"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	runs := 0
	_ = p.Run(ctx, c, api.QueryOptions{}, func(context.Context, any, uint64) error { runs++; return nil }, func(err error) { t.Log(err) })
	mu.Lock()
	defer mu.Unlock()
	if requests > 3 || runs != 1 {
		t.Fatalf("%d requests and %d handler runs in 500 ms, want 2 and 1", requests, runs)
	}
}
