#!/usr/bin/env bash
# cluster-max.sh - the highest rates that hold (issue 14's benchmark: does a
# second node on the same PostgreSQL add capacity?), each setup beside
# SIPp's own ceiling with the same split of the load:
#
#   sipp1        SIPp against its mock (bench.sh --direct): one instance
#   sipp2        the same, two instances at half the rate each, at once
#   sqlite       one node on its embedded SQLite (5062)
#   pg1          one node on PostgreSQL (5064), one SIPp
#   pg2          two nodes on one PostgreSQL database (5066 and 5068), two
#                SIPp at half the rate each, at once: the first's users in
#                domain 127.0.0.1 through the first node, the second's in
#                domain bench-b.test through the second (each phone
#                registers with one node, as in a deployment; the same
#                users through both nodes at once would make every
#                registration contend for one row)
#
#   bench/cluster-max.sh [--setups "sipp1 sipp2 sqlite pg1 pg2"]
#                        [--scenarios register] [--users 2000]
#                        [--duration 4] [--refine 2] [--hold-ms 1000]
#                        [--reg-start 1000] [--call-start 250]
#                        [--max-rate 64000] [--bench DIR]
#
# The search is find_max.sh's (../shared/bench), run for all setups at
# once so that host noise hits them alike: every setup runs a step at the
# same rate in turn (rates x2 from the start), a step holds when at most 1 %
# failed and at least 90 % of the rate was achieved; a setup stops climbing
# at its first failing step; then --refine rounds of bisection between each
# setup's best and first failing rate (in turn again; none below a 5 % gap).
# A step is --duration seconds of traffic (count = rate x duration, at
# least 500). Every step's line on stderr ("step ..."), then per scenario
# one line per setup with its maximum: node_cpu_pct (the busiest node
# process) and node_thread_pct (its busiest thread, named by node_thread:
# "switchboard" is the driver), pg_cpu_pct (all PostgreSQL processes) and
# pg_top_pct (the busiest one), uac_cpu_pct (the busiest SIPp UAC),
# host_busy_pct (all cores, everyone's: other builds count) and bench_pct
# (the share of all cores this run's processes took) at the maximum, all in
# % of one core except the last two; the limit, every one that held at the maximum:
# sipp (>= 90 % of SIPp's ceiling with the same split, or its UAC >= 90 %
# of a core), node-thread (>= 85 %), postgresql (a process >= 85 %, or all
# of them >= 170 %: both cores), host (>= 90 % busy), overload-gate (the
# first failing step's calls were refused with 503: its "why" counts them),
# or "unclear" (none: queueing or latency); then pg2/pg1, and per node the
# overload gate's closings by signal (from its log: "load" is the
# transaction watermark).
#
# The call scenario (--scenarios "register call"): the register runs'
# contacts removed first, every callee (both domains) registered through
# the first node of each setup to one SIPp UAS (127.0.0.1:6510), calls
# through every node (the second finds the callees in the shared
# location), --no-prereg.
#
# Needs the release binary (SWITCHBOARD_BIN overrides), sipp, PostgreSQL
# (Debian's postgresql). One benchmark at a time on this host: it waits
# while another kamailio or sipp runs.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(cd "$HERE/../../shared/bench" 2>/dev/null && pwd || true)"
SETUPS="sipp1 sipp2 sqlite pg1 pg2"
SCENARIOS="register"
USERS=2000
DURATION=4
REFINE=2
HOLD_MS=1000
REG_START=1000
CALL_START=250
MAX_RATE=64000
DOMAIN_B="bench-b.test"
. "$HERE/lib.sh"
bench_options --setups=SETUPS --scenarios=SCENARIOS --users=USERS --duration=DURATION \
	--refine=REFINE --hold-ms=HOLD_MS --reg-start=REG_START --call-start=CALL_START \
	--max-rate=MAX_RATE --bench=BENCH -- "$@"
bench_require
export BENCH_DOMAINS="\"127.0.0.1\", \"$DOMAIN_B\""
cluster_start 127.0.0.1 "$DOMAIN_B"

