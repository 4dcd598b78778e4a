//! The cluster's change feed (issue 14): one thread per node with a
//! connection of its own that follows what the other nodes write.
//!
//! * Every change of a binding or a publication leaves a row in
//!   `cluster_changes` (a trigger, in the same transaction) and a
//!   `NOTIFY switchboard_changes` delivered at its commit. The feed
//!   LISTENs, wakes on a notification or every `poll_interval` (the
//!   polling fallback for engines without LISTEN/NOTIFY), reads the rows
//!   after the last one it handled that another node wrote, reads the
//!   current state of each changed key and hands it on as a
//!   [`ClusterChange`].
//! * Sequence numbers are given at insert and become visible at commit,
//!   not in order: a hole below a seen row is waited for (a transaction
//!   still committing) for [`GAP_WAIT`], then taken as rolled back.
//! * Heartbeat: this node's row in `nodes` every `heartbeat`, and the
//!   node list read back with liveness by the database's clock (dead
//!   after three missed beats); old change rows pruned.
//! * The connection lost: reconnects every second, then reloads every
//!   binding and publication (what changed meanwhile is not in the log
//!   it missed).
//!
//! [`ClusterFeed::connect`] reads the latest sequence number; call it
//! BEFORE loading the state, so that nothing written in between is lost.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls};
use switchboard_server::cluster::{ClusterChange, HomedBinding, NodeState};
use switchboard_server::registrar::Aor;

use super::bindings::{SELECT_SQL, read_binding};
use super::event_state::{PUBLICATION_COLUMNS, read_publication};
use super::{classify, get};
use crate::error::StoreError;

/// The channel every node LISTENs on.
const CHANNEL: &str = "switchboard_changes";

/// How long a hole in the sequence numbers is waited for.
const GAP_WAIT: Duration = Duration::from_secs(5);

/// How long change rows are kept.
const KEEP_CHANGES: Duration = Duration::from_secs(600);

/// Most change rows read at once.
const BATCH: i64 = 5000;

/// The database's clock, Unix milliseconds.
const DB_NOW: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT";

/// How a node names itself in its store sessions: the triggers record it
/// with each change (and as the home of the bindings it writes), and
/// whether they NOTIFY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSession {
    name: String,
    notify: bool,
}

impl NodeSession {
    /// `name`: letters, digits, `.`, `-`, `_` and `:` only (it goes into
    /// the connection's options), at most 63 bytes.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for another name.
    pub fn new(name: &str, notify: bool) -> Result<Self, StoreError> {
        if !switchboard_server::cluster::is_valid_node_name(name) {
            return Err(StoreError::InvalidInput(format!(
                "cluster node name {name:?}: letters, digits, '.', '-', '_' and ':' only, at most 63"
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            notify,
        })
    }

    /// The node's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets the session variables the triggers read on every connection
    /// `config` opens.
    pub(super) fn apply(&self, config: &mut Config) {
        let notify = if self.notify { "on" } else { "off" };
        let ours = format!(
            "-c switchboard.node={} -c switchboard.notify={notify}",
            self.name
        );
        let options = match config.get_options() {
            Some(theirs) if !theirs.is_empty() => format!("{theirs} {ours}"),
            _ => ours,
        };
        config.options(&options);
    }
}

/// What the feed needs to know.
#[derive(Debug, Clone)]
pub struct ClusterFeedConfig {
    /// The database (`postgres://...`).
    pub url: String,
    /// This node.
    pub session: NodeSession,
    /// The SIP URI the other nodes reach this one at.
    pub sip_uri: String,
    /// This node's admin API, for the status.
    pub admin_url: Option<String>,
    /// LISTEN for notifications (false: polling only).
    pub notify: bool,
    /// How often the log is read without a notification.
    pub poll_interval: Duration,
    /// How often this node's row is refreshed; dead after three missed.
    pub heartbeat: Duration,
}

/// The feed, connected and positioned; [`start`](Self::start) runs it.
pub struct ClusterFeed {
    config: ClusterFeedConfig,
    pg: Config,
    client: Option<Client>,
    cursor: Cursor,
    started_ms: i64,
    /// Every AOR and presentity the feed reported, so that a reload after
    /// a reconnect also reports those removed meanwhile.
    aors: HashSet<String>,
    presentities: HashSet<String>,
    /// (when, floor) at each heartbeat: rows at or below a floor older
    /// than [`KEEP_CHANGES`] are pruned.
    floors: VecDeque<(Instant, i64)>,
}

impl std::fmt::Debug for ClusterFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterFeed")
            .field("node", &self.config.session.name)
            .field("floor", &self.cursor.floor)
            .finish_non_exhaustive()
    }
}

