package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StatusError is a non-200 answer of the HTTP API.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Code, strings.TrimSpace(e.Body))
}

// outcomeOf classifies a request's error: nil is OK; a 4xx answer, or a
// refused connection (nothing was sent: the server is down) is Failed, not
// applied; anything else (timeout, reset, 5xx) is Unknown.
func outcomeOf(err error) Outcome {
	var se *StatusError
	switch {
	case err == nil:
		return OK
	case errors.As(err, &se) && se.Code >= 400 && se.Code < 500, errors.Is(err, syscall.ECONNREFUSED):
		return Failed
	default:
		return Unknown
	}
}

// apiClient talks to one server's HTTP API.
type apiClient struct {
	addr string
	hc   *http.Client
}

func newAPIClient(addr string, timeout time.Duration) *apiClient {
	// No keep-alive: a paused or partitioned server must not hold a
	// client's only connection.
	tr := &http.Transport{DisableKeepAlives: true}
	return &apiClient{addr: addr, hc: &http.Client{Timeout: timeout, Transport: tr}}
}

func (a *apiClient) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+a.addr+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// kvEntry is one entry of GET /v1/kv/KEY.
type kvEntry struct {
	Key         string
	Value       []byte
	ModifyIndex uint64
	Session     string
}

// get reads key with the query (e.g. "consistent"); a missing key is a
// nil entry.
func (a *apiClient) get(ctx context.Context, key, query string) (*kvEntry, error) {
	code, body, err := a.do(ctx, http.MethodGet, "/v1/kv/"+key+"?"+query, nil)
	switch {
	case err != nil:
		return nil, err
	case code == http.StatusNotFound:
		return nil, nil
	case code != http.StatusOK:
		return nil, &StatusError{Code: code, Body: string(body)}
	}
	var out []kvEntry
	if err := json.Unmarshal(body, &out); err != nil || len(out) != 1 {
		return nil, fmt.Errorf("chaos: decode %s: %v: %q", key, err, body)
	}
	return &out[0], nil
}

// put writes value to key with the query (cas=, acquire=, release= or
// none) and returns the server's true/false.
func (a *apiClient) put(ctx context.Context, key, query, value string) (bool, error) {
	code, body, err := a.do(ctx, http.MethodPut, "/v1/kv/"+key+"?"+query, []byte(value))
	switch {
	case err != nil:
		return false, err
	case code != http.StatusOK:
		return false, &StatusError{Code: code, Body: string(body)}
	}
	b, err := strconv.ParseBool(strings.TrimSpace(string(body)))
	if err != nil {
		return false, fmt.Errorf("chaos: put %s: answer %q", key, body)
	}
	return b, nil
}

// createSession creates a session that no fault invalidates: no checks
// (not even serfHealth), no TTL, no lock delay.
func (a *apiClient) createSession(ctx context.Context, name string) (string, error) {
	body := fmt.Sprintf(`{"Name": %q, "Checks": [], "NodeChecks": [], "TTL": "", "LockDelay": "0s"}`, name)
	code, out, err := a.do(ctx, http.MethodPut, "/v1/session/create", []byte(body))
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", &StatusError{Code: code, Body: string(out)}
	}
	var r struct{ ID string }
	if err := json.Unmarshal(out, &r); err != nil || r.ID == "" {
		return "", fmt.Errorf("chaos: session create: %v: %q", err, out)
	}
	return r.ID, nil
}

// destroySession destroys a session (releasing the locks it holds).
func (a *apiClient) destroySession(ctx context.Context, id string) error {
	code, out, err := a.do(ctx, http.MethodPut, "/v1/session/destroy/"+id, nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return &StatusError{Code: code, Body: string(out)}
	}
	return nil
}

// getJSON decodes GET path from addr into v.
func getJSON(ctx context.Context, addr, path string, v any) error {
	code, body, err := newAPIClient(addr, 3*time.Second).do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return &StatusError{Code: code, Body: string(body)}
	}
	return json.Unmarshal(body, v)
}
