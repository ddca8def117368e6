package ui

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// testRollback deploys two versions of a spec through the API, rolls back
// to the first from the service page's versions list and sees its replica
// count come back, live.
func testRollback(t *testing.T, b *browser, c *api.Client) {
	stopServices(t, c, b.base)
	spec := func(replicas int) string {
		return fmt.Sprintf(`{"name": "uiroll", "driver": "exec", "command": "/bin/sleep", "args": ["600"], "replicas": %d, "resources": {"cpu": 10, "memory": 10}}`, replicas)
	}
	b.goTo("#/deployments/uiroll")
	for _, n := range []int{1, 2} {
		if _, err := c.KV().Put(&api.KVPair{Key: "shoal/services/uiroll", Value: []byte(spec(n))}, nil); err != nil {
			t.Fatal(err)
		}
		b.waitJS(30*time.Second, fmt.Sprintf("%d replicas running", n),
			fmt.Sprintf(`document.querySelector('#counts')?.textContent.startsWith('%d desired, %d running')`, n, n))
		b.waitJS(5*time.Second, fmt.Sprintf("version %d listed as deployed", n),
			fmt.Sprintf(`document.querySelector('#versions tr[data-version="%d"]')?.classList.contains('current')`, n))
	}
	b.screenshot("deployment-versions")

	b.clickText("Roll back")
	b.waitJS(5*time.Second, "confirmation asked", `document.querySelector('#versions .question')?.textContent.includes('Deploy version 1 of uiroll again?')`)
	if v, _ := kvValue(t, c, "shoal/services/uiroll"); v != spec(2) {
		t.Fatalf("the spec changed before the confirmation: %q", v)
	}
	b.clickText("Yes, roll back")
	b.waitJS(30*time.Second, "the old version's single replica", `document.querySelector('#counts')?.textContent.startsWith('1 desired, 1 running')`)
	b.waitJS(5*time.Second, "version 3 (= 1) deployed", `(() => { const r = document.querySelector('#versions tr[data-version="3"]');
		return !!r && r.classList.contains('current') && r.querySelector('.replicas').textContent === '1'; })()`)
	b.screenshot("deployment-rolled-back")
	if v, _ := kvValue(t, c, "shoal/services/uiroll"); v != spec(1) {
		t.Fatalf("after rollback the stored spec is %q, want version 1's bytes", v)
	}
	if running, live, err := liveAllocs(b.base, "uiroll"); err != nil || running != 1 || live != 1 {
		t.Fatalf("after rollback the API has %d running, %d live (%v), want 1", running, live, err)
	}
}