/// Which sequence numbers were handled: all up to `floor`, and `seen`
/// above it.
#[derive(Debug, Default)]
struct Cursor {
    floor: i64,
    seen: BTreeSet<i64>,
    /// Since when a hole has stopped the floor.
    stuck_since: Option<Instant>,
}

impl Cursor {
    fn at(floor: i64) -> Self {
        Self {
            floor,
            ..Self::default()
        }
    }

    /// Marks `seq` handled; false if it already was.
    fn take(&mut self, seq: i64) -> bool {
        seq > self.floor && self.seen.insert(seq)
    }

    /// Moves the floor over the handled numbers; a hole older than
    /// `GAP_WAIT` is given up.
    fn advance(&mut self, now: Instant) {
        let before = self.floor;
        loop {
            while self.seen.remove(&(self.floor + 1)) {
                self.floor += 1;
            }
            let Some(&next) = self.seen.first() else {
                self.stuck_since = None;
                return;
            };
            if self.floor != before {
                self.stuck_since = Some(now);
                return;
            }
            match self.stuck_since {
                Some(since) if now.saturating_duration_since(since) >= GAP_WAIT => {
                    // Rolled back (a failed savepoint, a retried batch).
                    self.floor = next - 1;
                    self.stuck_since = None;
                }
                Some(_) => return,
                None => {
                    self.stuck_since = Some(now);
                    return;
                }
            }
        }
    }
}

/// The running feed's thread.
#[derive(Debug)]
pub struct ClusterFeedHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ClusterFeedHandle {
    /// Stops the feed (within one poll interval) and waits for it.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("cluster: the feed thread panicked");
            }
        }
    }
}

