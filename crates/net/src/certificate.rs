//! What the operator is told about a certificate: its subject and validity
//! dates, read from the DER.
//!
//! A minimal DER walk rather than a crate: rustls and webpki do not expose
//! the dates, x509-parser is heavy, and only four fields of the
//! `TBSCertificate` are read (RFC 5280 section 4.1), so a short walk
//! without a new dependency does it.

use crate::TlsError;

/// The subject and validity of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The subject's distinguished name (`CN=sip.example.com, O=Example`).
    pub subject: String,
    /// Valid from (unix seconds; 0 for a date before 1970).
    pub not_before: u64,
    /// Valid until (unix seconds).
    pub not_after: u64,
}

impl CertificateInfo {
    /// Reads the subject and the validity of a DER certificate.
    ///
    /// # Errors
    /// [`TlsError::Malformed`] when the DER is not a certificate this
    /// walk understands.
    pub fn from_der(der: &[u8]) -> Result<Self, TlsError> {
        Self::parse(der).ok_or(TlsError::Malformed)
    }

    fn parse(der: &[u8]) -> Option<Self> {
        let (certificate, _) = Der::expect(der, SEQUENCE)?;
        let (mut tbs, _) = Der::expect(certificate, SEQUENCE)?;
        // version [0] EXPLICIT, absent for v1 certificates
        if tbs.first() == Some(&VERSION) {
            tbs = Der::read(tbs)?.rest;
        }
        let (_serial, rest) = Der::expect(tbs, INTEGER)?;
        let (_signature, rest) = Der::expect(rest, SEQUENCE)?;
        let (_issuer, rest) = Der::expect(rest, SEQUENCE)?;
        let (validity, rest) = Der::expect(rest, SEQUENCE)?;
        let (subject, _) = Der::expect(rest, SEQUENCE)?;
        let not_before = Der::read(validity)?;
        let not_after = Der::read(not_before.rest)?;
        Some(Self {
            subject: distinguished_name(subject)?,
            not_before: time(&not_before)?,
            not_after: time(&not_after)?,
        })
    }

    /// Whole days from `now_unix` to the expiry: negative once expired.
    #[must_use]
    pub fn days_left(&self, now_unix: u64) -> i64 {
        let after = i64::try_from(self.not_after).unwrap_or(i64::MAX);
        let now = i64::try_from(now_unix).unwrap_or(i64::MAX);
        after.saturating_sub(now).div_euclid(86_400)
    }
}

const INTEGER: u8 = 0x02;
const OBJECT_IDENTIFIER: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;
const PRINTABLE_STRING: u8 = 0x13;
const TELETEX_STRING: u8 = 0x14;
const IA5_STRING: u8 = 0x16;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const BMP_STRING: u8 = 0x1e;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const VERSION: u8 = 0xa0;

/// One DER element: its tag, its content and what follows it.
struct Der<'a> {
    tag: u8,
    content: &'a [u8],
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn read(input: &'a [u8]) -> Option<Self> {
        let (&tag, input) = input.split_first()?;
        // High tag numbers (0x1f) do not occur in the fields read here.
        if tag & 0x1f == 0x1f {
            return None;
        }
        let (&first, input) = input.split_first()?;
        let (len, input) = if first < 0x80 {
            (usize::from(first), input)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 {
                return None;
            }
            let (bytes, input) = input.split_at_checked(count)?;
            let len = bytes
                .iter()
                .fold(0usize, |len, &b| (len << 8) | usize::from(b));
            (len, input)
        };
        let (content, rest) = input.split_at_checked(len)?;
        Some(Self { tag, content, rest })
    }

    /// The next element's content and what follows, if it has this tag.
    fn expect(input: &'a [u8], tag: u8) -> Option<(&'a [u8], &'a [u8])> {
        let der = Self::read(input)?;
        (der.tag == tag).then_some((der.content, der.rest))
    }
}

/// `CN=.., O=..`: the attributes in order, short names for the usual ones.
fn distinguished_name(mut rdns: &[u8]) -> Option<String> {
    let mut parts = Vec::new();
    while !rdns.is_empty() {
        let (mut set, rest) = Der::expect(rdns, SET)?;
        rdns = rest;
        while !set.is_empty() {
            let (attribute, rest) = Der::expect(set, SEQUENCE)?;
            set = rest;
            let (oid, value) = Der::expect(attribute, OBJECT_IDENTIFIER)?;
            let value = Der::read(value)?;
            parts.push(format!("{}={}", attribute_name(oid), text(&value)));
        }
    }
    Some(parts.join(", "))
}

