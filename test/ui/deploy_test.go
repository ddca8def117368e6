package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// validateError asks the agent to validate spec and returns its error text.
func validateError(t *testing.T, base, spec string) string {
	t.Helper()
	resp, err := http.Post(base+"/v1/shoal/validate", "application/json", strings.NewReader(spec))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("validate answered %d %s, want 400", resp.StatusCode, body)
	}
	return string(body)
}

type liveAlloc struct{ DesiredStatus, ClientStatus string }

// liveAllocs counts the running and the live (desired run) replicas.
func liveAllocs(base, service string) (running, live int, err error) {
	resp, err := http.Get(base + "/v1/shoal/allocs?service=" + service)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var as []liveAlloc
	if err := json.NewDecoder(resp.Body).Decode(&as); err != nil {
		return 0, 0, err
	}
	for _, a := range as {
		if a.DesiredStatus == "run" {
			live++
		}
		if a.ClientStatus == "running" {
			running++
		}
	}
	return running, live, nil
}

// stopServices deletes every spec when the test ends and waits until no
// replica runs: exec replicas are real processes the test must not leave.
func stopServices(t *testing.T, c *api.Client, base string) {
	t.Cleanup(func() {
		if _, err := c.KV().DeleteTree("shoal/services/", nil); err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		eventually(t, "replicas stopped", 30*time.Second, func() error {
			running, _, err := liveAllocs(base, "")
			if err == nil && running > 0 {
				err = fmt.Errorf("%d replicas still running", running)
			}
			return err
		})
	})
}

func testDeploy(t *testing.T, b *browser, c *api.Client) {
	stopServices(t, c, b.base)
	b.goTo("#/deployments")
	b.waitJS(5*time.Second, "empty state", `document.querySelector('main .empty')?.textContent.includes('No services deployed yet')`)
	b.screenshot("deployments-empty")

	// A bad spec: the editor shows the server's exact error.
	bad := `{"name": "uitest", "driver": "exec", "command": "/bin/sleep", "replicas": -1}`
	want := strings.TrimSpace(validateError(t, b.base, bad))
	b.goTo("#/deploy")
	b.setValue("#spec", bad)
	b.click("#validate")
	b.waitJS(5*time.Second, "validation error", `!!document.querySelector('#spec-error')`)
	if got := eval[string](b, `document.querySelector('#spec-error').textContent`); got != want {
		t.Fatalf("editor shows %q, the API says %q", got, want)
	}
	b.screenshot("deploy-invalid")

	spec := `{"name": "uitest", "driver": "exec", "command": "/bin/sleep", "args": ["600"], "replicas": 2,
  "resources": {"cpu": 10, "memory": 10}}`
	b.setValue("#spec", spec)
	b.click("#deploy")
	b.waitJS(5*time.Second, "service page", `location.hash === '#/deployments/uitest'`)
	b.waitJS(30*time.Second, "2 replicas running", `document.querySelector('#counts')?.textContent.startsWith('2 desired, 2 running')`)
	b.screenshot("deployment")
	if v, ok := kvValue(t, c, "shoal/services/uitest"); !ok || v != spec {
		t.Fatalf("stored spec %q, want the editor's bytes %q", v, spec)
	}

	b.goTo("#/placement")
	b.waitJS(5*time.Second, "two running tiles", `document.querySelectorAll('.tile.running[data-service="uitest"], .tile.unhealthy[data-service="uitest"]').length === 2`)
	b.screenshot("placement")

	b.goTo("#/deployments/uitest")
	b.waitJS(5*time.Second, "scale field", `document.querySelector('#scale-replicas')?.value === '2'`)
	b.setValue("#scale-replicas", "3")
	b.click("#scale")
	b.waitJS(30*time.Second, "3 replicas running", `document.querySelector('#counts')?.textContent.startsWith('3 desired, 3 running')`)
	if running, live, err := liveAllocs(b.base, "uitest"); err != nil || running != 3 || live != 3 {
		t.Fatalf("after scale the API has %d running, %d live (%v), want 3", running, live, err)
	}
	// The placement map follows without a reload.
	b.goTo("#/placement")
	b.waitJS(5*time.Second, "three tiles", `document.querySelectorAll('.tile[data-service="uitest"]').length === 3`)

	b.goTo("#/deployments/uitest")
	b.waitJS(5*time.Second, "page", `!!document.querySelector('#counts')`)
	b.clickText("Remove")
	b.clickText("Yes, remove")
	b.waitJS(5*time.Second, "back to the list", `location.hash === '#/deployments'`)
	if _, ok := kvValue(t, c, "shoal/services/uitest"); ok {
		t.Fatal("the spec is still stored after remove")
	}
	eventually(t, "replicas stopped", 30*time.Second, func() error {
		running, live, err := liveAllocs(b.base, "uitest")
		if err == nil && running+live > 0 {
			err = fmt.Errorf("%d running, %d live", running, live)
		}
		return err
	})
	b.waitJS(5*time.Second, "empty list again", `!!document.querySelector('main .empty')`)
}
