#!/usr/bin/env bash
# memory-per-call.sh - memory of 10,000 active calls in Switchboard and in
# the reference Kamailio, measured the same way for both.
#
#   bench/memory-per-call.sh [--rate 200] [--hold 50] [--users 1000] [--bench DIR]
#
# Each server starts fresh (Switchboard: 127.0.0.1:5062, the release binary;
# Kamailio: 5060, 2 UDP workers). procstat.sh takes PSS/RSS of its process
# tree; the shared harness's call scenario (uac_call.xml -> proxy ->
# uas_call.xml, callees pre-registered) runs at RATE calls/s with HOLD
# seconds between ACK and BYE, so RATE x HOLD calls are up at once; a second
# snapshot is taken when that many have been up for a few seconds. Both
# snapshots and the difference are printed per server. The difference
# includes the transactions of the last 32 s (RFC 3261 Timer J/K), as a
# running server has them.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(cd "$HERE/../../shared/bench" 2>/dev/null && pwd || true)"
RATE=200
HOLD=50
USERS=1000
. "$HERE/lib.sh"
bench_options --rate=RATE --hold=HOLD --users=USERS --bench=BENCH -- "$@"
[ -x "$BENCH/bench.sh" ] || { echo "no bench harness at $BENCH (pass --bench DIR)" >&2; exit 2; }
BIN="${SWITCHBOARD_BIN:-$HERE/../target/release/switchboard}"
[ -x "$BIN" ] || { echo "build first: cargo build --release -p switchboard" >&2; exit 2; }

POPULATION=$USERS
bench_start "$POPULATION"
BPID=""
trap '[ -n "$BPID" ] && kill "$BPID" 2>/dev/null; bench_stop' EXIT
ACTIVE=$((RATE * HOLD))
GEN=$((HOLD + 10))
COUNT=$((RATE * GEN))
kb() { echo "$1" | grep -o "$2=[0-9]*" | cut -d= -f2; }
measure() { # NAME PORT PID
	local before during
	sleep 2
	before=$("$BENCH/procstat.sh" "$3")
	"$BENCH/bench.sh" --target "127.0.0.1:$2" --server-pid "$3" --scenario call \
		--rate "$RATE" --count "$COUNT" --users "$USERS" --hold-ms "$((HOLD * 1000))" \
		--quiet > "$WORK/$1.bench" 2>&1 &
	BPID=$!
	# Pre-registration (a few seconds), then HOLD seconds of new calls.
	sleep $((HOLD + 8))
	during=$("$BENCH/procstat.sh" "$3")
	wait "$BPID" || true
	BPID=""
	echo "$1 $(grep -o 'ok=[0-9]* failed=[0-9]*' "$WORK/$1.bench" | head -1)"
	echo "$1 before: $before"
	echo "$1 during: $during"
	echo "$1 active_calls~$ACTIVE pss_delta_kb=$(( $(kb "$during" pss_kb) - $(kb "$before" pss_kb) )) rss_delta_kb=$(( $(kb "$during" rss_kb) - $(kb "$before" rss_kb) ))"
}
measure kamailio 5060 "$KPID"
measure switchboard 5062 "$OPID"
