//! What the store checks before it writes: bounded text without control
//! characters (a stored value is printed back into SIP messages and
//! terminal output), q-values in range, times SQLite's `i64` can hold.

use switchboard_server::bodies::{DialogEntry, DialogState};
use switchboard_server::registrar::{Aor, Binding, BindingChange, BindingKey};
use switchboard_server::storage::{
    CallRecord, DialogParty, DialogRecord, PublicationRecord, StateChange, StoredMessage,
    SubscriptionRecord, User,
};

use crate::error::StoreError;

/// Longest text the store accepts in one field (a Contact header value with
/// many parameters still fits easily).
pub const MAX_FIELD_LEN: usize = 8 * 1024;

/// Most Path entries kept for one binding.
pub const MAX_PATH_ENTRIES: usize = 32;

/// Largest body the store keeps for a publication or a stored message
/// (a MESSAGE over UDP is far smaller; a PIDF document of several devices
/// still fits).
pub const MAX_BODY_LEN: usize = 64 * 1024;

/// Checks a user before it is written.
///
/// # Errors
/// [`StoreError::InvalidInput`] for an empty name or domain, control
/// characters or whitespace, a `:` in the name, overlong text, a time
/// past `i64::MAX`, or groups that are not group names, sorted and
/// without repeats.
pub fn validate_user(user: &User) -> Result<(), StoreError> {
    check_name("user name", &user.name)?;
    check_name("domain", &user.domain)?;
    check_u64("created_unix", user.created_unix)?;
    if checked_groups(&user.groups)? != user.groups {
        return Err(StoreError::InvalidInput(
            "groups must be sorted and without repeats".to_owned(),
        ));
    }
    Ok(())
}

/// A user's groups sorted and deduplicated, as they are stored.
///
/// # Errors
/// [`StoreError::InvalidInput`] for a name that is not a group name
/// ([`User::is_group_name`]).
pub(crate) fn checked_groups(groups: &[String]) -> Result<Vec<String>, StoreError> {
    User::sorted_groups(groups).map_err(|err| StoreError::InvalidInput(err.to_string()))
}

/// Checks a binding change before it is written (or queued for the
/// writer).
///
/// # Errors
/// [`StoreError::InvalidInput`], see [`validate_binding`].
pub fn validate_change(change: &BindingChange) -> Result<(), StoreError> {
    check_text("aor", change.aor().as_str(), false)?;
    check_key(change.key())?;
    match change {
        BindingChange::Upsert(binding) => check_binding_fields(binding),
        BindingChange::Remove { .. } => Ok(()),
    }
}

/// Checks a binding before it is written.
///
/// # Errors
/// [`StoreError::InvalidInput`] for an empty AOR, contact or key, control
/// characters (a Path entry may not contain a line break), overlong text,
/// more than [`MAX_PATH_ENTRIES`] Path entries, q above 1000, or times past
/// `i64::MAX`.
pub fn validate_binding(binding: &Binding) -> Result<(), StoreError> {
    check_text("aor", binding.aor.as_str(), false)?;
    check_key(&binding.key)?;
    check_binding_fields(binding)
}

/// Checks a change of the event state before it is written (or queued for
/// the writer).
///
/// # Errors
/// [`StoreError::InvalidInput`] for an empty key, AOR, event or dialog
/// identifier, control characters in header text, overlong text, a body
/// over [`MAX_BODY_LEN`], more than [`MAX_PATH_ENTRIES`] routes, or times
/// past `i64::MAX`.
pub fn validate_state_change(change: &StateChange) -> Result<(), StoreError> {
    match change {
        StateChange::PutSubscription(s) => check_subscription(s),
        StateChange::RemoveSubscription { id } | StateChange::RemoveMessage { id } => {
            check_text("id", id, false)
        }
        StateChange::PutPublication(p) => check_publication(p),
        StateChange::RemovePublication { etag } => check_text("etag", etag, false),
        StateChange::PutMessage(m) => check_message(m),
        StateChange::PutCallRecord(r) => check_call_record(r),
        StateChange::RemoveCallRecordsBefore { start_ms } => check_u64("start_ms", *start_ms),
        StateChange::PutDialog(d) => check_dialog(d),
        StateChange::RemoveDialog { id } => check_text("dialog id", id, false),
        StateChange::PutCallState { aor, dialog } => check_call_state(aor, dialog),
        // A kind of change this build does not know cannot be written.
        _ => Err(StoreError::InvalidInput(
            "a state change this store does not know".into(),
        )),
    }
}

fn check_subscription(s: &SubscriptionRecord) -> Result<(), StoreError> {
    for (what, value) in [
        ("subscription id", &s.id),
        ("event", &s.event),
        ("resource", &s.resource),
        ("watcher", &s.watcher),
        ("call-id", &s.call_id),
        ("local tag", &s.local_tag),
        ("remote tag", &s.remote_tag),
        ("remote target", &s.remote_target),
    ] {
        check_text(what, value, false)?;
    }
    check_routes(&s.route_set)?;
    check_u64("expires_unix", s.expires_unix)
}

