#!/usr/bin/env bash
# reload-under-load.sh - does a big dial plan reload stall calls? The call
# scenario of the shared harness against Switchboard whose plan sends every
# call over a least-cost trunk with 100,000 cost prefixes (the callee SIPp,
# 127.0.0.1:6110, is the gateway), run twice in one go: once quiet, once
# while the plan is reloaded (SIGHUP) every second. Compare p99, p99.9 and
# max of the two runs.
#
#   bench/reload-under-load.sh [--rate 200] [--count 4000] [--users 1000] [--prefixes 100000]
#
# Needs the release binary (SWITCHBOARD_BIN overrides it) and sipp.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(cd "$HERE/../../shared/bench" 2>/dev/null && pwd || true)"
RATE=200
COUNT=4000
USERS=1000
PREFIXES=100000
. "$HERE/lib.sh"
bench_options --rate=RATE --count=COUNT --users=USERS --prefixes=PREFIXES --bench=BENCH -- "$@"

bench_require
while pgrep -x kamailio >/dev/null || pgrep -x sipp >/dev/null; do
	echo "waiting: another benchmark is running" >&2
	sleep 10
done
WORK="$(mktemp -d /tmp/sb-reload.XXXXXX)"
trap bench_stop EXIT
for ((i = 0; i < USERS; i++)); do u=$(printf "user%04d" "$i"); echo "$u,pw-$u"; done > "$WORK/users.csv"
"$BIN" user import "$WORK/users.csv" --data "$WORK/data" --domain 127.0.0.1 >/dev/null
# 100,000 distinct prefixes of the callees' numbers' shape, costs varying.
awk -v n="$PREFIXES" 'BEGIN { for (i = 0; i < n; i++) printf "user%d,0.%04d\n", i, i % 9973 }' > "$WORK/costs.csv"
PLAN="
[[trunk]]
name = \"bench-gateway\"
gateways = [\"sip:127.0.0.1:6110\"]
cost_file = \"costs.csv\"

[[route]]
name = \"every callee by least cost\"
to_prefix = [\"user\"]
trunks = [\"bench-gateway\"]
lcr = true
"
bench_config 5062 "$WORK/data" "$PLAN" > "$WORK/switchboard.toml"
OPID="$(bench_serve "$WORK/switchboard")"
[ -n "$OPID" ] || exit 1
grep -m1 "dial plan in force" "$WORK/switchboard.log" >&2 || true

run() {
	"$BENCH/bench.sh" --target 127.0.0.1:5062 --server-pid "$OPID" --quiet --outdir "$WORK/run-$1" \
		--scenario call --rate "$RATE" --count "$COUNT" --users "$USERS"
}
echo "quiet $(run quiet) p999_ms=$(rtt_p999 "$WORK/run-quiet")"
sleep 3
reloads=0
( for ((k = 0; k < COUNT / RATE + 30; k++)); do kill -HUP "$OPID" 2>/dev/null || break; sleep 1; done ) &
HUPPER=$!
line="$(run reloading)"
kill "$HUPPER" 2>/dev/null || true
wait "$HUPPER" 2>/dev/null || true
reloads=$(grep -c "SIGHUP: dial plan loaded" "$WORK/switchboard.log" || true)
echo "reloading $line p999_ms=$(rtt_p999 "$WORK/run-reloading") reloads=$reloads"
