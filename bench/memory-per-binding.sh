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
while [ $# -gt 0 ]; do
	case "$1" in
		--users) USERS="$2"; shift 2 ;;
		--rate) RATE="$2"; shift 2 ;;
		--settle) SETTLE="$2"; shift 2 ;;
		--bench) BENCH="$2"; shift 2 ;;
		*) echo "usage: $0 [--users N] [--rate R] [--settle S] [--bench DIR]" >&2; exit 2 ;;
	esac
done
[ -x "$BENCH/bench.sh" ] || { echo "no bench harness at $BENCH (pass --bench DIR)" >&2; exit 2; }
BIN="$HERE/../target/release/switchboard"
[ -x "$BIN" ] || { echo "build first: cargo build --release -p switchboard" >&2; exit 2; }

WORK="$(mktemp -d /tmp/sb-mem.XXXXXX)"
OPID=""
cleanup() {
	[ -n "$OPID" ] && kill "$OPID" 2>/dev/null && wait "$OPID" 2>/dev/null
	"$BENCH/kamailio/run.sh" --stop --port 5060 >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

POPULATION=$((USERS * 2))
for ((i = 0; i < POPULATION; i++)); do
	u=$(printf "user%04d" "$i")
	echo "$u,pw-$u"
done > "$WORK/users.csv"
"$BIN" user import "$WORK/users.csv" --data "$WORK/data" --domain 127.0.0.1 >/dev/null
cat > "$WORK/switchboard.toml" <<TOML
listen = ["udp:127.0.0.1:5062"]
domains = ["127.0.0.1"]
data = "$WORK/data"
[protection]
rate_limit = false
lockout = false
[auth]
check_uri = false
TOML
"$BIN" serve --config "$WORK/switchboard.toml" > "$WORK/switchboard.log" 2>&1 &
OPID=$!
for _ in $(seq 50); do grep -q ready "$WORK/switchboard.log" && break; sleep 0.1; done
KPID=$("$BENCH/kamailio/run.sh" --port 5060 --children 2 --users "$POPULATION" | tail -1)

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
