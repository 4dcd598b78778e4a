//! Every trunk of the running plan: its gateways' health, its
//! registration, and the client transactions and resolutions of both.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use rand_core::RngCore;
use switchboard_core::{Event, Now, TransactionId, token};
use switchboard_proto::{Method, Request, RequestBuilder};
use switchboard_routing::{GatewayHealth, TrunkSpec};

use super::attempt::AttemptResult;
use super::gateway::Gateway;
use super::gateway_state::Health;
use super::local::Local;
use super::registration::{RegistrationState, Step, TrunkRegistration};
use super::status::{GatewayStatus, TrunkStatus};
use crate::proxy::{NextHop, ResolveId, TransactionLayer};

/// The resolutions of the trunks are numbered from here, far above any
/// the proxy will ever reach (it counts from 1), so that the service can
/// tell whose [`Completion::Resolved`](crate::Completion::Resolved) it is.
const RESOLVE_BASE: u64 = 1 << 62;

/// One trunk of the plan.
#[derive(Debug)]
struct Trunk {
    spec: TrunkSpec,
    gateways: Vec<Gateway>,
    /// Its registration's key in [`Trunks::registrations`].
    registration: Option<u64>,
}

/// Who is waiting for a client transaction or a resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    /// A gateway's probe.
    Probe { trunk: String, gateway: String },
    /// A registration (by key; one being removed stays until answered).
    Register(u64),
}

/// The trunks of the running plan: see the [module documentation](super).
pub struct Trunks {
    local: Local,
    rng: Box<dyn RngCore + Send>,
    trunks: Vec<Trunk>,
    registrations: BTreeMap<u64, TrunkRegistration>,
    next_registration: u64,
    clients: HashMap<TransactionId, Owner>,
    resolving: HashMap<ResolveId, Owner>,
    next_resolve: u64,
    /// Resolutions to ask the runtime for.
    resolves: VecDeque<(ResolveId, String)>,
}

impl std::fmt::Debug for Trunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trunks")
            .field("trunks", &self.trunks.len())
            .field("registrations", &self.registrations.len())
            .field("clients", &self.clients.len())
            .field("resolving", &self.resolving.len())
            .finish_non_exhaustive()
    }
}

impl GatewayHealth for Trunks {
    fn is_up(&self, trunk: &str, gateway: &str) -> Option<bool> {
        match self.gateway(trunk, gateway)?.health() {
            Health::Up => Some(true),
            Health::Down => Some(false),
            Health::Unknown => None,
        }
    }
}

impl Trunks {
    /// No trunks; requests go out as the server at `local`, with tokens
    /// from `rng`.
    pub(crate) fn new(local: Local, rng: Box<dyn RngCore + Send>) -> Self {
        Self {
            local,
            rng,
            trunks: Vec::new(),
            registrations: BTreeMap::new(),
            next_registration: 1,
            clients: HashMap::new(),
            resolving: HashMap::new(),
            next_resolve: RESOLVE_BASE,
            resolves: VecDeque::new(),
        }
    }

