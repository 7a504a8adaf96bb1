//! The audit: every identity against every endpoint, run concurrently under a global and a
//! per-host limit, judged against the allow-lists. Progress and results are published as owned
//! snapshots on a `tokio::sync::watch` channel that any front end reads without locks.

pub mod drift;
pub mod expect;
pub mod findings;
pub mod matrix;
pub mod sql;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{mpsc, watch, Semaphore};

use crate::error::InputError;
pub use crate::finding::{Code, Finding, Severity};
use crate::inventory::{Endpoint, IdentityEntry, Inventory};
use crate::pki::{ChainCache, Identity, Trust};
use crate::probe::{probe_with, Caller, ProbeRecord, ProbeSpec};
use crate::profile::{minted_name, Component, EXTRA_NAMES};
pub use expect::{Expected, Verdict};
pub use matrix::{CellId, EndpointId, IdentityId, Matrix};

/// Where an identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    /// From the inventory.
    Configured,
    /// No client certificate.
    Anonymous,
    /// A throwaway CA minted at run time.
    Foreign,
    /// Issued at run time by the real CA, with a CN no allow-list names.
    Unlisted,
    /// Issued at run time by the real CA for a component of the topology whose own
    /// certificate is not readable here, with the CN TiUP gives it (`tidb`, `tikv`, `cdc`...):
    /// to a callee's CN check it is that component.
    Minted,
}

impl IdentityKind {
    /// Whether the audit made this identity at run time (not from the inventory's files).
    pub fn is_extra(self) -> bool {
        self != IdentityKind::Configured
    }
}

/// The identities the audit of `inv` adds to the inventory's, by name: those its options
/// switch on and can make (`unlisted` and the minted ones need the CA key), and that no
/// inventory identity already names.
pub fn extra_names(inv: &Inventory) -> Vec<&'static str> {
    let o = &inv.options;
    let key = inv.ca_key.is_some();
    [
        (o.anonymous, EXTRA_NAMES[0]),
        (o.foreign, EXTRA_NAMES[1]),
        (o.unlisted && key, EXTRA_NAMES[2]),
    ]
    .into_iter()
    .chain(o.minted.iter().map(|c| (key, minted_name(*c))))
    .filter(|(on, name)| *on && !inv.identities.iter().any(|i| i.name == *name))
    .map(|(_, name)| name)
    .collect()
}

/// A caller of the audit.
#[derive(Debug, Clone)]
pub struct AuditIdentity {
    pub name: String,
    pub kind: IdentityKind,
    pub component: Option<Component>,
    pub caller: Caller,
}

impl AuditIdentity {
    /// An identity of the inventory; its component is the entry's, else the one its CN names.
    pub fn configured(entry: &IdentityEntry, caller: Caller) -> AuditIdentity {
        let component = entry
            .component
            .or_else(|| caller.identity.cn().and_then(Component::from_identity_name));
        AuditIdentity {
            name: entry.name.clone(),
            kind: IdentityKind::Configured,
            component,
            caller,
        }
    }
}

/// The identities the audit adds to the inventory's, as its options ask: `anonymous` (no
/// certificate), `foreign` (another CA, a listed CN) and `unlisted` (the cluster CA, a CN no list
/// names; only with the CA key). `configured` are the inventory's, loaded (the foreign identity
/// takes the first CN among them).
pub fn extra_identities(
    inventory: &Inventory,
    trust: &Trust,
    configured: &[AuditIdentity],
) -> Result<Vec<AuditIdentity>, InputError> {
    let mut identities = Vec::new();
    let opts = &inventory.options;
    if opts.anonymous {
        identities.push(AuditIdentity {
            name: "anonymous".into(),
            kind: IdentityKind::Anonymous,
            component: None,
            caller: Caller::new(Identity::anonymous(), trust),
        });
    }
    if opts.foreign {
        // The foreign identity carries a CN that is on the lists, so that only the CA check
        // can refuse it.
        let cn = configured
            .iter()
            .find_map(|i| i.caller.identity.cn().map(str::to_string))
            .unwrap_or_else(|| "tidb".to_string());
        let identity = crate::pki::mint::Ca::generate("tlsaudit throwaway", 1)?.identity(
            "foreign",
            &cn,
            &[],
            false,
            1,
        )?;
        identities.push(AuditIdentity {
            name: "foreign".into(),
            kind: IdentityKind::Foreign,
            component: None,
            caller: Caller::new(identity, trust),
        });
    }
    let Some(ca_key) = &inventory.ca_key else {
        return Ok(identities);
    };
    let taken = |name: &str| configured.iter().any(|i| i.name == name);
    let minted: Vec<Component> = opts
        .minted
        .iter()
        .copied()
        .filter(|c| !taken(minted_name(*c)))
        .collect();
    if !opts.unlisted && minted.is_empty() {
        return Ok(identities);
    }
    // One signer for every identity issued from the cluster CA (the same one `init` uses).
    let ca = crate::pki::mint::Ca::load(&inventory.ca, ca_key)?;
    if opts.unlisted {
        let listed: Vec<&str> = inventory
            .endpoints
            .iter()
            .flat_map(|e| e.allowed_cn.iter().map(String::as_str))
            .collect();
        let mut cn = "tlsaudit-unlisted".to_string();
        while listed.contains(&cn.as_str()) {
            cn.push('x');
        }
        identities.push(AuditIdentity {
            name: "unlisted".into(),
            kind: IdentityKind::Unlisted,
            component: None,
            caller: Caller::new(ca.identity("unlisted", &cn, &[], false, 1)?, trust),
        });
    }
    for c in minted {
        // The CN and both usages TiUP gives the component's certificate; no SANs, so that
        // etcd's peer port (which matches a client certificate's SANs against the source
        // address when it has any) sees a caller from this host as it would the component.
        let name = minted_name(c);
        identities.push(AuditIdentity {
            name: name.to_string(),
            kind: IdentityKind::Minted,
            component: Some(c),
            caller: Caller::new(ca.identity(name, name, &[], true, 1)?, trust),
        });
    }
    Ok(identities)
}

