#!/usr/bin/env bash
# trunk-vs-local.sh - CPU per call when the dial plan sends every call to a
# trunk, beside calls to local users, with Kamailio's local call in the same
# interleaved run (the shared harness's call scenario).
#
#   bench/trunk-vs-local.sh [--rate 200] [--count 4000] [--repeat 3] [--users 1000]
#
# Three servers: Kamailio on 5060 and Switchboard on 5062 as in
# call-vs-kamailio.sh (callees registered, found by location), and a second
# Switchboard on 5064 whose plan routes every `user....` number to a trunk
# whose gateway is the harness's callee SIPp (127.0.0.1:6110, bench.sh's
# UAS): the plan's decision, the trunk's Request-URI and the failover
# policy on every call, no location lookup. Stops all three by PID.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(cd "$HERE/../../shared/bench" 2>/dev/null && pwd || true)"
RATE=200
COUNT=4000
REPEAT=3
USERS=1000
. "$HERE/lib.sh"
bench_options --rate=RATE --count=COUNT --repeat=REPEAT --users=USERS --bench=BENCH -- "$@"

bench_require
bench_start "$USERS"

TRUNK_PLAN='
[[trunk]]
name = "bench-gateway"
gateways = ["sip:127.0.0.1:6110"]

[[route]]
name = "every callee by the trunk"
to_prefix = ["user"]
trunks = ["bench-gateway"]
'
cp -r "$WORK/data" "$WORK/data-trunk"
rm -f "$WORK/data-trunk/switchboard.pid"
bench_config 5064 "$WORK/data-trunk" "$TRUNK_PLAN" > "$WORK/trunk.toml"
EXTRA_PIDS="$(bench_serve "$WORK/trunk")"
[ -n "$EXTRA_PIDS" ] || exit 1

BENCH_SERVERS="kamailio=127.0.0.1:5060:$KPID switchboard=127.0.0.1:5062:$OPID switchboard-trunk=127.0.0.1:5064:$EXTRA_PIDS" \
	bench_compare "$REPEAT" --scenario call --rate "$RATE" --count "$COUNT" --users "$USERS"
