#!/usr/bin/env bash
# secbench.sh: KV put throughput of a 3-server cluster of real processes
# with gossip encryption + TLS (verify_incoming, verify_outgoing,
# verify_server_hostname; kvbench over HTTPS with a client certificate)
# against the same cluster without them (plain HTTP), alternating ROUNDS
# times; then the time of a gossip key rotation (shoal keyring -install,
# -use, -remove) on the secure cluster, and a server restart after it.
#
#   scripts/secbench.sh [ROUNDS] [DURATION]     (defaults 3 and 10s)
#
# Servers listen on 127.0.0.1..3 with random high ports; everything lives
# in a temp dir removed at exit; processes are stopped by PID.
set -euo pipefail
ROUNDS=${1:-3}
DURATION=${2:-10s}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/secbench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	sleep 1
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
go build -o "$WORK/shoal" "$ROOT"
go build -o "$WORK/kvbench" "$ROOT/tools/kvbench"
SHOAL=$WORK/shoal
BASE=$((20000 + RANDOM % 20000))
HTTP=$BASE HTTPS=$((BASE + 1)) SERF=$((BASE + 2)) RPC=$((BASE + 3))

(cd "$WORK" && $SHOAL tls ca create >/dev/null && $SHOAL tls cert create -server -additional-ipaddress 127.0.0.2 -additional-ipaddress 127.0.0.3 >/dev/null &&
	$SHOAL tls cert create -client >/dev/null)
KEY=$($SHOAL keygen)
cat >"$WORK/secure.hcl" <<HCL
encrypt = "$KEY"
tls {
  defaults {
    ca_file = "$WORK/consul-agent-ca.pem"
    cert_file = "$WORK/dc1-server-consul-0.pem"
    key_file = "$WORK/dc1-server-consul-0-key.pem"
    verify_incoming = true
    verify_outgoing = true
  }
  internal_rpc { verify_server_hostname = true }
}
ports { https = $HTTPS }
HCL

# start MODE I: starts server I (1..3) in mode plain or secure.
start() {
	local mode=$1 i=$2 extra=()
	[ "$mode" = secure ] && extra=(-config-file "$WORK/secure.hcl")
	mkdir -p "$WORK/$mode/s$i"
	local joins=()
	for j in 1 2 3; do [ "$j" != "$i" ] && joins+=(-retry-join "127.0.0.$j:$SERF"); done
	"$SHOAL" agent -server -bootstrap-expect 3 -node "s$i" -bind "127.0.0.$i" -client "127.0.0.$i" \
		-data-dir "$WORK/$mode/s$i" -http-port "$HTTP" -serf-lan-port "$SERF" -server-port "$RPC" \
		-dns-port -1 -overlay=false -retry-interval 200ms -log-level warn "${joins[@]}" "${extra[@]}" \
		>>"$WORK/$mode-s$i.log" 2>&1 &
	PIDS[$i]=$!
}
stop_all() {
	for i in 1 2 3; do kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
	for i in 1 2 3; do wait "${PIDS[$i]}" 2>/dev/null || true; done
}
wait_leader() {
	for _ in $(seq 200); do
		l=$(curl -sf "http://127.0.0.1:$HTTP/v1/status/leader" || true)
		[ -n "$l" ] && [ "$l" != '""' ] && return 0
		sleep 0.1
	done
	echo "no leader" >&2
	tail -5 "$WORK"/*.log >&2
	return 1
}
bench() {
	local mode=$1 args=(-addr "127.0.0.1:$HTTP,127.0.0.2:$HTTP,127.0.0.3:$HTTP")
	if [ "$mode" = secure ]; then
		args=(-addr "127.0.0.1:$HTTPS,127.0.0.2:$HTTPS,127.0.0.3:$HTTPS" -ca-file "$WORK/consul-agent-ca.pem"
			-client-cert "$WORK/dc1-client-consul-0.pem" -client-key "$WORK/dc1-client-consul-0-key.pem")
	fi
	"$WORK/kvbench" "${args[@]}" -clients 32 -size 256 -duration "$DURATION" -op put
}

for r in $(seq "$ROUNDS"); do
	for mode in plain secure; do
		for i in 1 2 3; do start "$mode" "$i"; done
		wait_leader
		echo "round $r $mode: $(bench "$mode" | tr '\n' ' ')"
		stop_all
	done
done

# Key rotation on the secure cluster, through the CLI over HTTPS.
for i in 1 2 3; do start secure "$i"; done
wait_leader
export CONSUL_HTTP_ADDR=https://127.0.0.1:$HTTPS CONSUL_CACERT=$WORK/consul-agent-ca.pem \
	CONSUL_CLIENT_CERT=$WORK/dc1-client-consul-0.pem CONSUL_CLIENT_KEY=$WORK/dc1-client-consul-0-key.pem
curl -sf --cacert "$CONSUL_CACERT" --cert "$CONSUL_CLIENT_CERT" --key "$CONSUL_CLIENT_KEY" \
	-X PUT -d hello "$CONSUL_HTTP_ADDR/v1/kv/secbench" >/dev/null
NEW=$($SHOAL keyring -list >/dev/null && $SHOAL keygen)
t0=$(date +%s.%N)
$SHOAL keyring -install "$NEW" >/dev/null
t1=$(date +%s.%N)
$SHOAL keyring -use "$NEW" >/dev/null
t2=$(date +%s.%N)
$SHOAL keyring -remove "$KEY" >/dev/null
t3=$(date +%s.%N)
printf 'rotation: install %.0f ms, use %.0f ms, remove %.0f ms, total %.0f ms\n' \
	"$(echo "($t1-$t0)*1000" | bc)" "$(echo "($t2-$t1)*1000" | bc)" "$(echo "($t3-$t2)*1000" | bc)" \
	"$(echo "($t3-$t0)*1000" | bc)"
$SHOAL keyring -list
# Restart s3 (its config still names the old key; its keyring file wins).
kill -TERM "${PIDS[3]}"; wait "${PIDS[3]}" 2>/dev/null || true
start secure 3
for _ in $(seq 100); do
	n=$($SHOAL members 2>/dev/null | grep -c alive || true)
	[ "$n" = 3 ] && break
	sleep 0.2
done
echo "after restarting s3: $n alive members"
$SHOAL keyring -list
got=""
for _ in $(seq 100); do
	got=$(curl -s --cacert "$CONSUL_CACERT" --cert "$CONSUL_CLIENT_CERT" --key "$CONSUL_CLIENT_KEY" \
		"https://127.0.0.3:$HTTPS/v1/kv/secbench?raw&stale" || true)
	[ "$got" = hello ] && break
	sleep 0.2
done
echo "read from the restarted s3 over https with curl: $got"
stop_all
