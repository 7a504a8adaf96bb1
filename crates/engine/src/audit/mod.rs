//! The audit: every identity against every endpoint, run concurrently under a global and a
//! per-host limit, judged against the allow-lists. Progress and results are published as owned
//! snapshots on a `tokio::sync::watch` channel that any front end reads without locks.
//!
//! The files, bottom to top (none imports one above it, nor this file): `identity` (the
//! callers), `expect` (what each cell should see, the verdict), `matrix` (the identity x
//! endpoint matrix), `cell` (a cell's state), `drift` (rotation drift), `sql` (the SQL ports'
//! findings), `plan` (the plan and the snapshot), `lists` (each cell against its intent, and each
//! endpoint's allow-list as stated and as observed), `findings` (a round's findings), and here the
//! auditor that runs the rounds.

pub mod cell;
pub mod drift;
pub mod expect;
pub mod findings;
pub mod hygiene;
pub mod identity;
pub mod lists;
pub mod matrix;
pub mod plan;
pub mod sql;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

pub use crate::finding::{Code, Finding, Severity};
use crate::probe::limits::{Gate, Pacer};
use crate::probe::{now_rfc3339, probe_with, ProbeRecord};
pub use cell::CellState;
pub use expect::{Expected, Intent, Need, Verdict};
pub use identity::{extra_identities, extra_names, AuditIdentity, IdentityKind, Standing};
pub use matrix::{CellId, EndpointId, IdentityId, Matrix};
pub use plan::{not_checked, Plan, Snapshot};

/// Runs rounds of probes and publishes snapshots.
///
/// Its plan can be replaced between rounds: by [`Auditor::replace_plan`] (a reloaded inventory)
/// and by the auditor itself when the identities it minted reach half their validity (each
/// round starts by renewing them; see [`Plan::renewed`]).
pub struct Auditor {
    plan: RwLock<Arc<Plan>>,
    tx: watch::Sender<Arc<Snapshot>>,
    /// When the last round that scanned ended (the scan interval counts from it).
    last_scan: Mutex<Option<Instant>>,
}

impl Auditor {
    pub fn new(plan: Plan) -> Auditor {
        let snapshot = carried_over(&plan, None);
        let (tx, _) = watch::channel(Arc::new(snapshot));
        Auditor {
            plan: RwLock::new(Arc::new(plan)),
            tx,
            last_scan: Mutex::new(None),
        }
    }

