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
# 127.0.0.1:PORT for the harness's load.
bench_config() {
	cat <<TOML
listen = ["udp:127.0.0.1:$1"]
domains = ["127.0.0.1"]
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

# bench_users N: user0000.. (password pw-<user>) imported into $WORK/data.
bench_users() {
	for ((i = 0; i < $1; i++)); do
		u=$(printf "user%04d" "$i")
		echo "$u,pw-$u"
	done > "$WORK/users.csv"
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
