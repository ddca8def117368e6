#!/usr/bin/env bash
# Measures what Consul's metrics cost the servers: three servers on
# 127.0.0.31-33 (this tree, or the binary given as $1), started alternately
# without a telemetry filter and with one that blocks every metric Raft and
# the request path emit, under tools/kvbench (32 clients, 10 s after a 3 s
# warm-up); prints ops/s and the servers' CPU per operation (/proc/<pid>/stat)
# of each run (docs/performance.md). Usage:
#   scripts/telemetry-cost.sh [shoal-binary] [put|get] [rounds] [kvbench flags...]
# e.g. scripts/telemetry-cost.sh "" get 3 -stale
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=()
stop() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
trap 'stop; rm -rf "$work"' EXIT
bin=${1:-}
if [ -z "$bin" ]; then
	bin=$work/shoal
	go build -o "$bin" .
fi
op=${2:-put}
rounds=${3:-3}
shift $(($# < 3 ? $# : 3))
(cd tools/kvbench && go build -o "$work/kvbench" .)
echo '{}' >"$work/none.json"
echo '{"telemetry": {"prefix_filter": ["-consul.raft", "-consul.api.http", "-consul.client.rpc", "-consul.rpc"]}}' >"$work/filtered.json"
addrs=127.0.0.31:8500,127.0.0.32:8500,127.0.0.33:8500
ticks() { local t=0; for p in "${pids[@]}"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo $t; }
for round in $(seq "$rounds"); do
	for cfg in none filtered; do
		rm -rf "$work"/d*
		for i in 1 2 3; do
			"$bin" agent -server -bootstrap-expect 3 -node "s$i" -bind "127.0.0.3$i" -client "127.0.0.3$i" \
				-data-dir "$work/d$i" -retry-join 127.0.0.31 -retry-join 127.0.0.32 -retry-join 127.0.0.33 \
				-retry-interval 1s -overlay=false -log-level warn -config-file "$work/$cfg.json" >"$work/log$i" 2>&1 &
			pids+=($!)
		done
		for _ in $(seq 120); do
			l=$(curl -s 127.0.0.31:8500/v1/status/leader || true)
			[ -n "$l" ] && [ "$l" != '""' ] && break
			sleep 0.5
		done
		"$work/kvbench" -addr "$addrs" -op "$op" "$@" -duration 3s >/dev/null
		c0=$(ticks)
		out=$("$work/kvbench" -addr "$addrs" -op "$op" "$@" -duration 10s | tail -1)
		c1=$(ticks)
		ops=$(echo "$out" | sed -n 's/^ops=\([0-9]*\) .*/\1/p')
		rate=$(echo "$out" | sed -n 's/.*ops\/s=\([0-9]*\).*/\1/p')
		echo "round $round $op $cfg: $rate ops/s, $(((c1 - c0) * 10000 / ops)) µs of server CPU per op"
		stop
	done
done
