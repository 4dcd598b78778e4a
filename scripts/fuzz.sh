#!/usr/bin/env bash
# Builds and runs the cargo-fuzz targets in fuzz/ for a bounded time each:
# the parser targets (pidf: the published presence documents the server
# reads) and ua_machine (the user-agent state machine).
#
#   scripts/fuzz.sh                 # every target, FUZZ_SECONDS (30) each
#   FUZZ_SECONDS=60 scripts/fuzz.sh parse_message uri
#
# Environment:
#   FUZZ_SECONDS    seconds per target (default 30)
#   FUZZ_SANITIZER  address (default), none, ... (cargo fuzz --sanitizer)
#   FUZZ_TOOLCHAIN  nightly | stable: force a toolchain (default: nightly if
#                   rustup has one, else stable with RUSTC_BOOTSTRAP=1)
#   FUZZ_JOBS       libFuzzer -jobs/-workers per target (default 1)
#
# Installs cargo-fuzz when missing, seeds fuzz/corpus/<target>/ from the RFC
# 4475/5118 messages in crates/proto/tests/data (server_machine: also as
# steps on a TCP flow and whole exchanges with the server; plus the saved regressions
# tests/data/fuzz-regressions/<target>-*), and exits non-zero when a target crashes,
# printing where the crashing input was saved (fuzz/artifacts/<target>/).
# The corpora and artifacts are git-ignored; save a crash worth keeping in
# crates/proto/tests/data/fuzz-regressions/ (tests/roundtrip_props.rs
# replays every file there).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FUZZ_DIR="$ROOT/fuzz"
DATA="$ROOT/crates/proto/tests/data"
SECONDS_PER_TARGET=${FUZZ_SECONDS:-30}
SANITIZER=${FUZZ_SANITIZER:-address}
JOBS=${FUZZ_JOBS:-1}

log() { printf '[fuzz.sh] %s\n' "$*" >&2; }

# --- toolchain ---------------------------------------------------------------
CARGO=(cargo)
toolchain=${FUZZ_TOOLCHAIN:-}
if [[ -z "$toolchain" ]]; then
    if command -v rustup >/dev/null && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
        toolchain=nightly
    else
        toolchain=stable
    fi
fi
case "$toolchain" in
    nightly) CARGO=(cargo +nightly) ;;
    stable)
        # libFuzzer needs -Z flags; RUSTC_BOOTSTRAP lets stable accept them.
        export RUSTC_BOOTSTRAP=1
        if command -v rustup >/dev/null; then CARGO=(cargo +stable); fi
        ;;
    *) log "FUZZ_TOOLCHAIN must be nightly or stable"; exit 2 ;;
esac
log "toolchain: $toolchain ($("${CARGO[@]}" --version))${RUSTC_BOOTSTRAP:+ with RUSTC_BOOTSTRAP=1}"

# --- cargo-fuzz --------------------------------------------------------------
if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
log "$(cargo fuzz --version)"

