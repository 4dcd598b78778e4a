//! What a handler asks the network driver, and how it reaches it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, oneshot};

use switchboard_store::BindingChange;

use crate::{
    Call, Certificate, Counts, DashboardSnapshot, Group, HungUp, PlanReload, PlanSummary, Presence,
    Problem, Registration, RegistrationPage, RouteTest, RouteTested, Trunk,
};

/// How long a handler waits for the driver's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// A question to the driver, which answers it from the service. Not
/// `non_exhaustive`: a new question must fail the binary's build until it
/// answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminQuery {
    /// The counts of `/status`.
    Counts,
    /// The TLS certificates of `/status`.
    Certificates,
    /// The cluster of `/status`.
    Cluster,
    /// The bindings (of one user, when filtered).
    Registrations {
        /// Only this user's.
        user: Option<UserFilter>,
    },
    /// The trunks' state.
    Trunks,
    /// The plan in force.
    Plan,
    /// The Prometheus text of `/metrics`.
    Metrics,
    /// The calls in progress.
    Calls,
    /// End the call in progress `call_id` (the server sends the BYEs or
    /// the CANCEL).
    HangUp {
        /// Its Call-ID.
        call_id: String,
    },
    /// What the dashboard shows (`GET /api/v1/events`).
    Dashboard,
    /// One page of the bindings, in address-of-record order: the driver
    /// copies only this page.
    RegistrationsPage {
        /// Only this user's.
        user: Option<UserFilter>,
        /// The addresses of record after this one (the previous page's
        /// last).
        after: Option<String>,
        /// Most bindings in the page (a user's bindings are never split,
        /// unless one user alone has more).
        limit: usize,
    },
    /// Remove the bindings of `user` (only the one of `contact` when
    /// given) from the registrar; the answer carries the removals, which
    /// the API writes to the store before it answers.
    RemoveRegistrations {
        /// Whose.
        user: UserFilter,
        /// Only the binding of this contact URI.
        contact: Option<String>,
    },
    /// The dial plan's `[groups]`.
    Groups,
    /// The presence state published per presentity (of one user, when
    /// filtered).
    Presence {
        /// Only this user's.
        user: Option<UserFilter>,
    },
    /// Read the users from the store again now (after the API changed
    /// them), answered once the service holds them.
    ReloadUsers,
    /// Load the dial plan from its files again, as SIGHUP does.
    ReloadPlan,
    /// Decide a call with the plan in force, without placing it.
    RouteTest(RouteTest),
}

/// The driver's answer, of the query's kind.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AdminAnswer {
    /// For [`AdminQuery::Counts`].
    Counts(Counts),
    /// For [`AdminQuery::Certificates`].
    Certificates(Vec<Certificate>),
    /// For [`AdminQuery::Cluster`] (`None`: alone).
    Cluster(Option<crate::status::ClusterStatus>),
    /// For [`AdminQuery::Registrations`].
    Registrations(Vec<Registration>),
    /// For [`AdminQuery::Trunks`].
    Trunks(Vec<Trunk>),
    /// For [`AdminQuery::Plan`].
    Plan(PlanSummary),
    /// For [`AdminQuery::Metrics`]: the text, written with an
    /// [`Exposition`](crate::Exposition).
    Metrics(String),
    /// For [`AdminQuery::Calls`].
    Calls(Vec<Call>),
    /// For [`AdminQuery::HangUp`]: `None` when no call in progress has
    /// that Call-ID.
    HungUp(Option<HungUp>),
    /// For [`AdminQuery::Dashboard`].
    Dashboard(DashboardSnapshot),
    /// For [`AdminQuery::RegistrationsPage`].
    RegistrationsPage(RegistrationPage),
    /// For [`AdminQuery::RemoveRegistrations`]: the removals to store
    /// (none: the user had no such binding).
    RegistrationsRemoved(Vec<BindingChange>),
    /// For [`AdminQuery::Groups`].
    Groups(Vec<Group>),
    /// For [`AdminQuery::Presence`].
    Presence(Vec<Presence>),
    /// For [`AdminQuery::ReloadUsers`]: how many users the service holds.
    UsersReloaded(usize),
    /// For [`AdminQuery::ReloadPlan`].
    PlanReloaded(PlanReload),
    /// For [`AdminQuery::RouteTest`].
    RouteTested(RouteTested),
    /// For [`AdminQuery::RouteTest`]: its `time` does not read as a time
    /// (the text given).
    RouteTimeRefused(String),
}

/// Where the driver sends its answer.
pub type AdminReply = oneshot::Sender<AdminAnswer>;

