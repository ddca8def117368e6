package local

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoalproject/shoal/catalog"
)

func TestDecodeServiceDefinition(t *testing.T) {
	cases := []struct {
		name    string
		raw     any
		wantErr bool
		check   func(t *testing.T, d *ServiceDefinition)
	}{
		{
			name: "config file snake_case",
			raw: map[string]any{"name": "web", "tags": []any{"v1"}, "port": float64(8080), "enable_tag_override": true,
				"meta": map[string]any{"some_key": "x"},
				"check": map[string]any{"http": "http://localhost/health", "interval": "5s", "timeout": "1s",
					"deregister_critical_service_after": "90m", "header": map[string]any{"X_Y": []any{"z"}}}},
			check: func(t *testing.T, d *ServiceDefinition) {
				c := d.AllChecks()[0]
				if d.Name != "web" || d.Port != 8080 || !d.EnableTagOverride || d.Meta["some_key"] != "x" ||
					c.CheckID != "service:web" || c.Interval != Duration(5*time.Second) ||
					c.DeregisterCriticalServiceAfter != Duration(90*time.Minute) || c.Header["X_Y"][0] != "z" || c.Type() != TypeHTTP {
					t.Fatalf("decoded %+v / check %+v", d, c)
				}
			},
		},
		{
			name: "API body with ScriptArgs and several checks",
			raw:  []byte(`{"Name":"db","ID":"db1","Checks":[{"TTL":"10s"},{"ScriptArgs":["true"],"Interval":"10s"}]}`),
			check: func(t *testing.T, d *ServiceDefinition) {
				cs := d.AllChecks()
				if len(cs) != 2 || cs[0].CheckID != "service:db1:1" || cs[1].CheckID != "service:db1:2" ||
					cs[1].Type() != TypeScript || cs[0].Type() != TypeTTL || cs[0].ServiceID != "db1" {
					t.Fatalf("checks %+v %+v", cs[0], cs[1])
				}
			},
		},
		{name: "bad JSON", raw: []byte(`{`), wantErr: true},
		{name: "bad duration", raw: []byte(`{"Name":"x","Check":{"TTL":"soon"}}`), wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := DecodeService(tc.raw)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil {
				if err := d.Validate(); err != nil {
					t.Fatal(err)
				}
				tc.check(t, d)
			}
		})
	}
}

