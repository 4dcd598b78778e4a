//! The cluster's change feed (issue 14): one thread per node with a
//! connection of its own that follows what the other nodes write.
//!
//! * Every change of a binding, a publication or a routed call's dialog
//!   (`call_states`) leaves a row in
//!   `cluster_changes` (a trigger, in the same transaction) and a
//!   `NOTIFY switchboard_changes` delivered at its commit. The feed
//!   LISTENs, wakes on a notification or every `poll_interval` (the
//!   polling fallback for engines without LISTEN/NOTIFY; a notification
//!   names the writing node, and one of this node's own is let go without
//!   a read), reads the rows
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
//!   binding, publication and other node's call in progress (what changed meanwhile is not in the log
//!   it missed).
//!
//! [`ClusterFeed::connect`] reads the latest sequence number; call it
//! BEFORE loading the state, so that nothing written in between is lost.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls};
use switchboard_server::cluster::{ClusterChange, HomedBinding, NodeState};
use switchboard_server::registrar::Aor;
use switchboard_server::storage::PublicationRecord;

use super::bindings::{SELECT_SQL, read_binding};
use super::call_states;
use super::change_cursor::Cursor;
use super::event_state::{PUBLICATION_COLUMNS, read_publication};
use super::node_session::NodeSession;
use super::{classify, get};
use crate::error::StoreError;

/// The channel every node LISTENs on.
const CHANNEL: &str = "switchboard_changes";

/// How long change rows are kept.
const KEEP_CHANGES: Duration = Duration::from_secs(600);

/// How long a dead node stays listed, in milliseconds.
const FORGET_NODES_MS: i64 = 24 * 3600 * 1000;

/// Most change rows read at once.
const BATCH: i64 = 5000;

/// The database's clock, Unix milliseconds.
const DB_NOW: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT";

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
    /// Every user whose calls on other nodes the feed reported.
    callers: HashSet<String>,
    /// The nodes dead at the latest heartbeat.
    dead: HashSet<String>,
    /// (when, floor) at each heartbeat: rows at or below a floor older
    /// than [`KEEP_CHANGES`] are pruned.
    floors: VecDeque<(Instant, i64)>,
}

