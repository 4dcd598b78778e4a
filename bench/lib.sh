# lib.sh - what the bench/*.sh scripts share: the users, a Switchboard and
# the reference Kamailio started with them, and stopping both by PID.
# Source it after setting BENCH (the shared harness) and HERE (bench/), then
# call bench_require (checks both, sets BIN); or set BIN yourself.
#
#   bench_start USERS [EXTRA_TOML]   -> WORK, OPID (Switchboard on 5062), KPID (Kamailio on 5060)
#   bench_config PORT DATA [EXTRA]   -> a Switchboard configuration on stdout
#   bench_serve BASE                 -> starts one more Switchboard on BASE.toml, prints its PID
#   BENCH_SERVERS="name=IP:PORT:PID ..." bench_compare ...  (default: Kamailio and Switchboard)
#
# Users are user0000.. with password pw-<user>, domain 127.0.0.1 (the
# harness's convention); Switchboard runs with the per-source rate limit
# and lockout off (all load comes from one address) and the digest uri
# check off (SIPp answers with the server's ip:port).

WORK=""
OPID=""
KPID=""

# Checks that the shared harness is at $BENCH and sets BIN to the release
# binary (SWITCHBOARD_BIN overrides its path).
bench_require() {
	[ -x "$BENCH/bench.sh" ] || { echo "no bench harness at $BENCH (pass --bench DIR)" >&2; exit 2; }
	BIN="${SWITCHBOARD_BIN:-$HERE/../target/release/switchboard}"
	[ -x "$BIN" ] || { echo "build first: cargo build --release -p switchboard" >&2; exit 2; }
}

# The reference Kamailio's run.sh: the shared harness's, or with
# KAMAILIO_RECORDS=1 the project's copy that also keeps dialogs and call
# records in its database (bench/kamailio-records).
kamailio_run() {
	if [ "${KAMAILIO_RECORDS:-0}" = 1 ]; then
		echo "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kamailio-records/run.sh"
	else
		echo "$BENCH/kamailio/run.sh"
	fi
}

bench_stop() {
	local pid
	for pid in $OPID ${EXTRA_PIDS:-}; do
		kill "$pid" 2>/dev/null || continue
		# Started from a subshell (bench_serve): not our child, poll it.
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	done
	# Only the Kamailio this script started: one on 5060 may be another
	# benchmark's.
	[ -n "$KPID" ] && { "$(kamailio_run)" --stop --port 5060 >/dev/null 2>&1 || true; }
	[ -n "$WORK" ] && rm -rf "$WORK"
}

# bench_config PORT DATA [EXTRA_TOML]: a Switchboard configuration on
# 127.0.0.1:PORT for the harness's load (domain 127.0.0.1, or the TOML
# strings of BENCH_DOMAINS).
bench_config() {
	local domains="${BENCH_DOMAINS:-\"127.0.0.1\"}"
	cat <<TOML
listen = ["udp:127.0.0.1:$1"]
domains = [$domains]
data = "$2"
${3:-}
[protection]
rate_limit = false
lockout = false
[auth]
# SIPp's digest uri is the server's ip:port, not the Request-URI.
check_uri = false
TOML
}

# bench_serve BASE: starts `serve --config BASE.toml` (log in BASE.log),
# waits for it to be ready and prints its PID.
bench_serve() {
	"$BIN" serve --config "$1.toml" > "$1.log" 2>&1 &
	local pid=$!
	# Its own "serve: ready" line: on PostgreSQL a notice ("relation ...
	# already exists") also holds "ready".
	for _ in $(seq 100); do grep -q 'serve: ready' "$1.log" && break; sleep 0.1; done
	grep -q 'serve: ready' "$1.log" || { cat "$1.log" >&2; kill "$pid" 2>/dev/null; exit 1; }
	echo "$pid"
}

# One benchmark at a time on this host (fixed ports 5060/5062): waits while
# another runs.
bench_wait_alone() {
	while pgrep -x kamailio >/dev/null || pgrep -x sipp >/dev/null; do
		echo "waiting: another benchmark is running" >&2
		sleep 10
	done
}

