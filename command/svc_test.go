package command

import (
	"testing"

	"github.com/hashicorp/consul/api"
)

// TestGetServiceNotFound checks that getService tells "no such service"
// (the agent's 404, matched as an api.StatusError) from a failure.
func TestGetServiceNotFound(t *testing.T) {
	agent := newFakeAgent(t, map[string]route{
		"GET /v1/shoal/services/web":    {200, `{"Name":"web","Version":"v1"}`},
		"GET /v1/shoal/services/broken": {500, "rpc error: no cluster leader 404 times"},
	})
	cases := []struct {
		name      string
		service   string
		wantFound bool
		wantErr   bool
	}{
		{"existing service", "web", true, false},
		{"404 is not found, not an error", "gone", false, false},
		{"500 mentioning 404 is an error", "broken", false, true},
	}
	conf := api.DefaultConfig()
	conf.Address = agent.addr()
	client, err := api.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, found, err := getService(client, tc.service)
			if found != tc.wantFound || (err != nil) != tc.wantErr {
				t.Fatalf("getService(%q) = found %v, err %v; want found %v, error %v", tc.service, found, err, tc.wantFound, tc.wantErr)
			}
		})
	}
}
