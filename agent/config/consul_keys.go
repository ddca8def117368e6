package config

import "fmt"

// consulIgnored are Consul configuration keys Shoal does not implement but
// that change nothing a Shoal user relies on: a Consul config file that
// sets them loads, and the agent logs that they were ignored. Dotted names
// are nested keys.
var consulIgnored = map[string]bool{
	"addresses": true, "advertise_addr_wan": true, "audit": true, "auto_reload_config": true,
	"cloud": true, "config_entries": true, "connect": true, "disable_anonymous_signature": true,
	"disable_host_node_id": true, "disable_keyring_file": true, "disable_remote_exec": true,
	"disable_update_check": true, "discard_check_output": true, "enable_central_service_config": true,
	"enable_syslog": true, "http_config": true,
	"license_path": true, "log_file": true, "log_rotate_bytes": true, "log_rotate_duration": true,
	"log_rotate_max_files": true, "primary_datacenter": true, "raft_protocol": true,
	"reconnect_timeout": true, "rejoin_after_leave": true, "retry_join_wan": true, "segment": true,
	"server_name": true, "syslog_facility": true,
	"translate_wan_addrs": true, "ui": true, "ui_config": true, "ui_dir": true, "unix_sockets": true,
	"ports.grpc": true, "ports.grpc_tls": true, "tls.grpc": true, "ports.serf_wan": true,
	"ports.sidecar_min_port": true, "ports.sidecar_max_port": true, "ports.expose_min_port": true,
	"ports.expose_max_port":        true,
	"performance.leave_drain_time": true,
	"limits.rpc_rate":              true, "limits.rpc_max_burst": true,
	"acl.policy_ttl": true, "acl.role_ttl": true, "acl.enable_token_replication": true,
	// Telemetry: Shoal never puts the host name in metric names (as
	// Consul with disable_hostname), and has no DogStatsD or Circonus sink.
	"telemetry.disable_hostname": true, "telemetry.enable_host_metrics": true,
	"telemetry.disable_compat_1.9": true, "telemetry.retry_failed_connection": true,
	"telemetry.dogstatsd_addr": true, "telemetry.dogstatsd_tags": true,
	"telemetry.circonus_api_token": true, "telemetry.circonus_api_app": true,
	"telemetry.circonus_api_url": true, "telemetry.circonus_submission_interval": true,
	"telemetry.circonus_submission_url": true, "telemetry.circonus_check_id": true,
	"telemetry.circonus_check_force_metric_activation": true, "telemetry.circonus_check_instance_id": true,
	"telemetry.circonus_check_search_tag": true, "telemetry.circonus_check_display_name": true,
	"telemetry.circonus_check_tags": true, "telemetry.circonus_broker_id": true,
	"telemetry.circonus_broker_select_tag": true,
}

// consulRefused are Consul keys whose absence would weaken security: a
// file that sets them is refused rather than run without what it asks for
// (automatic TLS distribution and configuration).
var consulRefused = map[string]bool{
	"auto_encrypt": true, "auto_config": true,
}

// consulKey handles a key Shoal's Config lacks: it reports whether the key
// is a Consul setting to ignore, or returns an error for one Shoal refuses.
func consulKey(name string) (ignore bool, err error) {
	if consulRefused[name] {
		return false, fmt.Errorf("%q is not supported by Shoal, and running without it would be less secure than asked: remove it", name)
	}
	return consulIgnored[name], nil
}
