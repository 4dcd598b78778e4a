//! Store reads and writes of the API, off the driver and off the HTTP
//! task (either back end blocks): on a blocking thread, through the store
//! handle the tokens are read with.

use std::sync::Arc;

use axum::http::StatusCode;
use switchboard_store::{AnyStore, StoreError};

use crate::Problem;
use crate::auth::Tokens;

/// Runs `work` on the store on a blocking thread. Its error becomes the
/// problem the client is owed: 409 for a conflict, 404 for a missing
/// thing, 422 for a value refused, 503 (`failed` as the detail) for the
/// store's own failure.
pub(crate) async fn with_store<T: Send + 'static>(
    tokens: &Tokens,
    failed: &'static str,
    work: impl FnOnce(&AnyStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Problem> {
    let store = Arc::clone(tokens.store());
    match tokio::task::spawn_blocking(move || work(&store)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(StoreError::Conflict(what))) => Err(Problem::new(
            StatusCode::CONFLICT,
            format!("{what} exists already"),
        )),
        Ok(Err(StoreError::NotFound(what))) => {
            Err(Problem::new(StatusCode::NOT_FOUND, format!("no {what}")))
        }
        Ok(Err(StoreError::InvalidInput(why))) => Err(Problem::unprocessable(why)),
        Ok(Err(error)) => {
            tracing::warn!(%error, "admin: {failed}");
            Err(Problem::unavailable(failed))
        }
        Err(error) => {
            tracing::warn!(%error, "admin: store work did not finish: {failed}");
            Err(Problem::unavailable(failed))
        }
    }
}
