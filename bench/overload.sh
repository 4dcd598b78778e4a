#!/usr/bin/env bash
# overload.sh - what the servers complete when offered more than their
# maximum: Switchboard (503 + Retry-After beyond it) and the reference
# Kamailio (no overload control), the same offered steps, one run.
#
#   bench/overload.sh --register-max R --call-max C [--steps "0.5 1 1.5 2 3"]
#                     [--duration 8] [--users 2000] [--scenarios "register call"]
#                     [--servers "switchboard unprotected kamailio"] [--bench DIR] [--config FILE]
#                     [--before-bin PATH]
#
# R and C are the measured maximum rates (bench/find-max-vs-kamailio.sh,
# Switchboard's figures); without them find_max.sh measures Switchboard's
# first. For each scenario and each step x, both servers are offered x
# times the maximum for --duration seconds (count = rate x duration),
# interleaved (each server in turn at each step). "unprotected" is the same
# binary with max_timer_lag_ms = 0, max_commit_ms = 0 and max_read_backlog
# = 0 (the gate as it was: only requests waiting inside the server), on
# 5064. "before" (with --before-bin PATH, e.g. main's release binary) is
# another build with the same configuration, on 5066: a change's before
# and after in one interleaved run. Per run it prints the bench.sh figures
# that matter here: goodput (bench.sh's cps: completed per second from the
# first start to the last completion), 503s (calls that ended on an
# unexpected 503 in the measured SIPp's error log), other failures, the
# callees registered before a call run (prereg_ok), p99 and
# retransmissions, the host's UDP receive-buffer errors and the server
# socket's own share of them (server_socket_drops); then a text bar chart
# of offered (#) against completed (=) per server. Bounded: every bench.sh run is bounded by bench.sh, the
# servers are started by lib.sh and stopped by PID on exit. Needs the
# release binary, sipp, kamailio.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(cd "$HERE/../../shared/bench" 2>/dev/null && pwd || true)"
REG_MAX=""
CALL_MAX=""
STEPS="0.5 1 1.5 2 3"
DURATION=8
USERS=2000
SCENARIOS="register call"
SERVERS="switchboard unprotected kamailio"
EXTRA_CONFIG=""
BEFORE_BIN=""
. "$HERE/lib.sh"
bench_options --register-max=REG_MAX --call-max=CALL_MAX --steps=STEPS --duration=DURATION \
	--users=USERS --scenarios=SCENARIOS --servers=SERVERS --bench=BENCH --config=EXTRA_CONFIG@ \
	--before-bin=BEFORE_BIN -- "$@"
bench_require
bench_start "$((USERS * 2))" "$EXTRA_CONFIG"
RESULTS="$WORK/overload"

# "unprotected": the same binary with the gate as it was before it followed
# the runtime (only requests waiting inside the server, 10,000), on 5064.
UPID=""
if [[ " $SERVERS " == *" unprotected "* ]]; then
	"$BIN" user import "$WORK/users.csv" --data "$WORK/data-unprotected" --domain 127.0.0.1 >/dev/null
	bench_config 5064 "$WORK/data-unprotected" "$EXTRA_CONFIG" |
		sed 's/^lockout = false$/lockout = false\nmax_timer_lag_ms = 0\nmax_commit_ms = 0\nmax_read_backlog = 0/' >"$WORK/unprotected.toml"
	UPID="$(bench_serve "$WORK/unprotected")"
	EXTRA_PIDS="$UPID"
fi
# "before": another binary, the same configuration, on 5066.
BPID=""
if [[ " $SERVERS " == *" before "* ]]; then
	[ -x "$BEFORE_BIN" ] || { echo "--before-bin PATH is needed for the server \"before\"" >&2; exit 2; }
	"$BEFORE_BIN" user import "$WORK/users.csv" --data "$WORK/data-before" --domain 127.0.0.1 >/dev/null
	bench_config 5066 "$WORK/data-before" "$EXTRA_CONFIG" >"$WORK/before.toml"
	BPID="$(BIN="$BEFORE_BIN" bench_serve "$WORK/before")"
	EXTRA_PIDS="${EXTRA_PIDS:-} $BPID"
fi

