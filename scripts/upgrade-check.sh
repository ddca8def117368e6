#!/usr/bin/env bash
# Runs the rolling upgrade of website/content/operating.md ("Upgrades")
# from an older build to this tree: three servers of the old build on
# 127.0.0.61-63 (ports 18500/18300/18301, data under a temp dir), 200 keys
# written, then each server in turn (followers first, the leader last) is
# stopped with SIGINT (a graceful leave), started again with the new
# binary on the same data dir, and must be a voter again within 30 s,
# while a writer puts a new key through every server every 50 ms. At the
# end every server must run, every preloaded and every acknowledged key
# must read back, and every server must advertise Consul's role=consul.
# Usage:
#   scripts/upgrade-check.sh OLD [NEW]
# OLD and NEW are shoal binaries or git commits (built in a worktree);
# NEW defaults to this tree. E.g. scripts/upgrade-check.sh 46b836f
# Stops only the processes it started (by PID) and removes its temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
pids=(0 0 0)
wpid=0
cleanup() {
	[ "$wpid" != 0 ] && kill "$wpid" 2>/dev/null || true
	for p in "${pids[@]}"; do [ "$p" != 0 ] && kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for wt in "$work"/wt-*; do [ -d "$wt" ] && git -C "$root" worktree remove --force "$wt"; done
	rm -rf "$work"
}
trap cleanup EXIT

# binary OLD|NEW: a path to a binary, a commit (built), or "" (this tree).
binary() {
	local spec=$1 name=$2
	if [ -z "$spec" ]; then
		go build -o "$work/$name" .
	elif [ -x "$spec" ]; then
		cp "$spec" "$work/$name"
	else
		git worktree add -q --detach "$work/wt-$name" "$spec"
		(cd "$work/wt-$name" && go build -o "$work/$name" .)
	fi
	echo "$work/$name"
}
[ $# -ge 1 ] || { echo "usage: $0 OLD [NEW]" >&2; exit 2; }
old=$(binary "$1" old)
new=$(binary "${2:-}" new)

addr() { echo "127.0.0.6$1"; }
start() {
	local i=$1 bin=$2
	"$bin" agent -server -bootstrap-expect 3 -node "u$i" -bind "$(addr "$i")" -client "$(addr "$i")" \
		-data-dir "$work/data$i" -http-port 18500 -server-port 18300 -serf-lan-port 18301 -dns-port -1 \
		-retry-join "$(addr 1):18301" -retry-join "$(addr 2):18301" -retry-join "$(addr 3):18301" \
		-retry-interval 1s -overlay=false >>"$work/log$i" 2>&1 &
	pids[$((i - 1))]=$!
}
leader() {
	local i l
	for i in 1 2 3; do
		l=$(curl -s -m 2 "$(addr "$i"):18500/v1/status/leader" || true)
		if [ -n "$l" ] && [ "$l" != '""' ]; then echo "$l"; return; fi
	done
}
fail() {
	echo "FAIL: $*"
	for i in 1 2 3; do echo "---- u$i log (tail)"; tail -n 15 "$work/log$i"; done
	exit 1
}

for i in 1 2 3; do start "$i" "$old"; done
l=""
for _ in $(seq 120); do l=$(leader); [ -n "$l" ] && break; sleep 0.5; done
[ -n "$l" ] || fail "the old cluster elected no leader"
for k in $(seq 200); do
	[ "$(curl -s -m 5 -X PUT -d "v$k" "$(addr 1):18500/v1/kv/upgrade/k$k")" = true ] || fail "preload k$k"
done
(
	n=0
	while :; do
		n=$((n + 1))
		for i in 1 2 3; do
			if [ "$(curl -s -m 3 -X PUT -d "w$n-$i" "$(addr "$i"):18500/v1/kv/upgrade/w$n-$i")" = true ]; then
				echo "w$n-$i" >>"$work/acked"
			fi
		done
		sleep 0.05
	done
) &
wpid=$!

lnum=${l#*127.0.0.6}
lnum=${lnum%%:*}
order=()
for i in 1 2 3; do [ "$i" != "$lnum" ] && order+=("$i"); done
order+=("$lnum")
echo "old leader u$lnum; upgrade order: ${order[*]/#/u}"
for i in "${order[@]}"; do
	kill -INT "${pids[$((i - 1))]}"
	wait "${pids[$((i - 1))]}" || true
	start "$i" "$new"
	ok=0
	for _ in $(seq 30); do
		voters=$(curl -s -m 2 "$(addr "$i"):18500/v1/operator/raft/configuration" |
			jq -r '[.Servers[] | select(.Voter)] | length' 2>/dev/null || true)
		if [ "$voters" = 3 ] && [ -n "$(leader)" ]; then ok=1; break; fi
		sleep 1
	done
	[ "$ok" = 1 ] || fail "u$i did not come back as a voter within 30 s of its restart on the new build"
	echo "u$i upgraded: a voter again"
done
sleep 2
kill "$wpid"
wait "$wpid" 2>/dev/null || true
wpid=0

for i in 1 2 3; do kill -0 "${pids[$((i - 1))]}" 2>/dev/null || fail "u$i is not running"; done
for k in $(seq 200); do
	[ "$(curl -s -m 5 "$(addr 2):18500/v1/kv/upgrade/k$k?raw")" = "v$k" ] || fail "preloaded key k$k lost"
done
acked=0
while read -r k; do
	acked=$((acked + 1))
	[ "$(curl -s -m 5 "$(addr 3):18500/v1/kv/upgrade/$k?raw")" = "$k" ] || fail "acknowledged key $k lost"
done < <(sort -u "$work/acked")
roles=""
for _ in $(seq 20); do
	roles=$(curl -s -m 2 "$(addr 1):18500/v1/agent/members" | jq -r '[.[] | .Tags.role] | unique | join(",")')
	[ "$roles" = consul ] && break
	sleep 0.5
done
[ "$roles" = consul ] || fail "after the upgrade the servers advertise role $roles, want consul"
echo "PASS: 3 servers upgraded one at a time; 200 preloaded and $acked acknowledged keys read back; role=consul"
