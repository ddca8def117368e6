package acl

import (
	"errors"
	"testing"
)

func mustRules(t *testing.T, text string) *Rules {
	t.Helper()
	r, err := ParseRules(text)
	if err != nil {
		t.Fatalf("ParseRules: %v", err)
	}
	return r
}

func TestAuthorizer(t *testing.T) {
	const kv = `
key_prefix "" { policy = "read" }
key_prefix "app/" { policy = "write" }
key_prefix "app/secret/" { policy = "deny" }
key "app/secret/shared" { policy = "read" }
key_prefix "lst/" { policy = "list" }
service_prefix "web" { policy = "write" }
service "web-admin" { policy = "read" }
node_prefix "" { policy = "read" }
operator = "read"
`
	cases := []struct {
		name     string
		policies []string
		def      DefaultPolicy
		res      Resource
		key      string
		need     Access
		want     bool
	}{
		{"root prefix grants read", []string{kv}, DefaultDeny, ResourceKey, "other", AccessRead, true},
		{"root prefix read is not write", []string{kv}, DefaultDeny, ResourceKey, "other", AccessWrite, false},
		{"longer prefix wins", []string{kv}, DefaultDeny, ResourceKey, "app/x", AccessWrite, true},
		{"longest prefix deny wins over shorter write", []string{kv}, DefaultDeny, ResourceKey, "app/secret/x", AccessRead, false},
		{"exact beats prefix", []string{kv}, DefaultDeny, ResourceKey, "app/secret/shared", AccessRead, true},
		{"exact read is not write", []string{kv}, DefaultDeny, ResourceKey, "app/secret/shared", AccessWrite, false},
		{"list grants list", []string{kv}, DefaultDeny, ResourceKey, "lst/a", AccessList, true},
		{"list grants read", []string{kv}, DefaultDeny, ResourceKey, "lst/a", AccessRead, true},
		{"list is not write", []string{kv}, DefaultDeny, ResourceKey, "lst/a", AccessWrite, false},
		{"read is not list", []string{kv}, DefaultDeny, ResourceKey, "other", AccessList, false},
		{"service prefix", []string{kv}, DefaultDeny, ResourceService, "web-1", AccessWrite, true},
		{"service exact beats prefix", []string{kv}, DefaultDeny, ResourceService, "web-admin", AccessWrite, false},
		{"no rule: default deny", []string{kv}, DefaultDeny, ResourceSession, "s", AccessRead, false},
		{"no rule: default allow", []string{kv}, DefaultAllow, ResourceSession, "s", AccessWrite, true},
		{"rule beats default allow", []string{kv}, DefaultAllow, ResourceKey, "app/secret/x", AccessRead, false},
		{"no policies, default deny", nil, DefaultDeny, ResourceKey, "a", AccessRead, false},
		{"merge: write beats read", []string{`key "a" { policy = "read" }`, `key "a" { policy = "write" }`}, DefaultDeny, ResourceKey, "a", AccessWrite, true},
		{"merge: deny beats write", []string{`key "a" { policy = "write" }`, `key "a" { policy = "deny" }`}, DefaultDeny, ResourceKey, "a", AccessRead, false},
		{"merge: deny beats write, other order", []string{`key "a" { policy = "deny" }`, `key "a" { policy = "write" }`}, DefaultDeny, ResourceKey, "a", AccessRead, false},
		{"merge: prefix from another policy", []string{`key_prefix "a/" { policy = "write" }`, `key_prefix "a/b/" { policy = "read" }`}, DefaultDeny, ResourceKey, "a/b/c", AccessWrite, false},
		{"deploy prefix", []string{`deploy_prefix "web" { policy = "write" }`}, DefaultDeny, ResourceDeploy, "web-1", AccessWrite, true},
		{"deploy other name", []string{`deploy_prefix "web" { policy = "write" }`}, DefaultDeny, ResourceDeploy, "db", AccessWrite, false},
		{"json rules", []string{`{"key_prefix": {"j/": {"policy": "write"}}}`}, DefaultDeny, ResourceKey, "j/1", AccessWrite, true},
		{"agent", []string{`agent "n1" { policy = "read" }`}, DefaultDeny, ResourceAgent, "n1", AccessRead, true},
		{"event prefix", []string{`event_prefix "" { policy = "write" }`}, DefaultDeny, ResourceEvent, "deploy", AccessWrite, true},
		{"query", []string{`query "q" { policy = "write" }`}, DefaultDeny, ResourceQuery, "q", AccessWrite, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rs []*Rules
			for _, p := range tc.policies {
				rs = append(rs, mustRules(t, p))
			}
			a := NewAuthorizer("acc", tc.def, rs...)
			if got := a.Allowed(tc.res, tc.key, tc.need); got != tc.want {
				t.Fatalf("Allowed(%s %q %s) = %v, want %v", tc.res, tc.key, tc.need, got, tc.want)
			}
			err := a.Check(tc.res, tc.key, tc.need)
			if tc.want != (err == nil) {
				t.Fatalf("Check = %v, want allowed=%v", err, tc.want)
			}
			if err != nil && !errors.Is(err, ErrPermissionDenied) {
				t.Fatalf("Check error %v does not wrap ErrPermissionDenied", err)
			}
		})
	}
}