/// What an audit of `inv` leaves unchecked: the extra identities not tried, and the component
/// versions assumed where a rule depends on them.
pub fn not_checked(inv: &Inventory) -> Vec<String> {
    let o = &inv.options;
    let mut out = o.scope_notes.clone();
    for (on, name, what) in [
        (
            o.anonymous,
            "anonymous",
            "a caller without a client certificate",
        ),
        (o.foreign, "foreign", "a certificate from another CA"),
    ] {
        if !on {
            out.push(format!(
                "{what} was not tried (the {name} identity is switched off)"
            ));
        }
    }
    if !o.unlisted {
        out.push(
            "a CN no allow-list names was not tried (the unlisted identity is switched off)".into(),
        );
    } else if inv.ca_key.is_none() {
        out.push("a CN no allow-list names was not tried: without the CA key (ca_key; TiUP's ca.pem) no unlisted identity can be issued, so a list that is set but not enforced shows only where a configured identity is outside it".into());
    }
    let unversioned: Vec<&str> = inv
        .endpoints
        .iter()
        .filter(|e| e.role == crate::profile::Role::PdClient && e.version.is_none())
        .map(|e| e.name.as_str())
        .collect();
    if !unversioned.is_empty() {
        out.push(format!(
            "no version is known for {}: PD's v8.4+ rule for cert-allowed-cn on the client port was assumed (set tidb_version in the topology, --cluster-version, or version on the endpoint)",
            unversioned.join(", ")
        ));
    }
    let dev: Vec<&str> = inv
        .endpoints
        .iter()
        .filter(|e| {
            e.version
                .is_some_and(crate::profile::Version::is_development)
        })
        .map(|e| e.name.as_str())
        .collect();
    if !dev.is_empty() {
        out.push(format!(
            "{} run a development version (nightly): taken as newer than every release, so the newest rules were applied",
            dev.join(", ")
        ));
    }
    out.extend(drift::not_checked(&inv.endpoints));
    out
}

/// What the audit probes: loaded once, shared by every round.
#[derive(Debug)]
pub struct Plan {
    pub inventory: Inventory,
    pub trust: Trust,
    pub identities: Vec<AuditIdentity>,
    /// What each cell should see.
    pub expected: Matrix<Expected>,
    /// Findings known before any probe (static lint of the configs); part of every round's
    /// findings.
    pub static_findings: Vec<Finding>,
    /// What this audit does not check, in words, for every output to say (identities not
    /// tried, versions assumed; callers add endpoints left out of scope).
    pub not_checked: Vec<String>,
    specs: Vec<ProbeSpec>,
    /// The server chains the rounds saw, parsed once and shared by every cell (and round)
    /// that sees the same chain; pruned after each round.
    chains: ChainCache,
}

