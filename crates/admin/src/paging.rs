//! Lists that can be large (registrations, users) come a page at a time:
//! `limit` (default 1000, at most 10,000) and `after` (the cursor the
//! previous page named), the next page's URL in a `Link: <...>;
//! rel="next"` header (RFC 8288) while there is more.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::{Problem, Registration};

/// Items in a page when the query names no limit.
pub const DEFAULT_PAGE: usize = 1000;
/// The most a page may hold.
pub const MAX_PAGE: usize = 10_000;

/// One page of the bindings, as the driver copied it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationPage {
    /// The bindings, by address of record.
    pub items: Vec<Registration>,
    /// The cursor of the next page (the last address of record of this
    /// one), when there is more.
    pub next: Option<String>,
}

/// The page size a query asked for, checked.
pub(crate) fn page_limit(limit: Option<usize>) -> Result<usize, Problem> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(Problem::bad_request(format!(
            "limit {limit}: from 1 to {MAX_PAGE}"
        )))
    }
}

/// `items` as JSON, with the `Link` to the page after `next` when there is
/// one (`path` and the query's other parameters kept). Written on the
/// API's own thread (the binary runs the API apart from the SIP driver),
/// so that the API takes one core at most.
pub(crate) fn page_response<T: Serialize>(
    items: &T,
    path: &str,
    limit: usize,
    others: &[(&str, Option<&str>)],
    next: Option<&str>,
) -> Response {
    let mut response = axum::Json(items).into_response();
    if let Some(next) = next {
        let mut url = format!("{path}?limit={limit}&after={}", encode(next));
        for (name, value) in others {
            if let Some(value) = value {
                url.push_str(&format!("&{name}={}", encode(value)));
            }
        }
        if let Ok(value) = HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

/// `text` percent-encoded for a query string (RFC 3986: unreserved
/// characters kept).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failure is the report

    use super::*;

    #[test]
    fn cursors_are_percent_encoded_in_the_next_link() {
        assert_eq!(encode("alice@example.com"), "alice%40example.com");
        assert_eq!(encode("a b&c=d"), "a%20b%26c%3Dd");
        let response = page_response(
            &Vec::<u8>::new(),
            "/api/v1/users",
            2,
            &[("user", Some("bob")), ("x", None)],
            Some("bob@example.com"),
        );
        assert_eq!(
            response
                .headers()
                .get(header::LINK)
                .map(|v| v.to_str().ok()),
            Some(Some(
                "</api/v1/users?limit=2&after=bob%40example.com&user=bob>; rel=\"next\""
            ))
        );
        assert!(page_limit(Some(0)).is_err());
        assert!(page_limit(Some(10_001)).is_err());
        assert_eq!(page_limit(None).ok(), Some(1000));
    }
}
