#!/usr/bin/env bash
# THE test command of Switchboard: README.md tells newcomers to run it, and
# CI (.ci/run) runs exactly this. It prints each step, stops at the first
# failure, and ends with a one-line summary.
#
#   scripts/test.sh                   # everything, as CI does
#   FUZZ_SECONDS=60 scripts/test.sh   # fuzz longer (default 20 s per target)
#   SKIP_FUZZ=1 scripts/test.sh       # local shortcut: no fuzzing step
#
# Steps: rustfmt check; clippy with warnings denied; one release build of the
# workspace; the tests in release mode (they reuse that build, so the tests
# and the release binary come from one compilation), and the registrar and
# proxy end-to-end suites again on PostgreSQL; the benchmarks compiled
# but not run (timings are for `cargo bench`, never for tests); a short,
# bounded fuzzing run (scripts/fuzz.sh) when that script exists.
#
# On a fresh Debian machine (as root) it installs what is missing: the
# rustfmt and clippy components, a C/C++ compiler (libFuzzer is C++), and
# the real peers of the interop tests: SIPp, baresip, SIPVicious,
# linphonec, Chromium with node and npm (and the browser test's npm ci).
# scripts/fuzz.sh installs cargo-fuzz itself.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

FUZZ_SECONDS=${FUZZ_SECONDS:-20}
SKIP_FUZZ=${SKIP_FUZZ:-0}
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
# The release profile of this run (the build and the tests share it)
# without link-time optimisation and with more codegen units: each of the
# ~90 test binaries was linked with thin LTO, which took most of the test
# step's 20 minutes on 2 cores. What is tested is the same code; the
# release binary users build (`cargo build --release`) keeps LTO.
export CARGO_PROFILE_RELEASE_LTO=${CARGO_PROFILE_RELEASE_LTO:-off}
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=${CARGO_PROFILE_RELEASE_CODEGEN_UNITS:-16}

START=$SECONDS
STEP="setup"
DONE=()
LOG_DIR=$(mktemp -d)
TEST_LOG="$LOG_DIR/cargo-test.log"

elapsed() {
    local s=$((SECONDS - START))
    printf '%dm%02ds' $((s / 60)) $((s % 60))
}

step() {
    STEP=$1
    shift
    printf '\n==> [%s] %s: %s\n' "$(elapsed)" "$STEP" "$*"
}

finish() {
    local status=$?
    rm -rf "$LOG_DIR"
    if ((status != 0)); then
        printf '\ntest.sh: FAILED at step "%s" (exit %d) after %s; passed before it: %s\n' \
            "$STEP" "$status" "$(elapsed)" "${DONE[*]:-none}"
    fi
}
trap finish EXIT

# --- what the steps need ---------------------------------------------------
step setup "checking the toolchain"
if ! command -v cargo >/dev/null; then
    echo "cargo not found: install the Rust toolchain with rustup (edition 2024, Rust >= 1.85)" >&2
    exit 1
fi
cargo --version
rustc --version
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        echo "installing the $component component"
        rustup component add "$component"
    fi
done
cargo fmt --version
cargo clippy --version
if ! command -v cc >/dev/null || ! command -v c++ >/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "installing a C/C++ compiler (build-essential)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential
    else
        echo "no C/C++ compiler (cc, c++) found: install one (Debian: build-essential)" >&2
        exit 1
    fi
fi
# Real peers the interop tests run against: SIPp (Debian package sip-tester).
if ! command -v sipp >/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "installing SIPp (sip-tester)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sip-tester
    else
        echo "sipp not found: install it (Debian: apt-get install sip-tester)" >&2
        exit 1
    fi
