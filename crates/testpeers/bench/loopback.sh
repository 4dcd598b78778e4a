#!/usr/bin/env bash
# Calls per second through the endpoint on loopback, and the CPU they cost.
#
# SIPp's built-in `uac` scenario (INVITE, 200, ACK, BYE, 200: two server
# transactions per call) drives the test UAS (`sip-test-uas`, release build)
# at a fixed rate over UDP; the UAS's CPU time (utime+stime from /proc) is
# read before and after. Loopback only, bounded in calls and time.
#
#   crates/testpeers/bench/loopback.sh [RATE] [CALLS] [udp|tcp]
#
# Prints one line: rate, calls, failures, CPU ms, CPU µs per call, RSS.
set -euo pipefail
RATE="${1:-2000}"
CALLS="${2:-20000}"
TRANSPORT="${3:-udp}"
here=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$here"
cargo build --release -q -p switchboard-testpeers
uas="$here/target/release/sip-test-uas"
port=$((20000 + RANDOM % 20000))
sipp_port=$((port + 1))
"$uas" --listen "$TRANSPORT:127.0.0.1:$port" --seconds 300 >/dev/null &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT
sleep 0.5
hz=$(getconf CLK_TCK)
ticks() { sed -E 's/^.*\) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }'; }
before=$(ticks)
t=u1; [ "$TRANSPORT" = tcp ] && t=t1
out=$(timeout 300 sipp -sn uac "127.0.0.1:$port" -t "$t" -i 127.0.0.1 -p "$sipp_port" \
	-m "$CALLS" -r "$RATE" -l 100000 -d 0 -timeout 280 -nostdin 2>&1 || true)
after=$(ticks)
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
ok=$(echo "$out" | awk -F'|' '/Successful call/ { v = $3 } END { gsub(/ /, "", v); print v + 0 }')
failed=$(echo "$out" | awk -F'|' '/Failed call/ { v = $3 } END { gsub(/ /, "", v); print v + 0 }')
elapsed=$(echo "$out" | awk '/Elapsed Time/ { print $0; exit }' | tr -s ' ')
cpu_ms=$(( (after - before) * 1000 / hz ))
awk -v r="$RATE" -v c="$CALLS" -v ok="$ok" -v f="$failed" -v ms="$cpu_ms" -v rss="$rss" -v tr="$TRANSPORT" 'BEGIN {
	printf "transport=%s rate=%s calls=%s ok=%s failed=%s uas_cpu_ms=%d cpu_us_per_call=%.1f cpu_us_per_transaction=%.1f rss_kb=%s\n",
		tr, r, c, ok, f, ms, ms * 1000 / (ok > 0 ? ok : 1), ms * 1000 / (ok > 0 ? ok : 1) / 2, rss }'
