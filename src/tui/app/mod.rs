//! The dashboard's state machine: what is selected, filtered and shown. Keys go in, [`Action`]s
//! that need the auditor (re-probe, export, quit) come out; nothing here does I/O, so every
//! transition is unit-tested without a terminal.
//!
//! - here: the [`App`] state, its modes ([`Layout`], [`Columns`], [`Pane`], [`Modal`]) and the
//!   snapshot it shows;
//! - `catalog`: the fixed part of the audit ([`Catalog`]);
//! - `grid`: the identity-rows matrix ([`Grid`]), folded cells and their members;
//! - `fleet`: the transposed view (endpoint rows, grouped and foldable) and the search;
//! - `navigation`: moving the selection, keeping it visible, jumping to a finding or change;
//! - `input`: keys to transitions and [`Action`]s.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tlsaudit_engine::audit::{
    CellId, CellState, EndpointId, Finding, IdentityId, Snapshot, Verdict,
};

mod catalog;
mod fleet;
mod grid;
mod input;
mod navigation;
#[cfg(test)]
mod testkit;

pub use catalog::{Catalog, EndpointInfo, IdentityInfo};
pub use fleet::{GroupBy, Row};
pub use grid::{badness, Column, Grid, Members};
pub use navigation::{fit_cols, fit_rows};

/// Which main view is on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Matrix,
    Findings,
    /// Every verdict change since the start (or the baseline), newest first.
    Changes,
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

/// Which way round the matrix is (`t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Identities as rows, endpoints (or components, see [`Columns`]) as columns.
    ByIdentity,
    /// Endpoints as rows, grouped and foldable ([`GroupBy`]); identities as columns.
    Transposed,
}

/// The columns of the identity-rows layout (`c`); kept while transposed, for the way back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// One column per endpoint.
    Endpoint,
    /// One column per component: its visible endpoints folded into their worst cell.
    Component,
}

/// The pane beside or under the matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pane {
    /// No pane: the matrix alone.
    None,
    /// The selected cell's detail.
    Detail,
    /// The member list of the selected folded cell (`Enter` on it).
    Members(Members),
    /// The detail of the list's selected member; `Esc` goes back to the list.
    MemberDetail(Members),
}

/// What takes the keys before the view does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    /// Nothing: keys go to the view.
    None,
    /// The help overlay; the next key closes it.
    Help,
    /// The endpoint filter being typed after `/` (applied while typed), and the filter `Esc`
    /// restores.
    Filter { typed: String, previous: String },
    /// The jump-to-endpoint search being typed after `s`.
    Search(String),
}

