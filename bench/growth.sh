#!/usr/bin/env bash
# growth.sh - how Switchboard's cost grows with its users (issue 15, Build
# 5): for each N (default 10k, 100k, 1M users, imported with `user import`)
#
#   import_s      the `user import` of N users (not the server's cost)
#   startup_s     from starting `serve` to its first answer to an OPTIONS
#   pss_mb        its PSS (MB) once started, N users in memory
#   quiet         a REGISTER run of the shared harness (--users 10000 at a
#                 fixed rate): cpu_ms_per_op, p99_ms, max_ms
#   changing      the same run while `user passwd` changes one user every
#                 CHANGE_EVERY seconds: p99_ms, max_ms (a change that stalls
#                 the driver shows here), and passwd_s, the median time one
#                 `user passwd` took
#
# One line per N, then the raw bench.sh lines. Loopback only; every process
# it starts is stopped by its PID; one benchmark at a time (it waits while
# a SIPp or Kamailio runs). The machine is shared: compare the lines of one
# run (or of two binaries run one after the other), not absolute figures.
#
#   bench/growth.sh [--sizes "10000 100000 1000000"] [--rate 200] [--count 4000]
#                   [--change-every 2] [--port 5062] [--bench DIR]
#
# Needs the release binary (SWITCHBOARD_BIN overrides it), sipp, python3.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(cd "$HERE/../../shared/bench" 2>/dev/null && pwd || true)"
SIZES="10000 100000 1000000"
RATE=200
COUNT=4000
CHANGE_EVERY=2
LOAD_USERS=10000
PORT=5062
. "$HERE/lib.sh"
bench_options --sizes=SIZES --rate=RATE --count=COUNT --change-every=CHANGE_EVERY --port=PORT \
	--bench=BENCH -- "$@"
bench_require
bench_wait_alone
WORK="$(mktemp -d /tmp/sb-growth.XXXXXX)"
trap bench_stop EXIT

# Starts `serve` (PID on stdout's first line), then sends OPTIONS every
# 10 ms until one is answered: the seconds from the start, second line.
start_and_time() {
	python3 - "$BIN" "$1" "$PORT" <<'PY'
import socket, subprocess, sys, time
binary, config, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
log = open(config.replace(".toml", ".log"), "w")
t0 = time.monotonic()
server = subprocess.Popen([binary, "serve", "--config", config], stdout=log, stderr=log,
                          start_new_session=True)
print(server.pid, flush=True)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
sock.settimeout(0.01)
local = sock.getsockname()[1]
n = 0
while time.monotonic() - t0 < 600 and server.poll() is None:
    n += 1
    msg = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-growth-{n}\r\n"
           f"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=g{n}\r\n"
           f"To: <sip:127.0.0.1:{port}>\r\nCall-ID: growth-{n}@127.0.0.1\r\n"
           f"CSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n")
    sock.sendto(msg.encode(), ("127.0.0.1", port))
    try:
        data = sock.recv(65535)
        if data.startswith(b"SIP/2.0 "):
            print(f"{time.monotonic() - t0:.3f}", flush=True)
            sys.exit(0)
    except socket.timeout:
        pass
print("na", flush=True)
PY
}

# The value of KEY= in a bench.sh line.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< " $2"; }

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "na"; else printf "%.3f\n", v[int((NR + 1) / 2)] }'; }

load() {
	"$BENCH/bench.sh" --target "127.0.0.1:$PORT" --server-pid "$OPID" --quiet \
		--outdir "$WORK/run-$1" --scenario register --rate "$RATE" --count "$COUNT" --users "$LOAD_USERS"
}

RAW=()
echo "binary=$BIN rate=$RATE count=$COUNT load_users=$LOAD_USERS change_every=${CHANGE_EVERY}s"
for N in $SIZES; do
	[ "$N" -ge "$LOAD_USERS" ] || { echo "N=$N: at least $LOAD_USERS users (the load's)" >&2; exit 2; }
	DATA="$WORK/data-$N"
	awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) { u = sprintf("user%04d", i); print u ",pw-" u } }' > "$WORK/users.csv"
	t0=$(date +%s.%N)
	"$BIN" user import "$WORK/users.csv" --data "$DATA" --domain 127.0.0.1 >/dev/null
	import_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	rm -f "$WORK/users.csv"
	bench_config "$PORT" "$DATA" > "$WORK/serve-$N.toml"
	{ read -r OPID; read -r startup_s; } < <(start_and_time "$WORK/serve-$N.toml")
	[ "$startup_s" != na ] || { cat "$WORK/serve-$N.log" >&2; exit 1; }
	sleep 1
	pss_mb=$(awk '/^Pss:/ { printf "%.1f", $2 / 1024 }' "/proc/$OPID/smaps_rollup")

	quiet="$(load "quiet-$N")"
	sleep 2
	# One user's password changed every CHANGE_EVERY s while the load runs
	# (set to the same value: a change for the store and the server, none
	# for the load, which may use that user).
	last=$(printf "user%04d" $((N - 1)))
	(
		while :; do
			sleep "$CHANGE_EVERY"
			s=$(date +%s.%N)
			"$BIN" user passwd "$last" --password "pw-$last" --data "$DATA" --domain 127.0.0.1 >/dev/null 2>&1 || true
			awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f\n", b - a }' >> "$WORK/passwd-$N.s"
		done
	) &
	CHANGER=$!
	changing="$(load "changing-$N")"
	kill "$CHANGER" 2>/dev/null || true
	wait "$CHANGER" 2>/dev/null || true
	changes=$(wc -l < "$WORK/passwd-$N.s")
	passwd_s=$(median < "$WORK/passwd-$N.s")
	applied=$(grep -c "user changes applied" "$WORK/serve-$N.log" || true)
	reloads=$(grep -c "users reloaded" "$WORK/serve-$N.log" || true)

	echo "N=$N import_s=$import_s startup_s=$startup_s pss_mb=$pss_mb" \
		"quiet_cpu_ms_per_op=$(field cpu_ms_per_op "$quiet") quiet_p99_ms=$(field p99_ms "$quiet") quiet_max_ms=$(field max_ms "$quiet")" \
		"changing_cpu_ms_per_op=$(field cpu_ms_per_op "$changing") changing_p99_ms=$(field p99_ms "$changing") changing_max_ms=$(field max_ms "$changing")" \
		"changes=$changes passwd_s=$passwd_s deltas_applied=$applied full_reloads=$reloads" \
		"quiet_fail=$(field failed "$quiet") changing_fail=$(field failed "$changing")"
	RAW+=("N=$N quiet $quiet" "N=$N changing $changing")

	kill "$OPID" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$OPID" 2>/dev/null || break; sleep 0.1; done
	OPID=""
	rm -rf "$DATA"
done
echo "raw:"
printf '%s\n' "${RAW[@]}"