func TestValidateCheck(t *testing.T) {
	cases := []struct {
		name string
		def  CheckDefinition
		ok   bool
	}{
		{"ttl", CheckDefinition{Name: "c", TTL: Duration(time.Second)}, true},
		{"http without interval", CheckDefinition{Name: "c", HTTP: "http://x"}, false},
		{"no type", CheckDefinition{Name: "c"}, false},
		{"bad status", CheckDefinition{Name: "c", TTL: Duration(time.Second), Status: "meh"}, false},
		{"docker", CheckDefinition{Name: "c", DockerContainerID: "x", Interval: Duration(time.Second)}, false},
		{"grpc", CheckDefinition{Name: "c", GRPC: "localhost:1", Interval: Duration(time.Second)}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.def.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestManagerPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	f := newFakeServers(t)
	m := NewManager(ManagerConfig{DataDir: dir}, testState(t, f, nil), nil)
	def, _ := DecodeService([]byte(`{"Name":"web","Port":80,"Check":{"TTL":"1m","Status":"passing"}}`))
	if err := m.AddService(def, SourceAPI, false); err != nil {
		t.Fatal(err)
	}
	m.SetNodeMaintenance(true, "")
	m.Stop()

	m2 := NewManager(ManagerConfig{DataDir: dir}, testState(t, f, nil), nil)
	if err := m2.LoadPersisted(); err != nil {
		t.Fatal(err)
	}
	defer m2.Stop()
	st := m2.State()
	if st.Service("web") == nil || st.Check("service:web") == nil || st.Check(NodeMaintCheckID) == nil {
		t.Fatalf("restored %v / %v", st.Services(), st.Checks())
	}
	// The restored TTL check has a runner again, and its last status
	// survives a restart.
	if err := m2.UpdateTTL("service:web", catalog.HealthWarning, "hm"); err != nil {
		t.Fatal(err)
	}
	if c := st.Check("service:web"); c.Status != catalog.HealthWarning {
		t.Fatalf("TTL update: %+v", c)
	}
	m2.Stop()
	m2 = NewManager(ManagerConfig{DataDir: dir}, testState(t, f, nil), nil)
	if err := m2.LoadPersisted(); err != nil {
		t.Fatal(err)
	}
	st = m2.State()
	if c := st.Check("service:web"); c == nil || c.Status != catalog.HealthWarning || c.Output != "hm" {
		t.Fatalf("TTL status after restart: %+v", c)
	}
	// Deregistration removes the files.
	if err := m2.RemoveService("web"); err != nil {
		t.Fatal(err)
	}
	m2.SetNodeMaintenance(false, "")
	m3 := NewManager(ManagerConfig{DataDir: dir}, testState(t, f, nil), nil)
	_ = m3.LoadPersisted()
	if n := len(m3.State().Services()) + len(m3.State().Checks()); n != 0 {
		t.Fatalf("%d entries restored after deregistration", n)
	}
}

func TestManagerReplaceConfigAndChecks(t *testing.T) {
	f := newFakeServers(t)
	m := NewManager(ManagerConfig{}, testState(t, f, nil), nil)
	defer m.Stop()
	web, _ := DecodeService(map[string]any{"name": "web", "checks": []any{
		map[string]any{"id": "a", "ttl": "1m"}, map[string]any{"id": "b", "ttl": "1m"}}})
	db, _ := DecodeService(map[string]any{"name": "db"})
	if err := m.ReplaceConfig([]*ServiceDefinition{web, db}, nil); err != nil {
		t.Fatal(err)
	}
	api, _ := DecodeService([]byte(`{"Name":"api"}`))
	if err := m.AddService(api, SourceAPI, false); err != nil {
		t.Fatal(err)
	}
	web2, _ := DecodeService(map[string]any{"name": "web", "checks": []any{map[string]any{"id": "a", "ttl": "1m"}}})
	if err := m.ReplaceConfig([]*ServiceDefinition{web2}, nil); err != nil {
		t.Fatal(err)
	}
	st := m.State()
	if st.Service("db") != nil || st.Service("web") == nil || st.Service("api") == nil {
		t.Fatalf("after reload: %v", st.Services())
	}
	if st.Check("a") == nil || st.Check("b") != nil {
		t.Fatalf("after reload checks: %v", st.Checks())
	}
	// replace-existing-checks on an API service.
	withChecks, _ := DecodeService([]byte(`{"Name":"api","Checks":[{"CheckID":"x","TTL":"1m"},{"CheckID":"y","TTL":"1m"}]}`))
	if err := m.AddService(withChecks, SourceAPI, false); err != nil {
		t.Fatal(err)
	}
	onlyX, _ := DecodeService([]byte(`{"Name":"api","Checks":[{"CheckID":"x","TTL":"1m"}]}`))
	if err := m.AddService(onlyX, SourceAPI, true); err != nil {
		t.Fatal(err)
	}
	if st.Check("x") == nil || st.Check("y") != nil {
		t.Fatalf("replace-existing-checks: %v", st.Checks())
	}
	if err := m.SetServiceMaintenance("api", true, "deploy"); err != nil {
		t.Fatal(err)
	}
	if c := st.Check(ServiceMaintPrefix + "api"); c == nil || c.Status != catalog.HealthCritical || c.Notes != "deploy" {
		t.Fatalf("maintenance check %+v", c)
	}
	if err := m.SetServiceMaintenance("nope", true, ""); !errors.Is(err, ErrUnknownService) {
		t.Fatalf("maintenance of unknown service: %v", err)
	}
	script, _ := DecodeCheck([]byte(`{"Name":"s","Args":["true"],"Interval":"1s"}`))
	if err := m.AddCheck(script, SourceAPI); !errors.Is(err, ErrScriptsDisabled) {
		t.Fatalf("script check without enable_local_script_checks: %v", err)
	}
}

func TestManagerRunsHTTPCheckAndReaps(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer srv.Close()
	f := newFakeServers(t)
	m := NewManager(ManagerConfig{ReapInterval: 20 * time.Millisecond}, testState(t, f, nil), nil)
	defer m.Stop()
	def, _ := DecodeService([]byte(`{"Name":"web","Check":{"HTTP":"` + srv.URL + `","Interval":"1s","Status":"passing",
		"DeregisterCriticalServiceAfter":"1ms"}}`))
	if err := m.AddService(def, SourceAPI, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		c := m.State().Check("service:web")
		return c != nil && c.Status == catalog.HealthCritical
	})
	// The minimum deregister delay is one minute; shorten it to test the reaper.
	m.mu.Lock()
	m.reapAt["service:web"] = 10 * time.Millisecond
	m.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	waitFor(t, func() bool { return m.State().Service("web") == nil })
}

// TestManagerReportsPersistFailure checks that a registration that cannot
// be persisted (here the data dir's services and checks paths are files,
// as a full or read-only disk would fail them) is answered with an error
// naming the data dir.
func TestManagerReportsPersistFailure(t *testing.T) {
	cases := []struct {
		name    string
		blocked string // the data dir entry made a file
		add     func(m *Manager) error
	}{
		{"service", "services", func(m *Manager) error {
			def, _ := DecodeService([]byte(`{"Name":"web","Port":80}`))
			return m.AddService(def, SourceAPI, false)
		}},
		{"check", "checks", func(m *Manager) error {
			def, _ := DecodeCheck([]byte(`{"Name":"c1","TTL":"1m"}`))
			return m.AddCheck(def, SourceAPI)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tc.blocked), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			m := NewManager(ManagerConfig{DataDir: dir}, testState(t, newFakeServers(t), nil), nil)
			defer m.Stop()
			err := tc.add(m)
			if err == nil || !errors.Is(err, syscall.ENOTDIR) || !strings.Contains(err.Error(), "data dir "+dir) {
				t.Fatalf("got %v, want an error naming the data dir and wrapping ENOTDIR", err)
			}
		})
	}
}

