//! The line-by-line parser behind [`SessionDescription::parse`].

use super::{
    Attribute, Bandwidth, Connection, LineError, MediaDescription, Origin, SdpError,
    SessionDescription, Timing, parse_decimal,
};

/// Parses a whole session description. See the module documentation for
/// the rules.
pub(super) fn parse(text: &str) -> Result<SessionDescription, SdpError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(index, line)| (index + 1, line.strip_suffix('\r').unwrap_or(line)))
        .filter(|(_, line)| !line.trim().is_empty());

    let (first, line) = lines.next().ok_or(SdpError::Empty)?;
    let (kind, value) = split_line(line).map_err(|error| error.at(first))?;
    if kind != 'v' {
        return Err(SdpError::Missing {
            line: first,
            field: 'v',
        });
    }
    let version = parse_decimal(value.trim())
        .filter(|version| *version == 0)
        .ok_or(LineError::UnsupportedVersion.at(first))?;

    let mut session = SessionLines::default();
    let mut media: Vec<MediaDescription> = Vec::new();
    let mut session_end = None;
    let mut last = first;
    for (number, line) in lines {
        last = number;
        let (kind, value) = split_line(line).map_err(|error| error.at(number))?;
        if kind == 'm' {
            if session_end.is_none() {
                if let Some(field) = session.first_missing() {
                    return Err(SdpError::Missing {
                        line: number,
                        field,
                    });
                }
                session_end = Some(number);
            }
            let section =
                MediaDescription::from_media_line(value).map_err(|error| error.at(number))?;
            media.push(section);
            continue;
        }
        let result = match media.last_mut() {
            None => session.line(kind, value),
            Some(section) => media_line(section, kind, value),
        };
        result.map_err(|error| error.at(number))?;
    }
    session.finish(version, media, session_end.unwrap_or(last))
}

/// Splits a line into its type letter and value.
fn split_line(line: &str) -> Result<(char, &str), LineError> {
    if line.contains(['\0', '\r']) {
        return Err(LineError::ForbiddenChar);
    }
    let (kind, value) = line.split_once('=').ok_or(LineError::Syntax)?;
    let mut chars = kind.chars();
    match (chars.next(), chars.next()) {
        (Some(kind), None) if kind.is_ascii_alphabetic() => Ok((kind, value)),
        _ => Err(LineError::Syntax),
    }
}

/// Fills a field that may appear only once.
fn set_once<T>(
    slot: &mut Option<T>,
    kind: char,
    parse: impl FnOnce() -> Result<T, LineError>,
) -> Result<(), LineError> {
    if slot.is_some() {
        return Err(LineError::Duplicate(kind));
    }
    *slot = Some(parse()?);
    Ok(())
}

/// Handles one line inside a media section.
fn media_line(media: &mut MediaDescription, kind: char, value: &str) -> Result<(), LineError> {
    match kind {
        'i' => set_once(&mut media.information, kind, || Ok(value.to_owned()))?,
        'c' => media.connections.push(value.parse::<Connection>()?),
        'b' => media.bandwidths.push(value.parse::<Bandwidth>()?),
        'k' => set_once(&mut media.key, kind, || Ok(value.to_owned()))?,
        'a' => media.attributes.push(value.parse::<Attribute>()?),
        'v' | 'o' | 's' | 'u' | 'e' | 'p' | 't' | 'r' | 'z' => {
            return Err(LineError::Misplaced(kind));
        }
        // Unknown type letters are ignored (RFC 4566 §5).
        _ => {}
    }
    Ok(())
}

/// The session-level lines seen so far.
#[derive(Debug, Default)]
struct SessionLines {
    origin: Option<Origin>,
    session_name: Option<String>,
    information: Option<String>,
    uri: Option<String>,
    emails: Vec<String>,
    phones: Vec<String>,
    connection: Option<Connection>,
    bandwidths: Vec<Bandwidth>,
    timings: Vec<Timing>,
    time_zones: Option<String>,
    key: Option<String>,
    attributes: Vec<Attribute>,
}

impl SessionLines {
    /// Handles one session-level line (any but `m=`).
    fn line(&mut self, kind: char, value: &str) -> Result<(), LineError> {
        let verbatim = || Ok(value.to_owned());
        match kind {
            'v' => return Err(LineError::Duplicate(kind)),
            'o' => set_once(&mut self.origin, kind, || value.parse())?,
            's' => set_once(&mut self.session_name, kind, verbatim)?,
            'i' => set_once(&mut self.information, kind, verbatim)?,
            'u' => set_once(&mut self.uri, kind, verbatim)?,
            'e' => self.emails.push(value.to_owned()),
            'p' => self.phones.push(value.to_owned()),
            'c' => set_once(&mut self.connection, kind, || value.parse())?,
            'b' => self.bandwidths.push(value.parse()?),
            't' => self.timings.push(value.parse()?),
            'r' => self
                .timings
                .last_mut()
                .ok_or(LineError::Misplaced(kind))?
                .repeats
                .push(value.to_owned()),
            'z' => set_once(&mut self.time_zones, kind, verbatim)?,
            'k' => set_once(&mut self.key, kind, verbatim)?,
            'a' => self.attributes.push(value.parse()?),
            // Unknown type letters are ignored (RFC 4566 §5).
            _ => {}
        }
        Ok(())
    }

    /// The first required line not seen yet, in RFC order.
    fn first_missing(&self) -> Option<char> {
        if self.origin.is_none() {
            Some('o')
        } else if self.session_name.is_none() {
            Some('s')
        } else if self.timings.is_empty() {
            Some('t')
        } else {
            None
        }
    }

    /// Assembles the description, checking for required lines; `end` is the
    /// line number reported if one is missing.
    fn finish(
        self,
        version: u32,
        media: Vec<MediaDescription>,
        end: usize,
    ) -> Result<SessionDescription, SdpError> {
        let missing = |field| SdpError::Missing { line: end, field };
        let origin = self.origin.ok_or(missing('o'))?;
        let session_name = self.session_name.ok_or(missing('s'))?;
        if self.timings.is_empty() {
            return Err(missing('t'));
        }
        Ok(SessionDescription {
            version,
            origin,
            session_name,
            information: self.information,
            uri: self.uri,
            emails: self.emails,
            phones: self.phones,
            connection: self.connection,
            bandwidths: self.bandwidths,
            timings: self.timings,
            time_zones: self.time_zones,
            key: self.key,
            attributes: self.attributes,
            media,
        })
    }
}