    /// The plan the next round runs.
    pub fn plan(&self) -> Arc<Plan> {
        match self.plan.read() {
            Ok(plan) => plan.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Run the next rounds with `plan` (a reloaded inventory). The cells of the identities and
    /// endpoints both plans name keep their last record, so that the next round still sees
    /// what changed; the others start empty. Call it between rounds.
    pub fn replace_plan(&self, plan: Plan) {
        let snapshot = carried_over(&plan, Some(&self.snapshot()));
        self.set_plan(plan);
        self.tx.send_replace(Arc::new(snapshot));
    }

    fn set_plan(&self, plan: Plan) {
        match self.plan.write() {
            Ok(mut slot) => *slot = Arc::new(plan),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(plan),
        }
    }

    /// Renew the identities this audit minted once they reach half their validity (a long
    /// `serve` or dashboard session outlives a certificate minted at start). A renewal that
    /// fails (the CA key became unreadable) is logged and the old identities are kept: they
    /// stay valid for the other half.
    pub fn renew_identities(&self, now: i64) {
        match self.plan().renewed(now) {
            Ok(None) => {}
            Ok(Some(plan)) => {
                tracing::info!("renewed the identities minted at run time");
                self.set_plan(plan);
            }
            Err(e) => tracing::warn!("cannot renew the identities minted at run time: {e}"),
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.tx.subscribe()
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.tx.borrow().clone()
    }

    /// Run one round over every cell, or over `only`. A full round also scans the endpoints
    /// whose hygiene scan is due ([`hygiene::due`]), alongside the probes and through the same
    /// limits. Returns the final snapshot.
    pub async fn run_round(&self, only: Option<Vec<CellId>>) -> Arc<Snapshot> {
        self.renew_identities(time::OffsetDateTime::now_utc().unix_timestamp());
        let plan = self.plan();
        let limits = RoundLimits::new(&plan);
        let to_scan = match only {
            None => hygiene::due(&plan, &self.snapshot(), self.last_scan(), Instant::now()),
            Some(_) => Vec::new(),
        };
        let mut cells: Vec<CellId> = only.unwrap_or_else(|| plan.expected.ids().collect());
        // The probes that wait longest start first, so that their waits overlap the rest of the
        // round instead of making its tail: a caller without a certificate is the one whose
        // refusal comes late or not at all (a TLS 1.3 server that wants a certificate answers
        // after the handshake, a gRPC C-core server closes after a delay, and a server that
        // keeps the connection open is waited out for the alert window).
        cells.sort_by_key(|&(i, _)| plan.identities[i.0].caller.identity.key.is_some());
        let mut state = self.start_round(cells.len());
        let scans = async {
            if to_scan.is_empty() {
                return Vec::new();
            }
            hygiene::run(&plan, &to_scan, |host| limits.gate(host)).await
        };
        let ((), scanned) =
            tokio::join!(self.probe_cells(&plan, &limits, &cells, &mut state), scans);
        if !to_scan.is_empty() {
            self.set_last_scan(Instant::now());
        }
        for (e, result) in scanned {
            if let Some(slot) = state.scans.get_mut(e.0) {
                *slot = Some(result);
            }
        }
        self.finish_round(&plan, state)
    }

    /// Probe `cells`, each record put in `state` as it comes (published every 50 ms).
    async fn probe_cells(
        &self,
        plan: &Arc<Plan>,
        limits: &RoundLimits,
        cells: &[CellId],
        state: &mut Snapshot,
    ) {
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(CellId, ProbeRecord)>();
        let (tasks, task_cells) = spawn_probes(plan, limits, cells, &done_tx);
        drop(done_tx);
        let mut recorded = HashSet::with_capacity(cells.len());
        let mut last_publish = Instant::now();
        while let Some((cell, rec)) = done_rx.recv().await {
            recorded.insert(cell);
            record_cell(plan, state, cell, rec);
            if last_publish.elapsed().as_millis() >= 50 {
                self.tx.send_replace(Arc::new(state.clone()));
                last_publish = Instant::now();
            }
        }
        // Whatever went wrong inside a probe, its cell is not left without a record: a
        // probe that panicked (or ended without a record) is an `error` that says why.
        let mut why = failed_tasks(tasks, &task_cells).await;
        for &cell in cells.iter().filter(|c| !recorded.contains(c)) {
            let reason = why
                .remove(&cell)
                .unwrap_or_else(|| "its task ended without a record".to_string());
            let spec = &plan.specs[cell.1 .0];
            let caller = &plan.identities[cell.0 .0].caller;
            tracing::error!(address = %spec.address, identity = %caller.identity.name, "probe failed: {reason}");
            let rec = crate::probe::failed_record(spec, caller, &reason);
            record_cell(plan, state, cell, rec);
        }
    }

    /// When the last hygiene scan of this auditor ended.
    fn last_scan(&self) -> Option<Instant> {
        *self
            .last_scan
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_last_scan(&self, at: Instant) {
        *self
            .last_scan
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(at);
    }

    /// The snapshot of a round that starts with `total` cells to probe, published.
    fn start_round(&self, total: usize) -> Snapshot {
        let mut state = (*self.snapshot()).clone();
        state.round += 1;
        state.running = true;
        state.total = total;
        state.done = 0;
        state.started_at = Some(now_rfc3339());
        state.finished_at = None;
        self.tx.send_replace(Arc::new(state.clone()));
        state
    }

    /// Close a round: its drift and findings, the final snapshot published.
    fn finish_round(&self, plan: &Plan, mut state: Snapshot) -> Arc<Snapshot> {
        state.running = false;
        state.finished_at = Some(now_rfc3339());
        state.drift = drift::check(plan.endpoints(), &plan.identities, &state.cells);
        state.findings = findings::compute(plan, &state);
        let snap = Arc::new(state);
        self.tx.send_replace(snap.clone());
        // The previous round's records are gone (unless a reader still holds its snapshot):
        // drop the chains no record refers to any more.
        plan.chains.evict_unreferenced();
        snap
    }
}

/// The snapshot before the first round of `plan`: every cell empty, or, given the snapshot of
/// an earlier plan, the cells both name as they were (by identity and endpoint name).
fn carried_over(plan: &Plan, old: Option<&Snapshot>) -> Snapshot {
    let identity_names: Vec<String> = plan.identities.iter().map(|i| i.name.clone()).collect();
    let endpoint_names: Vec<String> = plan.endpoints().iter().map(|e| e.name.clone()).collect();
    let cells = Matrix::from_fn(identity_names.len(), endpoint_names.len(), |i, e| {
        old.and_then(|o| o.cell_named(&identity_names[i.0], &endpoint_names[e.0]))
            .cloned()
            .unwrap_or_default()
    });
    let scans = endpoint_names
        .iter()
        .map(|name| {
            let o = old?;
            let at = o.endpoint_names.iter().position(|n| n == name)?;
            o.scans.get(at)?.clone()
        })
        .collect();
    Snapshot {
        cluster: plan.inventory.cluster.clone(),
        round: old.map_or(0, |o| o.round),
        running: false,
        total: 0,
        done: 0,
        started_at: old.and_then(|o| o.started_at.clone()),
        finished_at: old.and_then(|o| o.finished_at.clone()),
        identity_names,
        endpoint_names,
        cells,
        findings: Vec::new(),
        drift: Vec::new(),
        scans,
    }
}

/// A probe's record put in its cell, judged, and counted as done.
fn record_cell(plan: &Plan, state: &mut Snapshot, cell: CellId, rec: ProbeRecord) {
    let verdict = expect::verdict(&plan.expected[cell], &rec);
    settle(&mut state.cells[cell], rec, verdict);
    state.done += 1;
}

/// Wait for every task of a round; the cells whose task panicked, with the panic's message.
async fn failed_tasks(
    mut tasks: JoinSet<()>,
    task_cells: &HashMap<tokio::task::Id, CellId>,
) -> HashMap<CellId, String> {
    let mut failed = HashMap::new();
    while let Some(joined) = tasks.join_next().await {
        let Err(e) = joined else { continue };
        let Some(&cell) = task_cells.get(&e.id()) else {
            continue;
        };
        failed.insert(cell, panic_message(e));
    }
    failed
}

/// What a task's failure said: the panic's message, or that it was cancelled.
fn panic_message(e: tokio::task::JoinError) -> String {
    if !e.is_panic() {
        return "its task was cancelled".to_string();
    }
    let payload = e.into_panic();
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// A probe's record and verdict put in its cell, marking a change of verdict or a rotated
/// server certificate since the previous round.
fn settle(c: &mut CellState, rec: ProbeRecord, verdict: Verdict) {
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
}

/// The limits every connection of a round passes (probes and scans alike): one global
/// semaphore and pace, one semaphore per host.
struct RoundLimits {
    global: Arc<Semaphore>,
    pacer: Option<Arc<Pacer>>,
    per_host_limit: usize,
    per_host: std::sync::Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl RoundLimits {
    fn new(plan: &Plan) -> RoundLimits {
        // Capped by the open-file limit (and MAX_CONCURRENCY): never a semaphore panic.
        let concurrency = crate::probe::limits::cap(plan.inventory.options.concurrency);
        RoundLimits {
            global: Arc::new(Semaphore::new(concurrency)),
            pacer: plan.inventory.options.rate.map(|r| Arc::new(Pacer::new(r))),
            per_host_limit: plan.inventory.options.per_host.clamp(1, concurrency),
            per_host: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The gate of a connection to `host`.
    fn gate(&self, host: &str) -> Gate {
        let mut per_host = self
            .per_host
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let host = per_host
            .entry(host.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host_limit)))
            .clone();
        Gate {
            global: self.global.clone(),
            host: Some(host),
            pacer: self.pacer.clone(),
        }
    }
}

/// A task per cell, each sending its record on `done_tx`; and which cell each task probes.
fn spawn_probes(
    plan: &Arc<Plan>,
    limits: &RoundLimits,
    cells: &[CellId],
    done_tx: &mpsc::UnboundedSender<(CellId, ProbeRecord)>,
) -> (JoinSet<()>, HashMap<tokio::task::Id, CellId>) {
    let mut tasks = JoinSet::new();
    let mut task_cells = HashMap::with_capacity(cells.len());
    for &cell in cells {
        let gate = limits.gate(plan.inventory.endpoints[cell.1 .0].host());
        let (plan, done_tx) = (plan.clone(), done_tx.clone());
        let task = tasks.spawn(async move {
            let Some(_pass) = gate.pass().await else {
                return;
            };
            let rec = probe_cell(&plan, cell).await;
            let _ = done_tx.send((cell, rec));
        });
        task_cells.insert(task.id(), cell);
    }
    (tasks, task_cells)
}

/// Probe one cell, its permits held.
async fn probe_cell(plan: &Plan, (i, e): CellId) -> ProbeRecord {
    let spec = &plan.specs[e.0];
    let caller = &plan.identities[i.0].caller;
    // A SQL port's plaintext login is tried once per round, by the first identity.
    // The probe's future is boxed once the permits are held: every cell's task is
    // spawned up front, and a task waiting for its turn then holds a few hundred
    // bytes, not a whole probe's state (kilobytes, times every cell of a fleet).
    if spec.protocol == crate::probe::Protocol::Mysql && i.0 > 0 {
        let mut s = spec.clone();
        s.mysql_plaintext = false;
        Box::pin(probe_with(&s, caller, &plan.trust, &plan.chains)).await
    } else {
        Box::pin(probe_with(spec, caller, &plan.trust, &plan.chains)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;
    use crate::pki::mint::Ca;

    /// A plan of `endpoints` (name, port) over a CA written into `dir`.
    fn plan_of(dir: &std::path::Path, endpoints: &[(&str, u16)]) -> Plan {
        if !dir.join("ca.crt").exists() {
            let ca = Ca::generate("t", 1).unwrap();
            std::fs::write(dir.join("ca.crt"), &ca.pem).unwrap();
        }
        let mut text = "[cluster]\nname = \"t\"\nca = \"ca.crt\"\n[probe]\nforeign = false\nunlisted = false\n".to_string();
        for (name, port) in endpoints {
            text.push_str(&format!("[[endpoints]]\nname = \"{name}\"\ncomponent = \"tikv\"\naddress = \"127.0.0.1:{port}\"\n"));
        }
        Plan::new(Inventory::parse(&text, &dir.join("t.toml")).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn a_replaced_plan_keeps_the_records_of_the_cells_both_plans_name() {
        let dir = tempfile::tempdir().unwrap();
        let (_held, refused) = {
            let s = tokio::net::TcpSocket::new_v4().unwrap();
            s.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let port = s.local_addr().unwrap().port();
            (s, port)
        };
        let auditor = Auditor::new(plan_of(dir.path(), &[("a", refused), ("b", refused)]));
        let before = auditor.run_round(None).await;
        assert_eq!(before.round, 1);
        auditor.replace_plan(plan_of(dir.path(), &[("b", refused), ("c", refused)]));
        assert_eq!(auditor.plan().endpoints()[1].name, "c");
        let now = auditor.snapshot();
        assert_eq!(now.endpoint_names, ["b", "c"]);
        assert_eq!(now.round, 1, "the round count goes on");
        let kept = now.cell_named("anonymous", "b").unwrap();
        let old = before.cell_named("anonymous", "b").unwrap();
        assert!(Arc::ptr_eq(
            kept.record.as_ref().unwrap(),
            old.record.as_ref().unwrap()
        ));
        assert!(now.cell_named("anonymous", "c").unwrap().record.is_none());
        let after = auditor.run_round(None).await;
        assert_eq!(after.round, 2);
        assert!(after
            .cells
            .iter()
            .all(|c| c.verdict == Some(Verdict::Unreachable)));
    }

    #[tokio::test]
    async fn a_panicking_probe_is_an_error_cell_with_a_finding() {
        let dir = tempfile::tempdir().unwrap();
        let mut plan = plan_of(dir.path(), &[("tikv-1", 1)]);
        // A deadline past the clock's range (the loaders refuse it): the probe panics.
        plan.specs[0].timeouts.connect = std::time::Duration::MAX;
        let auditor = Auditor::new(plan);
        let snap = auditor.run_round(None).await;
        assert_eq!(snap.done, snap.total);
        for id in auditor.plan().expected.ids() {
            let cell = &snap.cells[id];
            assert_eq!(cell.verdict, Some(Verdict::Error));
            let summary = &cell.record.as_ref().unwrap().outcome.summary;
            assert!(
                summary.starts_with("the probe failed inside tlsaudit: ")
                    && summary.contains("overflow"),
                "{summary}"
            );
        }
        let f = snap
            .findings
            .iter()
            .find(|f| f.evidence.contains("the probe failed inside tlsaudit"))
            .expect("a finding for the failed probes");
        // The endpoint was not checked: the run fails at the default `--fail-on critical`.
        assert_eq!(f.severity, Severity::Critical, "{f:?}");
        assert!(f.title.contains("was not checked"), "{f:?}");
    }
}
