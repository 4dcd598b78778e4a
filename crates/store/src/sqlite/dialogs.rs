//! Dialog records in SQLite (since schema version 7): one row of
//! `dialogs` per [`DialogRecord`], keyed by its id, written through the
//! event-state writer (so in the group commit) and loaded at start with
//! the rest of the event state.
//!
//! Each party's source is one column, `transport remote local`
//! (`udp 192.0.2.1:5060 192.0.2.10:5060`); the route set one entry per
//! line; the phase by name ([`DialogPhase::as_str`]); the carrier leg as
//! two columns, both `NULL` without one. A row that does not map back is
//! [`StoreError::Corrupt`].

use std::net::SocketAddr;

use rusqlite::{CachedStatement, Row, params};
use switchboard_core::Transport;
use switchboard_server::storage::{
    CarrierLeg, DeviceSource, DialogParty, DialogPhase, DialogRecord, RelaySdp,
};

use super::{from_sql_u64, join_lines, split_lines, to_sql_u64};
use crate::error::StoreError;

/// The columns, in the order of [`PUT_SQL`]'s parameters and of a row read.
pub(crate) const COLUMNS: &str = "id, call_id, caller_uri, caller_display, caller_tag, \
     caller_aor, caller_contact, caller_source, caller_cseq, callee_uri, callee_display, \
     callee_tag, callee_aor, callee_contact, callee_source, callee_cseq, dialled, route_set, \
     phase, start_ms, answer_ms, updated_ms, caller_user, routed_number, rule, target, trunk, \
     gateway, carrier_call_id, carrier_delta, relayed, caller_sdp, callee_sdp, caller_relay_sdp, \
     callee_relay_sdp";

/// The statement that writes a record (insert, or replace the same id).
pub(super) const PUT_SQL: &str = "INSERT OR REPLACE INTO dialogs (id, call_id, caller_uri, \
     caller_display, caller_tag, caller_aor, caller_contact, caller_source, caller_cseq, \
     callee_uri, callee_display, callee_tag, callee_aor, callee_contact, callee_source, \
     callee_cseq, dialled, route_set, phase, start_ms, answer_ms, updated_ms, caller_user, \
     routed_number, rule, target, trunk, gateway, carrier_call_id, carrier_delta, relayed, \
     caller_sdp, callee_sdp, caller_relay_sdp, callee_relay_sdp)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
     ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35)";

/// The statement that removes a record.
pub(super) const REMOVE_SQL: &str = "DELETE FROM dialogs WHERE id = ?1";

/// The statement that loads every record, oldest call first.
pub(super) fn load_sql() -> String {
    format!("SELECT {COLUMNS} FROM dialogs ORDER BY start_ms, id")
}

/// Writes `record` with the cached statement of [`PUT_SQL`].
pub(super) fn put(
    statement: &mut CachedStatement<'_>,
    record: &DialogRecord,
) -> Result<(), StoreError> {
    let (caller, callee) = (&record.caller, &record.callee);
    let leg = record.carrier_leg.as_ref();
    let sdp = record.relay_sdp.as_ref();
    statement.execute(params![
        record.id,
        record.call_id,
        caller.uri,
        caller.display,
        caller.tag,
        caller.aor,
        caller.contact,
        caller.source.map(source_text),
        caller.cseq,
        callee.uri,
        callee.display,
        callee.tag,
        callee.aor,
        callee.contact,
        callee.source.map(source_text),
        callee.cseq,
        record.dialled,
        join_lines(&record.route_set),
        record.phase.as_str(),
        to_sql_u64(record.start_ms),
        record.answer_ms.map(to_sql_u64),
        to_sql_u64(record.updated_ms),
        record.caller_user,
        record.routed_number,
        record.rule,
        record.target,
        record.trunk,
        record.gateway,
        leg.map(|l| l.call_id.as_str()),
        leg.map(|l| l.cseq_delta),
        record.relayed,
        sdp.map(|s| s.caller_sent.as_str()),
        sdp.map(|s| s.callee_sent.as_str()),
        sdp.map(|s| s.caller_received.as_str()),
        sdp.map(|s| s.callee_received.as_str()),
    ])?;
    Ok(())
}

/// `udp 192.0.2.1:5060 192.0.2.10:5060`.
pub(crate) fn source_text(source: DeviceSource) -> String {
    format!(
        "{} {} {}",
        source.transport.as_lowercase_token(),
        source.remote,
        source.local
    )
}

/// A party's columns as read, before their numbers and source are checked
/// (shared with PostgreSQL, which reads the same columns).
pub(crate) struct RawParty {
    pub(crate) party: DialogParty,
    pub(crate) source: Option<String>,
    pub(crate) cseq: Option<i64>,
}

impl RawParty {
    /// The seven columns of a party from `first` on.
    fn read(row: &Row<'_>, first: usize) -> rusqlite::Result<Self> {
        Ok(Self {
            party: DialogParty {
                uri: row.get(first)?,
                display: row.get(first + 1)?,
                tag: row.get(first + 2)?,
                aor: row.get(first + 3)?,
                contact: row.get(first + 4)?,
                source: None,
                cseq: None,
            },
            source: row.get(first + 5)?,
            cseq: row.get(first + 6)?,
        })
    }

