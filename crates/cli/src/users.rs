//! `switchboard user ...` and `switchboard registrations`: the data
//! directory's users and bindings, from the command line. Only HA1 values
//! are stored (`H(user:realm:password)` with MD5, SHA-256 and
//! SHA-512/256); the password itself never reaches the disk.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use switchboard_proto::header::format_qvalue;
use switchboard_store::{AnyStore, BindingStore, Ha1Set, StoreError, User, UserStore, UserWrite};

use crate::serve::{probe_host, unix_now};
use crate::store::open;
use crate::{EXIT_FAILURE, Error, StoreArgs};

/// The domains a user command works on: the ones given, or the server's
/// defaults (`localhost`, `127.0.0.1` and this host's address), so that a
/// user added with no `--domain` can register with a server started with
/// no configuration.
fn domains(given: &[String]) -> Vec<String> {
    if given.is_empty() {
        let host = probe_host();
        switchboard_config::default_domains(&switchboard_config::default_listeners(&host), &host)
    } else {
        given.to_vec()
    }
}

pub(crate) fn store_err(what: impl Into<String>) -> impl FnOnce(StoreError) -> Error {
    let what = what.into();
    move |source| Error::Store { what, source }
}

/// `groups` sorted and once each, or why a name is not a group name.
fn checked_groups<S: AsRef<str>>(
    groups: impl IntoIterator<Item = S>,
) -> Result<Vec<String>, Error> {
    User::sorted_groups(groups).map_err(|bad| Error::Invalid(bad.to_string()))
}

