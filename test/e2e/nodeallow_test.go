package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/dockertest"
	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestNodeAllowsHostAccess: a spec that reaches the host never runs on an
// agent whose configuration does not allow it (scheduler.allow_*), and the
// service's status names the missing setting; on an agent that allows it,
// the replica is placed and its container made with that access.
func TestNodeAllowsHostAccess(t *testing.T) {
	host := dockertest.Engine(t)
	dockertest.BuildHello(t, host, helloImage)
	t.Cleanup(func() {
		ids, _ := dockerCmd(host, "ps", "-aq", "--filter", "label=shoal.service=priv")
		for _, id := range strings.Fields(ids) {
			_, _ = dockerCmd(host, "rm", "-f", id)
		}
	})
	for _, tc := range []struct {
		name, spec, setting string
		allow               bool
		// inspect is a docker inspect format and what its value holds on the
		// container of an allowed spec.
		inspect, want string
		// running: the replica must run (a privileged container cannot
		// start where the engine itself lacks capabilities, as in a
		// sandbox; its placement and container are what is checked).
		running bool
	}{
		{name: "privileged refused", spec: `"privileged": true`, setting: "allow_privileged"},
		{name: "privileged allowed", spec: `"privileged": true`, setting: "allow_privileged", allow: true,
			inspect: "{{.HostConfig.Privileged}}", want: "true"},
		{name: "cap_add refused", spec: `"cap_add": ["NET_ADMIN"]`, setting: "allow_cap_add"},
		{name: "cap_add allowed", spec: `"cap_add": ["NET_ADMIN"]`, setting: "allow_cap_add", allow: true,
			inspect: "{{.HostConfig.CapAdd}}", want: "NET_ADMIN", running: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "allow.hcl")
			// Set explicitly: -dev allows everything unless an allow_* is given.
			writeFile(t, cfg, fmt.Sprintf("scheduler {\n  %s = %v\n}\n", tc.setting, tc.allow))
			fp := testcluster.FreePorts(t, 4)
			agent := &proccluster.Proc{
				Name: "dev", Bin: shoalBin, Addr: "127.0.0.1", HTTP: fmt.Sprintf("127.0.0.1:%d", fp[0]),
				LogPath: filepath.Join(dir, "dev.log"), Env: []string{"DOCKER_HOST=" + host, "TMPDIR=" + dir},
				Args: []string{"agent", "-dev", "-node", "allow1", "-config-file", cfg, "-http-port", fmt.Sprint(fp[0]),
					"-serf-lan-port", fmt.Sprint(fp[1]), "-server-port", fmt.Sprint(fp[2]), "-dns-port", fmt.Sprint(fp[3])},
			}
			if err := agent.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				agent.Stop(20 * time.Second)
				if t.Failed() {
					t.Logf("---- agent log ----\n%s", agent.Log())
				}
				ids, _ := dockerCmd(host, "ps", "-aq", "--filter", "label=shoal.service=priv")
				for _, id := range strings.Fields(ids) {
					_, _ = dockerCmd(host, "rm", "-f", id)
				}
			})
			testcluster.Eventually(t, 10*time.Second, func() error { _, err := agent.Leader(); return err })
			spec := `{"name": "priv", "image": "` + helloImage + `", "replicas": 1, ` + tc.spec + `,
  "resources": {"cpu": 50, "memory": 32}, "restart": {"delay": "500ms"}}`
			req, _ := http.NewRequest(http.MethodPut, "http://"+agent.HTTP+"/v1/kv/shoal/services/priv", strings.NewReader(spec))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("put spec: %s", resp.Status)
			}
			var st struct {
				Running  int
				Unplaced []string
				Allocs   []struct{ ClientStatus string }
			}
			read := func() error {
				st.Unplaced, st.Allocs = nil, nil
				resp, err := http.Get("http://" + agent.HTTP + "/v1/shoal/services/priv")
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				return json.NewDecoder(resp.Body).Decode(&st)
			}
			containers := func() []string {
				ids, _ := dockerCmd(host, "ps", "-aq", "--filter", "label=shoal.service=priv")
				return strings.Fields(ids)
			}
			if tc.allow {
				testcluster.Eventually(t, 60*time.Second, func() error {
					if err := read(); err != nil {
						return err
					}
					if len(st.Allocs) != 1 || len(st.Unplaced) != 0 || (tc.running && st.Running != 1) {
						return fmt.Errorf("allocations %v, running %d, unplaced %v", st.Allocs, st.Running, st.Unplaced)
					}
					if ids := containers(); len(ids) == 0 {
						return fmt.Errorf("no container yet")
					}
					return nil
				})
				ids := containers()
				if out, err := dockerCmd(host, "inspect", "-f", tc.inspect, ids[0]); err != nil || !strings.Contains(out, tc.want) {
					t.Fatalf("container %s: %q (%v), want %q", tc.inspect, out, err, tc.want)
				}
				return
			}
			want := fmt.Sprintf("(scheduler.%s) filtered 1 node", tc.setting)
			testcluster.Eventually(t, 20*time.Second, func() error {
				if err := read(); err != nil {
					return err
				}
				if len(st.Unplaced) != 1 || !strings.Contains(st.Unplaced[0], "node does not allow") || !strings.HasSuffix(st.Unplaced[0], want) {
					return fmt.Errorf("unplaced %q, want one line ending %q", st.Unplaced, want)
				}
				return nil
			})
			t.Logf("status: %s", st.Unplaced[0])
			time.Sleep(2 * time.Second) // nothing runs later either
			if err := read(); err != nil || st.Running != 0 || len(st.Allocs) != 0 {
				t.Fatalf("running %d, allocations %v (%v); want none", st.Running, st.Allocs, err)
			}
			if ids := containers(); len(ids) != 0 {
				t.Fatalf("containers of priv exist: %q", ids)
			}
		})
	}
}