func TestGlobalRules(t *testing.T) {
	cases := []struct {
		name   string
		rules  string
		def    DefaultPolicy
		global string
		need   Access
		want   bool
	}{
		{"operator read", `operator = "read"`, DefaultDeny, GlobalOperator, AccessRead, true},
		{"operator read is not write", `operator = "read"`, DefaultDeny, GlobalOperator, AccessWrite, false},
		{"operator default allow", ``, DefaultAllow, GlobalOperator, AccessWrite, true},
		{"keyring write", `keyring = "write"`, DefaultDeny, GlobalKeyring, AccessWrite, true},
		{"acl never from default allow", ``, DefaultAllow, GlobalACL, AccessRead, false},
		{"acl write", `acl = "write"`, DefaultDeny, GlobalACL, AccessWrite, true},
		{"operator deny beats default allow", `operator = "deny"`, DefaultAllow, GlobalOperator, AccessRead, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAuthorizer("", tc.def, mustRules(t, tc.rules))
			if got := a.GlobalAllowed(tc.global, tc.need); got != tc.want {
				t.Fatalf("GlobalAllowed = %v, want %v", got, tc.want)
			}
		})
	}
	if !AllowAll().GlobalAllowed(GlobalACL, AccessWrite) {
		t.Fatal("management authorizer lacks acl:write")
	}
}

// TestKeyWritePrefixCVE201912291: a recursive delete of a prefix needs
// write on every rule under it; write on the prefix alone is not enough
// when a key below is protected (Consul CVE-2019-12291).
func TestKeyWritePrefixCVE201912291(t *testing.T) {
	cases := []struct {
		name   string
		rules  string
		def    DefaultPolicy
		prefix string
		want   bool
	}{
		{"write on prefix, nothing below", `key_prefix "a/" { policy = "write" }`, DefaultDeny, "a/", true},
		{"write on parent prefix", `key_prefix "" { policy = "write" }`, DefaultDeny, "a/", true},
		{"exact deny below", `key_prefix "a/" { policy = "write" }
key "a/locked" { policy = "deny" }`, DefaultDeny, "a/", false},
		{"exact read below", `key_prefix "a/" { policy = "write" }
key "a/ro" { policy = "read" }`, DefaultDeny, "a/", false},
		{"prefix read below", `key_prefix "" { policy = "write" }
key_prefix "a/b/" { policy = "read" }`, DefaultDeny, "a/", false},
		{"write below but not on prefix", `key_prefix "a/b/" { policy = "write" }`, DefaultDeny, "a/", false},
		{"write below, default allow", `key_prefix "a/b/" { policy = "write" }`, DefaultAllow, "a/", true},
		{"deny below, default allow", `key "a/x" { policy = "deny" }`, DefaultAllow, "a/", false},
		{"empty prefix with any read rule", `key_prefix "" { policy = "write" }
key "z" { policy = "read" }`, DefaultDeny, "", false},
		{"rule outside prefix does not matter", `key_prefix "a/" { policy = "write" }
key "b/x" { policy = "deny" }`, DefaultDeny, "a/", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAuthorizer("", tc.def, mustRules(t, tc.rules))
			if got := a.KeyWritePrefix(tc.prefix); got != tc.want {
				t.Fatalf("KeyWritePrefix(%q) = %v, want %v", tc.prefix, got, tc.want)
			}
		})
	}
}

func TestParseRulesErrors(t *testing.T) {
	cases := []struct {
		name  string
		rules string
	}{
		{"unknown resource", `foo "x" { policy = "read" }`},
		{"bad level", `key "x" { policy = "all" }`},
		{"list outside key", `service "x" { policy = "list" }`},
		{"bad operator", `operator = "list"`},
		{"syntax", `key "x" {`},
		{"missing policy", `key "x" { }`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseRules(tc.rules); !errors.Is(err, ErrInvalidRules) {
				t.Fatalf("ParseRules(%q) = %v, want ErrInvalidRules", tc.rules, err)
			}
		})
	}
}

func TestPermissionErrorText(t *testing.T) {
	a := NewAuthorizer("abc", DefaultDeny)
	err := a.Check(ResourceKey, "k", AccessWrite)
	want := `Permission denied: token with AccessorID 'abc' lacks permission 'key:write' on "k"`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}