impl Plan {
    /// Load the CA and identities, mint the extra identities, compute expectations.
    pub fn new(inventory: Inventory) -> Result<Plan, InputError> {
        let trust = Trust::load(&inventory.ca)?;
        let mut identities = Vec::new();
        for entry in &inventory.identities {
            let identity = Identity::load(&entry.name, &entry.cert, &entry.key)?;
            identities.push(AuditIdentity::configured(
                entry,
                Caller::new(identity, &trust),
            ));
        }
        let extra = extra_identities(&inventory, &trust, &identities)?;
        identities.extend(extra);
        let expected = Matrix::from_fn(identities.len(), inventory.endpoints.len(), |i, e| {
            expect::expect(&inventory.endpoints[e.0], &identities[i.0], &trust)
        });
        let specs = inventory
            .endpoints
            .iter()
            .map(|ep| spec_for(ep, &inventory))
            .collect();
        let not_checked = not_checked(&inventory);
        Ok(Plan {
            inventory,
            trust,
            identities,
            expected,
            static_findings: Vec::new(),
            not_checked,
            specs,
            chains: ChainCache::new(),
        })
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        &self.inventory.endpoints
    }

    /// How the audit probes `endpoint` (for a probe on demand outside a round).
    pub fn spec(&self, endpoint: EndpointId) -> &ProbeSpec {
        &self.specs[endpoint.0]
    }

    pub fn cell_count(&self) -> usize {
        self.identities.len() * self.inventory.endpoints.len()
    }

    /// The interned server chains of this audit's records.
    pub fn chains(&self) -> &ChainCache {
        &self.chains
    }
}

fn spec_for(ep: &Endpoint, inv: &Inventory) -> ProbeSpec {
    let mut spec = ProbeSpec::new(ep.address.clone(), ep.protocol);
    spec.server_name = ep.server_name.clone();
    spec.path = ep.path.clone();
    spec.timeouts = inv.options.timeouts;
    if ep.protocol == crate::probe::Protocol::Mysql {
        spec.mysql_account = inv.options.mysql_account.clone();
    }
    spec
}

/// One cell's state in a snapshot.
#[derive(Debug, Clone)]
pub struct CellState {
    pub record: Option<Arc<ProbeRecord>>,
    pub verdict: Option<Verdict>,
    /// Verdict or server certificate changed since the previous round.
    pub changed: bool,
    /// The server certificate changed since the previous round (rotation).
    pub rotated: bool,
}

/// The audit state as every front end sees it. Cheap to clone (records are shared).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub cluster: String,
    /// Rounds started so far (1-based while the first runs).
    pub round: u64,
    pub running: bool,
    /// Probes in the round in flight, and how many are done.
    pub total: usize,
    pub done: usize,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub identity_names: Vec<String>,
    pub endpoint_names: Vec<String>,
    pub cells: Matrix<CellState>,
    pub findings: Vec<Finding>,
    /// Per endpoint (by index), its rotation drift after the last round: `None` where no
    /// certificate or CA file is known (see [`drift`]).
    pub drift: Vec<Option<drift::Drift>>,
}

impl Snapshot {
    pub fn cell(&self, identity: IdentityId, endpoint: EndpointId) -> &CellState {
        &self.cells[(identity, endpoint)]
    }

