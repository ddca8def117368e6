package command

import (
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/cli"
	"github.com/shoalproject/shoal/keyring"
)

func newKeyring(ui cli.Ui) cli.Command { return newKeyringCommand(ui) }

const testKey = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="

func TestKeygen(t *testing.T) {
	got := runCommand(t, func(ui cli.Ui) cli.Command { return newKeygenCommand(ui) })
	if got.code != 0 {
		t.Fatalf("exit %d: %s", got.code, got.stderr)
	}
	if k, err := keyring.Decode(strings.TrimSpace(got.stdout)); err != nil || len(k) != 32 {
		t.Fatalf("keygen printed %q: %v", got.stdout, err)
	}
}

func TestKeyringCommand(t *testing.T) {
	list := `[{"WAN":false,"Datacenter":"dc1","Keys":{"` + testKey + `":3},"PrimaryKeys":{"` + testKey + `":3},"NumNodes":3}]`
	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantReq  []request
		wantErr  []string
	}{
		{"list", []string{"-list"}, 0, "==> Gathering installed encryption keys...\n\nLAN:\n  " + testKey + " [3/3]\n",
			[]request{{Method: "GET", Path: "/v1/operator/keyring"}}, nil},
		{"install", []string{"-install", testKey}, 0, "==> Installing new gossip encryption key...\n",
			[]request{{Method: "POST", Path: "/v1/operator/keyring"}}, nil},
		{"use", []string{"-use", testKey}, 0, "==> Changing primary gossip encryption key...\n",
			[]request{{Method: "PUT", Path: "/v1/operator/keyring"}}, nil},
		{"remove", []string{"-remove", testKey}, 0, "==> Removing gossip encryption key...\n",
			[]request{{Method: "DELETE", Path: "/v1/operator/keyring"}}, nil},
		{"no operation", nil, 1, "", nil, []string{"Exactly one of"}},
		{"two operations", []string{"-list", "-use", testKey}, 1, "", nil, []string{"Exactly one of"}},
		{"a bad key never reaches the agent", []string{"-install", "abc"}, 1, "", nil, []string{"gossip key must be base64"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newFakeAgent(t, map[string]route{
				"GET /v1/operator/keyring":    {body: list},
				"POST /v1/operator/keyring":   {},
				"PUT /v1/operator/keyring":    {},
				"DELETE /v1/operator/keyring": {},
			})
			got := runCommand(t, newKeyring, append([]string{"-http-addr", a.addr()}, tc.args...)...)
			if tc.wantCode != 0 {
				if got.code != tc.wantCode {
					t.Fatalf("exit %d, want %d", got.code, tc.wantCode)
				}
				for _, frag := range tc.wantErr {
					if !strings.Contains(got.stderr, frag) {
						t.Fatalf("stderr %q, want %q", got.stderr, frag)
					}
				}
				assertRequests(t, a, nil)
				return
			}
			assertResult(t, got, tc.wantCode, tc.wantOut, tc.wantErr...)
			assertRequests(t, a, tc.wantReq)
		})
	}
}

// TestTLSCreate runs `tls ca create` then `tls cert create` in a fresh
// directory and checks the files are where Consul puts them.
func TestTLSCreate(t *testing.T) {
	t.Chdir(t.TempDir())
	run := func(newCmd func(cli.Ui) cli.Command, args ...string) result {
		return runCommand(t, newCmd, args...)
	}
	ca := func(ui cli.Ui) cli.Command { return newTLSCACreateCommand(ui) }
	cert := func(ui cli.Ui) cli.Command { return newTLSCertCreateCommand(ui) }
	steps := []struct {
		name      string
		cmd       func(cli.Ui) cli.Command
		args      []string
		wantCode  int
		wantFiles []string
	}{
		{"ca", ca, nil, 0, []string{"consul-agent-ca.pem", "consul-agent-ca-key.pem"}},
		{"ca again refuses to overwrite", ca, nil, 1, nil},
		{"server", cert, []string{"-server", "-additional-dnsname", "s1.example", "-additional-ipaddress", "10.0.0.1"}, 0,
			[]string{"dc1-server-consul-0.pem", "dc1-server-consul-0-key.pem"}},
		{"second server", cert, []string{"-server"}, 0, []string{"dc1-server-consul-1.pem"}},
		{"client", cert, []string{"-client", "-dc", "dc1"}, 0, []string{"dc1-client-consul-0.pem", "dc1-client-consul-0-key.pem"}},
		{"no role", cert, nil, 1, nil},
		{"both roles", cert, []string{"-server", "-client"}, 1, nil},
		{"bad ip", cert, []string{"-server", "-additional-ipaddress", "nope"}, 1, nil},
		{"another domain needs its CA", cert, []string{"-server", "-domain", "shoal"}, 1, nil},
	}
	for _, st := range steps {
		got := run(st.cmd, st.args...)
		if got.code != st.wantCode {
			t.Fatalf("%s: exit %d, want %d (%s)", st.name, got.code, st.wantCode, got.stderr)
		}
		for _, f := range st.wantFiles {
			if _, err := os.Stat(f); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
	}
}
