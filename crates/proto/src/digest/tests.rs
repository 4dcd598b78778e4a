//! Published test vectors, SIP scenarios, round trips and malformed input.
//!
//! Expected hashes not printed in an RFC were computed independently
//! (Python `hashlib`) from the formulas of RFC 7616 §3.4.

use std::borrow::Cow;
use std::error::Error;

use super::*;

type TestResult = Result<(), Box<dyn Error>>;

fn digest_credentials(value: &str) -> Result<DigestCredentials<'_>, DigestError> {
    DigestCredentials::parse(value)
}

// ---------------------------------------------------------------- RFC 2617

const RFC2617_CHALLENGE: &str = "Digest\r\n                 realm=\"testrealm@host.com\",\r\n                 qop=\"auth,auth-int\",\r\n                 nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n                 opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

const RFC2617_AUTHORIZATION: &str = "Digest username=\"Mufasa\",\r\n                 realm=\"testrealm@host.com\",\r\n                 nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n                 uri=\"/dir/index.html\",\r\n                 qop=auth,\r\n                 nc=00000001,\r\n                 cnonce=\"0a4f113b\",\r\n                 response=\"6629fae49393a05397450978507c4ef1\",\r\n                 opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

#[test]
fn rfc2617_example_parses_verifies_and_is_reproduced() -> TestResult {
    let challenge = DigestChallenge::parse(RFC2617_CHALLENGE)?;
    assert_eq!(challenge.realm, "testrealm@host.com");
    assert_eq!(challenge.qop, vec![Qop::Auth, Qop::AuthInt]);
    assert_eq!(challenge.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
    assert_eq!(
        challenge.opaque.as_deref(),
        Some("5ccc069c403ebaf9f0171e9517f40e41")
    );
    assert_eq!(challenge.algorithm, None);
    assert_eq!(challenge.algorithm_or_default(), Algorithm::Md5);

    let credentials = digest_credentials(RFC2617_AUTHORIZATION)?;
    assert_eq!(credentials.username, "Mufasa");
    assert_eq!(credentials.qop, Some(Qop::Auth));
    assert_eq!(credentials.nc, Some(1));
    assert_eq!(credentials.cnonce.as_deref(), Some("0a4f113b"));

    let stored = ha1(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
    );
    assert_eq!(stored, "939e7578ed9e3c518a452acee763bce9");
    assert!(credentials.verify("GET", b"", &stored)?);
    assert!(credentials.matches_username("Mufasa"));
    assert!(!credentials.matches_username("mufasa"));

    // The client side produces the same header.
    let request = RequestInfo::new("GET", "/dir/index.html");
    let answer = challenge.respond("Mufasa", &stored, &request, "0a4f113b", 1)?;
    assert_eq!(answer.response, "6629fae49393a05397450978507c4ef1");
    assert_eq!(answer, credentials);
    Ok(())
}

#[test]
fn rfc2617_rspauth() -> TestResult {
    let credentials = digest_credentials(RFC2617_AUTHORIZATION)?;
    let stored = ha1(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
    );
    let mut info = AuthenticationInfo::for_credentials(&credentials, &stored, b"")?;
    info.nextnonce = Some("fe4d36c1a2".into());
    assert_eq!(
        info.to_string(),
        r#"nextnonce="fe4d36c1a2", qop=auth, rspauth="376602cfd2f4e8e5e78b948a85263e85", cnonce="0a4f113b", nc=00000001"#
    );
    let printed = info.to_string();
    let parsed = AuthenticationInfo::parse(&printed)?;
    assert_eq!(parsed, info);
    assert!(parsed.verify_rspauth(&credentials, &stored, b"")?);
    let wrong = ha1(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle of Life",
    );
    assert!(!parsed.verify_rspauth(&credentials, &wrong, b"")?);
    assert!(!AuthenticationInfo::new().verify_rspauth(&credentials, &stored, b"")?);
    Ok(())
}

#[test]
fn rfc2069_compatibility_without_qop() -> TestResult {
    // RFC 2069 §2.4 as corrected by its errata.
    let value = r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", response="1949323746fe6a43ef61f9606e7febea", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
    let credentials = digest_credentials(value)?;
    assert_eq!(credentials.qop, None);
    let stored = ha1(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "CircleOfLife",
    );
    let ha2 = ha2(Algorithm::Md5, "GET", "/dir/index.html");
    assert_eq!(
        response_without_qop(
            Algorithm::Md5,
            &stored,
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            &ha2
        ),
        "1949323746fe6a43ef61f9606e7febea"
    );
    assert!(credentials.verify("GET", b"", &stored)?);
    assert_eq!(credentials.to_string(), value);

    // A challenge without qop is answered without qop, cnonce and nc.
    let mut challenge =
        DigestChallenge::new("testrealm@host.com", "dcd98b7102dd2f0e8b11d0f600bfb0c093");
    challenge.opaque = Some("5ccc069c403ebaf9f0171e9517f40e41".into());
    let request = RequestInfo::new("GET", "/dir/index.html");
    let answer = challenge.respond("Mufasa", &stored, &request, "unused", 7)?;
    assert_eq!(answer, credentials);
    Ok(())
}

// ---------------------------------------------------------------- RFC 7616

const RFC7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const RFC7616_OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";
const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

fn rfc7616_authorization(algorithm: &str, response: &str) -> String {
    format!(
        "Digest username=\"Mufasa\",\r\n    realm=\"http-auth@example.org\",\r\n    uri=\"/dir/index.html\",\r\n    algorithm={algorithm},\r\n    nonce=\"{RFC7616_NONCE}\",\r\n    nc=00000001,\r\n    cnonce=\"{RFC7616_CNONCE}\",\r\n    qop=auth,\r\n    response=\"{response}\",\r\n    opaque=\"{RFC7616_OPAQUE}\""
    )
}

#[test]
fn rfc7616_section_3_9_1_md5_and_sha256() -> TestResult {
    // Note the lowercase "of" (RFC 7616 erratum 4495).
    let password = "Circle of Life";
    for (algorithm, expected) in [
        (
            Algorithm::Sha256,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
        (Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
    ] {
        let challenge_text = format!(
            "Digest\r\n    realm=\"http-auth@example.org\",\r\n    qop=\"auth, auth-int\",\r\n    algorithm={algorithm},\r\n    nonce=\"{RFC7616_NONCE}\",\r\n    opaque=\"{RFC7616_OPAQUE}\""
        );
        let challenge = DigestChallenge::parse(&challenge_text)?;
        assert_eq!(challenge.algorithm, Some(algorithm));
        assert_eq!(challenge.qop, vec![Qop::Auth, Qop::AuthInt]);

        let stored = ha1(algorithm, "Mufasa", "http-auth@example.org", password);
        let request = RequestInfo::new("GET", "/dir/index.html");
        let answer = challenge.respond("Mufasa", &stored, &request, RFC7616_CNONCE, 1)?;
        assert_eq!(answer.response, expected);

        let header = rfc7616_authorization(algorithm.as_str(), expected);
        let credentials = digest_credentials(&header)?;
        assert_eq!(credentials, answer);
        assert!(credentials.verify("GET", b"", &stored)?);
        assert!(!credentials.verify("POST", b"", &stored)?);
    }
    Ok(())
}

/// RFC 7616 §3.9.2 as corrected by erratum 4897: the RFC's printed userhash
/// (`488869…`) and response (`ae66e6…`) came from a pre-standard
/// SHA-512/256 and do not match FIPS 180-4.
const RFC7616_3_9_2_USERHASH: &str =
    "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b";
const RFC7616_3_9_2_RESPONSE: &str =
    "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5";

#[test]
fn rfc7616_section_3_9_2_sha512_256_with_userhash() -> TestResult {
    let username = "J\u{e4}s\u{f8}n Doe";
    assert_eq!(username.as_bytes(), b"J\xc3\xa4s\xc3\xb8n Doe");
    let challenge = DigestChallenge::parse(
        "Digest\r\n    realm=\"api@example.org\",\r\n    qop=\"auth\",\r\n    algorithm=SHA-512-256,\r\n    nonce=\"5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK\",\r\n    opaque=\"HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS\",\r\n    charset=UTF-8,\r\n    userhash=true",
    )?;
    assert!(challenge.userhash);
    assert_eq!(challenge.charset.as_deref(), Some("UTF-8"));
    assert_eq!(challenge.algorithm, Some(Algorithm::Sha512_256));

    assert_eq!(
        userhash(Algorithm::Sha512_256, username, "api@example.org"),
        RFC7616_3_9_2_USERHASH
    );
    let stored = ha1(
        Algorithm::Sha512_256,
        username,
        "api@example.org",
        "Secret, or not?",
    );
    let request = RequestInfo::new("GET", "/doe.json");
    let answer = challenge.respond(
        username,
        &stored,
        &request,
        "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v",
        1,
    )?;
    assert_eq!(answer.username, RFC7616_3_9_2_USERHASH);
    assert!(answer.userhash);
    assert_eq!(answer.response, RFC7616_3_9_2_RESPONSE);

    let header = format!(
        "Digest\r\n    username=\"{RFC7616_3_9_2_USERHASH}\",\r\n    realm=\"api@example.org\",\r\n    uri=\"/doe.json\",\r\n    algorithm=SHA-512-256,\r\n    nonce=\"5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK\",\r\n    nc=00000001,\r\n    cnonce=\"NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v\",\r\n    qop=auth,\r\n    response=\"{RFC7616_3_9_2_RESPONSE}\",\r\n    opaque=\"HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS\",\r\n    userhash=true"
    );
    let credentials = digest_credentials(&header)?;
    assert_eq!(credentials, answer);
    assert!(credentials.matches_username(username));
    assert!(!credentials.matches_username("Jason Doe"));
    assert!(credentials.verify("GET", b"", &stored)?);

    // The value printed in the RFC does not verify.
    let mut as_printed = credentials.clone();
    as_printed.response = "ae66e67d6b427bd3f120414a82e4acff38e8ecd9101d6c861229025f607a79dd".into();
    assert!(!as_printed.verify("GET", b"", &stored)?);

    // The same request with username* instead of a hashed username.
    let header = "Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm=\"api@example.org\", uri=\"/doe.json\", algorithm=SHA-512-256, nonce=\"5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK\", nc=00000001, cnonce=\"NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v\", qop=auth, response=\"3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5\", opaque=\"HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS\", userhash=false";
    let credentials = digest_credentials(header)?;
    assert_eq!(credentials.username, username);
    assert!(!credentials.userhash);
    assert!(credentials.matches_username(username));
    assert!(credentials.verify("GET", b"", &stored)?);
    Ok(())
}

// ---------------------------------------------------------------- SIP

const SIP_NONCE: &str = "84a4cc6f3082121f32b42a2187831a9e";

#[test]
fn sip_register_with_qop_auth() -> TestResult {
    let www_authenticate =
        format!("Digest realm=\"biloxi.com\", nonce=\"{SIP_NONCE}\", algorithm=MD5, qop=\"auth\"");
    let challenge = DigestChallenge::parse(&www_authenticate)?;
    assert_eq!(challenge.to_string(), www_authenticate);

    let stored = ha1(Algorithm::Md5, "bob", "biloxi.com", "zanzibar");
    assert_eq!(stored, "12af60467a33e8518da5c68bbff12b11");
    let register = RequestInfo::new("REGISTER", "sip:biloxi.com");
    let answer = challenge.respond("bob", &stored, &register, "0a4f113b", 1)?;
    let authorization = answer.to_string();
    assert_eq!(
        authorization,
        format!(
            "Digest username=\"bob\", realm=\"biloxi.com\", nonce=\"{SIP_NONCE}\", uri=\"sip:biloxi.com\", response=\"a2ce9666cd33153861f13b816afbdd6f\", algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001"
        )
    );

    let Credentials::Digest(credentials) = Credentials::parse(&authorization)? else {
        return Err("not digest".into());
    };
    assert!(credentials.verify("REGISTER", b"", &stored)?);
    assert!(credentials.matches_username("bob"));
    // Wrong method, password, nonce count, nonce or URI: rejected.
    assert!(!credentials.verify("INVITE", b"", &stored)?);
    let other = ha1(Algorithm::Md5, "bob", "biloxi.com", "zanzibaR");
    assert!(!credentials.verify("REGISTER", b"", &other)?);
    let mut replayed = credentials.clone();
    replayed.nc = Some(2);
    assert!(!replayed.verify("REGISTER", b"", &stored)?);
    let mut moved = credentials.clone();
    moved.uri = "sip:atlanta.com".into();
    assert!(!moved.verify("REGISTER", b"", &stored)?);
    let mut renonced = credentials.clone();
    renonced.nonce = "84a4cc6f3082121f32b42a2187831a9f".into();
    assert!(!renonced.verify("REGISTER", b"", &stored)?);
    // Upper-case hex from a peer is accepted.
    let mut upper = credentials;
    upper.response = Cow::Owned(upper.response.to_ascii_uppercase());
    assert!(upper.verify("REGISTER", b"", &stored)?);
    Ok(())
}

#[test]
fn sip_register_sha256_per_rfc8760() -> TestResult {
    // RFC 8760 §2.3: a UAS offers one challenge per algorithm, strongest
    // first, in separate header fields.
    let challenges = [
        format!(
            "Digest realm=\"biloxi.com\", nonce=\"{SIP_NONCE}\", algorithm=SHA-256, qop=\"auth\""
        ),
        format!("Digest realm=\"biloxi.com\", nonce=\"{SIP_NONCE}\", algorithm=MD5, qop=\"auth\""),
    ];
    let parsed: Vec<Challenge<'_>> = challenges
        .iter()
        .map(|c| Challenge::parse(c))
        .collect::<Result<_, _>>()?;
    let best = parsed
        .iter()
        .filter_map(Challenge::as_digest)
        .find(|c| c.algorithm_or_default() == Algorithm::Sha256)
        .ok_or("no SHA-256 challenge")?;

    let stored = ha1(Algorithm::Sha256, "bob", "biloxi.com", "zanzibar");
    assert_eq!(
        stored,
        "e65db393e748c5228939a6b4b2879e9ea5625cd79fd5267868cb568d69f6b97e"
    );
    let register = RequestInfo::new("REGISTER", "sip:biloxi.com");
    let answer = best.respond("bob", &stored, &register, "0a4f113b", 1)?;
    assert_eq!(
        answer.response,
        "3287ad0578041bffc911bd4f5e7a55e9cb371b9989dbe5701bfb60efa6393698"
    );
    assert_eq!(answer.algorithm, Some(Algorithm::Sha256));
    let again = best.respond("bob", &stored, &register, "0a4f113b", 2)?;
    assert_eq!(
        again.response,
        "9339cbdee01128bf915a8601fb588b3d84179c955cf7a894eba6ddd2f140a6e6"
    );
    assert_eq!(again.nc, Some(2));

    // An MD5 HA1 cannot be used for a SHA-256 request.
    let md5 = ha1(Algorithm::Md5, "bob", "biloxi.com", "zanzibar");
    assert_eq!(
        answer.verify("REGISTER", b"", &md5),
        Err(DigestError::InvalidHa1 {
            algorithm: Algorithm::Sha256,
            expected: 64
        })
    );
    assert!(matches!(
        best.respond("bob", &md5, &register, "c", 1),
        Err(DigestError::InvalidHa1 { .. })
    ));
    Ok(())
}

const SDP: &[u8] = b"v=0\r\no=bob 2890844527 2890844527 IN IP4 client.biloxi.com\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

#[test]
fn auth_int_covers_the_body() -> TestResult {
    for (algorithm, expected) in [
        (Algorithm::Md5, "437178d6786a600f306f5692aa6cc232"),
        (
            Algorithm::Sha256,
            "bebd34d4d4966a3eb73ae53fc76ac84590041b7d3f5868f8f520eacd24daef40",
        ),
    ] {
        let mut challenge = DigestChallenge::new("biloxi.com", SIP_NONCE);
        challenge.algorithm = Some(algorithm);
        challenge.qop = vec![Qop::AuthInt];
        let stored = ha1(algorithm, "bob", "biloxi.com", "zanzibar");
        let invite = RequestInfo::new("INVITE", "sip:alice@atlanta.com").with_body(SDP);
        let answer = challenge.respond("bob", &stored, &invite, "0a4f113b", 1)?;
        assert_eq!(answer.qop, Some(Qop::AuthInt));
        assert_eq!(answer.response, expected);

        let printed = answer.to_string();
        let credentials = digest_credentials(&printed)?;
        assert!(credentials.verify("INVITE", SDP, &stored)?);
        let mut tampered = SDP.to_vec();
        if let Some(b) = tampered.iter_mut().find(|b| **b == b'4') {
            *b = b'5';
        }
        assert!(!credentials.verify("INVITE", &tampered, &stored)?);
        assert!(!credentials.verify("INVITE", b"", &stored)?);
    }

    // Without a body, auth-int hashes the empty string.
    let stored = ha1(Algorithm::Md5, "bob", "biloxi.com", "zanzibar");
    let ha2 = ha2_auth_int(Algorithm::Md5, "INVITE", "sip:alice@atlanta.com", b"");
    assert_eq!(
        response(
            Algorithm::Md5,
            &stored,
            SIP_NONCE,
            1,
            "0a4f113b",
            Qop::AuthInt,
            &ha2
        ),
        "5d6ae417ebbeacb45bca25daf3db79f5"
    );
    Ok(())
}

#[test]
fn auth_is_preferred_over_auth_int() -> TestResult {
    let mut challenge = DigestChallenge::new("biloxi.com", SIP_NONCE);
    challenge.qop = vec![Qop::AuthInt, Qop::Auth];
    let stored = ha1(Algorithm::Md5, "bob", "biloxi.com", "zanzibar");
    let invite = RequestInfo::new("INVITE", "sip:alice@atlanta.com").with_body(SDP);
    let answer = challenge.respond("bob", &stored, &invite, "c", 1)?;
    assert_eq!(answer.qop, Some(Qop::Auth));
    // With qop=auth the body does not matter.
    assert!(answer.verify("INVITE", b"other body", &stored)?);
    Ok(())
}

#[test]
fn session_variants() -> TestResult {
    for (algorithm, session, expected) in [
        (
            Algorithm::Md5Sess,
            "779f1809c20ad48c3bca464502960b49",
            "eb77e5bd0f71f91a4bf1f89e8b897e32",
        ),
        (
            Algorithm::Sha256Sess,
            "823458ea87a4e1d20375bf6d5449d2ed72ff741d02f644c321b0f1286751aa08",
            "de1453f65550d25c49d9059f6fbdc22b1ce81e17eef74145d8f058c15e1d6837",
        ),
        (
            Algorithm::Sha512_256Sess,
            "aa3122c1a4d43a8ed596c3dc25b03ad41d7bfb3c257dcdfca3b09ea49d840c4d",
            "28ae4bdde95b3a0520c3c5720ba71ce31eac6e7aa4b2f9a08857245298402e81",
        ),
    ] {
        // The stored HA1 is the one of the base algorithm.
        let stored = ha1(algorithm, "bob", "biloxi.com", "zanzibar");
        assert_eq!(
            stored,
            ha1(algorithm.base(), "bob", "biloxi.com", "zanzibar")
        );
        assert_eq!(
            session_ha1(algorithm, &stored, SIP_NONCE, "0a4f113b"),
            session
        );

        let mut challenge = DigestChallenge::new("biloxi.com", SIP_NONCE);
        challenge.algorithm = Some(algorithm);
        challenge.qop = vec![Qop::Auth];
        let register = RequestInfo::new("REGISTER", "sip:biloxi.com");
        let answer = challenge.respond("bob", &stored, &register, "0a4f113b", 1)?;
        assert_eq!(answer.response, expected);
        let printed = answer.to_string();
        assert!(printed.contains(&format!("algorithm={algorithm},")));
        let credentials = digest_credentials(&printed)?;
        assert!(credentials.verify("REGISTER", b"", &stored)?);

        // Another cnonce gives another session key.
        let mut other = credentials.clone();
        other.cnonce = Some("0a4f113c".into());
        assert!(!other.verify("REGISTER", b"", &stored)?);

        // A -sess HA1 needs a cnonce even without qop.
        let mut legacy =
            DigestCredentials::new("bob", "biloxi.com", SIP_NONCE, "sip:biloxi.com", "00");
        legacy.algorithm = Some(algorithm);
        assert_eq!(
            legacy.verify("REGISTER", b"", &stored),
            Err(DigestError::MissingParam { name: "cnonce" })
        );
        let mut no_qop = challenge.clone();
        no_qop.qop.clear();
        let answer = no_qop.respond("bob", &stored, &register, "0a4f113b", 1)?;
        assert_eq!(answer.cnonce.as_deref(), Some("0a4f113b"));
        assert_eq!(answer.nc, None);
        assert!(answer.verify("REGISTER", b"", &stored)?);
    }
    Ok(())
}

#[test]
fn every_algorithm_round_trips_through_headers() -> TestResult {
    for algorithm in Algorithm::ALL {
        for qop in [None, Some(Qop::Auth), Some(Qop::AuthInt)] {
            let mut challenge = DigestChallenge::new("example.com", "n0nce");
            challenge.algorithm = Some(algorithm);
            challenge.qop = qop.into_iter().collect();
            challenge.opaque = Some("op".into());
            let printed = challenge.to_string();
            let challenge = DigestChallenge::parse(&printed)?;
            let stored = ha1(algorithm, "alice", "example.com", "pw");
            let request = RequestInfo::new("MESSAGE", "sip:bob@example.com").with_body(b"hi");
            let answer = challenge.respond("alice", &stored, &request, "cn", 0xdead_beef)?;
            assert_eq!(answer.response.len(), algorithm.hex_len());
            let printed = answer.to_string();
            let credentials = digest_credentials(&printed)?;
            assert_eq!(credentials, answer);
            assert!(credentials.verify("MESSAGE", b"hi", &stored)?, "{printed}");
            assert_eq!(credentials.opaque.as_deref(), Some("op"));
            let wrong = ha1(algorithm, "alice", "example.com", "pW");
            assert!(!credentials.verify("MESSAGE", b"hi", &wrong)?);
            if qop.is_some() {
                assert!(printed.contains("nc=deadbeef"));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- printing

#[test]
fn challenge_print_quotes_what_rfc7616_requires() -> TestResult {
    let mut challenge = DigestChallenge::new("a \"quoted\" \\ realm", "abc");
    challenge.domain = Some("sip:a.example sip:b.example".into());
    challenge.opaque = Some("xyz".into());
    challenge.stale = true;
    challenge.algorithm = Some(Algorithm::Sha512_256Sess);
    challenge.qop = vec![Qop::Auth, Qop::AuthInt];
    challenge.userhash = true;
    challenge.charset = Some("UTF-8".into());
    challenge.params.push(AuthParam::new("x-token", "v1"));
    challenge.params.push(AuthParam::new("x-text", "two words"));
    let printed = challenge.to_string();
    assert_eq!(
        printed,
        r#"Digest realm="a \"quoted\" \\ realm", domain="sip:a.example sip:b.example", nonce="abc", opaque="xyz", stale=true, algorithm=SHA-512-256-sess, qop="auth,auth-int", charset=UTF-8, userhash=true, x-token=v1, x-text="two words""#
    );
    let parsed = DigestChallenge::parse(&printed)?;
    assert_eq!(parsed, challenge);
    assert_eq!(
        parsed.domains().collect::<Vec<_>>(),
        ["sip:a.example", "sip:b.example"]
    );
    assert_eq!(parsed.param("X-TEXT"), Some("two words"));
    assert_eq!(parsed.param("realm"), None);
    Ok(())
}

#[test]
fn credentials_print_quotes_what_rfc7616_requires() -> TestResult {
    let mut c = DigestCredentials::new("bob", "biloxi.com", "n", "sip:biloxi.com", "00ff");
    c.algorithm = Some(Algorithm::Sha256);
    c.cnonce = Some("c".into());
    c.opaque = Some("o".into());
    c.qop = Some(Qop::AuthInt);
    c.nc = Some(0x0000_00ff);
    c.userhash = true;
    c.params.push(AuthParam::new("x", "1"));
    assert_eq!(
        c.to_string(),
        r#"Digest username="bob", realm="biloxi.com", nonce="n", uri="sip:biloxi.com", response="00ff", algorithm=SHA-256, cnonce="c", opaque="o", qop=auth-int, nc=000000ff, userhash=true, x=1"#
    );
    Ok(())
}

#[test]
fn printing_never_breaks_the_header_line() {
    let mut challenge = DigestChallenge::new("evil\r\nVia: injected", "n\u{0}");
    challenge.params.push(AuthParam::new("x", "a\nb"));
    let printed = challenge.to_string();
    assert!(!printed.contains('\r') && !printed.contains('\n'));
    assert!(printed.starts_with(r#"Digest realm="evil  Via: injected", nonce="n\"#));
    let other = Challenge::Other {
        scheme: "Basic".into(),
        data: "x\r\nVia: injected".into(),
    };
    assert_eq!(other.to_string(), "Basic x  Via: injected");
}

#[test]
fn parse_print_parse_is_stable() -> TestResult {
    let inputs = [
        RFC2617_CHALLENGE,
        "digest REALM=\"r\" , NONCE = \"n\",STALE=TRUE,Algorithm=md5-SESS,QOP=\"AUTH-INT , auth\",extra=\"v\"",
        "Digest realm=\"r\", nonce=\"n\", qop=\"auth-conf,auth,auth\", stale=false, userhash=FALSE",
    ];
    for input in inputs {
        let parsed = DigestChallenge::parse(input)?;
        let printed = parsed.to_string();
        let reparsed = DigestChallenge::parse(&printed)?;
        assert_eq!(reparsed, parsed);
        assert_eq!(reparsed.to_string(), printed);
    }
    let parsed = DigestChallenge::parse(inputs[1])?;
    assert_eq!(parsed.algorithm, Some(Algorithm::Md5Sess));
    assert!(parsed.stale);
    assert_eq!(parsed.qop, vec![Qop::AuthInt, Qop::Auth]);
    assert_eq!(parsed.param("extra"), Some("v"));
    let parsed = DigestChallenge::parse(inputs[2])?;
    assert_eq!(parsed.qop, vec![Qop::Auth]);
    assert!(!parsed.stale && !parsed.userhash);

    let credentials = digest_credentials(RFC2617_AUTHORIZATION)?;
    let printed = credentials.to_string();
    assert_eq!(
        printed,
        r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", cnonce="0a4f113b", opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001"#
    );
    assert_eq!(digest_credentials(&printed)?, credentials);
    Ok(())
}

#[test]
fn lenient_but_equivalent_forms_are_accepted() -> TestResult {
    // Quoted qop/nc/algorithm (sent by some clients) and unquoted values.
    let c = digest_credentials(
        "Digest username=bob, realm=biloxi.com, nonce=abc, uri=\"sip:biloxi.com\", response=\"0\", algorithm=\"MD5\", qop=\"auth\", nc=\"00000001\", cnonce=x",
    )?;
    assert_eq!(c.username, "bob");
    assert_eq!(c.algorithm, Some(Algorithm::Md5));
    assert_eq!(c.qop, Some(Qop::Auth));
    assert_eq!(c.nc, Some(1));
    assert_eq!(c.cnonce.as_deref(), Some("x"));
    // Empty list elements and surrounding white space.
    let c = DigestChallenge::parse("  Digest \t ,realm=\"r\",, nonce=\"n\" ,  ")?;
    assert_eq!((c.realm.as_ref(), c.nonce.as_ref()), ("r", "n"));
    Ok(())
}

#[test]
fn parsed_values_borrow_from_the_input() -> TestResult {
    let input = String::from(r#"Digest realm="plain", nonce="with \"escape\"""#);
    let challenge = DigestChallenge::parse(&input)?;
    assert!(matches!(challenge.realm, Cow::Borrowed("plain")));
    assert!(matches!(&challenge.nonce, Cow::Owned(s) if s == "with \"escape\""));
    let owned: DigestChallenge<'static> = challenge.clone().into_owned();
    drop(input);
    assert_eq!(owned.realm, "plain");
    Ok(())
}

#[test]
fn authentication_info_parse_and_print() -> TestResult {
    let value = "nextnonce=\"47364c23432d2e131a5fb210812c\", qop=auth, rspauth=\"6629fae49393a05397450978507c4ef1\", cnonce=\"0a4f113b\", nc=00000001";
    let info = AuthenticationInfo::parse(value)?;
    assert_eq!(
        info.nextnonce.as_deref(),
        Some("47364c23432d2e131a5fb210812c")
    );
    assert_eq!(info.qop, Some(Qop::Auth));
    assert_eq!(
        info.rspauth.as_deref(),
        Some("6629fae49393a05397450978507c4ef1")
    );
    assert_eq!(info.cnonce.as_deref(), Some("0a4f113b"));
    assert_eq!(info.nc, Some(1));
    assert_eq!(info.to_string(), value);
    let info = AuthenticationInfo::parse("nextnonce=abc, Future=\"x y\"")?;
    assert_eq!(info.param("future"), Some("x y"));
    assert_eq!(info.to_string(), "nextnonce=\"abc\", Future=\"x y\"");
    assert_eq!(info.clone().into_owned(), info);
    assert_eq!(AuthenticationInfo::new().to_string(), "");
    assert!(matches!(
        AuthenticationInfo::parse("qop=auth-conf"),
        Err(DigestError::UnknownQop { .. })
    ));
    assert!(matches!(
        AuthenticationInfo::parse("nc=1"),
        Err(DigestError::InvalidValue { name: "nc", .. })
    ));
    assert_eq!(AuthenticationInfo::parse(""), Err(DigestError::Empty));
    Ok(())
}

// ---------------------------------------------------------------- other schemes

#[test]
fn other_schemes_are_kept_as_text() -> TestResult {
    // RFC 4475 §3.3.13 (regaut01).
    let value = "NoOneKnowsThisScheme opaque-data=here";
    let credentials = Credentials::parse(value)?;
    assert_eq!(
        credentials,
        Credentials::Other {
            scheme: "NoOneKnowsThisScheme".into(),
            data: "opaque-data=here".into(),
        }
    );
    assert_eq!(credentials.scheme(), "NoOneKnowsThisScheme");
    assert!(credentials.as_digest().is_none());
    assert_eq!(credentials.to_string(), value);
    assert_eq!(
        DigestCredentials::parse(value),
        Err(DigestError::NotDigest {
            scheme: "NoOneKnowsThisScheme".into()
        })
    );

    let basic = Challenge::parse("Basic realm=\"WallyWorld\"")?;
    assert_eq!(basic.scheme(), "Basic");
    assert_eq!(basic.to_string(), "Basic realm=\"WallyWorld\"");
    let token68 = Credentials::parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ== \r\n")?;
    assert_eq!(token68.to_string(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    assert_eq!(Credentials::parse("Negotiate")?.to_string(), "Negotiate");
    assert_eq!(
        Challenge::parse("Basic")
            .map(Challenge::into_owned)?
            .scheme(),
        "Basic"
    );

    // The scheme is case-insensitive.
    let lower = Credentials::parse(
        "digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"0\"",
    )?;
    assert_eq!(lower.scheme(), "Digest");
    assert!(lower.as_digest().is_some());
    let challenge: Challenge<'_> = DigestChallenge::new("r", "n").into();
    assert_eq!(challenge.to_string(), "Digest realm=\"r\", nonce=\"n\"");
    Ok(())
}

// ---------------------------------------------------------------- malformed

#[test]
fn malformed_headers_are_errors() {
    let cases: &[(&str, DigestError)] = &[
        ("", DigestError::Empty),
        ("   ", DigestError::Empty),
        (
            "Digest realm=\"unterminated, nonce=\"n\"",
            DigestError::UnexpectedChar {
                pos: 35,
                found: 'n',
            },
        ),
        (
            "Digest realm=\"unterminated",
            DigestError::UnterminatedQuote { pos: 13 },
        ),
        (
            "Digest realm \"r\", nonce=\"n\"",
            DigestError::MissingEquals {
                name: "realm".into(),
            },
        ),
        (
            "Digest realm=, nonce=\"n\"",
            DigestError::MissingValue {
                name: "realm".into(),
            },
        ),
        (
            "Digest realm=\"r\" nonce=\"n\"",
            DigestError::UnexpectedChar {
                pos: 17,
                found: 'n',
            },
        ),
        (
            "Digest realm=\"r\", nonce=\"n\", Realm=\"s\"",
            DigestError::DuplicateParam {
                name: "Realm".into(),
            },
        ),
        (
            "Digest nonce=\"n\"",
            DigestError::MissingParam { name: "realm" },
        ),
        (
            "Digest realm=\"r\"",
            DigestError::MissingParam { name: "nonce" },
        ),
        ("Digest", DigestError::MissingParam { name: "realm" }),
        (
            "Digest realm=\"r\", nonce=\"n\", stale=maybe",
            DigestError::InvalidValue {
                name: "stale",
                value: "maybe".into(),
            },
        ),
        (
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-1",
            DigestError::UnknownAlgorithm {
                value: "SHA-1".into(),
            },
        ),
        (
            "Digest realm=\"r\"\r\nnonce=\"n\"",
            DigestError::BadLineFold { pos: 16 },
        ),
        (
            "\"Digest\" realm=\"r\"",
            DigestError::ExpectedToken {
                pos: 0,
                expected: "authentication scheme",
            },
        ),
        (
            "Digest realm=r@host, nonce=n",
            DigestError::UnexpectedChar {
                pos: 14,
                found: '@',
            },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            DigestChallenge::parse(input).as_ref(),
            Err(expected),
            "{input:?}"
        );
    }
}

#[test]
fn malformed_credentials_are_errors() {
    let base = "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", response=\"0\"";
    let cases: Vec<(String, DigestError)> = vec![
        (
            format!("{base}, qop=auth, cnonce=\"c\""),
            DigestError::MissingParam { name: "nc" },
        ),
        (
            format!("{base}, qop=auth, nc=00000001"),
            DigestError::MissingParam { name: "cnonce" },
        ),
        (
            format!("{base}, qop=auth, cnonce=\"c\", nc=1"),
            DigestError::InvalidValue {
                name: "nc",
                value: "1".into(),
            },
        ),
        (
            format!("{base}, qop=auth, cnonce=\"c\", nc=0000000g"),
            DigestError::InvalidValue {
                name: "nc",
                value: "0000000g".into(),
            },
        ),
        (
            format!("{base}, qop=auth-conf, cnonce=\"c\", nc=00000001"),
            DigestError::UnknownQop {
                value: "auth-conf".into(),
            },
        ),
        (
            format!("{base}, userhash=1"),
            DigestError::InvalidValue {
                name: "userhash",
                value: "1".into(),
            },
        ),
        (
            format!("{base}, username*=UTF-8''x"),
            DigestError::ConflictingUsername,
        ),
        (
            base.replace("username=\"u\", ", "username*=\"UTF-8''%FF\", "),
            DigestError::InvalidValue {
                name: "username*",
                value: "UTF-8''%FF".into(),
            },
        ),
        (
            base.replace("username=\"u\", ", ""),
            DigestError::MissingParam { name: "username" },
        ),
        (
            base.replace(", uri=\"sip:r\"", ""),
            DigestError::MissingParam { name: "uri" },
        ),
        (
            base.replace(", response=\"0\"", ""),
            DigestError::MissingParam { name: "response" },
        ),
        (
            base.replace("realm=\"r\", ", ""),
            DigestError::MissingParam { name: "realm" },
        ),
        (
            base.replace("nonce=\"n\", ", ""),
            DigestError::MissingParam { name: "nonce" },
        ),
        (
            format!("{base}, uri=\"again\""),
            DigestError::DuplicateParam { name: "uri".into() },
        ),
        (
            format!("{base}, x=\"a\\\r\n b\""),
            DigestError::InvalidEscape { pos: 74 },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            DigestCredentials::parse(&input).as_ref(),
            Err(&expected),
            "{input:?}"
        );
        assert_eq!(Credentials::parse(&input), Err(expected), "{input:?}");
    }
}

#[test]
fn garbage_and_huge_input_give_errors() {
    let huge = format!(
        "Digest realm=\"{}\", nonce=\"n\"",
        "a".repeat(10 * MAX_HEADER_LEN)
    );
    assert!(matches!(
        DigestChallenge::parse(&huge),
        Err(DigestError::TooLong { .. })
    ));
    assert!(matches!(
        Credentials::parse(&huge),
        Err(DigestError::TooLong { .. })
    ));
    assert!(matches!(
        AuthenticationInfo::parse(&huge),
        Err(DigestError::TooLong { .. })
    ));
    let many = format!(
        "Digest realm=\"r\", nonce=\"n\"{}",
        (0..MAX_PARAMS)
            .map(|i| format!(", p{i}=v"))
            .collect::<String>()
    );
    assert_eq!(
        DigestChallenge::parse(&many),
        Err(DigestError::TooManyParams { max: MAX_PARAMS })
    );
    let deep_quotes = format!("Digest realm=\"{}", "\\\"".repeat(4000));
    assert!(matches!(
        DigestChallenge::parse(&deep_quotes),
        Err(DigestError::UnterminatedQuote { .. })
    ));
    for garbage in [
        "\u{0}\u{1}\u{2}",
        "Digest \u{7f}",
        "Digest ===",
        "Digest ,,,=,,,",
        "Digest realm=\"\u{1b}[31m\"",
        "Digest realm=\"r\"\"",
        "\u{fffd}\u{fffd}",
        "Digest realm=\"r\", nonce=\"n\" \\",
        "Digest\r",
        "Digest\r\n",
        "\r\n Digest",
    ] {
        assert!(DigestChallenge::parse(garbage).is_err(), "{garbage:?}");
        assert!(DigestCredentials::parse(garbage).is_err(), "{garbage:?}");
        assert!(AuthenticationInfo::parse(garbage).is_err(), "{garbage:?}");
    }
}

#[test]
fn error_values_are_bounded() {
    let long = "x".repeat(MAX_HEADER_LEN - 100);
    let input = format!("Digest realm=\"r\", nonce=\"n\", algorithm={long}");
    let Err(DigestError::UnknownAlgorithm { value }) = DigestChallenge::parse(&input) else {
        unreachable!("an unknown algorithm is an error");
    };
    assert!(value.len() <= 64);
}

// ---------------------------------------------------------------- properties

/// A small deterministic generator (xorshift64*), so the property tests
/// need no extra crate and always run the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn pick<'t, T>(&mut self, items: &'t [T]) -> Option<&'t T> {
        items.get(self.below(items.len()))
    }

    /// Text that exercises quoting: quotes, backslashes, commas, '=',
    /// spaces, tabs, other control characters, non-ASCII.
    fn text(&mut self) -> String {
        const ALPHABET: &[char] = &[
            'a',
            'Z',
            '0',
            '9',
            '-',
            '.',
            '_',
            '~',
            '!',
            '%',
            '*',
            '+',
            '`',
            '\'',
            '"',
            '\\',
            ',',
            '=',
            ' ',
            '\t',
            ':',
            '@',
            '/',
            ';',
            '(',
            ')',
            '\u{0}',
            '\u{1f}',
            '\u{7f}',
            '\u{e4}',
            '\u{263a}',
            '\u{1f600}',
        ];
        let len = self.below(12);
        (0..len)
            .filter_map(|_| self.pick(ALPHABET).copied())
            .collect()
    }

    fn token(&mut self) -> String {
        const ALPHABET: &[char] = &['a', 'b', 'Z', '0', '-', '.', '_', '!', '%', '~', '+'];
        let len = 1 + self.below(8);
        (0..len)
            .filter_map(|_| self.pick(ALPHABET).copied())
            .collect()
    }

    fn opt_text(&mut self) -> Option<Cow<'static, str>> {
        self.chance(2).then(|| Cow::Owned(self.text()))
    }

    fn extra_params(&mut self) -> Vec<AuthParam<'static>> {
        (0..self.below(3))
            .map(|i| AuthParam::new(format!("x{i}-{}", self.token()), self.text()))
            .collect()
    }

    fn algorithm(&mut self) -> Option<Algorithm> {
        if self.chance(4) {
            None
        } else {
            self.pick(&Algorithm::ALL).copied()
        }
    }

    fn qop(&mut self) -> Option<Qop> {
        self.pick(&[None, Some(Qop::Auth), Some(Qop::AuthInt)])
            .copied()
            .flatten()
    }
}

#[test]
fn property_printed_values_parse_back_to_themselves() -> TestResult {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let mut challenge = DigestChallenge::new(rng.text(), rng.text());
        challenge.domain = rng.opt_text();
        challenge.opaque = rng.opt_text();
        challenge.stale = rng.chance(2);
        challenge.algorithm = rng.algorithm();
        challenge.qop = match rng.below(4) {
            0 => vec![],
            1 => vec![Qop::Auth],
            2 => vec![Qop::AuthInt],
            _ => vec![Qop::AuthInt, Qop::Auth],
        };
        challenge.userhash = rng.chance(2);
        challenge.charset = rng.opt_text();
        challenge.params = rng.extra_params();
        let printed = challenge.to_string();
        assert_eq!(DigestChallenge::parse(&printed)?, challenge, "{printed:?}");
        assert_eq!(Challenge::parse(&printed)?, Challenge::Digest(challenge));

        let mut c =
            DigestCredentials::new(rng.text(), rng.text(), rng.text(), rng.text(), rng.text());
        c.algorithm = rng.algorithm();
        c.qop = rng.qop();
        if c.qop.is_some() || rng.chance(2) {
            c.cnonce = Some(Cow::Owned(rng.text()));
            c.nc = Some(u32::try_from(rng.next() >> 32).unwrap_or(0));
        }
        c.opaque = rng.opt_text();
        c.userhash = rng.chance(2);
        c.params = rng.extra_params();
        let printed = c.to_string();
        assert_eq!(DigestCredentials::parse(&printed)?, c, "{printed:?}");

        let mut info = AuthenticationInfo::new();
        info.nextnonce = rng.opt_text();
        info.qop = rng.qop();
        info.rspauth = rng.opt_text();
        info.cnonce = rng.opt_text();
        info.nc = rng
            .chance(2)
            .then(|| u32::try_from(rng.next() >> 40).unwrap_or(0));
        info.params = rng.extra_params();
        let printed = info.to_string();
        if printed.is_empty() {
            assert_eq!(AuthenticationInfo::parse(&printed), Err(DigestError::Empty));
        } else {
            assert_eq!(AuthenticationInfo::parse(&printed)?, info, "{printed:?}");
        }
    }
    Ok(())
}

#[test]
fn property_mutated_headers_never_panic() {
    const SEEDS: &[&str] = &[
        RFC2617_CHALLENGE,
        RFC2617_AUTHORIZATION,
        "nextnonce=\"abc\", qop=auth, rspauth=\"00\", cnonce=\"c\", nc=00000001",
        "Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm=\"r\", nonce=\"n\", uri=\"u\", response=\"0\", userhash=true",
        "NoOneKnowsThisScheme opaque-data=here",
    ];
    const INSERTS: &[&str] = &[
        "\"",
        "\\",
        ",",
        "=",
        " ",
        "\r\n",
        "\r\n ",
        "\r",
        "\n",
        "\t",
        "\u{0}",
        "\u{e4}",
        "\u{1f600}",
        "Digest ",
        "nc=",
        "qop=",
        "algorithm=",
        "\"\\",
    ];
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut parsed_ok = 0usize;
    for _ in 0..20_000 {
        let Some(seed) = rng.pick(SEEDS) else {
            continue;
        };
        let mut chars: Vec<char> = seed.chars().collect();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(chars.len() + 1);
            match rng.below(4) {
                0 => {
                    if at < chars.len() {
                        chars.remove(at);
                    }
                }
                1 => chars.truncate(at),
                2 => {
                    let insert = rng.pick(INSERTS).copied().unwrap_or_default();
                    for (i, ch) in insert.chars().enumerate() {
                        chars.insert((at + i).min(chars.len()), ch);
                    }
                }
                _ => {
                    if let Some(slot) = chars.get_mut(at) {
                        *slot = char::from(u8::try_from(rng.below(128)).unwrap_or(b'x'));
                    }
                }
            }
        }
        let input: String = chars.into_iter().collect();
        // Any outcome but a panic is fine; whatever parses must print to
        // something that parses back to the same value.
        if let Ok(challenge) = DigestChallenge::parse(&input) {
            parsed_ok += 1;
            let printed = challenge.to_string();
            assert_eq!(
                DigestChallenge::parse(&printed).ok(),
                Some(challenge),
                "{input:?}"
            );
        }
        if let Ok(credentials) = Credentials::parse(&input) {
            parsed_ok += 1;
            if let Credentials::Digest(c) = &credentials {
                let printed = c.to_string();
                assert_eq!(
                    DigestCredentials::parse(&printed).ok().as_ref(),
                    Some(c),
                    "{input:?}"
                );
                let _ = c.verify("REGISTER", b"", "939e7578ed9e3c518a452acee763bce9");
            }
        }
        if let Ok(info) = AuthenticationInfo::parse(&input) {
            parsed_ok += 1;
            let printed = info.to_string();
            if !printed.is_empty() {
                assert_eq!(
                    AuthenticationInfo::parse(&printed).ok(),
                    Some(info),
                    "{input:?}"
                );
            }
        }
    }
    // The mutations are mild enough that many inputs still parse.
    assert!(parsed_ok > 1000, "{parsed_ok}");
}

/// Found by fuzzing: a list of commas parsed to an empty value that printed
/// as "" and did not parse again.
#[test]
fn authentication_info_of_only_commas_is_rejected() {
    for value in [",", ", ", ",,", " ,"] {
        assert!(AuthenticationInfo::parse(value).is_err(), "{value:?}");
    }
}
