//! The dashboard's state machine: what is selected, filtered and shown. Keys go in, [`Action`]s
//! that need the auditor (re-probe, export, quit) come out; nothing here does I/O, so every
//! transition is unit-tested without a terminal.

use std::collections::{BTreeMap, BTreeSet};
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
    /// Inventory labels (`labels = { rack = "r1" }`), for grouping.
    pub labels: BTreeMap<String, String>,
}

/// What the dashboard shows of a caller identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityInfo {
    pub name: String,
    pub kind: IdentityKind,
    pub cn: Option<String>,
}

impl IdentityInfo {
    /// The name as the matrix shows it: `tidb*` for an identity minted from the CA key.
    pub fn label(&self) -> String {
        if self.kind == IdentityKind::Minted {
            format!("{}*", self.name)
        } else {
            self.name.clone()
        }
    }
}

/// The fixed part of an audit: endpoints, identities and what each cell should do.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub endpoints: Vec<EndpointInfo>,
    pub identities: Vec<IdentityInfo>,
    /// Row-major like the snapshot: `expected[identity * endpoints + endpoint]`.
    pub expected: Matrix<Expected>,
    /// What the audit does not check (the plan's `not_checked`), shown under the findings.
    pub not_checked: Vec<String>,
}

impl Catalog {
    /// Whether any identity was minted from the CA key (the legend then explains `name*`).
    pub fn has_minted(&self) -> bool {
        self.identities
            .iter()
            .any(|i| i.kind == IdentityKind::Minted)
    }

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
                    labels: e.labels.clone(),
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
            not_checked: plan.not_checked.clone(),
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
    /// Every verdict change since the start (or the baseline), newest first.
    Changes,
}

/// How the transposed view groups endpoint rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    Component,
    Host,
    /// An inventory label key.
    Label(String),
}

impl GroupBy {
    pub fn describe(&self) -> String {
        match self {
            GroupBy::Component => "component".into(),
            GroupBy::Host => "host".into(),
            GroupBy::Label(k) => format!("label {k}"),
        }
    }
}

/// One row of the transposed view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    /// A group's header: its name and (visible) endpoints.
    Group {
        name: String,
        endpoints: Vec<usize>,
        folded: bool,
    },
    Endpoint(usize),
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

/// How bad a verdict is, for folding several cells into their worst: the engine's
/// [`Verdict::badness`], with no verdict (not probed yet) below every verdict.
pub fn badness(v: Option<Verdict>) -> u8 {
    v.map_or(0, Verdict::badness)
}

