//! Registrations removed by hand, presence, and the dial plan's reload and
//! dry run through the API.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::routes::{AdminState, wrong_answer};
use crate::users::{body, path_user, remove_bindings};
use crate::{
    AdminAnswer, AdminQuery, PlanReload, Presence, Problem, RegistrationsRemoved, RouteTest,
    UserFilter,
};

/// `DELETE /registrations/{user}`'s query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnregisterParams {
    /// Only the binding of this contact URI.
    contact: Option<String>,
}

/// `DELETE /api/v1/registrations/{user}`: every binding of the user, or
/// the one of `?contact=`; stored before the answer. 404 when there is
/// none.
pub(crate) async fn unregister(
    State(state): State<AdminState>,
    Path(user): Path<String>,
    params: Result<Query<UnregisterParams>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(params) = params.map_err(|e| Problem::bad_request(e.body_text()))?;
    let filter = path_user(&user)?;
    if params.contact.as_deref().is_some_and(str::is_empty) {
        return Err(Problem::bad_request("contact is empty"));
    }
    let removed = remove_bindings(&state, filter, params.contact.clone()).await?;
    if removed == 0 {
        let which = params
            .contact
            .map(|c| format!(" with contact {c}"))
            .unwrap_or_default();
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("{user} has no binding{which}"),
        ));
    }
    Ok(Json(RegistrationsRemoved { removed }).into_response())
}

async fn ask_presence(
    state: &AdminState,
    user: Option<UserFilter>,
) -> Result<Vec<Presence>, Problem> {
    match state.driver.ask(AdminQuery::Presence { user }).await? {
        AdminAnswer::Presence(list) => Ok(list),
        other => Err(wrong_answer(&other)),
    }
}

/// `GET /api/v1/presence`: every presentity with a publication.
pub(crate) async fn presence(State(state): State<AdminState>) -> Result<Response, Problem> {
    Ok(Json(ask_presence(&state, None).await?).into_response())
}

/// `GET /api/v1/presence/{user}`: that user's (in each domain); 404 when
/// it published nothing.
pub(crate) async fn presence_of(
    State(state): State<AdminState>,
    Path(user): Path<String>,
) -> Result<Response, Problem> {
    let list = ask_presence(&state, Some(path_user(&user)?)).await?;
    if list.is_empty() {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("{user} has published no presence"),
        ));
    }
    Ok(Json(list).into_response())
}

/// `POST /api/v1/routes/reload`: the plan read and checked again as on
/// SIGHUP; 422 naming the file and line when it does not load (the
/// running plan stays).
pub(crate) async fn reload_plan(State(state): State<AdminState>) -> Result<Response, Problem> {
    match state.driver.ask(AdminQuery::ReloadPlan).await? {
        AdminAnswer::PlanReloaded(loaded @ PlanReload::Loaded { .. }) => {
            Ok(Json(loaded).into_response())
        }
        AdminAnswer::PlanReloaded(PlanReload::Refused { detail }) => Err(Problem::unprocessable(
            format!("the dial plan does not load, the running plan stays: {detail}"),
        )),
        other => Err(wrong_answer(&other)),
    }
}

/// `POST /api/v1/routes/test`: the plan in force decides the call of the
/// body, as `switchboard route test` does.
pub(crate) async fn test_route(
    State(state): State<AdminState>,
    call: Result<Json<RouteTest>, JsonRejection>,
) -> Result<Response, Problem> {
    let call = body(call)?;
    if call.number.trim().is_empty() {
        return Err(Problem::unprocessable("number is empty"));
    }
    if call.from.trim().is_empty() {
        return Err(Problem::unprocessable("from is empty"));
    }
    match state.driver.ask(AdminQuery::RouteTest(call)).await? {
        AdminAnswer::RouteTested(tested) => Ok(Json(tested).into_response()),
        AdminAnswer::RouteTimeRefused(time) => Err(Problem::unprocessable(format!(
            "time {time:?} is not a time like 2026-12-07T10:00:00 (local to the plan's zone) or with an offset"
        ))),
        other => Err(wrong_answer(&other)),
    }
}