/// `user add NAME --password PW [--domain D]... [--group G]...`
pub(crate) fn add(
    data: &StoreArgs,
    name: &str,
    password: &str,
    given: &[String],
    groups: &[String],
    out: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let groups = checked_groups(groups)?;
    let store = open(data)?;
    let now = unix_now();
    for domain in domains(given) {
        let user = User {
            groups: groups.clone(),
            ..User::with_password(name, &domain, password, now)
        };
        store
            .add_user(&user)
            .map_err(store_err(format!("cannot add {name}@{domain}")))?;
        writeln!(out, "added {name}@{domain}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `user passwd NAME --password PW [--domain D]...`: every domain the user
/// is in (of those named).
pub(crate) fn passwd(
    data: &StoreArgs,
    name: &str,
    password: &str,
    given: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let store = open(data)?;
    let mut changed = 0;
    for domain in in_domains(&store, name, given)? {
        let ha1 = Ha1Set::from_password(name, &domain, password);
        store
            .set_ha1(name, &domain, &ha1)
            .map_err(store_err(format!(
                "cannot change the password of {name}@{domain}"
            )))?;
        writeln!(out, "password changed: {name}@{domain}")?;
        changed += 1;
    }
    if changed == 0 {
        writeln!(err, "error: no user {name}")?;
        return Ok(ExitCode::from(EXIT_FAILURE));
    }
    Ok(ExitCode::SUCCESS)
}

/// `user groups NAME staff,sales [--domain D]...`: the stored groups
/// replaced in every domain the user is in (of those named); a running
/// server reads them within a second.
pub(crate) fn groups(
    data: &StoreArgs,
    name: &str,
    groups: &str,
    given: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let groups = checked_groups(groups.split(',').map(str::trim).filter(|g| !g.is_empty()))?;
    let store = open(data)?;
    let writes: Vec<UserWrite> = in_domains(&store, name, given)?
        .into_iter()
        .map(|domain| UserWrite::SetGroups {
            name: name.to_owned(),
            domain,
            groups: groups.clone(),
        })
        .collect();
    if writes.is_empty() {
        writeln!(err, "error: no user {name}")?;
        return Ok(ExitCode::from(EXIT_FAILURE));
    }
    store
        .write_users(&writes)
        .map_err(store_err(format!("cannot change the groups of {name}")))?;
    for write in &writes {
        if let UserWrite::SetGroups { domain, .. } = write {
            writeln!(out, "groups of {name}@{domain}: {}", groups.join(","))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The domains `name` exists in: among `given`, or any.
fn in_domains(store: &AnyStore, name: &str, given: &[String]) -> Result<Vec<String>, Error> {
    if given.is_empty() {
        let all = store
            .list_users(None)
            .map_err(store_err("cannot list users"))?;
        Ok(all
            .into_iter()
            .filter(|u| u.name == name)
            .map(|u| u.domain)
            .collect())
    } else {
        let mut found = Vec::new();
        for d in given {
            if store
                .get_user(name, d)
                .map_err(store_err("cannot read users"))?
                .is_some()
            {
                found.push(d.clone());
            }
        }
        Ok(found)
    }
}

/// `user remove NAME [--domain D]...`
pub(crate) fn remove(
    data: &StoreArgs,
    name: &str,
    given: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let store = open(data)?;
    let mut removed = 0;
    for domain in in_domains(&store, name, given)? {
        store
            .remove_user(name, &domain)
            .map_err(store_err(format!("cannot remove {name}@{domain}")))?;
        writeln!(out, "removed {name}@{domain}")?;
        removed += 1;
    }
    if removed == 0 {
        writeln!(err, "error: no user {name}")?;
        return Ok(ExitCode::from(EXIT_FAILURE));
    }
    Ok(ExitCode::SUCCESS)
}

/// `user list [--domain D]`: `name@domain` per line.
pub(crate) fn list(
    data: &StoreArgs,
    domain: Option<&str>,
    out: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let store = open(data)?;
    let users = store
        .list_users(domain)
        .map_err(store_err("cannot list users"))?;
    for u in &users {
        if u.groups.is_empty() {
            writeln!(out, "{}@{}", u.name, u.domain)?;
        } else {
            writeln!(out, "{}@{}\t{}", u.name, u.domain, u.groups.join(","))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `user import FILE.csv [--domain D]...`: `name,password` per line (blank
/// lines and lines starting with `#` skipped), all in one transaction.
pub(crate) fn import(
    data: &StoreArgs,
    file: &PathBuf,
    given: &[String],
    out: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let started = Instant::now();
    let text = std::fs::read_to_string(file).map_err(|source| Error::Read {
        path: file.display().to_string(),
        source,
    })?;
    let domains = domains(given);
    let now = unix_now();
    let mut users = Vec::new();
    let mut names = 0usize;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, password)) = line.split_once(',') else {
            return Err(Error::Invalid(format!(
                "{} line {}: expected name,password",
                file.display(),
                i + 1
            )));
        };
        let (name, password) = (name.trim(), password.trim());
        if name.is_empty() || password.is_empty() {
            return Err(Error::Invalid(format!(
                "{} line {}: empty name or password",
                file.display(),
                i + 1
            )));
        }
        names += 1;
        for d in &domains {
            users.push(User::with_password(name, d, password, now));
        }
    }
    let store = open(data)?;
    let summary = store
        .import_users(&users)
        .map_err(store_err(format!("cannot import {}", file.display())))?;
    writeln!(
        out,
        "imported {names} users into {} ({}; {} added, {} updated) in {:.2} s",
        domains.join(", "),
        if domains.len() == 1 {
            "1 domain".to_owned()
        } else {
            format!("{} domains", domains.len())
        },
        summary.added,
        summary.updated,
        started.elapsed().as_secs_f64()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `registrations`: one line per live binding: AOR, contact, seconds left,
/// q, and the flow the REGISTER came from.
pub(crate) fn registrations(data: &StoreArgs, out: &mut dyn Write) -> Result<ExitCode, Error> {
    let store = open(data)?;
    let now = unix_now();
    let all = store
        .load_all()
        .map_err(store_err("cannot read the bindings"))?;
    for b in all.iter().filter(|b| !b.is_expired(now)) {
        writeln!(
            out,
            "sip:{} <{}> expires={} q={} source={}:{}",
            b.aor,
            b.contact,
            b.remaining(now),
            format_qvalue(b.q_or_default()),
            b.source.transport.as_lowercase_token().to_owned(),
            b.source.remote,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