# max SCENARIO: the measured maximum (find_max.sh on Switchboard when not
# given).
max_of() {
	local given="$1" scenario="$2" line
	if [ -n "$given" ]; then echo "$given"; return; fi
	line="$("$BENCH/find_max.sh" --target 127.0.0.1:5062 --server-pid "$OPID" --scenario "$scenario" \
		--users "$USERS" --start 500 --duration 5 --refine 1)"
	echo "find_max switchboard $line" >&2
	bench_field "$line" max_rate
}

for scenario in $SCENARIOS; do
	if [ "$scenario" = register ]; then max="$(max_of "$REG_MAX" register)"; else max="$(max_of "$CALL_MAX" call)"; fi
	[ "$max" -gt 0 ] 2>/dev/null || { echo "no maximum for $scenario" >&2; exit 1; }
	echo "# $scenario: maximum $max/s, steps $STEPS x, $DURATION s each"
	for step in $STEPS; do
		rate="$(awk -v m="$max" -v x="$step" 'BEGIN { printf "%d", m * x }')"
		count=$((rate * DURATION))
		for server in $SERVERS; do
			case "$server" in
				switchboard) target=127.0.0.1:5062; pid="$OPID" ;;
				kamailio) target=127.0.0.1:5060; pid="$KPID" ;;
				unprotected) target=127.0.0.1:5064; pid="$UPID" ;;
				before) target=127.0.0.1:5066; pid="$BPID" ;;
				*) echo "unknown server $server" >&2; exit 2 ;;
			esac
			dir="$WORK/run-$server-$scenario-$step"
			read -r b_in b_rcv < <(udp_errors)
			b_own="$(socket_drops "${target##*:}")"
			line="$("$BENCH/bench.sh" --target "$target" --server-pid "$pid" --quiet --outdir "$dir" \
				--scenario "$scenario" --rate "$rate" --count "$count" --users "$USERS")" || true
			read -r a_in a_rcv < <(udp_errors)
			a_own="$(socket_drops "${target##*:}")"
			ok="$(bench_field "$line" ok)"
			failed="$(bench_field "$line" failed)"
			refused="$(sipp_503s "$dir" "$scenario")"
			# Completed per second over the run (bench.sh's cps: first
			# start to last completion), not per second of offered time:
			# a collapsing server completes late, after retransmissions.
			goodput="$(bench_field "$line" cps)"
			out="server=$server scenario=$scenario step=$step offered=$rate count=$count ok=$ok goodput=$goodput"
			out="$out prereg_ok=$(bench_field "$line" prereg_ok) refused_503=$refused other_failed=$(awk -v f="$failed" -v r="$refused" 'BEGIN { print (f == "na") ? "na" : f - r }')"
			out="$out p99_ms=$(bench_field "$line" p99_ms) max_ms=$(bench_field "$line" max_ms)"
			out="$out retrans=$(bench_field "$line" retrans) server_cpu_pct=$(bench_field "$line" server_cpu_pct)"
			out="$out host_busy_pct=$(bench_field "$line" host_busy_pct) rcvbuf_errors=$((a_rcv - b_rcv)) in_errors=$((a_in - b_in))"
			out="$out server_socket_drops=$((a_own - b_own))"
			echo "$out"
			echo "$out" >>"$RESULTS"
			rm -rf "$dir"
			sleep 3
		done
	done
done

# The chart: per scenario and server, offered (#) and completed (=) per
# second, on one scale (the largest offered rate of the scenario).
echo
for scenario in $SCENARIOS; do
	scale="$(awk -v s="$scenario" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
		f["scenario"] == s && f["offered"] + 0 > m { m = f["offered"] + 0 } END { print m + 0 }' "$RESULTS")"
	echo "$scenario per second: # offered, = completed (goodput), 503s refused; scale $scale/s = 50 chars"
	for server in $SERVERS; do
		while read -r step offered goodput refused; do
			printf '%-11s %4sx offered   %7s |%s\n' "$server" "$step" "$offered" "$(bench_bar "$offered" "$scale" 50 '#')"
			printf '%-11s %5s completed %7s |%s  (503s: %s)\n' "" "" "$goodput" "$(bench_bar "$goodput" "$scale" 50 '=')" "$refused"
		done < <(awk -v s="$scenario" -v v="$server" '{ delete f; for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
			f["scenario"] == s && f["server"] == v { print f["step"], f["offered"], f["goodput"], f["refused_503"] }' "$RESULTS")
	done
	echo
done
