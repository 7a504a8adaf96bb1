//! The dashboard against a baseline report (`tui --baseline`), as `report --baseline` sees it:
//! a lab TiKV that rotated its certificate since the baseline is marked `~` in the matrix and
//! listed in the changes view, the same endpoints `report --baseline` lists; an identity the
//! baseline did not have is one line, not a "pending -> secure" change per cell.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tlsaudit::tui::{self, app::App, app::Catalog, history, Baseline};
use tlsaudit_engine::audit::{Auditor, Plan};
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_engine::pki::mint::Ca;
use tlsaudit_lab::{EndpointSpec, Lab, LabSpec};
use tlsaudit_report::Report;

/// Two TiKVs of the lab, the tidb identity; `foreign` as asked.
fn inventory(lab: &Lab, dir: &Path, foreign: bool) -> Inventory {
    let pki = lab.pki();
    let tidb = &pki.identities["tidb"];
    let mut text = format!(
        "[cluster]\nname = \"base\"\nca = {:?}\n\n[probe]\nunlisted = false\nforeign = {foreign}\n\n\
         [identities.tidb]\ncert = {:?}\nkey = {:?}\n",
        pki.ca_cert.display().to_string(),
        tidb.cert.display().to_string(),
        tidb.key.display().to_string(),
    );
    for name in ["tikv-1", "tikv-2"] {
        text.push_str(&format!(
            "[[endpoints]]\nname = \"{name}\"\ncomponent = \"tikv\"\nrole = \"grpc\"\naddress = \"{}\"\nallowed_cn = [\"tidb\"]\n",
            lab.endpoint(name).unwrap().addr
        ));
    }
    let path = dir.join(format!("inv-{foreign}.toml"));
    std::fs::write(&path, text).unwrap();
    Inventory::load(&path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_marks_what_report_baseline_marks() {
    let dir = tempfile::tempdir().unwrap();
    let mut lab = Lab::start(
        LabSpec::new("base")
            .with(EndpointSpec::tikv_grpc("tikv-1", &["tidb"]))
            .with(EndpointSpec::tikv_grpc("tikv-2", &["tidb"])),
    )
    .await
    .unwrap();
    // The baseline: without the foreign identity.
    let before = Auditor::new(Plan::new(inventory(&lab, dir.path(), false)).unwrap());
    let snap = before.run_round(None).await;
    let baseline = Report::build(&before.plan(), &snap);
    // tikv-1 rotates its certificate (the same CA).
    let pki = lab.pki().clone();
    let issued = Ca::load(&pki.ca_cert, &pki.ca_key)
        .unwrap()
        .issue("tikv", &["127.0.0.1".to_string()], true, 30)
        .unwrap();
    let (cert, key) = (dir.path().join("tikv.crt"), dir.path().join("tikv.pem"));
    std::fs::write(&cert, issued.cert_pem).unwrap();
    std::fs::write(&key, issued.key_pem).unwrap();
    let spec = lab
        .spec("tikv-1")
        .unwrap()
        .clone()
        .with_server_files(&cert, &key);
    lab.reconfigure(spec).unwrap();

    // Now, with the foreign identity too.
    let auditor = Arc::new(Auditor::new(
        Plan::new(inventory(&lab, dir.path(), true)).unwrap(),
    ));
    let snap = auditor.run_round(None).await;
    let mut report = Report::build(&auditor.plan(), &snap);
    report.set_baseline(&baseline, "before.json");
    let rotated_by_report: BTreeSet<String> = report
        .baseline
        .as_ref()
        .unwrap()
        .rotations
        .iter()
        .map(|r| r.endpoint.clone())
        .collect();
    assert_eq!(rotated_by_report, BTreeSet::from(["tikv-1".to_string()]));

    let catalog = Catalog::from_plan(&auditor.plan());
    let b = Baseline {
        verdicts: history::baseline_verdicts(&baseline, &catalog),
        report: Arc::new(baseline),
        file: "before.json".into(),
    };
    let mut app = App::new(catalog, auditor.snapshot(), false);
    app.history.seed(&b.verdicts);
    app.set_snapshot(auditor.snapshot());
    app.baseline_diff = Some(b.diff(&auditor.plan(), &auditor.snapshot()));
    for (e, name) in ["tikv-1", "tikv-2"].iter().enumerate() {
        assert_eq!(
            app.rotated_since_baseline(e),
            rotated_by_report.contains(*name)
        );
    }
    assert_eq!(
        app.history.changes_len(),
        0,
        "no verdict changed; foreign's cells are new"
    );

    let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
    terminal.draw(|f| tui::draw(f, &mut app)).unwrap();
    let matrix = terminal.backend().to_string();
    assert!(
        matrix.contains('~'),
        "the rotated endpoint is marked:\n{matrix}"
    );
    // The changes view (Tab from the matrix, past the findings).
    app.handle_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    terminal.draw(|f| tui::draw(f, &mut app)).unwrap();
    let changes = terminal.backend().to_string();
    assert!(
        changes.contains("~ tikv-1  server certificate changed since the baseline"),
        "{changes}"
    );
    assert!(!changes.contains("~ tikv-2"), "{changes}");
    assert!(
        changes
            .contains("identities not in the baseline (their cells are new, not changes): foreign"),
        "{changes}"
    );
    assert!(!changes.contains("pending ->"), "{changes}");
    lab.stop().await;
}
