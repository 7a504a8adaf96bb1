//! The transposed view ([`Layout::Transposed`](super::Layout::Transposed)): endpoints as
//! rows, grouped ([`GroupBy`]) under foldable headers ([`Row`]), identities as columns; and
//! the jump-to-endpoint search (`s`, `n`) that serves it.

use std::collections::BTreeSet;

use tlsaudit_engine::audit::{CellId, EndpointId, IdentityId, Verdict};

use super::{badness, App, Layout, View};

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
        let mut n = [0usize; Verdict::ALL.len()];
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

    pub(super) fn tselected_cell(&self) -> Option<(usize, usize)> {
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

    pub(super) fn tselected_cells(&self) -> Vec<CellId> {
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
    pub(super) fn tnormalize(&mut self) {
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

    pub(super) fn tmove_row(&mut self, delta: isize) {
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

    pub(super) fn tmove_col(&mut self, delta: isize) {
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
        self.layout = Layout::Transposed;
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
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyCode;

    use super::super::testkit::{app, code, key};
    use super::super::Action;
    use super::*;

    #[test]
    fn transposed_rows_group_fold_and_jump() {
        let mut app = app();
        app.handle_key(key('t'));
        assert!(app.transposed());
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
}
