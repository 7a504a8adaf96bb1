//! Building the JSON report of a fleet: `Report::build` (and its serialization) from a plan of
//! N endpoints x 2 identities and a synthetic finished round (every cell a record, a finding
//! for every endpoint's first identity), for N = 10,000, 50,000 and 100,000. Prints the best of
//! several runs and the time per 1,000 cells: flat is linear. (Finding each cell's fix by
//! scanning every finding made the build quadratic: 100,000 endpoints did not finish.)
//!
//! `cargo bench --bench report` (`-- --runs N` to change the repetitions, `-- --sizes A,B` for
//! other endpoint counts).

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tlsaudit_engine::audit::{Auditor, Code, Finding, Plan, Severity, Snapshot, Verdict};
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_engine::probe::{Caller, Outcome, OutcomeClass, Phase, ProbeRecord, ProbeSpec};
use tlsaudit_report::Report;

/// A tlsaudit.toml of `n` TiKV endpoints and no identities: the callers are the two the plan
/// makes itself (the anonymous one, and one from a foreign CA).
fn inventory_toml(n: usize, ca: &Path) -> String {
    let mut t = format!(
        "[cluster]\nname = \"fleet\"\nca = {:?}\n\n",
        ca.display().to_string()
    );
    for i in 0..n {
        let _ = writeln!(
            t,
            "[[endpoints]]\nname = \"tikv-{i}\"\ncomponent = \"tikv\"\naddress = \"10.{}.{}.{}:20160\"\nallowed_cn = [\"tidb\", \"pd\", \"tikv\"]\n",
            i / 62_500,
            (i / 250) % 250,
            i % 250 + 1,
        );
    }
    t
}

/// A record like the probes make (no chain: the build shares records, it never reads them).
fn record(plan: &Plan) -> ProbeRecord {
    let spec = ProbeSpec::new(
        "10.0.0.1:20160".to_string(),
        tlsaudit_engine::probe::Protocol::Grpc,
    );
    let caller: &Caller = &plan.identities[0].caller;
    let mut rec = tlsaudit_engine::probe::failed_record(&spec, caller, "synthetic");
    rec.outcome = Outcome::new(
        OutcomeClass::CertRequired,
        Phase::Handshake,
        "the server asked for a client certificate and got none",
    );
    rec
}

/// The plan's snapshot of a finished round: every cell the same record, a finding per
/// endpoint for the first identity (the second identity's cells have none).
fn finished(plan: Plan) -> (Arc<Plan>, Snapshot) {
    let auditor = Auditor::new(plan);
    let plan = auditor.plan();
    let mut snap = (*auditor.snapshot()).clone();
    let rec = Arc::new(record(&plan));
    for id in plan.expected.ids() {
        snap.cells[id].record = Some(rec.clone());
        snap.cells[id].verdict = Some(Verdict::Enforced);
    }
    let first = plan.identities[0].name.clone();
    snap.findings = plan
        .inventory
        .endpoints
        .iter()
        .map(|ep| {
            Finding::new(
                Code::CnNotEnforced,
                Severity::Critical,
                format!("{} admits a caller its list does not name", ep.name),
                ep.address.clone(),
                "set the list",
            )
            .endpoint(ep.name.clone())
            .identity(first.clone())
        })
        .collect();
    snap.round = 1;
    (plan, snap)
}

fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

fn main() {
    let runs = arg("--runs").and_then(|v| v.parse().ok()).unwrap_or(3);
    let sizes: Vec<usize> = arg("--sizes").map_or_else(
        || vec![10_000, 50_000, 100_000],
        |s| s.split(',').filter_map(|v| v.parse().ok()).collect(),
    );
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    tlsaudit_testkit::pki::tiup_tls_dir(&tls, "fleet", &[]);
    println!("Report::build of N endpoints x 2 identities, best of {runs} runs");
    println!(
        "{:>9} {:>8} {:>10} {:>14} {:>12} {:>14}",
        "N", "cells", "build", "per 1k cells", "to JSON", "per 1k cells"
    );
    for n in sizes {
        let text = inventory_toml(n, &tls.join("ca.crt"));
        let inv = Inventory::parse(&text, &dir.path().join("tlsaudit.toml")).unwrap();
        let (plan, snap) = finished(Plan::new(inv).unwrap());
        assert_eq!(plan.identities.len(), 2, "two identities");
        let cells = plan.cell_count();
        let build = best(runs, || {
            std::hint::black_box(Report::build(&plan, &snap));
        });
        let report = Report::build(&plan, &snap);
        assert_eq!(report.cells.iter().filter(|c| c.fix.is_some()).count(), n);
        let json = best(runs, || {
            std::hint::black_box(serde_json::to_vec(&report).unwrap());
        });
        let per_k = |d: Duration| d.as_secs_f64() * 1e3 / (cells as f64 / 1e3);
        println!(
            "{n:>9} {cells:>8} {:>8.1}ms {:>12.3}ms {:>10.1}ms {:>12.3}ms",
            build.as_secs_f64() * 1e3,
            per_k(build),
            json.as_secs_f64() * 1e3,
            per_k(json),
        );
    }
}
