#!/usr/bin/env bash
# Runs compat.TestConsulCLI (Shoal driven by the real `consul` command line)
# and compat.TestConsulValidatesTelemetryBlock (a block `consul validate`
# accepts loads in Shoal with the same meaning).
# Builds Consul v1.14.11 (MPL-2.0, the last release line whose modules the
# Go module proxy serves complete) once into a cache directory, then runs
# the test with SHOAL_CONSUL_BIN pointing at it. The build takes several
# minutes on two cores, so the default suite (scripts/test.sh) does not run
# it; set SHOAL_CONSUL_BIN to use a consul binary you already have.
set -euo pipefail
cd "$(dirname "$0")/.."

version=v1.14.11
cache="${XDG_CACHE_HOME:-$HOME/.cache}/shoal/consul-$version"
bin="${SHOAL_CONSUL_BIN:-$cache/consul}"
if [ ! -x "$bin" ]; then
	echo "==> building consul $version into $cache (once)"
	work=$(mktemp -d)
	trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
	export GOFLAGS=-mod=mod
	dir=$(go mod download -json "github.com/hashicorp/consul@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	cp -r "$dir" "$work/src"
	chmod -R u+w "$work/src"
	# Its submodules are replaced by local directories the module zip lacks:
	# take the published versions its go.mod requires instead.
	for m in api sdk proto-public; do
		(cd "$work/src" && go mod edit -dropreplace "github.com/hashicorp/consul/$m")
	done
	mkdir -p "$cache"
	(cd "$work/src" && go build -o "$cache/consul" .)
	bin="$cache/consul"
fi
"$bin" version | sed -n 1p
SHOAL_CONSUL_BIN="$bin" go test -count=1 -run 'TestConsulCLI|TestConsulValidatesTelemetryBlock' -v ./compat/