# bench_users_csv N: user0000.. (password pw-<user>) in $WORK/users.csv, the
# file `user import` reads.
bench_users_csv() {
	for ((i = 0; i < $1; i++)); do
		u=$(printf "user%04d" "$i")
		echo "$u,pw-$u"
	done > "$WORK/users.csv"
}

# bench_users N: user0000.. (password pw-<user>) imported into $WORK/data.
bench_users() {
	bench_users_csv "$1"
	"$BIN" user import "$WORK/users.csv" --data "$WORK/data" --domain 127.0.0.1 >/dev/null
}

bench_start() {
	local users="$1" extra="${2:-}"
	bench_wait_alone
	WORK="$(mktemp -d /tmp/sb-bench.XXXXXX)"
	trap bench_stop EXIT
	bench_users "$users"
	bench_config 5062 "$WORK/data" "$extra" > "$WORK/switchboard.toml"
	OPID="$(bench_serve "$WORK/switchboard")"
	[ -n "$OPID" ] || exit 1
	KPID=$("$(kamailio_run)" --port 5060 --children 2 --users "$users" | tail -1)
}

# ---- The cluster benchmarks' PostgreSQL, nodes and split runs
# (cluster-vs-kamailio.sh, cluster-max.sh). cluster_start sets WORK, which
# the others use.
#
#   cluster_start DOMAIN...          all of the below: WORK, PostgreSQL, users, nodes
#   cluster_pg_start DB...           -> PG_PID, PG_PORT: a PostgreSQL of this run's own with DBs
#   cluster_pg_stop                  stops it (cluster_start traps EXIT with it)
#   cluster_pg_url DB                -> its postgres:// URL
#   cluster_node NAME PORT [TOML]    -> starts a node on $WORK/NAME.toml, prints its PID
#   cluster_users DOMAIN...          users in $WORK/sqlite and databases one and two
#   cluster_nodes                    -> SQLITE_PID, PG1_PID, PG2A_PID, PG2B_PID: the setups' nodes
#   cluster_register HOST:PORT BASE EXPIRES [DOMAIN]   every user registered (not measured)
#   cluster_uas_start                the callees' SIPp UAS on 6510
#   cluster_split SETUP SCENARIO PG TARGET... -- bench.sh-args
#                                    -> one line: the targets' bench.sh runs at once, summed

PG_PID=""
PG_PORT=""
CLK_TCK=$(getconf CLK_TCK)

# The processes of a tree (as bench.sh counts them).
tree_pids() {
	ps -e -o pid=,ppid= | awk -v r="$1" '
		{ par[$1] = $2 }
		END {
			keep[r] = 1; changed = 1
			while (changed) {
				changed = 0
				for (p in par) if (!(p in keep) && (par[p] in keep)) { keep[p] = 1; changed = 1 }
			}
			for (p in keep) print p
		}'
}

