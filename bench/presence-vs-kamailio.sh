#!/usr/bin/env bash
# presence-vs-kamailio.sh - presence cost, Switchboard against Kamailio's
# presence module (shared/interop/kamailio-ref.cfg) in one run.
#
#   bench/presence-vs-kamailio.sh [--watchers 100] [--per-watcher 10]
#                                 [--rate 500] [--settle 35] [--bench DIR]
#
# For each server, on loopback: WATCHERS users each open PER-WATCHER
# presence subscriptions to bob (digest-authenticated SUBSCRIBEs at RATE/s,
# bench/presence_load.py answering every NOTIFY), so WATCHERS x PER-WATCHER
# subscriptions of one user; procstat.sh snapshots before and SETTLE s
# after (the UDP transactions have ended: RFC 3261 Timer J is 32 s); then
# bob PUBLISHes and the generator times until every subscription got
# the new state (ten times, one after the other), with the server's CPU
# for it. Prints per server:
#   NAME subscribe: ok= failed= rate=/s       (SUBSCRIBE rate, failures)
#   NAME memory: subscriptions= pss_delta_kb= per_subscription_bytes=
#   NAME fanout: rounds= notified= time_ms_median= time_ms_max= cpu_ms= cpu_per_notify_us=
# Kamailio: 127.0.0.1:5080 (kamailio-ref.cfg: presence in memory,
# subs_db_mode 0); Switchboard: the release binary on 127.0.0.1:5062 with
# its durable store. Both servers are stopped by PID at the end.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SHARED="$(cd "$HERE/../../shared" 2>/dev/null && pwd || true)"
WATCHERS=100
PER=10
RATE=500
SETTLE=35
while [ $# -gt 0 ]; do
	case "$1" in
		--watchers) WATCHERS="$2"; shift 2 ;;
		--per-watcher) PER="$2"; shift 2 ;;
		--rate) RATE="$2"; shift 2 ;;
		--settle) SETTLE="$2"; shift 2 ;;
		--bench) SHARED="$(cd "$2/.." && pwd)"; shift 2 ;;
		*) echo "usage: $0 [--watchers N] [--per-watcher K] [--rate R] [--settle S] [--bench DIR]" >&2; exit 2 ;;
	esac
done
[ -x "$SHARED/interop/start-kamailio.sh" ] || { echo "no shared interop folder at $SHARED" >&2; exit 2; }
BIN="$HERE/../target/release/switchboard"
[ -x "$BIN" ] || { echo "build first: cargo build --release -p switchboard" >&2; exit 2; }

WORK="$(mktemp -d /tmp/sb-presence-bench.XXXXXX)"
OPID=""
stop_all() {
	[ -n "$OPID" ] && kill "$OPID" 2>/dev/null && wait "$OPID" 2>/dev/null
	"$SHARED/interop/start-kamailio.sh" --stop "$WORK/kamailio" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap stop_all EXIT

users="bob:pw-bob"
{ echo "bob,pw-bob"; for ((i = 0; i < WATCHERS; i++)); do printf "user%04d,pw-user%04d\n" "$i" "$i"; done; } > "$WORK/users.csv"
users=$(tr ',' ':' < "$WORK/users.csv" | paste -sd, -)

# --- Kamailio (presence module) ---
mkdir -p "$WORK/kamailio"
INTEROP_USERS="$users" "$SHARED/interop/start-kamailio.sh" --dir "$WORK/kamailio" --domain 127.0.0.1 > "$WORK/kamailio.out"
KPID=$(sed -n 's/^KAMAILIO_PID=//p' "$WORK/kamailio.out")
[ -n "$KPID" ] || { cat "$WORK/kamailio.out"; exit 1; }

# --- Switchboard ---
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
[presence]
max_subscriptions_per_user = 100000
max_subscriptions = 1000000
TOML
"$BIN" serve --config "$WORK/switchboard.toml" > "$WORK/switchboard.log" 2>&1 &
OPID=$!
for _ in $(seq 50); do grep -q ready "$WORK/switchboard.log" && break; sleep 0.1; done
grep -q ready "$WORK/switchboard.log" || { cat "$WORK/switchboard.log"; exit 1; }

kb() { echo "$1" | grep -o "$2=[0-9]*" | cut -d= -f2; }
measure() { # NAME PORT PID
	local name=$1 port=$2 pid=$3 before after ready="$WORK/$1.ready" subs
	sleep 1
	before=$("$SHARED/bench/procstat.sh" "$pid")
	python3 "$HERE/presence_load.py" --name "$name" --server "127.0.0.1:$port" --domain 127.0.0.1 \
		--pid "$pid" --presentity bob:pw-bob --watchers "$WATCHERS" --per-watcher "$PER" \
		--rate "$RATE" --ready-file "$ready" > "$WORK/$name.load" 2> "$WORK/$name.err" &
	local gen=$!
	for _ in $(seq 600); do [ -e "$ready" ] && break; sleep 0.2; done
	sleep "$SETTLE"
	after=$("$SHARED/bench/procstat.sh" "$pid")
	rm -f "$ready"
	wait "$gen" || true
	cat "$WORK/$name.load"
	subs=$(grep -o 'ok=[0-9]*' "$WORK/$name.load" | head -1 | cut -d= -f2)
	local delta=$(( $(kb "$after" pss_kb) - $(kb "$before" pss_kb) ))
	echo "$name memory: subscriptions=${subs:-0} pss_delta_kb=$delta per_subscription_bytes=$(( ${subs:-0} > 0 ? delta * 1024 / subs : 0 ))"
	head -5 "$WORK/$name.err" >&2 || true
}
measure kamailio 5080 "$KPID"
measure switchboard 5062 "$OPID"
