//! A small element tree read with quick-xml: enough for the event bodies
//! a subscriber summarises (PIDF, dialog-info, reginfo). Names are local
//! (namespace prefixes dropped); bounded in depth and size so a hostile
//! body costs little.

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// Deepest nesting kept; deeper elements are skipped.
const MAX_DEPTH: usize = 16;
/// Most elements read from one document.
const MAX_ELEMENTS: usize = 4096;

/// One element: its local name, attributes (local names), text and
/// children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct XmlElement {
    pub(crate) name: String,
    pub(crate) attributes: Vec<(String, String)>,
    pub(crate) text: String,
    pub(crate) children: Vec<Self>,
}

fn local(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

fn element(start: &BytesStart<'_>) -> XmlElement {
    let attributes = start
        .attributes()
        .filter_map(Result::ok)
        .filter_map(|a| {
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .ok()?
                .into_owned();
            Some((local(a.key.local_name().as_ref()), value))
        })
        .collect();
    XmlElement {
        name: local(start.local_name().as_ref()),
        attributes,
        ..XmlElement::default()
    }
}

impl XmlElement {
    /// The root element of `text`; `None` when it is not well-formed XML.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut reader = Reader::from_str(text);
        let mut stack: Vec<Self> = Vec::new();
        let mut count = 0usize;
        loop {
            match reader.read_event().ok()? {
                Event::Start(start) => {
                    count += 1;
                    if count > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                        return None;
                    }
                    stack.push(element(&start));
                }
                Event::Empty(start) => {
                    count += 1;
                    let child = element(&start);
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(child),
                        None => return Some(child),
                    }
                }
                Event::Text(text) => {
                    if let (Some(top), Ok(t)) = (stack.last_mut(), text.decode()) {
                        top.text.push_str(&t);
                    }
                }
                Event::CData(data) => {
                    if let (Some(top), Ok(t)) = (stack.last_mut(), data.decode()) {
                        top.text.push_str(&t);
                    }
                }
                Event::GeneralRef(reference) => {
                    let name = reference.decode().ok()?;
                    let resolved = quick_xml::escape::unescape(&format!("&{name};"))
                        .ok()?
                        .into_owned();
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&resolved);
                    }
                }
                Event::End(_) => {
                    let done = stack.pop()?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => return Some(done),
                    }
                }
                Event::Eof => return None,
                _ => {}
            }
        }
    }

    /// The value of attribute `name`.
    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first child named `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&Self> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub(crate) fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Self> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first element named `name` anywhere below (depth first).
    pub(crate) fn find(&self, name: &str) -> Option<&Self> {
        self.children.iter().find_map(|c| {
            if c.name == name {
                Some(c)
            } else {
                c.find(name)
            }
        })
    }

    /// The text, trimmed; `None` when empty.
    pub(crate) fn trimmed_text(&self) -> Option<String> {
        let t = self.text.trim();
        (!t.is_empty()).then(|| t.to_owned())
    }
}
