//! The dashboard's state machine: what is selected, filtered and shown. Keys go in, [`Action`]s
//! that need the auditor (re-probe, export, quit) come out; nothing here does I/O, so every
//! transition is unit-tested without a terminal.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use tlsaudit_engine::audit::{
    CellId, CellState, EndpointId, Expected, Finding, IdentityId, IdentityKind, Matrix, Plan,
    Snapshot, Verdict,
};
use tlsaudit_engine::profile::{Component, Role};

/// What the dashboard shows of an endpoint (copied from the plan, so that benches and tests can
/// build one without a PKI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointInfo {
    pub name: String,
    pub component: Component,
    pub role: Role,
    pub address: String,
    pub allowed_cn: Vec<String>,
}

/// What the dashboard shows of a caller identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityInfo {
    pub name: String,
    pub kind: IdentityKind,
    pub cn: Option<String>,
}

/// The fixed part of an audit: endpoints, identities and what each cell should do.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub endpoints: Vec<EndpointInfo>,
    pub identities: Vec<IdentityInfo>,
    /// Row-major like the snapshot: `expected[identity * endpoints + endpoint]`.
    pub expected: Matrix<Expected>,
}

impl Catalog {
    /// Copy what the dashboard needs out of a plan.
    pub fn from_plan(plan: &Plan) -> Catalog {
        Catalog {
            endpoints: plan
                .endpoints()
                .iter()
                .map(|e| EndpointInfo {
                    name: e.name.clone(),
                    component: e.component,
                    role: e.role,
                    address: e.address.clone(),
                    allowed_cn: e.allowed_cn.clone(),
                })
                .collect(),
            identities: plan
                .identities
                .iter()
                .map(|i| IdentityInfo {
                    name: i.name.clone(),
                    kind: i.kind,
                    cn: i.caller.identity.cn().map(str::to_string),
                })
                .collect(),
            expected: plan.expected.clone(),
        }
    }

    pub fn expected(&self, identity: usize, endpoint: usize) -> Option<&Expected> {
        self.expected
            .get(IdentityId(identity), EndpointId(endpoint))
    }
}

/// Which main view is on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Matrix,
    Findings,
}

/// What the main loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    None,
    Quit,
    /// Re-probe these cells (`None`: all).
    Reprobe(Option<Vec<CellId>>),
    /// Write the JSON report.
    Export,
}

/// One matrix column: one endpoint, or (component view) all visible endpoints of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub component: Component,
    pub endpoints: Vec<usize>,
}

/// The visible rows (identity indexes) and columns after filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    pub rows: Vec<usize>,
    pub cols: Vec<Column>,
}

/// How bad a verdict is, for folding a component into its worst cell.
pub fn badness(v: Option<Verdict>) -> u8 {
    match v {
        None => 0,
        Some(Verdict::Secure) => 1,
        Some(Verdict::Enforced) => 2,
        Some(Verdict::Unreachable) => 3,
        Some(Verdict::Error) => 4,
        Some(Verdict::Blocked) => 5,
        Some(Verdict::Untrusted) => 6,
        Some(Verdict::Unencrypted) => 7,
        Some(Verdict::Open) => 8,
    }
}

/// The first row offset that keeps `sel` inside a window of `capacity` rows out of `len`.
pub fn fit_rows(offset: usize, sel: usize, len: usize, capacity: usize) -> usize {
    if capacity == 0 || len == 0 {
        return 0;
    }
    let mut off = offset.min(len.saturating_sub(capacity));
    if sel < off {
        off = sel;
    } else if sel >= off + capacity {
        off = sel + 1 - capacity;
    }
    off
}

/// The first column offset that keeps column `sel` visible when columns have `widths` and the
/// window is `avail` cells wide; pulls back when there is room on the right.
pub fn fit_cols(offset: usize, sel: usize, widths: &[u16], avail: u16) -> usize {
    if widths.is_empty() {
        return 0;
    }
    let sel = sel.min(widths.len() - 1);
    let span =
        |from: usize, to: usize| -> u32 { widths[from..=to].iter().map(|w| u32::from(*w)).sum() };
    let mut off = offset.min(sel);
    while off < sel && span(off, sel) > u32::from(avail) {
        off += 1;
    }
    let last = widths.len() - 1;
    while off > 0 && span(off - 1, last) <= u32::from(avail) {
        off -= 1;
    }
    off
}

