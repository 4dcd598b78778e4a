//! The addresses of record in order, for the pages of `GET
//! /api/v1/registrations`: sorted once and reused for a second, so that a
//! page costs the driver a binary search and a look-up per user, not a
//! pass over every binding. A user registered since the index was built
//! shows in the pages a second later at most; one gone is skipped.

use std::time::{Duration, Instant};

use switchboard_server::Service;
use switchboard_server::registrar::{Aor, Binding};

/// How long an index is used before it is built again.
const FRESH_FOR: Duration = Duration::from_secs(1);

/// The sorted addresses of record, and when they were read.
#[derive(Debug, Default)]
pub(crate) struct AorIndex {
    aors: Vec<Aor>,
    built_at: Option<Instant>,
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
        if self
            .built_at
            .is_none_or(|at| now.duration_since(at) >= FRESH_FOR)
        {
            self.build(service, unix_now, now);
        }
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

    fn build(&mut self, service: &Service, unix_now: u64, now: Instant) {
        let mut aors: Vec<Aor> = Vec::with_capacity(service.registrar().aor_count());
        for binding in service.registrar().bindings(unix_now) {
            // A user's bindings come together.
            if aors.last() != Some(&binding.aor) {
                aors.push(binding.aor.clone());
            }
        }
        aors.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        aors.dedup();
        self.aors = aors;
        self.built_at = Some(now);
    }
}
