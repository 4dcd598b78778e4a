# lib.sh - what the bench/*.sh scripts share: the users, a Switchboard and
# the reference Kamailio started with them, and stopping both by PID.
# Source it after setting BENCH (the shared harness) and BIN (the binary).
#
#   bench_start USERS [EXTRA_TOML]   -> WORK, OPID (Switchboard on 5062), KPID (Kamailio on 5060)
#
# Users are user0000.. with password pw-<user>, domain 127.0.0.1 (the
# harness's convention); Switchboard runs with the per-source rate limit
# and lockout off (all load comes from one address) and the digest uri
# check off (SIPp answers with the server's ip:port).

WORK=""
OPID=""
KPID=""

bench_stop() {
	[ -n "$OPID" ] && kill "$OPID" 2>/dev/null && wait "$OPID" 2>/dev/null
	"$BENCH/kamailio/run.sh" --stop --port 5060 >/dev/null 2>&1 || true
	[ -n "$WORK" ] && rm -rf "$WORK"
}

bench_start() {
	local users="$1" extra="${2:-}"
	WORK="$(mktemp -d /tmp/sb-bench.XXXXXX)"
	trap bench_stop EXIT
	for ((i = 0; i < users; i++)); do
		u=$(printf "user%04d" "$i")
		echo "$u,pw-$u"
	done > "$WORK/users.csv"
	"$BIN" user import "$WORK/users.csv" --data "$WORK/data" --domain 127.0.0.1 >/dev/null
	cat > "$WORK/switchboard.toml" <<TOML
listen = ["udp:127.0.0.1:5062"]
domains = ["127.0.0.1"]
data = "$WORK/data"
$extra
[protection]
rate_limit = false
lockout = false
[auth]
# SIPp's digest uri is the server's ip:port, not the Request-URI.
check_uri = false
TOML
	"$BIN" serve --config "$WORK/switchboard.toml" > "$WORK/switchboard.log" 2>&1 &
	OPID=$!
	for _ in $(seq 50); do grep -q ready "$WORK/switchboard.log" && break; sleep 0.1; done
	grep -q ready "$WORK/switchboard.log" || { cat "$WORK/switchboard.log"; exit 1; }
	KPID=$("$BENCH/kamailio/run.sh" --port 5060 --children 2 --users "$users" | tail -1)
}
