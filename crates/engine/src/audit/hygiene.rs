//! The hygiene scan in an audit round: which endpoints a round scans (every endpoint the first
//! time, then again once the scan interval has passed; a new endpoint at once), each address
//! once however many endpoints name it, every connection through the round's gate (so `--rate`
//! and `per_host` bound the scans as they bound the probes), and the scans' findings with the
//! fixes of the component serving each endpoint.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;

use super::matrix::EndpointId;
use super::plan::{Plan, Snapshot};
use crate::finding::Finding;
use crate::probe::limits::Gate;
use crate::scan::{Failure, ScanLimits, ScanResult, ScanSpec, Served};

/// The endpoints a full round scans: none when the scan is off; all of them when no scan ran
/// yet (`last` is `None`) or the interval has passed; otherwise those never scanned.
pub fn due(plan: &Plan, snap: &Snapshot, last: Option<Instant>, now: Instant) -> Vec<EndpointId> {
    let Some(interval) = plan.inventory.options.scan else {
        return Vec::new();
    };
    let all = last.is_none_or(|l| now.saturating_duration_since(l) >= interval);
    (0..plan.endpoints().len())
        .filter(|&e| all || snap.scans.get(e).is_none_or(Option::is_none))
        .map(EndpointId)
        .collect()
}

/// Scan `endpoints`, each distinct address once, all at once (each connection passes
/// `gate_of(host)`). Returns each endpoint's result.
pub async fn run(
    plan: &Plan,
    endpoints: &[EndpointId],
    gate_of: impl Fn(&str) -> Gate,
) -> Vec<(EndpointId, Arc<ScanResult>)> {
    // One scan per address and protocol (the first endpoint's SNI): what a server accepts
    // does not depend on which endpoint of the inventory names it.
    let mut by_spec: HashMap<(String, bool), Vec<EndpointId>> = HashMap::new();
    let mut specs = Vec::new();
    for &e in endpoints {
        let ep = &plan.endpoints()[e.0];
        let spec = ScanSpec::probed(&ep.address, ep.protocol, ep.server_name.as_deref());
        let key = (spec.address.clone(), spec.mysql);
        let named = by_spec.entry(key).or_default();
        if named.is_empty() {
            let gate = gate_of(ep.host());
            let limits = ScanLimits::within(plan.inventory.options.timeouts, Some(gate));
            specs.push((spec, limits));
        }
        named.push(e);
    }
    // A quarter of the concurrency in scans at once (each has up to four connections open):
    // a fleet's scans are not all in memory together, and each one's future is boxed only
    // once it may run (a waiting task holds its spec and limits, not a scan's state).
    let at_once = Arc::new(Semaphore::new(
        crate::probe::limits::cap(plan.inventory.options.concurrency).div_ceil(4),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for (spec, limits) in specs {
        let at_once = at_once.clone();
        tasks.spawn(async move {
            let _turn = at_once.acquire_owned().await.ok();
            Box::pin(crate::scan::scan(&spec, &limits)).await
        });
    }
    let mut out = Vec::with_capacity(endpoints.len());
    // A scan whose task failed (it cannot panic by design) leaves its endpoints unscanned:
    // the next round scans them again.
    while let Some(Ok(result)) = tasks.join_next().await {
        let key = (result.address.clone(), result.protocol == "mysql");
        let result = Arc::new(result);
        let named = by_spec.get(&key).map_or(&[][..], Vec::as_slice);
        out.extend(named.iter().map(|&e| (e, result.clone())));
    }
    out.sort_by_key(|(e, _)| e.0);
    out
}

/// The findings of every endpoint's last scan, each naming its endpoint.
pub fn findings(plan: &Plan, snap: &Snapshot, out: &mut Vec<Finding>) {
    for (ep, scan) in plan.endpoints().iter().zip(&snap.scans) {
        let Some(scan) = scan else { continue };
        let served = Served::of(Some(ep.component), ep.protocol);
        out.extend(
            crate::scan::findings(scan, served)
                .into_iter()
                .map(|f| f.endpoint(ep.name.clone())),
        );
    }
}

/// What the scans did not establish, in words: endpoints whose scan could not run or was
/// cut short (the report's `not_checked`).
pub fn not_checked(plan: &Plan, snap: &Snapshot) -> Vec<String> {
    if plan.inventory.options.scan.is_none() {
        return vec!["the TLS versions and cipher suites the endpoints accept: not scanned (`--no-scan`, or `[probe] scan = false`)".to_string()];
    }
    let mut out = Vec::new();
    for (ep, scan) in plan.endpoints().iter().zip(&snap.scans) {
        match scan.as_deref() {
            // A server that does not speak TLS at all has no versions to scan (its cells say
            // it is unencrypted).
            Some(s) if s.failure.as_ref().is_some_and(|f| f.class == Failure::NotTls) => {}
            Some(s) if s.failure.is_some() => out.push(format!(
                "TLS versions and suites of {}: {}",
                ep.name,
                s.summary()
            )),
            Some(s) if !s.complete => out.push(format!(
                "TLS versions and suites of {}: the scan was cut short after {} connections ({} ms); what it lists is a lower bound",
                ep.name, s.connections, s.elapsed_ms
            )),
            _ => {}
        }
    }
    out
}
