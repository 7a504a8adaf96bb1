//! Screen snapshots of the dashboard, rendered with ratatui's `TestBackend` from a real audit of
//! the demo lab. Ports, timings, dates, clock times and fingerprints are filtered out.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;
use tlsaudit_engine::audit::{EndpointId, IdentityId};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tlsaudit::tui::{self, App, Catalog, TuiOptions, View};
use tlsaudit_engine::audit::{Auditor, Plan};
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_lab::Lab;

const FILTERS: &[(&str, &str)] = &[
    (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
    (r"(connect|handshake|check|total) +(\d+\.\d+|-)", "$1 [t]"),
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[date]"),
    (r"\d{2}:\d{2}:\d{2}", "[time]"),
    (r"[0-9a-f]{64}", "[sha256]"),
];

macro_rules! assert_screen {
    ($name:expr, $screen:expr) => {
        insta::with_settings!({ filters => FILTERS.to_vec(), prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!($name, $screen);
        })
    };
}

/// The demo lab after one full round, and a dashboard state on it.
async fn audited() -> (Lab, Arc<Auditor>, App) {
    let (lab, inventory) = tlsaudit::demo::start().await.expect("demo lab");
    let inventory = Inventory::load(&inventory).expect("inventory");
    let auditor = Arc::new(Auditor::new(Plan::new(inventory).expect("plan")));
    auditor.run_round(None).await;
    let mut app = App::new(
        Catalog::from_plan(&auditor.plan()),
        auditor.snapshot(),
        true,
    );
    assert!(app.transposed(), "15 endpoints outnumber 8 identities");
    // These snapshots show the identity-rows layout (`t`).
    app.layout = tui::Layout::ByIdentity;
    app.next_refresh_secs = Some(10);
    (lab, auditor, app)
}

fn screen(app: &mut App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal.draw(|f| tui::draw(f, app)).expect("draw");
    terminal.backend().to_string()
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn select(app: &mut App, identity: &str, endpoint: &str) {
    app.sel_identity = app
        .catalog
        .identities
        .iter()
        .position(|i| i.name == identity)
        .expect("identity");
    app.sel_endpoint = app
        .catalog
        .endpoints
        .iter()
        .position(|e| e.name == endpoint)
        .expect("endpoint");
}

#[tokio::test]
async fn matrix_120x40() {
    let (_lab, _auditor, mut app) = audited().await;
    app.handle_key(key(KeyCode::Char('l')));
    app.handle_key(key(KeyCode::Char('j')));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("Matrix"), "{s}");
    assert_screen!("matrix_120x40", s);
}

#[tokio::test]
async fn detail_blocked_cell_120x40() {
    let (_lab, _auditor, mut app) = audited().await;
    select(&mut app, "tidb", "tikv-2");
    app.handle_key(key(KeyCode::Enter));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("CALLER_NOT_LISTED"), "{s}");
    assert_screen!("detail_blocked_120x40", s);
}

#[tokio::test]
async fn detail_expired_chain_120x40() {
    let (_lab, _auditor, mut app) = audited().await;
    select(&mut app, "tidb", "tidb-2-status");
    app.handle_key(key(KeyCode::Enter));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("EXPIRED"), "{s}");
    assert_screen!("detail_expired_chain_120x40", s);
}

#[tokio::test]
async fn findings_120x40() {
    let (_lab, _auditor, mut app) = audited().await;
    app.handle_key(key(KeyCode::Tab));
    app.handle_key(key(KeyCode::Char('j')));
    let s = screen(&mut app, 120, 40);
    assert_eq!(app.view, View::Findings);
    assert_screen!("findings_120x40", s);
}

/// The findings view says what the audit did not check (here: a scope left endpoints out).
#[tokio::test]
async fn findings_view_lists_what_was_not_checked() {
    let (lab, config) = tlsaudit::demo::start().await.expect("demo lab");
    let mut inventory = Inventory::load(&config).expect("inventory");
    inventory
        .restrict(&tlsaudit_engine::inventory::Scope {
            components: vec![tlsaudit_engine::profile::Component::Tikv],
            ..Default::default()
        })
        .expect("scope");
    let auditor = Arc::new(Auditor::new(Plan::new(inventory).expect("plan")));
    auditor.run_round(None).await;
    let mut app = App::new(
        Catalog::from_plan(&auditor.plan()),
        auditor.snapshot(),
        true,
    );
    app.handle_key(key(KeyCode::Tab));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("Not checked (1)"), "{s}");
    assert!(s.contains("9 of 15 endpoints were left out"), "{s}");
    drop(lab);
}

#[tokio::test]
async fn help_120x40() {
    let (_lab, _auditor, mut app) = audited().await;
    app.handle_key(key(KeyCode::Char('?')));
    let s = screen(&mut app, 120, 40);
    assert_screen!("help_120x40", s);
}

#[tokio::test]
async fn narrow_80x24() {
    let (_lab, _auditor, mut app) = audited().await;
    select(&mut app, "client", "tikv-3");
    let s = screen(&mut app, 80, 24);
    assert_screen!("narrow_80x24", s);
}