impl ClusterFeed {
    /// Connects, registers this node and reads the latest change number
    /// (the schema must be there: open the store first).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a URL that does not parse,
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    pub fn connect(config: ClusterFeedConfig) -> Result<Self, StoreError> {
        let mut pg = Config::from_str(&config.url)
            .map_err(|err| StoreError::InvalidInput(format!("database URL: {err}")))?;
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(Duration::from_secs(5));
        }
        pg.keepalives(true);
        pg.application_name("switchboard-cluster");
        config.session.apply(&mut pg);
        let mut feed = Self {
            config,
            pg,
            client: None,
            cursor: Cursor::default(),
            started_ms: 0,
            aors: HashSet::new(),
            presentities: HashSet::new(),
            floors: VecDeque::new(),
        };
        let client = feed.open()?;
        feed.client = Some(client);
        let (floor, now_ms) = feed.position()?;
        feed.cursor = Cursor::at(floor);
        feed.started_ms = now_ms;
        feed.heartbeat()?;
        Ok(feed)
    }

    /// How this node names itself (its store sessions use the same).
    #[must_use]
    pub fn session(&self) -> &NodeSession {
        &self.config.session
    }

    /// The nodes as of now (this one's heartbeat written first).
    ///
    /// # Errors
    /// Environment errors.
    pub fn nodes(&mut self) -> Result<Vec<NodeState>, StoreError> {
        self.heartbeat()
    }

    /// Runs the feed on a thread of its own; `deliver` gets every change
    /// another node made, and the node list at each heartbeat.
    ///
    /// # Errors
    /// [`StoreError::Io`]-like failures to spawn the thread, as
    /// [`StoreError::InvalidInput`].
    pub fn start(
        mut self,
        mut deliver: impl FnMut(ClusterChange) + Send + 'static,
    ) -> Result<ClusterFeedHandle, StoreError> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("cluster-feed".into())
            .spawn(move || self.run(&stopping, &mut deliver))
            .map_err(|err| StoreError::InvalidInput(format!("cluster feed thread: {err}")))?;
        Ok(ClusterFeedHandle {
            stop,
            thread: Some(thread),
        })
    }

    fn open(&self) -> Result<Client, StoreError> {
        let mut client = self
            .pg
            .connect(NoTls)
            .map_err(|err| StoreError::Unavailable(Arc::new(err)))?;
        if self.config.notify {
            client
                .batch_execute(&format!("LISTEN {CHANNEL}"))
                .map_err(classify)?;
        }
        Ok(client)
    }

    fn client(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.is_none() {
            self.client = Some(self.open()?);
        }
        self.client
            .as_mut()
            .ok_or_else(|| StoreError::InvalidInput("no connection".into()))
    }

    /// The latest change number and the database's clock.
    fn position(&mut self) -> Result<(i64, i64), StoreError> {
        let row = self
            .client()?
            .query_one(
                &format!("SELECT COALESCE(max(seq), 0), {DB_NOW} FROM cluster_changes"),
                &[],
            )
            .map_err(classify)?;
        Ok((get(&row, 0)?, get(&row, 1)?))
    }

    fn run(&mut self, stop: &AtomicBool, deliver: &mut dyn FnMut(ClusterChange)) {
        let mut next_beat = Instant::now() + self.config.heartbeat;
        // The first pass reads the whole location too: the home node of
        // every binding the server loaded.
        let mut lost = true;
        let mut first = true;
        while !stop.load(Ordering::Relaxed) {
            if lost {
                match self.reload(deliver) {
                    Ok(()) => {
                        if !first {
                            tracing::info!("cluster: database back, location reloaded");
                        }
                        lost = false;
                        first = false;
                    }
                    Err(err) => {
                        tracing::debug!(error = %err, "cluster: database still unreachable");
                        self.client = None;
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    }
                }
            }
            let now = Instant::now();
            let wait = self
                .config
                .poll_interval
                .min(next_beat.saturating_duration_since(now));
            let step = self.wait(wait).and_then(|()| {
                if Instant::now() >= next_beat {
                    next_beat = Instant::now() + self.config.heartbeat;
                    deliver(ClusterChange::Nodes(self.heartbeat()?));
                }
                self.follow(deliver)
            });
            if let Err(err) = step {
                if matches!(err, StoreError::Unavailable(_)) {
                    tracing::warn!(error = %err, "cluster: lost the database; reconnecting");
                    self.client = None;
                    lost = true;
                } else {
                    tracing::warn!(error = %err, "cluster: reading the changes failed");
                    std::thread::sleep(self.config.poll_interval);
                }
            }
        }
    }

    /// Waits for a notification or `wait`, whichever comes first.
    fn wait(&mut self, wait: Duration) -> Result<(), StoreError> {
        if !self.config.notify {
            std::thread::sleep(wait);
            return Ok(());
        }
        let client = self.client()?;
        let mut notifications = client.notifications();
        let first = notifications.timeout_iter(wait).next().map_err(classify)?;
        if first.is_some() {
            // The rest already arrived say the same thing.
            while notifications.iter().next().map_err(classify)?.is_some() {}
        }
        // A closed connection shows at the next query (Unavailable).
        Ok(())
    }

    /// Reads the new change rows and reports each key another node changed.
    fn follow(&mut self, deliver: &mut dyn FnMut(ClusterChange)) -> Result<(), StoreError> {
        let floor = self.cursor.floor;
        let rows = self
            .client()?
            .query(
                "SELECT seq, kind, key, node FROM cluster_changes WHERE seq > $1 \
                 ORDER BY seq LIMIT $2",
                &[&floor, &BATCH],
            )
            .map_err(classify)?;
        let mut keys: Vec<(String, String)> = Vec::new();
        for row in &rows {
            let seq: i64 = get(row, 0)?;
            if !self.cursor.take(seq) {
                continue;
            }
            let node: Option<String> = get(row, 3)?;
            if node.as_deref() == Some(self.config.session.name()) {
                continue;
            }
            let key = (get(row, 1)?, get(row, 2)?);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        self.cursor.advance(Instant::now());
        for (kind, key) in keys {
            if let Some(change) = self.read_key(&kind, &key)? {
                deliver(change);
            }
        }
        Ok(())
    }

    /// The current state of one changed key.
    fn read_key(&mut self, kind: &str, key: &str) -> Result<Option<ClusterChange>, StoreError> {
        match kind {
            "bindings" => {
                let Ok(aor) = Aor::parse(key) else {
                    tracing::debug!(key, "cluster: change of an AOR that does not parse");
                    return Ok(None);
                };
                self.aors.insert(key.to_owned());
                let sql = format!("{} WHERE aor = $1", bindings_sql());
                let rows = self.client()?.query(&sql, &[&key]).map_err(classify)?;
                Ok(Some(ClusterChange::Bindings {
                    aor,
                    bindings: homed_bindings(&rows)?,
                }))
            }
            "publications" => {
                self.presentities.insert(key.to_owned());
                let sql = format!("{} WHERE aor = $1", publications_sql());
                let rows = self.client()?.query(&sql, &[&key]).map_err(classify)?;
                Ok(Some(ClusterChange::Publications {
                    aor: key.to_owned(),
                    publications: rows
                        .iter()
                        .map(read_publication)
                        .collect::<Result<_, _>>()?,
                }))
            }
            _ => Ok(None),
        }
    }

    /// At start and after a reconnect: positioned at the latest change,
    /// then every binding and publication reported again.
    fn reload(&mut self, deliver: &mut dyn FnMut(ClusterChange)) -> Result<(), StoreError> {
        self.client = Some(self.open()?);
        let (floor, _) = self.position()?;
        self.cursor = Cursor::at(floor);
        let client = self.client()?;
        let binding_rows = client.query(&bindings_sql(), &[]).map_err(classify)?;
        let publication_rows = client.query(&publications_sql(), &[]).map_err(classify)?;
        let mut by_aor: std::collections::BTreeMap<String, Vec<HomedBinding>> = self
            .aors
            .iter()
            .map(|aor| (aor.clone(), Vec::new()))
            .collect();
        for (row, homed) in binding_rows.iter().zip(homed_bindings_all(&binding_rows)?) {
            let aor: String = get(row, 0)?;
            if let Some(homed) = homed {
                by_aor.entry(aor).or_default().push(homed);
            }
        }
        for (key, bindings) in by_aor {
            if let Ok(aor) = Aor::parse(&key) {
                self.aors.insert(key);
                deliver(ClusterChange::Bindings { aor, bindings });
            }
        }
        let mut by_presentity: std::collections::BTreeMap<String, Vec<_>> = self
            .presentities
            .iter()
            .map(|aor| (aor.clone(), Vec::new()))
            .collect();
        for row in &publication_rows {
            let publication = read_publication(row)?;
            by_presentity
                .entry(publication.aor.clone())
                .or_default()
                .push(publication);
        }
        for (aor, publications) in by_presentity {
            self.presentities.insert(aor.clone());
            deliver(ClusterChange::Publications { aor, publications });
        }
        deliver(ClusterChange::Nodes(self.heartbeat()?));
        Ok(())
    }

    /// Writes this node's heartbeat, prunes old change rows, and reads
    /// the node list.
    fn heartbeat(&mut self) -> Result<Vec<NodeState>, StoreError> {
        let heartbeat_ms = i64::try_from(self.config.heartbeat.as_millis()).unwrap_or(i64::MAX);
        let now = Instant::now();
        self.floors.push_back((now, self.cursor.floor));
        let mut prune = None;
        while let Some(&(at, floor)) = self.floors.front() {
            if now.saturating_duration_since(at) < KEEP_CHANGES {
                break;
            }
            prune = Some(floor);
            self.floors.pop_front();
        }
        let (name, sip_uri, admin_url, started) = (
            self.config.session.name.clone(),
            self.config.sip_uri.clone(),
            self.config.admin_url.clone(),
            self.started_ms,
        );
        let client = self.client()?;
        client
            .execute(
                &format!(
                    "INSERT INTO nodes (name, sip_uri, admin_url, started_at, heartbeat_at) \
                     VALUES ($1, $2, $3, $4, {DB_NOW}) ON CONFLICT (name) DO UPDATE SET \
                     sip_uri = EXCLUDED.sip_uri, admin_url = EXCLUDED.admin_url, \
                     started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at"
                ),
                &[&name, &sip_uri, &admin_url, &started],
            )
            .map_err(classify)?;
        if let Some(floor) = prune {
            client
                .execute("DELETE FROM cluster_changes WHERE seq <= $1", &[&floor])
                .map_err(classify)?;
        }
        let rows = client
            .query(
                &format!(
                    "SELECT name, sip_uri, admin_url, started_at, heartbeat_at, {DB_NOW} \
                     FROM nodes ORDER BY name"
                ),
                &[],
            )
            .map_err(classify)?;
        let mut nodes = Vec::with_capacity(rows.len());
        for row in &rows {
            let (started, beat, db_now): (i64, i64, i64) =
                (get(row, 3)?, get(row, 4)?, get(row, 5)?);
            nodes.push(NodeState {
                name: get(row, 0)?,
                sip_uri: get(row, 1)?,
                admin_url: get(row, 2)?,
                started_ms: u64::try_from(started).unwrap_or(0),
                heartbeat_ms: u64::try_from(beat).unwrap_or(0),
                alive: db_now.saturating_sub(beat) <= heartbeat_ms.saturating_mul(3),
            });
        }
        Ok(nodes)
    }
}