    fn into_party(self, corrupt: impl Fn(String) -> StoreError) -> Result<DialogParty, StoreError> {
        let source = self
            .source
            .map(|text| parse_source(&text).ok_or_else(|| corrupt(format!("source {text:?}"))))
            .transpose()?;
        let cseq = self
            .cseq
            .map(|c| u32::try_from(c).map_err(|_| corrupt(format!("CSeq {c}"))))
            .transpose()?;
        Ok(DialogParty {
            source,
            cseq,
            ..self.party
        })
    }
}

fn parse_source(text: &str) -> Option<DeviceSource> {
    let mut parts = text.split(' ');
    let transport = Transport::from_token(parts.next()?)?;
    let remote: SocketAddr = parts.next()?.parse().ok()?;
    let local: SocketAddr = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some(DeviceSource {
        transport,
        remote,
        local,
    })
}

/// A row as read, before conversion (PostgreSQL reads the same columns).
pub(crate) struct RawDialog {
    pub(crate) id: String,
    pub(crate) call_id: String,
    pub(crate) caller: RawParty,
    pub(crate) callee: RawParty,
    pub(crate) dialled: String,
    pub(crate) route_set: String,
    pub(crate) phase: String,
    pub(crate) start_ms: i64,
    pub(crate) answer_ms: Option<i64>,
    pub(crate) updated_ms: i64,
    pub(crate) caller_user: Option<String>,
    pub(crate) routed_number: Option<String>,
    pub(crate) rule: Option<String>,
    pub(crate) target: Option<String>,
    pub(crate) trunk: Option<String>,
    pub(crate) gateway: Option<String>,
    pub(crate) carrier_call_id: Option<String>,
    pub(crate) carrier_delta: Option<i64>,
    pub(crate) relayed: bool,
    /// The four SDP columns: caller's and callee's sent, then received.
    pub(crate) relay_sdp: [Option<String>; 4],
}

impl RawDialog {
    pub(super) fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            call_id: row.get(1)?,
            caller: RawParty::read(row, 2)?,
            callee: RawParty::read(row, 9)?,
            dialled: row.get(16)?,
            route_set: row.get(17)?,
            phase: row.get(18)?,
            start_ms: row.get(19)?,
            answer_ms: row.get(20)?,
            updated_ms: row.get(21)?,
            caller_user: row.get(22)?,
            routed_number: row.get(23)?,
            rule: row.get(24)?,
            target: row.get(25)?,
            trunk: row.get(26)?,
            gateway: row.get(27)?,
            carrier_call_id: row.get(28)?,
            carrier_delta: row.get(29)?,
            relayed: row.get(30)?,
            relay_sdp: [row.get(31)?, row.get(32)?, row.get(33)?, row.get(34)?],
        })
    }

    pub(crate) fn into_record(self) -> Result<DialogRecord, StoreError> {
        let id = self.id;
        let corrupt = |what: String| StoreError::Corrupt(format!("dialog {id}: {what}"));
        let phase = DialogPhase::parse(&self.phase)
            .ok_or_else(|| corrupt(format!("phase {:?}", self.phase)))?;
        let carrier_leg = match (self.carrier_call_id, self.carrier_delta) {
            (None, None) => None,
            (Some(call_id), Some(delta)) => Some(CarrierLeg {
                call_id,
                cseq_delta: u32::try_from(delta)
                    .map_err(|_| corrupt(format!("carrier CSeq delta {delta}")))?,
            }),
            _ => return Err(corrupt("a carrier leg without its Call-ID or delta".into())),
        };
        let relay_sdp = match self.relay_sdp {
            [None, None, None, None] => None,
            [
                Some(caller_sent),
                Some(callee_sent),
                Some(caller_received),
                Some(callee_received),
            ] => Some(RelaySdp {
                caller_sent,
                callee_sent,
                caller_received,
                callee_received,
            }),
            _ => {
                return Err(corrupt(
                    "some of the relay's SDP columns and not all".into(),
                ));
            }
        };
        Ok(DialogRecord {
            caller: self.caller.into_party(corrupt)?,
            callee: self.callee.into_party(corrupt)?,
            start_ms: from_sql_u64("dialog start_ms", self.start_ms)?,
            answer_ms: self
                .answer_ms
                .map(|ms| from_sql_u64("dialog answer_ms", ms))
                .transpose()?,
            updated_ms: from_sql_u64("dialog updated_ms", self.updated_ms)?,
            call_id: self.call_id,
            dialled: self.dialled,
            route_set: split_lines(&self.route_set),
            phase,
            caller_user: self.caller_user,
            routed_number: self.routed_number,
            rule: self.rule,
            target: self.target,
            trunk: self.trunk,
            gateway: self.gateway,
            carrier_leg,
            relayed: self.relayed,
            relay_sdp,
            id,
        })
    }
}
