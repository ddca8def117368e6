package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDNSConfig(t *testing.T) {
	cases := []struct {
		name    string
		raw     map[string]interface{}
		check   func(t *testing.T, c DNSConfig)
		wantErr string
	}{
		{name: "defaults", raw: nil, check: func(t *testing.T, c DNSConfig) {
			if !c.AllowStale || c.MaxStale != 87600*time.Hour || !c.EnableTruncate || c.UDPAnswerLimit != 3 ||
				c.RecursorTimeout != 2*time.Second || !c.NodeMetaTXT || c.SOARefresh != 3600 || c.SOAExpire != 86400 {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "every key, as decoded from JSON or HCL", raw: map[string]interface{}{
			"allow_stale": false, "max_stale": "10s", "node_ttl": "30s",
			"service_ttl":  map[string]interface{}{"*": "5s", "web": "10s"},
			"only_passing": true, "enable_truncate": false, "udp_answer_limit": float64(5),
			"a_record_limit": float64(2), "recursor_timeout": "500ms", "recursor_strategy": "random",
			"disable_compression": true, "enable_additional_node_meta_txt": false,
			"use_cache": true, "cache_max_age": "5s",
			"soa": map[string]interface{}{"refresh": float64(1), "retry": float64(2), "expire": float64(3), "min_ttl": float64(4)},
		}, check: func(t *testing.T, c DNSConfig) {
			want := DNSConfig{AllowStale: false, MaxStale: 10 * time.Second, NodeTTL: 30 * time.Second,
				OnlyPassing: true, EnableTruncate: false, UDPAnswerLimit: 5, ARecordLimit: 2,
				RecursorTimeout: 500 * time.Millisecond, RecursorStrategy: "random", DisableCompression: true,
				NodeMetaTXT: false, SOARefresh: 1, SOARetry: 2, SOAExpire: 3, SOAMinTTL: 4,
				UseCache: true, CacheMaxAge: 5 * time.Second}
			ttl := c.ServiceTTL
			c.ServiceTTL = nil
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got  %+v\nwant %+v", c, want)
			}
			if ttl["*"] != 5*time.Second || ttl["web"] != 10*time.Second {
				t.Errorf("service_ttl %v", ttl)
			}
		}},
		{name: "unknown key", raw: map[string]interface{}{"allow_stail": true}, wantErr: "dns_config.allow_stail: unknown key"},
		{name: "bad duration", raw: map[string]interface{}{"node_ttl": "soon"}, wantErr: "dns_config.node_ttl"},
		{name: "number for duration", raw: map[string]interface{}{"max_stale": float64(10)}, wantErr: "duration string"},
		{name: "zero udp limit", raw: map[string]interface{}{"udp_answer_limit": float64(0)}, wantErr: "must be positive"},
		{name: "bad strategy", raw: map[string]interface{}{"recursor_strategy": "fastest"}, wantErr: "recursor_strategy"},
		{name: "bad soa key", raw: map[string]interface{}{"soa": map[string]interface{}{"minttl": float64(1)}}, wantErr: "minttl"},
		{name: "bad service_ttl", raw: map[string]interface{}{"service_ttl": map[string]interface{}{"web": "x"}}, wantErr: `"web"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseDNSConfig(tc.raw)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}