# What cluster_split gets for a setup: PG(0|1) and its targets.
setup_args() {
	case "$1" in
		sipp1) echo "0 direct" ;;
		sipp2) echo "0 direct direct" ;;
		sqlite) echo "0 127.0.0.1:5062:$SQLITE_PID" ;;
		pg1) echo "1 127.0.0.1:5064:$PG1_PID" ;;
		pg2) echo "1 127.0.0.1:5066:$PG2A_PID 127.0.0.1:5068:$PG2B_PID/$DOMAIN_B" ;;
		*) echo "unknown setup $1" >&2; exit 2 ;;
	esac
}

# step SETUP SCENARIO RATE: one step; its line in STEP_LINE, STEP_WHY
# empty when it held (find_max.sh's criteria).
step() {
	local count=$(($3 * DURATION)) extra=()
	[ "$count" -lt 500 ] && count=500
	[ "$2" = call ] && extra=(--hold-ms "$HOLD_MS" --no-prereg)
	# shellcheck disable=SC2046
	STEP_LINE="$(cluster_split "$1" "$2" $(setup_args "$1") -- --rate "$3" --count "$count" \
		--users "$USERS" ${extra[@]+"${extra[@]}"})"
	STEP_WHY="$(awk -v line="$STEP_LINE" -v r="$3" 'BEGIN {
		n = split(line, kv, " "); for (k = 1; k <= n; k++) { split(kv[k], p, "="); f[p[1]] = p[2] }
		why = ""
		if (f["attempted"] + 0 <= 0 || f["fail_pct"] + 0 > 1) why = "fail_pct=" f["fail_pct"]
		if (f["per_s"] + 0 < 0.9 * r) why = why (why ? "," : "") sprintf("per_s=%s<%.0f", f["per_s"], 0.9 * r)
		if (why != "" && f["refused_503"] + 0 > 0) why = why ",503s=" f["refused_503"]
		print why
	}')"
	echo "step $STEP_LINE pass=$([ -z "$STEP_WHY" ] && echo 1 || echo 0)${STEP_WHY:+ why=$STEP_WHY}" >&2
	sleep 2
}

# search SCENARIO START: every setup's maximum (BEST_, FAIL_, LINE_<setup>),
# the setups' steps interleaved.
search() {
	local scenario="$1" rate="$2" s climbing="$SETUPS" next round mid
	for s in $SETUPS; do
		printf -v "BEST_$s" 0; printf -v "FAIL_$s" none; printf -v "LINE_$s" '%s' ""
	done
	while [ -n "$climbing" ] && [ "$rate" -le "$MAX_RATE" ]; do
		next=""
		for s in $climbing; do
			step "$s" "$scenario" "$rate"
			if [ -z "$STEP_WHY" ]; then
				printf -v "BEST_$s" '%s' "$rate"; printf -v "LINE_$s" '%s' "$STEP_LINE"
				next="$next $s"
			else
				printf -v "FAIL_$s" '%s' "$rate"; printf -v "WHY_$s" '%s' "$STEP_WHY"
			fi
		done
		climbing="$next"
		rate=$((rate * 2))
	done
	for ((round = 0; round < REFINE; round++)); do
		for s in $SETUPS; do
			local best="BEST_$s" fail="FAIL_$s"
			[ "${!fail}" = none ] || [ "${!best}" = 0 ] && continue
			[ $(((${!fail} - ${!best}) * 20)) -le "${!best}" ] && continue
			mid=$(((${!best} + ${!fail}) / 2))
			step "$s" "$scenario" "$mid"
			if [ -z "$STEP_WHY" ]; then
				printf -v "BEST_$s" '%s' "$mid"; printf -v "LINE_$s" '%s' "$STEP_LINE"
			else
				printf -v "FAIL_$s" '%s' "$mid"; printf -v "WHY_$s" '%s' "$STEP_WHY"
			fi
		done
	done
}

# The register runs' contacts removed (each setup's first SIPp: port base
# 6100, contact 6110; pg2's second: 6200 in the second domain), then every
# callee registered to the UAS on 6510 (port base 6500) through the first
# node of each setup (not measured).
callees() {
	local port
	for port in 5062 5064 5066; do cluster_register "127.0.0.1:$port" 6100 0; done
	cluster_register 127.0.0.1:5068 6200 0 "$DOMAIN_B"
	for port in 5062 5064 5066; do cluster_register "127.0.0.1:$port" 6500 3600; done
	cluster_register 127.0.0.1:5066 6500 3600 "$DOMAIN_B"
	sleep 1
}

