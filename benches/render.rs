//! Frame time of the dashboard on large synthetic audits: 200 endpoints x 10 identities (the
//! identity-rows layout) and a fleet of 1,000 endpoints x 12 identities (the transposed view,
//! grouped and folded, and the changes view), drawn into a 200x60 `TestBackend`, with the
//! selection moving every frame (so the diff is never empty). Prints mean and p99 per scenario;
//! the budget is 16 ms (60 frames per second).
//!
//! `cargo bench --bench render` (`-- --frames N` to change the sample count).

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tlsaudit::tui::{self, App, Catalog, EndpointInfo, IdentityInfo};
use tlsaudit_engine::audit::{
    CellState, EndpointId, Expected, Finding, IdentityId, IdentityKind, Matrix, Severity, Snapshot,
    Verdict,
};
use tlsaudit_engine::pki::{CertSummary, IdentityCheck};
use tlsaudit_engine::probe::{
    Evidence, IdentityReport, Outcome, OutcomeClass, Phase, ProbeRecord, ServerVerification,
    TargetReport, Timings, TlsParams,
};
use tlsaudit_engine::profile::Component;

fn cert(cn: &str, k: usize) -> CertSummary {
    CertSummary {
        subject: format!("CN={cn}"),
        issuer: "O=PingCAP, OU=TiUP, CN=Cluster CA".into(),
        common_name: Some(cn.into()),
        sans: vec![
            "DNS:localhost".into(),
            format!("IP:10.0.{}.{}", k / 250, k % 250),
        ],
        sans_total: None,
        serial: "01:02:03".into(),
        not_before: "2025-01-01T00:00:00Z".into(),
        not_after: "2035-01-01T00:00:00Z".into(),
        not_before_unix: 1_735_689_600,
        not_after_unix: 2_051_222_400,
        public_key: "ECDSA P-256".into(),
        signature_algorithm: "ecdsa-with-SHA256".into(),
        sha256: format!("{k:064x}"),
        is_ca: false,
        key_usage: vec!["digitalSignature".into()],
        extended_key_usage: vec!["serverAuth".into(), "clientAuth".into()],
        has_eku_extension: true,
        parse_error: None,
    }
}

fn record(ep: &EndpointInfo, id: &IdentityInfo, k: usize, class: OutcomeClass) -> ProbeRecord {
    ProbeRecord {
        target: TargetReport {
            address: ep.address.clone(),
            server_name: "10.0.0.1".into(),
            protocol: "grpc".into(),
            path: None,
            alpn_offered: vec!["h2".into()],
            check_from_alpn: None,
        },
        peer_addr: Some(ep.address.clone()),
        identity: std::sync::Arc::new(IdentityReport {
            name: id.name.clone(),
            cn: id.cn.clone(),
            cert_file: None,
            sha256: None,
            not_after: None,
            check: IdentityCheck {
                has_certificate: true,
                chains_to_ca: true,
                within_validity: true,
                client_auth_eku: true,
                problem: None,
            },
        }),
        started_at: "2025-06-01T00:00:00Z".into(),
        timings: Timings {
            connect_ms: Some(0.4),
            handshake_ms: Some(2.5),
            check_ms: Some(1.1),
            total_ms: 4.0,
        },
        tls: Some(TlsParams {
            version: "TLSv1.3".into(),
            cipher_suite: "TLS13_AES_256_GCM_SHA384".into(),
            alpn: Some("h2".into()),
            key_exchange: Some("X25519".into()),
            client_cert_requested: true,
            client_cert_sent: true,
            ca_hints: Vec::new().into(),
        }),
        server_chain: vec![cert(&ep.name, k), cert("intermediate", k + 1)].into(),
        server_verification: Some(ServerVerification {
            trusted: true,
            server_name: "10.0.0.1".into(),
            reason: None,
            detail: None,
        }),
        outcome: Outcome {
            class,
            phase: Phase::Check,
            summary: "the gRPC health check answered OK".into(),
            authorization: None,
        },
        evidence: Evidence {
            grpc_status: Some(0),
            ..Evidence::default()
        },
        mysql: None,
    }
}

/// `n_ep` endpoints, cycling through the components, spread over 40 racks.
fn synthetic_endpoints(n_ep: usize) -> Vec<EndpointInfo> {
    let components = [
        Component::Pd,
        Component::Tikv,
        Component::Tidb,
        Component::Tiflash,
        Component::Ticdc,
    ];
    (0..n_ep)
        .map(|k| {
            let c = components[k % components.len()];
            EndpointInfo {
                name: format!("{}-{}", c.as_str(), k / components.len() + 1),
                component: c,
                role: tlsaudit_engine::profile::Role::default_for(c),
                address: format!("10.0.{}.{}:20160", k / 250, k % 250),
                allowed_cn: vec!["tidb".into(), "pd".into(), "tikv".into()],
                labels: std::collections::BTreeMap::from([(
                    "rack".to_string(),
                    format!("rack-{:02}", k % 40),
                )]),
            }
        })
        .collect()
}

