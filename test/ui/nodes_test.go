package ui

import (
	"fmt"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestNodesThreeServers drives the node views against a 3-server cluster:
// the list shows every server alive with its role, a node's page its
// checks, and a server that dies turns failed in the open list without a
// reload.
func TestNodesThreeServers(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3})
	leader := c.WaitForLeader(20 * time.Second)
	victim := c.Follower(leader)
	b := newBrowser(t, leader.HTTPAddr())

	row := func(node string) string { return fmt.Sprintf(`document.querySelector('tr[data-node=%q]')`, node) }
	b.subtest(t, "list", func(t *testing.T) {
		b.goTo("#/nodes")
		for _, n := range c.Nodes {
			b.waitJS(15*time.Second, n.Name+" alive server", fmt.Sprintf(`(() => { const r = %s; if (!r) return false;
				const td = r.querySelectorAll('td'); return td[2].textContent === 'alive' && td[3].textContent === 'server'; })()`, row(n.Name)))
		}
		if got := eval[int](b, `document.querySelectorAll('tr[data-node]').length`); got != 3 {
			t.Errorf("%d nodes listed, want 3", got)
		}
		b.screenshot("nodes-3-servers")
	})

	b.subtest(t, "node page checks", func(t *testing.T) {
		b.goTo("#/nodes/" + victim.Name)
		b.waitJS(10*time.Second, "serf check passing", `[...document.querySelectorAll('main tr')].some((r) =>
			r.textContent.includes('Serf Health Status') && r.querySelector('.chip')?.textContent === 'passing')`)
		b.waitJS(5*time.Second, "role and serf status", `(() => { const dd = [...document.querySelectorAll('.facts dd')].map((d) => d.textContent);
			return dd[0] === 'alive' && dd[3] === 'server'; })()`)
		b.screenshot("node-page")
	})

	b.subtest(t, "a killed node turns failed live", func(t *testing.T) {
		b.goTo("#/nodes")
		b.waitJS(10*time.Second, "listed alive", fmt.Sprintf(`%s?.querySelectorAll('td')[2].textContent === 'alive'`, row(victim.Name)))
		eval[bool](b, `(window.__sameDocument = true)`)
		c.Kill(victim)
		b.waitJS(20*time.Second, victim.Name+" failed", fmt.Sprintf(`(() => { const r = %s; if (!r) return false;
			const td = r.querySelectorAll('td'); return td[2].textContent === 'failed' && td[7].textContent.includes('critical'); })()`, row(victim.Name)))
		if !eval[bool](b, `window.__sameDocument === true`) {
			t.Error("the page reloaded")
		}
		b.screenshot("nodes-one-failed")
	})
}
