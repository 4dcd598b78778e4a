#!/usr/bin/env bash
# admin-api.sh - the admin API's registrations list on a server holding
# 100,000 bindings: requests per second and p50/p99 latency of
# `GET /api/v1/registrations` (the first page, 1000 bindings, and one user's
# filter) with wrk, and whether SIP stalls meanwhile: the p99 of SIPp
# REGISTERs alone, then during the API load.
#
#   bench/admin-api.sh [--bindings 100000] [--duration 15] [--connections 8]
#                      [--sip-rate 200] [--bench DIR]
#
# The bindings are written straight into the store (one SQL statement; the
# registrar loads them at start), user load000000.. each with one contact,
# expiring in a day. SIP load: bench.sh's register scenario (user0000..,
# 1000 users) on 127.0.0.1:5062; the API on 127.0.0.1:18089. Each wrk run
# lasts DURATION seconds (two runs, plus the two SIPp runs of DURATION:
# about a minute in all). SWITCHBOARD_BIN picks the binary (default the
# release build). Needs wrk (apt-get install -y wrk) and sqlite3.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(cd "$HERE/../../shared/bench" 2>/dev/null && pwd || true)"
BINDINGS=100000
DURATION=15
CONNECTIONS=8
SIP_RATE=200
SIP_USERS=1000
ADMIN=127.0.0.1:18089
. "$HERE/lib.sh"
bench_options --bindings=BINDINGS --duration=DURATION --connections=CONNECTIONS \
	--sip-rate=SIP_RATE --bench=BENCH -- "$@"
bench_require
for tool in wrk sqlite3 curl; do
	command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install -y $tool)" >&2; exit 2; }
done

bench_wait_alone
WORK="$(mktemp -d /tmp/sb-bench.XXXXXX)"
trap bench_stop EXIT
# The SIP load's users (and the store's schema).
bench_users "$SIP_USERS"

# BINDINGS bindings, one per user load000000.., contacts on 10.x.y.z.
started=$(date +%s.%N)
sqlite3 "$WORK/data/switchboard.db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $BINDINGS - 1),
b(i, user, host) AS (
	SELECT i, printf('load%06d', i),
	       printf('10.%d.%d.%d:5060', (i / 65536) % 256, (i / 256) % 256, i % 256) FROM n)
INSERT INTO bindings (aor, contact, contact_header, q, expires_at, call_id, cseq, instance_id,
                      reg_id, path, transport, remote_addr, local_addr, flow_token, user_agent,
                      updated_unix)
SELECT 'sip:' || user || '@127.0.0.1', 'contact:sip:' || user || '@' || host,
       '<sip:' || user || '@' || host || '>', 1000, unixepoch() + 86400, 'bench-' || i, 1, NULL,
       NULL, '', 'udp', host, '127.0.0.1:5062', NULL, 'bench/1', unixepoch()
FROM b;
SQL
echo "store: $BINDINGS bindings written in $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

bench_config 5062 "$WORK/data" "admin = \"$ADMIN\"" > "$WORK/switchboard.toml"
OPID="$(bench_serve "$WORK/switchboard")"
[ -n "$OPID" ] || exit 1
grep -o 'bindings: [0-9]* live loaded' "$WORK/switchboard.log"
TOKEN=$("$BIN" token create bench --data "$WORK/data")
AUTH="Authorization: Bearer $TOKEN"
URL="http://$ADMIN/api/v1/registrations"

# What one answer is.
size=$(curl -sf -H "$AUTH" "$URL" | wc -c)
items=$(curl -sf -H "$AUTH" "$URL" | grep -o '"aor"' | wc -l)
link=$(curl -sf -D - -o /dev/null -H "$AUTH" "$URL" | grep -i '^link:' | tr -d '\r' || true)
echo "first page: $items bindings, $size bytes; $link"

# wrk NAME URL: one line: requests/s, p50, p99, errors.
load() {
	wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "$AUTH" "$2" > "$WORK/wrk-$1.txt"
	awk -v name="$1" -v c="$CONNECTIONS" '
		/Requests\/sec/ { rps = $2 }
		/^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
		/Non-2xx/ { non2xx = $NF }
		/requests in/ { n = $1 }
		END { printf "api %s: connections=%s requests=%s rps=%s p50=%s p99=%s non_2xx=%d\n", name, c, n, rps, p50, p99, non2xx }
	' "$WORK/wrk-$1.txt"
}

# sip NAME: SIPp REGISTERs for DURATION seconds at SIP_RATE/s.
sip() {
	"$BENCH/bench.sh" --target 127.0.0.1:5062 --server-pid "$OPID" --scenario register \
		--rate "$SIP_RATE" --count $((SIP_RATE * DURATION)) --users "$SIP_USERS" --quiet \
		| grep -o 'attempted=.*' | sed "s/^/sip $1: /"
}

sip alone
sip "during-api-load" &
SIPP_JOB=$!
sleep 1
load first-page "$URL"
wait "$SIPP_JOB"
load user-filter "$URL?user=load042042"
echo "server: $("$BENCH/procstat.sh" "$OPID")"
