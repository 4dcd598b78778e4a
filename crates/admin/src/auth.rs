//! Bearer tokens checked against the store's hashes, kept in memory.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use switchboard_store::{AnyStore, StoreError};

use crate::Problem;
use crate::token::hash_presented;

/// How long the hashes in memory are trusted: a token removed with
/// `switchboard token remove` stops working within this time.
const REFRESH: Duration = Duration::from_secs(5);

/// The tokens' hashes as last read, and when.
#[derive(Debug)]
struct Known {
    hashes: HashSet<String>,
    read_at: Instant,
}

/// The valid tokens: read from the store at start, and again on a miss
/// (a token created while the server runs works at once) or when the
/// copy is older than a few seconds (a removed one stops working).
#[derive(Debug)]
pub struct Tokens {
    store: Arc<AnyStore>,
    known: Mutex<Known>,
}

impl Tokens {
    /// Reads the tokens from `store` (its own connection: reads run on a
    /// blocking thread).
    ///
    /// # Errors
    /// The store's.
    pub fn load(store: Arc<AnyStore>) -> Result<Self, StoreError> {
        let hashes = read_hashes(&store)?;
        Ok(Self {
            store,
            known: Mutex::new(Known {
                hashes,
                read_at: Instant::now(),
            }),
        })
    }

    /// How many tokens are known.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().hashes.len()
    }

    /// Whether no token is known (the API then answers only 401).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The store the tokens are read from (its connection also serves
    /// other reads off the driver: the call records).
    pub(crate) fn store(&self) -> &Arc<AnyStore> {
        &self.store
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `presented` is a valid token.
    async fn accepts(&self, presented: &str) -> Result<bool, Problem> {
        let hash = hash_presented(presented);
        {
            let known = self.lock();
            if known.hashes.contains(&hash) && known.read_at.elapsed() < REFRESH {
                return Ok(true);
            }
        }
        let store = Arc::clone(&self.store);
        let read = tokio::task::spawn_blocking(move || read_hashes(&store)).await;
        let hashes = match read {
            Ok(Ok(hashes)) => hashes,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "admin: tokens not read from the store");
                return Err(Problem::unavailable("the token store cannot be read"));
            }
            Err(e) => {
                tracing::warn!(error = %e, "admin: token read did not finish");
                return Err(Problem::unavailable("the token store cannot be read"));
            }
        };
        let accepted = hashes.contains(&hash);
        *self.lock() = Known {
            hashes,
            read_at: Instant::now(),
        };
        Ok(accepted)
    }
}

fn read_hashes(store: &AnyStore) -> Result<HashSet<String>, StoreError> {
    Ok(store
        .admin_tokens()?
        .into_iter()
        .map(|token| token.hash)
        .collect())
}

/// The middleware in front of every `/api/v1` route: 401 with a problem
/// document unless `Authorization: Bearer <token>` names a valid token.
pub(crate) async fn require_token(
    State(tokens): State<Arc<Tokens>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().ok().and_then(bearer_token));
    let token = match presented {
        None => {
            return Problem::unauthorized(
                "this API needs `Authorization: Bearer <token>` (switchboard token create NAME)",
            )
            .into_response();
        }
        Some(None) => {
            return Problem::unauthorized("the Authorization header is not `Bearer <token>`")
                .into_response();
        }
        Some(Some(token)) => token.to_owned(),
    };
    match tokens.accepts(&token).await {
        Ok(true) => next.run(request).await,
        Ok(false) => {
            Problem::unauthorized("the token is not valid (unknown or removed)").into_response()
        }
        Err(problem) => problem.into_response(),
    }
}

/// The token of `Bearer <token>` (the scheme without case, RFC 6750 §2.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
