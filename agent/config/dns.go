package config

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// DNSConfig is the typed form of the "dns_config" block (Config.DNSConfig),
// with Consul's keys. Field comments state defaults (DefaultDNSConfig).
type DNSConfig struct {
	// AllowStale lets any server answer DNS reads (allow_stale). Default true.
	AllowStale bool
	// MaxStale is how far behind the leader a stale answer may be before it
	// is asked again of the leader (max_stale). Default 87600h, as Consul.
	MaxStale time.Duration
	// NodeTTL is the TTL of node records (node_ttl). Default 0.
	NodeTTL time.Duration
	// ServiceTTL maps service names, "*"-suffixed prefixes included, to
	// TTLs (service_ttl). Default none (0).
	ServiceTTL map[string]time.Duration
	// OnlyPassing answers only instances whose checks all pass
	// (only_passing). Default false.
	OnlyPassing bool
	// EnableTruncate sets the TC bit on trimmed UDP answers
	// (enable_truncate). Default true, unlike Consul.
	EnableTruncate bool
	// UDPAnswerLimit caps answers to UDP clients without EDNS0
	// (udp_answer_limit). Default 3.
	UDPAnswerLimit int
	// ARecordLimit caps address records of service answers
	// (a_record_limit); 0 means no cap. Default 0.
	ARecordLimit int
	// RecursorTimeout bounds one recursor exchange (recursor_timeout). Default 2s.
	RecursorTimeout time.Duration
	// RecursorStrategy is "sequential" or "random" (recursor_strategy).
	// Default "sequential".
	RecursorStrategy string
	// DisableCompression (disable_compression). Default false.
	DisableCompression bool
	// NodeMetaTXT adds node meta TXT records to the additional section
	// (enable_additional_node_meta_txt). Default true.
	NodeMetaTXT bool
	// SOA timers in seconds (soa: refresh, retry, expire, min_ttl).
	// Defaults 3600, 600, 86400, 0.
	SOARefresh, SOARetry, SOAExpire, SOAMinTTL uint32
	// UseCache and CacheMaxAge are accepted for compatibility (use_cache,
	// cache_max_age): the agent always serves DNS from a cache kept
	// current by blocking queries.
	UseCache    bool
	CacheMaxAge time.Duration
}

// DefaultDNSConfig returns the defaults stated in the field comments.
func DefaultDNSConfig() DNSConfig {
	return DNSConfig{
		AllowStale:       true,
		MaxStale:         87600 * time.Hour,
		EnableTruncate:   true,
		UDPAnswerLimit:   3,
		RecursorTimeout:  2 * time.Second,
		RecursorStrategy: "sequential",
		NodeMetaTXT:      true,
		SOARefresh:       3600,
		SOARetry:         600,
		SOAExpire:        86400,
	}
}

// ParseDNSConfig decodes a raw "dns_config" block over the defaults.
// Durations are strings ("10s"); unknown keys are errors.
func ParseDNSConfig(raw map[string]interface{}) (DNSConfig, error) {
	c := DefaultDNSConfig()
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := raw[k]
		var err error
		switch k {
		case "allow_stale":
			c.AllowStale, err = dnsBool(v)
		case "max_stale":
			c.MaxStale, err = dnsDuration(v)
		case "node_ttl":
			c.NodeTTL, err = dnsDuration(v)
		case "service_ttl":
			m, ok := v.(map[string]interface{})
			if !ok {
				err = fmt.Errorf("want an object of durations, got %T", v)
				break
			}
			c.ServiceTTL = make(map[string]time.Duration, len(m))
			for name, d := range m {
				if c.ServiceTTL[name], err = dnsDuration(d); err != nil {
					err = fmt.Errorf("%q: %w", name, err)
					break
				}
			}
		case "only_passing":
			c.OnlyPassing, err = dnsBool(v)
		case "enable_truncate":
			c.EnableTruncate, err = dnsBool(v)
		case "udp_answer_limit":
			c.UDPAnswerLimit, err = dnsInt(v)
			if err == nil && c.UDPAnswerLimit < 1 {
				err = fmt.Errorf("must be positive")
			}
		case "a_record_limit":
			c.ARecordLimit, err = dnsInt(v)
			if err == nil && c.ARecordLimit < 0 {
				err = fmt.Errorf("must not be negative")
			}
		case "recursor_timeout":
			c.RecursorTimeout, err = dnsDuration(v)
			if err == nil && c.RecursorTimeout <= 0 {
				err = fmt.Errorf("must be positive")
			}
		case "recursor_strategy":
			s, ok := v.(string)
			if !ok || (s != "sequential" && s != "random") {
				err = fmt.Errorf(`want "sequential" or "random", got %v`, v)
			}
			c.RecursorStrategy = s
		case "disable_compression":
			c.DisableCompression, err = dnsBool(v)
		case "enable_additional_node_meta_txt":
			c.NodeMetaTXT, err = dnsBool(v)
		case "use_cache":
			c.UseCache, err = dnsBool(v)
		case "cache_max_age":
			c.CacheMaxAge, err = dnsDuration(v)
		case "soa":
			err = c.parseSOA(v)
		default:
			err = fmt.Errorf("unknown key")
		}
		if err != nil {
			return DNSConfig{}, fmt.Errorf("config: dns_config.%s: %w", k, err)
		}
	}
	return c, nil
}

func (c *DNSConfig) parseSOA(v interface{}) error {
	m, ok := v.(map[string]interface{})
	if !ok {
		return fmt.Errorf("want an object, got %T", v)
	}
	for k, x := range m {
		n, err := dnsInt(x)
		if err == nil && (n < 0 || n > math.MaxUint32) {
			err = fmt.Errorf("out of range")
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		switch k {
		case "refresh":
			c.SOARefresh = uint32(n)
		case "retry":
			c.SOARetry = uint32(n)
		case "expire":
			c.SOAExpire = uint32(n)
		case "min_ttl":
			c.SOAMinTTL = uint32(n)
		default:
			return fmt.Errorf("%s: unknown key", k)
		}
	}
	return nil
}

func dnsBool(v interface{}) (bool, error) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case string:
		switch strings.ToLower(v) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, fmt.Errorf("want a boolean, got %v", v)
}

func dnsInt(v interface{}) (int, error) {
	switch v := v.(type) {
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < math.MaxInt32*2 {
			return int(v), nil
		}
	case int:
		return v, nil
	case int64:
		return int(v), nil
	}
	return 0, fmt.Errorf("want an integer, got %v", v)
}

func dnsDuration(v interface{}) (time.Duration, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf(`want a duration string such as "10s", got %v`, v)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %v", d)
	}
	return d, nil
}
