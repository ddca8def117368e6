#!/usr/bin/env bash
# Runs every Shoal test: gofmt, go vet, then go test (with -race for the
# packages that run servers and agents). On a fresh Debian machine it first
# installs what the tests use (dig, ip) when missing — as root, through
# apt-get. It starts nothing it does not stop again.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*"; }

# Debian packages providing commands the tests run.
need_pkgs=()
command -v dig >/dev/null 2>&1 || need_pkgs+=(dnsutils)
command -v ip >/dev/null 2>&1 || need_pkgs+=(iproute2)
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

log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

log "go vet"
go vet ./...

# Packages that run servers, agents or concurrency-heavy code get -race.
race_pkgs=$(go list ./... | grep -E '/(server|agent|state|kv|catalog|dns)(/|$)' || true)
other_pkgs=$(go list ./... | grep -vE '/(server|agent|state|kv|catalog|dns)(/|$)' || true)

log "go test -race (servers and agents)"
go test -race -count=1 -timeout 12m $race_pkgs
log "go test (everything else)"
go test -count=1 -timeout 12m $other_pkgs