fi
sipp -v 2>&1 | grep -m1 SIPp || true
# More real peers (crates/cli/tests/interop.rs): baresip (a softphone,
# registers with digest auth) and SIPVicious (svwar, svcrack: user
# enumeration and password guessing against the lockout); linphonec
# (tests/linphone_interop.rs); Chromium, node and npm for JsSIP and SIP.js
# (tests/browser_interop.rs; JsSIP calling baresip through the media relay,
# tests/webrtc_relay_e2e.rs); iproute2 and iptables for the phones behind
# NATs (tests/media_nat_e2e.rs: network namespaces, veths, masquerading).
for peer in baresip:baresip svwar:sipvicious svcrack:sipvicious linphonec:linphone-cli \
    chromium:chromium node:nodejs npm:npm ip:iproute2 iptables:iptables; do
    if ! command -v "${peer%%:*}" >/dev/null; then
        if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
            echo "installing ${peer#*:}"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${peer#*:}"
        else
            echo "${peer%%:*} not found: install it (Debian: apt-get install ${peer#*:})" >&2
            exit 1
        fi
    fi
done
baresip -h 2>&1 | grep -m1 -i '^baresip' || true
# PostgreSQL for the store's second back end (crates/store/tests/postgres.rs,
# crates/cli/tests/postgres_e2e.rs): the tests start their own server with
# initdb in a temporary directory, so only the binaries are needed.
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "installing postgresql"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
    else
        echo "PostgreSQL not found: install it (Debian: apt-get install postgresql)" >&2
        exit 1
    fi
fi
# The browser test's pinned npm packages (never a browser download).
if [[ ! -d crates/cli/tests/browser/node_modules ]]; then
    echo "npm ci in crates/cli/tests/browser"
    (cd crates/cli/tests/browser &&
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
node --version
DONE+=(setup)

# --- the steps -----------------------------------------------------------------
step fmt "cargo fmt --all -- --check"
cargo fmt --all -- --check
DONE+=(fmt)

step clippy "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
DONE+=(clippy)

step build "cargo build --release --workspace"
cargo build --release --workspace
DONE+=(build)

step test "cargo test --workspace --release"
cargo test --workspace --release 2>&1 | tee "$TEST_LOG"
DONE+=(test)

# The registrar's and the proxy's end-to-end suites once more on the
# PostgreSQL back end: testsupport gives every store command of the binary
# (serve, user, registrations, ...) a database of its own on the test
# binary's PostgreSQL. The release test binaries are built already
# (--workspace, not -p: the same features, so the same binaries); this adds
# well under a minute.
POSTGRES_SUITES=(serve register_transports proxy_e2e interop proxy_interop)
step test-postgres "SWITCHBOARD_TEST_STORE=postgres: ${POSTGRES_SUITES[*]}"
SWITCHBOARD_TEST_STORE=postgres cargo test --workspace --release \
    "${POSTGRES_SUITES[@]/#/--test=}" 2>&1 | tee -a "$TEST_LOG"
# Add up every "test result: ok. N passed; M failed; ..." line (unit,
# integration and doc tests).
read -r PASSED FAILED < <(
    sed -nE 's/^test result: [a-zA-Z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' "$TEST_LOG" |
        awk '{ p += $1; f += $2 } END { print p + 0, f + 0 }'
)
if ((PASSED == 0)); then
    echo "cargo test ran no test" >&2
    exit 1
fi
DONE+=(test-postgres)

if compgen -G "crates/*/benches/*.rs" >/dev/null; then
    step bench "cargo bench --workspace --no-run (compiled, not run)"
    cargo bench --workspace --no-run
    DONE+=(bench-build)
else
    step bench "skipped: no crates/*/benches"
fi

FUZZ_NOTE="no fuzzing"
if [[ "$SKIP_FUZZ" == 1 ]]; then
    step fuzz "skipped (SKIP_FUZZ=1)"
    FUZZ_NOTE="fuzzing skipped"
elif [[ -x scripts/fuzz.sh || -f scripts/fuzz.sh ]]; then
    step fuzz "scripts/fuzz.sh with FUZZ_SECONDS=$FUZZ_SECONDS per target"
    FUZZ_SECONDS="$FUZZ_SECONDS" bash scripts/fuzz.sh
    DONE+=(fuzz)
    FUZZ_NOTE="fuzzing ${FUZZ_SECONDS}s per target without a crash"
else
    step fuzz "skipped: scripts/fuzz.sh does not exist"
fi

printf '\ntest.sh: OK in %s: %s; %s\n' "$(elapsed)" "${DONE[*]}" "$FUZZ_NOTE"
# The last line is the plain count that CI reads.
printf 'tests: %d passed, %d failed\n' "$PASSED" "$FAILED"
