package server

import (
	"context"
	"errors"
	"net"
	"net/rpc"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/acl"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
)

// TestEveryRPCMethodHasACLDecision walks the registered endpoints: every
// method net/rpc serves must have a decision (a method without one is
// refused at run time; this makes the omission a test failure).
func TestEveryRPCMethodHasACLDecision(t *testing.T) {
	table := rpcACLs()
	seen := map[string]bool{}
	for name, ep := range (&Server{}).endpoints() {
		typ := reflect.TypeOf(ep)
		for i := range typ.NumMethod() {
			m := typ.Method(i)
			// net/rpc's rule: func (t *T) Method(args *A, reply *R) error.
			if m.Type.NumIn() != 3 || m.Type.NumOut() != 1 || m.Type.Out(0) != reflect.TypeFor[error]() {
				continue
			}
			full := name + "." + m.Name
			seen[full] = true
			d, ok := table[full]
			if !ok {
				t.Errorf("RPC method %s has no ACL decision in rpcACLs", full)
				continue
			}
			kinds := 0
			if d.none != "" {
				kinds++
			}
			if d.self {
				kinds++
			}
			if d.check != nil || d.filter != nil {
				kinds++
			}
			if kinds != 1 {
				t.Errorf("%s: want exactly one of none, self, check/filter", full)
			}
		}
	}
	for m := range table {
		if !seen[m] {
			t.Errorf("rpcACLs decides %s, which is no RPC method", m)
		}
	}
}

const testMgmt = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

