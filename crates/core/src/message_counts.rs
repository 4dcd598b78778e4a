//! How many SIP messages passed through an endpoint, by request method and
//! by response class: plain integers, bumped once per message (the
//! endpoint is driven from one thread), read as a copy for metrics.

use switchboard_proto::Method;

/// The methods counted by name; any other method counts as `OTHER`.
const METHODS: [&str; 15] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "REGISTER",
    "OPTIONS",
    "INFO",
    "UPDATE",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "MESSAGE",
    "REFER",
    "OTHER",
];

/// The response classes, `1xx` to `6xx`.
const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"];

/// Requests counted by method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MethodCounts([u64; METHODS.len()]);

impl MethodCounts {
    pub(crate) fn add(&mut self, method: &Method) {
        let index = match method {
            Method::Invite => 0,
            Method::Ack => 1,
            Method::Bye => 2,
            Method::Cancel => 3,
            Method::Register => 4,
            Method::Options => 5,
            Method::Info => 6,
            Method::Update => 7,
            Method::Prack => 8,
            Method::Subscribe => 9,
            Method::Notify => 10,
            Method::Publish => 11,
            Method::Message => 12,
            Method::Refer => 13,
            _ => 14,
        };
        if let Some(count) = self.0.get_mut(index) {
            *count += 1;
        }
    }

    /// Each method's name (`OTHER` for extensions) with its count.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        named(&METHODS, &self.0)
    }

    /// The count of `method` (by its name; `OTHER` for extensions).
    #[must_use]
    pub fn get(&self, method: &str) -> u64 {
        count_of(self.iter(), method)
    }
}

/// Responses counted by class (`1xx` .. `6xx`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassCounts([u64; CLASSES.len()]);

impl ClassCounts {
    pub(crate) fn add(&mut self, status: u16) {
        // Below 100 or above 699 is no status: not counted.
        let index = usize::from(status / 100).checked_sub(1);
        if let Some(count) = index.and_then(|i| self.0.get_mut(i)) {
            *count += 1;
        }
    }

    /// Each class (`1xx` .. `6xx`) with its count.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        named(&CLASSES, &self.0)
    }

    /// The count of `class` (`"2xx"`).
    #[must_use]
    pub fn get(&self, class: &str) -> u64 {
        count_of(self.iter(), class)
    }
}

/// Each name with its count.
fn named<'a>(
    names: &'static [&'static str],
    counts: &'a [u64],
) -> impl Iterator<Item = (&'static str, u64)> + 'a {
    names.iter().copied().zip(counts.iter().copied())
}

/// The count under `name` (0 for an unknown name).
fn count_of(mut pairs: impl Iterator<Item = (&'static str, u64)>, name: &str) -> u64 {
    pairs
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, count)| count)
}

/// The messages an endpoint received and sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounts {
    /// Requests parsed from the network (retransmissions included).
    pub requests_received: MethodCounts,
    /// Responses parsed from the network (retransmissions included).
    pub responses_received: ClassCounts,
    /// Requests sent in new client transactions.
    pub requests_sent: MethodCounts,
    /// Responses the transaction user sent in server transactions (each
    /// once, not its retransmissions).
    pub responses_sent: ClassCounts,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_classes_are_counted_under_their_names() {
        let mut methods = MethodCounts::default();
        methods.add(&Method::Invite);
        methods.add(&Method::Invite);
        methods.add(&Method::Extension("FOO".into()));
        assert_eq!(methods.get("INVITE"), 2);
        assert_eq!(methods.get("OTHER"), 1);
        assert_eq!(methods.get("BYE"), 0);
        let mut classes = ClassCounts::default();
        classes.add(180);
        classes.add(200);
        classes.add(699);
        classes.add(99); // not a status: not counted
        assert_eq!(classes.get("1xx"), 1);
        assert_eq!(classes.get("2xx"), 1);
        assert_eq!(classes.get("6xx"), 1);
        assert_eq!(classes.iter().map(|(_, c)| c).sum::<u64>(), 3);
    }
}
