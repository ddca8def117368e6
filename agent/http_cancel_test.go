package agent

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// TestWriteErrorClientGone: a request whose client went away (a blocking
// query's watcher exited) is neither answered 500 nor logged at ERROR;
// a real failure still is.
func TestWriteErrorClientGone(t *testing.T) {
	cases := []struct {
		name      string
		cancel    bool
		wantCode  int
		wantError bool
	}{
		{"client gone", true, 0, false},
		{"server failure", false, http.StatusInternalServerError, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			a := &Agent{logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug})}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := httptest.NewRequest(http.MethodGet, "/v1/kv/k?index=5", nil).WithContext(ctx)
			if tc.cancel {
				cancel()
			}
			w := httptest.NewRecorder()
			a.writeError(w, r, errors.New("rpc error: context canceled"))
			if tc.wantCode == 0 && (w.Body.Len() != 0 || w.Code != http.StatusOK && w.Code != 0) {
				t.Fatalf("answered %d %q to a client that left", w.Code, w.Body.String())
			}
			if tc.wantCode != 0 && w.Code != tc.wantCode {
				t.Fatalf("code %d, want %d", w.Code, tc.wantCode)
			}
			if got := strings.Contains(logs.String(), "[ERROR]"); got != tc.wantError {
				t.Fatalf("logged at ERROR = %v, want %v:\n%s", got, tc.wantError, logs.String())
			}
		})
	}
}
