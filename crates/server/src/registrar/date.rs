//! The `Date` of the 200 OK to REGISTER, printed once per second.

use std::cell::RefCell;

use crate::util::http_date;

/// The `Date` header value of the last second asked about: every 200 OK
/// to REGISTER carries one, and under load hundreds of them fall in the
/// same second. Sans-IO: the second comes from the caller's `now`.
#[derive(Debug, Default)]
pub(crate) struct DateText {
    /// The Unix second and its text; `None` before the first use.
    last: RefCell<Option<(u64, String)>>,
}

impl DateText {
    /// The `Date` value for Unix second `unix` (RFC 1123 form, GMT).
    pub(crate) fn at(&self, unix: u64) -> String {
        let mut last = self.last.borrow_mut();
        match &*last {
            Some((second, text)) if *second == unix => text.clone(),
            _ => {
                let text = http_date(unix);
                *last = Some((unix, text.clone()));
                text
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_follows_the_second() {
        let date = DateText::default();
        assert_eq!(date.at(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(date.at(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(date.at(784_111_778), "Sun, 06 Nov 1994 08:49:38 GMT");
        // A clock stepped back gets its own second's text too.
        assert_eq!(date.at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