/// `?user=`: a user name (`alice`, in every domain) or an address
/// (`alice@example.com`, with or without `sip:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFilter {
    user: String,
    domain: Option<String>,
}

impl UserFilter {
    /// The filter `?user=` asks for; `None` for an empty value.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.strip_prefix("sip:").unwrap_or(text);
        let (user, domain) = match text.split_once('@') {
            Some((user, domain)) => (user, Some(domain.to_ascii_lowercase())),
            None => (text, None),
        };
        (!user.is_empty() && domain.as_deref() != Some("")).then(|| Self {
            user: user.to_owned(),
            domain,
        })
    }

    /// The user part.
    #[must_use]
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The domain, when one was named (lower-cased).
    #[must_use]
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// Whether the address of record `user@domain` is the one asked for
    /// (user parts compare exactly, domains without case).
    #[must_use]
    pub fn matches(&self, user: &str, domain: &str) -> bool {
        self.user == user
            && self
                .domain
                .as_deref()
                .is_none_or(|d| d.eq_ignore_ascii_case(domain))
    }
}

type Ask = dyn Fn(AdminQuery, AdminReply) -> bool + Send + Sync;

/// How the API reaches the driver: a function the binary gives, which
/// hands the query and its reply to the driver's task (and says false when
/// that task is gone).
///
/// One question at a time reaches the driver: the SIP traffic shares that
/// task, and a flood of API requests (a script polling in a loop) must
/// not queue hundreds of questions in front of the datagrams. The others
/// wait on this side, in the API's thread.
#[derive(Clone)]
pub struct Driver {
    ask: Arc<Ask>,
    turn: Arc<Semaphore>,
}

impl Driver {
    /// The driver reached through `ask`.
    pub fn new(ask: impl Fn(AdminQuery, AdminReply) -> bool + Send + Sync + 'static) -> Self {
        Self {
            ask: Arc::new(ask),
            turn: Arc::new(Semaphore::new(1)),
        }
    }

    /// Asks and waits (5 s at most, the wait for its turn included) for
    /// the answer.
    pub(crate) async fn ask(&self, query: AdminQuery) -> Result<AdminAnswer, Problem> {
        let late = || Problem::unavailable("the server did not answer within 5 seconds");
        let asked = async {
            let _turn = self
                .turn
                .acquire()
                .await
                .map_err(|_| Problem::unavailable("the server is stopping"))?;
            let (reply, answer) = oneshot::channel();
            if !(self.ask)(query, reply) {
                return Err(Problem::unavailable("the server is stopping"));
            }
            answer
                .await
                .map_err(|_| Problem::unavailable("the server dropped the question"))
        };
        tokio::time::timeout(ANSWER_TIMEOUT, asked)
            .await
            .unwrap_or_else(|_| Err(late()))
    }
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Driver(..)")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failure is the report

    use super::*;

    #[test]
    fn a_user_filter_takes_a_name_or_an_address() {
        let name = UserFilter::parse("alice").unwrap();
        assert!(name.matches("alice", "example.com"));
        assert!(name.matches("alice", "127.0.0.1"));
        assert!(!name.matches("alicia", "example.com"));
        let address = UserFilter::parse("sip:alice@Example.COM").unwrap();
        assert!(address.matches("alice", "example.com"));
        assert!(!address.matches("alice", "other.org"));
        assert_eq!(UserFilter::parse(""), None);
        assert_eq!(UserFilter::parse("alice@"), None);
        assert_eq!(UserFilter::parse("@example.com"), None);
    }

    #[tokio::test]
    async fn one_question_at_a_time_reaches_the_driver() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let waiting = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<AdminReply>();
        let counted = Arc::clone(&waiting);
        let peak = Arc::clone(&most);
        let driver = Driver::new(move |_, reply| {
            let now = counted.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tx.send(reply).is_ok()
        });
        // The "driver task": answers each question a little later.
        let answered = Arc::clone(&waiting);
        tokio::spawn(async move {
            while let Some(reply) = rx.recv().await {
                tokio::time::sleep(Duration::from_millis(2)).await;
                answered.fetch_sub(1, Ordering::SeqCst);
                let _ = reply.send(AdminAnswer::Calls(Vec::new()));
            }
        });
        let asks = (0..20).map(|_| driver.ask(AdminQuery::Calls));
        let answers = futures_util::future::join_all(asks).await;
        assert!(answers.iter().all(Result::is_ok));
        assert_eq!(
            most.load(Ordering::SeqCst),
            1,
            "questions at the driver at once"
        );
    }
}
