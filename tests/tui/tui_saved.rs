//! `tui --from`: the dashboard on a saved, merged report. Two audits of the demo lab, one from a
//! vantage point whose route to tikv-1 is cut (its inventory points tikv-1 at a port nothing
//! listens on), written as JSON reports, read back and merged; the detail of a merged cell lists
//! the verdict per vantage point (TestBackend + insta), and the loop draws, refuses to probe and
//! quits. Ports, dates and timings are filtered out.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tlsaudit::tui::{self, App};
use tlsaudit_engine::audit::{Auditor, Plan};
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_report::merge;
use tlsaudit_report::Report as SavedReport;

const FILTERS: &[(&str, &str)] = &[
    (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
    (r"(connect|handshake|check|total) +(\d+\.\d+|-)", "$1 [t]"),
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[date]"),
    (r"\d{2}:\d{2}:\d{2}", "[time]"),
    (r"[0-9a-f]{64}", "[sha256]"),
];

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// One audit of `config` as the JSON report of `vantage`, read back.
async fn saved(config: &Path, vantage: &str) -> SavedReport {
    let auditor = Auditor::new(Plan::new(Inventory::load(config).unwrap()).unwrap());
    let snap = auditor.run_round(None).await;
    let mut report = tlsaudit_report::Report::build(&auditor.plan(), &snap);
    report.vantage = Some(vantage.to_string());
    let json = report.to_json().unwrap();
    SavedReport::parse(&json, vantage).unwrap()
}

/// The dashboard on the merge of rack-a (all reachable) and rack-b (tikv-1 cut).
async fn merged_app() -> App {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let tikv1 = lab
        .endpoints()
        .iter()
        .find(|e| e.name == "tikv-1")
        .unwrap()
        .addr
        .to_string();
    let dead = format!("127.0.0.1:{}", tlsaudit_testkit::free_port());
    let text = std::fs::read_to_string(&config).unwrap();
    let cut = config.with_file_name("rack-b.toml");
    std::fs::write(&cut, text.replace(&tikv1, &dead)).unwrap();
    let a = saved(&config, "rack-a").await;
    let b = saved(&cut, "rack-b").await;
    lab.stop().await;
    let inputs = vec![
        merge::input(Path::new("rack-a.json"), a).unwrap(),
        merge::input(Path::new("rack-b.json"), b).unwrap(),
    ];
    merge::check(&inputs).unwrap();
    let doc = merge::merge(&inputs);
    // Written and read back as `tui --from merged.json` does.
    let doc = SavedReport::parse(&doc.to_json().unwrap(), "merged.json").unwrap();
    let mut app = tui::saved::app(&doc, "merged.json", false).unwrap();
    app.layout = tui::Layout::ByIdentity;
    app
}

fn select(app: &mut App, identity: &str, endpoint: &str) {
    app.sel_identity = app
        .catalog
        .identities
        .iter()
        .position(|i| i.name == identity)
        .unwrap();
    app.sel_endpoint = app
        .catalog
        .endpoints
        .iter()
        .position(|e| e.name == endpoint)
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merged_cells_detail_lists_the_verdict_per_vantage_point() {
    let mut app = merged_app().await;
    select(&mut app, "tidb", "tikv-1");
    app.handle_key(key(KeyCode::Enter));
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal.draw(|f| tui::draw(f, &mut app)).unwrap();
    let s = terminal.backend().to_string();
    assert!(s.contains("Vantage ≠ rack-a: + secure (accepted)"), "{s}");
    assert!(s.contains("rack-b: ? unreachable (refused)"), "{s}");
    insta::with_settings!({ filters => FILTERS.to_vec(), prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("saved_merged_detail_120x40", s);
    });
    // A cell both vantage points agree on lists both, without the mark.
    select(&mut app, "tidb", "pd-1");
    terminal.draw(|f| tui::draw(f, &mut app)).unwrap();
    let s = terminal.backend().to_string();
    assert!(s.contains("Vantage   rack-a: + secure"), "{s}");
    assert!(!s.contains("Vantage ≠"), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saved_loop_draws_probes_nothing_and_quits() {
    let mut app = merged_app().await;
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tx.send(Event::Key(key(KeyCode::Char('r')))).unwrap();
    let handle = tokio::spawn(async move {
        let r = tui::saved::run_loop(&mut terminal, &mut app, rx).await;
        (r, terminal, app)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    tx.send(Event::Key(key(KeyCode::Char('q')))).unwrap();
    let (r, terminal, app) = tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("the loop returns after q")
        .unwrap();
    r.unwrap();
    assert!(app.saved);
    // The last frame, drawn after `r`: its status says nothing is probed.
    let s = terminal.backend().to_string();
    assert!(s.contains("nothing is probed here"), "{s}");
}