    /// Takes the plan's trunks (at start and on every reload). A gateway
    /// whose trunk name and URI stay keeps its health; a registration whose
    /// settings stay keeps running; a removed or changed one is
    /// un-REGISTERed. New probes and registrations are due at once.
    pub fn reconfigure(&mut self, now: Now, ep: &mut impl TransactionLayer, specs: &[TrunkSpec]) {
        let at = now.instant();
        let mut old = std::mem::take(&mut self.trunks);
        for spec in specs {
            let mut previous = old
                .iter()
                .position(|t| t.spec.name == spec.name)
                .map(|i| old.swap_remove(i));
            let gateways = spec
                .gateways
                .iter()
                .map(|g| {
                    let kept = previous.as_mut().and_then(|p| {
                        let i = p.gateways.iter().position(|x| x.uri == g.uri)?;
                        Some(p.gateways.swap_remove(i))
                    });
                    match kept {
                        Some(mut gateway) => {
                            gateway.reconfigure(spec.probe.as_ref(), at);
                            gateway
                        }
                        None => Gateway::new(&g.uri, spec.probe.as_ref(), at),
                    }
                })
                .collect();
            let mut registration = previous.and_then(|p| p.registration);
            let unchanged = registration
                .and_then(|key| self.registrations.get(&key))
                .zip(spec.register.as_ref())
                .is_some_and(|(r, want)| r.is_for(want, spec.credentials.as_ref()));
            if !unchanged {
                if let Some(key) = registration.take() {
                    self.remove_registration(now, ep, key);
                }
                registration = spec.register.clone().map(|want| {
                    let key = self.next_registration;
                    self.next_registration += 1;
                    let r = TrunkRegistration::new(
                        &spec.name,
                        want,
                        spec.credentials.clone(),
                        at,
                        &mut *self.rng,
                    );
                    self.registrations.insert(key, r);
                    key
                });
            }
            self.trunks.push(Trunk {
                spec: spec.clone(),
                gateways,
                registration,
            });
        }
        for gone in old {
            tracing::info!(trunk = %gone.spec.name, "trunk removed");
            if let Some(key) = gone.registration {
                self.remove_registration(now, ep, key);
            }
        }
    }

    /// The server stops: every registration is removed (Expires: 0).
    pub fn shutdown(&mut self, now: Now, ep: &mut impl TransactionLayer) {
        let keys: Vec<u64> = self
            .trunks
            .iter_mut()
            .filter_map(|t| t.registration.take())
            .collect();
        for key in keys {
            self.remove_registration(now, ep, key);
        }
    }

    /// The outcome of a call attempt the proxy sent to `gateway` of
    /// `trunk`: it counts towards the gateway's health like a probe (any
    /// response proves it alive).
    pub fn report_attempt(&mut self, now: Now, trunk: &str, gateway: &str, result: AttemptResult) {
        if let Some(g) = self.gateway_mut(trunk, gateway) {
            g.record(trunk, now, result, false);
        }
    }

    /// Every trunk with its gateways' health and its registration.
    pub fn states(&self) -> Vec<TrunkStatus> {
        self.trunks
            .iter()
            .map(|t| TrunkStatus {
                name: t.spec.name.clone(),
                gateways: t
                    .gateways
                    .iter()
                    .map(|g| GatewayStatus {
                        uri: g.uri.clone(),
                        health: g.health(),
                        probed: g.state().is_some(),
                        successes: g.state().map_or(0, |s| s.successes()),
                        failures: g.state().map_or(0, |s| s.failures()),
                        changed_at: g.state().and_then(|s| s.changed_at()),
                    })
                    .collect(),
                registration: t
                    .registration
                    .and_then(|key| self.registrations.get(&key))
                    .map_or(RegistrationState::Off, TrunkRegistration::state),
            })
            .collect()
    }

