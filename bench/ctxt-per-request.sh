#!/usr/bin/env bash
# ctxt-per-request.sh - context switches of the release `switchboard serve`
# per request under a fixed SIPp load: the voluntary (waits: a wake-up per
# read, per store commit...) and involuntary (preempted) switches of all its
# threads, read from /proc/PID/task/*/status before and after one bench.sh
# run against it alone.
#
#   bench/ctxt-per-request.sh [--scenario register] [--rate 2000]
#                             [--count 20000] [--users 10000]
#                             [--bench DIR] [--config FILE]
#
# A registration is two requests (REGISTER, 401, REGISTER with digest); a
# call is five at the server from the caller (INVITE, ACK of the 407,
# INVITE, ACK, BYE). Prints one line:
#   ctxt scenario=.. rate=.. ok=.. requests=.. voluntary=.. involuntary=..
#        voluntary_per_request=.. involuntary_per_request=.. (and the bench line)
# then one per thread that switched, most voluntary switches first:
#   ctxt_thread tid=.. name=.. voluntary=.. involuntary=.. voluntary_per_request=..
# Starts Kamailio too (bench_start in lib.sh) but sends it nothing; stops
# both by PID.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(cd "$HERE/../../shared/bench" 2>/dev/null && pwd || true)"
SCENARIO=register
RATE=2000
COUNT=20000
USERS=10000
EXTRA_CONFIG=""
. "$HERE/lib.sh"
bench_options --scenario=SCENARIO --rate=RATE --count=COUNT --users=USERS --bench=BENCH \
	--config=EXTRA_CONFIG@ -- "$@"
case "$SCENARIO" in
	register) PER_OP=2 ;;
	call) PER_OP=5 ;;
	*) echo "scenario: register or call" >&2; exit 2 ;;
esac

bench_require
bench_start $((USERS * 2)) "$EXTRA_CONFIG"

# "voluntary involuntary", summed over the threads of $1.
switches() {
	awk '/^voluntary_ctxt_switches/ { v += $2 } /^nonvoluntary_ctxt_switches/ { n += $2 }
	     END { print v + 0, n + 0 }' /proc/"$1"/task/*/status
}

# "tid name voluntary involuntary" per thread of $1 (name from comm).
per_thread() {
	local status
	for status in /proc/"$1"/task/*/status; do
		awk -v tid="$(basename "$(dirname "$status")")" \
			'/^Name:/ { name = $2 } /^voluntary_ctxt_switches/ { v = $2 }
			 /^nonvoluntary_ctxt_switches/ { n = $2 } END { print tid, name, v + 0, n + 0 }' "$status"
	done
}

before_threads="$(per_thread "$OPID")"
read -r v0 n0 < <(switches "$OPID")
line="$("$BENCH/bench.sh" --target 127.0.0.1:5062 --server-pid "$OPID" --quiet \
	--scenario "$SCENARIO" --rate "$RATE" --count "$COUNT" --users "$USERS")"
read -r v1 n1 < <(switches "$OPID")
after_threads="$(per_thread "$OPID")"
ok="$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$line")"
awk -v sc="$SCENARIO" -v rate="$RATE" -v ok="${ok:-0}" -v per="$PER_OP" \
	-v v=$((v1 - v0)) -v n=$((n1 - n0)) -v line="$line" 'BEGIN {
	r = ok * per
	printf "ctxt scenario=%s rate=%s ok=%d requests=%d voluntary=%d involuntary=%d voluntary_per_request=%s involuntary_per_request=%s\n",
		sc, rate, ok, r, v, n, (r > 0) ? sprintf("%.3f", v / r) : "na", (r > 0) ? sprintf("%.3f", n / r) : "na"
	print line
}'
# Where the switches happened: one line per thread that switched during
# the run (the thread whose tid is the PID runs the driver), most first.
# A thread that ended during the run is missing here and in the totals.
awk -v ok="${ok:-0}" -v per="$PER_OP" '
	NR == FNR { v[$1] = $3; n[$1] = $4; next }
	{ dv = $3 - v[$1]; dn = $4 - n[$1]; r = ok * per
	  if (dv + dn > 0)
		printf "ctxt_thread tid=%s name=%s voluntary=%d involuntary=%d voluntary_per_request=%s\n",
			$1, $2, dv, dn, (r > 0) ? sprintf("%.3f", dv / r) : "na" }' \
	<(echo "$before_threads") <(echo "$after_threads") | sort -t= -k4 -n -r
