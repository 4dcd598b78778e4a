//! Numbers: inclusive ranges, E.164 normalisation, and the user part of
//! SIP URIs.

/// `+4930100-+4930199`: both ends the same length, compared digit by digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NumberRange {
    low: String,
    high: String,
}

impl NumberRange {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a number range like \"+4930100-+4930199\"");
        let (low, high) = text.split_once('-').ok_or_else(bad)?;
        let (low, high) = (low.trim(), high.trim());
        if !is_number(low) || !is_number(high) {
            return Err(bad());
        }
        if low.len() != high.len() || low.starts_with('+') != high.starts_with('+') {
            return Err(format!("{text:?}: both ends must have the same length"));
        }
        if low > high {
            return Err(format!("{text:?}: the first end is above the second"));
        }
        Ok(Self {
            low: low.to_owned(),
            high: high.to_owned(),
        })
    }

    /// The bytes a number in the range may start with.
    pub(crate) fn first_bytes(&self) -> std::ops::RangeInclusive<u8> {
        let first = |text: &str| text.bytes().next().unwrap_or(b'0');
        first(&self.low)..=first(&self.high)
    }

    pub(crate) fn contains(&self, number: &str) -> bool {
        number.len() == self.low.len()
            && is_number(number)
            && number.starts_with('+') == self.low.starts_with('+')
            && self.low.as_str() <= number
            && number <= self.high.as_str()
    }
}

/// Digits with an optional leading `+`.
pub(crate) fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix('+').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `[routing]`'s numbering: what E.164 normalisation assumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Numbering {
    pub(crate) country_code: Option<String>,
    pub(crate) area_code: Option<String>,
    pub(crate) national_prefix: String,
    pub(crate) international_prefix: String,
}

impl Default for Numbering {
    fn default() -> Self {
        Self {
            country_code: None,
            area_code: None,
            national_prefix: "0".to_owned(),
            international_prefix: "00".to_owned(),
        }
    }
}

impl Numbering {
    /// `number` as `+CC...`: international (`00 44..`), national
    /// (`0 30..`) and local (`123..`, with the default area code) numbers
    /// are completed; `+` numbers and names are left as they are.
    pub(crate) fn e164(&self, number: &str) -> String {
        if number.starts_with('+') || !is_number(number) {
            return number.to_owned();
        }
        let Some(country) = self.country_code.as_deref() else {
            return number.to_owned();
        };
        if let Some(rest) = strip_nonempty(number, &self.international_prefix) {
            return format!("+{rest}");
        }
        if let Some(rest) = strip_nonempty(number, &self.national_prefix) {
            return format!("+{country}{rest}");
        }
        let area = self.area_code.as_deref().unwrap_or("");
        format!("+{country}{area}{number}")
    }
}

fn strip_nonempty<'a>(number: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() {
        return None;
    }
    number.strip_prefix(prefix).filter(|rest| !rest.is_empty())
}

/// The URI without its scheme (`sip:`, `sips:`, `tel:`), or `None` when it
/// has none of them.
pub(crate) fn strip_scheme(uri: &str) -> Option<(&str, &str)> {
    ["sips:", "sip:", "tel:"].iter().find_map(|scheme| {
        let head = uri.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| (head, uri.get(scheme.len()..).unwrap_or("")))
    })
}

/// The user part of a SIP URI (`alice` of `sip:alice@example.com;x`),
/// empty when it has none.
pub(crate) fn user_part(uri: &str) -> &str {
    let rest = strip_scheme(uri).map_or(uri, |(_, rest)| rest);
    match rest.split_once('@') {
        Some((user, _)) => user.split(';').next().unwrap_or(user),
        None if uri.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("tel:")) => {
            rest.split(';').next().unwrap_or(rest)
        }
        None => "",
    }
}

/// The host part of a SIP URI (`example.com` of
/// `sip:alice@example.com:5060;x`).
pub(crate) fn host_part(uri: &str) -> &str {
    let rest = strip_scheme(uri).map_or(uri, |(_, rest)| rest);
    let hostport = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let hostport = hostport.split([';', '?']).next().unwrap_or(hostport);
    if let Some(v6) = hostport.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    hostport.split(':').next().unwrap_or(hostport)
}

/// `sip:NUMBER@HOSTPORT;params` for a gateway URI (its scheme, host,
/// port and parameters kept, any user replaced, headers dropped).
pub(crate) fn at_gateway(number: &str, gateway: &str) -> String {
    let (scheme, rest) = strip_scheme(gateway).unwrap_or(("sip:", gateway));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let rest = rest.split('?').next().unwrap_or(rest);
    format!("{scheme}{number}@{rest}")
}

#[cfg(test)]
mod tests {
    // Tests: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn gateway_request_uri_keeps_scheme_port_and_parameters() {
        assert_eq!(
            at_gateway("+4930", "sip:192.0.2.10:5080;transport=tcp"),
            "sip:+4930@192.0.2.10:5080;transport=tcp"
        );
        assert_eq!(
            at_gateway("+4930", "sips:acct@gw.example?x=y"),
            "sips:+4930@gw.example"
        );
        assert_eq!(
            at_gateway("1", "sip:[2001:db8::1]:5060"),
            "sip:1@[2001:db8::1]:5060"
        );
    }

    #[test]
    fn user_and_host_parts_of_uris() {
        assert_eq!(user_part("sip:alice@example.com;transport=tcp"), "alice");
        assert_eq!(user_part("sip:alice;x=1@example.com"), "alice");
        assert_eq!(user_part("tel:+4930123;phone-context=x"), "+4930123");
        assert_eq!(user_part("sip:example.com"), "");
        assert_eq!(host_part("sip:alice@example.com:5070;x"), "example.com");
        assert_eq!(host_part("sip:[2001:db8::1]:5060"), "2001:db8::1");
    }

    #[test]
    fn e164_without_a_country_code_leaves_numbers_alone() {
        assert_eq!(Numbering::default().e164("030123"), "030123");
    }
}
