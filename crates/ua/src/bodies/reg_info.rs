//! The registration event package's document (RFC 3680), summarised:
//! each address's state and its contacts.

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
    /// Each contact's URI and state (`active`, `terminated`).
    pub contacts: Vec<(String, String)>,
}

impl RegistrationSummary {
    /// How many contacts are active.
    pub fn active_contacts(&self) -> usize {
        self.contacts.iter().filter(|(_, s)| s == "active").count()
    }
}

/// A reginfo document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegInfo {
    /// The version counter.
    pub version: Option<u32>,
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
                    .map(|c| {
                        let uri = c
                            .child("uri")
                            .and_then(XmlElement::trimmed_text)
                            .unwrap_or_default();
                        (uri, c.attribute("state").unwrap_or_default().to_owned())
                    })
                    .collect(),
            })
            .collect();
        Some(Self {
            version: root.attribute("version").and_then(|v| v.parse().ok()),
            registrations,
        })
    }
}
