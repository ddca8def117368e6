package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoalproject/shoal/tlsutil"
)

func TestSecuritySettings(t *testing.T) {
	dir := t.TempDir()
	// Files need only exist for Load; their contents are read at start.
	const key32 = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="
	const key16 = "Fyf3DXLcXL1PJTeTp6jSSg=="
	cases := []struct {
		name    string
		args    []string
		file    string // HCL
		want    tlsutil.Config
		check   func(c *Config) bool
		wantErr string
	}{
		{name: "legacy top-level keys, as Consul's",
			file: `encrypt = "` + key32 + `"
ca_file = "ca.pem"
cert_file = "s.pem"
key_file = "s-key.pem"
verify_incoming = true
verify_outgoing = true
verify_server_hostname = true
ports { https = 8501 }
`,
			want: tlsutil.Config{CAFile: "ca.pem", CertFile: "s.pem", KeyFile: "s-key.pem",
				VerifyIncomingRPC: true, VerifyIncomingHTTPS: true, VerifyOutgoing: true,
				VerifyServerHostname: true, Datacenter: "dc1", Domain: "consul"},
			check: func(c *Config) bool { return c.Encrypt == key32 && c.Ports.HTTPS == 8501 }},
		{name: "tls block: defaults, internal_rpc and https",
			file: `tls {
  defaults {
    ca_file = "ca.pem"
    cert_file = "s.pem"
    key_file = "s-key.pem"
    verify_incoming = true
    verify_outgoing = true
  }
  internal_rpc { verify_server_hostname = true }
  https { verify_incoming = false }
}
datacenter = "east"
`,
			want: tlsutil.Config{CAFile: "ca.pem", CertFile: "s.pem", KeyFile: "s-key.pem",
				VerifyIncomingRPC: true, VerifyIncomingHTTPS: false, VerifyOutgoing: true,
				VerifyServerHostname: true, Datacenter: "east", Domain: "consul"}},
		{name: "the tls block overrides a legacy key",
			file: "verify_incoming = true\nca_file = \"ca.pem\"\ncert_file = \"a\"\nkey_file = \"b\"\n" +
				"tls {\n  internal_rpc { verify_incoming = false }\n}\n",
			want: tlsutil.Config{CAFile: "ca.pem", CertFile: "a", KeyFile: "b", VerifyIncomingHTTPS: true,
				Datacenter: "dc1", Domain: "consul"}},
		{name: "-encrypt and -https-port flags", args: []string{"-encrypt", key16, "-https-port", "8501"},
			file:  "cert_file = \"a\"\nkey_file = \"b\"\n",
			want:  tlsutil.Config{CertFile: "a", KeyFile: "b", Datacenter: "dc1", Domain: "consul"},
			check: func(c *Config) bool { return c.Encrypt == key16 && c.Ports.HTTPS == 8501 }},
		{name: "a gossip key of the wrong size", args: []string{"-encrypt", "YWJj"}, wantErr: "-encrypt: keyring: gossip key must be base64 of 16, 24 or 32 bytes, got 3 bytes"},
		{name: "a gossip key that is not base64", args: []string{"-encrypt", "not base64!"}, wantErr: "-encrypt: keyring: gossip key must be base64"},
		{name: "https without a certificate", args: []string{"-https-port", "8501"}, wantErr: "-https-port 8501 requires cert_file and key_file"},
		{name: "verify_incoming without a CA", file: "verify_incoming = true\ncert_file = \"a\"\nkey_file = \"b\"\n", wantErr: "verify_incoming requires ca_file"},
		{name: "verify_server_hostname without a CA", file: "verify_server_hostname = true\n", wantErr: "require ca_file"},
		{name: "a certificate without its key", file: "cert_file = \"a\"\n", wantErr: "cert_file and key_file must be set together"},
		{name: "https on the http port", args: []string{"-https-port", "8500"}, file: "cert_file = \"a\"\nkey_file = \"b\"\n", wantErr: "-http-port and -https-port are both 8500"},
		{name: "a separate https certificate", file: "cert_file = \"a\"\nkey_file = \"b\"\ntls {\n  https { cert_file = \"c\" }\n}\n", wantErr: "tls.https"},
		{name: "unknown key in the tls block", file: "tls {\n  defaults { verify_everything = true }\n}\n", wantErr: `unknown key "tls.defaults.verify_everything"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".hcl")
				if err := os.WriteFile(path, []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, "-config-file", path)
			}
			c, err := Load(loadArgs(dir, args))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.TLSConfig(); got != tc.want {
				t.Fatalf("TLSConfig() = %+v\nwant %+v", got, tc.want)
			}
			if tc.check != nil && !tc.check(c) {
				t.Fatalf("config %+v", c.Security)
			}
		})
	}
}
