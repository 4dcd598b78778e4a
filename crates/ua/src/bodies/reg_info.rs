//! The registration event package's document (RFC 3680), summarised:
//! each address's state and its contacts; a partial document merged into
//! the state held (RFC 3680 §5).

use super::xml::XmlElement;

/// The reginfo media type.
pub const REGINFO: &str = "application/reginfo+xml";

/// One registration (address of record) of a reginfo document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationSummary {
    /// The address of record.
    pub aor: String,
    /// `init`, `active` or `terminated`.
    pub state: String,
    /// Its contacts.
    pub contacts: Vec<ContactSummary>,
}

/// One contact of a registration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactSummary {
    /// The notifier's id for it: what a partial document names it by.
    pub id: String,
    /// The contact URI.
    pub uri: String,
    /// `active` or `terminated`.
    pub state: String,
}

impl RegistrationSummary {
    /// How many contacts are active.
    pub fn active_contacts(&self) -> usize {
        self.contacts.iter().filter(|c| c.state == "active").count()
    }

    /// Takes in a partial document's news of this registration: its
    /// state, and the contacts it names (by id, else URI); the others
    /// stay as they were, but those already terminated are forgotten.
    fn update(&mut self, news: Self) {
        self.state = news.state;
        self.contacts.retain(|c| c.state != "terminated");
        for contact in news.contacts {
            let held = self.contacts.iter_mut().find(|c| {
                if contact.id.is_empty() {
                    c.uri == contact.uri
                } else {
                    c.id == contact.id
                }
            });
            match held {
                Some(held) => *held = contact,
                None => self.contacts.push(contact),
            }
        }
    }
}

/// A reginfo document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegInfo {
    /// The version counter.
    pub version: Option<u32>,
    /// Whether it is the full state (`state="full"`) rather than the
    /// changes since the previous one (`partial`).
    pub full: bool,
    /// The registrations.
    pub registrations: Vec<RegistrationSummary>,
}

impl RegInfo {
    /// Reads a reginfo document; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let root = XmlElement::parse(text)?;
        if root.name != "reginfo" {
            return None;
        }
        let registrations = root
            .children_named("registration")
            .map(|r| RegistrationSummary {
                aor: r.attribute("aor").unwrap_or_default().to_owned(),
                state: r.attribute("state").unwrap_or_default().to_owned(),
                contacts: r
                    .children_named("contact")
                    .map(|c| ContactSummary {
                        id: c.attribute("id").unwrap_or_default().to_owned(),
                        uri: c
                            .child("uri")
                            .and_then(XmlElement::trimmed_text)
                            .unwrap_or_default(),
                        state: c.attribute("state").unwrap_or_default().to_owned(),
                    })
                    .collect(),
            })
            .collect();
        Some(Self {
            version: root.attribute("version").and_then(|v| v.parse().ok()),
            full: root.attribute("state") != Some("partial"),
            registrations,
        })
    }

    /// The state held after `news` (RFC 3680 §5): a full document
    /// replaces it; a partial one updates only the registrations and
    /// contacts it names. The result is a full document of `news`'s
    /// version.
    #[must_use]
    pub fn merged(mut self, news: Self) -> Self {
        if news.full {
            return news;
        }
        for registration in news.registrations {
            let held = self
                .registrations
                .iter_mut()
                .find(|r| r.aor == registration.aor);
            match held {
                Some(held) => held.update(registration),
                None => self.registrations.push(registration),
            }
        }
        self.version = news.version;
        self.full = true;
        self
    }
}
