#!/usr/bin/env bash
# memory-per-binding.sh - memory of 10,000 bindings in Switchboard and in
# the reference Kamailio, measured the same way for both.
#
#   bench/memory-per-binding.sh [--users 10000] [--rate 500] [--settle 40] [--bench DIR]
#
# Each server starts fresh with 2 x USERS users (Switchboard: 127.0.0.1:5062,
# the release binary; Kamailio: 5060, 2 UDP workers); procstat.sh takes
# PSS/RSS of its process tree; SIPp registers USERS distinct users (one
# REGISTER each, sequential, at RATE/s); after SETTLE seconds (UDP
# transactions live 32 s after their answer, RFC 3261 Timer J) a second
# snapshot. Prints both snapshots and the difference per server.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(cd "$HERE/../../shared/bench" 2>/dev/null && pwd || true)"
USERS=10000
RATE=500
SETTLE=40
. "$HERE/lib.sh"
bench_options --users=USERS --rate=RATE --settle=SETTLE --bench=BENCH -- "$@"
# The release binary, or SWITCHBOARD_BIN.
bench_require
POPULATION=$((USERS * 2))
bench_start "$POPULATION"

kb() { echo "$1" | grep -o "$2=[0-9]*" | cut -d= -f2; }
measure() { # NAME PORT PID
	local before after
	sleep 2
	before=$("$BENCH/procstat.sh" "$3")
	"$BENCH/bench.sh" --target "127.0.0.1:$2" --server-pid "$3" --scenario register \
		--rate "$RATE" --count "$USERS" --users "$USERS" --quiet \
		| grep -o 'ok=[0-9]* failed=[0-9]*' | sed "s/^/$1 registered: /"
	sleep "$SETTLE"
	after=$("$BENCH/procstat.sh" "$3")
	echo "$1 before: $before"
	echo "$1 after:  $after"
	echo "$1 bindings=$USERS pss_delta_kb=$(( $(kb "$after" pss_kb) - $(kb "$before" pss_kb) )) rss_delta_kb=$(( $(kb "$after" rss_kb) - $(kb "$before" rss_kb) ))"
}
measure kamailio 5060 "$KPID"
measure switchboard 5062 "$OPID"
