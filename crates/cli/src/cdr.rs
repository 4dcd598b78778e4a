//! `switchboard cdr`: the call detail records in the data directory, as
//! CSV (a header line, then one line per call) or JSON (one object per
//! line), oldest first.

use std::io::Write;
use std::process::ExitCode;

use switchboard_admin::Record;
use switchboard_store::{CallMedia, RecordQuery};

use crate::store::open;
use crate::users::store_err;
use crate::{CdrFormat, Error, StoreArgs};

/// The CSV columns before the media relay's ([`CallMedia::FIELDS`]), in
/// order (the JSON keys of the same values).
const COLUMNS: &[&str] = &[
    "start",
    "call_id",
    "caller",
    "caller_user",
    "callee",
    "dialled",
    "routed_number",
    "rule",
    "target",
    "trunk",
    "gateway",
    "source",
    "start_ms",
    "answer_ms",
    "end_ms",
    "duration_ms",
    "disposition",
    "status",
    "hangup",
];

/// `cdr [--data DIR] [--since T] [--until T] [--format csv|json]`; the
/// times in Unix milliseconds.
pub(crate) fn cdr(
    data: &StoreArgs,
    since_ms: Option<u64>,
    until_ms: Option<u64>,
    format: CdrFormat,
    out: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let store = open(data)?;
    let query = RecordQuery {
        since_ms,
        until_ms,
        limit: None,
    };
    let records = store
        .call_records(&query)
        .map_err(store_err("cannot read the call records"))?;
    if format == CdrFormat::Csv {
        let header: Vec<&str> = COLUMNS.iter().chain(&CallMedia::FIELDS).copied().collect();
        writeln!(out, "{}", header.join(","))?;
    }
    for record in records {
        let record = Record::from(record);
        let line = match format {
            CdrFormat::Json => serde_json::to_string(&record)
                .map_err(|e| Error::Invalid(format!("a record as JSON: {e}")))?,
            CdrFormat::Csv => csv_line(&record),
        };
        writeln!(out, "{line}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One record as a CSV line, in [`COLUMNS`] then [`CallMedia::FIELDS`] order.
fn csv_line(r: &Record) -> String {
    let number = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
    let signed = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    let text = |t: &Option<String>| t.clone().unwrap_or_default();
    let fields = [
        r.start.clone(),
        r.call_id.clone(),
        r.caller.clone(),
        text(&r.caller_user),
        r.callee.clone(),
        r.dialled.clone(),
        text(&r.routed_number),
        text(&r.rule),
        text(&r.target),
        text(&r.trunk),
        text(&r.gateway),
        r.source.clone(),
        r.start_ms.to_string(),
        number(r.answer_ms),
        number(r.end_ms),
        number(r.duration_ms),
        r.disposition.clone(),
        number(r.status.map(u64::from)),
        text(&r.hangup),
        r.relayed.to_string(),
        number(r.caller_packets_in),
        number(r.caller_bytes_in),
        number(r.caller_packets_out),
        number(r.caller_bytes_out),
        signed(r.caller_lost),
        number(r.caller_jitter.map(u64::from)),
        number(r.callee_packets_in),
        number(r.callee_bytes_in),
        number(r.callee_packets_out),
        number(r.callee_bytes_out),
        signed(r.callee_lost),
        number(r.callee_jitter.map(u64::from)),
    ];
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
}

/// A field quoted when it must be (RFC 4180): a comma, a quote or a line
/// break inside, quotes doubled.
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("sip:alice@example.com"), "sip:alice@example.com");
        assert_eq!(
            csv_field("\"Alice, A\" <sip:a@b>"),
            "\"\"\"Alice, A\"\" <sip:a@b>\""
        );
    }
}
