//! Presence documents (PIDF, RFC 3863; RPID, RFC 4480; the data model of
//! RFC 4479): reading what a device publishes, composing the publications
//! of one user into the one document watchers get, and presence derived
//! from registration.

use std::collections::HashSet;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::error::BodyError;
use super::xml::{DECLARATION, escape, is_xml_char, push_attr};

/// The media type of a PIDF document.
pub const PIDF: &str = "application/pidf+xml";

/// The largest published document accepted.
pub const MAX_PIDF_BYTES: usize = 64 * 1024;

/// Deeper nesting than any real presence document uses.
const MAX_DEPTH: usize = 64;

const PIDF_NS: &str = "urn:ietf:params:xml:ns:pidf";
const DATA_MODEL_NS: &str = "urn:ietf:params:xml:ns:pidf:data-model";
const RPID_NS: &str = "urn:ietf:params:xml:ns:pidf:rpid";

/// A tuple's basic status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Basic {
    /// `open`: the service can be reached.
    Open,
    /// `closed`.
    Closed,
}

impl Basic {
    /// The element text.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
}

/// What a top-level child of `<presence>` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementKind {
    /// A PIDF `<tuple>` (a service).
    Tuple,
    /// A data model `<person>`.
    Person,
    /// A data model `<device>`.
    Device,
    /// A presence-level PIDF `<note>`.
    Note,
    /// Any other extension element.
    Other,
}

/// One namespace declaration: the prefix (`None` for the default namespace)
/// and the URI (empty to undeclare the default).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Declaration {
    prefix: Option<String>,
    uri: String,
}

impl Declaration {
    fn attribute_name(&self) -> String {
        match &self.prefix {
            Some(prefix) => format!("xmlns:{prefix}"),
            None => "xmlns".to_owned(),
        }
    }
}

/// A top-level child of a published `<presence>`, kept as text so that
/// extensions the server does not know reach watchers as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidfElement {
    kind: ElementKind,
    id: Option<String>,
    /// The tag name as written (`tuple`, `dm:person`).
    qname: String,
    /// Its attributes as written, values unescaped, namespace declarations
    /// included.
    attributes: Vec<(String, String)>,
    /// The raw content between its start and end tags; `None` for `<x/>`.
    inner: Option<String>,
}

impl PidfElement {
    /// What it is.
    #[must_use]
    pub fn kind(&self) -> ElementKind {
        self.kind
    }

    /// Its `id` attribute.
    #[must_use]
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Whether the element declares `prefix` itself.
    fn declares(&self, declaration: &Declaration) -> bool {
        let name = declaration.attribute_name();
        self.attributes.iter().any(|(key, _)| *key == name)
    }

    /// Appends the element, with `id` in place of its own and `inline`
    /// declarations added where it does not make its own.
    fn write(&self, out: &mut String, id: Option<&str>, inline: &[&Declaration]) {
        out.push('<');
        out.push_str(&self.qname);
        for (key, value) in &self.attributes {
            let value = match id {
                Some(id) if key == "id" => id,
                _ => value,
            };
            push_attr(out, key, value);
        }
        for declaration in inline {
            if !self.declares(declaration) {
                push_attr(out, &declaration.attribute_name(), &declaration.uri);
            }
        }
        match &self.inner {
            Some(inner) => {
                out.push('>');
                out.push_str(inner);
                out.push_str("</");
                out.push_str(&self.qname);
                out.push('>');
            }
            None => out.push_str("/>"),
        }
    }
}

/// A published presence document that passed [`parse_pidf`]: its root's
/// namespace declarations, its top-level elements as text, and what the
/// server reads from it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PidfDocument {
    entity: String,
    declarations: Vec<Declaration>,
    elements: Vec<PidfElement>,
    basic: Option<Basic>,
    presence_note: Option<String>,
    person_note: Option<String>,
    tuple_note: Option<String>,
    activities: Vec<String>,
}

impl PidfDocument {
    /// The `entity` of its root (`pres:alice@example.com`).
    #[must_use]
    pub fn entity(&self) -> &str {
        &self.entity
    }

