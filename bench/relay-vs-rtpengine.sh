#!/usr/bin/env bash
# relay-vs-rtpengine.sh - Switchboard's media relay against rtpengine's
# userspace daemon on the same load, in one run: relayed packets per
# second, loss, and CPU per stream, for RTP->RTP and SDES-SRTP->RTP.
#
#   bench/relay-vs-rtpengine.sh [--streams "50 100 200 400"] [--seconds 20]
#                               [--modes "rtp srtp"] [--threads 2] [--max]
#                               [--out FILE]
#
# Starts the release `switchboard serve` (127.0.0.1:5062, `[media] relay =
# "always"`, relay ports 30000-33999, the harness's configuration of
# lib.sh: user0000 / pw-user0000, per-source rate limit and lockout off
# since all load comes from one address) and rtpengine (Debian's rtpengine-daemon, installed with apt-get
# when missing; userspace only: --table=-1, no kernel module; interface
# 127.0.0.1, ng control on 127.0.0.1:2223, ports 40000-49999, two worker
# threads like the two cores). For each mode and each stream count, runs
# the load generator `rtp-load` (crates/testpeers) against Switchboard and
# then against rtpengine, back to back: N streams, each 50 packets/s of
# 160-byte PCMU in both directions for --seconds after a one-second
# warm-up (latching). Switchboard's sessions are SIP calls (the callee
# registered, the caller a stranger from another domain, the relay's ports
# read from the SDP each phone gets, BYE at the end); rtpengine's are ng
# offer/answer/delete. In `srtp` mode the caller offers SDES-SRTP
# (AES_CM_128_HMAC_SHA1_80) and the callee answers plain RTP: the relay
# decrypts, re-encrypts and checks one way and the other.
#
# Each run measures the server's utime+stime (/proc/PID/stat, all
# threads) over the sending time and the generator's own, and counts what
# each phone receives (SRTP authenticated, plain RTP checked intact).
# With --max, also the most streams each server carries at under 1 % loss
# (steps of 200 streams from 600, 10 s each, up to 1000).
#
# Prints a markdown table (and saves it to --out, by default
# bench/results/relay-vs-rtpengine-DATE.md) with the ratio
# Switchboard/rtpengine of CPU per stream. Every process it starts is
# stopped by PID at exit; all traffic is on 127.0.0.1. Needs the release
# binaries: cargo build --release -p switchboard --bin switchboard
# -p switchboard-testpeers --bin rtp-load (SWITCHBOARD_BIN, RTP_LOAD
# override their paths).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STREAMS="50 100 200 400"
SECONDS_PER_RUN=20
MODES="rtp srtp"
THREADS=2
MAX=0
OUT="$HERE/results/relay-vs-rtpengine-$(date -u +%Y%m%d-%H%M).md"
while [ $# -gt 0 ]; do
	case "$1" in
		--streams) STREAMS="$2"; shift 2 ;;
		--seconds) SECONDS_PER_RUN="$2"; shift 2 ;;
		--modes) MODES="$2"; shift 2 ;;
		--threads) THREADS="$2"; shift 2 ;;
		--max) MAX=1; shift ;;
		--out) OUT="$2"; shift 2 ;;
		*) echo "usage: $0 [--streams \"50 100 200 400\"] [--seconds S] [--modes \"rtp srtp\"] [--threads T] [--max] [--out FILE]" >&2; exit 2 ;;
	esac
done

BIN="${SWITCHBOARD_BIN:-$HERE/../target/release/switchboard}"
LOAD="${RTP_LOAD:-$HERE/../target/release/rtp-load}"
for b in "$BIN" "$LOAD"; do
	[ -x "$b" ] || { echo "build first: cargo build --release -p switchboard --bin switchboard -p switchboard-testpeers --bin rtp-load ($b missing)" >&2; exit 2; }
done
SIP_PORT=5062
NG_PORT=2223
. "$HERE/lib.sh"

if ! command -v rtpengine >/dev/null; then
	echo "installing rtpengine-daemon" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends rtpengine-daemon >/dev/null
fi

# One benchmark at a time on this host.
for _ in $(seq 90); do
	pgrep -x kamailio >/dev/null || pgrep -x sipp >/dev/null || pgrep -x rtpengine >/dev/null || break
	echo "waiting: another benchmark is running" >&2
	sleep 10
done
if pgrep -x kamailio >/dev/null || pgrep -x sipp >/dev/null || pgrep -x rtpengine >/dev/null; then
	echo "another benchmark is still running after 15 minutes" >&2
	exit 1
fi