/// The member list of a folded cell (`Enter` on it): one identity at every endpoint the cell
/// folds, worst first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Members {
    pub identity: usize,
    /// Worst first, then in display order.
    pub endpoints: Vec<usize>,
    /// The selected member (its detail opens with `Enter`).
    pub sel: usize,
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
    /// The member list of the selected folded cell is open (the detail, when open too, is the
    /// selected member's).
    pub members: Option<Members>,
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
    /// Endpoints as rows and identities as columns (`t`); the default follows the shape:
    /// on when endpoints outnumber identities.
    pub transposed: bool,
    /// How the rows of the transposed view are grouped (`g` cycles).
    pub group_by: GroupBy,
    /// Folded groups of the transposed view (by group name).
    pub folded: BTreeSet<String>,
    /// In the transposed view, the selection is on this group's header row.
    pub sel_group: Option<String>,
    /// The jump-to-endpoint search being typed after `s`, and the last one (for `n`).
    pub search: Option<String>,
    pub last_search: String,
    /// Verdict history of the last rounds ([`super::history::History`]).
    pub history: super::history::History,
    /// Selected line of the changes view.
    pub change_sel: usize,
    pub change_offset: usize,
    /// A merged report opened with `tui --from`: each cell's verdict per vantage point, in the
    /// snapshot's cell order (empty otherwise).
    pub by_vantage: Vec<Option<BTreeMap<String, crate::report::json::VantageCell>>>,
    /// The dashboard shows a saved report (`tui --from`): no rounds run.
    pub saved: bool,
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
            members: None,
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
            transposed: false,
            group_by: GroupBy::Component,
            folded: BTreeSet::new(),
            sel_group: None,
            search: None,
            last_search: String::new(),
            history: super::history::History::new(super::history::DEFAULT_ROUNDS),
            change_sel: 0,
            change_offset: 0,
            by_vantage: Vec::new(),
            saved: false,
            order,
            findings_order: Vec::new(),
        };
        app.transposed = app.catalog.endpoints.len() > app.catalog.identities.len();
        app.history.record(&app.snapshot);
        app.sort_findings();
        app.last_finished.clone_from(&app.snapshot.finished_at);
        app
    }

    /// Take a newer snapshot.
    pub fn set_snapshot(&mut self, snapshot: Arc<Snapshot>) {
        self.snapshot = snapshot;
        self.history.record(&self.snapshot);
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

    /// Whether the cells of `identity` at `eps` have more than one verdict: their fold shows the
    /// worst with a mark, and `Enter` lists them.
    pub fn members_differ(&self, identity: usize, eps: &[usize]) -> bool {
        let mut seen = eps.iter().filter_map(|&e| self.verdict(identity, e));
        seen.next().is_some_and(|first| seen.any(|v| v != first))
    }

    /// `eps` ordered worst first for `identity` (display order within a verdict).
    pub fn worst_first(&self, identity: usize, eps: &[usize]) -> Vec<usize> {
        let mut v = eps.to_vec();
        v.sort_by_key(|&e| std::cmp::Reverse(badness(self.verdict(identity, e))));
        v
    }

    /// Open the member list of the selected folded cell; false when the cell folds one endpoint.
    fn open_members(&mut self) -> bool {
        let grid = self.grid();
        let (Some(_), Some(c)) = self.selection_in(&grid) else {
            return false;
        };
        let eps = &grid.cols[c].endpoints;
        if !self.by_component || eps.len() < 2 {
            return false;
        }
        self.members = Some(Members {
            identity: self.sel_identity,
            endpoints: self.worst_first(self.sel_identity, eps),
            sel: 0,
        });
        self.detail = false;
        self.detail_scroll = 0;
        true
    }

    /// Move in the member list (when open).
    fn move_member(&mut self, delta: isize) {
        let Some(m) = self.members.as_mut() else {
            return;
        };
        m.sel = m
            .sel
            .saturating_add_signed(delta)
            .min(m.endpoints.len().saturating_sub(1));
        self.detail_scroll = 0;
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
        if self.transposed {
            return self.tselected_cell();
        }
        if let Some(m) = &self.members {
            return m.endpoints.get(m.sel).map(|&e| (m.identity, e));
        }
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
        if self.transposed {
            return self.tselected_cells();
        }
        if self.members.is_some() {
            return self
                .selected_cell()
                .map(|(i, e)| (IdentityId(i), EndpointId(e)))
                .into_iter()
                .collect();
        }
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
        if self.transposed {
            self.members = None;
            self.tnormalize();
            return;
        }
        let grid = self.grid();
        // The member list stays open while its cell is still a fold of the same endpoints.
        if let Some(m) = &self.members {
            let mut eps = m.endpoints.clone();
            eps.sort_unstable();
            let same = self.by_component
                && grid.rows.contains(&m.identity)
                && grid.cols.iter().any(|c| {
                    let mut v = c.endpoints.clone();
                    v.sort_unstable();
                    v == eps
                });
            if !same {
                self.members = None;
            }
        }
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
        if self.filter_key(key.code) || self.search_key(key.code) {
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
                self.view = match (self.view, key.code == KeyCode::BackTab) {
                    (View::Matrix, false) | (View::Changes, true) => View::Findings,
                    (View::Findings, false) | (View::Matrix, true) => View::Changes,
                    (View::Changes, false) | (View::Findings, true) => View::Matrix,
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
            KeyCode::Char('t' | 'g' | 's' | 'n' | 'c' | 'z') if self.layout_key(key.code) => {}
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
                } else if self.members.is_some() && self.view == View::Matrix {
                    self.members = None;
                } else if self.view != View::Matrix {
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
                View::Changes => self.changes_key(key.code),
            },
        }
        Action::None
    }

    fn matrix_key(&mut self, code: KeyCode) {
        if self.transposed {
            match code {
                KeyCode::Up | KeyCode::Char('k') => return self.tmove_row(-1),
                KeyCode::Down | KeyCode::Char('j') => return self.tmove_row(1),
                KeyCode::Left | KeyCode::Char('h') => return self.tmove_col(-1),
                KeyCode::Right | KeyCode::Char('l') => return self.tmove_col(1),
                KeyCode::Home => return self.tmove_col(isize::MIN / 2),
                KeyCode::End => return self.tmove_col(isize::MAX / 2),
                KeyCode::Enter if self.sel_group.is_some() && !self.detail => {
                    return self.toggle_fold()
                }
                _ => {}
            }
        }
        if self.members.is_some() {
            match code {
                KeyCode::Up | KeyCode::Char('k') => return self.move_member(-1),
                KeyCode::Down | KeyCode::Char('j') => return self.move_member(1),
                KeyCode::Enter => {
                    self.detail = !self.detail;
                    self.detail_scroll = 0;
                    return;
                }
                KeyCode::Left | KeyCode::Right | KeyCode::Char('h' | 'l') => {
                    self.members = None;
                    self.detail = false;
                }
                _ => {}
            }
        }
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.move_row(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_row(1),
            KeyCode::Left | KeyCode::Char('h') => self.move_col(-1),
            KeyCode::Right | KeyCode::Char('l') => self.move_col(1),
            KeyCode::Home => self.move_col(isize::MIN / 2),
            KeyCode::End => self.move_col(isize::MAX / 2),
            KeyCode::Enter if !self.detail && self.open_members() => {}
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

// ---- The fleet view: endpoints as rows, grouped and foldable; search; changes ----

impl App {
    /// The group an endpoint belongs to under [`App::group_by`].
    pub fn group_name(&self, e: usize) -> String {
        let Some(ep) = self.catalog.endpoints.get(e) else {
            return String::new();
        };
        match &self.group_by {
            GroupBy::Component => ep.component.title().to_string(),
            GroupBy::Host => tlsaudit_engine::probe::host_of(&ep.address).to_string(),
            GroupBy::Label(k) => ep
                .labels
                .get(k)
                .cloned()
                .unwrap_or_else(|| format!("(no {k})")),
        }
    }

    /// Endpoints in the order of the transposed view's groups (ignoring filters).
    fn grouped_order(&self) -> Vec<usize> {
        self.grouped().into_iter().map(|(e, _)| e).collect()
    }

    /// Endpoints with their group names, in group order (each name computed once).
    fn grouped(&self) -> Vec<(usize, String)> {
        let mut eps: Vec<(usize, String)> = self
            .order
            .iter()
            .map(|&e| (e, self.group_name(e)))
            .collect();
        if self.group_by != GroupBy::Component {
            eps.sort_by(|a, b| a.1.cmp(&b.1));
        }
        eps
    }

    /// Identity columns of the transposed view after the filters.
    pub fn tcols(&self) -> Vec<usize> {
        let ids: Vec<usize> = (0..self.catalog.identities.len()).collect();
        if !self.failing_only {
            return ids;
        }
        ids.into_iter()
            .filter(|&i| {
                self.order
                    .iter()
                    .any(|&e| self.matches_filter(e) && self.failing(i, e))
            })
            .collect()
    }

    /// Rows of the transposed view: a header per group, then its endpoints unless folded.
    pub fn trows(&self) -> Vec<Row> {
        let ids = self.tcols();
        let mut rows: Vec<Row> = Vec::new();
        let mut current: Option<(String, Vec<usize>)> = None;
        let flush = |rows: &mut Vec<Row>, group: Option<(String, Vec<usize>)>| {
            if let Some((name, eps)) = group {
                let folded = self.folded.contains(&name);
                rows.push(Row::Group {
                    name,
                    endpoints: eps.clone(),
                    folded,
                });
                if !folded {
                    rows.extend(eps.into_iter().map(Row::Endpoint));
                }
            }
        };
        for (e, name) in self.grouped() {
            if !self.matches_filter(e) {
                continue;
            }
            if self.failing_only && !ids.iter().any(|&i| self.failing(i, e)) {
                continue;
            }
            match current.as_mut() {
                Some((g, eps)) if *g == name => eps.push(e),
                _ => {
                    flush(&mut rows, current.take());
                    current = Some((name, vec![e]));
                }
            }
        }
        flush(&mut rows, current);
        rows
    }

    /// The selected row of the transposed view.
    pub fn tsel_row(&self, rows: &[Row]) -> Option<usize> {
        rows.iter().position(|r| match (r, &self.sel_group) {
            (Row::Group { name, .. }, Some(g)) => name == g,
            (Row::Endpoint(e), None) => *e == self.sel_endpoint,
            _ => false,
        })
    }

    /// The worst cell of a group for an identity.
    pub fn group_worst(&self, identity: usize, eps: &[usize]) -> Option<(usize, Option<Verdict>)> {
        eps.iter()
            .map(|&e| (e, self.verdict(identity, e)))
            .max_by_key(|(e, v)| (badness(*v), std::cmp::Reverse(*e)))
    }

    /// Verdict counts of a group's cells over `identities`, most severe first, zeros left out.
    pub fn group_counts(&self, eps: &[usize], identities: &[usize]) -> Vec<(Verdict, usize)> {
        let mut n = [0usize; 8];
        for &e in eps {
            for &i in identities {
                if let Some(v) = self.verdict(i, e) {
                    if let Some(k) = Verdict::ALL.iter().position(|x| *x == v) {
                        n[k] += 1;
                    }
                }
            }
        }
        let mut out: Vec<(Verdict, usize)> = Verdict::ALL
            .iter()
            .zip(n)
            .filter(|(_, c)| *c > 0)
            .map(|(v, c)| (*v, c))
            .collect();
        out.sort_by_key(|(v, _)| std::cmp::Reverse(badness(Some(*v))));
        out
    }

    fn tselected_cell(&self) -> Option<(usize, usize)> {
        if !self.tcols().contains(&self.sel_identity) {
            return None;
        }
        match &self.sel_group {
            Some(g) => self.trows().into_iter().find_map(|r| match r {
                Row::Group {
                    name, endpoints, ..
                } if name == *g => self
                    .group_worst(self.sel_identity, &endpoints)
                    .map(|(e, _)| (self.sel_identity, e)),
                _ => None,
            }),
            None => Some((self.sel_identity, self.sel_endpoint)),
        }
    }

    fn tselected_cells(&self) -> Vec<CellId> {
        let eps: Vec<usize> = match &self.sel_group {
            Some(g) => self
                .trows()
                .into_iter()
                .find_map(|r| match r {
                    Row::Group {
                        name, endpoints, ..
                    } if name == *g => Some(endpoints),
                    _ => None,
                })
                .unwrap_or_default(),
            None => vec![self.sel_endpoint],
        };
        eps.into_iter()
            .map(|e| (IdentityId(self.sel_identity), EndpointId(e)))
            .collect()
    }

    /// Keep the transposed selection on a visible row and column.
    fn tnormalize(&mut self) {
        let rows = self.trows();
        if self.tsel_row(&rows).is_none() {
            // The selected endpoint's group is folded: select its header; else the nearest row.
            let group = self.group_name(self.sel_endpoint);
            let header = rows
                .iter()
                .any(|r| matches!(r, Row::Group { name, .. } if *name == group));
            if header && self.folded.contains(&group) {
                self.sel_group = Some(group);
            } else if let Some(r) = rows
                .iter()
                .find(|r| matches!(r, Row::Endpoint(_)))
                .or(rows.first())
            {
                self.select_row(r);
            }
        }
        let cols = self.tcols();
        if !cols.contains(&self.sel_identity) {
            if let Some(&i) = cols.iter().min_by_key(|&&i| i.abs_diff(self.sel_identity)) {
                self.sel_identity = i;
            }
        }
    }

    fn select_row(&mut self, row: &Row) {
        match row {
            Row::Group {
                name, endpoints, ..
            } => {
                self.sel_group = Some(name.clone());
                if let Some(&e) = endpoints.first() {
                    self.sel_endpoint = e;
                }
            }
            Row::Endpoint(e) => {
                self.sel_group = None;
                self.sel_endpoint = *e;
            }
        }
    }

    fn tmove_row(&mut self, delta: isize) {
        let rows = self.trows();
        if rows.is_empty() {
            return;
        }
        let to = self
            .tsel_row(&rows)
            .unwrap_or(0)
            .saturating_add_signed(delta)
            .min(rows.len() - 1);
        self.select_row(&rows[to]);
        self.detail_scroll = 0;
    }

    fn tmove_col(&mut self, delta: isize) {
        let cols = self.tcols();
        if cols.is_empty() {
            return;
        }
        let at = cols
            .iter()
            .position(|&i| i == self.sel_identity)
            .unwrap_or(0);
        self.sel_identity = cols[at.saturating_add_signed(delta).min(cols.len() - 1)];
        self.detail_scroll = 0;
    }

    /// Fold or unfold the selected row's group.
    pub fn toggle_fold(&mut self) {
        let group = self
            .sel_group
            .clone()
            .unwrap_or_else(|| self.group_name(self.sel_endpoint));
        if !self.folded.remove(&group) {
            self.folded.insert(group.clone());
            self.sel_group = Some(group);
        }
        self.normalize();
    }

    /// Fold every group, or unfold all when any is folded.
    pub fn fold_all(&mut self) {
        if self.folded.is_empty() {
            self.folded = self
                .trows()
                .into_iter()
                .filter_map(|r| match r {
                    Row::Group { name, .. } => Some(name),
                    Row::Endpoint(_) => None,
                })
                .collect();
            self.sel_group = Some(self.group_name(self.sel_endpoint));
        } else {
            self.folded.clear();
            self.sel_group = None;
        }
        self.normalize();
    }

    /// Cycle the grouping: component, host, then each label key the inventory uses (in the
    /// transposed layout, which it switches to).
    pub fn cycle_group(&mut self) {
        let keys: BTreeSet<&String> = self
            .catalog
            .endpoints
            .iter()
            .flat_map(|e| e.labels.keys())
            .collect();
        let keys: Vec<String> = keys.into_iter().cloned().collect();
        self.group_by = match &self.group_by {
            GroupBy::Component => GroupBy::Host,
            GroupBy::Host => keys
                .first()
                .map_or(GroupBy::Component, |k| GroupBy::Label(k.clone())),
            GroupBy::Label(k) => keys
                .iter()
                .skip_while(|x| *x != k)
                .nth(1)
                .map_or(GroupBy::Component, |k| GroupBy::Label(k.clone())),
        };
        self.folded.clear();
        self.sel_group = None;
        // Grouping is of endpoint rows: show them.
        self.transposed = true;
        self.status = Some(format!("rows grouped by {}", self.group_by.describe()));
        self.normalize();
    }

    /// Jump to the next endpoint (after the selected one, wrapping) whose name or address
    /// contains `query`; unfolds its group and clears filters that hide it.
    pub fn jump(&mut self, query: &str) {
        let q = query.trim().to_lowercase();
        if q.is_empty() {
            return;
        }
        let order = self.grouped_order();
        let matches: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&e| {
                let ep = &self.catalog.endpoints[e];
                ep.name.to_lowercase().contains(&q) || ep.address.to_lowercase().contains(&q)
            })
            .collect();
        let here = order
            .iter()
            .position(|&e| e == self.sel_endpoint)
            .unwrap_or(0);
        let pos = |e: usize| order.iter().position(|&x| x == e).unwrap_or(0);
        let Some(&e) = matches
            .iter()
            .find(|&&e| pos(e) > here || (self.sel_group.is_some() && pos(e) == here))
            .or(matches.first())
        else {
            self.status = Some(format!("no endpoint matches {query:?}"));
            return;
        };
        self.last_search = query.to_string();
        if !self.matches_filter(e) || self.failing_only {
            self.filter.clear();
            self.failing_only = false;
        }
        self.folded.remove(&self.group_name(e));
        self.sel_group = None;
        self.sel_endpoint = e;
        self.view = View::Matrix;
        let k = matches.iter().position(|&m| m == e).unwrap_or(0) + 1;
        self.status = Some(format!(
            "{} ({k} of {} matches; n: next)",
            self.catalog.endpoints[e].name,
            matches.len()
        ));
        self.normalize();
    }

    fn changes_key(&mut self, code: KeyCode) {
        let n = self.history.changes_len();
        let mut step = |d: isize| {
            if n > 0 {
                self.change_sel = self.change_sel.saturating_add_signed(d).min(n - 1);
            }
        };
        match code {
            KeyCode::Up | KeyCode::Char('k') => step(-1),
            KeyCode::Down | KeyCode::Char('j') => step(1),
            KeyCode::PageUp => step(-10),
            KeyCode::PageDown => step(10),
            KeyCode::Home => step(isize::MIN / 2),
            KeyCode::End => step(isize::MAX / 2),
            KeyCode::Enter => self.jump_to_change(),
            _ => {}
        }
    }

    /// Select the cell of the selected change and show its detail.
    pub fn jump_to_change(&mut self) {
        let Some(c) = self.history.changes().nth(self.change_sel) else {
            return;
        };
        let n = self.catalog.endpoints.len().max(1);
        self.sel_identity = c.cell / n;
        self.sel_endpoint = c.cell % n;
        self.sel_group = None;
        self.filter.clear();
        self.failing_only = false;
        self.folded.remove(&self.group_name(self.sel_endpoint));
        self.view = View::Matrix;
        self.detail = true;
        self.detail_scroll = 0;
        self.normalize();
    }

    /// The fleet layout's keys (`t`, `g`, `z`, `c` when transposed, `s`, `n`); returns whether
    /// the key was handled.
    fn layout_key(&mut self, code: KeyCode) -> bool {
        match code {
            KeyCode::Char('t') => {
                self.transposed = !self.transposed;
                self.sel_group = None;
                (self.row_offset, self.col_offset) = (0, 0);
                self.normalize();
            }
            KeyCode::Char('g') => self.cycle_group(),
            KeyCode::Char('z') if self.transposed => self.toggle_fold(),
            KeyCode::Char('c') if self.transposed => self.fold_all(),
            KeyCode::Char('s') => self.search = Some(String::new()),
            KeyCode::Char('n') => {
                let q = self.last_search.clone();
                self.jump(&q);
            }
            _ => return false,
        }
        true
    }

    /// The filter prompt's keys (after `/`); returns whether the key was consumed.
    fn filter_key(&mut self, code: KeyCode) -> bool {
        if let Some(input) = self.input.as_mut() {
            match code {
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
            return true;
        }
        false
    }

    /// The search prompt's keys; returns whether the key was consumed.
    fn search_key(&mut self, code: KeyCode) -> bool {
        let Some(q) = self.search.as_mut() else {
            return false;
        };
        match code {
            KeyCode::Char(c) => q.push(c),
            KeyCode::Backspace => {
                q.pop();
            }
            KeyCode::Enter => {
                let q = self.search.take().unwrap_or_default();
                self.jump(&q);
            }
            KeyCode::Esc => self.search = None,
            _ => {}
        }
        true
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
                needed: false,
                reason: "test".into(),
                deny_only_if_sent: false,
            }),
            not_checked: Vec::new(),
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
            vantages: Vec::new(),
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
        };
        let mut app = App::new(catalog, Arc::new(snapshot), false);
        assert!(app.transposed, "4 endpoints outnumber 3 identities");
        // These tests drive the identity-rows layout.
        app.transposed = false;
        app
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

    #[test]
    fn transposed_rows_group_fold_and_jump() {
        let mut app = app();
        app.handle_key(key('t'));
        assert!(app.transposed);
        let names = |app: &App| -> Vec<String> {
            app.trows()
                .iter()
                .map(|r| match r {
                    Row::Group { name, folded, .. } => {
                        format!("{}{name}", if *folded { "+" } else { "-" })
                    }
                    Row::Endpoint(e) => app.catalog.endpoints[*e].name.clone(),
                })
                .collect()
        };
        assert_eq!(
            names(&app),
            ["-PD", "pd-1", "pd-2", "-TiKV", "kv-1", "-TiDB", "db-1"]
        );
        assert_eq!(app.selected_cell(), Some((0, 0)));
        app.handle_key(key('j'));
        app.handle_key(key('j'));
        assert_eq!(app.sel_group.as_deref(), Some("TiKV"));
        app.handle_key(key('l'));
        assert_eq!(
            app.selected_cell(),
            Some((1, 1)),
            "the header selects the group's worst"
        );
        app.handle_key(key('z'));
        assert_eq!(
            names(&app),
            ["-PD", "pd-1", "pd-2", "+TiKV", "-TiDB", "db-1"]
        );
        assert_eq!(
            app.group_counts(&[1], &[0, 1, 2]),
            vec![(Verdict::Open, 1), (Verdict::Secure, 2)]
        );
        app.handle_key(key('g'));
        app.handle_key(key('g'));
        assert_eq!(app.group_by, GroupBy::Label("rack".into()));
        assert_eq!(names(&app), ["-r0", "pd-1", "pd-2", "-r1", "kv-1", "db-1"]);
        app.handle_key(key('c'));
        assert_eq!(names(&app), ["+r0", "+r1"]);
        // Jump: unfolds the group of the match and selects it.
        app.handle_key(key('s'));
        for c in "db".chars() {
            app.handle_key(key(c));
        }
        app.handle_key(code(KeyCode::Enter));
        assert_eq!(app.sel_endpoint, 3);
        assert_eq!(app.sel_group, None);
        assert!(names(&app).contains(&"db-1".to_string()));
        assert_eq!(app.handle_key(key('n')), Action::None);
        assert_eq!(app.sel_endpoint, 3, "the only match");
    }

    #[test]
    fn changes_view_lists_newest_first_and_enter_jumps() {
        let mut app = app();
        let mut snap = (*app.snapshot).clone();
        snap.finished_at = Some("2026-01-01T00:00:01Z".into());
        app.set_snapshot(Arc::new(snap.clone()));
        snap.round = 2;
        snap.cells[(IdentityId(1), EndpointId(1))] = cell(Some(Verdict::Enforced));
        app.set_snapshot(Arc::new(snap.clone()));
        snap.round = 3;
        snap.cells[(IdentityId(2), EndpointId(0))] = cell(Some(Verdict::Blocked));
        app.set_snapshot(Arc::new(snap));
        app.handle_key(code(KeyCode::Tab));
        app.handle_key(code(KeyCode::Tab));
        assert_eq!(app.view, View::Changes);
        let cells: Vec<usize> = app.history.changes().map(|c| c.cell).collect();
        assert_eq!(cells, [8, 5]);
        app.handle_key(key('j'));
        app.handle_key(code(KeyCode::Enter));
        assert_eq!(app.view, View::Matrix);
        assert_eq!((app.sel_identity, app.sel_endpoint), (1, 1));
        assert!(app.detail);
    }
}
