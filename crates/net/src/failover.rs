//! RFC 3263 §4.3 fail-over: one request tried on the targets of its next
//! hop in turn, each attempt a new client transaction (a new branch).

use std::collections::VecDeque;

use switchboard_core::TransactionId;
use switchboard_proto::{Request, StatusCode};

use crate::resolver::{ResolveError, Target};
use crate::{ClientTransaction, Error, Handle, Outcome};

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
    rest: VecDeque<Target>,
    /// The current attempt got a response.
    answered: bool,
    attempts: usize,
    cancelled: bool,
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
        let mut rest: VecDeque<Target> = targets.into();
        let mut refused = None;
        while let Some(target) = rest.pop_front() {
            match handle.send_request_to(request.clone(), &target).await {
                Ok(current) => {
                    return Ok(Self {
                        handle,
                        request,
                        current,
                        target,
                        rest,
                        answered: false,
                        attempts: 1,
                        cancelled: false,
                    });
                }
                Err(Error::Closed) => return Err(Error::Closed),
                Err(error) => {
                    tracing::debug!(target = ?target.addr, %error, "target refused, trying the next");
                    refused = Some(error);
                }
            }
        }
        Err(refused.unwrap_or(Error::Resolve(ResolveError::NotFound(
            request.uri_str().to_owned(),
        ))))
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

    /// How many targets were tried so far (1 for the first).
    pub fn attempts(&self) -> usize {
        self.attempts
    }

    /// Targets not tried yet, in order.
    pub fn remaining(&self) -> impl ExactSizeIterator<Item = &Target> {
        self.rest.iter()
    }

    /// The next response or outcome, failing over as described on the type;
    /// `None` once the last attempt ended and everything was taken (or the
    /// runtime shut down).
    pub async fn next_response(&mut self) -> Option<Outcome> {
        loop {
            let outcome = self.current.next_response().await?;
            let failed = match &outcome {
                Outcome::Provisional { .. } => {
                    self.answered = true;
                    false
                }
                Outcome::Final { response, .. } => {
                    let unavailable = response.status() == StatusCode::SERVICE_UNAVAILABLE;
                    self.answered = true;
                    unavailable
                }
                Outcome::Timeout | Outcome::TransportError => !self.answered,
            };
            if !failed || self.cancelled || !self.fail_over(&outcome).await? {
                return Some(outcome);
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
        self.cancelled = true;
        Ok(cancel)
    }

    /// Starts the next attempt after `failure`. `Some(true)`: a new attempt
    /// runs; `Some(false)`: no target left; `None`: the runtime is gone.
    async fn fail_over(&mut self, failure: &Outcome) -> Option<bool> {
        while let Some(target) = self.rest.pop_front() {
            tracing::debug!(
                failed = ?self.target.addr,
                next = ?target.addr,
                outcome = ?failure_kind(failure),
                "failing over to the next target"
            );
            match self
                .handle
                .send_request_to(self.request.clone(), &target)
                .await
            {
                Ok(tx) => {
                    self.current = tx;
                    self.target = target;
                    self.answered = false;
                    self.attempts += 1;
                    return Some(true);
                }
                Err(Error::Closed) => return None,
                Err(error) => tracing::debug!(target = ?target.addr, %error, "target refused"),
            }
        }
        Some(false)
    }
}

fn failure_kind(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Final { .. } => "503",
        Outcome::Timeout => "timeout",
        Outcome::TransportError => "transport error",
        Outcome::Provisional { .. } => "provisional",
    }
}
