package agent

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseLockDelay(t *testing.T) {
	cases := []struct {
		name    string
		raw     string
		want    time.Duration
		wantErr bool
	}{
		{"absent is the default", "", 15 * time.Second, false},
		{"null is the default", "null", 15 * time.Second, false},
		{"duration string", `"30s"`, 30 * time.Second, false},
		{"milliseconds string (api client)", `"15000ms"`, 15 * time.Second, false},
		{"small number is seconds", `20`, 20 * time.Second, false},
		{"large number is nanoseconds", `5000000000`, 5 * time.Second, false},
		{"zero disables", `0`, 0, false},
		{"bad string", `"soon"`, 0, true},
		{"bad type", `true`, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLockDelay(json.RawMessage(tc.raw))
			if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
				t.Fatalf("parseLockDelay(%s) = %v, %v; want %v (error %v)", tc.raw, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