WORK="$(mktemp -d /tmp/sb-relay-bench.XXXXXX)"
OPID=""
RPID=""
stop() {
	local pid
	for pid in $OPID $RPID; do
		kill "$pid" 2>/dev/null || continue
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap stop EXIT
trap 'exit 130' INT TERM

# 4 relay ports per call (RTP and RTCP of each party) and 2 sockets per
# stream for the generator.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 8192 ] || { echo "ulimit -n $(ulimit -n): 8192 open files needed" >&2; exit 1; }

# The harness's server (lib.sh) with the relay on; the callee is user0000.
bench_users 1
bench_config $SIP_PORT "$WORK/data" "$(printf '[media]\nrelay = "always"\nports = "30000-33999"')" \
	>"$WORK/switchboard.toml"
OPID="$(bench_serve "$WORK/switchboard")"
[ -n "$OPID" ] || exit 1

rtpengine --config-file=none --table=-1 --interface=127.0.0.1 \
	--listen-ng=127.0.0.1:$NG_PORT --port-min=40000 --port-max=49999 \
	--num-threads=2 --delete-delay=0 --foreground --log-stderr --log-level=5 \
	>"$WORK/rtpengine.log" 2>&1 &
RPID=$!
# Ready once its ng port is bound.
ng_bound() { ss -Hlnu "sport = :$NG_PORT" | grep -q .; }
for _ in $(seq 100); do ng_bound && break; sleep 0.1; done
ng_bound && kill -0 "$RPID" || { cat "$WORK/rtpengine.log" >&2; exit 1; }

RESULTS="$WORK/results"
: >"$RESULTS"

# The host's RcvbufErrors (every socket: the generator's too).
rcvbuf_errors() {
	udp_errors | awk '{ print $2 }'
}

# run SERVER MODE STREAMS SECONDS [PHASE]: one rtp-load run, its line kept
# with the drops at the server's sockets and host-wide over it.
run() {
	local server="$1" mode="$2" streams="$3" seconds="$4" phase="${5:-steps}" line lo hi own host
	local args=(--streams "$streams" --seconds "$seconds" --threads "$THREADS")
	if [ "$server" = switchboard ]; then lo=30000 hi=33999; else lo=40000 hi=49999; fi
	own="$(socket_drops $lo $hi)"
	host="$(rcvbuf_errors)"
	[ "$mode" = srtp ] && args+=(--srtp)
	if [ "$server" = switchboard ]; then
		args+=(--sip 127.0.0.1:$SIP_PORT --server-pid "$OPID" --user user0000 --password pw-user0000)
	else
		args+=(--ng 127.0.0.1:$NG_PORT --server-pid "$RPID")
	fi
	kill -0 "$OPID" && kill -0 "$RPID" || { echo "a server died" >&2; exit 1; }
	line="$(timeout $((seconds + 120)) "$LOAD" "${args[@]}")" || {
		echo "rtp-load failed: $server $mode $streams streams" >&2
		line="server=$server mode=$mode-rtp streams=$streams failed=1"
	}
	line+=" server_socket_drops=$(($(socket_drops $lo $hi) - own)) rcvbuf_errors=$(($(rcvbuf_errors) - host)) phase=$phase"
	echo "$line" >&2
	echo "$line" >>"$RESULTS"
	sleep 2
}

for mode in $MODES; do
	for n in $STREAMS; do
		run switchboard "$mode" "$n" "$SECONDS_PER_RUN"
		run rtpengine "$mode" "$n" "$SECONDS_PER_RUN"
	done
done

MAXLINES=""
if [ "$MAX" = 1 ]; then
	for mode in $MODES; do
		for server in switchboard rtpengine; do
			best=0
			for n in 600 800 1000; do
				run "$server" "$mode" "$n" 10 max
				loss="$(tail -1 "$RESULTS" | sed -n 's/.*loss_pct=\([0-9.]*\).*/\1/p')"
				[ -n "$loss" ] && awk -v l="$loss" 'BEGIN { exit !(l < 1) }' || break
				best=$n
			done
			MAXLINES+="| $mode-rtp | $server | $best |"$'\n'
		done
	done
fi

mkdir -p "$(dirname "$OUT")"
{
	echo "# Media relay: Switchboard vs rtpengine ($(date -u +%Y-%m-%dT%H:%MZ))"
	echo
	echo "switchboard $(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo '?'), $(rtpengine --version 2>&1 | head -1);" \
		"$(nproc) cores; $SECONDS_PER_RUN s per run after 1 s warm-up; 50 packets/s of 160-byte PCMU each way per stream;" \
		"generator threads $THREADS. CPU: utime+stime of the server process over the run;" \
		"rejected: datagrams a phone got that failed SRTP authentication or were not the RTP sent."
	echo
	echo "| mode | streams | server | relayed pkt/s | loss % | rejected pkts | server socket drops | host rcvbuf errors | server CPU s | CPU ms per stream-second | pkts per CPU-second | generator CPU s |"
	echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	awk '
		{ delete f; for (k = 1; k <= NF; k++) { split($k, kv, "="); f[kv[1]] = kv[2] } }
		f["phase"] != "steps" { next }
		f["failed"] == 1 { printf "| %s | %s | %s | failed | | | | | | | | |\n", f["mode"], f["streams"], f["server"]; next }
		{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f["mode"], f["streams"], f["server"],
			f["relayed_pps"], f["loss_pct"], f["rejected"], f["server_socket_drops"], f["rcvbuf_errors"],
			f["server_cpu_s"], f["cpu_ms_per_stream_s"], f["pkts_per_cpu_s"], f["gen_cpu_s"] }
	' "$RESULTS"
	echo
	echo "| mode | streams | CPU per stream, switchboard / rtpengine |"
	echo "| --- | ---: | ---: |"
	awk '
		{ delete f; for (k = 1; k <= NF; k++) { split($k, kv, "="); f[kv[1]] = kv[2] } }
		f["phase"] == "steps" && f["failed"] != 1 && f["seconds"] + 0 > 0 { key = f["mode"] " " f["streams"]; c[key, f["server"]] = f["cpu_ms_per_stream_s"]; if (!(key in seen)) { seen[key] = 1; order[++n] = key } }
		END {
			for (i = 1; i <= n; i++) {
				key = order[i]; split(key, p, " ")
				if (c[key, "rtpengine"] > 0 && c[key, "switchboard"] != "")
					printf "| %s | %s | %.2f |\n", p[1], p[2], c[key, "switchboard"] / c[key, "rtpengine"]
			}
		}
	' "$RESULTS"
	if [ -n "$MAXLINES" ]; then
		echo
		echo "| mode | server | most streams at < 1 % loss (tried 600, 800, 1000; 10 s) |"
		echo "| --- | --- | ---: |"
		printf "%s" "$MAXLINES"
	fi
	echo
	echo "Raw lines:"
	echo
	sed 's/^/    /' "$RESULTS"
} >"$OUT"
cat "$OUT"
echo "saved: $OUT" >&2
