//! `/api/v1/users`: list, show, create, change and remove users. The
//! store is written off the driver (durable before the answer), then the
//! service reads the users again at once, so that a phone registers with
//! the new password right after the answer.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use switchboard_store::{BindingStore, Ha1Set, User, UserWrite};

use crate::paging::{page_limit, page_response};
use crate::routes::{AdminState, wrong_answer};
use crate::store_access::with_store;
use crate::{
    AdminAnswer, AdminQuery, Group, NewUser, Problem, UserEntry, UserFilter, UserPatch,
    UsersRemoved, user_name_problem,
};

/// `GET /users`' query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UsersParams {
    /// Most users in the page (1 to 10,000; default 1000).
    limit: Option<usize>,
    /// The last user of the page before (`alice@example.com`).
    after: Option<String>,
}

/// A JSON body, or the problem its rejection is (400 malformed, 415 not
/// JSON, 422 unknown or missing fields).
pub(crate) fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, Problem> {
    body.map(|Json(value)| value)
        .map_err(|rejection| Problem::new(rejection.status(), rejection.body_text()))
}

/// The user a path names: `alice` (every domain) or `alice@example.com`.
pub(crate) fn path_user(text: &str) -> Result<UserFilter, Problem> {
    UserFilter::parse(text).ok_or_else(|| {
        Problem::bad_request(format!(
            "user {text:?}: a user name (alice) or an address (alice@example.com)"
        ))
    })
}

/// The dial plan's groups, from the driver.
async fn plan_groups(state: &AdminState) -> Result<Vec<Group>, Problem> {
    match state.driver.ask(AdminQuery::Groups).await? {
        AdminAnswer::Groups(groups) => Ok(groups),
        other => Err(wrong_answer(&other)),
    }
}

/// The service reads the users again; answers once it holds them.
async fn reload_users(state: &AdminState) -> Result<(), Problem> {
    match state.driver.ask(AdminQuery::ReloadUsers).await? {
        AdminAnswer::UsersReloaded(_) => Ok(()),
        other => Err(wrong_answer(&other)),
    }
}

fn entries(users: &[User], groups: &[Group]) -> Vec<UserEntry> {
    users
        .iter()
        .map(|u| UserEntry::new(&u.name, &u.domain, &u.groups, groups))
        .collect()
}

/// The users `filter` names, or 404.
async fn named(state: &AdminState, filter: &UserFilter) -> Result<Vec<User>, Problem> {
    let (name, domain) = (filter.user().to_owned(), filter.domain().map(str::to_owned));
    let users = with_store(&state.tokens, "the users cannot be read", move |store| {
        store.users_named(&name, domain.as_deref())
    })
    .await?;
    if users.is_empty() {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("no user {}", describe(filter)),
        ));
    }
    Ok(users)
}

fn describe(filter: &UserFilter) -> String {
    match filter.domain() {
        Some(domain) => format!("{}@{domain}", filter.user()),
        None => filter.user().to_owned(),
    }
}

/// The groups asked for, sorted and once each, or 422 for a name that
/// is not a group name.
fn check_groups(asked: Option<&[String]>) -> Result<Option<Vec<String>>, Problem> {
    asked
        .map(User::sorted_groups)
        .transpose()
        .map_err(|err| Problem::unprocessable(err.to_string()))
}

