//! The drawing tests' shared fixture: a synthetic audit of any size, a frame of it as text,
//! key presses.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tlsaudit_engine::audit::{CellState, Expected, IdentityKind, Matrix, Snapshot, Verdict};
use tlsaudit_engine::profile::Component;

use super::draw;
use crate::tui::app::{App, Catalog, EndpointInfo, IdentityInfo, Layout};

/// `n_ep` endpoints in 4 components x `n_id` identities; verdicts cycle, none recorded.
pub(super) fn big(n_ep: usize, n_id: usize) -> App {
    let comps = [
        Component::Pd,
        Component::Tikv,
        Component::Tidb,
        Component::Tiflash,
    ];
    let endpoints: Vec<EndpointInfo> = (0..n_ep)
        .map(|k| {
            let c = comps[k * comps.len() / n_ep];
            EndpointInfo {
                name: format!("{}-{k}", c.as_str()),
                component: c,
                role: tlsaudit_engine::profile::Role::default_for(c),
                address: format!("10.0.0.{k}:20160"),
                allowed_cn: vec![],
                labels: std::collections::BTreeMap::new(),
            }
        })
        .collect();
    let identities: Vec<IdentityInfo> = (0..n_id)
        .map(|i| IdentityInfo {
            name: format!("id-{i}"),
            kind: IdentityKind::Configured,
            cn: None,
        })
        .collect();
    let cells = Matrix::from_fn(n_id, n_ep, |i, e| CellState {
        record: None,
        verdict: Some(Verdict::ALL[(i.0 * n_ep + e.0) % 8]),
        changed: false,
        rotated: false,
    });
    let snapshot = Snapshot {
        cluster: "big".into(),
        round: 2,
        running: true,
        total: 88,
        done: 40,
        started_at: None,
        finished_at: None,
        identity_names: identities.iter().map(|i| i.name.clone()).collect(),
        endpoint_names: endpoints.iter().map(|e| e.name.clone()).collect(),
        cells,
        findings: Vec::new(),
        drift: Vec::new(),
        scans: Vec::new(),
    };
    let expected = Matrix::from_fn(n_id, n_ep, |_, _| Expected {
        allow: true,
        intent: Some(tlsaudit_engine::audit::Intent::MustAdmit),
        ..Expected::none("test")
    });
    let mut app = App::new(
        Catalog {
            endpoints,
            identities,
            expected,
            not_checked: Vec::new(),
        },
        Arc::new(snapshot),
        false,
    );
    app.layout = Layout::ByIdentity;
    app
}

pub(super) fn frame(app: &mut App, w: u16, h: u16) -> String {
    let Ok(mut t) = Terminal::new(TestBackend::new(w, h));
    let Ok(_) = t.draw(|f| draw(f, app));
    t.backend().to_string()
}

pub(super) fn press(app: &mut App, c: char, times: usize) {
    for _ in 0..times {
        app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
}