    /// The first tuple's `<basic>` status.
    #[must_use]
    pub fn basic(&self) -> Option<Basic> {
        self.basic
    }

    /// A note for people: the presence-level `<note>`, else the person's,
    /// else the first tuple's.
    #[must_use]
    pub fn note(&self) -> Option<String> {
        self.presence_note
            .clone()
            .or_else(|| self.person_note.clone())
            .or_else(|| self.tuple_note.clone())
    }

    /// The RPID activities (`away`, `busy`, `on-the-phone`, ...), each local
    /// name once, in document order.
    #[must_use]
    pub fn activities(&self) -> Vec<String> {
        self.activities.clone()
    }

    /// Its top-level elements in document order.
    pub fn elements(&self) -> impl Iterator<Item = &PidfElement> {
        self.elements.iter()
    }

    fn of_kind(&self, kind: ElementKind) -> impl Iterator<Item = &PidfElement> {
        self.elements.iter().filter(move |e| e.kind == kind)
    }
}

/// Which field the text being read belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capture {
    Basic,
    PresenceNote,
    PersonNote,
    TupleNote,
}

/// The state of one [`parse_pidf`] run.
#[derive(Debug, Default)]
struct PidfParser {
    doc: PidfDocument,
    /// (namespace, local name) of each open element, root first.
    open: Vec<(String, String)>,
    /// The top-level child being read and where its content starts.
    current: Option<(PidfElement, usize)>,
    tuples_seen: usize,
    capture: Option<(Capture, usize, String)>,
    root_closed: bool,
}