/// `n_id` configured caller identities.
fn synthetic_identities(n_id: usize) -> Vec<IdentityInfo> {
    (0..n_id)
        .map(|i| IdentityInfo {
            name: format!("caller-{i}"),
            kind: IdentityKind::Configured,
            cn: Some(format!("caller-{i}")),
        })
        .collect()
}

/// The cells, their expectations and up to 300 findings, identity-major, with a verdict mix
/// that cycles through every verdict.
fn synthetic_cells(
    endpoints: &[EndpointInfo],
    identities: &[IdentityInfo],
) -> (Vec<CellState>, Vec<Expected>, Vec<Finding>) {
    let n_ep = endpoints.len();
    let mut cells = Vec::new();
    let mut expected = Vec::new();
    let mut findings = Vec::new();
    for (i, id) in identities.iter().enumerate() {
        for (e, ep) in endpoints.iter().enumerate() {
            let verdict = Verdict::ALL[(i * 7 + e * 3) % 8];
            let class = if verdict == Verdict::Enforced {
                OutcomeClass::CnRejected
            } else {
                OutcomeClass::Accepted
            };
            if verdict.is_failing() && findings.len() < 300 {
                findings.push(
                    Finding::new(
                        tlsaudit_engine::audit::Code::CnNotEnforced,
                        Severity::Critical,
                        format!("{} accepts CN {}", ep.name, id.name),
                        "accepted: the gRPC health check answered OK",
                        "set cert-allowed-cn in tikv.toml and restart",
                    )
                    .endpoint(ep.name.clone())
                    .identity(id.name.clone()),
                );
            }
            expected.push(Expected {
                allow: verdict != Verdict::Enforced,
                ..Expected::none("synthetic")
            });
            cells.push(CellState {
                record: Some(Arc::new(record(ep, id, i * n_ep + e, class))),
                verdict: Some(verdict),
                changed: (i + e) % 17 == 0,
                rotated: (i + e) % 31 == 0,
            });
        }
    }
    (cells, expected, findings)
}

/// Feed `app` ten finished rounds derived from `snapshot`, then `snapshot` itself.
fn with_history(app: &mut App, snapshot: Snapshot, n_ep: usize) {
    // Ten finished rounds in which a few cells change, for the history and the changes view.
    for round in 1..=10u64 {
        let mut s = snapshot.clone();
        s.round = round;
        s.running = false;
        s.finished_at = Some(format!("2025-06-01T00:{round:02}:00Z"));
        for k in (round as usize..s.cells.len()).step_by(97) {
            let cell = (IdentityId(k / n_ep), EndpointId(k % n_ep));
            s.cells[cell].verdict = Some(Verdict::ALL[(k + round as usize) % 8]);
        }
        app.set_snapshot(Arc::new(s));
    }
    app.set_snapshot(Arc::new(snapshot));
}

/// A dashboard of `n_ep` endpoints and `n_id` identities, with ten rounds of history.
fn synthetic(n_ep: usize, n_id: usize) -> App {
    let endpoints = synthetic_endpoints(n_ep);
    let identities = synthetic_identities(n_id);
    let (cells, expected, findings) = synthetic_cells(&endpoints, &identities);
    let (mut cells, mut expected) = (cells.into_iter(), expected.into_iter());
    let cells = Matrix::from_fn(n_id, n_ep, |_, _| cells.next().unwrap());
    let expected = Matrix::from_fn(n_id, n_ep, |_, _| expected.next().unwrap());
    let snapshot = Snapshot {
        cluster: "synthetic".into(),
        round: 7,
        running: true,
        total: n_ep * n_id,
        done: n_ep * n_id / 2,
        started_at: Some("2025-06-01T00:00:00Z".into()),
        finished_at: None,
        identity_names: identities.iter().map(|i| i.name.clone()).collect(),
        endpoint_names: endpoints.iter().map(|e| e.name.clone()).collect(),
        cells,
        findings,
        drift: Vec::new(),
        scans: Vec::new(),
    };
    let mut app = App::new(
        Catalog {
            endpoints,
            identities,
            expected,
            not_checked: Vec::new(),
        },
        Arc::new(snapshot.clone()),
        true,
    );
    with_history(&mut app, snapshot, n_ep);
    app
}