#[tokio::test]
async fn narrow_80x24_component_view_failing_only() {
    let (_lab, _auditor, mut app) = audited().await;
    app.handle_key(key(KeyCode::Char('c')));
    app.handle_key(key(KeyCode::Char('f')));
    let s = screen(&mut app, 80, 24);
    assert_screen!("narrow_80x24_components_failing", s);
}

/// Folded by component, tidb -> TiKV shows the blocked gRPC port (not the plaintext status
/// port) with the disagreement mark; Enter lists every TiKV endpoint with its verdict, and Enter
/// again opens the selected one's detail.
#[tokio::test]
async fn folded_80x24_shows_the_worst_and_enter_lists_the_members() {
    let (_lab, _auditor, mut app) = audited().await;
    app.handle_key(key(KeyCode::Char('c')));
    select(&mut app, "tidb", "tikv-1");
    let s = screen(&mut app, 80, 24);
    let row = s.lines().find(|l| l.contains("│tidb ")).expect("tidb row");
    assert!(row.contains("[X]≠"), "{s}");
    assert!(s.contains("worst tikv-2"), "{s}");
    assert_screen!("folded_80x24", s);

    app.handle_key(key(KeyCode::Enter));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("tidb -> TiKV: 6 endpoints, 4 verdicts"), "{s}");
    for member in [
        "X blocked     tikv-2 ",
        "P unencrypted tikv-3-status",
        "+ secure      tikv-1 ",
    ] {
        assert!(s.contains(member), "{member} listed:\n{s}");
    }
    assert_screen!("folded_members_80x24", s);

    app.handle_key(key(KeyCode::Enter));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("tidb -> tikv-2"), "{s}");
    assert!(s.contains("CALLER_NOT_LISTED"), "{s}");
}

#[tokio::test]
async fn narrow_80x24_detail_replaces_the_matrix() {
    let (_lab, _auditor, mut app) = audited().await;
    select(&mut app, "anonymous", "tikv-3");
    app.handle_key(key(KeyCode::Enter));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("anonymous -> tikv-3"), "{s}");
    assert_screen!("narrow_80x24_detail", s);
}

#[tokio::test]
async fn changed_and_rotated_cells_are_marked() {
    let (_lab, _auditor, mut app) = audited().await;
    let mut snap = (*app.snapshot).clone();
    let tidb = app
        .catalog
        .identities
        .iter()
        .position(|i| i.name == "tidb")
        .expect("tidb");
    let pd1 = app
        .catalog
        .endpoints
        .iter()
        .position(|e| e.name == "pd-1")
        .expect("pd-1");
    let pd2 = app
        .catalog
        .endpoints
        .iter()
        .position(|e| e.name == "pd-2")
        .expect("pd-2");
    snap.cells[(IdentityId(tidb), EndpointId(pd1))].changed = true;
    snap.cells[(IdentityId(tidb), EndpointId(pd2))].changed = true;
    snap.cells[(IdentityId(tidb), EndpointId(pd2))].rotated = true;
    app.set_snapshot(Arc::new(snap));
    // Keep the selection off the tidb row so its cells show their plain markers.
    select(&mut app, "pd", "tikv-1");
    let s = screen(&mut app, 120, 40);
    let row = s.lines().find(|l| l.contains("│tidb ")).expect("tidb row");
    assert!(row.contains("+*") && row.contains("+~"), "{row}");
    select(&mut app, "tidb", "pd-2");
    app.handle_key(key(KeyCode::Enter));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("[+]~"), "{s}");
    assert!(
        s.contains("~ rotated: the server certificate changed"),
        "{s}"
    );
    assert!(s.contains("* changed since the previous round"), "{s}");
}

/// The loop itself on a `TestBackend`: keys in, frames out, `q` returns.
#[tokio::test]
async fn loop_draws_handles_keys_and_quits() {
    let (_lab, auditor, mut app) = audited().await;
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    for c in ['l', 'j', 'f'] {
        tx.send(Event::Key(key(KeyCode::Char(c)))).expect("send");
    }
    tx.send(Event::Key(key(KeyCode::Enter))).expect("send");
    tx.send(Event::Key(key(KeyCode::Char('e')))).expect("send");
    let opts = TuiOptions {
        interval: Duration::from_secs(3600),
        color: false,
        baseline: None,
        export: Some(Box::new(|snap| {
            Ok(std::path::PathBuf::from(format!(
                "/tmp/round-{}.json",
                snap.round
            )))
        })),
    };
    let handle = tokio::spawn(async move {
        let r = tui::run_loop(&mut terminal, &mut app, auditor, rx, &opts).await;
        (r, terminal, app)
    });
    // No sleep: the loop takes events in order and draws after each, so the frame before `q`
    // is the one after the export.
    tx.send(Event::Key(key(KeyCode::Char('q')))).expect("send");
    let (r, terminal, app) = tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("the loop returns after q")
        .expect("join");
    r.expect("loop result");
    assert!(app.failing_only && app.detail_open());
    let s = terminal.backend().to_string();
    assert!(s.contains("failing only"), "{s}");
    assert!(
        s.contains("JSON report written to /tmp/round-1.json"),
        "{s}"
    );
}
