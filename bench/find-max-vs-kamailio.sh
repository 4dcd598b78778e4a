#!/usr/bin/env bash
# find-max-vs-kamailio.sh - the highest rates that hold (find_max.sh of
# ../shared/bench: < 1 % failed, >= 90 % of the rate achieved) for register
# (2,000 users) and call, Kamailio and Switchboard in one run, beside SIPp's
# own ceiling (--direct: SIPp against a SIPp mock), and which was the limit.
#
#   bench/find-max-vs-kamailio.sh [--users 2000] [--duration 10] [--refine 2]
#                                 [--scenarios "register call"] [--bench DIR]
#                                 [--config FILE] [--max-p99-ms MS]
#
# Per scenario: SIPp's ceiling, then Kamailio (5060, 2 UDP workers), then
# Switchboard (the release binary on 5062), each a find_max.sh search
# (every step on stderr, the best step's bench.sh line on stdout). Then one
# line per scenario: the three maxima, Switchboard/Kamailio, and the limit
# of each server: "sipp" when its maximum is at least 90 % of SIPp's
# ceiling (the load generator, not the server, stopped it), else "server".
# Servers started by lib.sh and stopped by PID on exit. Needs the release
# binary, sipp, kamailio.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(cd "$HERE/../../shared/bench" 2>/dev/null && pwd || true)"
USERS=2000
DURATION=10
REFINE=2
SCENARIOS="register call"
EXTRA_CONFIG=""
FIND_EXTRA=()
. "$HERE/lib.sh"
bench_options --users=USERS --duration=DURATION --refine=REFINE --scenarios=SCENARIOS \
	--bench=BENCH --config=EXTRA_CONFIG@ --max-p99-ms=FIND_EXTRA+ -- "$@"
bench_require
bench_start "$((USERS * 2))" "$EXTRA_CONFIG"

# search_max NAME SCENARIO find_max-args...: one search; its line on stdout is
# kept as LINE_<NAME>, its maximum as MAX_<NAME>.
search_max() {
	local name="$1" scenario="$2" start line
	shift 2
	if [ "$scenario" = register ]; then start=1000; else start=250; fi
	line="$("$BENCH/find_max.sh" --scenario "$scenario" --users "$USERS" --start "$start" \
		--duration "$DURATION" --refine "$REFINE" ${FIND_EXTRA[@]+"${FIND_EXTRA[@]}"} "$@")" || true
	echo "find_max $name $line"
	printf -v "MAX_$name" '%s' "$(bench_field "$line" max_rate)"
	sleep 3
}

SUMMARY=()
for scenario in $SCENARIOS; do
	echo "# $scenario: SIPp's ceiling, Kamailio, Switchboard ($USERS users, $DURATION s per step)"
	search_max sipp "$scenario" --direct
	search_max kamailio "$scenario" --target 127.0.0.1:5060 --server-pid "$KPID"
	search_max switchboard "$scenario" --target 127.0.0.1:5062 --server-pid "$OPID"
	SUMMARY+=("$(awk -v s="$scenario" -v c="$MAX_sipp" -v k="$MAX_kamailio" -v o="$MAX_switchboard" 'BEGIN {
		limit_k = (c > 0 && k >= 0.9 * c) ? "sipp" : "server"
		limit_o = (c > 0 && o >= 0.9 * c) ? "sipp" : "server"
		printf "summary scenario=%s sipp_ceiling=%s kamailio_max=%s switchboard_max=%s switchboard/kamailio=%s kamailio_limit=%s switchboard_limit=%s",
			s, c, k, o, (k > 0) ? sprintf("%.2f", o / k) : "na", limit_k, limit_o
	}')")
done
echo
printf '%s\n' "${SUMMARY[@]}"
