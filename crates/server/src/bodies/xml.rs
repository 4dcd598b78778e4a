//! What the document builders share: escaping, the XML declaration, stable
//! ids, and (for tests) a namespace-aware reader of what they wrote.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The first line of every document the server writes.
pub(super) const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// A character XML 1.0 allows (§2.2): no control characters but tab and
/// line ends, no U+FFFE or U+FFFF, whether written raw or as a reference.
pub(super) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// `value` with `<`, `>`, `&`, `'` and `"` escaped: safe as text and inside
/// a double-quoted attribute. A character XML cannot carry (a control
/// character a SIP display name may hold) becomes U+FFFD, so the document
/// stays well-formed.
pub(super) fn escape(value: &str) -> Cow<'_, str> {
    if value.chars().all(is_xml_char) {
        quick_xml::escape::escape(value)
    } else {
        let clean: String = value
            .chars()
            .map(|c| if is_xml_char(c) { c } else { '\u{fffd}' })
            .collect();
        Cow::Owned(quick_xml::escape::escape(clean.as_str()).into_owned())
    }
}

/// Appends ` name="value"` with the value escaped.
pub(super) fn push_attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    out.push_str(&escape(value));
    out.push('"');
}

/// Appends `<name>text</name>` with the text escaped.
pub(super) fn push_text_element(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<{name}>{}</{name}>", escape(text));
}

/// A short id that is the same for the same text in every document and
/// every run (FNV-1a): watchers match contacts, dialogs and list instances
/// across NOTIFYs by id.
pub(crate) fn stable_id(prefix: &str, text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{prefix}{hash:016x}")
}

/// One element of a document as the tests read it back.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ReadElement {
    /// Its namespace URI (empty for none).
    pub(super) ns: String,
    /// Its local name.
    pub(super) local: String,
    /// Its attributes, values unescaped.
    pub(super) attrs: Vec<(String, String)>,
    /// Its direct text, unescaped.
    pub(super) text: String,
    /// The local names of its ancestors, root first.
    pub(super) path: Vec<String>,
}

#[cfg(test)]
impl ReadElement {
    pub(super) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Reads `xml` with quick-xml's namespace-aware reader, panicking when it is
/// not well-formed: the elements in document order.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub(super) fn read_back(xml: &str) -> Vec<ReadElement> {
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    use quick_xml::reader::NsReader;

    let mut reader = NsReader::from_str(xml);
    let mut out: Vec<ReadElement> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut roots = 0;
    loop {
        let (ns, event) = reader.read_resolved_event().expect("well-formed XML");
        let ns = match ns {
            ResolveResult::Bound(ns) => String::from_utf8(ns.0.to_vec()).unwrap(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(prefix) => panic!("unbound prefix {prefix:?} in {xml}"),
        };
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let empty = matches!(event, Event::Empty(_));
                if open.is_empty() {
                    roots += 1;
                }
                let mut attrs = Vec::new();
                for attr in start.attributes() {
                    let attr = attr.unwrap();
                    let (resolved, _) = reader.resolver().resolve_attribute(attr.key);
                    assert!(!matches!(resolved, ResolveResult::Unknown(_)), "{xml}");
                    attrs.push((
                        String::from_utf8(attr.key.0.to_vec()).unwrap(),
                        attr.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned(),
                    ));
                }
                let path = open
                    .iter()
                    .map(|&i| out.get(i).unwrap().local.clone())
                    .collect();
                out.push(ReadElement {
                    ns,
                    local: String::from_utf8(start.local_name().as_ref().to_vec()).unwrap(),
                    attrs,
                    text: String::new(),
                    path,
                });
                if !empty {
                    open.push(out.len() - 1);
                }
            }
            Event::End(_) => {
                open.pop().unwrap();
            }
            Event::Text(text) => {
                if let Some(&i) = open.last() {
                    out.get_mut(i)
                        .unwrap()
                        .text
                        .push_str(&text.decode().unwrap());
                } else {
                    assert!(text.decode().unwrap().trim().is_empty(), "{xml}");
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref().unwrap() {
                    Some(c) => c.to_string(),
                    None => {
                        quick_xml::escape::unescape(&format!("&{};", reference.decode().unwrap()))
                            .unwrap()
                            .into_owned()
                    }
                };
                out.get_mut(*open.last().unwrap())
                    .unwrap()
                    .text
                    .push_str(&resolved);
            }
            Event::DocType(_) => panic!("DOCTYPE in {xml}"),
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(open.is_empty(), "unclosed elements in {xml}");
    assert_eq!(roots, 1, "{xml}");
    out
}