/// Bindings with their home node (column 16).
fn bindings_sql() -> String {
    SELECT_SQL.replace(" FROM bindings", ", node FROM bindings")
}

fn publications_sql() -> String {
    format!(
        "SELECT {} FROM publications",
        PUBLICATION_COLUMNS.join(", ")
    )
}

fn homed_bindings(rows: &[postgres::Row]) -> Result<Vec<HomedBinding>, StoreError> {
    Ok(homed_bindings_all(rows)?.into_iter().flatten().collect())
}

/// Each row's binding (`None`: a row that no longer maps to one).
fn homed_bindings_all(rows: &[postgres::Row]) -> Result<Vec<Option<HomedBinding>>, StoreError> {
    rows.iter()
        .map(|row| {
            Ok(read_binding(row)?.map(|binding| HomedBinding {
                binding,
                home: get(row, 16).ok().flatten(),
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use super::*;

    #[test]
    fn node_names_fit_the_connection_options() {
        assert!(NodeSession::new("node-a:5060", true).is_ok());
        assert!(NodeSession::new("a b", true).is_err());
        assert!(NodeSession::new("", true).is_err());
        assert!(NodeSession::new("x'; DROP", true).is_err());
    }

    #[test]
    fn a_hole_is_waited_for_then_given_up() {
        let t0 = Instant::now();
        let mut cursor = Cursor::at(10);
        assert!(cursor.take(11));
        assert!(!cursor.take(11));
        assert!(cursor.take(13));
        cursor.advance(t0);
        // 12 may still be committing.
        assert_eq!(cursor.floor, 11);
        cursor.advance(t0 + GAP_WAIT / 2);
        assert_eq!(cursor.floor, 11);
        // It came late: handled, and the floor moves over both.
        assert!(cursor.take(12));
        cursor.advance(t0 + GAP_WAIT / 2);
        assert_eq!(cursor.floor, 13);
        // A hole that never fills is given up after GAP_WAIT.
        assert!(cursor.take(15));
        cursor.advance(t0 + GAP_WAIT);
        assert_eq!(cursor.floor, 13);
        cursor.advance(t0 + GAP_WAIT * 2);
        assert_eq!(cursor.floor, 15);
        assert!(!cursor.take(14), "below the floor: never reported late");
    }
}
