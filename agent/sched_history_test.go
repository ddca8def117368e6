package agent_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/internal/testcluster"
)

type specVersion struct {
	ID                     uint64
	Version, Digest, Image string
	Replicas               int
	Current                bool
	Spec                   string
}

// nowhereSpec is a spec no node can take: the scheduler evaluates (and
// records) it without starting anything.
func nowhereSpec(replicas int) string {
	return fmt.Sprintf(`{"name": "web", "image": "nginx:1.27", "replicas": %d, "constraints": ["node.meta.rack == nowhere"]}`, replicas)
}

func doReq(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitVersions waits until the service's history has want entries and
// returns them, newest first.
func waitVersions(t *testing.T, base, name string, want int) []specVersion {
	t.Helper()
	var vs []specVersion
	testcluster.Eventually(t, 10*time.Second, func() error {
		code, body := doReq(t, http.MethodGet, base+"/v1/shoal/services/"+name+"/versions")
		if code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &vs); err != nil {
			return err
		}
		if len(vs) != want {
			return fmt.Errorf("%d versions, want %d", len(vs), want)
		}
		return nil
	})
	return vs
}

// TestSpecVersionsAndRollback deploys two versions of a spec by KV writes
// and checks the history endpoint and the rollback: its errors (unknown
// version 404, bad version 400, stale CAS 409) and a rollback that stores
// the old spec, which the scheduler records as the newest version.
func TestSpecVersionsAndRollback(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1})
	n := c.WaitForLeader(15 * time.Second)
	base := "http://" + n.HTTPAddr()
	kvc := n.API(t).KV()
	for _, replicas := range []int{1, 2} {
		if _, err := kvc.Put(&api.KVPair{Key: "shoal/services/web", Value: []byte(nowhereSpec(replicas))}, nil); err != nil {
			t.Fatal(err)
		}
		waitVersions(t, base, "web", replicas)
	}
	vs := waitVersions(t, base, "web", 2)
	if vs[0].ID != 2 || !vs[0].Current || vs[0].Replicas != 2 || vs[1].ID != 1 || vs[1].Current || vs[1].Replicas != 1 ||
		vs[1].Image != "nginx:1.27" || vs[1].Spec != nowhereSpec(1) {
		t.Fatalf("versions %+v: want 2 (current, 2 replicas) then 1 (1 replica, its raw spec)", vs)
	}
	cur, _, err := kvc.Get("shoal/services/web", nil)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		method   string
		path     string
		wantCode int
		wantBody string
	}{
		{name: "unknown service", method: http.MethodGet, path: "/v1/shoal/services/nope/versions",
			wantCode: http.StatusNotFound, wantBody: "No versions recorded"},
		{name: "unknown version", method: http.MethodPut, path: "/v1/shoal/services/web/rollback?version=99",
			wantCode: http.StatusNotFound, wantBody: "has no version 99"},
		{name: "bad version", method: http.MethodPut, path: "/v1/shoal/services/web/rollback?version=abc",
			wantCode: http.StatusBadRequest, wantBody: "Invalid version"},
		{name: "missing version", method: http.MethodPut, path: "/v1/shoal/services/web/rollback",
			wantCode: http.StatusBadRequest, wantBody: "Invalid version"},
		{name: "stale cas", method: http.MethodPut, path: fmt.Sprintf("/v1/shoal/services/web/rollback?version=1&cas=%d", cur.ModifyIndex-1),
			wantCode: http.StatusConflict, wantBody: "changed since index"},
		{name: "get is not allowed", method: http.MethodGet, path: "/v1/shoal/services/web/rollback?version=1",
			wantCode: http.StatusMethodNotAllowed},
		{name: "rollback", method: http.MethodPut, path: fmt.Sprintf("/v1/shoal/services/web/rollback?version=1&cas=%d", cur.ModifyIndex),
			wantCode: http.StatusOK, wantBody: `"ID":1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := doReq(t, tc.method, base+tc.path)
			if code != tc.wantCode || !strings.Contains(body, tc.wantBody) {
				t.Errorf("%s %s: %d %s, want %d containing %q", tc.method, tc.path, code, body, tc.wantCode, tc.wantBody)
			}
		})
	}

	// The rollback stored version 1's spec byte for byte; the scheduler
	// records it again as version 3, the current one.
	now, _, err := kvc.Get("shoal/services/web", nil)
	if err != nil || now == nil || string(now.Value) != nowhereSpec(1) {
		t.Fatalf("spec after rollback: %v %v, want version 1's", now, err)
	}
	vs = waitVersions(t, base, "web", 3)
	if vs[0].ID != 3 || !vs[0].Current || vs[0].Replicas != 1 || vs[0].Digest != vs[2].Digest || vs[1].Current {
		t.Errorf("versions after rollback %+v: want 3 = 1, current", vs)
	}
	// Without ?cas the endpoint compares against the spec it read.
	if code, body := doReq(t, http.MethodPut, base+"/v1/shoal/services/web/rollback?version=2"); code != http.StatusOK {
		t.Errorf("rollback without cas: %d %s", code, body)
	}
	waitVersions(t, base, "web", 4)
}