// newACLServer starts a single server with ACLs on, default deny and an
// initial management token, and waits for the builtins.
func newACLServer(t *testing.T) *Server {
	t.Helper()
	s, err := NewServer(Config{
		NodeName: "s1", NodeID: "11111111-2222-3333-4444-555555555555", Bootstrap: true,
		BindAddr: "127.0.0.1", SerfPort: freePort(t), RPCPort: freePort(t),
		RaftTimeoutOverride: 50 * time.Millisecond,
		ACL:                 ACLConfig{Enabled: true, InitialManagement: testMgmt},
		Logger:              hclog.New(&hclog.LoggerOptions{Level: hclog.Warn}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown() })
	waitReady(t, s)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := s.authorizer(testMgmt); err == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatal("initial management token never appeared")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dialRPC connects to the server's RPC port as any network peer could,
// bypassing every agent.
func dialRPC(t *testing.T, s *Server) *rpc.Client {
	t.Helper()
	c, err := net.Dial("tcp", s.listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte{connRPC}); err != nil {
		t.Fatal(err)
	}
	cl := rpc.NewClientWithCodec(newCodec(c))
	t.Cleanup(func() { cl.Close() })
	return cl
}

// TestRPCEnforcedWithoutAgent is the regression test of the "missing ACL
// check" class (CVE-2020-7955): a caller that reaches the server port
// directly, without any agent or HTTP layer, is held to the same rules —
// writes refused, reads filtered, each transaction op checked.
func TestRPCEnforcedWithoutAgent(t *testing.T) {
	s := newACLServer(t)
	cl := dialRPC(t, s)
	put := func(key, token string) error {
		var ok bool
		req := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: key, Value: []byte("v")}}}
		req.AuthToken = token
		return cl.Call("KVS.Apply", &req, &ok)
	}
	if err := put("secret/a", testMgmt); err != nil {
		t.Fatalf("management put: %v", err)
	}
	if err := put("public/a", testMgmt); err != nil {
		t.Fatalf("management put: %v", err)
	}
	pol := rpcapi.ACLPolicySetRequest{Policy: acl.Policy{Name: "pub", Rules: `key_prefix "public/" { policy = "write" }`}}
	pol.AuthToken = testMgmt
	var pr rpcapi.ACLPolicyReply
	if err := cl.Call("ACL.PolicySet", &pol, &pr); err != nil {
		t.Fatal(err)
	}
	tok := rpcapi.ACLTokenSetRequest{Token: acl.Token{Policies: []acl.Link{{ID: pr.Policy.ID}}}, Create: true}
	tok.AuthToken = testMgmt
	var tr rpcapi.ACLTokenReply
	if err := cl.Call("ACL.TokenSet", &tok, &tr); err != nil {
		t.Fatal(err)
	}
	pub := tr.Token.SecretID

	denied := func(err error) bool {
		return rpcapi.IsRemote(err, acl.ErrPermissionDenied) || rpcapi.IsRemote(err, acl.ErrNotFound)
	}
	cases := []struct {
		name   string
		call   func() error
		denied bool
	}{
		{"anonymous put", func() error { return put("public/b", "") }, true},
		{"scoped put inside its prefix", func() error { return put("public/b", pub) }, false},
		{"scoped put outside its prefix", func() error { return put("secret/b", pub) }, true},
		{"unknown secret", func() error { return put("public/c", "no-such-secret") }, true},
		{"anonymous catalog register", func() error {
			var out struct{}
			req := rpcapi.RegisterRequest{RegisterRequest: catalog.RegisterRequest{Node: "evil", Address: "10.0.0.66"}}
			return cl.Call("Catalog.Register", &req, &out)
		}, true},
		{"txn with one forbidden op (CVE-2021-38698)", func() error {
			var out rpcapi.TxnResponse
			req := rpcapi.TxnRequest{Ops: []kv.TxnOp{{Verb: kv.OpSet, Entry: kv.Entry{Key: "public/t"}}, {Verb: kv.OpDelete, Entry: kv.Entry{Key: "secret/a"}}}}
			req.AuthToken = pub
			return cl.Call("Txn.Apply", &req, &out)
		}, true},
		{"recursive delete over a read-only key (CVE-2019-12291)", func() error {
			var ok bool
			req := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpDeleteTree, Entry: kv.Entry{Key: ""}}}
			req.AuthToken = pub
			return cl.Call("KVS.Apply", &req, &ok)
		}, true},
		{"snapshot needs management", func() error {
			_, _, err := s.SnapshotSave(context.Background(), rpcapi.QueryOptions{AuthToken: pub})
			return err
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if denied(err) != tc.denied {
				t.Fatalf("err %v, want denied=%v", err, tc.denied)
			}
		})
	}

	// Reads are filtered, not refused.
	list := rpcapi.KeyRequest{Key: ""}
	list.AuthToken = pub
	var ents rpcapi.IndexedEntries
	if err := cl.Call("KVS.List", &list, &ents); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents.Entries {
		if !strings.HasPrefix(e.Key, "public/") {
			t.Fatalf("scoped token read %s", e.Key)
		}
	}
	if len(ents.Entries) == 0 {
		t.Fatal("scoped token read nothing under its own prefix")
	}
	// The secret key survived every refused write.
	var got rpcapi.IndexedEntries
	get := rpcapi.KeyRequest{Key: "secret/a"}
	get.AuthToken = testMgmt
	if err := cl.Call("KVS.Get", &get, &got); err != nil || len(got.Entries) != 1 {
		t.Fatalf("secret/a after refused writes: %+v %v", got.Entries, err)
	}
	// A deleted token stops working at once (the authorizer cache is
	// keyed by the ACL tables' index).
	if err := put("public/d", pub); err != nil {
		t.Fatalf("put before delete: %v", err)
	}
	del := rpcapi.ACLDeleteRequest{ID: tr.Token.AccessorID}
	del.AuthToken = testMgmt
	var deleted bool
	if err := cl.Call("ACL.TokenDelete", &del, &deleted); err != nil {
		t.Fatal(err)
	}
	if err := put("public/d", pub); !rpcapi.IsRemote(err, acl.ErrNotFound) {
		t.Fatalf("put with a deleted token: %v, want ACL not found", err)
	}
	// In process (a server agent's own calls) holds to the same rules.
	var ok bool
	inproc := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: "secret/x"}}}
	if err := s.RPC(context.Background(), "KVS.Apply", &inproc, &ok); !errors.Is(err, acl.ErrPermissionDenied) {
		t.Fatalf("in-process anonymous put: %v, want permission denied", err)
	}
}
