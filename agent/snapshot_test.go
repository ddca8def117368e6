package agent_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/snapshot"
)

// saveSnapshot saves an archive through n with the Consul client and
// verifies it.
func saveSnapshot(t *testing.T, n *testcluster.Node, q *api.QueryOptions) ([]byte, *api.QueryMeta) {
	t.Helper()
	rc, qm, err := n.API(t).Snapshot().Save(q)
	if err != nil {
		t.Fatalf("save via %s: %v", n.Name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("save via %s: read: %v", n.Name, err)
	}
	meta, err := snapshot.Verify(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("save via %s: archive does not verify: %v", n.Name, err)
	}
	if qm.LastIndex == 0 || meta.Index == 0 {
		t.Fatalf("save via %s: X-Consul-Index %d, snapshot index %d", n.Name, qm.LastIndex, meta.Index)
	}
	return data, qm
}

// alterState flips one byte of state.bin inside a valid archive and
// keeps the original SHA256SUMS.
func alterState(t *testing.T, archive []byte) []byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Name == snapshot.FileState {
			data[len(data)/2] ^= 0x20
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// foreignState is a well-formed archive whose state.bin Shoal cannot
// decode (as a Consul server's snapshot would be).
func foreignState(t *testing.T, archive []byte) []byte {
	t.Helper()
	meta, err := snapshot.Verify(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	state := bytes.Repeat([]byte{0x81, 0xa9}, 512)
	meta.Size = int64(len(state))
	var out bytes.Buffer
	if err := snapshot.Write(&out, meta, bytes.NewReader(state)); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func wantValueEverywhere(t *testing.T, c *testcluster.Cluster, key, want string) {
	t.Helper()
	testcluster.Eventually(t, 15*time.Second, func() error {
		for _, n := range c.Running() {
			got, err := getValue(t, n, key, &api.QueryOptions{AllowStale: true})
			if want == "" {
				if err == nil {
					return fmt.Errorf("%s: %s = %q, want absent", n.Name, key, got)
				}
				continue
			}
			if err != nil || got != want {
				return fmt.Errorf("%s: %s = %q (%v), want %q", n.Name, key, got, err, want)
			}
		}
		return nil
	})
}

func TestSnapshotSaveRestore(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Clients: 1})
	leader := c.WaitForLeader(15 * time.Second)
	follower := c.Follower(leader)
	client := c.Nodes[3]
	testcluster.Eventually(t, 10*time.Second, func() error {
		_, err := client.API(t).KV().Put(&api.KVPair{Key: "snap/a", Value: []byte("1")}, nil)
		return err
	})
	put(t, leader, "snap/b", "1")

	// Every way in saves an archive that verifies.
	var saved []byte
	for _, tc := range []struct {
		name string
		node *testcluster.Node
		q    *api.QueryOptions
	}{
		{"leader", leader, nil},
		{"follower forwards to leader", follower, nil},
		{"follower stale", follower, &api.QueryOptions{AllowStale: true}},
		{"client forwards", client, nil},
	} {
		t.Run("save via "+tc.name, func(t *testing.T) {
			data, _ := saveSnapshot(t, tc.node, tc.q)
			if tc.node == leader {
				saved = data
			}
		})
	}
	if saved == nil {
		t.FailNow()
	}

	// The answer has a Content-Length, also when the archive was streamed
	// from another server, so that a short transfer is an error for any
	// HTTP client.
	for _, n := range []*testcluster.Node{leader, follower, client} {
		resp, err := http.Get("http://" + n.HTTPAddr() + "/v1/snapshot")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET via %s: %d %v", n.Name, resp.StatusCode, err)
		}
		if resp.ContentLength != int64(len(body)) || resp.Header.Get("X-Consul-Index") == "" {
			t.Errorf("GET via %s: Content-Length %d for %d bytes, X-Consul-Index %q",
				n.Name, resp.ContentLength, len(body), resp.Header.Get("X-Consul-Index"))
		}
	}

	// Change the state after the snapshot.
	put(t, leader, "snap/a", "2")
	put(t, leader, "snap/c", "3")
	if _, err := leader.API(t).KV().Delete("snap/b", nil); err != nil {
		t.Fatal(err)
	}
	_, before, err := leader.API(t).KV().Get("snap/a", nil)
	if err != nil {
		t.Fatal(err)
	}

	// Bad archives are refused with 400, through the leader and through a
	// client agent, and change nothing.
	for _, tc := range []struct {
		name    string
		archive []byte
	}{
		{"truncated", saved[:len(saved)/2]},
		{"truncated by one byte", saved[:len(saved)-1]},
		{"altered state.bin", alterState(t, saved)},
		{"not an archive", []byte("hello")},
		{"state Shoal cannot decode", foreignState(t, saved)},
	} {
		for _, via := range []*testcluster.Node{leader, client} {
			t.Run(fmt.Sprintf("refuse %s via %s", tc.name, via.Name), func(t *testing.T) {
				err := via.API(t).Snapshot().Restore(nil, bytes.NewReader(tc.archive))
				var se api.StatusError
				if !errors.As(err, &se) || se.Code != http.StatusBadRequest {
					t.Fatalf("restore: got %v, want a 400", err)
				}
				t.Log(err)
			})
		}
	}
	wantValueEverywhere(t, c, "snap/a", "2")
	wantValueEverywhere(t, c, "snap/c", "3")

	// A blocking query on a key the restore changes wakes on the restore.
	woke := make(chan error, 1)
	go func() {
		_, _, err := follower.API(t).KV().Get("snap/a", &api.QueryOptions{WaitIndex: before.LastIndex, WaitTime: time.Minute})
		woke <- err
	}()
	time.Sleep(200 * time.Millisecond)

	// Restore through the client agent: forwarded to a server, then the
	// leader; every server gets the old state back.
	if err := client.API(t).Snapshot().Restore(nil, bytes.NewReader(saved)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	wantValueEverywhere(t, c, "snap/a", "1")
	wantValueEverywhere(t, c, "snap/b", "1")
	wantValueEverywhere(t, c, "snap/c", "")
	select {
	case err := <-woke:
		if err != nil {
			t.Fatalf("blocking query: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a blocking query did not wake on the restore")
	}

	// Writes go on, at indexes above any seen before the restore.
	put(t, leader, "snap/d", "4")
	_, after, err := leader.API(t).KV().Get("snap/d", nil)
	if err != nil {
		t.Fatal(err)
	}
	if after.LastIndex <= before.LastIndex {
		t.Fatalf("index after restore %d, before %d: must move forward", after.LastIndex, before.LastIndex)
	}
}