    /// When [`Trunks::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let probes = self
            .trunks
            .iter()
            .flat_map(|t| &t.gateways)
            .filter_map(Gateway::deadline);
        let registrations = self
            .registrations
            .values()
            .filter_map(TrunkRegistration::deadline);
        probes.chain(registrations).min()
    }

    /// Sends the probes and REGISTERs that are due.
    pub fn handle_timeout(&mut self, now: Now, ep: &mut impl TransactionLayer) {
        let at = now.instant();
        let mut due = Vec::new();
        for trunk in &mut self.trunks {
            for gateway in &mut trunk.gateways {
                if gateway.take_probe(at) {
                    due.push((trunk.spec.name.clone(), gateway.uri.clone()));
                }
            }
        }
        for (trunk, gateway) in due {
            self.probe(now, ep, trunk, gateway);
        }
        let keys: Vec<u64> = self
            .registrations
            .iter()
            .filter(|(_, r)| r.deadline().is_some_and(|d| d <= at))
            .map(|(key, _)| *key)
            .collect();
        for key in keys {
            self.drive(now, ep, key, |r, local| r.start(now, local));
        }
    }

    /// The next resolution to ask the runtime for
    /// ([`Effect::Resolve`](crate::Effect::Resolve)).
    pub(crate) fn poll_resolve(&mut self) -> Option<(ResolveId, String)> {
        self.resolves.pop_front()
    }

    /// Whether `id` is one of the trunks' resolutions.
    pub(crate) fn owns_resolve(&self, id: ResolveId) -> bool {
        id.0 >= RESOLVE_BASE
    }

    /// The answer to one of the trunks' resolutions (no hops: the name did
    /// not resolve, which counts as a failure).
    pub(crate) fn resolved(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        id: ResolveId,
        hops: Vec<NextHop>,
    ) {
        match self.resolving.remove(&id) {
            Some(Owner::Probe { trunk, gateway }) => match hops.first() {
                Some(hop) => self.send_probe(now, ep, &trunk, &gateway, *hop),
                None => self.probe_ended(now, &trunk, &gateway, AttemptResult::DnsFailed),
            },
            Some(Owner::Register(key)) => {
                self.drive(now, ep, key, |r, local| r.resolved(now, local, hops));
            }
            None => {}
        }
    }

    /// An endpoint event about a client transaction: `true` when it is one
    /// of the trunks' (a probe or a REGISTER).
    pub(crate) fn handle_event(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        event: &Event,
    ) -> bool {
        let (tx, result, response) = match event {
            Event::Response { tx, response, .. } => (
                *tx,
                AttemptResult::Response(response.status().as_u16()),
                Some(response),
            ),
            Event::Timeout { tx } => (*tx, AttemptResult::Timeout, None),
            Event::TransportError { tx } => (*tx, AttemptResult::TransportError, None),
            _ => return false,
        };
        if !self.clients.contains_key(&tx) {
            return false;
        }
        if response.is_some_and(|r| r.status().as_u16() < 200) {
            return true;
        }
        match self.clients.remove(&tx) {
            Some(Owner::Probe { trunk, gateway }) => {
                self.probe_ended(now, &trunk, &gateway, result);
            }
            Some(Owner::Register(key)) => {
                let rng = &mut *self.rng;
                let Some(r) = self.registrations.get_mut(&key) else {
                    return true;
                };
                let step = match response {
                    Some(response) => r.on_response(now, &self.local, response, rng),
                    None => {
                        r.fail(now, result);
                        Step::Wait
                    }
                };
                self.run(now, ep, key, step);
            }
            None => {}
        }
        true
    }

    // ----- probes -----

    /// Probes `gateway` of `trunk`: at once when its URI names an address,
    /// else after resolving it.
    fn probe(&mut self, now: Now, ep: &mut impl TransactionLayer, trunk: String, gateway: String) {
        match crate::proxy::hop_for_uri(&gateway) {
            Some(hop) => self.send_probe(now, ep, &trunk, &gateway, hop),
            None => {
                let uri = gateway.clone();
                self.resolve(Owner::Probe { trunk, gateway }, uri);
            }
        }
    }

    /// Sends the OPTIONS probe of `gateway` to `hop`: Max-Forwards 70,
    /// the server's From, a fresh Call-ID, tag and branch.
    fn send_probe(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        trunk: &str,
        gateway: &str,
        hop: NextHop,
    ) {
        let request = RequestBuilder::new(Method::Options, gateway)
            .from(&self.local.from(), &token::tag(&mut *self.rng))
            .to(&format!("<{gateway}>"), None)
            .call_id(&token::call_id(&mut *self.rng))
            .cseq(1)
            .header(switchboard_proto::HeaderName::Accept, "application/sdp")
            .build();
        let request = match request {
            Ok(r) => r,
            Err(error) => {
                tracing::warn!(trunk, gateway, %error, "probe not built");
                self.probe_ended(now, trunk, gateway, AttemptResult::TransportError);
                return;
            }
        };
        let owner = Owner::Probe {
            trunk: trunk.to_owned(),
            gateway: gateway.to_owned(),
        };
        if let Err(result) = self.send(now, ep, request, hop, owner) {
            self.probe_ended(now, trunk, gateway, result);
        }
    }

    /// A probe of `gateway` ended with `result` (a response, or a failure).
    fn probe_ended(&mut self, now: Now, trunk: &str, gateway: &str, result: AttemptResult) {
        if let Some(g) = self.gateway_mut(trunk, gateway) {
            g.record(trunk, now, result, true);
        }
    }

    // ----- registrations -----

    /// Carries out what registration `key` asked for.
    fn run(&mut self, now: Now, ep: &mut impl TransactionLayer, key: u64, step: Step) {
        match step {
            Step::Wait => {}
            Step::Resolve(uri) => self.resolve(Owner::Register(key), uri),
            Step::Send(request, hop) => {
                if let Err(result) = self.send(now, ep, *request, hop, Owner::Register(key)) {
                    if let Some(r) = self.registrations.get_mut(&key) {
                        r.fail(now, result);
                    }
                }
            }
        }
        if self
            .registrations
            .get(&key)
            .is_some_and(TrunkRegistration::is_finished)
        {
            self.registrations.remove(&key);
        }
    }

    /// Removes registration `key`: un-REGISTERed when the provider may
    /// hold it, forgotten once that is answered.
    fn remove_registration(&mut self, now: Now, ep: &mut impl TransactionLayer, key: u64) {
        self.drive(now, ep, key, |r, local| r.remove(now, local));
    }

    /// Moves registration `key` on with `f` and carries out what it asks.
    fn drive(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        key: u64,
        f: impl FnOnce(&mut TrunkRegistration, &Local) -> Step,
    ) {
        let local = &self.local;
        if let Some(step) = self.registrations.get_mut(&key).map(|r| f(r, local)) {
            self.run(now, ep, key, step);
        }
    }

    // ----- shared -----

    /// Sends `request` to `hop` in a client transaction of `owner`, with
    /// a branch from the trunks' RNG.
    fn send(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        request: Request,
        hop: NextHop,
        owner: Owner,
    ) -> Result<(), AttemptResult> {
        let branch = token::branch(&mut *self.rng);
        match ep.send_request_with_branch(now.instant(), request, hop.destination, &branch) {
            Ok(tx) => {
                // A registration answers only its latest REGISTER: the
                // answer to one it replaced (an un-REGISTER sent while a
                // REGISTER was in flight) is ignored.
                if matches!(owner, Owner::Register(_)) {
                    self.clients.retain(|_, o| *o != owner);
                }
                self.clients.insert(tx, owner);
                Ok(())
            }
            Err(error) => {
                tracing::debug!(%error, ?owner, "request to a trunk not sent");
                Err(AttemptResult::TransportError)
            }
        }
    }

    fn resolve(&mut self, owner: Owner, uri: String) {
        let id = ResolveId(self.next_resolve);
        self.next_resolve += 1;
        self.resolving.insert(id, owner);
        self.resolves.push_back((id, uri));
    }

    fn gateway(&self, trunk: &str, uri: &str) -> Option<&Gateway> {
        self.trunks
            .iter()
            .find(|t| t.spec.name == trunk)?
            .gateways
            .iter()
            .find(|g| g.uri == uri)
    }

    fn gateway_mut(&mut self, trunk: &str, uri: &str) -> Option<&mut Gateway> {
        self.trunks
            .iter_mut()
            .find(|t| t.spec.name == trunk)?
            .gateways
            .iter_mut()
            .find(|g| g.uri == uri)
    }
}
