//! PUBLISH of a local user's presence (RFC 3903): only by the user
//! himself, a PIDF document (415 for another type, 400 for a broken one),
//! entity tags for refresh, modification and removal; a new document
//! whose tuples all reappear replaces the user's older publications. The
//! publication is saved first and answered 200 with its SIP-ETag once it
//! is durable ([`Service::on_saved`] in events.rs); the user's watchers
//! then get a NOTIFY.

use switchboard_core::Now;
use switchboard_proto::header::ContentType;
use switchboard_proto::{HeaderName, Request, StatusCode};

use crate::bodies;
use crate::events::{PIDF, PRESENCE};
use crate::proxy::{Incoming, TransactionLayer};
use crate::registrar::Aor;
use crate::storage::{PublicationRecord, StateChange};

use super::events::{Saving, aor_of, package_of, uri_of};
use super::relay::Caller;
use super::{Service, answer};

impl Service {
    /// A PUBLISH of a local user's presence (RFC 3903).
    pub(super) fn publish(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: Incoming,
        routed_to_us: bool,
    ) {
        let request = incoming.request();
        if package_of(request).as_deref() != Some(PRESENCE) {
            let lines = [(HeaderName::AllowEvents, PRESENCE.to_owned())];
            answer(now, ep, &incoming, StatusCode::BAD_EVENT, None, &lines);
            return;
        }
        let Some(aor) = aor_of(request, None) else {
            answer(now, ep, &incoming, StatusCode::NOT_FOUND, None, &[]);
            return;
        };
        match self.caller(now, ep, &incoming, routed_to_us) {
            Caller::Handled => return,
            Caller::Foreign => {
                answer(now, ep, &incoming, StatusCode::FORBIDDEN, None, &[]);
                return;
            }
            Caller::Local => {}
        }
        let request = incoming.request();
        // The caller proved to be the From user; only he publishes for
        // himself.
        if aor_of(request, Some(HeaderName::From)).as_ref() != Some(&aor) {
            tracing::debug!(%aor, "PUBLISH for someone else: 403");
            answer(now, ep, &incoming, StatusCode::FORBIDDEN, None, &[]);
            return;
        }
        let range = Some(self.events.config.publish);
        let Some(granted) = self.granted(now, ep, &incoming, range) else {
            return;
        };
        let request = incoming.request();
        let if_match = request.headers().get(HeaderName::SipIfMatch).map(str::trim);
        let old = match if_match {
            Some(etag) => {
                let found = self
                    .events
                    .publications
                    .get(etag)
                    .filter(|r| r.event == PRESENCE && Aor::parse(&r.aor).is_ok_and(|a| a == aor))
                    .cloned();
                match found {
                    Some(r) => Some(r),
                    None => {
                        tracing::debug!(%aor, etag, "PUBLISH for an unknown entity tag: 412");
                        answer(
                            now,
                            ep,
                            &incoming,
                            StatusCode::CONDITIONAL_REQUEST_FAILED,
                            None,
                            &[],
                        );
                        return;
                    }
                }
            }
            None => None,
        };
        let has_body = !request.body().is_empty();
        if granted == 0 {
            match old {
                Some(old) => {
                    self.save_events(
                        vec![StateChange::RemovePublication {
                            etag: old.etag.clone(),
                        }],
                        Saving::Unpublish {
                            tx: incoming.tx(),
                            request: request.clone(),
                            etag: old.etag,
                        },
                    );
                }
                None => answer(now, ep, &incoming, StatusCode::BAD_REQUEST, None, &[]),
            }
            return;
        }
        let (content_type, body) = if has_body {
            match self.published_body(request) {
                Ok(b) => b,
                Err(status) => {
                    let lines = [(HeaderName::Accept, PIDF.to_owned())];
                    let lines = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                        &lines[..]
                    } else {
                        &[]
                    };
                    answer(now, ep, &incoming, status, None, lines);
                    return;
                }
            }
        } else {
            match &old {
                // A refresh: the document stays.
                Some(o) => (o.content_type.clone(), o.body.clone()),
                None => {
                    answer(now, ep, &incoming, StatusCode::BAD_REQUEST, None, &[]);
                    return;
                }
            }
        };
        // A device publishing anew without its entity tag (it restarted,
        // or lost the tag) replaces its own earlier publication: the same
        // tuples. Otherwise the old one would show until it expires.
        let old: Vec<String> = match old {
            Some(o) => vec![o.etag],
            None => self.superseded(&uri_of(&aor), &body),
        };
        if old.is_empty()
            && self.events.publications.count_of(&uri_of(&aor), PRESENCE)
                >= self.events.config.max_publications_per_user
        {
            tracing::debug!(%aor, "too many publications: 403");
            answer(now, ep, &incoming, StatusCode::FORBIDDEN, None, &[]);
            return;
        }
        // A new entity tag at every change (RFC 3903 §6).
        let record = PublicationRecord {
            etag: ep.new_tag(),
            aor: uri_of(&aor),
            event: PRESENCE.to_owned(),
            content_type,
            body,
            expires_unix: now.unix() + u64::from(granted),
        };
        let mut changes: Vec<StateChange> = old
            .iter()
            .map(|etag| StateChange::RemovePublication { etag: etag.clone() })
            .collect();
        changes.push(StateChange::PutPublication(record.clone()));
        self.save_events(
            changes,
            Saving::Publish {
                tx: incoming.tx(),
                request: request.clone(),
                record: Box::new(record),
                old,
            },
        );
    }

    /// The entity tags of `uri`'s publications whose tuples all reappear
    /// in the new document `body`.
    fn superseded(&self, uri: &str, body: &str) -> Vec<String> {
        let tuples = |text: &str| -> Vec<String> {
            bodies::parse_pidf(text)
                .map(|doc| {
                    doc.elements()
                        .filter(|e| e.kind() == bodies::ElementKind::Tuple)
                        .filter_map(|e| e.id().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let new = tuples(body);
        self.events
            .publications
            .of(uri, PRESENCE)
            .into_iter()
            .filter(|p| {
                let ids = tuples(&p.body);
                !ids.is_empty() && ids.iter().all(|id| new.contains(id))
            })
            .map(|p| p.etag.clone())
            .collect()
    }

    /// The content type and document of a PUBLISH, checked: 415 for
    /// another type, 400 for a document that is not one.
    fn published_body(&self, request: &Request) -> Result<(String, String), StatusCode> {
        let content_type = request
            .headers()
            .typed::<ContentType<'_>>()
            .and_then(Result::ok)
            .filter(|c| c.is("application", "pidf+xml"))
            .ok_or(StatusCode::UNSUPPORTED_MEDIA_TYPE)?;
        let _ = content_type;
        let text = std::str::from_utf8(request.body()).map_err(|_| StatusCode::BAD_REQUEST)?;
        if let Err(error) = bodies::parse_pidf(text) {
            tracing::debug!(%error, "PUBLISH with a bad document");
            return Err(error.status());
        }
        Ok((PIDF.to_owned(), text.to_owned()))
    }
}