fn check_password(password: &str) -> Result<(), Problem> {
    if password.is_empty() {
        return Err(Problem::unprocessable("the password is empty"));
    }
    if password.chars().any(char::is_control) {
        return Err(Problem::unprocessable(
            "the password holds control characters",
        ));
    }
    Ok(())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `GET /api/v1/users`: a page in (domain, name) order.
pub(crate) async fn list(
    State(state): State<AdminState>,
    params: Result<Query<UsersParams>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(params) = params.map_err(|e| Problem::bad_request(e.body_text()))?;
    let limit = page_limit(params.limit)?;
    let after = match params.after.as_deref() {
        None => None,
        Some(text) => {
            let filter = path_user(text)?;
            let domain = filter.domain().ok_or_else(|| {
                Problem::bad_request(format!("after {text:?}: the last user as user@domain"))
            })?;
            Some((domain.to_owned(), filter.user().to_owned()))
        }
    };
    // One more than asked: whether there is a next page.
    let mut users = with_store(&state.tokens, "the users cannot be read", move |store| {
        let after = after.as_ref().map(|(d, n)| (d.as_str(), n.as_str()));
        store.users_page(after, limit + 1)
    })
    .await?;
    let more = users.len() > limit;
    users.truncate(limit);
    let next = users
        .last()
        .filter(|_| more)
        .map(|u| format!("{}@{}", u.name, u.domain));
    let groups = plan_groups(&state).await?;
    Ok(page_response(
        &entries(&users, &groups),
        "/api/v1/users",
        limit,
        &[],
        next.as_deref(),
    ))
}

/// `GET /api/v1/users/{user}`: the user in each domain it is in.
pub(crate) async fn show(
    State(state): State<AdminState>,
    Path(user): Path<String>,
) -> Result<Response, Problem> {
    let users = named(&state, &path_user(&user)?).await?;
    let groups = plan_groups(&state).await?;
    Ok(Json(entries(&users, &groups)).into_response())
}

/// `POST /api/v1/users`: 201 with the users created (one per domain).
pub(crate) async fn create(
    State(state): State<AdminState>,
    new: Result<Json<NewUser>, JsonRejection>,
) -> Result<Response, Problem> {
    let new = body(new)?;
    if let Some(why) = user_name_problem(&new.user) {
        return Err(Problem::unprocessable(why));
    }
    check_password(&new.password)?;
    let served = &state.info.domains;
    let domains: Vec<String> = match new.domain.as_deref() {
        None => served.clone(),
        Some(domain) => vec![
            served
                .iter()
                .find(|d| d.eq_ignore_ascii_case(domain))
                .cloned()
                .ok_or_else(|| {
                    Problem::unprocessable(format!(
                        "domain {domain:?} is not served (served: {})",
                        served.join(", ")
                    ))
                })?,
        ],
    };
    if domains.is_empty() {
        return Err(Problem::unprocessable("the server serves no domain"));
    }
    let stored_groups = check_groups(new.groups.as_deref())?;
    let groups = plan_groups(&state).await?;
    let now = unix_now();
    let users: Vec<User> = domains
        .iter()
        .map(|d| User {
            groups: stored_groups.clone().unwrap_or_default(),
            ..User::with_password(&new.user, d, &new.password, now)
        })
        .collect();
    let writes = users
        .iter()
        .cloned()
        .map(UserWrite::Add)
        .collect::<Vec<_>>();
    let written = with_store(&state.tokens, "the user cannot be stored", move |store| {
        store.write_users(&writes)
    })
    .await;
    match written {
        Ok(()) => {}
        // A retry of a create that was done (same user, same password,
        // the same groups when given): nothing changes, 200.
        Err(conflict) if conflict.status == StatusCode::CONFLICT.as_u16() => {
            return match same_users(&state, &users, stored_groups.is_some()).await? {
                Some(stored) => Ok(Json(entries(&stored, &groups)).into_response()),
                None => Err(conflict),
            };
        }
        Err(problem) => return Err(problem),
    }
    reload_users(&state).await?;
    Ok((StatusCode::CREATED, Json(entries(&users, &groups))).into_response())
}

/// The stored users, when every one of `users` is stored with the same
/// password (and the same groups, when `compare_groups`).
async fn same_users(
    state: &AdminState,
    users: &[User],
    compare_groups: bool,
) -> Result<Option<Vec<User>>, Problem> {
    let wanted = users.to_vec();
    with_store(&state.tokens, "the users cannot be read", move |store| {
        let mut found = Vec::with_capacity(wanted.len());
        for user in &wanted {
            let stored = store.users_named(&user.name, Some(&user.domain))?;
            let same = stored.into_iter().find(|s| {
                s.domain == user.domain
                    && s.ha1 == user.ha1
                    && (!compare_groups || s.groups == user.groups)
            });
            match same {
                Some(same) => found.push(same),
                None => return Ok(None),
            }
        }
        Ok(Some(found))
    })
    .await
}

/// `PATCH /api/v1/users/{user}`: a new password, new stored groups, or
/// both, in every domain named, in one transaction; the service reads
/// the users again before the answer, so the next call is decided with
/// them.
pub(crate) async fn change(
    State(state): State<AdminState>,
    Path(user): Path<String>,
    patch: Result<Json<UserPatch>, JsonRejection>,
) -> Result<Response, Problem> {
    let filter = path_user(&user)?;
    let patch = body(patch)?;
    if patch.password.is_none() && patch.groups.is_none() {
        return Err(Problem::unprocessable(
            "nothing to change: give password or groups",
        ));
    }
    if let Some(password) = &patch.password {
        check_password(password)?;
    }
    let new_groups = check_groups(patch.groups.as_deref())?;
    let users = named(&state, &filter).await?;
    let mut writes = Vec::new();
    for u in &users {
        let (name, domain) = (u.name.clone(), u.domain.clone());
        if let Some(password) = &patch.password {
            writes.push(UserWrite::SetHa1 {
                ha1: Ha1Set::from_password(&name, &domain, password),
                name: name.clone(),
                domain: domain.clone(),
            });
        }
        if let Some(groups) = &new_groups {
            writes.push(UserWrite::SetGroups {
                name,
                domain,
                groups: groups.clone(),
            });
        }
    }
    with_store(&state.tokens, "the user cannot be stored", move |store| {
        store.write_users(&writes)
    })
    .await?;
    reload_users(&state).await?;
    let users = named(&state, &filter).await?;
    let groups = plan_groups(&state).await?;
    Ok(Json(entries(&users, &groups)).into_response())
}

/// `DELETE /api/v1/users/{user}`: the users and their bindings, in the
/// store in one transaction, then in the service.
pub(crate) async fn remove(
    State(state): State<AdminState>,
    Path(user): Path<String>,
) -> Result<Response, Problem> {
    let filter = path_user(&user)?;
    let users = named(&state, &filter).await?;
    let writes: Vec<UserWrite> = users
        .iter()
        .map(|u| UserWrite::Remove {
            name: u.name.clone(),
            domain: u.domain.clone(),
        })
        .collect();
    with_store(&state.tokens, "the user cannot be removed", move |store| {
        store.write_users(&writes)
    })
    .await?;
    reload_users(&state).await?;
    let mut bindings_removed = 0;
    for u in &users {
        let aor = UserFilter::parse(&format!("{}@{}", u.name, u.domain))
            .ok_or_else(|| Problem::internal("a stored user is not an address"))?;
        bindings_removed += remove_bindings(&state, aor, None).await?;
    }
    let groups = plan_groups(&state).await?;
    Ok(Json(UsersRemoved {
        removed: entries(&users, &groups),
        bindings_removed,
    })
    .into_response())
}

/// Removes the bindings of `user` (of `contact` only, when given) from the
/// registrar, then from the store; how many.
pub(crate) async fn remove_bindings(
    state: &AdminState,
    user: UserFilter,
    contact: Option<String>,
) -> Result<usize, Problem> {
    let changes = match state
        .driver
        .ask(AdminQuery::RemoveRegistrations { user, contact })
        .await?
    {
        AdminAnswer::RegistrationsRemoved(changes) => changes,
        other => return Err(wrong_answer(&other)),
    };
    let removed = changes.len();
    if removed > 0 {
        with_store(
            &state.tokens,
            "the bindings cannot be removed from the store",
            move |store| store.apply(&changes),
        )
        .await?;
    }
    Ok(removed)
}