/// The parties and the Call-ID come from peers: only what the store cannot
/// keep (control characters, overlong text, huge times) is refused.
fn check_call_record(r: &CallRecord) -> Result<(), StoreError> {
    check_text("call record id", &r.id, false)?;
    for (what, value) in [
        ("call-id", &r.call_id),
        ("caller", &r.caller),
        ("callee", &r.callee),
        ("dialled", &r.dialled),
        ("source", &r.source),
    ] {
        check_text(what, value, true)?;
    }
    check_optional(&[
        ("caller user", r.caller_user.as_deref()),
        ("routed number", r.routed_number.as_deref()),
        ("rule", r.rule.as_deref()),
        ("target", r.target.as_deref()),
        ("trunk", r.trunk.as_deref()),
        ("gateway", r.gateway.as_deref()),
    ])?;
    check_times(&[
        ("start_ms", Some(r.start_ms)),
        ("answer_ms", r.answer_ms),
        ("end_ms", r.end_ms),
    ])
}

/// Text that may be absent, or empty, but must be storable.
fn check_optional(fields: &[(&str, Option<&str>)]) -> Result<(), StoreError> {
    for (what, value) in fields {
        if let Some(value) = value {
            check_text(what, value, true)?;
        }
    }
    Ok(())
}

/// Times that may be absent but must fit SQLite's `i64`.
fn check_times(fields: &[(&str, Option<u64>)]) -> Result<(), StoreError> {
    for (what, value) in fields {
        if let Some(value) = value {
            check_u64(what, *value)?;
        }
    }
    Ok(())
}

/// A dialog's text comes from peers like a call record's; its key, tags
/// and Call-ID name it and may not be empty; a route per line.
fn check_call_state(aor: &Aor, d: &DialogEntry) -> Result<(), StoreError> {
    for (what, value) in [
        ("aor", aor.as_str()),
        ("dialog id", &d.id),
        ("call-id", &d.call_id),
        ("local identity", &d.local_identity),
        ("remote identity", &d.remote_identity),
    ] {
        check_text(what, value, false)?;
    }
    let reason = match &d.state {
        DialogState::Terminated { reason, .. } => reason.as_deref(),
        _ => None,
    };
    check_optional(&[
        ("local tag", d.local_tag.as_deref()),
        ("remote tag", d.remote_tag.as_deref()),
        ("reason", reason),
        ("local display", d.local_display.as_deref()),
        ("local target", d.local_target.as_deref()),
        ("remote display", d.remote_display.as_deref()),
        ("remote target", d.remote_target.as_deref()),
    ])?;
    check_u64("duration", d.duration.unwrap_or(0))
}

fn check_dialog(d: &DialogRecord) -> Result<(), StoreError> {
    for (what, value) in [
        ("dialog id", &d.id),
        ("call-id", &d.call_id),
        ("caller tag", &d.caller.tag),
        ("callee tag", &d.callee.tag),
    ] {
        check_text(what, value, false)?;
    }
    check_text("dialled", &d.dialled, true)?;
    check_party(&d.caller)?;
    check_party(&d.callee)?;
    check_routes(&d.route_set)?;
    check_optional(&[
        ("caller user", d.caller_user.as_deref()),
        ("routed number", d.routed_number.as_deref()),
        ("rule", d.rule.as_deref()),
        ("target", d.target.as_deref()),
        ("trunk", d.trunk.as_deref()),
        ("gateway", d.gateway.as_deref()),
        (
            "carrier call-id",
            d.carrier_leg.as_ref().map(|l| l.call_id.as_str()),
        ),
    ])?;
    check_times(&[
        ("start_ms", Some(d.start_ms)),
        ("answer_ms", d.answer_ms),
        ("updated_ms", Some(d.updated_ms)),
    ])
}

fn check_party(p: &DialogParty) -> Result<(), StoreError> {
    check_text("party uri", &p.uri, true)?;
    check_optional(&[
        ("display name", p.display.as_deref()),
        ("aor", p.aor.as_deref()),
        ("contact", p.contact.as_deref()),
    ])
}

/// A route set: bounded, one storable value per entry.
fn check_routes(routes: &[String]) -> Result<(), StoreError> {
    if routes.len() > MAX_PATH_ENTRIES {
        return Err(StoreError::InvalidInput(format!(
            "{} routes, at most {MAX_PATH_ENTRIES}",
            routes.len()
        )));
    }
    for route in routes {
        check_text("route", route, false)?;
    }
    Ok(())
}

fn check_publication(p: &PublicationRecord) -> Result<(), StoreError> {
    check_text("etag", &p.etag, false)?;
    check_text("aor", &p.aor, false)?;
    check_text("event", &p.event, false)?;
    check_text("content-type", &p.content_type, true)?;
    check_body(p.body.len())?;
    check_u64("expires_unix", p.expires_unix)
}

