//! `GET /api/v1/events`: the dashboard's live feed as server-sent events.
//! A `snapshot` event at once, then another whenever the snapshot
//! changed. One poller, shared by every open page and running only while
//! one is open, asks the driver twice a second; the snapshot holds no
//! clock, so an idle server sends nothing but keep-alives. The streams
//! end when the server stops.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// The snapshots the open pages share.
#[derive(Debug)]
pub(crate) struct LiveFeed {
    driver: Driver,
    /// The latest snapshot as JSON; `None` once the driver stopped
    /// answering. Each page holds a receiver.
    latest: watch::Sender<Option<Arc<str>>>,
    /// Whether the poller runs.
    polling: AtomicBool,
    /// True once the listener stops.
    stopping: Arc<watch::Sender<bool>>,
}

/// One page's stream.
#[derive(Debug)]
struct Page {
    latest: watch::Receiver<Option<Arc<str>>>,
    stopping: watch::Receiver<bool>,
    /// The snapshot to send first.
    first: Option<Arc<str>>,
    /// The snapshot sent last.
    last: Arc<str>,
}

impl LiveFeed {
    /// The feed of the snapshots `driver` answers, ended by `stopping`.
    pub(crate) fn new(driver: Driver, stopping: Arc<watch::Sender<bool>>) -> Arc<Self> {
        Arc::new(Self {
            driver,
            latest: watch::channel(None).0,
            polling: AtomicBool::new(false),
            stopping,
        })
    }

    /// The stream for one page: fails with a problem document when the
    /// driver cannot give the first snapshot.
    pub(crate) async fn stream(self: &Arc<Self>) -> Result<Response, Problem> {
        let first: Arc<str> = snapshot_json(&self.driver).await?.into();
        let mut latest = self.latest.subscribe();
        latest.mark_unchanged();
        self.ensure_polling();
        let page = Page {
            latest,
            stopping: self.stopping.subscribe(),
            first: Some(first),
            last: Arc::from(""),
        };
        let events = futures_util::stream::unfold(page, next_event);
        Ok(Sse::new(events)
            .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
            .into_response())
    }

    fn ensure_polling(self: &Arc<Self>) {
        if !self.polling.swap(true, Ordering::SeqCst) {
            tokio::spawn(Arc::clone(self).poll());
        }
    }

    /// Asks the driver twice a second while a page listens; publishes
    /// each snapshot that differs from the latest.
    async fn poll(self: Arc<Self>) {
        let mut stopping = self.stopping.subscribe();
        loop {
            tokio::select! {
                () = tokio::time::sleep(PUSH_INTERVAL) => {}
                _ = stopping.changed() => {}
            }
            if *stopping.borrow() {
                self.polling.store(false, Ordering::SeqCst);
                return;
            }
            if self.latest.receiver_count() == 0 {
                self.polling.store(false, Ordering::SeqCst);
                // A page that came meanwhile found the flag still set:
                // this poller keeps going for it.
                if self.latest.receiver_count() == 0 || self.polling.swap(true, Ordering::SeqCst) {
                    return;
                }
            }
            let Ok(body) = snapshot_json(&self.driver).await else {
                // The server is stopping: the pages' streams end.
                self.latest.send_replace(None);
                self.polling.store(false, Ordering::SeqCst);
                return;
            };
            self.latest.send_if_modified(|latest| {
                let changed = latest.as_deref() != Some(body.as_str());
                if changed {
                    *latest = Some(body.into());
                }
                changed
            });
        }
    }
}

/// The next event of a page: the first snapshot, then each one that
/// differs from the one it was sent last.
async fn next_event(mut page: Page) -> Option<(Result<Event, Infallible>, Page)> {
    if let Some(first) = page.first.take() {
        let event = snapshot_event(&first);
        page.last = first;
        return Some((Ok(event), page));
    }
    loop {
        tokio::select! {
            changed = page.latest.changed() => changed.ok()?,
            _ = page.stopping.changed() => {}
        }
        if *page.stopping.borrow() {
            return None;
        }
        let body = page.latest.borrow_and_update().clone()?;
        if body != page.last {
            let event = snapshot_event(&body);
            page.last = body;
            return Some((Ok(event), page));
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
