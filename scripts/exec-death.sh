#!/usr/bin/env bash
# Measures how long a dead exec replica stays in the catalog: a dev agent
# (this tree, or the binary given as $1) runs one replica of `sleep 600`
# with the exec driver; each trial kills its process with SIGKILL and
# times, with a blocking query, until the service has no passing instance
# (docs/performance.md). Usage: scripts/exec-death.sh [shoal-binary] [port]
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
bin=${1:-}
if [ -z "$bin" ]; then
	bin=$work/shoal
	go build -o "$bin" .
fi
p=${2:-18500}
"$bin" agent -dev -http-port "$p" -dns-port $((p + 1)) -serf-lan-port $((p + 2)) \
	-server-port $((p + 3)) -data-dir "$work/data" >"$work/log" 2>&1 &
agent=$!
trap 'kill "$agent" 2>/dev/null; wait "$agent" 2>/dev/null; rm -rf "$work"' EXIT
api=http://127.0.0.1:$p/v1
index() { tr -d '\r' <"$1" | awk -F': ' 'tolower($1)=="x-consul-index"{print $2}'; }
for _ in $(seq 100); do curl -sf "$api/status/leader" | grep -q . && break; sleep 0.1; done
curl -sf -X PUT -d '{"name":"sleepy","driver":"exec","command":"sleep","args":["600"],"replicas":1,"restart":{"delay":"100ms"}}' \
	"$api/kv/shoal/services/sleepy" >/dev/null
for trial in 1 2 3 4 5; do
	pid=
	for _ in $(seq 200); do
		body=$(curl -s "$api/health/service/sleepy?passing")
		pid=$(pgrep -P "$agent" -x sleep | head -1 || true)
		[ "$body" != "[]" ] && [ -n "$pid" ] && break
		sleep 0.05
	done
	[ -n "$pid" ] || { echo "no running replica; agent log: $work/log" >&2; tail -5 "$work/log" >&2; exit 1; }
	sleep 1.5
	curl -s -D "$work/h" -o /dev/null "$api/health/service/sleepy?passing"
	idx=$(index "$work/h")
	(
		while :; do
			body=$(curl -s -D "$work/h" "$api/health/service/sleepy?passing&index=$idx&wait=20s")
			idx=$(index "$work/h")
			if [ "$body" = "[]" ]; then date +%s%N >"$work/gone"; exit 0; fi
		done
	) &
	watcher=$!
	sleep 0.3
	t0=$(date +%s%N)
	kill -9 "$pid"
	wait "$watcher"
	echo "trial $trial: $((($(cat "$work/gone") - t0) / 1000000)) ms from SIGKILL to no passing instance"
done
