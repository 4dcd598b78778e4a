//! The header section of a message: an ordered list of fields whose names and
//! values are slices of the received buffer until something changes them.

use bytestring::ByteString;

use crate::header::{CSeq, HeaderError, HeaderName, NameAddr, TypedHeader, Via};
use crate::text::CommaSplit;

/// Where a piece of text lives: in the shared buffer, or owned after an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Text {
    /// `start..end` of the buffer.
    Span(u32, u32),
    /// Text that is not in the buffer.
    Owned(Box<str>),
}

impl Text {
    #[inline]
    pub(crate) fn resolve<'a>(&'a self, buf: &'a str) -> &'a str {
        match self {
            Self::Span(s, e) => buf.get(*s as usize..*e as usize).unwrap_or(""),
            Self::Owned(s) => s,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) name: HeaderName,
    pub(crate) raw_name: Text,
    pub(crate) value: Text,
}

/// One header field as seen through [`Headers::iter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField<'a> {
    /// The recognised name ([`HeaderName::Other`] for unknown ones).
    pub name: HeaderName,
    /// The name as written (long form for known headers added by code).
    pub raw_name: &'a str,
    /// The value, trimmed, with line folding replaced by a space.
    pub value: &'a str,
}

impl HeaderField<'_> {
    /// The name to print: canonical for known headers, verbatim otherwise.
    pub fn print_name(&self) -> &str {
        match self.name {
            HeaderName::Other => self.raw_name,
            known => known.as_str(),
        }
    }
}

/// The header fields of a message, in order.
///
/// Values parsed from the wire are slices of one shared buffer; a field that
/// code adds or changes owns its text. Look-ups by [`HeaderName`] compare one
/// byte per field.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    buf: ByteString,
    fields: Vec<Field>,
    pub(crate) hot: Hot,
}

/// The hot header values, parsed once when the message is parsed and again
/// only when code changes the header they come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Hot {
    pub(crate) call_id: Option<Text>,
    pub(crate) cseq: Option<CSeq>,
    pub(crate) from_tag: Option<Text>,
    pub(crate) to_tag: Option<Text>,
    pub(crate) branch: Option<Text>,
    pub(crate) max_forwards: Option<u32>,
    pub(crate) content_length: Option<u32>,
}

/// A sub-slice of `value` as a [`Text`] of the same kind as `value`'s.
pub(crate) fn sub_text(whole: &Text, buf: &str, value: &str, part: &str) -> Text {
    match (whole, crate::text::offset_in(value, part)) {
        (Text::Span(start, _), Some(off)) => {
            let s = *start as usize + off;
            Text::Span(s as u32, (s + part.len()) as u32)
        }
        _ => {
            let _ = buf;
            Text::Owned(part.into())
        }
    }
}

impl Headers {
    /// An empty header list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Headers over `buf` whose fields the parser has split already.
    pub(crate) fn from_parts(buf: ByteString, fields: Vec<Field>) -> Self {
        Self {
            buf,
            fields,
            hot: Hot::default(),
        }
    }

    /// The fields, for the parser.
    pub(crate) fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// `Call-ID`.
    pub fn call_id(&self) -> Option<&str> {
        self.hot.call_id.as_ref().map(|t| t.resolve(&self.buf))
    }

    /// `CSeq`.
    pub fn cseq(&self) -> Option<&CSeq> {
        self.hot.cseq.as_ref()
    }

    /// The `tag` of `From`.
    pub fn from_tag(&self) -> Option<&str> {
        self.hot.from_tag.as_ref().map(|t| t.resolve(&self.buf))
    }

    /// The `tag` of `To`.
    pub fn to_tag(&self) -> Option<&str> {
        self.hot.to_tag.as_ref().map(|t| t.resolve(&self.buf))
    }

    /// The `branch` of the top `Via`.
    pub fn top_branch(&self) -> Option<&str> {
        self.hot.branch.as_ref().map(|t| t.resolve(&self.buf))
    }

