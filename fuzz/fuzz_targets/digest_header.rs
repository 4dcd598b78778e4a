//! Any string → the digest header parsers (WWW-Authenticate /
//! Proxy-Authenticate, Authorization / Proxy-Authorization,
//! Authentication-Info).
//!
//! Nothing may panic. For values without CR or LF (what the message parser
//! hands over: folding is undone before), whatever parses must print to a
//! value that parses equal, and a parsed challenge answered by
//! `respond` must verify on the server side.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_proto::digest::{
    self, AuthenticationInfo, Challenge, Credentials, DigestChallenge, DigestCredentials,
    RequestInfo,
};

macro_rules! round_trip {
    ($ty:ty, $value:expr, $text:expr) => {{
        let value = $value;
        let printed = value.to_string();
        let again = <$ty>::parse(&printed).unwrap_or_else(|e| {
            panic!(
                "{}: print of {:?} does not parse: {e}\nprinted {printed:?}",
                stringify!($ty),
                $text
            )
        });
        assert_eq!(
            again,
            value,
            "{}: print → parse of {:?} differs; printed {printed:?}",
            stringify!($ty),
            $text
        );
        assert_eq!(
            again.to_string(),
            printed,
            "{}: printing is not stable",
            stringify!($ty)
        );
        assert_eq!(
            value.clone().into_owned(),
            value,
            "{}: into_owned differs",
            stringify!($ty)
        );
    }};
}

fuzz_target!(|text: &str| {
    let challenge = Challenge::parse(text);
    let credentials = Credentials::parse(text);
    let info = AuthenticationInfo::parse(text);
    let digest_challenge = DigestChallenge::parse(text);
    let digest_credentials = DigestCredentials::parse(text);
    if let Err(e) = &challenge {
        let _ = e.to_string();
    }

    // Folded header lines reach these parsers unfolded: no CR/LF.
    if text.contains(['\r', '\n']) {
        return;
    }
    if let Ok(c) = challenge {
        let _ = (c.scheme(), c.as_digest());
        round_trip!(Challenge<'_>, c, text);
    }
    if let Ok(c) = credentials {
        let _ = (c.scheme(), c.as_digest());
        round_trip!(Credentials<'_>, c, text);
    }
    if let Ok(i) = info {
        round_trip!(AuthenticationInfo<'_>, i, text);
    }
    if let Ok(c) = digest_credentials {
        let _ = (
            c.algorithm_or_default(),
            c.param("x"),
            c.matches_username("alice"),
        );
        let ha1 = digest::ha1(c.algorithm_or_default(), "alice", &c.realm, "secret");
        let _ = c.verify("INVITE", b"body", &ha1);
        let _ = c.expected_response("INVITE", b"", &ha1);
        round_trip!(DigestCredentials<'_>, c, text);
    }
    if let Ok(ch) = digest_challenge {
        let _ = (
            ch.algorithm_or_default(),
            ch.domains().count(),
            ch.param("x"),
        );
        round_trip!(DigestChallenge<'_>, ch.clone(), text);

        // A client answers the challenge; the server must accept it.
        let algorithm = ch.algorithm_or_default();
        let ha1 = digest::ha1(algorithm, "alice", &ch.realm, "secret");
        let request = RequestInfo::new("REGISTER", "sip:example.com").with_body(b"v=0\r\n");
        let answer = ch
            .respond("alice", &ha1, &request, "0a4f113b", 1)
            .unwrap_or_else(|e| panic!("respond to {text:?}: {e}"));
        let printed = answer.to_string();
        let parsed = DigestCredentials::parse(&printed)
            .unwrap_or_else(|e| panic!("credentials {printed:?} for {text:?} do not parse: {e}"));
        assert_eq!(
            parsed, answer,
            "credentials print → parse differs: {printed:?}"
        );
        assert!(
            parsed.matches_username("alice"),
            "username does not match: {printed:?}"
        );
        assert_eq!(
            parsed.verify("REGISTER", b"v=0\r\n", &ha1).ok(),
            Some(true),
            "the answer to {text:?} does not verify: {printed:?}"
        );
        let rspauth = AuthenticationInfo::for_credentials(&parsed, &ha1, b"")
            .unwrap_or_else(|e| panic!("Authentication-Info for {printed:?}: {e}"));
        let rspauth_text = rspauth.to_string();
        let rspauth = AuthenticationInfo::parse(&rspauth_text)
            .unwrap_or_else(|e| panic!("{rspauth_text:?} does not parse: {e}"));
        assert_eq!(rspauth.verify_rspauth(&parsed, &ha1, b"").ok(), Some(true));
    }
});