# "ID TICKS NAME" (user + system CPU ticks) of every process of the tree of
# $1, or with THREADS=1 of every thread of those processes.
cpu_ticks_list() {
	local f p files=()
	for p in $(tree_pids "$1"); do
		if [ "${THREADS:-0}" = 1 ]; then files+=(/proc/"$p"/task/*/stat); else files+=("/proc/$p/stat"); fi
	done
	for f in "${files[@]}"; do
		# "pid (comm) ...": comm may hold spaces.
		sed -E 's/^([0-9]+) \((.*)\) (.*)$/\1\t\3\t\2/' "$f" 2>/dev/null |
			awk -F'\t' '{ split($2, r, " "); name = $3; gsub(/[ \t]/, "_", name); print $1, r[12] + r[13], name }'
	done
}

# cpu_busiest BEFORE AFTER: "TICKS NAME" of the entry of two cpu_ticks_list
# snapshots that used the most CPU in between.
cpu_busiest() {
	awk 'NR == FNR { t0[$1] = $2; next }
	     { d = $2 - t0[$1]; if (d > best) { best = d; name = $3 } }
	     END { print best + 0, (name == "") ? "none" : name }' "$1" "$2"
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# cluster_pg_start DB...: initdb in $WORK/pg, a postmaster on a free
# loopback port (fsync and synchronous_commit on, as SQLite's
# synchronous=FULL), the databases created.
cluster_pg_start() {
	PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
	[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL not installed (apt-get install postgresql)" >&2; exit 2; }
	# As the postgres user when root (initdb refuses root); setpriv execs,
	# so the postmaster keeps its PID.
	local as_owner=() db
	[ "$(id -u)" = 0 ] && as_owner=(setpriv --reuid=postgres --regid=postgres --init-groups)
	chmod 755 "$WORK"
	mkdir "$WORK/pg"
	[ "$(id -u)" = 0 ] && chown postgres: "$WORK/pg"
	"${as_owner[@]}" "$PG_BIN/initdb" -U switchboard -A trust -E UTF8 -D "$WORK/pg/data" >/dev/null
	PG_PORT="$(free_port)"
	# A simple command in the background (no function, no subshell): $! is
	# the postmaster itself, which cluster_pg_stop signals.
	"${as_owner[@]}" "$PG_BIN/postgres" -D "$WORK/pg/data" -p "$PG_PORT" -k "$WORK/pg" \
		-c listen_addresses=127.0.0.1 -c max_connections=50 >"$WORK/pg/log" 2>&1 &
	PG_PID=$!
	for _ in $(seq 100); do
		"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
		sleep 0.1
	done
	"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || { cat "$WORK/pg/log" >&2; exit 1; }
	for db in "$@"; do
		"$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U switchboard "$db"
	done
	echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }') on 127.0.0.1:$PG_PORT (pid $PG_PID)" >&2
}

cluster_pg_stop() {
	[ -n "$PG_PID" ] || return 0
	kill -INT "$PG_PID" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
	PG_PID=""
}

cluster_pg_url() { echo "postgres://switchboard@127.0.0.1:$PG_PORT/$1"; }

# cluster_node NAME PORT [EXTRA_TOML]: starts a node on 127.0.0.1:PORT
# (data $WORK/NAME, admin API off: several nodes run at once), prints its
# PID.
cluster_node() {
	bench_config "$2" "$WORK/$1" "admin = \"off\"
${3:-}" >"$WORK/$1.toml"
	bench_serve "$WORK/$1"
}

# cluster_users DOMAIN...: user0000.. (USERS of them) in each DOMAIN,
# imported into the SQLite store $WORK/sqlite and the databases one and two.
cluster_users() {
	local domain db
	bench_users_csv "$USERS"
	for domain in "$@"; do
		"$BIN" user import "$WORK/users.csv" --data "$WORK/sqlite" --domain "$domain" >/dev/null
		for db in one two; do
			"$BIN" user import "$WORK/users.csv" --database "$(cluster_pg_url "$db")" \
				--domain "$domain" >/dev/null
		done
	done
}

# cluster_nodes: the nodes of the setups, their PIDs in SQLITE_PID (5062,
# $WORK/sqlite), PG1_PID (5064, database one), PG2A_PID and PG2B_PID (5066
# and 5068, database two, cluster nodes bench-a and bench-b), all in
# EXTRA_PIDS (bench_stop stops them).
cluster_nodes() {
	SQLITE_PID="$(cluster_node sqlite 5062)"
	PG1_PID="$(cluster_node pg1 5064 "[store]
url = \"$(cluster_pg_url one)\"")"
	PG2A_PID="$(cluster_node pg2a 5066 "[store]
url = \"$(cluster_pg_url two)\"
[cluster]
node = \"bench-a\"")"
	PG2B_PID="$(cluster_node pg2b 5068 "[store]
url = \"$(cluster_pg_url two)\"
[cluster]
node = \"bench-b\"")"
	EXTRA_PIDS="${EXTRA_PIDS:-} $SQLITE_PID $PG1_PID $PG2A_PID $PG2B_PID"
	echo "nodes: sqlite $SQLITE_PID, pg1 $PG1_PID, pg2 $PG2A_PID + $PG2B_PID" >&2
}

# cluster_register HOST:PORT PORT_BASE EXPIRES [DOMAIN]: every user (of
# DOMAIN, default 127.0.0.1) registered through HOST:PORT (not measured)
# with the contact 127.0.0.1:PORT_BASE+10 (EXPIRES 0: that contact
# removed).
cluster_register() {
	"$BENCH/bench.sh" --target "$1" --domain "${4:-127.0.0.1}" --quiet --scenario register \
		--rate 500 --count "$USERS" --users "$USERS" --port-base "$2" --expires "$3" >/dev/null
}

# cluster_uas_start: the callees' phone, one SIPp UAS on 127.0.0.1:6510 for
# every call run, whichever node or bench.sh the call comes through (in
# EXTRA_PIDS).
cluster_uas_start() {
	mkdir -p "$WORK/uas"
	(cd "$WORK/uas" && exec sipp -sf "$BENCH/uas_call.xml" -i 127.0.0.1 -mi 127.0.0.1 \
		-p 6510 -cp 6511 -mp 6514 -t u1 -nostdin -bind_local -buff_size 4194304 \
		-key domain 127.0.0.1 -watchdog_minor_threshold 2000 -watchdog_major_threshold 10000 \
		-watchdog_major_maxtriggers 1000 -watchdog_minor_maxtriggers 100000 \
		-timeout 3600s >"$WORK/uas/screen" 2>&1 </dev/null) &
	EXTRA_PIDS="${EXTRA_PIDS:-} $!"
}

# cluster_start DOMAIN...: once no other benchmark runs, a work directory
# (WORK), PostgreSQL with the databases one and two, the users of each
# DOMAIN (cluster_users) and the nodes (cluster_nodes), all stopped on exit.
cluster_start() {
	bench_wait_alone
	WORK="$(mktemp -d /tmp/sb-cluster-bench.XXXXXX)"
	EXTRA_PIDS=""
	trap 'cluster_pg_stop; bench_stop' EXIT
	cluster_pg_start one two
	cluster_users "$@"
	cluster_nodes
}

# cluster_split SETUP SCENARIO PG(0|1) TARGET... -- bench.sh args: one
# bench.sh per target at once (port bases 6100, 6200, ...), each at the
# given --rate and --count divided by the number of targets. A TARGET is
# HOST:PORT:PID, HOST:PORT:PID/DOMAIN (that run's users in DOMAIN), or
# "direct" (SIPp against its mock: SIPp's own ceiling). Prints one line:
# the runs summed (ok, failed, per_s), the worst p99, CPU per op of the
# nodes (node_ms_per_op) and of PostgreSQL (pg_ms_per_op; PG=1), and at
# the load: the calls that failed on a 503 (refused_503: the overload
# gate's refusals), the busiest node's CPU and its busiest thread (% of one core),
# PostgreSQL's whole CPU and its busiest process, SIPp's busiest UAC, the
# host's busy % (all cores, everyone's) and the share of all cores this
# run's processes took (nodes, PostgreSQL, SIPp; bench_pct). Each run's
# bench.sh line stays in $WORK/run-SETUP-SCENARIO-I.
cluster_split() {
	local setup="$1" scenario="$2" with_pg="$3"
	shift 3
	local targets=()
	while [ "$1" != -- ]; do targets+=("$1"); shift; done
	shift
	local n=${#targets[@]} rate="" count="" args=() i t where
	while [ $# -gt 0 ]; do
		case "$1" in
			--rate) rate="$2"; shift 2 ;;
			--count) count="$2"; shift 2 ;;
			*) args+=("$1"); shift ;;
		esac
	done
	local snap="$WORK/snap-$setup-$scenario"
	[ "$with_pg" = 1 ] && cpu_ticks_list "$PG_PID" >"$snap-pg0"
	for ((i = 0; i < n; i++)); do
		t="${targets[$i]%/*}"
		[ "$t" = direct ] || THREADS=1 cpu_ticks_list "${t##*:}" >"$snap-node$i-0"
	done
	local pids=()
	for ((i = 0; i < n; i++)); do
		t="${targets[$i]}"
		where=(--direct)
		if [ "$t" != direct ]; then
			where=(--target "$(cut -d: -f1,2 <<<"${t%/*}")" --server-pid "$(cut -d: -f3 <<<"${t%/*}")")
			[ "${t#*/}" != "$t" ] && where+=(--domain "${t#*/}")
		fi
		"$BENCH/bench.sh" "${where[@]}" --quiet --outdir "$WORK/out-$i" \
			--scenario "$scenario" --rate $((rate / n)) --count $((count / n)) \
			--port-base $((6100 + 100 * i)) ${args[@]+"${args[@]}"} >"$WORK/run-$setup-$scenario-$i" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || true; done
	local pg="0 none" thread="0 none" x refused=0
	for ((i = 0; i < n; i++)); do
		refused=$((refused + $(sipp_503s "$WORK/out-$i" "$scenario")))
		rm -rf "$WORK/out-$i"
	done
	if [ "$with_pg" = 1 ]; then
		cpu_ticks_list "$PG_PID" >"$snap-pg1"
		pg="$(awk 'NR == FNR { t0[$1] = $2; next } { s += $2 - t0[$1] } END { print s + 0 }' "$snap-pg0" "$snap-pg1") $(cpu_busiest "$snap-pg0" "$snap-pg1")"
	fi
	for ((i = 0; i < n; i++)); do
		t="${targets[$i]%/*}"
		[ "$t" = direct ] && continue
		THREADS=1 cpu_ticks_list "${t##*:}" >"$snap-node$i-1"
		x="$(cpu_busiest "$snap-node$i-0" "$snap-node$i-1")"
		[ "${x%% *}" -gt "${thread%% *}" ] && thread="$x"
	done
	for ((i = 0; i < n; i++)); do cat "$WORK/run-$setup-$scenario-$i"; echo; done | awk \
		-v setup="$setup" -v sc="$scenario" -v rate="$rate" -v with_pg="$with_pg" -v hz="$CLK_TCK" \
		-v pg="$pg" -v thread="$thread" -v refused="$refused" \
		-v ncpu="$(nproc)" '
		NF == 0 { next }
		{
			delete f
			for (k = 1; k <= NF; k++) { split($k, kv, "="); f[kv[1]] = kv[2] }
			ok += f["ok"]; failed += f["failed"]; attempted += f["attempted"]; cps += f["cps"]
			if (f["p99_ms"] + 0 > p99) p99 = f["p99_ms"] + 0
			if (f["wall_s"] + 0 > wall) wall = f["wall_s"] + 0
			if (f["uac_cpu_pct"] + 0 > uac) uac = f["uac_cpu_pct"] + 0
			if (f["host_busy_pct"] + 0 > host) host = f["host_busy_pct"] + 0
			sipp_s += f["uac_cpu_s"] + f["uas_cpu_s"]
			if (f["target"] == "direct-sipp-mock") sipp_s += f["server_cpu_s"]
			else {
				node_s += f["server_cpu_s"]
				if (f["server_cpu_s"] + 0 > node_top) node_top = f["server_cpu_s"] + 0
			}
			runs++
		}
		END {
			split(pg, p, " "); split(thread, th, " ")
			pg_s = p[1] / hz
			node = (ok > 0) ? 1000 * node_s / ok : 0
			pgop = (ok > 0) ? 1000 * pg_s / ok : 0
			# Percentages of one core over the longest run (the CPU is
			# spent while SIPp sends).
			pct = (wall > 0) ? 100 / wall / hz : 0
			printf "setup=%s scenario=%s rate=%s runs=%d attempted=%d ok=%d failed=%d fail_pct=%.2f refused_503=%d per_s=%.1f p99_ms=%.2f node_cpu_s=%.2f node_ms_per_op=%.3f pg_cpu_s=%s pg_ms_per_op=%s total_ms_per_op=%.3f wall_s=%.1f node_cpu_pct=%.0f node_thread_pct=%.0f node_thread=%s pg_cpu_pct=%s pg_top_pct=%s uac_cpu_pct=%.0f host_busy_pct=%.0f bench_pct=%.0f\n",
				setup, sc, rate, runs, attempted, ok, failed, (attempted > 0) ? 100 * failed / attempted : 100, refused,
				cps, p99, node_s, node, with_pg ? sprintf("%.2f", pg_s) : "na",
				with_pg ? sprintf("%.3f", pgop) : "na", node + pgop, wall,
				node_top * pct * hz, th[1] * pct, th[2],
				with_pg ? sprintf("%.0f", p[1] * pct) : "na", with_pg ? sprintf("%.0f", p[2] * pct) : "na",
				uac, host, (wall > 0) ? 100 * (node_s + pg_s + sipp_s) / wall / ncpu : 0
		}'
}

# The host's UDP error counters from /proc/net/snmp: "InErrors RcvbufErrors".
# RcvbufErrors counts datagrams the kernel dropped because a socket's
# receive buffer was full (host-wide: SIPp's sockets count too).
udp_errors() {
	awk '$1 == "Udp:" && !h { for (i = 2; i <= NF; i++) c[$i] = i; h = 1; next }
	     $1 == "Udp:" { print $c["InErrors"], $c["RcvbufErrors"] }' /proc/net/snmp
}

# Datagrams dropped by the sockets bound to local port $1, or to ports $1
# to $2 (the last column of /proc/net/udp): the server's own share of
# RcvbufErrors.
socket_drops() {
	awk -v lo="$1" -v hi="${2:-$1}" '
		function hex(h,   i, v) { v = 0; for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789ABCDEF", substr(h, i, 1)) - 1; return v }
		FNR > 1 { n = split($2, a, ":"); p = hex(a[n]); if (p >= lo && p <= hi) d += $NF }
		END { print d + 0 }' /proc/net/udp /proc/net/udp6
}

# p99.9 of the primary response time (rtd 1) in the rtt files of DIR.
rtt_p999() {
	awk -F';' 'NR > 1 && $3 + 0 == 1 { print $2 }' "$1"/*_rtt.csv 2>/dev/null | sort -g | awk '
		{ v[NR] = $1 }
		END { if (NR == 0) { print "na"; exit }
		      i = int(0.999 * NR + 0.999999); if (i > NR) i = NR; printf "%.3f\n", v[i] }'
}

# bench_compare REPEAT bench.sh-args...: runs the load against Kamailio and
# Switchboard interleaved (as compare.sh does, so host noise hits both
# alike); each run's bench.sh line gets p999_ms, the host's UDP
# in_errors / rcvbuf_errors delta over that run and the drops of the
# server's own socket (server_socket_drops; the rest are SIPp's); then
# one summary line per server (medians; max_ms the worst run; errors
# summed) and the CPU ratio.
bench_compare() {
	local repeat="$1" i s name target pid dir line b_in b_rcv b_own a_in a_rcv a_own
	shift
	local results="$WORK/results"
	for ((i = 1; i <= repeat; i++)); do
		for s in ${BENCH_SERVERS:-kamailio=127.0.0.1:5060:$KPID switchboard=127.0.0.1:5062:$OPID}; do
			name="${s%%=*}"; target="${s#*=}"; pid="${target##*:}"; target="${target%:*}"
			dir="$WORK/run-$name-$i"
			read -r b_in b_rcv < <(udp_errors)
			b_own="$(socket_drops "${target##*:}")"
			line="$("$BENCH/bench.sh" --target "$target" --server-pid "$pid" --quiet --outdir "$dir" "$@")" || true
			read -r a_in a_rcv < <(udp_errors)
			a_own="$(socket_drops "${target##*:}")"
			line="server=$name run=$i $line p999_ms=$(rtt_p999 "$dir") in_errors=$((a_in - b_in)) rcvbuf_errors=$((a_rcv - b_rcv)) server_socket_drops=$((a_own - b_own))"
			echo "$line" >&2
			echo "$line" >>"$results"
			rm -rf "$dir"
			sleep 3
		done
	done
	awk '
		function med(a, n,   i, j, t) {
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
			return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		{
			delete f
			for (k = 1; k <= NF; k++) { split($k, kv, "="); f[kv[1]] = kv[2] }
			s = f["server"]; n = ++runs[s]
			if (!(s in order)) { order[s] = ++servers; names[servers] = s }
			sc[s] = f["scenario"]; rate[s] = f["rate"]
			if (f["fail_pct"] + 0 > fmax[s]) fmax[s] = f["fail_pct"] + 0
			p99[s, n] = f["p99_ms"]; p999[s, n] = f["p999_ms"]; cpu[s, n] = f["cpu_ms_per_op"]
			if (f["max_ms"] + 0 > mx[s]) mx[s] = f["max_ms"] + 0
			inerr[s] += f["in_errors"]; rcv[s] += f["rcvbuf_errors"]; own[s] += f["server_socket_drops"]
		}
		END {
			for (x = 1; x <= servers; x++) {
				s = names[x]; n = runs[s]
				for (k = 1; k <= n; k++) { a[k] = p99[s, k]; b[k] = p999[s, k]; c[k] = cpu[s, k] }
				cm[s] = med(c, n)
				printf "summary server=%s scenario=%s rate=%s runs=%d fail_pct_max=%.2f p99_ms_med=%.3f p999_ms_med=%.3f max_ms_max=%.3f cpu_ms_per_op_med=%.3f in_errors=%d rcvbuf_errors=%d server_socket_drops=%d\n",
					s, sc[s], rate[s], n, fmax[s], med(a, n), med(b, n), mx[s], cm[s], inerr[s], rcv[s], own[s]
			}
			for (x = 1; x <= servers; x++)
				if (names[x] != "kamailio" && cm["kamailio"] > 0)
					printf "ratio cpu_ms_per_op %s/kamailio=%.2f\n", names[x], cm[names[x]] / cm["kamailio"]
		}' "$results"
}

# bench_field LINE KEY: the value of KEY=... in a bench.sh line ("na" when
# missing).
bench_field() {
	tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2; found = 1; exit } END { if (!found) print "na" }'
}

# sipp_503s DIR SCENARIO: the calls of the measured SIPp (not the callees'
# pre-registration) that ended on an unexpected 503 (-trace_err) in the raw
# files bench.sh kept in DIR, each Call-ID once.
sipp_503s() {
	local file=register
	[ "$2" = call ] && file=uac_call
	{ cat "$1"/"$file"_*_errors.log 2>/dev/null | grep -a "received 'SIP/2.0 503" || true; } |
		{ grep -a -o "Call-Id '[^']*'" || true; } | sort -u | wc -l
}

# bench_bar VALUE SCALE WIDTH CHAR: VALUE as a bar of CHAR, SCALE = WIDTH.
bench_bar() {
	awk -v v="$1" -v s="$2" -v w="$3" -v c="$4" 'BEGIN {
		n = (s > 0) ? int(w * v / s + 0.5) : 0; if (n > w) n = w
		for (i = 0; i < n; i++) printf "%s", c
	}'
}

# bench_usage: the script's header comment (its lines after the shebang up
# to the first line that is not a comment) on stderr.
bench_usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
}

# bench_options SPEC... -- "$@": the options of a script, one SPEC each:
#   --name=VAR    takes a value into VAR
#   --name=VAR@   VAR gets the contents of the file named
#   --name=VAR+   the option and its value appended to the array VAR (passed on)
#   --name=VAR!   a flag: VAR=1
# Defaults are the variables' values before the call. --help (or -h) prints
# the usage (bench_usage) and exits 0; anything else not in SPEC prints it
# and exits 2.
bench_options() {
	local -A spec=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		spec["${1%%=*}"]="${1#*=}"
		shift
	done
	[ $# -gt 0 ] && shift
	local opt target
	while [ $# -gt 0 ]; do
		opt="$1"
		target="${spec[$opt]:-}"
		if [ -z "$target" ]; then
			bench_usage
			case "$opt" in --help | -h) exit 0 ;; *) echo "unknown option: $opt" >&2; exit 2 ;; esac
		fi
		if [ "${target%!}" != "$target" ]; then
			printf -v "${target%!}" 1
			shift
			continue
		fi
		[ $# -ge 2 ] || { echo "$opt needs a value" >&2; exit 2; }
		case "$target" in
			*@) printf -v "${target%@}" '%s' "$(cat "$2")" ;;
			*+) local -n bench_options_list="${target%+}"; bench_options_list+=("$opt" "$2"); unset -n bench_options_list ;;
			*) printf -v "$target" '%s' "$2" ;;
		esac
		shift 2
	done
}
