//! Moving the selection and keeping it visible: the scroll windows ([`fit_rows`],
//! [`fit_cols`]), moves in the matrix and the lists, [`App::normalize`] after any change of
//! filters or layout, and the jumps from a finding or a change to its cell.

use tlsaudit_engine::audit::Finding;

use super::{App, Grid, View};

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

impl App {
    /// Keep the selection on a visible cell, as close as possible to where it was.
    pub fn normalize(&mut self) {
        if self.transposed() {
            self.close_members();
            self.tnormalize();
            return;
        }
        let grid = self.grid();
        self.keep_members(&grid);
        self.keep_selection(&grid);
    }

    /// The member list stays open while its cell is still a fold of the same endpoints.
    fn keep_members(&mut self, grid: &Grid) {
        let Some(m) = self.members() else {
            return;
        };
        let mut eps = m.endpoints.clone();
        eps.sort_unstable();
        let same = self.by_component()
            && grid.rows.contains(&m.identity)
            && grid.cols.iter().any(|c| {
                let mut v = c.endpoints.clone();
                v.sort_unstable();
                v == eps
            });
        if !same {
            self.close_members();
        }
    }

    /// Move a selection that the grid no longer shows to the nearest visible row and column.
    fn keep_selection(&mut self, grid: &Grid) {
        let (r, c) = self.selection_in(grid);
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

    pub(super) fn move_row(&mut self, delta: isize) {
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

    pub(super) fn move_col(&mut self, delta: isize) {
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

    pub(super) fn move_finding(&mut self, delta: isize) {
        if self.findings_order.is_empty() {
            return;
        }
        self.finding_sel = self
            .finding_sel
            .saturating_add_signed(delta)
            .min(self.findings_order.len() - 1);
    }

    /// Select the cell a finding is about, clearing filters that hide it.
    /// Select the cell a finding is about, clearing filters that hide it.
    pub fn jump_to_finding(&mut self) {
        let Some(f) = self.selected_finding().cloned() else {
            return;
        };
        let Some((identity, endpoint)) = self.finding_cell(&f) else {
            self.status = Some(format!("{} concerns the whole cluster", f.code));
            return;
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
        self.open_detail();
    }

    /// The cell a finding is about: its identity and endpoint; for an endpoint's finding, the
    /// first identity failing there; for an identity's, its first failing endpoint (else the
    /// selection's). `None` for a finding about the whole cluster.
    fn finding_cell(&self, f: &Finding) -> Option<(usize, usize)> {
        let ep = f
            .endpoint
            .as_deref()
            .and_then(|n| self.catalog.endpoints.iter().position(|e| e.name == n));
        let id = f
            .identity
            .as_deref()
            .and_then(|n| self.catalog.identities.iter().position(|i| i.name == n));
        match (id, ep) {
            (Some(i), Some(e)) => Some((i, e)),
            (None, Some(e)) => {
                let i = (0..self.catalog.identities.len())
                    .find(|&i| self.failing(i, e))
                    .unwrap_or(self.sel_identity);
                Some((i, e))
            }
            (Some(i), None) => {
                let e = self
                    .order
                    .iter()
                    .copied()
                    .find(|&e| self.failing(i, e))
                    .unwrap_or(self.sel_endpoint);
                Some((i, e))
            }
            (None, None) => None,
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
        self.open_detail();
        self.normalize();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crossterm::event::KeyCode;
    use tlsaudit_engine::audit::{Code, EndpointId, IdentityId, Verdict};

    use super::super::testkit::{app, cell, code, key};
    use super::*;

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
        assert!(app.detail_open());
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
        assert!(app.detail_open());
    }
}
