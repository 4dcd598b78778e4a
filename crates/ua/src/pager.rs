//! Sending one instant message (MESSAGE, RFC 3428) with digest retry.

use std::collections::VecDeque;
use std::time::Instant;

use rand_core::RngCore;
use switchboard_core::Destination;
use switchboard_proto::{HeaderName, Method, Request, RequestBuilder, Response};

use crate::action::Action;
use crate::auth::DigestClient;
use crate::config::UaConfig;
use crate::error::UaError;
use crate::event::{Delivery, Failure};
use switchboard_core::token;

/// One MESSAGE request outside any dialog. Sans-IO like the rest: drain
/// [`Pager::poll_action`] after each input; [`Pager::result`] is set once
/// a final response (or failure) came.
pub struct Pager {
    config: UaConfig,
    request: Request,
    destination: Destination,
    cseq: u32,
    auth: DigestClient,
    rng: Box<dyn RngCore + Send>,
    actions: VecDeque<Action>,
    result: Option<Delivery>,
}

impl std::fmt::Debug for Pager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pager")
            .field("to", &self.request.uri_str())
            .field("result", &self.result)
            .finish_non_exhaustive()
    }
}

impl Pager {
    /// Sends `text` (as `text/plain`) to `target`.
    ///
    /// # Errors
    ///
    /// When `target` is not a SIP URI or has no address to send to.
    pub fn send(
        now: Instant,
        config: UaConfig,
        target: &str,
        text: &str,
        mut rng: Box<dyn RngCore + Send>,
    ) -> Result<Self, UaError> {
        let _ = now;
        let to = crate::dialog::bare_address(target)
            .ok_or_else(|| UaError::InvalidUri(target.to_owned()))?;
        let destination = config.destination(target)?;
        let request = RequestBuilder::new(Method::Message, target.to_owned())
            .from(&config.aor_value(), &token::tag(&mut *rng))
            .to(&to, None)
            .call_id(&token::call_id(&mut *rng))
            .cseq(1)
            .header(HeaderName::UserAgent, config.user_agent.clone())
            .body("text/plain;charset=UTF-8", text.as_bytes().to_vec())
            .build()?;
        let mut pager = Self {
            config,
            request: request.clone(),
            destination,
            cseq: 1,
            auth: DigestClient::default(),
            rng,
            actions: VecDeque::new(),
            result: None,
        };
        pager.actions.push_back(Action::Send {
            request,
            destination,
        });
        Ok(pager)
    }

    /// The Call-ID of the request.
    pub fn call_id(&self) -> &str {
        self.request.headers().call_id().unwrap_or_default()
    }

    /// A response to the MESSAGE.
    pub fn handle_response(&mut self, now: Instant, response: &Response) {
        let _ = now;
        let status = response.status();
        if status.is_provisional() || self.result.is_some() {
            return;
        }
        if response.headers().cseq().map(|c| c.seq) != Some(self.cseq) {
            return;
        }
        if crate::auth::is_challenge(status) {
            let uri = self.request.uri_str().to_owned();
            let body = self.request.body().clone();
            if let Ok(header) = self.auth.answer(
                response,
                self.config.credentials.as_ref(),
                "MESSAGE",
                &uri,
                &body,
                &mut *self.rng,
            ) {
                self.cseq = self.cseq.wrapping_add(1);
                let mut retry = self.request.clone();
                let h = retry.headers_mut();
                h.remove_all(HeaderName::Via);
                h.set(HeaderName::CSeq, format!("{} MESSAGE", self.cseq));
                h.push(header.name, header.value);
                self.actions.push_back(Action::Send {
                    request: retry,
                    destination: self.destination,
                });
                return;
            }
        }
        self.result = Some(Delivery {
            status,
            reason: response.reason().to_owned(),
        });
    }

    /// The MESSAGE got no response.
    pub fn handle_failure(&mut self, now: Instant, failure: Failure) {
        let _ = now;
        if self.result.is_none() {
            self.result = Some(Delivery {
                status: failure.status(),
                reason: failure.status().canonical_reason().to_owned(),
            });
        }
    }

    /// The outcome, once known.
    pub fn result(&self) -> Option<&Delivery> {
        self.result.as_ref()
    }

    /// The next SIP action.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }
}