cd "$FUZZ_DIR"
mapfile -t ALL_TARGETS < <("${CARGO[@]}" fuzz list)
if (($# > 0)); then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi
for t in "${TARGETS[@]}"; do
    if ! printf '%s\n' "${ALL_TARGETS[@]}" | grep -qx -- "$t"; then
        log "unknown target '$t' (have: ${ALL_TARGETS[*]})"
        exit 2
    fi
done

# --- build -------------------------------------------------------------------
log "building ${TARGETS[*]} (sanitizer: $SANITIZER)"
for t in "${TARGETS[@]}"; do
    "${CARGO[@]}" fuzz build --sanitizer "$SANITIZER" "$t"
done

# --- seed corpora --------------------------------------------------------------
# One file per seed, named by content hash (as libFuzzer names its own).
seed() { # seed DIR  < content
    local dir=$1 tmp
    tmp=$(mktemp)
    cat >"$tmp"
    if [[ -s "$tmp" ]]; then
        mv "$tmp" "$dir/seed-$(sha1sum "$tmp" | cut -c1-16)"
    else
        rm -f "$tmp"
    fi
}

MESSAGES=()
while IFS= read -r -d '' f; do MESSAGES+=("$f"); done < <(
    find "$DATA/rfc4475" "$DATA/rfc5118" -type f -print0 | sort -z
)
log "seeding corpora from ${#MESSAGES[@]} files in ${DATA#"$ROOT"/}"

seed_target() {
    local t=$1 dir="$FUZZ_DIR/corpus/$1" f
    mkdir -p "$dir"
    case "$t" in
        parse_message)
            for f in "${MESSAGES[@]}"; do seed "$dir" <"$f"; done
            ;;
        stream_framer)
            # Byte 0: number of piece-length bytes that follow (see the target).
            for f in "${MESSAGES[@]}"; do
                { printf '\x00'; cat "$f"; } | seed "$dir"
                { printf '\x03\x01\x07\x40'; cat "$f"; } | seed "$dir"
            done
            # Pipelined messages with keep-alives between them, pushed whole
            # and byte by byte.
            local pipelined
            pipelined=$(mktemp)
            for f in "$DATA"/rfc5118/ipv6-good "$DATA"/rfc4475/{esc01,mpart01,unreason,noreason}.dat; do
                if [[ -f "$f" ]]; then cat "$f"; printf '\r\n\r\n'; fi
            done >"$pipelined"
            { printf '\x00'; cat "$pipelined"; } | seed "$dir"
            { printf '\x01\x01'; cat "$pipelined"; } | seed "$dir"
            { printf '\x22\x05\x11'; cat "$pipelined"; } | seed "$dir"
            rm -f "$pipelined"
            ;;
        uri)
            # Request-URIs and <...> addresses found in the messages.
            for f in "${MESSAGES[@]}"; do
                head -n1 "$f" | tr -d '\r' | awk 'NF == 3 && $3 ~ /^SIP\// { print $2 }'
                { grep -aoE '<[^<> ]+>' "$f" || true; } | tr -d '<>'
            done | sort -u | while IFS= read -r u; do printf '%s' "$u" | seed "$dir"; done
            ;;
        sdp)
            # SDP bodies: whatever follows the empty line of messages that
            # carry application/sdp.
            for f in "${MESSAGES[@]}"; do
                grep -aqi 'application/sdp' "$f" || continue
                awk 'body { print } /^\r?$/ { body = 1 }' "$f" | seed "$dir"
            done
            ;;
        digest_header)
            # Authorization / WWW-Authenticate style values.
            for f in "${MESSAGES[@]}"; do
                { grep -aiE '^(authorization|proxy-authorization|www-authenticate|proxy-authenticate|authentication-info) *:' "$f" || true; } \
                    | sed -E 's/^[^:]*: *//' | tr -d '\r'
            done | sort -u | while IFS= read -r v; do printf '%s' "$v" | seed "$dir"; done
            printf 'Digest realm="example.com", nonce="abc", qop="auth", algorithm=MD5' | seed "$dir"
            printf 'Digest username="alice", realm="example.com", nonce="abc", uri="sip:example.com", response="6629fae49393a05397450978507c4ef1", qop=auth, nc=00000001, cnonce="0a4f113b", algorithm=SHA-256' | seed "$dir"
            ;;
        ua_machine)
            # Op sequences (see OpReader in crates/ua/src/fuzzing.rs): the
            # INVITE answered 200 with our SDP, a second passes, hold; the
            # REGISTER challenged (401), then its retry answered 200.
            printf '\x00\x01\x03\x01\x00\x01\x04\x00\xff\x05\x05\x00' | seed "$dir"
            printf '\x00\x00\x04\x01\x01\x00\x03abc\x00\x00\x02\x03\x01\x00\x00' | seed "$dir"
            ;;
        server_machine)
            # Steps are separated by 00 ff <op> (see the target): each
            # message as a datagram, on a new TCP flow, and followed by a
            # time jump and the effects answered; then whole exchanges with
            # the server (example.com on 127.0.0.1:5060).
            for f in "${MESSAGES[@]}"; do
                seed "$dir" <"$f"
                { printf '\x00\xff\x02'; cat "$f"; } | seed "$dir"
                { cat "$f"; printf '\x00\xff\x06\x00\xff\x05\x40\x9c\x00\x00\x00\xff\x07'; } | seed "$dir"
            done
            local via='Via: SIP/2.0/UDP 198.51.100.10:5060;rport;branch=z9hG4bK'
            local reg="REGISTER sip:example.com SIP/2.0\r\n$via-r1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a\r\nTo: <sip:alice@example.com>\r\nCall-ID: reg1\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@192.168.1.5:5060>\r\nExpires: 60\r\nAuthorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"x\", uri=\"sip:example.com\", response=\"00000000000000000000000000000000\"\r\nContent-Length: 0\r\n\r\n"
            local inv="INVITE sip:bob@example.com SIP/2.0\r\n$via-i1\r\nMax-Forwards: 70\r\nFrom: <sip:carol@other.org>;tag=c\r\nTo: <sip:bob@example.com>\r\nCall-ID: inv1\r\nCSeq: 1 INVITE\r\nContact: <sip:carol@198.51.100.10:5060>\r\nContent-Length: 0\r\n\r\n"
            local bye="BYE sip:carol@other.org SIP/2.0\r\n$via-b1\r\nMax-Forwards: 70\r\nRoute: <sip:127.0.0.1:5060;lr>\r\nFrom: <sip:alice@example.com>;tag=a\r\nTo: <sip:carol@other.org>;tag=x\r\nCall-ID: inv2\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
            printf "$reg" | seed "$dir"
            printf "$reg\x00\xff\x06\x00\xff\x05\x60\xea\x00\x00\x00\xff\x07" | seed "$dir"
            printf "$inv\x00\xff\x01$inv\x00\xff\x07\x00\xff\x06\xff" | seed "$dir"
            printf "$bye\x00\xff\x02$inv\x00\xff\x03\x00$bye\x00\xff\x04\x00" | seed "$dir"
            ;;
        pidf)
            # Published presence documents: RFC 3863's shape with RPID, and
            # one with other prefixes, a data-model device and a note.
            printf '<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="pres:alice@example.com"><tuple id="t1"><status><basic>open</basic></status><note>desk</note></tuple><dm:person id="p1"><rpid:activities><rpid:away/></rpid:activities><dm:note>At lunch &amp; back</dm:note></dm:person></presence>' | seed "$dir"
            printf '<p:presence xmlns:p="urn:ietf:params:xml:ns:pidf" xmlns:r="urn:ietf:params:xml:ns:pidf:rpid" xmlns:d="urn:ietf:params:xml:ns:pidf:data-model" entity="pres:bob@example.com"><p:tuple id="a"><p:status><p:basic>closed</p:basic></p:status></p:tuple><d:device id="d1"><d:deviceID>urn:uuid:1</d:deviceID></d:device><d:person id="x"><r:activities><r:on-the-phone/></r:activities></d:person><p:note>busy</p:note><ext a="&#x41;"><![CDATA[x<y]]></ext></p:presence>' | seed "$dir"
            ;;
        *)
            for f in "${MESSAGES[@]}"; do seed "$dir" <"$f"; done
            ;;
    esac
    # Saved crashes, in the target's own input format.
    for f in "$DATA/fuzz-regressions/$t"-*; do
        if [[ -f "$f" ]]; then seed "$dir" <"$f"; fi
    done
    log "  corpus/$t: $(find "$dir" -type f | wc -l) inputs"
}
for t in "${TARGETS[@]}"; do seed_target "$t"; done