/// Reads a published presence document: well-formed namespace-aware XML
/// without DTD, at most [`MAX_PIDF_BYTES`], root `presence` in the PIDF
/// namespace.
///
/// # Errors
///
/// A [`BodyError`] saying what is wrong; [`BodyError::status`] gives the
/// answer.
pub fn parse_pidf(body: &str) -> Result<PidfDocument, BodyError> {
    if body.len() > MAX_PIDF_BYTES {
        return Err(BodyError::TooLarge {
            len: body.len(),
            limit: MAX_PIDF_BYTES,
        });
    }
    // quick-xml skips a byte order mark and counts positions after it: the
    // slices of the elements' content must be taken from the same text.
    let body = body.strip_prefix('\u{feff}').unwrap_or(body);
    if let Some(bad) = body.find(|c| !is_xml_char(c)) {
        return Err(BodyError::NotXml {
            position: u64::try_from(bad).unwrap_or(u64::MAX),
        });
    }
    let mut reader = NsReader::from_str(body);
    reader.config_mut().check_comments = true;
    let mut parser = PidfParser::default();
    loop {
        let before = position(reader.buffer_position());
        let not_xml = |reader: &NsReader<&[u8]>| BodyError::NotXml {
            position: reader.error_position(),
        };
        let (ns, event) = match reader.read_resolved_event() {
            Ok((ns, event)) => (namespace(ns).ok_or_else(|| not_xml(&reader))?, event),
            Err(_) => return Err(not_xml(&reader)),
        };
        let after = position(reader.buffer_position());
        let at = BodyError::NotXml {
            position: reader.buffer_position(),
        };
        match event {
            Event::Start(start) => {
                check_attributes(&reader, &start).ok_or(at.clone())?;
                parser.start(ns, &start, after, false, at)?;
            }
            Event::Empty(start) => {
                check_attributes(&reader, &start).ok_or(at.clone())?;
                parser.start(ns, &start, after, true, at)?;
            }
            Event::End(_) => parser.end(body, before).ok_or(at)?,
            Event::Text(text) => {
                let text = text.decode().map_err(|_| at.clone())?;
                parser.text(&text).ok_or(at)?;
            }
            Event::CData(data) => {
                let text = data.decode().map_err(|_| at.clone())?;
                parser.text(&text).ok_or(at)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = resolve_reference(&reference).ok_or(at.clone())?;
                parser.text(resolved.encode_utf8(&mut [0; 4])).ok_or(at)?;
            }
            Event::DocType(_) => return Err(BodyError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !parser.root_closed {
        return Err(BodyError::NotXml {
            position: u64::try_from(body.len()).unwrap_or(u64::MAX),
        });
    }
    Ok(parser.doc)
}

fn position(offset: u64) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

/// The namespace URI of a resolved name (empty for none); `None` for an
/// unbound prefix.
fn namespace(ns: ResolveResult<'_>) -> Option<String> {
    match ns {
        ResolveResult::Bound(ns) => String::from_utf8(ns.0.to_vec()).ok(),
        ResolveResult::Unbound => Some(String::new()),
        ResolveResult::Unknown(_) => None,
    }
}

/// Every attribute well-formed, its value free of undefined entities and
/// its prefix bound.
fn check_attributes(reader: &NsReader<&[u8]>, start: &BytesStart<'_>) -> Option<()> {
    for attr in start.attributes() {
        let attr = attr.ok()?;
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .ok()?;
        if !value.chars().all(is_xml_char) {
            return None;
        }
        let (ns, _) = reader.resolver().resolve_attribute(attr.key);
        namespace(ns)?;
    }
    Some(())
}

/// A character reference or one of the five predefined entities; anything
/// else is undefined (no DTD can define it).
fn resolve_reference(reference: &quick_xml::events::BytesRef<'_>) -> Option<char> {
    if reference.is_char_ref() {
        return reference
            .resolve_char_ref()
            .ok()
            .flatten()
            .filter(|c| is_xml_char(*c));
    }
    match reference.decode().ok()?.as_ref() {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

fn utf8(bytes: &[u8]) -> Option<String> {
    String::from_utf8(bytes.to_vec()).ok()
}

impl PidfParser {
    fn start(
        &mut self,
        ns: String,
        start: &BytesStart<'_>,
        after: usize,
        empty: bool,
        at: BodyError,
    ) -> Result<(), BodyError> {
        if self.root_closed {
            return Err(at);
        }
        let local = utf8(start.local_name().as_ref()).ok_or(at.clone())?;
        match self.open.len() {
            0 => self.root(&ns, &local, start, at)?,
            1 => self.top_level(&ns, &local, start, after, empty, at)?,
            depth => {
                if depth >= MAX_DEPTH {
                    return Err(BodyError::TooDeep { limit: MAX_DEPTH });
                }
                self.nested(&ns, &local);
            }
        }
        if empty {
            self.close_empty();
        } else {
            self.open.push((ns, local));
        }
        Ok(())
    }

    fn root(
        &mut self,
        ns: &str,
        local: &str,
        start: &BytesStart<'_>,
        at: BodyError,
    ) -> Result<(), BodyError> {
        if ns != PIDF_NS || local != "presence" {
            return Err(BodyError::WrongDocument {
                expected: "{urn:ietf:params:xml:ns:pidf}presence",
            });
        }
        let mut has_default = false;
        for attr in start.attributes().flatten() {
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|_| at.clone())?
                .into_owned();
            if let Some(binding) = attr.key.as_namespace_binding() {
                let prefix = match binding {
                    quick_xml::name::PrefixDeclaration::Default => {
                        has_default = true;
                        None
                    }
                    // `xmlns:=".."` binds no prefix: not namespace
                    // well-formed (and copied into a composed document it
                    // would read as a second default namespace).
                    quick_xml::name::PrefixDeclaration::Named([]) => return Err(at.clone()),
                    quick_xml::name::PrefixDeclaration::Named(prefix) => {
                        Some(utf8(prefix).ok_or(at.clone())?)
                    }
                };
                self.doc
                    .declarations
                    .push(Declaration { prefix, uri: value });
            } else if attr.key.as_ref() == b"entity" {
                self.doc.entity = value;
            }
        }
        if !has_default {
            // Unprefixed children are in no namespace: say so wherever they go.
            self.doc.declarations.push(Declaration {
                prefix: None,
                uri: String::new(),
            });
        }
        Ok(())
    }

    fn top_level(
        &mut self,
        ns: &str,
        local: &str,
        start: &BytesStart<'_>,
        after: usize,
        empty: bool,
        at: BodyError,
    ) -> Result<(), BodyError> {
        let kind = match (ns, local) {
            (PIDF_NS, "tuple") => ElementKind::Tuple,
            (PIDF_NS, "note") => ElementKind::Note,
            (DATA_MODEL_NS, "person") => ElementKind::Person,
            (DATA_MODEL_NS, "device") => ElementKind::Device,
            _ => ElementKind::Other,
        };
        let mut attributes = Vec::new();
        let mut id = None;
        for attr in start.attributes().flatten() {
            let key = utf8(attr.key.as_ref()).ok_or(at.clone())?;
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|_| at.clone())?
                .into_owned();
            if key == "id" {
                id = Some(value.clone());
            }
            attributes.push((key, value));
        }
        let qname = utf8(start.name().as_ref()).ok_or(at)?;
        let element = PidfElement {
            kind,
            id,
            qname,
            attributes,
            inner: if empty { None } else { Some(String::new()) },
        };
        if kind == ElementKind::Note {
            self.capture = Some((Capture::PresenceNote, 1, String::new()));
        }
        self.current = Some((element, after));
        Ok(())
    }

    fn nested(&mut self, ns: &str, local: &str) {
        let depth = self.open.len();
        let top = self.current.as_ref().map(|(element, _)| element.kind);
        let parent = self
            .open
            .last()
            .map(|(ns, local)| (ns.as_str(), local.as_str()));
        let capture = match (top, depth, ns, local, parent) {
            (Some(ElementKind::Tuple), 3, PIDF_NS, "basic", Some((PIDF_NS, "status")))
                if self.tuples_seen == 0 =>
            {
                Some(Capture::Basic)
            }
            (Some(ElementKind::Tuple), 2, PIDF_NS, "note", _) => Some(Capture::TupleNote),
            (Some(ElementKind::Person), 2, DATA_MODEL_NS, "note", _) => Some(Capture::PersonNote),
            _ => None,
        };
        if let Some(capture) = capture {
            self.capture = Some((capture, depth, String::new()));
        }
        if ns == RPID_NS
            && matches!(parent, Some((RPID_NS, "activities")))
            && !self.doc.activities.iter().any(|a| a == local)
        {
            self.doc.activities.push(local.to_owned());
        }
    }

    /// An `<x/>` opened and closed at once.
    fn close_empty(&mut self) {
        match self.open.len() {
            0 => self.root_closed = true,
            1 => self.finish_top_level(None),
            _ => {}
        }
        // `<basic/>` or `<note/>` captured nothing.
        if self
            .capture
            .as_ref()
            .is_some_and(|(_, depth, _)| *depth == self.open.len())
        {
            self.capture = None;
        }
    }

    fn end(&mut self, body: &str, before: usize) -> Option<()> {
        self.open.pop()?;
        let depth = self.open.len();
        if let Some((capture, at, text)) = self.capture.take_if(|(_, at, _)| *at == depth) {
            let _ = at;
            self.captured(capture, text.trim().to_owned());
        }
        match depth {
            0 => self.root_closed = true,
            1 => {
                let start = self.current.as_ref()?.1;
                self.finish_top_level(Some(body.get(start..before)?.to_owned()));
            }
            _ => {}
        }
        Some(())
    }

    fn captured(&mut self, capture: Capture, text: String) {
        match capture {
            Capture::Basic => {
                if self.doc.basic.is_none() {
                    self.doc.basic = match text.as_str() {
                        "open" => Some(Basic::Open),
                        "closed" => Some(Basic::Closed),
                        _ => None,
                    };
                }
            }
            Capture::PresenceNote => {
                self.doc.presence_note.get_or_insert(text);
            }
            Capture::PersonNote => {
                self.doc.person_note.get_or_insert(text);
            }
            Capture::TupleNote => {
                self.doc.tuple_note.get_or_insert(text);
            }
        }
    }

    fn finish_top_level(&mut self, inner: Option<String>) {
        if let Some((mut element, _)) = self.current.take() {
            if element.kind == ElementKind::Tuple {
                self.tuples_seen += 1;
            }
            element.inner = inner;
            self.doc.elements.push(element);
        }
    }

    /// Character data: only whitespace outside the root.
    fn text(&mut self, text: &str) -> Option<()> {
        if self.open.is_empty() && !text.trim().is_empty() {
            return None;
        }
        if let Some((_, _, captured)) = &mut self.capture {
            if captured.len() + text.len() <= MAX_PIDF_BYTES {
                captured.push_str(text);
            }
        }
        Some(())
    }
}

/// The publications of one user (several devices), oldest first, as the one
/// document watchers of `entity` get (RFC 3863 §4, RFC 4479 §3.4): every
/// tuple and device, the person of the most recent publication that has
/// one, presence-level notes and other extensions from all. Tuple and
/// device ids are made unique. Each publication's root declarations are
/// declared on the new root, except where a prefix is already bound to
/// another URI there: those are repeated on that publication's elements, so
/// the result is always well-formed.
#[must_use]
pub fn compose_pidf(entity: &str, docs: &[&PidfDocument]) -> String {
    let mut root: Vec<Declaration> = vec![Declaration {
        prefix: None,
        uri: PIDF_NS.to_owned(),
    }];
    // Per document, the declarations its elements carry inline.
    let mut inline: Vec<Vec<&Declaration>> = Vec::with_capacity(docs.len());
    for doc in docs {
        let mut own = Vec::new();
        for declaration in &doc.declarations {
            match root.iter().find(|d| d.prefix == declaration.prefix) {
                Some(bound) if bound.uri == declaration.uri => {}
                Some(_) => own.push(declaration),
                None => root.push(declaration.clone()),
            }
        }
        inline.push(own);
    }

    let mut out = String::from(DECLARATION);
    out.push_str("<presence");
    for declaration in &root {
        push_attr(&mut out, &declaration.attribute_name(), &declaration.uri);
    }
    push_attr(&mut out, "entity", entity);
    out.push_str(">\n");

    let mut ids = HashSet::new();
    let latest_person = docs
        .iter()
        .rposition(|doc| doc.of_kind(ElementKind::Person).next().is_some());
    // PIDF's schema order: tuples, notes, then extensions.
    let sections: [(ElementKind, bool); 5] = [
        (ElementKind::Tuple, true),
        (ElementKind::Note, false),
        (ElementKind::Person, true),
        (ElementKind::Device, true),
        (ElementKind::Other, false),
    ];
    for (kind, unique_ids) in sections {
        for (index, (doc, inline)) in docs.iter().zip(&inline).enumerate() {
            if kind == ElementKind::Person && Some(index) != latest_person {
                continue;
            }
            for element in doc.of_kind(kind) {
                let id = match (unique_ids, element.id()) {
                    (true, Some(id)) => Some(unique(&mut ids, id)),
                    _ => None,
                };
                element.write(&mut out, id.as_deref(), inline);
                out.push('\n');
            }
        }
    }
    out.push_str("</presence>\n");
    out
}

/// `id`, or `id-2`, `id-3`, ... when taken; remembered as taken.
fn unique(taken: &mut HashSet<String>, id: &str) -> String {
    let mut candidate = id.to_owned();
    let mut n = 2_u32;
    while taken.contains(&candidate) {
        candidate = format!("{id}-{n}");
        n = n.saturating_add(1);
    }
    taken.insert(candidate.clone());
    candidate
}

/// The presence of a user nobody publishes for, from the registrar: open
/// while a device is registered, closed otherwise.
#[must_use]
pub fn pidf_from_registration(entity: &str, open: bool) -> String {
    let basic = if open { Basic::Open } else { Basic::Closed };
    format!(
        "{DECLARATION}<presence xmlns=\"{PIDF_NS}\" entity=\"{}\">\n\
         <tuple id=\"registration\"><status><basic>{}</basic></status></tuple>\n\
         </presence>\n",
        escape(entity),
        basic.as_str()
    )
}

#[cfg(test)]
#[path = "pidf_tests.rs"]
mod tests;
