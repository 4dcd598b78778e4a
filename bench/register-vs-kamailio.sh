#!/usr/bin/env bash
# register-vs-kamailio.sh - the registration benchmark of ../shared/bench,
# Switchboard against the reference Kamailio in one interleaved run.
#
#   bench/register-vs-kamailio.sh [--rate 2000] [--count 20000] [--repeat 3]
#                                 [--users 10000] [--bench DIR] [--config FILE]
#
# Starts Kamailio (5060, 2 UDP workers, users user0000.. / pw-<user>) and
# the release `switchboard serve` (127.0.0.1:5062, the same users imported
# into a fresh data directory, per-source rate limit and lockout off since
# all traffic comes from one address, digest uri check off for SIPp),
# runs the shared bench.sh --scenario register against each in turn
# (bench_compare in lib.sh), prints each run with its p99.9 latency and
# the host's UDP receive-buffer errors over it, a summary per server and
# the CPU ratio, and stops both servers by PID. Needs the
# release binary (cargo build --release -p switchboard), sipp, kamailio.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(cd "$HERE/../../shared/bench" 2>/dev/null && pwd || true)"
RATE=2000
COUNT=20000
REPEAT=3
USERS=10000
EXTRA_CONFIG=""
. "$HERE/lib.sh"
bench_options --rate=RATE --count=COUNT --repeat=REPEAT --users=USERS --bench=BENCH \
	--config=EXTRA_CONFIG@ -- "$@"

bench_require
POPULATION=$((USERS * 2))
bench_start "$POPULATION" "$EXTRA_CONFIG"

bench_compare "$REPEAT" --scenario register --rate "$RATE" --count "$COUNT" --users "$USERS"