/// The 200 x 10 scenarios, as before: identities as rows.
fn wide() -> App {
    let mut app = synthetic(200, 10);
    app.layout = tui::Layout::ByIdentity;
    app
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

/// Draw `frames` frames, pressing `step` before each; returns the frame times in ms, sorted.
fn measure(app: &mut App, frames: usize, step: &[char]) -> Vec<f64> {
    let Ok(mut terminal) = Terminal::new(TestBackend::new(200, 60));
    let mut times = Vec::with_capacity(frames);
    for n in 0..frames {
        app.handle_key(key(step[n % step.len()]));
        let t = Instant::now();
        let Ok(_) = terminal.draw(|f| tui::draw(f, app));
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times
}

fn report(name: &str, times: &[f64]) {
    if times.is_empty() {
        println!("{name:<34} no frames");
        return;
    }
    #[allow(clippy::cast_precision_loss)]
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    println!(
        "{name:<34} frames {:>5}  mean {mean:>7.3} ms  p99 {p99:>7.3} ms  max {:>7.3} ms  {}",
        times.len(),
        times[times.len() - 1],
        if p99 < 16.0 {
            "ok (< 16 ms)"
        } else {
            "OVER 16 ms"
        }
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let frames = args
        .iter()
        .position(|a| a == "--frames")
        .and_then(|k| args.get(k + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    // First, while this process has allocated nothing else: resident memory is its own.
    history_memory();
    println!("dashboard frame time: 200 endpoints x 10 identities, 200x60");

    let mut app = wide();
    // Sweep right across all 200 columns (horizontal scrolling), then back.
    let sweep: Vec<char> = std::iter::repeat_n('l', 200)
        .chain(std::iter::repeat_n('h', 200))
        .collect();
    report("matrix, moving", &measure(&mut app, frames, &sweep));

    let mut app = wide();
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    report(
        "matrix + detail pane, moving",
        &measure(&mut app, frames, &sweep),
    );

    let mut app = wide();
    app.handle_key(key('f'));
    app.handle_key(key('c'));
    report(
        "components, failing only",
        &measure(&mut app, frames, &['l', 'l', 'j', 'h', 'h', 'k']),
    );

    let mut app = wide();
    app.handle_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    report("findings (300), moving", &measure(&mut app, frames, &['j']));

    fleet(frames);
}

/// Resident memory of this process in kB (Linux `VmRSS`).
fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// 1,000 finished rounds over 200 x 10, a few cells changing each round: the dashboard keeps a
/// bounded history, so resident memory after the first rounds stays flat.
fn history_memory() {
    let (n_ep, n_id) = (200, 10);
    let mut app = synthetic(n_ep, n_id);
    let base = (*app.snapshot).clone();
    let mut marks = Vec::new();
    for round in 1..=1000u64 {
        let mut s = base.clone();
        s.round = 100 + round;
        s.running = false;
        s.finished_at = Some(format!(
            "2025-06-02T{:02}:{:02}:00Z",
            round / 60 % 24,
            round % 60
        ));
        for k in (round as usize % 97..s.cells.len()).step_by(97) {
            let cell = (IdentityId(k / n_ep), EndpointId(k % n_ep));
            s.cells[cell].verdict = Some(Verdict::ALL[(k + round as usize) % 8]);
        }
        app.set_snapshot(Arc::new(s));
        if [100, 250, 500, 750, 1000].contains(&round) {
            marks.push((round, rss_kb()));
        }
    }
    println!("history, 1,000 rounds of 200 x 10: resident memory (VmRSS) by round");
    for (round, kb) in &marks {
        println!("  round {round:>4}: {:.1} MB", *kb as f64 / 1024.0);
    }
    if let (Some((_, first)), Some((_, last))) = (marks.first(), marks.last()) {
        println!(
            "  round 1000 / round 100: {:.3} (flat when close to 1)",
            *last as f64 / (*first).max(1) as f64
        );
    }
}

/// 1,000 endpoints x 12 identities: the transposed view (the default for this shape).
fn fleet(frames: usize) {
    println!("\ndashboard frame time: 1000 endpoints x 12 identities, 200x60");
    let down: Vec<char> = std::iter::repeat_n('j', 1004)
        .chain(std::iter::repeat_n('k', 1004))
        .collect();
    let mut app = synthetic(1000, 12);
    assert!(app.transposed());
    report("transposed, moving down", &measure(&mut app, frames, &down));

    let mut app = synthetic(1000, 12);
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    report(
        "transposed + detail pane, moving",
        &measure(&mut app, frames, &down),
    );

    let mut app = synthetic(1000, 12);
    app.handle_key(key('g'));
    app.handle_key(key('g'));
    app.handle_key(key('c'));
    report(
        "grouped by rack, folded, moving",
        &measure(&mut app, frames, &['j', 'l', 'j', 'h', 'k', 'k']),
    );

    let mut app = synthetic(1000, 12);
    app.handle_key(key('f'));
    report(
        "transposed, failing only",
        &measure(&mut app, frames, &['j', 'l', 'j', 'h']),
    );

    let mut app = synthetic(1000, 12);
    app.layout = tui::Layout::ByIdentity;
    let sweep: Vec<char> = std::iter::repeat_n('l', 1000)
        .chain(std::iter::repeat_n('h', 1000))
        .collect();
    report("identity rows, moving", &measure(&mut app, frames, &sweep));

    let mut app = synthetic(1000, 12);
    app.handle_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::NONE));
    report(
        &format!("changes ({}), moving", app.history.changes_len()),
        &measure(&mut app, frames, &['j']),
    );
}
