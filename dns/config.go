package dns

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// Config tunes the server. Field comments state defaults (DefaultConfig);
// names follow Consul's dns_config keys.
type Config struct {
	// Domain is served authoritatively. Default "consul.".
	Domain string
	// AltDomain is served as well; answers use the domain of the question.
	// Default none.
	AltDomain string
	// Datacenter is the local datacenter: the default of every lookup and
	// the <dc> of the names in SRV targets and PTR answers. Required.
	Datacenter string
	// NodeName is the agent's node: the node label of the query timers
	// (dns.domain_query, dns.ptr_query), as in Consul.
	NodeName string

	// NodeTTL is the TTL of node records (node_ttl). Default 0.
	NodeTTL time.Duration
	// ServiceTTL maps service names to TTLs (service_ttl). A key ending in
	// "*" matches by prefix ("*" alone matches every service); an exact key
	// wins over prefixes, and the longest prefix wins. Default 0.
	ServiceTTL map[string]time.Duration
	// OnlyPassing drops instances with a warning check too; otherwise only
	// critical ones are dropped (only_passing). Default false.
	OnlyPassing bool
	// EnableTruncate sets the TC bit when records are dropped to fit an
	// answer (enable_truncate). Default true (Consul's default is false).
	EnableTruncate bool
	// UDPAnswerLimit caps the answers of a UDP response without EDNS0
	// (udp_answer_limit), at most 8 as in Consul. Default 3.
	UDPAnswerLimit int
	// ARecordLimit caps the address records of a service lookup over UDP
	// and TCP (a_record_limit). 0 means no cap. Default 0.
	ARecordLimit int
	// NodeMetaTXT adds node metadata as TXT records in the additional
	// section of node A/AAAA and SRV answers
	// (enable_additional_node_meta_txt). Default true.
	NodeMetaTXT bool
	// DisableCompression turns name compression off (disable_compression).
	// Default false.
	DisableCompression bool

	// Recursors are upstream servers ("host[:port]", port 53 by default)
	// for names outside the served domains, tried in order. Default none:
	// such queries are REFUSED.
	Recursors []string
	// RecursorTimeout bounds one exchange with a recursor
	// (recursor_timeout). Default 2s.
	RecursorTimeout time.Duration
	// RecursorRandom tries the recursors in random order instead of the
	// configured one (recursor_strategy "random"). Default false.
	RecursorRandom bool

	// SOA holds the SOA record's timers.
	SOA SOAConfig

	// QueryTimeout bounds the catalog reads of one query before it is
	// answered SERVFAIL. Default 2s.
	QueryTimeout time.Duration
}

// SOAConfig holds the SOA record's timers, in seconds (dns_config.soa).
type SOAConfig struct {
	Refresh uint32 // Default 3600.
	Retry   uint32 // Default 600.
	Expire  uint32 // Default 86400.
	MinTTL  uint32 // Default 0; also the SOA record's own TTL.
}

// maxUDPAnswerLimit bounds UDPAnswerLimit, as Consul does: more would risk
// fragmenting answers that clients without EDNS0 cannot reassemble.
const maxUDPAnswerLimit = 8

// DefaultConfig returns the defaults stated in the field comments.
func DefaultConfig() Config {
	return Config{
		Domain:          "consul.",
		EnableTruncate:  true,
		UDPAnswerLimit:  3,
		NodeMetaTXT:     true,
		RecursorTimeout: 2 * time.Second,
		SOA:             SOAConfig{Refresh: 3600, Retry: 600, Expire: 86400},
		QueryTimeout:    2 * time.Second,
	}
}

// Validate reports the first invalid setting.
func (c *Config) Validate() error {
	if c.Domain == "" || !validDomain(c.Domain) {
		return fmt.Errorf("dns: invalid domain %q", c.Domain)
	}
	if c.AltDomain != "" && !validDomain(c.AltDomain) {
		return fmt.Errorf("dns: invalid alt domain %q", c.AltDomain)
	}
	if c.AltDomain != "" && strings.EqualFold(mdns.Fqdn(c.AltDomain), mdns.Fqdn(c.Domain)) {
		return errors.New("dns: alt domain equals the domain")
	}
	if c.Datacenter == "" {
		return errors.New("dns: missing datacenter")
	}
	if c.UDPAnswerLimit < 1 {
		return fmt.Errorf("dns: udp_answer_limit must be positive, got %d", c.UDPAnswerLimit)
	}
	if c.ARecordLimit < 0 {
		return fmt.Errorf("dns: a_record_limit must not be negative, got %d", c.ARecordLimit)
	}
	if c.NodeTTL < 0 {
		return fmt.Errorf("dns: negative node_ttl %v", c.NodeTTL)
	}
	for k, v := range c.ServiceTTL {
		if v < 0 {
			return fmt.Errorf("dns: negative service_ttl %v for %q", v, k)
		}
	}
	if c.RecursorTimeout <= 0 {
		return fmt.Errorf("dns: recursor_timeout must be positive, got %v", c.RecursorTimeout)
	}
	for _, r := range c.Recursors {
		if _, err := recursorAddr(r); err != nil {
			return err
		}
	}
	return nil
}

func validDomain(d string) bool {
	_, ok := mdns.IsDomainName(d)
	return ok && d != "."
}

// recursorAddr adds port 53 to an address that has none.
func recursorAddr(r string) (string, error) {
	if ip := net.ParseIP(strings.Trim(r, "[]")); ip != nil {
		return net.JoinHostPort(ip.String(), "53"), nil
	}
	host, port, err := net.SplitHostPort(r)
	if err != nil {
		return "", fmt.Errorf("dns: invalid recursor %q: %w", r, err)
	}
	if host == "" || port == "" {
		return "", fmt.Errorf("dns: invalid recursor %q", r)
	}
	return r, nil
}

// ttlFor returns the TTL of a service's records.
func (c *Config) ttlFor(service string) uint32 {
	if len(c.ServiceTTL) == 0 {
		return 0
	}
	if d, ok := c.ServiceTTL[service]; ok {
		return seconds(d)
	}
	best, found := -1, time.Duration(0)
	for k, d := range c.ServiceTTL {
		prefix, ok := strings.CutSuffix(k, "*")
		if ok && len(prefix) > best && strings.HasPrefix(service, prefix) {
			best, found = len(prefix), d
		}
	}
	return seconds(found)
}

func seconds(d time.Duration) uint32 { return uint32(d / time.Second) }