# --- run ------------------------------------------------------------------------
FAILED=()
for t in "${TARGETS[@]}"; do
    log "running $t for ${SECONDS_PER_TARGET}s"
    mkdir -p "$FUZZ_DIR/artifacts/$t"
    marker=$(mktemp)
    before=$(find "$FUZZ_DIR/artifacts/$t" -type f | wc -l)
    status=0
    args=(-max_total_time="$SECONDS_PER_TARGET" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1)
    if ((JOBS > 1)); then args+=(-jobs="$JOBS" -workers="$JOBS"); fi
    "${CARGO[@]}" fuzz run --sanitizer "$SANITIZER" "$t" "$FUZZ_DIR/corpus/$t" -- "${args[@]}" || status=$?
    after=$(find "$FUZZ_DIR/artifacts/$t" -type f | wc -l)
    if ((status != 0)) || ((after > before)); then
        FAILED+=("$t")
        log "$t FAILED (exit $status). Crashing inputs:"
        find "$FUZZ_DIR/artifacts/$t" -type f -newer "$marker" -printf '  %p\n' >&2 || true
        log "reproduce: cd fuzz && cargo +nightly fuzz run $t <file>; minimize: cargo +nightly fuzz tmin $t <file>"
    fi
    rm -f "$marker"
done

if ((${#FAILED[@]} > 0)); then
    log "crashed: ${FAILED[*]}"
    exit 1
fi
log "no crash in ${TARGETS[*]} (${SECONDS_PER_TARGET}s each)"
