package checks

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// HTTP checks a URL: 2xx is passing, 429 Too Many Requests is warning,
// anything else (or no answer within Timeout) is critical. The output is
// "HTTP <method> <url>: <status> Output: <body>", truncated to
// OutputMaxSize.
//
// Redirects are followed only to the same host and port (at most 10):
// a redirect elsewhere is not followed, and its 3xx answer is the result
// (critical), so a checked service cannot point the agent at another host
// (Consul CVE-2022-29153, where Consul follows it by default).
// DisableRedirects follows none, as Consul's disable_redirects.
type HTTP struct {
	CheckID       string
	URL           string
	Method        string              // default GET
	Header        map[string][]string // sent with every request
	Body          string
	Interval      time.Duration
	Timeout       time.Duration // default DefaultTimeout
	TLSSkipVerify bool
	TLSServerName string
	// DisableRedirects makes any 3xx answer the result.
	DisableRedirects bool
	OutputMaxSize    int // default DefaultOutputMaxSize
	// AtOnce runs the first check as soon as it starts instead of after
	// a random stagger (a replica the scheduler has just started, whose
	// first passing check may gate a rolling update).
	AtOnce bool
	Notify Notify
	Logger hclog.Logger

	client *http.Client
	loop   loop
}

// Start implements Runner.
func (c *HTTP) Start() {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Method == "" {
		c.Method = http.MethodGet
	}
	tr := &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: true, // as Consul: a check must not hold connections open
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: c.TLSSkipVerify, //nolint:gosec // the check's own setting
			ServerName:         c.TLSServerName,
		},
	}
	c.client = &http.Client{Transport: tr, Timeout: c.Timeout, CheckRedirect: c.checkRedirect}
	c.loop.start(c.Interval, c.AtOnce, c.Check)
}

// Stop implements Runner.
func (c *HTTP) Stop() { c.loop.stop() }

// Check runs the check once and reports the result.
func (c *HTTP) Check() {
	if c.client == nil {
		c.client = &http.Client{Timeout: c.Timeout, CheckRedirect: c.checkRedirect}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.method(), c.URL, strings.NewReader(c.Body))
	if err != nil {
		c.Notify.UpdateCheck(c.CheckID, Critical, err.Error())
		return
	}
	for k, vs := range c.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", UserAgent)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "text/plain, text/*, */*")
	}
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host
	}
	resp, err := c.client.Do(req)
	if err != nil {
		logger(c.Logger).Debug("http check failed", "check", c.CheckID, "error", err)
		c.Notify.UpdateCheck(c.CheckID, Critical, err.Error())
		return
	}
	defer resp.Body.Close()
	max := c.OutputMaxSize
	if max <= 0 {
		max = DefaultOutputMaxSize
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, int64(max)))
	rest, _ := io.Copy(io.Discard, resp.Body)
	output := fmt.Sprintf("HTTP %s %s: %s Output: %s", c.method(), c.URL, resp.Status,
		truncate(body, len(body)+int(rest), max))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		c.Notify.UpdateCheck(c.CheckID, Passing, output)
	case resp.StatusCode == http.StatusTooManyRequests:
		c.Notify.UpdateCheck(c.CheckID, Warning, output)
	default:
		c.Notify.UpdateCheck(c.CheckID, Critical, output)
	}
}

// maxRedirects is how many same-host redirects a check follows, as Go's
// default client.
const maxRedirects = 10

// checkRedirect follows a redirect only to the host and port of the
// check's own URL; otherwise the redirect answer is the result.
func (c *HTTP) checkRedirect(req *http.Request, via []*http.Request) error {
	if c.DisableRedirects || len(via) >= maxRedirects || !sameHost(req.URL, via[0].URL) {
		return http.ErrUseLastResponse
	}
	return nil
}

// sameHost reports whether a and b name the same scheme, host and port.
func sameHost(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

func (c *HTTP) method() string {
	if c.Method == "" {
		return http.MethodGet
	}
	return c.Method
}

func (c *HTTP) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }
