#!/usr/bin/env bash
# call-vs-kamailio.sh - the call benchmark of ../shared/bench, Switchboard
# against the reference Kamailio in one interleaved run, and optionally the
# highest call rate of each.
#
#   bench/call-vs-kamailio.sh [--rate 200] [--count 4000] [--repeat 3]
#                             [--users 1000] [--hold-ms 1000] [--max]
#                             [--bench DIR] [--config FILE] [--records]
#
# With --records the reference Kamailio also keeps what Switchboard keeps
# for every call: the dialog module writing each dialog to its SQLite
# database and acc writing answer/BYE events, missed calls and one CDR per
# dialog (bench/kamailio-records).
#
# Starts Kamailio (5060, 2 UDP workers, users user0000.. / pw-<user>) and
# the release `switchboard serve` (127.0.0.1:5062, the same users imported
# into a fresh data directory, per-source rate limit and lockout off since
# all traffic comes from one address, digest uri check off for SIPp), runs
# the shared bench.sh --scenario call against each in turn (bench_compare
# in lib.sh; uac_call.xml: INVITE, 407, INVITE with
# digest, 180/200 from uas_call.xml through the proxy, ACK and BYE along
# the Record-Route; the callees pre-registered by bench.sh), prints each
# run with its p99.9 latency and the host's UDP receive-buffer errors
# (RcvbufErrors, InErrors of /proc/net/snmp) over it, a summary per server
# and the CPU ratio, with --max also find_max.sh for each server, and stops
# both servers by PID. Needs the release binary (cargo build --release -p
# switchboard; SWITCHBOARD_BIN overrides its path), sipp, kamailio.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(cd "$HERE/../../shared/bench" 2>/dev/null && pwd || true)"
RATE=200
COUNT=4000
REPEAT=3
USERS=1000
HOLD_MS=1000
MAX=0
EXTRA_CONFIG=""
RECORDS=0
. "$HERE/lib.sh"
bench_options --rate=RATE --count=COUNT --repeat=REPEAT --users=USERS --hold-ms=HOLD_MS \
	--max=MAX! --bench=BENCH --config=EXTRA_CONFIG@ --records=RECORDS! -- "$@"
if [ "$RECORDS" = 1 ]; then export KAMAILIO_RECORDS=1; fi

bench_require
POPULATION=$USERS
bench_start "$POPULATION" "$EXTRA_CONFIG"

bench_compare "$REPEAT" --scenario call --rate "$RATE" --count "$COUNT" --users "$USERS" \
	--hold-ms "$HOLD_MS"

# What each server kept: a reference that drops rows under load (SQLite
# without a busy timeout, two workers writing) did less work than its CPU
# figure suggests.
if [ "${KAMAILIO_RECORDS:-0}" = 1 ]; then
	kdb=/tmp/kamailio-bench-5060/kamailio.sqlite
	echo "records kamailio acc_cdrs=$(sqlite3 "$kdb" 'SELECT count(*) FROM acc_cdrs')" \
		"acc=$(sqlite3 "$kdb" 'SELECT count(*) FROM acc')" \
		"db_lock_errors=$(grep -c 'database is locked' /tmp/kamailio-bench-5060/kamailio.log || true)"
	sleep 1 # the server's batched records (at most 250 ms late)
	echo "records switchboard call_records=$("$BIN" cdr --data "$WORK/data" --format csv | tail -n +2 | wc -l)"
fi

if [ "$MAX" = 1 ]; then
	for server in kamailio=5060:"$KPID" switchboard=5062:"$OPID"; do
		name="${server%%=*}"; rest="${server#*=}"
		echo "max server=$name $("$BENCH/find_max.sh" --target 127.0.0.1:"${rest%%:*}" \
			--server-pid "${rest#*:}" --scenario call --start 250 --users "$USERS" \
			--hold-ms "$HOLD_MS" 2>/dev/null | head -1)"
	done
fi