fn check_message(m: &StoredMessage) -> Result<(), StoreError> {
    check_text("message id", &m.id, false)?;
    check_text("aor", &m.aor, false)?;
    check_text("from", &m.from, false)?;
    check_text("to", &m.to, false)?;
    check_text("date", &m.date, true)?;
    check_text("content-type", &m.content_type, true)?;
    check_body(m.body.len())?;
    check_u64("received_unix", m.received_unix)
}

/// A body may hold any bytes (XML with line breaks, binary content), but
/// not without bound.
fn check_body(len: usize) -> Result<(), StoreError> {
    if len > MAX_BODY_LEN {
        return Err(StoreError::InvalidInput(format!(
            "body is {len} bytes long, at most {MAX_BODY_LEN}"
        )));
    }
    Ok(())
}

/// Everything of a binding but its AOR and key.
fn check_binding_fields(b: &Binding) -> Result<(), StoreError> {
    check_text("contact", &b.contact, false)?;
    check_text("contact parameters", &b.params, true)?;
    if b.contact.len() + b.params.len() > MAX_FIELD_LEN {
        return Err(StoreError::InvalidInput(format!(
            "contact with parameters is {} bytes long, at most {MAX_FIELD_LEN}",
            b.contact.len() + b.params.len()
        )));
    }
    if let Some(q) = b.q.filter(|q| *q > 1000) {
        return Err(StoreError::InvalidInput(format!("q {q} is above 1000")));
    }
    check_u64("expires_at", b.expires_at)?;
    check_u64("updated_at", b.updated_at)?;
    check_text("call-id", &b.call_id, true)?;
    if let Some(instance) = &b.instance {
        check_text("instance-id", instance, true)?;
    }
    if b.path.len() > MAX_PATH_ENTRIES {
        return Err(StoreError::InvalidInput(format!(
            "{} Path entries, at most {MAX_PATH_ENTRIES}",
            b.path.len()
        )));
    }
    for entry in &b.path {
        check_text("path entry", entry, false)?;
    }
    if let Some(agent) = &b.user_agent {
        check_text("user-agent", agent, true)?;
    }
    Ok(())
}

/// The key is stored printed (`contact:<uri>`, ...): its text must be
/// storable.
fn check_key(key: &BindingKey) -> Result<(), StoreError> {
    match key {
        BindingKey::Contact(uri) => check_text("contact key", uri, false),
        BindingKey::Instance(instance) | BindingKey::Flow { instance, .. } => {
            check_text("instance key", instance, false)
        }
    }
}

/// A name or domain: non-empty, no control characters, no whitespace, no
/// `:` in a user name (it is hashed as `name:realm:password`), bounded
/// length.
fn check_name(what: &str, value: &str) -> Result<(), StoreError> {
    check_text(what, value, false)?;
    if value.contains(':') && what == "user name" {
        return Err(StoreError::InvalidInput(format!(
            "{what} may not contain ':'"
        )));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(StoreError::InvalidInput(format!(
            "{what} may not contain whitespace"
        )));
    }
    Ok(())
}

fn check_text(what: &str, value: &str, may_be_empty: bool) -> Result<(), StoreError> {
    if value.is_empty() && !may_be_empty {
        return Err(StoreError::InvalidInput(format!("{what} is empty")));
    }
    if value.len() > MAX_FIELD_LEN {
        return Err(StoreError::InvalidInput(format!(
            "{what} is {} bytes long, at most {MAX_FIELD_LEN}",
            value.len()
        )));
    }
    if has_control(value) {
        return Err(StoreError::InvalidInput(format!(
            "{what} contains a control character"
        )));
    }
    Ok(())
}

/// Whether `value` holds a control character; ASCII text (nearly every
/// value) is checked byte by byte, without decoding characters: every
/// field of every binding written passes here, twice.
fn has_control(value: &str) -> bool {
    if value.is_ascii() {
        value.bytes().any(|b| b.is_ascii_control())
    } else {
        value.chars().any(char::is_control)
    }
}

fn check_u64(what: &str, value: u64) -> Result<(), StoreError> {
    if i64::try_from(value).is_err() {
        return Err(StoreError::InvalidInput(format!(
            "{what} {value} is too large"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

    use switchboard_server::registrar::RemoveReason;

    use super::*;

    #[test]
    fn validation() {
        let user = User::with_password("alice", "example.com", "pw", 1);
        assert!(validate_user(&user).is_ok());
        for (name, domain) in [
            ("", "d"),
            ("a", ""),
            ("a:b", "d"),
            ("a b", "d"),
            ("a\n", "d"),
        ] {
            let bad = User::with_password(name, domain, "pw", 1);
            assert!(validate_user(&bad).is_err(), "{name:?} {domain:?}");
        }
        let change = BindingChange::Remove {
            aor: Aor::new("alice", "example.com").unwrap(),
            key: BindingKey::Contact(String::new()),
            reason: RemoveReason::Unregistered,
        };
        assert!(validate_change(&change).is_err());
    }
}