// TestSchedulerChecksProbeAtOnce checks that the HTTP and TCP checks of a
// replica the scheduler registers run their first probe at once, not after
// Consul's random stagger of up to a second: a health-gated rollout waits
// for that first passing result before its next batch. Five checks, so that
// a stagger would show (each would land within the bound with chance 3 in 10).
func TestSchedulerChecksProbeAtOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	m := NewManager(ManagerConfig{}, testState(t, newFakeServers(t), nil), nil)
	defer m.Stop()
	const n = 5
	start := time.Now()
	for i := range n {
		kind := `"HTTP":"` + srv.URL + `"`
		if i%2 == 1 {
			kind = `"TCP":"` + srv.Listener.Addr().String() + `"`
		}
		def, err := DecodeService([]byte(fmt.Sprintf(`{"ID":"web-%d","Name":"web","Check":{%s,"Interval":"30s"}}`, i, kind)))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.AddService(def, SourceScheduler, true); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool {
		for i := range n {
			if c := m.State().Check(fmt.Sprintf("service:web-%d", i)); c == nil || c.Status != catalog.HealthPassing {
				return false
			}
		}
		return true
	})
	if took := time.Since(start); took > 300*time.Millisecond {
		t.Fatalf("the scheduler's checks first passed %v after registration; want their first probe at once", took)
	}
}
