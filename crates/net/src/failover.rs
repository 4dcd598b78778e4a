//! RFC 3263 §4.3 fail-over: one request tried on the targets of its next
//! hop in turn, each attempt a new client transaction (a new branch).

use switchboard_core::TransactionId;
use switchboard_core::resolve::{AttemptOutcome, Failover};
use switchboard_proto::Request;

use crate::resolver::{DnsLookup, ResolveError, Resolver, Target, next_hop};
use crate::{ClientTransaction, Error, Handle, Outcome};

/// The fail-over side of the [`Handle`] API.
impl Handle {
    /// Sends `request` to its next hop found by RFC 3263, with fail-over:
    /// resolves the first Route value when it is a loose router, else the
    /// Request-URI ([`next_hop`], RFC 3261 §8.1.2), then tries
    /// the targets in order, each in a new client transaction, until one
    /// answers with something other than 503 (see
    /// [`FailoverTransaction`]). Fails with [`Error::Resolve`] when no
    /// target is found.
    pub async fn send_request_resolved<L>(
        &self,
        request: Request,
        resolver: &Resolver<L>,
    ) -> Result<FailoverTransaction, Error>
    where
        L: DnsLookup + Sync,
    {
        let targets = resolver.resolve_str(next_hop(&request)?).await?;
        self.send_request_to_targets(request, targets).await
    }

    /// Sends `request` to `targets` in order, with RFC 3263 §4.3 fail-over
    /// (see [`FailoverTransaction`]): for targets resolved already, or
    /// chosen by other means.
    pub async fn send_request_to_targets(
        &self,
        request: Request,
        targets: Vec<Target>,
    ) -> Result<FailoverTransaction, Error> {
        FailoverTransaction::start(self.clone(), request, targets).await
    }
}

/// A request sent to a list of targets in order (RFC 3263 §4.3), made by
/// [`Handle::send_request_resolved`] or [`Handle::send_request_to_targets`].
/// It yields responses like a [`ClientTransaction`]; when an attempt fails
/// it sends the request again, with a new branch, to the next target:
///
/// - a transport error (connection refused or lost, RFC 5626 keep-alive
///   unanswered) or a timeout (Timer B or F) before the attempt got any
///   response, provisional or final;
/// - a 503 Service Unavailable final response (it is not yielded).
///
/// Any other final response ends the walk, as does [`Self::cancel`]. When no
/// target is left, the last failure is yielded (`TransportError`, `Timeout`
/// or the 503). Fail-over happens while the caller waits for the next
/// response; provisional responses of a failed attempt were yielded already.
#[derive(Debug)]
pub struct FailoverTransaction {
    handle: Handle,
    /// The request as given: every attempt sends a copy, to which the
    /// endpoint adds its own top Via with a fresh branch.
    request: Request,
    current: ClientTransaction,
    target: Target,
    /// The targets not tried yet and what decides whether to go on.
    walk: Failover<Target>,
}

impl FailoverTransaction {
    /// Sends `request` to the first target that takes it. Targets the
    /// endpoint refuses to send to (no usable local address, say) are
    /// skipped; when none is left, the last refusal is returned.
    pub(crate) async fn start(
        handle: Handle,
        request: Request,
        targets: Vec<Target>,
    ) -> Result<Self, Error> {
        let mut walk = Failover::new(targets);
        match send_to_next(&handle, &request, &mut walk).await {
            Ok((current, target)) => Ok(Self {
                handle,
                request,
                current,
                target,
                walk,
            }),
            Err(None) => Err(Error::Resolve(ResolveError::NotFound(
                request.uri_str().to_owned(),
            ))),
            Err(Some(error)) => Err(error),
        }
    }

    /// The current attempt's client transaction.
    pub fn id(&self) -> TransactionId {
        self.current.id()
    }

    /// The target of the current attempt (the one that answered, once a
    /// final response came).
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// How many targets were tried so far (1 for the first; targets the
    /// endpoint refused count too).
    pub fn attempts(&self) -> usize {
        self.walk.attempts()
    }

    /// Targets not tried yet, in order.
    pub fn remaining(&self) -> impl ExactSizeIterator<Item = &Target> {
        self.walk.remaining()
    }

    /// The next response or outcome, failing over as described on the type;
    /// `None` once the last attempt ended and everything was taken (or the
    /// runtime shut down).
    pub async fn next_response(&mut self) -> Option<Outcome> {
        loop {
            let outcome = self.current.next_response().await?;
            let failed = self.walk.failed(attempt_outcome(&outcome));
            if !failed || !self.walk.has_next() {
                return Some(outcome);
            }
            tracing::debug!(failed = ?self.target.addr, outcome = ?attempt_outcome(&outcome), "failing over to the next target");
            match send_to_next(&self.handle, &self.request, &mut self.walk).await {
                Ok((current, target)) => {
                    self.current = current;
                    self.target = target;
                }
                Err(Some(Error::Closed)) => return None,
                // Every target left refused it: the last failure stands.
                Err(_) => return Some(outcome),
            }
        }
    }

    /// Skips provisional responses: the final response, timeout or transport
    /// error of the walk.
    pub async fn final_outcome(&mut self) -> Option<Outcome> {
        while let Some(outcome) = self.next_response().await {
            if outcome.is_final() {
                return Some(outcome);
            }
        }
        None
    }

    /// Cancels the current attempt, an INVITE (RFC 3261 §9.1), and stops the
    /// walk: see [`ClientTransaction::cancel`].
    pub async fn cancel(&mut self) -> Result<ClientTransaction, Error> {
        let cancel = self.current.cancel().await?;
        self.walk.stop();
        Ok(cancel)
    }
}

/// Sends `request` to the next target of `walk` that takes it. `Err(None)`:
/// there was none; `Err(Some(error))`: the last refusal, or the runtime is
/// gone ([`Error::Closed`], at once).
async fn send_to_next(
    handle: &Handle,
    request: &Request,
    walk: &mut Failover<Target>,
) -> Result<(ClientTransaction, Target), Option<Error>> {
    let mut refused = None;
    while let Some(target) = walk.next_target() {
        match handle.send_request_to(request.clone(), &target).await {
            Ok(tx) => return Ok((tx, target)),
            Err(Error::Closed) => return Err(Some(Error::Closed)),
            Err(error) => {
                tracing::debug!(target = ?target.addr, %error, "target refused, trying the next");
                refused = Some(error);
            }
        }
    }
    Err(refused)
}

fn attempt_outcome(outcome: &Outcome) -> AttemptOutcome {
    match outcome {
        Outcome::Provisional { .. } => AttemptOutcome::Provisional,
        Outcome::Final { response, .. } => AttemptOutcome::Final(response.status()),
        Outcome::Timeout => AttemptOutcome::Timeout,
        Outcome::TransportError => AttemptOutcome::TransportError,
    }
}
