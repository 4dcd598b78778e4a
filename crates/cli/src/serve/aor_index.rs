//! The addresses of record in order, for the pages of `GET
//! /api/v1/registrations`: sorted once and reused, so that a page costs the
//! driver a binary search and a look-up per user, not a pass over every
//! binding. When the index is older than a few seconds, the driver copies
//! the addresses (100,000 took 50 ms in a debug build) and a blocking thread
//! sorts them; pages use the old index until the new one is in. A user
//! registered since shows in the pages a few seconds later at most; one
//! gone is skipped at once.

use std::time::{Duration, Instant};

use switchboard_server::Service;
use switchboard_server::registrar::{Aor, Binding};
use tokio::sync::oneshot;

/// How long an index is used before it is built again.
const FRESH_FOR: Duration = Duration::from_secs(2);

/// The sorted addresses of record, when they were read, and a sort in
/// progress.
#[derive(Debug, Default)]
pub(crate) struct AorIndex {
    aors: Vec<Aor>,
    built_at: Option<Instant>,
    sorting: Option<oneshot::Receiver<Vec<Aor>>>,
}

fn sort(aors: &mut Vec<Aor>) {
    aors.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
    aors.dedup();
}

impl AorIndex {
    /// The bindings of the addresses of record after `after`, in order,
    /// whole users at a time while they fit in `limit` (one user at
    /// least), and the cursor of the next page when there is more.
    pub(crate) fn page<'s>(
        &mut self,
        service: &'s Service,
        now: Instant,
        unix_now: u64,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<&'s Binding>, Option<String>) {
        self.refresh(service, now, unix_now);
        let start = after.map_or(0, |a| self.aors.partition_point(|aor| aor.as_str() <= a));
        let registrar = service.registrar();
        let mut page: Vec<&Binding> = Vec::new();
        let mut next = None;
        for aor in self.aors.iter().skip(start) {
            let mut bindings = registrar.lookup(aor, unix_now);
            if bindings.is_empty() {
                continue;
            }
            if !page.is_empty() && page.len() + bindings.len() > limit {
                next = page.last().map(|b| b.aor.as_str().to_owned());
                break;
            }
            bindings.sort_unstable_by(|a, b| a.key.cmp(&b.key));
            page.extend(bindings);
        }
        (page, next)
    }

    /// Takes a finished sort in; starts another when the index is stale
    /// (the first one is sorted here: there is nothing to page with yet).
    fn refresh(&mut self, service: &Service, now: Instant, unix_now: u64) {
        if let Some(sorting) = &mut self.sorting {
            match sorting.try_recv() {
                Ok(aors) => {
                    self.aors = aors;
                    self.sorting = None;
                }
                Err(oneshot::error::TryRecvError::Closed) => self.sorting = None,
                Err(oneshot::error::TryRecvError::Empty) => return,
            }
        }
        let stale = self
            .built_at
            .is_none_or(|at| now.duration_since(at) >= FRESH_FOR);
        if !stale {
            return;
        }
        let mut aors: Vec<Aor> = Vec::with_capacity(service.registrar().aor_count());
        for binding in service.registrar().bindings(unix_now) {
            // A user's bindings come together.
            if aors.last() != Some(&binding.aor) {
                aors.push(binding.aor.clone());
            }
        }
        self.built_at = Some(now);
        let runtime = tokio::runtime::Handle::try_current();
        match runtime {
            Ok(runtime) if !self.aors.is_empty() => {
                let (sorted, sorting) = oneshot::channel();
                runtime.spawn_blocking(move || {
                    sort(&mut aors);
                    let _ = sorted.send(aors);
                });
                self.sorting = Some(sorting);
            }
            _ => {
                sort(&mut aors);
                self.aors = aors;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)] // tests: a failure is the report

    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use switchboard_core::{Now, Source, Transport};
    use switchboard_server::registrar::{BindingKey, RegistrarConfig};
    use switchboard_server::{AuthConfig, AuthSecret, ProtectConfig, ProxyConfig, ServiceConfig};

    const UNIX0: u64 = 1_700_000_000;

    fn binding(user: &str, device: u8) -> Binding {
        let contact = format!("sip:{user}@192.0.2.{device}:5060");
        Binding {
            aor: Aor::new(user, "example.com").unwrap(),
            key: BindingKey::Contact(contact.clone()),
            contact,
            params: String::new(),
            q: None,
            expires_at: UNIX0 + 3600,
            call_id: format!("{user}-{device}"),
            cseq: 1,
            path: Vec::new(),
            instance: None,
            reg_id: None,
            source: Source {
                transport: Transport::Udp,
                remote: ([192, 0, 2, device], 5060).into(),
                local: ([127, 0, 0, 1], 5060).into(),
                flow: None,
            },
            user_agent: None,
            registered_at: UNIX0,
            updated_at: UNIX0,
        }
    }

    fn service(bindings: Vec<Binding>) -> (Service, Now) {
        let now = Now::at(Instant::now(), UNIX0);
        let config = ServiceConfig::new(
            RegistrarConfig::for_domain("example.com"),
            AuthConfig::default(),
            ProtectConfig::default(),
            ProxyConfig::default(),
        );
        let mut service = Service::new(
            config,
            AuthSecret::from_bytes([5; 32]),
            || Box::new(StdRng::seed_from_u64(1)),
            now,
        );
        service.load_bindings(bindings);
        (service, now)
    }

    fn users(page: &[&Binding]) -> Vec<String> {
        page.iter().map(|b| b.aor.to_string()).collect()
    }

    #[test]
    fn pages_follow_the_users_in_order_and_never_split_one() {
        // carol has two devices; the others one each.
        let (service, now) = service(vec![
            binding("dave", 4),
            binding("carol", 3),
            binding("alice", 1),
            binding("carol", 5),
            binding("bob", 2),
        ]);
        let mut index = AorIndex::default();
        let (at, unix) = (now.instant(), now.unix());
        let (page, next) = index.page(&service, at, unix, None, 3);
        // carol's two would make four: she starts the next page.
        assert_eq!(users(&page), ["alice@example.com", "bob@example.com"]);
        assert_eq!(next.as_deref(), Some("bob@example.com"));
        let (page, next) = index.page(&service, at, unix, next.as_deref(), 3);
        assert_eq!(
            users(&page),
            ["carol@example.com", "carol@example.com", "dave@example.com"]
        );
        assert_eq!(next, None);
        // One user with more devices than the page holds comes whole.
        let (page, next) = index.page(&service, at, unix, Some("bob@example.com"), 1);
        assert_eq!(users(&page), ["carol@example.com", "carol@example.com"]);
        assert_eq!(next.as_deref(), Some("carol@example.com"));
        let (page, next) = index.page(&service, at, unix, Some("dave@example.com"), 3);
        assert!(page.is_empty() && next.is_none());
    }
}
