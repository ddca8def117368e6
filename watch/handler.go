package watch

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// Script returns a handler that runs argv[0] with argv[1:] (or, with
// shell, "/bin/sh -c argv[0]") with the view as JSON on its stdin and
// CONSUL_INDEX in its environment, its output going to stdout and stderr.
// It returns once the child exits; the context's end kills it.
func Script(argv []string, shell bool, stdout, stderr io.Writer) Handler {
	return func(ctx context.Context, view any, index uint64) error {
		b, err := json.Marshal(view)
		if err != nil {
			return err
		}
		var cmd *exec.Cmd
		if shell {
			cmd = exec.CommandContext(ctx, "/bin/sh", "-c", argv[0])
		} else {
			cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
		}
		cmd.Stdin = bytes.NewReader(append(b, '\n'))
		cmd.Stdout, cmd.Stderr = stdout, stderr
		cmd.Env = append(os.Environ(), "CONSUL_INDEX="+strconv.FormatUint(index, 10))
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", argv[0], err)
		}
		return nil
	}
}

// HTTPConfig is Consul's http_handler_config.
type HTTPConfig struct {
	// Path is the URL the view is sent to.
	Path string
	// Method defaults to POST.
	Method string
	// Header is added to every request.
	Header map[string][]string
	// Timeout bounds each request; default 10 s.
	Timeout time.Duration
	// TLSSkipVerify accepts any certificate from an https Path.
	TLSSkipVerify bool
}

// HTTP returns a handler that sends the view as a JSON body to cfg.Path,
// with the index in X-Consul-Index; an answer other than 2xx is an error.
func HTTP(cfg HTTPConfig) Handler {
	method := cfg.Method
	if method == "" {
		method = http.MethodPost
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.TLSSkipVerify {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the operator's choice, as Consul's tls_skip_verify
	}
	client := &http.Client{Transport: tr, Timeout: timeout}
	return func(ctx context.Context, view any, index uint64) error {
		b, err := json.Marshal(view)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, method, cfg.Path, bytes.NewReader(append(b, '\n')))
		if err != nil {
			return err
		}
		for k, vs := range cfg.Header {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Consul-Index", strconv.FormatUint(index, 10))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: %s: %s", method, cfg.Path, resp.Status, bytes.TrimSpace(body))
		}
		return nil
	}
}