    /// `Max-Forwards`.
    pub fn max_forwards(&self) -> Option<u32> {
        self.hot.max_forwards
    }

    /// `Content-Length`.
    pub fn content_length(&self) -> Option<u32> {
        self.hot.content_length
    }

    /// The top `Via`, parsed.
    pub fn top_via(&self) -> Option<Result<Via<'_>, HeaderError>> {
        self.typed::<Via<'_>>()
    }

    /// Re-derives the hot value that comes from header `name` after a change.
    fn refresh_hot(&mut self, name: HeaderName) {
        let Some(idx) = self.fields.iter().position(|f| f.name == name) else {
            match name {
                HeaderName::CallId => self.hot.call_id = None,
                HeaderName::CSeq => self.hot.cseq = None,
                HeaderName::From => self.hot.from_tag = None,
                HeaderName::To => self.hot.to_tag = None,
                HeaderName::Via => self.hot.branch = None,
                HeaderName::MaxForwards => self.hot.max_forwards = None,
                HeaderName::ContentLength => self.hot.content_length = None,
                _ => {}
            }
            return;
        };
        let Some(field) = self.fields.get(idx) else {
            return;
        };
        let value = field.value.resolve(&self.buf);
        let sub = |part: &str| sub_text(&field.value, &self.buf, value, part);
        match name {
            HeaderName::CallId => self.hot.call_id = Some(field.value.clone()),
            HeaderName::CSeq => self.hot.cseq = CSeq::parse_value(value).ok(),
            HeaderName::From => {
                self.hot.from_tag = NameAddr::parse_value(value)
                    .ok()
                    .and_then(|a| a.tag())
                    .map(sub)
            }
            HeaderName::To => {
                self.hot.to_tag = NameAddr::parse_value(value)
                    .ok()
                    .and_then(|a| a.tag())
                    .map(sub)
            }
            HeaderName::Via => {
                self.hot.branch = CommaSplit::new(value)
                    .next()
                    .and_then(|v| Via::parse_value(v).ok())
                    .and_then(|v| v.branch())
                    .map(sub)
            }
            HeaderName::MaxForwards => self.hot.max_forwards = crate::text::parse_u32(value),
            HeaderName::ContentLength => self.hot.content_length = crate::text::parse_u32(value),
            _ => {}
        }
    }

    pub(crate) fn buffer(&self) -> &str {
        &self.buf
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when there is no header.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = HeaderField<'_>> + '_ {
        self.fields.iter().map(|f| self.view(f))
    }

    fn view<'a>(&'a self, f: &'a Field) -> HeaderField<'a> {
        HeaderField {
            name: f.name,
            raw_name: match f.raw_name {
                Text::Owned(ref s) if s.is_empty() => f.name.as_str(),
                ref t => t.resolve(&self.buf),
            },
            value: f.value.resolve(&self.buf),
        }
    }

    /// The value of the first field called `name`.
    pub fn get(&self, name: HeaderName) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.resolve(&self.buf))
    }

    /// The values of every field called `name`, one per header line.
    pub fn get_all(&self, name: HeaderName) -> impl Iterator<Item = &str> + '_ {
        self.fields
            .iter()
            .filter(move |f| f.name == name)
            .map(|f| f.value.resolve(&self.buf))
    }

    /// The value of the first field with this exact name (case-insensitive),
    /// for headers this crate does not know.
    pub fn get_by_name(&self, name: &str) -> Option<&str> {
        let known = HeaderName::from_name(name);
        self.iter()
            .find(|f| {
                f.name == known
                    && (known != HeaderName::Other || f.raw_name.eq_ignore_ascii_case(name))
            })
            .map(|f| f.value)
    }

    /// Every element of a list header, across all its lines, split on
    /// top-level commas.
    pub fn values(&self, name: HeaderName) -> impl Iterator<Item = &str> + '_ {
        self.get_all(name).flat_map(CommaSplit::new)
    }

    /// The first value of `T`'s header, parsed: `None` when absent.
    pub fn typed<'a, T: TypedHeader<'a>>(&'a self) -> Option<Result<T, HeaderError>> {
        if T::NAME.is_list() {
            self.values(T::NAME).next().map(T::parse)
        } else {
            self.get(T::NAME).map(T::parse)
        }
    }

    /// Every value of `T`'s header, parsed (list headers split on commas).
    pub fn typed_all<'a, T: TypedHeader<'a> + 'a>(
        &'a self,
    ) -> impl Iterator<Item = Result<T, HeaderError>> + 'a {
        let list = T::NAME.is_list();
        self.get_all(T::NAME).flat_map(move |v| {
            let mut split = CommaSplit::new(v);
            let single = (!list).then_some(v);
            std::iter::from_fn(move || if list { split.next() } else { None })
                .chain(single)
                .map(T::parse)
        })
    }

    /// Appends a field.
    pub fn push(&mut self, name: HeaderName, value: impl Into<Box<str>>) {
        self.insert(self.fields.len(), name, value);
    }

    /// Appends a field whose name this crate does not know.
    pub fn push_other(&mut self, name: &str, value: impl Into<Box<str>>) {
        let known = HeaderName::from_name(name);
        self.fields.push(Field {
            name: known,
            raw_name: Text::Owned(name.into()),
            value: Text::Owned(value.into()),
        });
        self.refresh_hot(known);
    }

    /// Inserts a field before the first one of the same name (or at the end
    /// when there is none): how a proxy adds its Via and Record-Route.
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<Box<str>>) {
        let at = self
            .fields
            .iter()
            .position(|f| f.name == name)
            .unwrap_or(self.fields.len());
        self.insert(at, name, value);
    }

    fn insert(&mut self, at: usize, name: HeaderName, value: impl Into<Box<str>>) {
        let field = Field {
            name,
            raw_name: Text::Owned("".into()),
            value: Text::Owned(value.into()),
        };
        if at >= self.fields.len() {
            self.fields.push(field);
        } else {
            self.fields.insert(at, field);
        }
        self.refresh_hot(name);
    }

    /// Replaces every field called `name` by one field with `value`, at the
    /// place of the first one.
    pub fn set(&mut self, name: HeaderName, value: impl Into<Box<str>>) {
        let at = self.fields.iter().position(|f| f.name == name);
        self.remove_all(name);
        self.insert(at.unwrap_or(self.fields.len()), name, value);
    }

    /// Removes every field called `name`; returns how many there were.
    pub fn remove_all(&mut self, name: HeaderName) -> usize {
        let before = self.fields.len();
        self.fields.retain(|f| f.name != name);
        self.refresh_hot(name);
        before - self.fields.len()
    }

    /// Removes the first element of a list header (for instance the top Via
    /// of a response a proxy forwards) and returns it. When the first line
    /// holds several comma-separated elements, only the first goes.
    pub fn pop_front_value(&mut self, name: HeaderName) -> Option<String> {
        let idx = self.fields.iter().position(|f| f.name == name)?;
        let field = self.fields.get(idx)?;
        let value = field.value.resolve(&self.buf);
        let mut split = CommaSplit::new(value);
        let first = split.next().unwrap_or_default().to_owned();
        let rest: Vec<&str> = split.collect();
        if rest.is_empty() {
            self.fields.remove(idx);
        } else {
            let joined = rest.join(", ");
            if let Some(f) = self.fields.get_mut(idx) {
                f.value = Text::Owned(joined.into());
            }
        }
        self.refresh_hot(name);
        Some(first)
    }

    /// Writes the header lines (`Name: value\r\n` each).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for f in self.iter() {
            out.extend_from_slice(f.print_name().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(f.value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.fields.len() == other.fields.len()
            && self.iter().zip(other.iter()).all(|(a, b)| {
                a.name == b.name
                    && a.print_name().eq_ignore_ascii_case(b.print_name())
                    && a.value == b.value
            })
    }
}

impl Eq for Headers {}
