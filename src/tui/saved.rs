//! `tui --from FILE.json`: the dashboard on a saved report (one audit, or a merge of several
//! vantage points). The report model is turned back into the dashboard's catalog and one
//! finished snapshot; no round runs, and the detail of a merged cell lists the verdict per
//! vantage point.

use std::io;
use std::sync::Arc;

use crossterm::event::Event;
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::Terminal;
use tokio::sync::mpsc;

use tlsaudit_engine::audit::{CellState, Finding, Matrix, Snapshot};
use tlsaudit_engine::error::InputError;
use tlsaudit_engine::profile::{Component, Role};
use tlsaudit_report::Report;

use super::app::{Action, App, Catalog, EndpointInfo, IdentityInfo};
use crate::cli::output::{self, ReportFormat};

/// What to do with a report whose names this version does not know.
const NEWER: &str =
    "open it with the tlsaudit version that wrote it, or render it with `tlsaudit report --from`";

/// The report's endpoints as the dashboard's; `file` names the report in errors.
fn endpoints(doc: &Report, file: &str) -> Result<Vec<EndpointInfo>, InputError> {
    let mut endpoints = Vec::with_capacity(doc.endpoints.len());
    for e in &doc.endpoints {
        let component: Component = e.component.known().ok_or_else(|| {
            InputError::usage(
                format!(
                    "{file}: endpoint {}: unknown component {:?}",
                    e.name,
                    e.component.as_str()
                ),
                NEWER,
            )
        })?;
        let role = Role::parse(component, &e.role).ok_or_else(|| {
            InputError::usage(
                format!(
                    "{file}: endpoint {}: unknown role {:?} of {}",
                    e.name, e.role, e.component
                ),
                NEWER,
            )
        })?;
        endpoints.push(EndpointInfo {
            name: e.name.clone(),
            component,
            role,
            address: e.address.clone(),
            allowed_cn: e.allowed_cn.clone(),
            labels: Default::default(),
        });
    }
    Ok(endpoints)
}

/// The report's identities as the dashboard's.
fn identities(doc: &Report, file: &str) -> Result<Vec<IdentityInfo>, InputError> {
    doc.identities
        .iter()
        .map(|i| {
            let kind = i.kind.known().ok_or_else(|| {
                InputError::usage(
                    format!(
                        "{file}: identity {}: unknown kind {:?}",
                        i.name,
                        i.kind.as_str()
                    ),
                    NEWER,
                )
            })?;
            Ok(IdentityInfo {
                name: i.name.clone(),
                kind,
                cn: i.cn.clone(),
            })
        })
        .collect()
}

/// The report's findings as the engine's.
fn findings(doc: &Report, file: &str) -> Result<Vec<Finding>, InputError> {
    doc.findings
        .iter()
        .map(|f| {
            f.to_engine().ok_or_else(|| {
                InputError::usage(
                    format!(
                        "{file}: finding {} of severity {}: unknown to this version",
                        f.code, f.severity
                    ),
                    NEWER,
                )
            })
        })
        .collect()
}

/// The dashboard's state on a saved report; `file` names it in errors.
pub fn app(doc: &Report, file: &str, color: bool) -> Result<App, InputError> {
    let (n_id, n_ep) = (doc.identities.len(), doc.endpoints.len());
    // A report read back keeps its cells in matrix order (identity-major), holes filled.
    let cell = |i: usize, e: usize| doc.cell(i, e);
    let catalog = Catalog {
        endpoints: endpoints(doc, file)?,
        identities: identities(doc, file)?,
        expected: Matrix::from_fn(n_id, n_ep, |i, e| cell(i.0, e.0).expected.clone()),
        not_checked: doc.not_checked.clone(),
    };
    let snapshot = Snapshot {
        cluster: doc.cluster.name.clone(),
        round: 1,
        running: false,
        total: doc.cells.len(),
        done: doc.cells.len(),
        started_at: doc.started_at.clone(),
        finished_at: doc.finished_at.clone(),
        identity_names: doc.identities.iter().map(|i| i.name.clone()).collect(),
        endpoint_names: doc.endpoints.iter().map(|e| e.name.clone()).collect(),
        cells: Matrix::from_fn(n_id, n_ep, |i, e| {
            let c = cell(i.0, e.0);
            CellState {
                record: c.record.clone(),
                verdict: c.verdict,
                changed: c.changed,
                rotated: c.rotated,
            }
        }),
        findings: findings(doc, file)?,
        drift: doc.endpoints.iter().map(|e| e.drift.clone()).collect(),
        scans: doc
            .endpoints
            .iter()
            .map(|e| e.scan.clone().map(Arc::new))
            .collect(),
    };
    let mut app = App::new(catalog, Arc::new(snapshot), color);
    app.last_finished = doc.finished_at.clone();
    app.saved = true;
    if doc.vantages.is_some() {
        app.by_vantage = doc.cells.iter().map(|c| c.by_vantage.clone()).collect();
    }
    Ok(app)
}

/// The loop on a saved report, on any backend: draws, then waits for a key. Returns on
/// `q`/Ctrl-C or when `events` closes.
pub async fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    mut events: mpsc::UnboundedReceiver<Event>,
) -> io::Result<()> {
    loop {
        if let Err(e) = terminal.draw(|f| super::draw(f, app)) {
            return Err(io::Error::other(e.to_string()));
        }
        let Some(ev) = events.recv().await else {
            return Ok(());
        };
        if let Event::Key(key) = ev {
            match app.handle_key(key) {
                Action::Quit => return Ok(()),
                Action::Reprobe(_) | Action::Export => {
                    app.status = Some("a saved report: nothing is probed here".into());
                }
                Action::None => {}
            }
        }
    }
}

/// `tui --from FILE`: the dashboard on a saved report (the JSON report when stdout is not a
/// terminal); the exit code is 1 when a finding is critical, as `tui`'s.
pub async fn run_from(path: &std::path::Path, terminal: bool) -> Result<u8, InputError> {
    let doc = Report::load(path)?;
    let code = u8::from(doc.fails(tlsaudit_engine::audit::Severity::Critical));
    if !terminal {
        output::write(&doc, ReportFormat::Json, None)?;
        return Ok(code);
    }
    let app = app(&doc, &path.display().to_string(), super::color_from_env())?;
    run(app).await.map_err(|e| {
        InputError::usage(
            format!("the terminal failed: {e}"),
            "run it in a terminal, or use `tlsaudit report --from` for a report",
        )
    })?;
    Ok(code)
}

/// Open the dashboard on a saved report until `q` or Ctrl-C.
pub async fn run(mut app: App) -> io::Result<()> {
    let guard = super::TerminalGuard::enter()?;
    let result = async {
        let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        terminal.clear()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(super::forward_events(tx));
        let result = run_loop(&mut terminal, &mut app, rx).await;
        reader.abort();
        result
    }
    .await;
    let restored = guard.restore();
    result.and(restored)
}
