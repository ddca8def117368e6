package fsm

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/shoalproject/shoal/acl"
)

// TestACLCommandsAndSnapshot applies the ACL commands, checks bootstrap
// happens once, and that a snapshot/restore keeps tokens, policies, roles
// and the bootstrap marker.
func TestACLCommandsAndSnapshot(t *testing.T) {
	f := newFSM(t)
	steps := []struct {
		name    string
		typ     MessageType
		msg     any
		wantErr error
	}{
		{"init", ACLInitRequestType, &acl.InitRequest{}, nil},
		{"bootstrap", ACLBootstrapRequestType, &acl.BootstrapRequest{Token: acl.Token{AccessorID: "a1", SecretID: "s1"}}, nil},
		{"second bootstrap refused", ACLBootstrapRequestType, &acl.BootstrapRequest{Token: acl.Token{AccessorID: "a2", SecretID: "s2"}}, acl.ErrBootstrapDone},
		{"policy", ACLPolicySetRequestType, &acl.PolicySetRequest{Policy: acl.Policy{ID: "p1", Name: "kv-ro", Rules: `key_prefix "" { policy = "read" }`}}, nil},
		{"policy with bad rules", ACLPolicySetRequestType, &acl.PolicySetRequest{Policy: acl.Policy{ID: "p2", Name: "bad", Rules: `key "x" { policy = "all" }`}}, acl.ErrInvalid},
		{"policy with taken name", ACLPolicySetRequestType, &acl.PolicySetRequest{Policy: acl.Policy{ID: "p3", Name: "kv-ro"}}, acl.ErrInvalid},
		{"role", ACLRoleSetRequestType, &acl.RoleSetRequest{Role: acl.Role{ID: "r1", Name: "ro", Policies: []acl.Link{{ID: "p1"}}}}, nil},
		{"token on role", ACLTokenSetRequestType, &acl.TokenSetRequest{Token: acl.Token{AccessorID: "t1", SecretID: "ts1", Roles: []acl.Link{{ID: "r1"}}}, Create: true}, nil},
		{"token with unknown policy", ACLTokenSetRequestType, &acl.TokenSetRequest{Token: acl.Token{AccessorID: "t2", SecretID: "ts2", Policies: []acl.Link{{ID: "nope"}}}}, acl.ErrInvalid},
		{"token reusing a secret", ACLTokenSetRequestType, &acl.TokenSetRequest{Token: acl.Token{AccessorID: "t3", SecretID: "ts1"}}, acl.ErrInvalid},
		{"anonymous token not deletable", ACLTokenDeleteRequestType, &acl.DeleteRequest{ID: acl.AnonymousTokenID}, acl.ErrInvalid},
		{"management policy not deletable", ACLPolicyDeleteRequestType, &acl.DeleteRequest{ID: acl.ManagementPolicyID}, acl.ErrInvalid},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			res := apply(t, f, uint64(10+i), st.typ, st.msg)
			err, _ := res.(error)
			if st.wantErr == nil && err != nil || st.wantErr != nil && !errors.Is(err, st.wantErr) {
				t.Fatalf("got %v, want %v", err, st.wantErr)
			}
		})
	}

	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	if err := snap.Persist(&s); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	g := newFSM(t)
	if err := g.Restore(io.NopCloser(bytes.NewReader(s.Bytes()))); err != nil {
		t.Fatal(err)
	}
	tx := g.State().ReadTxn()
	defer tx.Abort()
	res, err := acl.Resolve(tx, "ts1", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if res.AccessorID != "t1" || len(res.Policies) != 1 || res.Policies[0].ID != "p1" {
		t.Fatalf("restored token resolves to %+v", res)
	}
	if res, err := acl.Resolve(tx, "s1", testNow); err != nil || !res.Management {
		t.Fatalf("restored bootstrap token: %+v %v", res, err)
	}
	if ok, _ := acl.Bootstrapped(tx); !ok {
		t.Fatal("restore lost the bootstrap marker: bootstrap would be allowed again")
	}
	if _, anon, _ := acl.TokenByAccessor(tx, nil, acl.AnonymousTokenID); anon == nil {
		t.Fatal("restore lost the anonymous token")
	}
}

// testNow is a fixed clock for expiry checks.
var testNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