    /// Count of each verdict.
    pub fn counts(&self) -> Vec<(Verdict, usize)> {
        Verdict::ALL
            .iter()
            .map(|v| {
                (
                    *v,
                    self.cells.iter().filter(|c| c.verdict == Some(*v)).count(),
                )
            })
            .collect()
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Runs rounds of probes and publishes snapshots.
pub struct Auditor {
    pub plan: Arc<Plan>,
    tx: watch::Sender<Arc<Snapshot>>,
}

impl Auditor {
    pub fn new(plan: Plan) -> Auditor {
        let endpoints = plan.inventory.endpoints.len();
        let snapshot = Snapshot {
            cluster: plan.inventory.cluster.clone(),
            round: 0,
            running: false,
            total: 0,
            done: 0,
            started_at: None,
            finished_at: None,
            identity_names: plan.identities.iter().map(|i| i.name.clone()).collect(),
            endpoint_names: plan
                .inventory
                .endpoints
                .iter()
                .map(|e| e.name.clone())
                .collect(),
            cells: Matrix::from_fn(plan.identities.len(), endpoints, |_, _| CellState {
                record: None,
                verdict: None,
                changed: false,
                rotated: false,
            }),
            findings: Vec::new(),
            drift: Vec::new(),
        };
        let (tx, _) = watch::channel(Arc::new(snapshot));
        Auditor {
            plan: Arc::new(plan),
            tx,
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.tx.subscribe()
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.tx.borrow().clone()
    }

    /// Run one round over every cell, or over `only`. Returns the final snapshot.
    pub async fn run_round(&self, only: Option<Vec<CellId>>) -> Arc<Snapshot> {
        let plan = self.plan.clone();
        let mut cells: Vec<CellId> = only.unwrap_or_else(|| plan.expected.ids().collect());
        // The probes that wait longest start first, so that their waits overlap the rest of the
        // round instead of making its tail: a caller without a certificate is the one whose
        // refusal comes late or not at all (a TLS 1.3 server that wants a certificate answers
        // after the handshake, a gRPC C-core server closes after a delay, and a server that
        // keeps the connection open is waited out for the alert window).
        cells.sort_by_key(|&(i, _)| plan.identities[i.0].caller.identity.key.is_some());
        let mut state = (*self.snapshot()).clone();
        state.round += 1;
        state.running = true;
        state.total = cells.len();
        state.done = 0;
        state.started_at = Some(now_rfc3339());
        state.finished_at = None;
        self.tx.send_replace(Arc::new(state.clone()));

        // Capped by the open-file limit (and MAX_CONCURRENCY): never a semaphore panic.
        let concurrency = crate::probe::limits::cap(plan.inventory.options.concurrency);
        let per_host_limit = plan.inventory.options.per_host.clamp(1, concurrency);
        let global = Arc::new(Semaphore::new(concurrency));
        let pacer = plan.inventory.options.rate.map(|r| Arc::new(Pacer::new(r)));
        let mut per_host: HashMap<String, Arc<Semaphore>> = HashMap::new();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(CellId, ProbeRecord)>();
        let mut tasks = tokio::task::JoinSet::new();
        for &cell in &cells {
            let host_sem = per_host
                .entry(plan.inventory.endpoints[cell.1 .0].host().to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(per_host_limit)))
                .clone();
            let (plan, global, done_tx) = (plan.clone(), global.clone(), done_tx.clone());
            let pacer = pacer.clone();
            tasks.spawn(async move {
                let Ok(_host) = host_sem.acquire_owned().await else {
                    return;
                };
                let Ok(_slot) = global.acquire_owned().await else {
                    return;
                };
                if let Some(p) = &pacer {
                    p.wait().await;
                }
                let (i, e) = cell;
                let spec = &plan.specs[e.0];
                let caller = &plan.identities[i.0].caller;
                // A SQL port's plaintext login is tried once per round, by the first identity.
                // The probe's future is boxed once the permits are held: every cell's task is
                // spawned up front, and a task waiting for its turn then holds a few hundred
                // bytes, not a whole probe's state (kilobytes, times every cell of a fleet).
                let rec = if spec.protocol == crate::probe::Protocol::Mysql && i.0 > 0 {
                    let mut s = spec.clone();
                    s.mysql_plaintext = false;
                    Box::pin(probe_with(&s, caller, &plan.trust, &plan.chains)).await
                } else {
                    Box::pin(probe_with(spec, caller, &plan.trust, &plan.chains)).await
                };
                let _ = done_tx.send((cell, rec));
            });
        }
        drop(done_tx);
        let mut last_publish = Instant::now();
        while let Some((cell, rec)) = done_rx.recv().await {
            let verdict = expect::verdict(&plan.expected[cell], &rec);
            let c = &mut state.cells[cell];
            let old_fp = c
                .record
                .as_ref()
                .and_then(|r| r.server_fingerprint().map(str::to_string));
            let new_fp = rec.server_fingerprint().map(str::to_string);
            let had = c.record.is_some();
            c.rotated = had && old_fp.is_some() && new_fp.is_some() && old_fp != new_fp;
            c.changed = had && (c.verdict != Some(verdict) || c.rotated);
            c.verdict = Some(verdict);
            c.record = Some(Arc::new(rec));
            state.done += 1;
            if last_publish.elapsed().as_millis() >= 50 {
                self.tx.send_replace(Arc::new(state.clone()));
                last_publish = Instant::now();
            }
        }
        while tasks.join_next().await.is_some() {}
        state.running = false;
        state.finished_at = Some(now_rfc3339());
        state.drift = drift::check(&plan, &state);
        state.findings = findings::compute(&plan, &state);
        let snap = Arc::new(state);
        self.tx.send_replace(snap.clone());
        // The previous round's records are gone (unless a reader still holds its snapshot):
        // drop the chains no record refers to any more.
        plan.chains.evict_unreferenced();
        snap
    }
}

/// Spaces probe starts evenly: at most `rate` per second across the round.
#[derive(Debug)]
struct Pacer {
    gap: std::time::Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pacer {
    fn new(rate: u32) -> Pacer {
        Pacer {
            gap: std::time::Duration::from_secs(1) / rate.max(1),
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Wait for this probe's start time (the lock is held while waiting, so starts queue up).
    async fn wait(&self) {
        let mut next = self.next.lock().await;
        let now = tokio::time::Instant::now();
        let at = (*next).max(now);
        tokio::time::sleep_until(at).await;
        *next = at + self.gap;
    }
}