fn attribute_name(oid: &[u8]) -> String {
    let short = match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        _ => return dotted(oid),
    };
    short.to_owned()
}

/// An object identifier in dotted form (`1.2.840.113549.1.9.1`).
fn dotted(oid: &[u8]) -> String {
    let mut arcs = Vec::new();
    let mut arc: u64 = 0;
    for &byte in oid {
        arc = (arc << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            if arcs.is_empty() {
                let first = arc.min(80) / 40;
                arcs.push(first);
                arcs.push(arc - first * 40);
            } else {
                arcs.push(arc);
            }
            arc = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn text(value: &Der<'_>) -> String {
    match value.tag {
        UTF8_STRING | PRINTABLE_STRING | TELETEX_STRING | IA5_STRING => {
            String::from_utf8_lossy(value.content).into_owned()
        }
        BMP_STRING => char::decode_utf16(
            value
                .content
                .chunks_exact(2)
                .map(|pair| pair.iter().fold(0u16, |u, &b| (u << 8) | u16::from(b))),
        )
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect(),
        _ => value.content.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// A UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) in
/// unix seconds.
fn time(value: &Der<'_>) -> Option<u64> {
    let digits = value.content.strip_suffix(b"Z")?;
    let (year, rest) = match value.tag {
        UTC_TIME => {
            let (yy, rest) = digits.split_at_checked(2)?;
            let yy = number(yy)?;
            // RFC 5280 4.1.2.5.1: 50 to 99 are 19YY, 00 to 49 are 20YY.
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, rest)
        }
        GENERALIZED_TIME => {
            let (yyyy, rest) = digits.split_at_checked(4)?;
            (number(yyyy)?, rest)
        }
        _ => return None,
    };
    let [m1, m2, d1, d2, h1, h2, n1, n2, s1, s2] = rest else {
        return None;
    };
    let month = number(&[*m1, *m2])?;
    let day = number(&[*d1, *d2])?;
    let hour = number(&[*h1, *h2])?;
    let minute = number(&[*n1, *n2])?;
    let second = number(&[*s1, *s2])?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
    let seconds =
        days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    Some(u64::try_from(seconds).unwrap_or(0))
}

fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failure is the report

    use super::*;

    fn certificate(not_before: (i32, u8, u8), not_after: (i32, u8, u8)) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["sip.example.com".into()]).unwrap();
        let mut name = rcgen::DistinguishedName::new();
        name.push(rcgen::DnType::CommonName, "sip.example.com");
        name.push(rcgen::DnType::OrganizationName, "Example");
        params.distinguished_name = name;
        params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_subject_and_dates_in_utc_time() {
        let info = CertificateInfo::from_der(&certificate((2024, 1, 2), (2026, 3, 4))).unwrap();
        assert_eq!(info.subject, "CN=sip.example.com, O=Example");
        // date -u -d 2024-01-02 +%s; date -u -d 2026-03-04 +%s
        assert_eq!(info.not_before, 1_704_153_600);
        assert_eq!(info.not_after, 1_772_582_400);
    }

    #[test]
    fn reads_generalized_time_after_2049() {
        let info = CertificateInfo::from_der(&certificate((1975, 1, 1), (2051, 6, 1))).unwrap();
        // date -u -d 1975-01-01 +%s; date -u -d 2051-06-01 +%s
        assert_eq!(info.not_before, 157_766_400);
        assert_eq!(info.not_after, 2_569_190_400);
    }

    #[test]
    fn days_left_counts_whole_days_and_goes_negative() {
        let info = CertificateInfo {
            subject: String::new(),
            not_before: 0,
            not_after: 10 * 86_400,
        };
        assert_eq!(info.days_left(0), 10);
        assert_eq!(info.days_left(86_400 + 1), 8);
        assert_eq!(info.days_left(10 * 86_400 + 1), -1);
    }

    #[test]
    fn refuses_what_is_not_a_certificate() {
        let der = certificate((2024, 1, 2), (2026, 3, 4));
        for bad in [&der[..0], &der[..der.len() / 2], b"\x30\x03\x02\x01\x01"] {
            assert!(matches!(
                CertificateInfo::from_der(bad),
                Err(TlsError::Malformed)
            ));
        }
    }

    #[test]
    fn unknown_attributes_are_named_by_their_oid() {
        assert_eq!(
            dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]),
            "1.2.840.113549.1.9.1"
        );
    }
}
