#!/usr/bin/env bash
# The long chaos run (docs/chaos.md): SHOAL_CHAOS_RUNS runs (10) of every
# mode, each injecting faults for SHOAL_CHAOS_DURATION (90s), and as many
# crash runs of SHOAL_CHAOS_CYCLES kill -9 cycles (50). Every SHOAL_CHAOS_*
# variable set in the environment wins; extra arguments go to go test
# (e.g. -run TestChaosCrash). Needs root, ip, nsenter and iptables.
set -euo pipefail
cd "$(dirname "$0")/.."
export SHOAL_CHAOS_RUNS="${SHOAL_CHAOS_RUNS:-10}"
export SHOAL_CHAOS_DURATION="${SHOAL_CHAOS_DURATION:-90s}"
export SHOAL_CHAOS_CYCLES="${SHOAL_CHAOS_CYCLES:-50}"
exec go test ./test/chaos -run 'TestChaos' -count=1 -timeout 0 -v "$@"
