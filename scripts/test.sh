#!/usr/bin/env bash
# Runs every Shoal test: gofmt, go vet, then go test (with -race for the
# packages that run servers and agents). On a fresh Debian machine it first
# installs what the tests use (dig, ip, dockerd, docker-registry, chromium) when missing — as root, through
# apt-get. When no Docker engine answers (DOCKER_HOST, /var/run/docker.sock)
# and it is root, it starts a dockerd of its own for the run (data in a temp
# dir) and exports DOCKER_HOST for internal/dockertest. It starts nothing it
# does not stop again.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*"; }

# Debian packages providing commands the tests run.
need_pkgs=()
command -v dig >/dev/null 2>&1 || need_pkgs+=(dnsutils)
command -v ip >/dev/null 2>&1 || need_pkgs+=(iproute2)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || need_pkgs+=(iptables)
command -v nsenter >/dev/null 2>&1 || need_pkgs+=(util-linux)
command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || need_pkgs+=(docker.io)
# Image pulls are tested against a local registry, with and without
# htpasswd auth (internal/registrytest).
[ -x /usr/bin/docker-registry ] || need_pkgs+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || need_pkgs+=(apache2-utils)
# The web UI's browser tests (test/ui) and the website's render test drive
# Debian's chromium.
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need_pkgs+=(chromium)
if ((${#need_pkgs[@]})); then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		log "installing ${need_pkgs[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null
		apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
	else
		log "missing ${need_pkgs[*]} and not root with apt-get: tests that need them will say so and skip"
	fi
fi

# As root (CI) every test must run: a test that lacks Docker, dig, VXLAN or
# network namespaces fails instead of skipping (internal/testenv).
if [ "$(id -u)" = 0 ] && [ -z "${SHOAL_TEST_STRICT:-}" ]; then
	export SHOAL_TEST_STRICT=1
fi

log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

log "go vet"
go vet ./...
(cd tools/sidebyside && go vet ./...)   # its own module: etcd's client stays out of go.mod

# Packages that run servers, agents or concurrency-heavy code get -race.
race_pkgs=$(go list ./... | grep -E '/(server|agent|state|kv|catalog|dns)(/|$)' || true)
other_pkgs=$(go list ./... | grep -vE '/(server|agent|state|kv|catalog|dns)(/|$)' | grep -v '/test/chaos$' || true)
# The browser tests (test/ui, and the website's render test) run beside
# the others but, as root, in a network namespace of their own with only a
# loopback: Chromium fails every request in flight when the host's network
# interfaces change (net::ERR_NETWORK_CHANGED), and the Docker, overlay
# and mesh tests add and remove interfaces all the time. (The UI copes
# with such a failure by reloading itself, which TestUIStartsAfterAPassingLoadFailure
# checks; the namespace keeps the other tests' clicks and loads from it.)
browser_pkgs=$(go list ./test/ui ./website)
other_pkgs=$(grep -vxF "$browser_pkgs" <<<"$other_pkgs" || true)
browser_ns=""

# A Docker engine for the driver tests. internal/dockertest uses DOCKER_HOST
# or /var/run/docker.sock when it answers; otherwise start one for this run,
# with its own data root, exec root, socket and pidfile in a temp dir, and
# stop it by PID on exit.
test_dockerd_dir=""
test_dockerd_pid=""
forward_was_accept=""
had_docker0=""
had_docker_chains=""
engine_answers() { timeout 10 docker -H "$1" version >/dev/null 2>&1; }
stop_test_dockerd() {
	[ -n "$test_dockerd_dir" ] || return 0
	if [ -n "$test_dockerd_pid" ] && kill -0 "$test_dockerd_pid" 2>/dev/null; then
		log "stopping the test dockerd (pid $test_dockerd_pid)"
		kill "$test_dockerd_pid" 2>/dev/null || true
		for _ in $(seq 150); do kill -0 "$test_dockerd_pid" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$test_dockerd_pid" 2>/dev/null || true
	fi
	# containerd and shims left behind: their command lines name our exec root.
	local p
	for p in /proc/[0-9]*; do
		if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "$test_dockerd_dir/exec"; then
			kill -9 "${p#/proc/}" 2>/dev/null || true
		fi
	done
	awk -v d="$test_dockerd_dir/" 'index($5, d) == 1 { print length($5), $5 }' /proc/self/mountinfo |
		sort -rn | cut -d' ' -f2- | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$test_dockerd_dir"
	test_dockerd_dir=""
	# Undo what dockerd leaves in the namespace (FORWARD policy DROP, docker0)
	# unless another dockerd runs in it.
	local mine other=""
	mine=$(readlink /proc/self/ns/net)
	for p in /proc/[0-9]*; do
		if [ "$(cat "$p/comm" 2>/dev/null)" = dockerd ] && [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$mine" ]; then
			other=1
		fi
	done
	if [ -z "$other" ]; then
		[ -z "$forward_was_accept" ] || iptables -P FORWARD ACCEPT 2>/dev/null || true
		[ -n "$had_docker0" ] || ip link del docker0 2>/dev/null || true
		[ -n "$had_docker_chains" ] || remove_docker_rules
	fi
}
# remove_docker_rules deletes the iptables rules and chains dockerd created
# (they were not there before it started).
remove_docker_rules() {
	local t r c
	for t in filter nat; do
		iptables -t "$t" -S 2>/dev/null | grep -E '^-A .*(-j DOCKER|docker0|172\.31\.250\.)' | sed 's/^-A/-D/' |
			while read -r r; do eval "iptables -t $t $r" 2>/dev/null || true; done
	done
	for c in DOCKER-USER DOCKER-ISOLATION-STAGE-1 DOCKER-ISOLATION-STAGE-2 DOCKER; do
		iptables -F "$c" 2>/dev/null && iptables -X "$c" 2>/dev/null || true
	done
	iptables -t nat -F DOCKER 2>/dev/null && iptables -t nat -X DOCKER 2>/dev/null || true
}
browser_pid=""
browser_out=""
cleanup() {
	stop_test_dockerd
	if [ -n "$browser_pid" ]; then kill "$browser_pid" 2>/dev/null || true; fi
	if [ -n "$browser_ns" ]; then ip netns del "$browser_ns" 2>/dev/null || true; fi
	if [ -n "$browser_out" ]; then rm -f "$browser_out"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM # so that the EXIT trap runs
if ! command -v docker >/dev/null 2>&1; then
	log "no docker CLI: Docker tests will find or start an engine themselves, or skip"
elif { [ -n "${DOCKER_HOST:-}" ] && engine_answers "$DOCKER_HOST"; } ||
	{ [ -z "${DOCKER_HOST:-}" ] && engine_answers unix:///var/run/docker.sock; }; then
	log "using the Docker engine at ${DOCKER_HOST:-unix:///var/run/docker.sock}"
elif [ "$(id -u)" = 0 ] && dockerd_bin=$(command -v dockerd || ls /usr/sbin/dockerd 2>/dev/null); then
	iptables -S FORWARD 2>/dev/null | grep -q '^-P FORWARD ACCEPT' && forward_was_accept=1
	[ -e /sys/class/net/docker0 ] && had_docker0=1
	iptables -S DOCKER >/dev/null 2>&1 && had_docker_chains=1
	test_dockerd_dir=$(mktemp -d /tmp/shoal-test-dockerd.XXXXXX)
	mkdir -p "$test_dockerd_dir/data" "$test_dockerd_dir/exec"
	log "starting a dockerd for the tests in $test_dockerd_dir"
	setsid "$dockerd_bin" --data-root "$test_dockerd_dir/data" --exec-root "$test_dockerd_dir/exec" \
		-H "unix://$test_dockerd_dir/docker.sock" --pidfile "$test_dockerd_dir/docker.pid" \
		--bip 172.31.250.1/24 </dev/null >"$test_dockerd_dir/dockerd.log" 2>&1 &
	test_dockerd_pid=$!
	for _ in $(seq 120); do
		engine_answers "unix://$test_dockerd_dir/docker.sock" && break
		kill -0 "$test_dockerd_pid" 2>/dev/null || break
		sleep 0.5
	done
	if engine_answers "unix://$test_dockerd_dir/docker.sock"; then
		test_dockerd_pid=$(cat "$test_dockerd_dir/docker.pid" 2>/dev/null || echo "$test_dockerd_pid")
		export DOCKER_HOST="unix://$test_dockerd_dir/docker.sock"
		log "test dockerd (pid $test_dockerd_pid) answers at $DOCKER_HOST"
	else
		log "the test dockerd did not come up (Docker tests try once more, or skip); its log:"
		tail -n 20 "$test_dockerd_dir/dockerd.log" || true
		stop_test_dockerd
	fi
else
	log "no Docker engine answers and not root with dockerd: Docker tests will say so and skip"
fi

log "go test -race (servers and agents)"
go test -race -count=1 -timeout 12m $race_pkgs
log "go test (everything else)"
browser_run=()
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null 2>&1; then
	browser_ns="shoal-browser-$$"
	ip netns add "$browser_ns"
	ip -n "$browser_ns" link set lo up
	browser_run=(ip netns exec "$browser_ns")
fi
browser_out=$(mktemp /tmp/shoal-browser-tests.XXXXXX)
"${browser_run[@]}" go test -count=1 -timeout 12m $browser_pkgs >"$browser_out" 2>&1 &
browser_pid=$!
other_rc=0
go test -count=1 -timeout 12m $other_pkgs || other_rc=$?
browser_rc=0
wait "$browser_pid" || browser_rc=$?
browser_pid=""
log "go test (browser tests${browser_ns:+, in network namespace $browser_ns})"
cat "$browser_out"
if [ "$other_rc" != 0 ] || [ "$browser_rc" != 0 ]; then exit 1; fi
(cd tools/sidebyside && go test -count=1 ./...)   # its own module
# The bounded fault-injection suite (docs/chaos.md), alone, so that no other
# test's cluster shares the CPUs with its timing-sensitive faults. The long
# run is scripts/chaos.sh.
log "go test ./test/chaos (bounded fault injection)"
go test -count=1 -timeout 15m ./test/chaos
