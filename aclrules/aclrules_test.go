package aclrules

import (
	"errors"
	"testing"

	"github.com/shoalproject/shoal/acl"
	"github.com/shoalproject/shoal/internal/deptest"
	"github.com/shoalproject/shoal/kv"
)

func authz(t *testing.T, rules string) *acl.Authorizer {
	t.Helper()
	r, err := acl.ParseRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	return acl.NewAuthorizer("", acl.DefaultDeny, r)
}

const (
	specsWrite = `key_prefix "shoal/services/" { policy = "write" }`
	plainSpec  = `{"name":"web","image":"nginx"}`
)

func TestKVOp(t *testing.T) {
	cases := []struct {
		name  string
		rules string
		verb  kv.Op
		key   string
		value string
		want  bool
	}{
		{"read", `key "a" { policy = "read" }`, kv.OpGet, "a", "", true},
		{"read is not write", `key "a" { policy = "read" }`, kv.OpSet, "a", "x", false},
		{"check-index is a read", `key "a" { policy = "read" }`, kv.OpCheckIndex, "a", "", true},
		{"delete-tree needs the whole prefix", `key_prefix "t/" { policy = "write" }
key "t/ro" { policy = "read" }`, kv.OpDeleteTree, "t/", "", false},
		{"delete-tree with write below", `key_prefix "t/" { policy = "write" }`, kv.OpDeleteTree, "t/", "", true},
		{"spec write without deploy", specsWrite, kv.OpSet, "shoal/services/web", plainSpec, false},
		{"spec write with deploy", specsWrite + `
deploy "web" { policy = "write" }`, kv.OpSet, "shoal/services/web", plainSpec, true},
		{"deploy for another service", specsWrite + `
deploy "db" { policy = "write" }`, kv.OpSet, "shoal/services/web", plainSpec, false},
		{"privileged without operator", specsWrite + `
deploy "web" { policy = "write" }`, kv.OpSet, "shoal/services/web", `{"name":"web","image":"x","privileged":true}`, false},
		{"privileged with operator", specsWrite + `
deploy "web" { policy = "write" }
operator = "write"`, kv.OpSet, "shoal/services/web", `{"name":"web","image":"x","privileged":true}`, true},
		{"docker socket without operator", specsWrite + `
deploy "web" { policy = "write" }`, kv.OpCAS, "shoal/services/web",
			`{"name":"web","image":"x","volumes":[{"source":"/var/run/docker.sock","target":"/s"}]}`, false},
		{"host network without operator", specsWrite + `
deploy "web" { policy = "write" }`, kv.OpSet, "shoal/services/web", `{"name":"web","image":"x","network":"host"}`, false},
		{"exec driver without operator", specsWrite + `
deploy "web" { policy = "write" }`, kv.OpSet, "shoal/services/web", `{"name":"web","driver":"exec","command":"sleep","args":["1"]}`, false},
		{"named volume is fine", specsWrite + `
deploy "web" { policy = "write" }`, kv.OpSet, "shoal/services/web", `{"name":"web","image":"x","volumes":[{"source":"data","target":"/d"}]}`, true},
		{"delete a spec needs deploy", specsWrite, kv.OpDelete, "shoal/services/web", "", false},
		{"delete-tree of every spec needs deploy on all", specsWrite + `
deploy "web" { policy = "write" }`, kv.OpDeleteTree, "shoal/", "", false},
		{"delete-tree of every spec with deploy_prefix", `key_prefix "" { policy = "write" }
deploy_prefix "" { policy = "write" }`, kv.OpDeleteTree, "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := KVOp(authz(t, tc.rules), tc.verb, tc.key, []byte(tc.value))
			if tc.want != (err == nil) {
				t.Fatalf("KVOp = %v, want allowed=%v", err, tc.want)
			}
			if err != nil && !errors.Is(err, acl.ErrPermissionDenied) {
				t.Fatalf("error %v does not wrap ErrPermissionDenied", err)
			}
		})
	}
}

// TestTxnChecksEveryOp is CVE-2021-38698's regression: an allowed first
// operation must not carry a forbidden second one.
func TestTxnChecksEveryOp(t *testing.T) {
	z := authz(t, `key "a" { policy = "write" }`)
	ops := []kv.TxnOp{{Verb: kv.OpSet, Entry: kv.Entry{Key: "a"}}, {Verb: kv.OpGet, Entry: kv.Entry{Key: "secret"}}}
	if err := Txn(z, ops); !errors.Is(err, acl.ErrPermissionDenied) {
		t.Fatalf("Txn = %v, want permission denied for op 1", err)
	}
	if err := Txn(z, ops[:1]); err != nil {
		t.Fatalf("Txn of the allowed op: %v", err)
	}
}

func TestPureImports(t *testing.T) {
	deptest.Check(t, deptest.Rules{
		Forbidden: []string{"net", "os/exec", "github.com/hashicorp/raft", "github.com/shoalproject/shoal/server",
			"github.com/shoalproject/shoal/agent"},
		NoClock: true,
		Why:     "package aclrules must stay pure: decisions depend on the rules and the request alone",
	})
}
