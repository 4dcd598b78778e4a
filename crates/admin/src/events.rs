//! `GET /api/v1/events`: the dashboard's live feed as server-sent events.
//! A `snapshot` event at once, then another whenever the snapshot
//! changed, read from the driver at most twice a second (the snapshot
//! holds no clock, so an idle server sends nothing but keep-alives). The
//! stream ends when the server stops.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

use crate::{AdminAnswer, AdminQuery, Driver, Problem};

/// How often the driver is asked whether something changed.
const PUSH_INTERVAL: Duration = Duration::from_millis(500);

/// A comment line this often keeps proxies and the page's reader from
/// taking a quiet stream for a dead one.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One page's feed.
#[derive(Debug)]
struct Feed {
    driver: Driver,
    /// True once the server stops (the stream then ends).
    stopping: watch::Receiver<bool>,
    /// The snapshot to send first.
    first: Option<String>,
    /// The snapshot sent last, as JSON.
    last: String,
}

/// The stream for one page: fails with a problem document when the
/// driver cannot give the first snapshot.
pub(crate) async fn stream(
    driver: Driver,
    stopping: &Arc<watch::Sender<bool>>,
) -> Result<Response, Problem> {
    let first = snapshot_json(&driver).await?;
    let feed = Feed {
        driver,
        stopping: stopping.subscribe(),
        first: Some(first),
        last: String::new(),
    };
    let events = futures_util::stream::unfold(feed, next_event);
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

/// The next event: the first snapshot, then each changed one.
async fn next_event(mut feed: Feed) -> Option<(Result<Event, Infallible>, Feed)> {
    if let Some(first) = feed.first.take() {
        let event = snapshot_event(&first);
        feed.last = first;
        return Some((Ok(event), feed));
    }
    loop {
        tokio::select! {
            () = tokio::time::sleep(PUSH_INTERVAL) => {}
            // Stopping, or the router (and its sender) gone.
            _ = feed.stopping.changed() => return None,
        }
        if *feed.stopping.borrow() {
            return None;
        }
        // A driver that no longer answers is a server stopping.
        let body = snapshot_json(&feed.driver).await.ok()?;
        if body != feed.last {
            let event = snapshot_event(&body);
            feed.last = body;
            return Some((Ok(event), feed));
        }
    }
}

/// The driver's snapshot as JSON.
async fn snapshot_json(driver: &Driver) -> Result<String, Problem> {
    match driver.ask(AdminQuery::Dashboard).await? {
        AdminAnswer::Dashboard(snapshot) => serde_json::to_string(&snapshot).map_err(|error| {
            tracing::error!(%error, "admin: dashboard snapshot not serialised");
            Problem::internal("the snapshot cannot be written")
        }),
        other => Err(crate::routes::wrong_answer(&other)),
    }
}

/// `event: snapshot` with the server's clock, so that the page's timers
/// count from the server's instants whatever its own clock says.
fn snapshot_event(snapshot: &str) -> Event {
    let server_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Event::default()
        .event("snapshot")
        .data(format!("{{\"server_ms\":{server_ms},\"view\":{snapshot}}}"))
}
