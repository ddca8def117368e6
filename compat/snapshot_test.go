package compat

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/snapshot"
)

// TestSnapshotSaveRestore drives /v1/snapshot with the Consul client's
// Snapshot().Save and Restore. It is not parallel: a restore replaces the
// whole state, and Go runs the parallel tests only after it.
func TestSnapshotSaveRestore(t *testing.T) {
	var saved []byte
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		key := "snapshot/before-" + n.Name
		if _, err := c.KV().Put(&api.KVPair{Key: key, Value: []byte("kept")}, nil); err != nil {
			t.Fatal(err)
		}
		for _, q := range []*api.QueryOptions{nil, {AllowStale: true}} {
			rc, qm, err := c.Snapshot().Save(q)
			if err != nil {
				t.Fatalf("save %+v: %v", q, err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			meta, err := snapshot.Verify(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("save %+v: archive does not verify: %v", q, err)
			}
			if qm.LastIndex != meta.Index || qm.LastIndex == 0 {
				t.Fatalf("save %+v: X-Consul-Index %d, snapshot index %d", q, qm.LastIndex, meta.Index)
			}
			if q == nil {
				saved = data
			}
		}
	})
	if t.Failed() {
		return
	}
	leader := entries[0].node.API(t)
	if _, err := leader.KV().Put(&api.KVPair{Key: "snapshot/after", Value: []byte("lost")}, nil); err != nil {
		t.Fatal(err)
	}

	// A bad archive is refused and changes nothing.
	err := leader.Snapshot().Restore(nil, bytes.NewReader(saved[:len(saved)-20]))
	var se api.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusBadRequest {
		t.Fatalf("restore of a truncated archive: %v, want a 400", err)
	}
	if p, _, err := leader.KV().Get("snapshot/after", nil); err != nil || p == nil {
		t.Fatalf("a refused restore changed the state: %v %v", p, err)
	}

	// The last archive saved (through the client agent) restores.
	if err := entries[2].node.API(t).Snapshot().Restore(nil, bytes.NewReader(saved)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		testcluster.Eventually(t, 10*time.Second, func() error {
			if p, _, err := c.KV().Get("snapshot/after", &api.QueryOptions{AllowStale: true}); err != nil || p != nil {
				return errors.New("snapshot/after still present after the restore")
			}
			for _, v := range entries {
				p, _, err := c.KV().Get("snapshot/before-"+v.node.Name, &api.QueryOptions{AllowStale: true})
				if err != nil || p == nil || string(p.Value) != "kept" {
					return errors.New("snapshot/before-" + v.node.Name + " missing after the restore")
				}
			}
			return nil
		})
	})
}
