package agent

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/serf/serf"
	"github.com/shoalproject/shoal/keyring"
	"github.com/shoalproject/shoal/server"
	"github.com/shoalproject/shoal/tlsutil"
)

// setupTLS loads the certificates the configuration names, if any.
func (a *Agent) setupTLS() error {
	tc := a.cfg.TLSConfig()
	if !tc.Enabled() {
		return nil
	}
	c, err := tlsutil.NewConfigurator(tc)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a.tls = c
	return nil
}

// startHTTPS serves the HTTP API over TLS on ports.https (-https-port),
// on every client address, with the same handler and connection limits as
// plain HTTP.
func (a *Agent) startHTTPS() error {
	if a.cfg.Ports.HTTPS <= 0 {
		return nil
	}
	tc := a.tls.IncomingHTTPSConfig()
	for _, ip := range strings.Fields(a.cfg.ClientAddr) {
		addr := net.JoinHostPort(ip, strconv.Itoa(a.cfg.Ports.HTTPS))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("agent: https listener: %w", err)
		}
		a.httpsAddrs = append(a.httpsAddrs, ln.Addr())
		a.serveHTTP(tls.NewListener(newConnLimitListener(ln, a.cfg.Limits.HTTPMaxConnsPerClient), tc))
	}
	return nil
}

// HTTPSAddrs lists the addresses the HTTPS API listens on.
func (a *Agent) HTTPSAddrs() []net.Addr { return a.httpsAddrs }

// keyringRoutes is Consul's /v1/operator/keyring: GET lists the keys,
// POST installs, PUT makes primary, DELETE removes; the last three take
// {"Key": "<base64>"}.
func (a *Agent) keyringRoutes() []route {
	return []route{{"/v1/operator/keyring",
		[]string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}, a.operatorKeyring}}
}

// keyringResponse is Consul's api.KeyringResponse.
type keyringResponse struct {
	WAN         bool
	Datacenter  string
	Segment     string
	Messages    map[string]string
	Keys        map[string]int
	PrimaryKeys map[string]int
	NumNodes    int
}

func (a *Agent) operatorKeyring(w http.ResponseWriter, r *http.Request) (any, error) {
	op := server.KeyringList
	var key string
	if r.Method != http.MethodGet {
		var body struct{ Key string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return nil, badRequest("Request decode failed: %v", err)
		}
		if _, err := keyring.Decode(body.Key); err != nil {
			return nil, badRequest("%v", err)
		}
		key = body.Key
		op = map[string]server.KeyringOp{http.MethodPost: server.KeyringInstall,
			http.MethodPut: server.KeyringUse, http.MethodDelete: server.KeyringRemove}[r.Method]
	}
	start := time.Now()
	resp, err := a.delegate.KeyringOperation(op, key)
	if errors.Is(err, server.ErrNoEncryption) {
		return nil, badRequest("%v", err)
	}
	if err != nil {
		return nil, keyringError(err, resp)
	}
	a.logger.Info("keyring operation", "op", op, "nodes", resp.NumNodes, "took", time.Since(start))
	if op != server.KeyringList {
		return nil, nil
	}
	return []keyringResponse{{Datacenter: a.cfg.Datacenter, Messages: resp.Messages, Keys: resp.Keys,
		PrimaryKeys: resp.PrimaryKeys, NumNodes: resp.NumNodes}}, nil
}

// keyringError adds the members' own messages (for example "key not
// installed") to a failed operation's error, one per line, sorted.
func keyringError(err error, resp *serf.KeyResponse) error {
	msg := err.Error()
	if resp != nil && len(resp.Messages) > 0 {
		var lines []string
		for node, m := range resp.Messages {
			lines = append(lines, node+": "+m)
		}
		sort.Strings(lines)
		msg += "\n" + strings.Join(lines, "\n")
	}
	return HTTPError{Code: http.StatusInternalServerError, Msg: msg}
}