impl std::fmt::Debug for ClusterFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterFeed")
            .field("node", &self.config.session.name())
            .field("floor", &self.cursor.floor)
            .finish_non_exhaustive()
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
            callers: HashSet::new(),
            dead: HashSet::new(),
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
        let mut next_poll = Instant::now() + self.config.poll_interval;
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
            let wait = next_poll
                .min(next_beat)
                .saturating_duration_since(Instant::now());
            let step = self.wait(wait).and_then(|foreign| {
                let now = Instant::now();
                if now >= next_beat {
                    next_beat = now + self.config.heartbeat;
                    self.beat(deliver)?;
                }
                // This node's own notifications (one per commit of its
                // writer) would only make the feed read rows it skips.
                if foreign || now >= next_poll {
                    next_poll = now + self.config.poll_interval;
                    self.follow(deliver)?;
                }
                Ok(())
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
        if let Err(err) = self.leave() {
            tracing::debug!(error = %err, "cluster: leaving not recorded (the others see this node dead after three heartbeats)");
        }
    }

    /// A heartbeat and the node list; when a node died, the calls it
    /// routed are gone from what the other nodes' watchers see.
    fn beat(&mut self, deliver: &mut dyn FnMut(ClusterChange)) -> Result<(), StoreError> {
        let nodes = self.heartbeat()?;
        let dead: HashSet<String> = nodes
            .iter()
            .filter(|n| !n.alive)
            .map(|n| n.name.clone())
            .collect();
        let died = dead.iter().any(|name| !self.dead.contains(name));
        self.dead = dead;
        deliver(ClusterChange::Nodes(nodes));
        if died {
            let callers: Vec<String> = self.callers.iter().cloned().collect();
            for change in self.read_calls(&callers, false)? {
                deliver(change);
            }
        }
        Ok(())
    }

    /// A clean stop: this node's row says it is dead at once (its
    /// heartbeat moved back past three intervals), so that the others stop
    /// routing to its connections now.
    fn leave(&mut self) -> Result<(), StoreError> {
        let back = i64::try_from(self.config.heartbeat.as_millis())
            .unwrap_or(i64::MAX / 4)
            .saturating_mul(3)
            .saturating_add(1);
        let name = self.config.session.name().to_owned();
        if let Some(client) = self.client.as_mut() {
            client
                .execute(
                    "UPDATE nodes SET heartbeat_at = heartbeat_at - $2 WHERE name = $1",
                    &[&name, &back],
                )
                .map_err(classify)?;
        }
        Ok(())
    }

    /// Waits for a notification or `wait`, whichever comes first. True
    /// when the change log is worth reading: the time is up, or a
    /// notification came from another node (or did not say from which: a
    /// node of an older build); false when every one came from this node
    /// (the payload names the writing node).
    fn wait(&mut self, wait: Duration) -> Result<bool, StoreError> {
        if !self.config.notify {
            std::thread::sleep(wait);
            return Ok(true);
        }
        let own = self.config.session.name().to_owned();
        let client = self.client()?;
        let mut notifications = client.notifications();
        let Some(first) = notifications.timeout_iter(wait).next().map_err(classify)? else {
            // A closed connection shows at the next query (Unavailable).
            return Ok(true);
        };
        let mut foreign = first.payload() != own;
        // The rest already arrived: all of them count.
        while let Some(next) = notifications.iter().next().map_err(classify)? {
            foreign |= next.payload() != own;
        }
        Ok(foreign)
    }

    /// Reads the new change rows and reports each key another node
    /// changed, a page at a time, each page's keys read in one query per
    /// kind.
    fn follow(&mut self, deliver: &mut dyn FnMut(ClusterChange)) -> Result<(), StoreError> {
        let mut from = self.cursor.floor;
        loop {
            let rows = self
                .client()?
                .query(
                    "SELECT seq, kind, key, node FROM cluster_changes WHERE seq > $1 \
                     ORDER BY seq LIMIT $2",
                    &[&from, &BATCH],
                )
                .map_err(classify)?;
            let mut seen = HashSet::new();
            let (mut aors, mut presentities, mut callers) = (Vec::new(), Vec::new(), Vec::new());
            for row in &rows {
                let seq: i64 = get(row, 0)?;
                from = seq;
                if !self.cursor.take(seq) {
                    continue;
                }
                let node: Option<String> = get(row, 3)?;
                if node.as_deref() == Some(self.config.session.name()) {
                    continue;
                }
                let (kind, key): (String, String) = (get(row, 1)?, get(row, 2)?);
                if !seen.insert((kind.clone(), key.clone())) {
                    continue;
                }
                match kind.as_str() {
                    "bindings" => aors.push(key),
                    "publications" => presentities.push(key),
                    "calls" => callers.push(key),
                    _ => {}
                }
            }
            self.cursor.advance(Instant::now());
            for change in self.read_bindings(&aors)? {
                deliver(change);
            }
            for change in self.read_publications(&presentities)? {
                deliver(change);
            }
            for change in self.read_calls(&callers, true)? {
                deliver(change);
            }
            if i64::try_from(rows.len()).unwrap_or(i64::MAX) < BATCH {
                return Ok(());
            }
        }
    }

    /// The bindings each of `aors` has now (none: all removed).
    fn read_bindings(&mut self, aors: &[String]) -> Result<Vec<ClusterChange>, StoreError> {
        if aors.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("{} WHERE aor = ANY($1)", bindings_sql());
        let rows = self.client()?.query(&sql, &[&aors]).map_err(classify)?;
        let by_aor = group_bindings(&rows)?;
        Ok(self.bindings_changes(aors.iter().cloned(), by_aor))
    }

    /// One change per AOR of `keys`, with its bindings in `by_aor` (none
    /// when absent).
    fn bindings_changes(
        &mut self,
        keys: impl IntoIterator<Item = String>,
        mut by_aor: HashMap<String, Vec<HomedBinding>>,
    ) -> Vec<ClusterChange> {
        let mut changes = Vec::new();
        for key in keys {
            let Ok(aor) = Aor::parse(&key) else {
                tracing::debug!(key, "cluster: change of an AOR that does not parse");
                continue;
            };
            let bindings = by_aor.remove(&key).unwrap_or_default();
            self.aors.insert(key);
            changes.push(ClusterChange::Bindings { aor, bindings });
        }
        changes
    }

    /// The publications each of `presentities` has now.
    fn read_publications(
        &mut self,
        presentities: &[String],
    ) -> Result<Vec<ClusterChange>, StoreError> {
        if presentities.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("{} WHERE aor = ANY($1)", publications_sql());
        let rows = self
            .client()?
            .query(&sql, &[&presentities])
            .map_err(classify)?;
        let by_aor = group_publications(&rows)?;
        Ok(self.publications_changes(presentities.iter().cloned(), by_aor))
    }

    /// The dialogs other nodes route of each user of `aors` (none: their
    /// calls ended); `with_ended`: with the terminated ones (not at a
    /// reload: those ended before it are no news).
    fn read_calls(
        &mut self,
        aors: &[String],
        with_ended: bool,
    ) -> Result<Vec<ClusterChange>, StoreError> {
        if aors.is_empty() {
            return Ok(Vec::new());
        }
        let this = self.config.session.name().to_owned();
        let dead_after = i64::try_from(self.config.heartbeat.as_millis())
            .unwrap_or(i64::MAX)
            .saturating_mul(3);
        let rows = self
            .client()?
            .query(&call_states::read_sql(DB_NOW), &[&aors, &this, &dead_after])
            .map_err(classify)?;
        let mut by_aor = call_states::group(&rows)?;
        let mut changes = Vec::new();
        for key in aors {
            let Ok(aor) = Aor::parse(key) else {
                tracing::debug!(key, "cluster: calls of an AOR that does not parse");
                continue;
            };
            let mut calls = by_aor.remove(key).unwrap_or_default();
            calls.retain(|d| with_ended || !d.state.is_terminated());
            self.callers.insert(key.clone());
            changes.push(ClusterChange::Calls { aor, calls });
        }
        Ok(changes)
    }

    /// One change per presentity of `keys`, with its publications in
    /// `by_aor` (none when absent).
    fn publications_changes(
        &mut self,
        keys: impl IntoIterator<Item = String>,
        mut by_aor: HashMap<String, Vec<PublicationRecord>>,
    ) -> Vec<ClusterChange> {
        let mut changes = Vec::new();
        for aor in keys {
            let publications = by_aor.remove(&aor).unwrap_or_default();
            self.presentities.insert(aor.clone());
            changes.push(ClusterChange::Publications { aor, publications });
        }
        changes
    }

    /// At start and after a reconnect: positioned at the latest change,
    /// then every binding, publication and other node's call reported
    /// again.
    fn reload(&mut self, deliver: &mut dyn FnMut(ClusterChange)) -> Result<(), StoreError> {
        self.client = Some(self.open()?);
        let (floor, _) = self.position()?;
        self.cursor = Cursor::at(floor);
        // The nodes first: whether a binding's home is alive is known
        // before the binding is.
        let nodes = self.heartbeat()?;
        deliver(ClusterChange::Nodes(nodes.clone()));
        let client = self.client()?;
        let binding_rows = client.query(&bindings_sql(), &[]).map_err(classify)?;
        let publication_rows = client.query(&publications_sql(), &[]).map_err(classify)?;
        // Every AOR the database has, and those it had (removed meanwhile).
        let by_aor = group_bindings(&binding_rows)?;
        let keys: BTreeSet<String> = self.aors.iter().chain(by_aor.keys()).cloned().collect();
        for change in self.bindings_changes(keys, by_aor) {
            deliver(change);
        }
        let by_presentity = group_publications(&publication_rows)?;
        let keys: BTreeSet<String> = self
            .presentities
            .iter()
            .chain(by_presentity.keys())
            .cloned()
            .collect();
        for change in self.publications_changes(keys, by_presentity) {
            deliver(change);
        }
        // The calls other nodes route, and those that ended meanwhile.
        let stored = self
            .client()?
            .query("SELECT DISTINCT aor FROM call_states", &[])
            .map_err(classify)?;
        let mut callers: BTreeSet<String> = self.callers.iter().cloned().collect();
        for row in &stored {
            callers.insert(get(row, 0)?);
        }
        let callers: Vec<String> = callers.into_iter().collect();
        for change in self.read_calls(&callers, false)? {
            deliver(change);
        }
        // Again, as the end of the reload.
        deliver(ClusterChange::Nodes(nodes));
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
            self.config.session.name().to_owned(),
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
            // Nodes gone for a day are forgotten.
            client
                .execute(
                    &format!("DELETE FROM nodes WHERE heartbeat_at < {DB_NOW} - $1"),
                    &[&FORGET_NODES_MS],
                )
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

/// The rows' bindings by AOR (rows that no longer map to a binding
/// left out).
fn group_bindings(
    rows: &[postgres::Row],
) -> Result<HashMap<String, Vec<HomedBinding>>, StoreError> {
    let mut by_aor: HashMap<String, Vec<HomedBinding>> = HashMap::new();
    for row in rows {
        if let Some(binding) = read_binding(row)? {
            by_aor.entry(get(row, 0)?).or_default().push(HomedBinding {
                binding,
                home: get(row, 16).ok().flatten(),
            });
        }
    }
    Ok(by_aor)
}

/// The rows' publications by presentity.
fn group_publications(
    rows: &[postgres::Row],
) -> Result<HashMap<String, Vec<PublicationRecord>>, StoreError> {
    let mut by_aor: HashMap<String, Vec<PublicationRecord>> = HashMap::new();
    for row in rows {
        let publication = read_publication(row)?;
        by_aor
            .entry(publication.aor.clone())
            .or_default()
            .push(publication);
    }
    Ok(by_aor)
}
