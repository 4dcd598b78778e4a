//! Publishing presence from `register` and `answer` (`--publish`), and
//! the lines every command prints about a publication.

use switchboard_net::AppSender;
use switchboard_ua::{Presence, PublicationEvent};

use super::PresenceArgs;
use super::app::Msg;

/// How long a publication from `register`/`answer` asks for.
const EXPIRES: u32 = 3600;

/// The presence `--publish` asks for, published once the first
/// registration succeeds.
#[derive(Debug)]
pub(crate) struct PresencePublisher {
    presence: Option<Presence>,
}

impl PresencePublisher {
    pub(crate) fn new(args: &PresenceArgs) -> Self {
        Self {
            presence: args
                .publish
                .as_deref()
                .map(|s| Presence::from_status(s).with_note(args.note.clone())),
        }
    }

    /// The first registration succeeded: publish (once).
    pub(crate) fn registered(&mut self, sender: &AppSender<Msg>) {
        if let Some(presence) = self.presence.take() {
            sender.send(Msg::Publish {
                presence: Box::new(presence),
                expires: EXPIRES,
            });
        }
    }
}

/// The line printed for a publication event.
pub(crate) fn describe_publication(event: &PublicationEvent) -> String {
    match event {
        PublicationEvent::Published { expires, etag } => {
            format!("published (expires {expires} s, etag {etag})")
        }
        PublicationEvent::Failed {
            status,
            reason,
            retry_in,
        } => format!(
            "publication failed: {} {reason} (retrying in {} s)",
            status.as_u16(),
            retry_in.as_secs()
        ),
        PublicationEvent::Removed => "publication removed".to_owned(),
        other => format!("{other:?}"),
    }
}
