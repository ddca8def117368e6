package command

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/hashicorp/consul/api"
)

// Environment variables and defaults used to locate the agent. Shoal's own
// variables win over Consul's so both can be set side by side.
const (
	envShoalHTTPAddr   = "SHOAL_HTTP_ADDR"
	envShoalHTTPToken  = "SHOAL_HTTP_TOKEN"
	envConsulHTTPAddr  = api.HTTPAddrEnvName  // CONSUL_HTTP_ADDR
	envConsulHTTPToken = api.HTTPTokenEnvName // CONSUL_HTTP_TOKEN
	defaultHTTPAddr    = "127.0.0.1:8500"
)

// httpFlags are the flags shared by every command that talks to the agent's
// HTTP API. As in Consul they come in two groups: client flags (how to reach
// the agent) and server flags (how the servers should answer).
type httpFlags struct {
	addr       string
	token      string
	datacenter string
	stale      bool
}

// clientFlags returns a FlagSet with -http-addr and -token bound to h.
func (h *httpFlags) clientFlags() *flag.FlagSet {
	fs := newFlagSet("client")
	fs.StringVar(&h.addr, "http-addr", "",
		"The `address` and port of the Shoal HTTP agent: \"host:port\", "+
			"\"http://host:port\", \"https://host:port\" or \"unix:///path/to/socket\". "+
			"Defaults to $"+envShoalHTTPAddr+", then $"+envConsulHTTPAddr+", then "+
			defaultHTTPAddr+".")
	fs.StringVar(&h.token, "token", "",
		"ACL `token` to send with requests. Defaults to $"+envShoalHTTPToken+
			", then $"+envConsulHTTPToken+".")
	return fs
}

// serverFlags returns a FlagSet with -datacenter and -stale bound to h.
func (h *httpFlags) serverFlags() *flag.FlagSet {
	fs := newFlagSet("server")
	fs.StringVar(&h.datacenter, "datacenter", "",
		"Name of the `datacenter` to query. Defaults to the agent's datacenter.")
	fs.BoolVar(&h.stale, "stale", false,
		"Permit any Shoal server (non-leader) to respond to this request. "+
			"Faster and spreads load, but the answer may be stale.")
	return fs
}

// address returns the agent address to use:
// -http-addr > $SHOAL_HTTP_ADDR > $CONSUL_HTTP_ADDR > 127.0.0.1:8500.
func (h *httpFlags) address() string {
	return firstNonEmpty(h.addr, os.Getenv(envShoalHTTPAddr), os.Getenv(envConsulHTTPAddr), defaultHTTPAddr)
}

// tokenValue returns the ACL token to send:
// -token > $SHOAL_HTTP_TOKEN > $CONSUL_HTTP_TOKEN.
func (h *httpFlags) tokenValue() string {
	return firstNonEmpty(h.token, os.Getenv(envShoalHTTPToken), os.Getenv(envConsulHTTPToken))
}

// apiClient builds a Consul API client for the agent selected by the flags
// and environment. The address it returns is the one to quote in errors.
func (h *httpFlags) apiClient() (*api.Client, string, error) {
	addr := h.address()
	conf := api.DefaultConfig()
	conf.Address = addr
	conf.Token = h.tokenValue()
	conf.Datacenter = h.datacenter
	client, err := api.NewClient(conf)
	if err != nil {
		return nil, addr, fmt.Errorf("creating HTTP client for Shoal agent at %s: %w", addr, err)
	}
	return client, addr, nil
}

// queryOptions returns the read options implied by the server flags.
func (h *httpFlags) queryOptions() *api.QueryOptions {
	return &api.QueryOptions{AllowStale: h.stale}
}

// writeOptions returns the write options implied by the server flags. The
// datacenter is already set on the client; -stale has no meaning for writes.
func (h *httpFlags) writeOptions() *api.WriteOptions {
	return &api.WriteOptions{}
}

// firstNonEmpty returns the first non-empty value, or "" if all are empty.
func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// agentError turns an error from an API call into the single line to print.
// Transport failures (agent down, wrong address, bad socket) are reported as
// "Error connecting to Shoal agent at ADDR: ..."; anything the agent itself
// answered with is reported as "Error <action>: ...".
func agentError(addr, action string, err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return oneLine(fmt.Sprintf("Error connecting to Shoal agent at %s: %v", addr, urlErr.Err))
	}
	return oneLine(fmt.Sprintf("Error %s: %v", action, err))
}

// isConnectError reports whether err means the agent could not be reached.
func isConnectError(err error) bool {
	var urlErr *url.Error
	return errors.As(err, &urlErr)
}

// oneLine collapses line breaks (e.g. in an HTTP error body) so every error
// is printed on a single line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r\n", " ")
	return strings.ReplaceAll(s, "\n", " ")
}