# limit SETUP CEILING_SETUP: what held at SETUP's maximum.
limit() {
	local line="LINE_$1" ceiling="BEST_$2" best="BEST_$1" why="WHY_$1"
	awk -v line="${!line}" -v c="${!ceiling:-0}" -v m="${!best}" -v setup="$1" -v why="${!why:-}" 'BEGIN {
		n = split(line, kv, " "); for (k = 1; k <= n; k++) { split(kv[k], p, "="); f[p[1]] = p[2] }
		if (setup ~ /^sipp/) { print "sipp"; exit }
		l = ""
		if ((c > 0 && m >= 0.9 * c) || f["uac_cpu_pct"] + 0 >= 90) l = l "+sipp"
		if (f["node_thread_pct"] + 0 >= 85) l = l "+node-thread"
		if (f["pg_top_pct"] + 0 >= 85 || f["pg_cpu_pct"] + 0 >= 170) l = l "+postgresql"
		if (f["host_busy_pct"] + 0 >= 90) l = l "+host"
		if (why ~ /503s=/) l = l "+overload-gate"
		print (l == "") ? "unclear" : substr(l, 2)
	}'
}

for scenario in $SCENARIOS; do
	start="$REG_START"
	if [ "$scenario" = call ]; then
		start="$CALL_START"
		cluster_uas_start
		callees
	fi
	echo "# $scenario: setups $SETUPS; $USERS users a domain, $DURATION s a step" >&2
	search "$scenario" "$start"
	echo
	echo "| $scenario | max/s | first fail/s (why) | sipp ceiling/s (same split) | node cpu % | busiest thread % | pg cpu % (busiest) | sipp uac % | host busy % (this run's share) | limit |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	for s in $SETUPS; do
		ceiling=sipp1
		[ "$s" = pg2 ] && ceiling=sipp2
		line="LINE_$s" best="BEST_$s" fail="FAIL_$s" why="WHY_$s" c="BEST_$ceiling"
		[[ " $SETUPS " == *" $ceiling "* ]] || c=ceiling_none
		echo "${!line:-setup=$s}" | awk -v s="$s" -v m="${!best}" -v fail="${!fail}" -v why="${!why:-}" \
			-v c="${!c:-na}" -v limit="$(limit "$s" "$ceiling")" '{
			delete f; for (k = 1; k <= NF; k++) { split($k, kv, "="); f[kv[1]] = kv[2] }
			thread = (s ~ /^sipp/) ? "na" : sprintf("%s (%s)", f["node_thread_pct"], f["node_thread"])
			pg = (f["pg_cpu_pct"] == "na" || f["pg_cpu_pct"] == "") ? "na" : sprintf("%s (%s)", f["pg_cpu_pct"], f["pg_top_pct"])
			printf "| %s | %s | %s%s | %s | %s | %s | %s | %s | %s (%s) | %s |\n", s, m, fail, (why != "") ? " (" why ")" : "",
				(s ~ /^sipp/) ? "itself" : c, (s ~ /^sipp/) ? "na" : f["node_cpu_pct"], thread, pg,
				f["uac_cpu_pct"], f["host_busy_pct"], f["bench_pct"], limit
		}'
	done
	if [ "${BEST_pg1:-0}" -gt 0 ] && [ -n "${BEST_pg2:-}" ]; then
		awk -v a="$BEST_pg1" -v b="$BEST_pg2" -v sc="$scenario" \
			'BEGIN { printf "\n%s: pg2/pg1 = %.2f%s\n", sc, b / a, (sc == "register") ? " (target: >= 1.6 when SIPp is not the limit)" : "" }'
	fi
done

# What closed each node's overload gate, from its log.
echo
for name in sqlite pg1 pg2a pg2b; do
	echo "gate $name: $({ grep -a 'overloaded: refusing' "$WORK/$name.log" || true; } |
		{ grep -a -o 'signal="[^"]*"\|load=[0-9]*' || true; } | sed 's/=[0-9]*$//' | sort | uniq -c |
		awk '{ n = $1; $1 = ""; sub(/^ /, ""); printf "%s%s x%d", (NR > 1) ? ", " : "", $0, n } END { if (NR == 0) printf "never closed" }')"
done