/// The dashboard state.
pub struct App {
    pub catalog: Catalog,
    pub snapshot: Arc<Snapshot>,
    pub color: bool,
    pub view: View,
    /// Endpoints as rows and identities as columns, or the other way round (`t`); the default
    /// follows the shape: transposed when endpoints outnumber identities.
    pub layout: Layout,
    /// One column per endpoint or per component, in the identity-rows layout.
    pub columns: Columns,
    /// The pane beside or under the matrix: a detail or the member list of a folded cell.
    pub pane: Pane,
    pub detail_scroll: u16,
    /// The help overlay or a prompt being typed (filter, search).
    pub modal: Modal,
    pub paused: bool,
    /// Show only rows and columns that have a failing cell.
    pub failing_only: bool,
    /// Endpoint substring filter (applied).
    pub filter: String,
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
    /// How the rows of the transposed view are grouped (`g` cycles).
    pub group_by: GroupBy,
    /// Folded groups of the transposed view (by group name).
    pub folded: BTreeSet<String>,
    /// In the transposed view, the selection is on this group's header row.
    pub sel_group: Option<String>,
    /// The last jump-to-endpoint search (for `n`).
    pub last_search: String,
    /// Verdict history of the last rounds ([`super::history::History`]).
    pub history: super::history::History,
    /// Selected line of the changes view.
    pub change_sel: usize,
    pub change_offset: usize,
    /// A merged report opened with `tui --from`: each cell's verdict per vantage point, in the
    /// snapshot's cell order (empty otherwise).
    pub by_vantage: Vec<Option<BTreeMap<String, tlsaudit_report::VantageCell>>>,
    /// With a baseline: what changed since it as of the last finished round (the report's
    /// diff, as `report --baseline` computes it).
    pub baseline_diff: Option<tlsaudit_report::diff::Diff>,
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
        let layout = if catalog.endpoints.len() > catalog.identities.len() {
            Layout::Transposed
        } else {
            Layout::ByIdentity
        };
        let mut app = App {
            catalog,
            snapshot,
            color,
            view: View::Matrix,
            layout,
            columns: Columns::Endpoint,
            pane: Pane::None,
            detail_scroll: 0,
            modal: Modal::None,
            paused: false,
            failing_only: false,
            filter: String::new(),
            status: None,
            next_refresh_secs: None,
            last_finished: None,
            sel_identity: 0,
            sel_endpoint,
            row_offset: 0,
            col_offset: 0,
            finding_sel: 0,
            finding_offset: 0,
            group_by: GroupBy::Component,
            folded: BTreeSet::new(),
            sel_group: None,
            last_search: String::new(),
            history: super::history::History::new(super::history::DEFAULT_ROUNDS),
            change_sel: 0,
            change_offset: 0,
            by_vantage: Vec::new(),
            baseline_diff: None,
            saved: false,
            order,
            findings_order: Vec::new(),
        };
        app.history.record(&app.snapshot);
        app.sort_findings();
        app.last_finished.clone_from(&app.snapshot.finished_at);
        app
    }

    /// Whether the endpoint's server certificate changed since the baseline (`~`, as `report
    /// --baseline` marks it).
    pub fn rotated_since_baseline(&self, endpoint: usize) -> bool {
        let name = self
            .catalog
            .endpoints
            .get(endpoint)
            .map(|e| e.name.as_str());
        self.baseline_diff
            .as_ref()
            .zip(name)
            .is_some_and(|(d, name)| d.rotated(name))
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

    /// Endpoints as rows ([`Layout::Transposed`]).
    pub fn transposed(&self) -> bool {
        self.layout == Layout::Transposed
    }

    /// One column per component ([`Columns::Component`]) in the identity-rows layout.
    pub fn by_component(&self) -> bool {
        self.columns == Columns::Component
    }

    // ---- The pane ----

    /// The member list, when one is open (with or without its selected member's detail).
    pub fn members(&self) -> Option<&Members> {
        match &self.pane {
            Pane::Members(m) | Pane::MemberDetail(m) => Some(m),
            Pane::None | Pane::Detail => None,
        }
    }

    /// Whether a detail is open: the selected cell's, or the selected member's.
    pub fn detail_open(&self) -> bool {
        matches!(self.pane, Pane::Detail | Pane::MemberDetail(_))
    }

    /// Open the detail, or close it (back to the member list when one is open).
    fn toggle_detail(&mut self) {
        self.pane = match std::mem::replace(&mut self.pane, Pane::None) {
            Pane::None => Pane::Detail,
            Pane::Detail => Pane::None,
            Pane::Members(m) => Pane::MemberDetail(m),
            Pane::MemberDetail(m) => Pane::Members(m),
        };
        self.detail_scroll = 0;
    }

    /// Open the detail of the selection (of the selected member when a member list is open).
    fn open_detail(&mut self) {
        self.pane = match std::mem::replace(&mut self.pane, Pane::None) {
            Pane::Members(m) | Pane::MemberDetail(m) => Pane::MemberDetail(m),
            Pane::None | Pane::Detail => Pane::Detail,
        };
        self.detail_scroll = 0;
    }

    /// Close the detail; a member's goes back to its list.
    fn close_detail(&mut self) {
        self.pane = match std::mem::replace(&mut self.pane, Pane::None) {
            Pane::MemberDetail(m) => Pane::Members(m),
            Pane::Detail => Pane::None,
            other => other,
        };
    }

    /// Close the member list; a member's detail stays as the detail of the selection.
    fn close_members(&mut self) {
        self.pane = match std::mem::replace(&mut self.pane, Pane::None) {
            Pane::MemberDetail(_) | Pane::Detail => Pane::Detail,
            Pane::Members(_) | Pane::None => Pane::None,
        };
    }

    // ---- The snapshot ----

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

    // ---- Filters ----

    /// The filter in force: the one being typed, else the applied one.
    pub fn active_filter(&self) -> &str {
        match &self.modal {
            Modal::Filter { typed, .. } => typed,
            Modal::None | Modal::Help | Modal::Search(_) => &self.filter,
        }
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
}
