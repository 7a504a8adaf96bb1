//! The dashboard at fleet scale (1,000 endpoints x 6 identities, synthetic, drawn with
//! `TestBackend`): the transposed view, rows grouped by an inventory label and folded, the
//! changes view; and the round history's memory staying flat over 1,000 rounds of 200 x 10.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tlsaudit::tui::{self, App, Catalog, EndpointInfo, GroupBy, IdentityInfo, View};
use tlsaudit_engine::audit::{CellState, Expected, IdentityKind, Matrix, Snapshot, Verdict};
use tlsaudit_engine::profile::{Component, Role};

const COMPONENTS: [Component; 4] = [
    Component::Pd,
    Component::Tikv,
    Component::Tidb,
    Component::Tiflash,
];

/// A deterministic verdict: mostly secure or enforced, a few failures at fixed places.
fn verdict(i: usize, e: usize) -> Verdict {
    match (e * 7 + i * 3) % 97 {
        0 => Verdict::Open,
        5 => Verdict::Blocked,
        11 => Verdict::Untrusted,
        _ if i >= 4 => Verdict::Enforced,
        _ => Verdict::Secure,
    }
}

fn snapshot(round: u64, n_ep: usize, n_id: usize, f: impl Fn(usize, usize) -> Verdict) -> Snapshot {
    let cells = Matrix::from_fn(n_id, n_ep, |i, e| CellState {
        record: None,
        verdict: Some(f(i.0, e.0)),
        changed: false,
        rotated: false,
    });
    Snapshot {
        cluster: "fleet".into(),
        round,
        running: false,
        total: n_ep * n_id,
        done: n_ep * n_id,
        started_at: None,
        finished_at: Some(format!(
            "2026-03-01T10:{:02}:{:02}Z",
            round / 60 % 60,
            round % 60
        )),
        identity_names: (0..n_id).map(|i| format!("id-{i}")).collect(),
        endpoint_names: (0..n_ep).map(|e| format!("ep-{e}")).collect(),
        cells,
        findings: Vec::new(),
        drift: Vec::new(),
        scans: Vec::new(),
    }
}

fn catalog(n_ep: usize, n_id: usize) -> Catalog {
    let names = ["tidb", "tikv", "pd", "tiflash", "client", "anonymous"];
    Catalog {
        endpoints: (0..n_ep)
            .map(|e| {
                let c = COMPONENTS[e % COMPONENTS.len()];
                EndpointInfo {
                    name: format!("{}-{:04}.prod.example", c.as_str(), e),
                    component: c,
                    role: Role::default_for(c),
                    address: format!("10.{}.{}.{}:20160", e / 250, e % 250, e % 7),
                    allowed_cn: vec![],
                    labels: BTreeMap::from([
                        ("rack".to_string(), format!("rack-{:02}", e % 25)),
                        ("zone".to_string(), format!("az{}", e % 3)),
                    ]),
                }
            })
            .collect(),
        identities: (0..n_id)
            .map(|i| IdentityInfo {
                name: names.get(i).map_or(format!("id-{i}"), |n| (*n).to_string()),
                kind: IdentityKind::Configured,
                cn: None,
            })
            .collect(),
        expected: Matrix::from_fn(n_id, n_ep, |_, _| Expected {
            allow: true,
            ..Expected::none("synthetic")
        }),
        not_checked: Vec::new(),
    }
}

fn fleet() -> App {
    let mut app = App::new(
        catalog(1000, 6),
        Arc::new(snapshot(1, 1000, 6, verdict)),
        false,
    );
    app.next_refresh_secs = Some(10);
    app
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| tui::draw(f, app)).unwrap();
    t.backend().to_string()
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        app.handle_key(key(c));
    }
}

macro_rules! assert_screen {
    ($name:expr, $screen:expr) => {
        insta::with_settings!({ prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!($name, $screen);
        })
    };
}

#[test]
fn transposed_1000x6_names_endpoints_in_rows() {
    let mut app = fleet();
    assert!(app.transposed(), "the default follows the shape");
    typed(&mut app, "jjjl");
    let s = screen(&mut app, 120, 40);
    assert!(
        s.contains("Matrix: endpoints x identities, by component"),
        "{s}"
    );
    assert!(s.contains("- PD (250)"), "{s}");
    assert!(
        s.contains("pd-0004.prod.example"),
        "full endpoint names:\n{s}"
    );
    assert_eq!(s.matches('[').count(), 1, "one selected cell:\n{s}");
    assert_screen!("fleet_transposed_1000x6_120x40", s);
    // `t` goes back to identity rows.
    app.handle_key(key('t'));
    assert!(!screen(&mut app, 120, 40).contains("endpoints x identities"));
}

#[test]
fn grouped_by_rack_and_folded_1000x6() {
    let mut app = fleet();
    typed(&mut app, "gg");
    assert_eq!(app.group_by, GroupBy::Label("rack".into()));
    app.handle_key(key('c'));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("by label rack"), "{s}");
    assert!(s.contains("+ rack-00 (40)"), "{s}");
    assert!(s.contains("rows 1-25/25"), "25 folded groups:\n{s}");
    assert_screen!("fleet_grouped_rack_folded_1000x6_120x40", s);
    // Jump to an endpoint: its group unfolds, it is selected.
    app.handle_key(key('s'));
    typed(&mut app, "tikv-0517");
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("- rack-17 (40)"), "{s}");
    let line = s.lines().find(|l| l.contains('[')).unwrap();
    assert!(line.contains("tikv-0517.prod.example"), "{s}");
}

#[test]
fn changes_view_newest_first() {
    let mut app = fleet();
    app.set_snapshot(Arc::new(snapshot(2, 1000, 6, |i, e| {
        if (i, e) == (4, 513) {
            Verdict::Open
        } else {
            verdict(i, e)
        }
    })));
    app.set_snapshot(Arc::new(snapshot(3, 1000, 6, |i, e| match (i, e) {
        (4, 513) => Verdict::Open,
        (0, 2) => Verdict::Blocked,
        (2, 7) => Verdict::Unencrypted,
        _ => verdict(i, e),
    })));
    app.handle_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::NONE));
    assert_eq!(app.view, View::Changes);
    let s = screen(&mut app, 120, 20);
    assert_screen!("fleet_changes_120x20", s);
    let rounds: Vec<u64> = app.history.changes().map(|c| c.round).collect();
    assert_eq!(rounds, [3, 3, 2]);
}

/// 1,000 rounds over 200 x 10 with verdicts changing every round: the history's memory is the
/// same after round 100 as after round 1,000.
#[test]
fn history_memory_is_flat_over_1000_rounds() {
    let mut h = tui::history::History::new(tui::history::DEFAULT_ROUNDS);
    let mut at_100 = 0;
    for round in 1..=1000u64 {
        let flip = usize::try_from(round).unwrap();
        let snap = snapshot(round, 200, 10, |i, e| {
            if (i * 200 + e + flip) % 50 == 0 {
                Verdict::Open
            } else {
                Verdict::Secure
            }
        });
        h.record(&snap);
        if round == 100 {
            at_100 = h.heap_bytes();
        }
    }
    assert_eq!(h.len(), tui::history::DEFAULT_ROUNDS);
    assert_eq!(h.changes_len(), tui::history::LOG_CAP);
    assert!(at_100 > 0);
    assert_eq!(
        h.heap_bytes(),
        at_100,
        "memory grew between round 100 and 1,000"
    );
    // About 20 rounds x 2,000 cells plus the log: well under a megabyte.
    assert!(h.heap_bytes() < 1 << 20, "{}", h.heap_bytes());
}
