#!/usr/bin/env bash
# message.sh -- SIP MESSAGE (RFC 3428) relay through the server.
# alice and bob register (digest auth); alice sends a MESSAGE to bob, bob
# must receive the exact text; bob answers with a MESSAGE to alice.  Then
# alice messages carol, who is not registered: the server must not claim
# delivery (reported as INFO; a store-and-forward server may answer 202).
# With --expect-store (a server with offline messages, RFC 3428 §7 allows
# 202 Accepted): the MESSAGE to carol must get 202, and carol's baresip,
# started afterwards, must receive the exact text when it registers.
#
#   message.sh [common flags] [--expect-store]   (--transport udp|tcp|tls)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/common.sh"
IA_EXTRA_USAGE="  --expect-store       the server stores MESSAGEs to offline users (202, delivered on REGISTER)"
ia_init 60 "$@"
EXPECT_STORE=${INTEROP_EXPECT_STORE:-0}
for a in "${IA_ARGS[@]}"; do
	case "$a" in
	--expect-store) EXPECT_STORE=1;;
	*) echo "unknown option $a" >&2; exit 2;;
	esac
done

T=$INTEROP_TRANSPORT
A_USER=$(user_of "$INTEROP_ALICE"); A_PASS=$(pass_of "$INTEROP_ALICE")
B_USER=$(user_of "$INTEROP_BOB");   B_PASS=$(pass_of "$INTEROP_BOB")
C_USER=$(user_of "$INTEROP_CAROL"); C_PASS=$(pass_of "$INTEROP_CAROL")
A_URI="sip:$A_USER@$INTEROP_DOMAIN"; B_URI="sip:$B_USER@$INTEROP_DOMAIN"
C_URI="sip:$C_USER@$INTEROP_DOMAIN"

# baresip's "message" command sends to the *current contact* (first entry of
# the contacts file, or the one selected with contact_next/contact_prev)
bs_start alice 0 "$A_USER" "$A_PASS" transport=$T contacts="<$B_URI>|<$C_URI>"
bs_start bob   1 "$B_USER" "$B_PASS" transport=$T contacts="<$A_URI>"
ia_check "alice registered" bs_wait_registered alice 15
ia_check "bob registered" bs_wait_registered bob 15
ia_abort_if_failed "registration"

TOKEN="interop-$$-$RANDOM"
TEXT1="hello bob, this is alice ($TOKEN) - ok?"
ia_log "alice -> bob: MESSAGE \"$TEXT1\""
bs_cmd alice message "$TEXT1"
# baresip prints a received MESSAGE as:  sip:alice@domain: "text"
ia_check "bob received alice's MESSAGE text" \
	wait_until 10 log_has bob "$(printf '%s' "$A_URI" | sed 's/[.]/[.]/g'): \"hello bob, this is alice \\($TOKEN\\) - ok\\?\""
ia_check "alice got a 2xx final response for her MESSAGE" \
	wait_until 5 log_resp_for alice MESSAGE '2[0-9][0-9]'

TEXT2="hi alice, bob here ($TOKEN)"
ia_log "bob -> alice: MESSAGE \"$TEXT2\""
bs_cmd bob message "$TEXT2"
ia_check "alice received bob's reply" \
	wait_until 10 log_has alice "\"hi alice, bob here \\($TOKEN\\)\""

# MESSAGE to a user that is not registered
bs_cmd alice contact_next
sleep 0.3
bs_cmd alice message "are you there carol? ($TOKEN)"
if [ "$EXPECT_STORE" = 1 ]; then
	ia_check "MESSAGE to unregistered $C_URI accepted for later delivery (202)" \
		wait_until 10 log_resp_for alice MESSAGE 202
	ia_log "carol comes online"
	bs_start carol 2 "$C_USER" "$C_PASS" transport=$T
	ia_check "carol registered" bs_wait_registered carol 15
	ia_check "carol received the stored MESSAGE with alice as sender, exact text" \
		wait_until 15 log_has carol "$(printf '%s' "$A_URI" | sed 's/[.]/[.]/g'): \"are you there carol\\? \\($TOKEN\\)\""
	sleep 1
	n_got=$(log_text carol | grep -c -- "are you there carol? ($TOKEN)\"")
	ia_check "the stored MESSAGE was shown once, not delivered twice (seen $n_got)" test "$n_got" = 1
	bs_quit carol
elif wait_until 5 log_has alice '^ ?(4[0-9][0-9]|5[0-9][0-9]|6[0-9][0-9]) '; then
	ia_info "MESSAGE to unregistered $C_URI: $(log_text alice | grep -E '^ ?[4-6][0-9][0-9] ' | tail -1) (not delivered, sender told)"
else
	ia_info "MESSAGE to unregistered $C_URI: no error reported to the sender (2xx or no answer; a store-and-forward server answers 202)"
fi

bs_quit alice; bs_quit bob
ia_summary
