package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/cli"
)

func newKVGet(ui cli.Ui) cli.Command    { return newKVGetCommand(ui) }
func newKVPut(ui cli.Ui) cli.Command    { return newKVPutCommand(ui) }
func newKVDelete(ui cli.Ui) cli.Command { return newKVDeleteCommand(ui) }
func newKVExport(ui cli.Ui) cli.Command { return newKVExportCommand(ui) }
func newKVImport(ui cli.Ui) cli.Command { return newKVImportCommand(ui) }
func newWatch(ui cli.Ui) cli.Command    { return newWatchCommand(ui) }
func newLock(ui cli.Ui) cli.Command     { return newLockCommand(ui) }

const fooPair = `[{"LockIndex":0,"Key":"foo","Flags":3,"Value":"YmFy","CreateIndex":5,"ModifyIndex":7}]`

func TestKVCommands(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(file, []byte("from-file"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		newCmd   func(cli.Ui) cli.Command
		args     []string
		routes   map[string]route
		wantCode int
		wantOut  string
		wantErr  []string
		wantReq  *request
	}{
		{name: "get value", newCmd: newKVGet, args: []string{"foo"},
			routes: map[string]route{"GET /v1/kv/foo": {body: fooPair}}, wantOut: "bar\n"},
		{name: "get strips leading slash", newCmd: newKVGet, args: []string{"/foo"},
			routes: map[string]route{"GET /v1/kv/foo": {body: fooPair}}, wantOut: "bar\n"},
		{name: "get base64", newCmd: newKVGet, args: []string{"-base64", "foo"},
			routes: map[string]route{"GET /v1/kv/foo": {body: fooPair}}, wantOut: "YmFy\n"},
		{name: "get missing", newCmd: newKVGet, args: []string{"nope"},
			routes: map[string]route{}, wantCode: 1, wantErr: []string{"Error! No key exists at: nope"}},
		{name: "get needs a key", newCmd: newKVGet, wantCode: 1, wantErr: []string{"Missing KEY"}},
		{name: "get recurse", newCmd: newKVGet, args: []string{"-recurse", "f"},
			routes: map[string]route{"GET /v1/kv/f": {body: fooPair}}, wantOut: "foo:bar\n",
			wantReq: &request{Method: "GET", Path: "/v1/kv/f", Query: "recurse="}},
		{name: "get keys", newCmd: newKVGet, args: []string{"-keys", "a/"},
			routes: map[string]route{"GET /v1/kv/a/": {body: `["a/b/","a/c"]`}}, wantOut: "a/b/\na/c\n",
			wantReq: &request{Method: "GET", Path: "/v1/kv/a/", Query: "keys=&separator=%2F"}},
		{name: "get detailed", newCmd: newKVGet, args: []string{"-detailed", "foo"},
			routes: map[string]route{"GET /v1/kv/foo": {body: fooPair}},
			wantOut: "CreateIndex      5\nFlags            3\nKey              foo\nLockIndex        0\n" +
				"ModifyIndex      7\nSession          -\nValue            bar\n"},
		{name: "put", newCmd: newKVPut, args: []string{"-flags", "9", "k", "v"},
			routes: map[string]route{"PUT /v1/kv/k": {body: "true"}}, wantOut: "Success! Data written to: k\n",
			wantReq: &request{Method: "PUT", Path: "/v1/kv/k", Query: "flags=9"}},
		{name: "put from file", newCmd: newKVPut, args: []string{"k", "@" + file},
			routes: map[string]route{"PUT /v1/kv/k": {body: "true"}}, wantOut: "Success! Data written to: k\n"},
		{name: "put cas failed", newCmd: newKVPut, args: []string{"-cas", "-modify-index", "3", "k", "v"},
			routes:   map[string]route{"PUT /v1/kv/k": {body: "false"}},
			wantCode: 1, wantErr: []string{"Error! Did not write to k: CAS failed"},
			wantReq: &request{Method: "PUT", Path: "/v1/kv/k", Query: "cas=3"}},
		{name: "put acquire needs session", newCmd: newKVPut, args: []string{"-acquire", "k"},
			wantCode: 1, wantErr: []string{"Missing -session"}},
		{name: "put acquire", newCmd: newKVPut, args: []string{"-acquire", "-session", "s1", "k"},
			routes: map[string]route{"PUT /v1/kv/k": {body: "true"}}, wantOut: "Success! Lock acquired on: k\n",
			wantReq: &request{Method: "PUT", Path: "/v1/kv/k", Query: "acquire=s1"}},
		{name: "delete recurse", newCmd: newKVDelete, args: []string{"-recurse", "p/"},
			routes: map[string]route{"DELETE /v1/kv/p/": {body: "true"}}, wantOut: "Success! Deleted keys with prefix: p/\n",
			wantReq: &request{Method: "DELETE", Path: "/v1/kv/p/", Query: "recurse="}},
		{name: "delete cas needs index", newCmd: newKVDelete, args: []string{"-cas", "k"},
			wantCode: 1, wantErr: []string{"Must specify -modify-index"}},
		{name: "export", newCmd: newKVExport, args: []string{"f"},
			routes:  map[string]route{"GET /v1/kv/f": {body: fooPair}},
			wantOut: "[\n\t{\n\t\t\"key\": \"foo\",\n\t\t\"flags\": 3,\n\t\t\"value\": \"YmFy\"\n\t}\n]\n"},
		{name: "import", newCmd: newKVImport, args: []string{`[{"key":"foo","flags":3,"value":"YmFy"}]`},
			routes: map[string]route{"PUT /v1/kv/foo": {body: "true"}}, wantOut: "Imported: foo\n",
			wantReq: &request{Method: "PUT", Path: "/v1/kv/foo", Query: "flags=3"}},
		{name: "watch needs type", newCmd: newWatch, wantCode: 1, wantErr: []string{"Must specify watch type"}},
		{name: "watch unknown type", newCmd: newWatch, args: []string{"-type", "bogus"},
			wantCode: 1, wantErr: []string{"Unsupported watch type: bogus"}},
		{name: "watch key needs key", newCmd: newWatch, args: []string{"-type", "key"},
			wantCode: 1, wantErr: []string{"Must specify a single key"}},
		{name: "watch key once", newCmd: newWatch, args: []string{"-type", "key", "-key", "foo"},
			routes:  map[string]route{"GET /v1/kv/foo": {body: fooPair}},
			wantOut: "{\n    \"Key\": \"foo\",\n    \"CreateIndex\": 5,\n    \"ModifyIndex\": 7,\n    \"LockIndex\": 0,\n    \"Flags\": 3,\n    \"Value\": \"YmFy\",\n    \"Session\": \"\"\n}\n"},
		{name: "lock needs child", newCmd: newLock, args: []string{"prefix"},
			wantCode: 1, wantErr: []string{"Key prefix and child command must be specified"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			agent := newFakeAgent(t, tc.routes)
			args := append([]string{"-http-addr", agent.addr()}, tc.args...)
			got := runCommand(t, tc.newCmd, args...)
			if tc.wantErr == nil {
				assertResult(t, got, tc.wantCode, tc.wantOut)
			} else {
				if got.code != tc.wantCode || !strings.Contains(got.stderr, tc.wantErr[0]) {
					t.Fatalf("code %d stderr %q, want %d and %q", got.code, got.stderr, tc.wantCode, tc.wantErr[0])
				}
			}
			if tc.wantReq != nil {
				reqs := agent.requests()
				if len(reqs) == 0 || reqs[0].Method != tc.wantReq.Method || reqs[0].Path != tc.wantReq.Path || reqs[0].Query != tc.wantReq.Query {
					t.Fatalf("requests %+v, want first %+v", reqs, *tc.wantReq)
				}
			}
		})
	}
}
