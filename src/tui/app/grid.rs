//! The identity-rows matrix ([`Layout::ByIdentity`](super::Layout::ByIdentity)): its visible
//! rows and columns after the filters ([`Grid`]), the selected cell in it, and the folded
//! cells of the component columns with their member lists ([`Members`]).

use tlsaudit_engine::audit::{CellId, EndpointId, IdentityId, Verdict};
use tlsaudit_engine::profile::Component;

use super::{App, Pane};

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

impl App {
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
                Some(last) if self.by_component() && last.component == component => {
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
    pub(super) fn open_members(&mut self) -> bool {
        let grid = self.grid();
        let (Some(_), Some(c)) = self.selection_in(&grid) else {
            return false;
        };
        let eps = &grid.cols[c].endpoints;
        if !self.by_component() || eps.len() < 2 {
            return false;
        }
        self.pane = Pane::Members(Members {
            identity: self.sel_identity,
            endpoints: self.worst_first(self.sel_identity, eps),
            sel: 0,
        });
        self.detail_scroll = 0;
        true
    }

    /// Move in the member list (when open).
    pub(super) fn move_member(&mut self, delta: isize) {
        let (Pane::Members(m) | Pane::MemberDetail(m)) = &mut self.pane else {
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
        if self.transposed() {
            return self.tselected_cell();
        }
        if let Some(m) = self.members() {
            return m.endpoints.get(m.sel).map(|&e| (m.identity, e));
        }
        let grid = self.grid();
        let (Some(r), Some(c)) = self.selection_in(&grid) else {
            return None;
        };
        let identity = grid.rows[r];
        let col = &grid.cols[c];
        if self.by_component() {
            self.worst(identity, col).map(|(e, _)| (identity, e))
        } else {
            Some((identity, self.sel_endpoint))
        }
    }

    /// Cell indexes of the selection (several in the component view).
    pub fn selected_cells(&self) -> Vec<CellId> {
        if self.transposed() {
            return self.tselected_cells();
        }
        if self.members().is_some() {
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
        let eps: Vec<usize> = if self.by_component() {
            grid.cols[c].endpoints.clone()
        } else {
            vec![self.sel_endpoint]
        };
        eps.into_iter()
            .map(|e| (IdentityId(self.sel_identity), EndpointId(e)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{app, key, names};
    use super::*;

    #[test]
    fn columns_are_grouped_by_component() {
        let app = app();
        let g = app.grid();
        assert_eq!(names(&app, &g), ["pd-1", "pd-2", "kv-1", "db-1"]);
        assert_eq!(g.rows, [0, 1, 2]);
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
}
