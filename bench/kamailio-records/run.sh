#!/usr/bin/env bash
# run.sh - start the reference Kamailio with dialog and acc records for the
# call benchmark (`bench/call-vs-kamailio.sh --records`); the shared
# harness's run.sh plus the dialog and acc tables.
#
#   run.sh [--port 5060] [--children 2] [--users 20000] [--domain 127.0.0.1]
#          [--dir /tmp/kamailio-bench-PORT] [--shm-mb 1024] [--pkg-mb 16]
#          [--foreground]
#   run.sh --stop [--dir DIR]      stop the instance whose pid is in DIR
#
# Creates DIR/kamailio.sqlite with users user0000..user(N-1), password
# "pw-<user>", domain --domain; starts Kamailio listening on
# udp:127.0.0.1:PORT with CHILDREN UDP worker processes, logging to
# DIR/kamailio.log.  In background mode (default) it waits until the UDP
# port answers and prints the PID of the main Kamailio process as the LAST
# line of stdout (the children are its descendants; bench.sh sums the CPU of
# the whole process tree).
#
# kamcmd for this instance:  kamcmd -s unix:DIR/kamailio_ctl <command>
#   e.g. stats.get_statistics all | ul.dump | core.shmmem
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT=5060
CHILDREN=2
USERS=20000
DOMAIN=127.0.0.1
DIR=""
SHM_MB=1024
PKG_MB=16
FOREGROUND=0
STOP=0

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
	case "$1" in
		--port) PORT="$2"; shift 2 ;;
		--children|-n) CHILDREN="$2"; shift 2 ;;
		--users) USERS="$2"; shift 2 ;;
		--domain) DOMAIN="$2"; shift 2 ;;
		--dir) DIR="$2"; shift 2 ;;
		--shm-mb) SHM_MB="$2"; shift 2 ;;
		--pkg-mb) PKG_MB="$2"; shift 2 ;;
		--foreground) FOREGROUND=1; shift ;;
		--stop) STOP=1; shift ;;
		-h|--help) usage 0 ;;
		*) echo "run.sh: unknown option $1" >&2; usage 2 ;;
	esac
done
[ -n "$DIR" ] || DIR="/tmp/kamailio-bench-$PORT"

if [ "$STOP" = 1 ]; then
	if [ -f "$DIR/kamailio.pid" ]; then
		pid="$(cat "$DIR/kamailio.pid")"
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid"
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
			echo "stopped kamailio pid $pid" >&2
		fi
		rm -f "$DIR/kamailio.pid"
	else
		echo "run.sh: no $DIR/kamailio.pid" >&2
	fi
	exit 0
fi