/// The dashboard state.
pub struct App {
    pub catalog: Catalog,
    pub snapshot: Arc<Snapshot>,
    pub color: bool,
    pub view: View,
    /// Fold endpoints into one column per component.
    pub by_component: bool,
    /// The detail pane of the selected cell is open.
    pub detail: bool,
    pub detail_scroll: u16,
    pub help: bool,
    pub paused: bool,
    /// Show only rows and columns that have a failing cell.
    pub failing_only: bool,
    /// Endpoint substring filter (applied).
    pub filter: String,
    /// The filter being typed after `/`.
    pub input: Option<String>,
    input_backup: String,
    /// One line for the status bar (export path, errors), cleared by the next key.
    pub status: Option<String>,
    /// Seconds to the next automatic round, set by the main loop.
    pub next_refresh_secs: Option<u64>,
    /// When the last round finished (kept while the next one runs).
    pub last_finished: Option<String>,
    /// Selected identity and endpoint (indexes into the catalog).
    pub sel_identity: usize,
    pub sel_endpoint: usize,
    pub row_offset: usize,
    pub col_offset: usize,
    /// Selected line of the findings view (index into `findings_order`).
    pub finding_sel: usize,
    pub finding_offset: usize,
    /// Endpoints in display order: grouped by component, stable within a group.
    order: Vec<usize>,
    /// Indexes into `snapshot.findings`, most severe first.
    findings_order: Vec<usize>,
}

impl App {
    pub fn new(catalog: Catalog, snapshot: Arc<Snapshot>, color: bool) -> App {
        let mut order: Vec<usize> = (0..catalog.endpoints.len()).collect();
        order.sort_by_key(|&e| catalog.endpoints[e].component);
        let sel_endpoint = order.first().copied().unwrap_or(0);
        let mut app = App {
            catalog,
            snapshot,
            color,
            view: View::Matrix,
            by_component: false,
            detail: false,
            detail_scroll: 0,
            help: false,
            paused: false,
            failing_only: false,
            filter: String::new(),
            input: None,
            input_backup: String::new(),
            status: None,
            next_refresh_secs: None,
            last_finished: None,
            sel_identity: 0,
            sel_endpoint,
            row_offset: 0,
            col_offset: 0,
            finding_sel: 0,
            finding_offset: 0,
            order,
            findings_order: Vec::new(),
        };
        app.sort_findings();
        app.last_finished.clone_from(&app.snapshot.finished_at);
        app
    }

    /// Take a newer snapshot.
    pub fn set_snapshot(&mut self, snapshot: Arc<Snapshot>) {
        self.snapshot = snapshot;
        if self.snapshot.finished_at.is_some() {
            self.last_finished.clone_from(&self.snapshot.finished_at);
        }
        self.sort_findings();
        self.normalize();
    }

    fn sort_findings(&mut self) {
        let mut order: Vec<usize> = (0..self.snapshot.findings.len()).collect();
        order.sort_by_key(|&k| std::cmp::Reverse(self.snapshot.findings[k].severity));
        self.findings_order = order;
        self.finding_sel = self
            .finding_sel
            .min(self.findings_order.len().saturating_sub(1));
    }

