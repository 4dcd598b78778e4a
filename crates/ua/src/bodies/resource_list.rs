//! Resource list NOTIFY bodies (RFC 4662): multipart/related with an RLMI
//! document first and one part per resource, summarised resource by
//! resource.

use super::notify_body::NotifyBody;
use super::xml::XmlElement;

/// The RLMI media type.
pub const RLMI: &str = "application/rlmi+xml";

/// Most parts read from one body.
const MAX_PARTS: usize = 512;

/// One resource of a list: its subscription state and what its part says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedResource {
    /// The resource's URI.
    pub uri: String,
    /// Its name for people, when given.
    pub name: Option<String>,
    /// The state of the subscription to it (`active`, `pending`,
    /// `terminated`).
    pub state: String,
    /// Its document (empty when the list sent none).
    pub body: NotifyBody,
}

/// A resource list NOTIFY body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceList {
    /// The list's URI.
    pub uri: String,
    /// The version counter.
    pub version: Option<u32>,
    /// Full state (`true`) or only the resources that changed.
    pub full: bool,
    /// The resources.
    pub resources: Vec<ListedResource>,
}

/// One part of a multipart body: its Content-ID (without angle
/// brackets), Content-Type and content.
struct Part<'a> {
    id: String,
    content_type: String,
    content: &'a str,
}

/// The value of parameter `name` of a header value (quotes removed).
fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (key, v) = p.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The parts of `text` delimited by `boundary` (RFC 2046 §5.1.1).
fn parts<'a>(text: &'a str, boundary: &str) -> Vec<Part<'a>> {
    let delimiter = format!("--{boundary}");
    text.split(delimiter.as_str())
        .skip(1)
        .take_while(|p| !p.starts_with("--"))
        .take(MAX_PARTS)
        .filter_map(|p| {
            let p = p.strip_prefix("\r\n").unwrap_or(p);
            let (head, content) = p.split_once("\r\n\r\n")?;
            let mut part = Part {
                id: String::new(),
                content_type: String::new(),
                content: content.strip_suffix("\r\n").unwrap_or(content),
            };
            for line in head.split("\r\n") {
                let Some((name, value)) = line.split_once(':') else {
                    continue;
                };
                let value = value.trim();
                if name.trim().eq_ignore_ascii_case("content-id") {
                    part.id = value
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_owned();
                } else if name.trim().eq_ignore_ascii_case("content-type") {
                    part.content_type = value.to_owned();
                }
            }
            Some(part)
        })
        .collect()
}

impl ResourceList {
    /// Reads a multipart/related body of type `content_type`; `None` when
    /// it holds no RLMI document.
    pub fn parse(content_type: &str, body: &str) -> Option<Self> {
        let boundary = parameter(content_type, "boundary")?;
        let parts = parts(body, &boundary);
        let is_rlmi = |p: &&Part<'_>| {
            p.content_type
                .split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(RLMI))
        };
        let root = parts.iter().find(is_rlmi)?;
        let list = XmlElement::parse(root.content)?;
        if list.name != "list" {
            return None;
        }
        let resources = list
            .children_named("resource")
            .map(|r| {
                let instance = r.child("instance");
                let cid = instance.and_then(|i| i.attribute("cid"));
                let part = cid.and_then(|cid| parts.iter().find(|p| p.id == cid));
                let body = match part {
                    // One level only: a list in a list is not read.
                    Some(p)
                        if !p
                            .content_type
                            .to_ascii_lowercase()
                            .starts_with("multipart/") =>
                    {
                        NotifyBody::read(Some(&p.content_type), p.content.as_bytes())
                    }
                    Some(p) => NotifyBody::Other {
                        content_type: p.content_type.clone(),
                    },
                    None => NotifyBody::Empty,
                };
                ListedResource {
                    uri: r.attribute("uri").unwrap_or_default().to_owned(),
                    name: r.child("name").and_then(XmlElement::trimmed_text),
                    state: instance
                        .and_then(|i| i.attribute("state"))
                        .unwrap_or_default()
                        .to_owned(),
                    body,
                }
            })
            .collect();
        Some(Self {
            uri: list.attribute("uri").unwrap_or_default().to_owned(),
            version: list.attribute("version").and_then(|v| v.parse().ok()),
            full: list.attribute("fullState") == Some("true"),
            resources,
        })
    }
}
