#!/usr/bin/env bash
# cluster-vs-kamailio.sh - registrations and calls of Switchboard on its
# store back ends, with the reference Kamailio in the same run (issue 14):
#
#   kamailio     the reference (5060, 2 UDP workers, in-memory usrloc)
#   sqlite       one node on its embedded SQLite (5062)
#   pg1          one node on PostgreSQL (5064)
#   pg2          two nodes on one PostgreSQL database (5066 and 5068), SIPp
#                spread over both: two bench.sh at half the rate each, at
#                once (port bases 6100 and 6200)
#
#   bench/cluster-vs-kamailio.sh [--reg-rate 500] [--reg-count 10000]
#                                [--call-rate 100] [--call-count 2000]
#                                [--users 1000] [--hold-ms 1000] [--bench DIR]
#
# Each setup gets the same fixed-rate register run (bench.sh --scenario
# register over the users in turn) and call run (uac_call.xml, bench.sh
# --no-prereg). PostgreSQL is this script's own (initdb in the
# work directory, a free loopback port, fsync and synchronous_commit on as
# SQLite's synchronous=FULL), so its processes' CPU is measured apart from
# the nodes': node_ms/op is the Switchboard processes' CPU per successful
# registration or call, pg_ms/op PostgreSQL's (postmaster and backends),
# total_ms/op both. One line per setup and scenario, then a table.
#
# The nodes of pg2 are a cluster (`[cluster] node` bench-a and bench-b):
# the callees are registered through the first node only, and calls come
# in through both (the second finds them in the shared location). Every
# call run's callees are one SIPp UAS (127.0.0.1:6510) of this script's,
# registered before the run; the register run's own contacts are removed
# first, so that no call forks.
#
# Needs the release binary (cargo build --release -p switchboard;
# SWITCHBOARD_BIN overrides), sipp, kamailio, PostgreSQL (Debian's
# postgresql: /usr/lib/postgresql/*/bin). One benchmark at a time on this
# host: it waits while another kamailio or sipp runs.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(cd "$HERE/../../shared/bench" 2>/dev/null && pwd || true)"
REG_RATE=500
REG_COUNT=10000
CALL_RATE=100
CALL_COUNT=2000
USERS=1000
HOLD_MS=1000
. "$HERE/lib.sh"
bench_options --reg-rate=REG_RATE --reg-count=REG_COUNT --call-rate=CALL_RATE \
	--call-count=CALL_COUNT --users=USERS --hold-ms=HOLD_MS --bench=BENCH -- "$@"
bench_require
cluster_start 127.0.0.1
RESULTS="$WORK/results"

# measure SETUP SCENARIO PG(0|1) TARGET:PID... -- bench.sh args: the
# setup's line (cluster_split), also kept in RESULTS.
measure() { cluster_split "$@" | tee -a "$RESULTS"; }

# run SETUP PG TARGET:PID...: the register run; then the callees'
# contacts moved to the one UAS (the register run's contacts removed
# through each target, every callee registered through the first: not
# measured) and the call run.
run() {
	local setup="$1" with_pg="$2"
	shift 2
	measure "$setup" register "$with_pg" "$@" -- --rate "$REG_RATE" --count "$REG_COUNT" --users "$USERS"
	local i=0 t
	for t in "$@"; do
		cluster_register "${t%:*}" $((6100 + 100 * i)) 0
		i=$((i + 1))
	done
	t="$1"
	cluster_register "${t%:*}" 6500 3600
	sleep 1
	measure "$setup" call "$with_pg" "$@" -- --rate "$CALL_RATE" --count "$CALL_COUNT" \
		--users "$USERS" --hold-ms "$HOLD_MS" --no-prereg
	sleep 2
}

KPID=$("$(kamailio_run)" --port 5060 --children 2 --users "$USERS" | tail -1)
echo "kamailio $KPID" >&2
cluster_uas_start

run kamailio 0 127.0.0.1:5060:"$KPID"
run sqlite 0 127.0.0.1:5062:"$SQLITE_PID"
run pg1 1 127.0.0.1:5064:"$PG1_PID"
run pg2 1 127.0.0.1:5066:"$PG2A_PID" 127.0.0.1:5068:"$PG2B_PID"

echo
awk '
	{ delete f; for (k = 1; k <= NF; k++) { split($k, kv, "="); f[kv[1]] = kv[2] } }
	NR == 1 { printf "| setup | scenario | rate | ok | failed | per s | p99 ms | node ms/op | pg ms/op | total ms/op |\n|---|---|---|---|---|---|---|---|---|---|\n" }
	{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f["setup"], f["scenario"], f["rate"], f["ok"], f["failed"], f["per_s"], f["p99_ms"], f["node_ms_per_op"], f["pg_ms_per_op"], f["total_ms_per_op"] }
' "$RESULTS"