    /// Findings, most severe first.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings_order
            .iter()
            .filter_map(|&k| self.snapshot.findings.get(k))
    }

    pub fn findings_len(&self) -> usize {
        self.findings_order.len()
    }

    /// The finding selected in the findings view.
    pub fn selected_finding(&self) -> Option<&Finding> {
        self.findings_order
            .get(self.finding_sel)
            .and_then(|&k| self.snapshot.findings.get(k))
    }

    /// The cell state, if the snapshot has it.
    pub fn cell(&self, identity: usize, endpoint: usize) -> Option<&CellState> {
        self.snapshot
            .cells
            .get(IdentityId(identity), EndpointId(endpoint))
    }

    pub fn verdict(&self, identity: usize, endpoint: usize) -> Option<Verdict> {
        self.cell(identity, endpoint).and_then(|c| c.verdict)
    }

    fn failing(&self, identity: usize, endpoint: usize) -> bool {
        self.verdict(identity, endpoint)
            .is_some_and(Verdict::is_failing)
    }

    /// The filter in force: the one being typed, else the applied one.
    pub fn active_filter(&self) -> &str {
        self.input.as_deref().unwrap_or(&self.filter)
    }

    fn matches_filter(&self, endpoint: usize) -> bool {
        let f = self.active_filter().trim().to_lowercase();
        if f.is_empty() {
            return true;
        }
        let Some(ep) = self.catalog.endpoints.get(endpoint) else {
            return false;
        };
        ep.name.to_lowercase().contains(&f)
            || ep.address.to_lowercase().contains(&f)
            || ep.component.title().to_lowercase().contains(&f)
    }

    /// Endpoints in display order (all, ignoring filters).
    pub fn endpoint_order(&self) -> &[usize] {
        &self.order
    }

    /// Rows and columns after the filters.
    pub fn grid(&self) -> Grid {
        let mut eps: Vec<usize> = self
            .order
            .iter()
            .copied()
            .filter(|&e| self.matches_filter(e))
            .collect();
        let mut rows: Vec<usize> = (0..self.catalog.identities.len()).collect();
        if self.failing_only {
            eps.retain(|&e| rows.iter().any(|&i| self.failing(i, e)));
            rows.retain(|&i| eps.iter().any(|&e| self.failing(i, e)));
        }
        let mut cols: Vec<Column> = Vec::new();
        for e in eps {
            let component = self.catalog.endpoints[e].component;
            match cols.last_mut() {
                Some(last) if self.by_component && last.component == component => {
                    last.endpoints.push(e);
                }
                _ => cols.push(Column {
                    component,
                    endpoints: vec![e],
                }),
            }
        }
        Grid { rows, cols }
    }

    /// The worst endpoint of a column for an identity, with its verdict.
    pub fn worst(&self, identity: usize, col: &Column) -> Option<(usize, Option<Verdict>)> {
        col.endpoints
            .iter()
            .map(|&e| (e, self.verdict(identity, e)))
            .max_by_key(|(e, v)| (badness(*v), std::cmp::Reverse(*e)))
    }

    /// Position of the selection in the grid.
    pub fn selection_in(&self, grid: &Grid) -> (Option<usize>, Option<usize>) {
        (
            grid.rows.iter().position(|&i| i == self.sel_identity),
            grid.cols
                .iter()
                .position(|c| c.endpoints.contains(&self.sel_endpoint)),
        )
    }

    /// The selected cell as (identity, endpoint); in the component view, the worst endpoint of
    /// the selected component.
    pub fn selected_cell(&self) -> Option<(usize, usize)> {
        let grid = self.grid();
        let (Some(r), Some(c)) = self.selection_in(&grid) else {
            return None;
        };
        let identity = grid.rows[r];
        let col = &grid.cols[c];
        if self.by_component {
            self.worst(identity, col).map(|(e, _)| (identity, e))
        } else {
            Some((identity, self.sel_endpoint))
        }
    }

    /// Cell indexes of the selection (several in the component view).
    pub fn selected_cells(&self) -> Vec<CellId> {
        let grid = self.grid();
        let (Some(_), Some(c)) = self.selection_in(&grid) else {
            return Vec::new();
        };
        let eps: Vec<usize> = if self.by_component {
            grid.cols[c].endpoints.clone()
        } else {
            vec![self.sel_endpoint]
        };
        eps.into_iter()
            .map(|e| (IdentityId(self.sel_identity), EndpointId(e)))
            .collect()
    }

    /// Keep the selection on a visible cell, as close as possible to where it was.
    pub fn normalize(&mut self) {
        let grid = self.grid();
        let (r, c) = self.selection_in(&grid);
        if r.is_none() {
            if let Some(&i) = grid
                .rows
                .iter()
                .min_by_key(|&&i| i.abs_diff(self.sel_identity))
            {
                self.sel_identity = i;
            }
        }
        if c.is_none() {
            let pos_of = |e: usize| self.order.iter().position(|&x| x == e).unwrap_or(0);
            let here = pos_of(self.sel_endpoint);
            if let Some(&e) = grid
                .cols
                .iter()
                .flat_map(|c| c.endpoints.iter())
                .min_by_key(|&&e| pos_of(e).abs_diff(here))
            {
                self.sel_endpoint = e;
            }
        }
    }

    fn move_row(&mut self, delta: isize) {
        let grid = self.grid();
        if grid.rows.is_empty() {
            return;
        }
        let (r, _) = self.selection_in(&grid);
        let to = r
            .unwrap_or(0)
            .saturating_add_signed(delta)
            .min(grid.rows.len() - 1);
        self.sel_identity = grid.rows[to];
        self.detail_scroll = 0;
    }

    fn move_col(&mut self, delta: isize) {
        let grid = self.grid();
        if grid.cols.is_empty() {
            return;
        }
        let (_, c) = self.selection_in(&grid);
        let to = c
            .unwrap_or(0)
            .saturating_add_signed(delta)
            .min(grid.cols.len() - 1);
        if Some(to) != c {
            self.sel_endpoint = grid.cols[to].endpoints[0];
        }
        self.detail_scroll = 0;
    }

    fn move_finding(&mut self, delta: isize) {
        if self.findings_order.is_empty() {
            return;
        }
        self.finding_sel = self
            .finding_sel
            .saturating_add_signed(delta)
            .min(self.findings_order.len() - 1);
    }

    /// Select the cell a finding is about, clearing filters that hide it.
    pub fn jump_to_finding(&mut self) {
        let Some(f) = self.selected_finding().cloned() else {
            return;
        };
        let ep = f
            .endpoint
            .as_deref()
            .and_then(|n| self.catalog.endpoints.iter().position(|e| e.name == n));
        let id = f
            .identity
            .as_deref()
            .and_then(|n| self.catalog.identities.iter().position(|i| i.name == n));
        let (identity, endpoint) = match (id, ep) {
            (Some(i), Some(e)) => (i, e),
            (None, Some(e)) => {
                let i = (0..self.catalog.identities.len())
                    .find(|&i| self.failing(i, e))
                    .unwrap_or(self.sel_identity);
                (i, e)
            }
            (Some(i), None) => {
                let e = self
                    .order
                    .iter()
                    .copied()
                    .find(|&e| self.failing(i, e))
                    .unwrap_or(self.sel_endpoint);
                (i, e)
            }
            (None, None) => {
                self.status = Some(format!("{} concerns the whole cluster", f.code));
                return;
            }
        };
        self.sel_identity = identity;
        self.sel_endpoint = endpoint;
        let grid = self.grid();
        if let (None, _) | (_, None) = self.selection_in(&grid) {
            self.filter.clear();
            self.failing_only = false;
            self.status = Some("filters cleared to show the finding's cell".into());
        }
        self.view = View::Matrix;
        self.detail = true;
        self.detail_scroll = 0;
    }

    /// Handle one key.
    pub fn handle_key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c' | 'C')) {
            return Action::Quit;
        }
        if let Some(input) = self.input.as_mut() {
            match key.code {
                KeyCode::Char(c) => input.push(c),
                KeyCode::Backspace => {
                    input.pop();
                }
                KeyCode::Enter => {
                    self.filter = input.trim().to_string();
                    self.input = None;
                }
                KeyCode::Esc => {
                    self.filter = std::mem::take(&mut self.input_backup);
                    self.input = None;
                }
                _ => {}
            }
            self.normalize();
            return Action::None;
        }
        if self.help {
            self.help = false;
            return if key.code == KeyCode::Char('q') {
                Action::Quit
            } else {
                Action::None
            };
        }
        self.status = None;
        match key.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Char('?') => self.help = true,
            KeyCode::Tab | KeyCode::BackTab => {
                self.view = match self.view {
                    View::Matrix => View::Findings,
                    View::Findings => View::Matrix,
                };
            }
            KeyCode::Char('r') => {
                self.status = Some("re-probing every cell".into());
                return Action::Reprobe(None);
            }
            KeyCode::Char('R') => {
                let cells = self.selected_cells();
                if cells.is_empty() {
                    self.status = Some("no cell selected".into());
                    return Action::None;
                }
                self.status = Some(format!("re-probing {} cell(s)", cells.len()));
                return Action::Reprobe(Some(cells));
            }
            KeyCode::Char(' ') => {
                self.paused = !self.paused;
                self.status = Some(if self.paused {
                    "paused: no automatic rounds (space resumes)".into()
                } else {
                    "resumed".into()
                });
            }
            KeyCode::Char('e') => return Action::Export,
            KeyCode::Char('f') => {
                self.failing_only = !self.failing_only;
                self.normalize();
            }
            KeyCode::Char('c') => {
                self.by_component = !self.by_component;
                self.col_offset = 0;
                self.normalize();
            }
            KeyCode::Char('/') => {
                self.input_backup = self.filter.clone();
                self.input = Some(self.filter.clone());
            }
            KeyCode::Esc => {
                if self.detail && self.view == View::Matrix {
                    self.detail = false;
                } else if self.view == View::Findings {
                    self.view = View::Matrix;
                } else {
                    self.filter.clear();
                    self.failing_only = false;
                    self.normalize();
                }
            }
            _ => match self.view {
                View::Matrix => self.matrix_key(key.code),
                View::Findings => self.findings_key(key.code),
            },
        }
        Action::None
    }

    fn matrix_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.move_row(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_row(1),
            KeyCode::Left | KeyCode::Char('h') => self.move_col(-1),
            KeyCode::Right | KeyCode::Char('l') => self.move_col(1),
            KeyCode::Home => self.move_col(isize::MIN / 2),
            KeyCode::End => self.move_col(isize::MAX / 2),
            KeyCode::Enter => {
                self.detail = !self.detail;
                self.detail_scroll = 0;
            }
            KeyCode::PageDown => self.detail_scroll = self.detail_scroll.saturating_add(5),
            KeyCode::PageUp => self.detail_scroll = self.detail_scroll.saturating_sub(5),
            _ => {}
        }
    }

    fn findings_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.move_finding(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_finding(1),
            KeyCode::PageUp => self.move_finding(-10),
            KeyCode::PageDown => self.move_finding(10),
            KeyCode::Home => self.move_finding(isize::MIN / 2),
            KeyCode::End => self.move_finding(isize::MAX / 2),
            KeyCode::Enter => self.jump_to_finding(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tlsaudit_engine::audit::{Code, Severity};

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    fn code(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn cell(v: Option<Verdict>) -> CellState {
        CellState {
            record: None,
            verdict: v,
            changed: false,
            rotated: false,
        }
    }

    /// Endpoints `pd-1, kv-1, pd-2, db-1` (deliberately interleaved) x identities `a, b, c`.
    /// Failing: b at kv-1 (open), c at db-1 (blocked).
    fn app() -> App {
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
                needed: false,
                reason: "test".into(),
                deny_only_if_sent: false,
            }),
        };
        let at = |i, e| (IdentityId(i), EndpointId(e));
        let mut cells = Matrix::from_fn(3, 4, |_, _| cell(Some(Verdict::Secure)));
        cells[at(1, 1)] = cell(Some(Verdict::Open));
        cells[at(2, 3)] = cell(Some(Verdict::Blocked));
        let finding = |code: Code, sev, ep: Option<&str>, id: Option<&str>| Finding {
            code,
            severity: sev,
            endpoint: ep.map(str::to_string),
            identity: id.map(str::to_string),
            title: code.to_string(),
            evidence: String::new(),
            fix: String::new(),
            source: None,
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
        };
        App::new(catalog, Arc::new(snapshot), false)
    }

    fn names(app: &App, grid: &Grid) -> Vec<String> {
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

    #[test]
    fn columns_are_grouped_by_component() {
        let app = app();
        let g = app.grid();
        assert_eq!(names(&app, &g), ["pd-1", "pd-2", "kv-1", "db-1"]);
        assert_eq!(g.rows, [0, 1, 2]);
    }

    #[test]
    fn arrows_and_hjkl_move_and_stop_at_edges() {
        let mut app = app();
        assert_eq!((app.sel_identity, app.sel_endpoint), (0, 0));
        app.handle_key(key('l'));
        assert_eq!(app.sel_endpoint, 2, "pd-2 follows pd-1 in display order");
        app.handle_key(code(KeyCode::Right));
        app.handle_key(key('l'));
        app.handle_key(key('l'));
        assert_eq!(app.sel_endpoint, 3, "stops at the last column");
        app.handle_key(key('j'));
        app.handle_key(code(KeyCode::Down));
        app.handle_key(key('j'));
        assert_eq!(app.sel_identity, 2);
        app.handle_key(key('k'));
        app.handle_key(code(KeyCode::Left));
        assert_eq!((app.sel_identity, app.sel_endpoint), (1, 1));
        app.handle_key(code(KeyCode::Home));
        assert_eq!(app.sel_endpoint, 0);
    }

    #[test]
    fn failing_filter_keeps_rows_and_columns_with_a_failure() {
        let mut app = app();
        app.handle_key(key('f'));
        let g = app.grid();
        assert_eq!(names(&app, &g), ["kv-1", "db-1"]);
        assert_eq!(g.rows, [1, 2]);
        assert_eq!(
            (app.sel_identity, app.sel_endpoint),
            (1, 1),
            "selection moved onto a visible cell"
        );
        app.handle_key(key('f'));
        assert_eq!(app.grid().cols.len(), 4);
    }

    #[test]
    fn substring_filter_typed_applied_and_cancelled() {
        let mut app = app();
        app.handle_key(key('/'));
        for c in "PD".chars() {
            app.handle_key(key(c));
        }
        assert_eq!(
            names(&app, &app.grid()),
            ["pd-1", "pd-2"],
            "live while typing"
        );
        assert_eq!(
            app.handle_key(key('q')),
            Action::None,
            "q is typed, not quit"
        );
        assert!(app.grid().cols.is_empty());
        app.handle_key(code(KeyCode::Backspace));
        app.handle_key(code(KeyCode::Enter));
        assert_eq!(app.filter, "PD");
        assert!(app.input.is_none());
        app.handle_key(key('/'));
        app.handle_key(key('x'));
        app.handle_key(code(KeyCode::Esc));
        assert_eq!(app.filter, "PD", "Esc restores the previous filter");
        // The address matches too.
        app.handle_key(key('/'));
        for _ in 0..2 {
            app.handle_key(code(KeyCode::Backspace));
        }
        for c in "10.0.0.3".chars() {
            app.handle_key(key(c));
        }
        app.handle_key(code(KeyCode::Enter));
        assert_eq!(names(&app, &app.grid()), ["db-1"]);
        assert_eq!(app.sel_endpoint, 3);
        app.handle_key(code(KeyCode::Esc));
        assert!(app.filter.is_empty(), "Esc clears the filters");
    }

    #[test]
    fn component_view_folds_and_shows_the_worst() {
        let mut app = app();
        app.handle_key(key('c'));
        let g = app.grid();
        assert_eq!(names(&app, &g), ["pd-1+pd-2", "kv-1", "db-1"]);
        app.handle_key(key('j'));
        app.handle_key(key('l'));
        assert_eq!(app.selected_cell(), Some((1, 1)));
        assert_eq!(app.worst(1, &g.cols[1]), Some((1, Some(Verdict::Open))));
        app.handle_key(key('h'));
        assert_eq!(
            app.selected_cells(),
            vec![
                (IdentityId(1), EndpointId(0)),
                (IdentityId(1), EndpointId(2))
            ],
            "R re-probes the whole group"
        );
    }

    #[test]
    fn keys_produce_actions() {
        let mut app = app();
        assert_eq!(app.handle_key(key('r')), Action::Reprobe(None));
        app.handle_key(key('l'));
        app.handle_key(key('j'));
        assert_eq!(
            app.handle_key(key('R')),
            Action::Reprobe(Some(vec![(IdentityId(1), EndpointId(2))]))
        );
        assert_eq!(app.handle_key(key('e')), Action::Export);
        app.handle_key(key(' '));
        assert!(app.paused);
        app.handle_key(key(' '));
        assert!(!app.paused);
        assert_eq!(
            app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Action::Quit
        );
        assert_eq!(app.handle_key(key('q')), Action::Quit);
    }

    #[test]
    fn help_and_detail_toggle() {
        let mut app = app();
        app.handle_key(key('?'));
        assert!(app.help);
        assert_eq!(app.handle_key(key('j')), Action::None);
        assert!(!app.help);
        assert_eq!(
            app.sel_identity, 0,
            "the key that closes help does nothing else"
        );
        app.handle_key(code(KeyCode::Enter));
        assert!(app.detail);
        app.handle_key(code(KeyCode::PageDown));
        assert_eq!(app.detail_scroll, 5);
        app.handle_key(code(KeyCode::Esc));
        assert!(!app.detail);
    }

    #[test]
    fn findings_sorted_by_severity_and_enter_jumps() {
        let mut app = app();
        app.handle_key(code(KeyCode::Tab));
        assert_eq!(app.view, View::Findings);
        let codes: Vec<Code> = app.findings().map(|f| f.code).collect();
        assert_eq!(
            codes,
            [
                Code::CallerNotListed,
                Code::PartialTls,
                Code::CertExpiring,
                Code::NoAllowList
            ]
        );
        app.handle_key(code(KeyCode::Enter));
        assert_eq!(app.view, View::Matrix);
        assert!(app.detail);
        assert_eq!((app.sel_identity, app.sel_endpoint), (2, 3));
        // A cluster-wide finding has no cell.
        app.handle_key(code(KeyCode::Tab));
        app.handle_key(key('j'));
        app.handle_key(code(KeyCode::Enter));
        assert_eq!(app.view, View::Findings);
        assert!(app
            .status
            .as_deref()
            .is_some_and(|s| s.contains("whole cluster")));
        // An identity finding selects that identity's failing cell.
        app.handle_key(key('j'));
        app.handle_key(code(KeyCode::Enter));
        assert_eq!((app.sel_identity, app.sel_endpoint), (1, 1));
    }

    #[test]
    fn jumping_clears_a_filter_that_hides_the_cell() {
        let mut app = app();
        app.filter = "pd".into();
        app.normalize();
        app.handle_key(code(KeyCode::Tab));
        app.handle_key(code(KeyCode::Enter));
        assert!(app.filter.is_empty());
        assert_eq!(app.selection_in(&app.grid()), (Some(2), Some(3)));
    }

    #[test]
    fn rows_window_follows_the_selection() {
        assert_eq!(fit_rows(0, 0, 10, 4), 0);
        assert_eq!(fit_rows(0, 3, 10, 4), 0);
        assert_eq!(fit_rows(0, 4, 10, 4), 1);
        assert_eq!(fit_rows(5, 2, 10, 4), 2);
        assert_eq!(fit_rows(8, 9, 10, 4), 6, "no empty space at the bottom");
        assert_eq!(fit_rows(3, 1, 3, 4), 0, "everything fits");
        for sel in 0..10 {
            let off = fit_rows(0, sel, 10, 3);
            assert!(off <= sel && sel < off + 3);
        }
    }

    #[test]
    fn columns_window_follows_the_selection() {
        // 100 columns of 3 cells with a separator every 10, in 60 cells.
        let widths: Vec<u16> = (0..100).map(|k| if k % 10 == 0 { 4 } else { 3 }).collect();
        let mut off = 0;
        for sel in (0..100).chain((0..100).rev()) {
            off = fit_cols(off, sel, &widths, 60);
            assert!(off <= sel, "sel {sel} left of the window {off}");
            let used: u16 = widths[off..=sel].iter().sum();
            assert!(used <= 60, "sel {sel} right of the window {off}");
        }
        assert_eq!(
            fit_cols(50, 99, &widths, 60),
            81,
            "pulled back to fill the window"
        );
        assert_eq!(fit_cols(7, 3, &[3, 3, 3, 3], 60), 0);
        assert_eq!(fit_cols(0, 5, &[], 60), 0);
    }

    #[test]
    fn selection_survives_a_new_snapshot_with_fewer_failures() {
        let mut app = app();
        app.handle_key(key('f'));
        app.handle_key(key('j'));
        assert_eq!((app.sel_identity, app.sel_endpoint), (2, 1));
        let mut snap = (*app.snapshot).clone();
        snap.cells[(IdentityId(2), EndpointId(3))] = cell(Some(Verdict::Secure));
        app.set_snapshot(Arc::new(snap));
        let g = app.grid();
        assert_eq!(g.rows, [1]);
        assert_eq!(app.selection_in(&g), (Some(0), Some(0)));
    }
}
