package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/watch"
)

func TestParseWatches(t *testing.T) {
	tests := []struct {
		name  string
		file  string // a.hcl or a.json by its first character
		want  []Watch
		error string
	}{
		{
			name: "script with args, HCL as in Consul's docs",
			file: "watches = [\n  {\n    type = \"key\"\n    key = \"foo/bar\"\n    args = [\"/usr/bin/h.sh\", \"-redis\"]\n  }\n]\n",
			want: []Watch{{Params: watch.Params{Type: "key", Key: "foo/bar"}, Args: []string{"/usr/bin/h.sh", "-redis"}}},
		},
		{
			name: "two watches, shell handler and http, JSON",
			file: `{"watches": [
				{"type": "service", "service": "web", "passingonly": true, "tag": "v1", "token": "t", "datacenter": "dc1", "stale": true, "handler": "echo hi"},
				{"type": "checks", "state": "critical", "handler_type": "http",
				 "http_handler_config": {"path": "https://h/x", "method": "post", "header": {"X-A": ["1", "2"]}, "timeout": "3s", "tls_skip_verify": true}}]}`,
			want: []Watch{
				{Params: watch.Params{Type: "service", Service: "web", PassingOnly: true, Tag: "v1", Stale: true}, Token: "t", Datacenter: "dc1", Shell: "echo hi"},
				{Params: watch.Params{Type: "checks", State: "critical"}, HTTP: &watch.HTTPConfig{
					Path: "https://h/x", Method: "POST", Header: map[string][]string{"X-A": {"1", "2"}}, Timeout: 3 * time.Second, TLSSkipVerify: true}},
			},
		},
		{
			name: "http block in HCL",
			file: "watches = [{\n  type = \"nodes\"\n  handler_type = \"http\"\n  http_handler_config {\n    path = \"http://127.0.0.1:9/n\"\n    header = { \"Authorization\" = [\"Bearer x\"] }\n    timeout = \"10s\"\n  }\n}]\n",
			want: []Watch{{Params: watch.Params{Type: "nodes"}, HTTP: &watch.HTTPConfig{Path: "http://127.0.0.1:9/n",
				Header: map[string][]string{"Authorization": {"Bearer x"}}, Timeout: 10 * time.Second}}},
		},
		{name: "no type", file: `{"watches": [{"key": "a", "args": ["x"]}]}`, error: "watches[0]: invalid watch: Must specify watch type"},
		{name: "unknown type", file: `{"watches": [{"type": "bogus", "args": ["x"]}]}`, error: "Unsupported watch type: bogus"},
		{name: "key without key", file: `{"watches": [{"type": "key", "args": ["x"]}]}`, error: "Must specify a single key to watch"},
		{name: "unknown key", file: `{"watches": [{"type": "nodes", "args": ["x"], "filter": "x"}]}`, error: `watches[0]: unknown key "filter"`},
		{name: "stale not a bool", file: `{"watches": [{"type": "nodes", "args": ["x"], "stale": "yes"}]}`, error: "stale: cannot use a string as a bool"},
		{name: "no handler", file: `{"watches": [{"type": "nodes"}]}`, error: "needs exactly one of args"},
		{name: "args and handler", file: `{"watches": [{"type": "nodes", "args": ["x"], "handler": "y"}]}`, error: "needs exactly one of args"},
		{name: "args not strings", file: `{"watches": [{"type": "nodes", "args": [1]}]}`, error: "args: cannot use a float64 as a string"},
		{name: "http without config", file: `{"watches": [{"type": "nodes", "handler_type": "http"}]}`, error: "http_handler_config: missing"},
		{name: "http without path", file: `{"watches": [{"type": "nodes", "handler_type": "http", "http_handler_config": {"method": "GET"}}]}`, error: `path "": must be an http:// or https:// URL`},
		{name: "http bad timeout", file: `{"watches": [{"type": "nodes", "handler_type": "http", "http_handler_config": {"path": "http://h", "timeout": "soon"}}]}`, error: "timeout: soon is not a positive duration"},
		{name: "http config on a script", file: `{"watches": [{"type": "nodes", "args": ["x"], "http_handler_config": {"path": "http://h"}}]}`, error: `needs handler_type = "http"`},
		{name: "unknown handler type", file: `{"watches": [{"type": "nodes", "handler_type": "grpc"}]}`, error: `handler_type "grpc": must be "script" or "http"`},
		{name: "second watch named", file: `{"watches": [{"type": "nodes", "args": ["x"]}, {"type": "key", "args": ["x"]}]}`, error: "watches[1]: invalid watch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "a.hcl"
			if strings.HasPrefix(tt.file, "{") {
				name = "a.json"
			}
			dir := writeFiles(t, map[string]string{name: tt.file})
			c, err := Load([]string{"-dev", "-config-file", dir + "/" + name})
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("Load: %v, want an error with %q", err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.ParseWatches()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
			if len(c.Ignored) != 0 {
				t.Fatalf("ignored %v", c.Ignored)
			}
		})
	}
}
