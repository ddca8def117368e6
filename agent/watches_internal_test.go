package agent

import (
	"net/http"
	"testing"
)

// TestInProcessClientToken: the watches' client sends the watch's token,
// or none, never the CONSUL_HTTP_TOKEN of the agent's environment.
func TestInProcessClientToken(t *testing.T) {
	t.Setenv("CONSUL_HTTP_TOKEN", "from-the-environment")
	for _, tc := range []struct{ name, token, want string }{
		{"no token: the agent's default", "", ""},
		{"the watch's token", "watch-token", "watch-token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Get("X-Consul-Token")
				w.Header().Set("X-Consul-Index", "5")
				_, _ = w.Write([]byte(`{"a":["t"]}`))
			})
			c, err := inProcessClient(h, tc.token)
			if err != nil {
				t.Fatal(err)
			}
			svcs, meta, err := c.Catalog().Services(nil)
			if err != nil || svcs["a"] == nil || meta.LastIndex != 5 {
				t.Fatalf("services %v %+v %v", svcs, meta, err)
			}
			if got != tc.want {
				t.Fatalf("token %q, want %q", got, tc.want)
			}
		})
	}
}
