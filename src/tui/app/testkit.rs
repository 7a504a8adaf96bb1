//! The unit tests' shared fixture: a small audit of four endpoints and three identities, and
//! key events.

use std::collections::BTreeMap;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tlsaudit_engine::audit::{
    CellState, Code, EndpointId, Expected, Finding, IdentityId, IdentityKind, Matrix, Severity,
    Snapshot, Verdict,
};
use tlsaudit_engine::profile::{Component, Role};

use super::{App, Catalog, EndpointInfo, Grid, IdentityInfo, Layout};

pub(super) fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

pub(super) fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

pub(super) fn cell(v: Option<Verdict>) -> CellState {
    CellState {
        record: None,
        verdict: v,
        changed: false,
        rotated: false,
    }
}

/// Endpoints `pd-1, kv-1, pd-2, db-1` (deliberately interleaved) x identities `a, b, c`.
/// Failing: b at kv-1 (open), c at db-1 (blocked).
pub(super) fn app() -> App {
    let eps = [
        ("pd-1", Component::Pd),
        ("kv-1", Component::Tikv),
        ("pd-2", Component::Pd),
        ("db-1", Component::Tidb),
    ];
    let ids = ["a", "b", "c"];
    let catalog = Catalog {
        endpoints: eps
            .iter()
            .enumerate()
            .map(|(k, (n, c))| EndpointInfo {
                name: (*n).to_string(),
                component: *c,
                role: Role::default_for(*c),
                address: format!("10.0.0.{k}:1000"),
                allowed_cn: vec![],
                labels: BTreeMap::from([("rack".to_string(), format!("r{}", k % 2))]),
            })
            .collect(),
        identities: ids
            .iter()
            .map(|n| IdentityInfo {
                name: (*n).to_string(),
                kind: IdentityKind::Configured,
                cn: Some((*n).to_string()),
            })
            .collect(),
        expected: Matrix::from_fn(3, 4, |_, _| Expected {
            allow: true,
            intent: Some(tlsaudit_engine::audit::Intent::MustAdmit),
            ..Expected::none("test")
        }),
        not_checked: Vec::new(),
    };
    let at = |i, e| (IdentityId(i), EndpointId(e));
    let mut cells = Matrix::from_fn(3, 4, |_, _| cell(Some(Verdict::Secure)));
    cells[at(1, 1)] = cell(Some(Verdict::Open));
    cells[at(2, 3)] = cell(Some(Verdict::Blocked));
    let finding = |code: Code, sev, ep: Option<&str>, id: Option<&str>| {
        Finding::new(code, sev, code.to_string(), "", "")
            .endpoint(ep.map(str::to_string))
            .identity(id.map(str::to_string))
    };
    let snapshot = Snapshot {
        cluster: "t".into(),
        round: 1,
        running: false,
        total: 12,
        done: 12,
        started_at: None,
        finished_at: None,
        identity_names: ids.iter().map(|s| (*s).to_string()).collect(),
        endpoint_names: eps.iter().map(|(n, _)| (*n).to_string()).collect(),
        cells,
        findings: vec![
            finding(Code::NoAllowList, Severity::Info, Some("pd-2"), None),
            finding(
                Code::CallerNotListed,
                Severity::Critical,
                Some("db-1"),
                Some("c"),
            ),
            finding(Code::CertExpiring, Severity::Warning, None, Some("b")),
            finding(Code::PartialTls, Severity::Critical, None, None),
        ],
        drift: Vec::new(),
        scans: Vec::new(),
    };
    let mut app = App::new(catalog, Arc::new(snapshot), false);
    assert!(app.transposed(), "4 endpoints outnumber 3 identities");
    // These tests drive the identity-rows layout.
    app.layout = Layout::ByIdentity;
    app
}

pub(super) fn names(app: &App, grid: &Grid) -> Vec<String> {
    grid.cols
        .iter()
        .map(|c| {
            c.endpoints
                .iter()
                .map(|&e| app.catalog.endpoints[e].name.as_str())
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect()
}