command -v kamailio >/dev/null || { echo "kamailio not installed" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 not installed" >&2; exit 1; }

# Kamailio binds with SO_REUSEADDR: a second instance on the same port would
# start fine and silently share (or steal) the traffic.  Refuse instead.
if ss -Hlun "sport = :$PORT" 2>/dev/null | grep -q "127.0.0.1:$PORT"; then
	echo "run.sh: udp 127.0.0.1:$PORT is already in use (running: $(cat "$DIR/kamailio.pid" 2>/dev/null || echo '?'));" \
		"stop it first (run.sh --stop --port $PORT)" >&2
	exit 1
fi

mkdir -p "$DIR"
DB="$DIR/kamailio.sqlite"

# --- subscriber database (schema = Kamailio's standard + auth_db tables) ---
rm -f "$DB"
sqlite3 "$DB" <<SQL
CREATE TABLE version (
    id INTEGER PRIMARY KEY NOT NULL,
    table_name VARCHAR(32) NOT NULL,
    table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT version_table_name_idx UNIQUE (table_name)
);
INSERT INTO version (table_name, table_version) VALUES ('version', 1);
CREATE TABLE subscriber (
    id INTEGER PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL,
    password VARCHAR(64) DEFAULT '' NOT NULL,
    ha1 VARCHAR(128) DEFAULT '' NOT NULL,
    ha1b VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT subscriber_account_idx UNIQUE (username, domain)
);
CREATE INDEX subscriber_username_idx ON subscriber (username);
INSERT INTO version (table_name, table_version) VALUES ('subscriber', 7);
-- call state and records (Kamailio 5.6 schema of dialog and acc)
CREATE TABLE acc (
    id INTEGER PRIMARY KEY NOT NULL,
    method VARCHAR(16) DEFAULT '' NOT NULL,
    from_tag VARCHAR(128) DEFAULT '' NOT NULL,
    to_tag VARCHAR(128) DEFAULT '' NOT NULL,
    callid VARCHAR(255) DEFAULT '' NOT NULL,
    sip_code VARCHAR(3) DEFAULT '' NOT NULL,
    sip_reason VARCHAR(128) DEFAULT '' NOT NULL,
    time TIMESTAMP WITHOUT TIME ZONE NOT NULL
);
CREATE INDEX acc_callid_idx ON acc (callid);
INSERT INTO version (table_name, table_version) VALUES ('acc', 5);
CREATE TABLE acc_cdrs (
    id INTEGER PRIMARY KEY NOT NULL,
    start_time TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:00' NOT NULL,
    end_time TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:00' NOT NULL,
    duration REAL DEFAULT 0 NOT NULL
);
CREATE INDEX acc_cdrs_start_time_idx ON acc_cdrs (start_time);
INSERT INTO version (table_name, table_version) VALUES ('acc_cdrs', 2);
CREATE TABLE missed_calls (
    id INTEGER PRIMARY KEY NOT NULL,
    method VARCHAR(16) DEFAULT '' NOT NULL,
    from_tag VARCHAR(128) DEFAULT '' NOT NULL,
    to_tag VARCHAR(128) DEFAULT '' NOT NULL,
    callid VARCHAR(255) DEFAULT '' NOT NULL,
    sip_code VARCHAR(3) DEFAULT '' NOT NULL,
    sip_reason VARCHAR(128) DEFAULT '' NOT NULL,
    time TIMESTAMP WITHOUT TIME ZONE NOT NULL
);
CREATE INDEX missed_calls_callid_idx ON missed_calls (callid);
INSERT INTO version (table_name, table_version) VALUES ('missed_calls', 4);
CREATE TABLE dialog (
    id INTEGER PRIMARY KEY NOT NULL,
    hash_entry INTEGER NOT NULL,
    hash_id INTEGER NOT NULL,
    callid VARCHAR(255) NOT NULL,
    from_uri VARCHAR(255) NOT NULL,
    from_tag VARCHAR(128) NOT NULL,
    to_uri VARCHAR(255) NOT NULL,
    to_tag VARCHAR(128) NOT NULL,
    caller_cseq VARCHAR(20) NOT NULL,
    callee_cseq VARCHAR(20) NOT NULL,
    caller_route_set VARCHAR(512),
    callee_route_set VARCHAR(512),
    caller_contact VARCHAR(255) NOT NULL,
    callee_contact VARCHAR(255) NOT NULL,
    caller_sock VARCHAR(64) NOT NULL,
    callee_sock VARCHAR(64) NOT NULL,
    state INTEGER NOT NULL,
    start_time INTEGER NOT NULL,
    timeout INTEGER DEFAULT 0 NOT NULL,
    sflags INTEGER DEFAULT 0 NOT NULL,
    iflags INTEGER DEFAULT 0 NOT NULL,
    toroute_name VARCHAR(32),
    req_uri VARCHAR(255) NOT NULL,
    xdata VARCHAR(512)
);
CREATE INDEX dialog_hash_idx ON dialog (hash_entry, hash_id);
INSERT INTO version (table_name, table_version) VALUES ('dialog', 7);
CREATE TABLE dialog_vars (
    id INTEGER PRIMARY KEY NOT NULL,
    hash_entry INTEGER NOT NULL,
    hash_id INTEGER NOT NULL,
    dialog_key VARCHAR(128) NOT NULL,
    dialog_value VARCHAR(512) NOT NULL
);
CREATE INDEX dialog_vars_hash_idx ON dialog_vars (hash_entry, hash_id);
INSERT INTO version (table_name, table_version) VALUES ('dialog_vars', 1);
-- users user0000 .. user(N-1), password pw-<user>
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $USERS)
INSERT INTO subscriber (username, domain, password)
    SELECT printf('user%04d', i), '$DOMAIN', printf('pw-user%04d', i) FROM n;
SQL
echo "created $DB with $(sqlite3 "$DB" 'SELECT count(*) FROM subscriber') subscribers" >&2

ARGS=(-f "$HERE/kamailio.cfg" -DD -E
	-n "$CHILDREN" -m "$SHM_MB" -M "$PKG_MB"
	-l "udp:127.0.0.1:$PORT" -A "BENCH_DOMAIN=\"$DOMAIN\""
	-Y "$DIR" -w "$DIR"
	-A "DBURL=\"sqlite:///$DB\"" -A "DBPATH=\"$DB\"" -A "CTLSOCK=\"unix:$DIR/kamailio_ctl\"")

kamailio "${ARGS[@]}" -c >/dev/null 2>"$DIR/check.log" || { cat "$DIR/check.log" >&2; exit 1; }

if [ "$FOREGROUND" = 1 ]; then
	exec kamailio "${ARGS[@]}"
fi

kamailio "${ARGS[@]}" >"$DIR/kamailio.log" 2>&1 </dev/null &
PID=$!
echo "$PID" >"$DIR/kamailio.pid"

# wait until the UDP socket is bound and the workers are forked
for _ in $(seq 100); do
	if ! kill -0 "$PID" 2>/dev/null; then
		echo "kamailio exited, log:" >&2; tail -20 "$DIR/kamailio.log" >&2; exit 1
	fi
	if ss -Hlun "sport = :$PORT" 2>/dev/null | grep -q "127.0.0.1:$PORT" &&
	   [ "$(pgrep -P "$PID" | wc -l)" -ge "$CHILDREN" ]; then
		break
	fi
	sleep 0.1
done
sleep 0.5
echo "kamailio pid $PID listening on udp:127.0.0.1:$PORT, children=$CHILDREN, users=$USERS, domain=$DOMAIN, dir=$DIR" >&2
echo "$PID"
