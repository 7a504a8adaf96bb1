//! The identity-rows matrix: identities as rows, endpoints (or components) as columns, with
//! group headers, scroll hints and the selected cell bracketed; the line that names the
//! selection in full, and the legend under it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::{symbol, truncate, width, Theme, CHANGED, DIFFER, PENDING, ROTATED};
use crate::tui::app::{badness, fit_cols, fit_rows, App, Column, Grid, Row};
use tlsaudit_engine::audit::Verdict;

/// What the legend has besides the verdicts every matrix may show.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Marks {
    /// Cells not probed yet.
    pub pending: bool,
    /// Folded rows whose members differ.
    pub folds: bool,
    /// Identities minted from the CA key.
    pub minted: bool,
    /// Cells refused because our own certificate is faulty (rare: named only when present).
    pub bad_identity: bool,
}

/// The legend, as lines that fit `width`, never splitting an item.
pub(super) fn legend(th: Theme, width: u16, marks: Marks) -> Vec<Line<'static>> {
    let Marks {
        pending,
        folds,
        minted,
        bad_identity,
    } = marks;
    let mut items: Vec<Span<'static>> = Verdict::ALL
        .iter()
        .filter(|v| bad_identity || v.always_listed())
        .map(|v| {
            Span::styled(
                format!("{} {}", v.symbol(), v.as_str()),
                th.verdict(Some(*v)),
            )
        })
        .collect();
    if pending {
        items.push(Span::styled(format!("{PENDING} pending"), th.dim()));
    }
    items.push(Span::raw(format!("{CHANGED} changed")));
    items.push(Span::raw(format!("{ROTATED} rotated")));
    if folds {
        items.push(Span::raw(format!("{DIFFER} members differ")));
    }
    if minted {
        items.push(Span::raw("name* minted from the CA key"));
    }
    let mut lines = Vec::new();
    let mut line: Vec<Span<'static>> = Vec::new();
    let mut used = 0usize;
    for item in items {
        let w = item.width() + 2;
        if used + w > usize::from(width) && !line.is_empty() {
            lines.push(Line::from(std::mem::take(&mut line)));
            used = 0;
        }
        line.push(Span::raw(" "));
        line.push(item);
        line.push(Span::raw(" "));
        used += w;
    }
    if !line.is_empty() {
        lines.push(Line::from(line));
    }
    lines
}

/// The label of an endpoint column: the name without the component prefix the group header
/// already shows.
fn endpoint_label(app: &App, e: usize) -> String {
    let Some(ep) = app.catalog.endpoints.get(e) else {
        return String::new();
    };
    let prefix = format!("{}-", ep.component.as_str());
    match ep.name.strip_prefix(&prefix) {
        Some(rest) if !rest.is_empty() => rest.to_string(),
        _ => ep.name.clone(),
    }
}

/// Column labels shortened to `max` characters, unique within each group of columns (a group
/// starts where `seps` is true).
fn shorten_labels(labels: &[String], seps: &[bool], max: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(labels.len());
    let mut start = 0;
    for end in 1..=labels.len() {
        if end == labels.len() || seps[end] {
            let group: Vec<&str> = labels[start..end].iter().map(String::as_str).collect();
            out.extend(tlsaudit_report::table::abbreviate(&group, max));
            start = end;
        }
    }
    out
}

pub(super) fn draw_matrix(frame: &mut Frame, area: Rect, app: &mut App, th: Theme) {
    let grid = app.grid();
    let mut title = vec![Span::styled(
        if app.by_component() {
            " Matrix by component "
        } else {
            " Matrix "
        },
        th.title(),
    )];
    title.extend(filter_badges(app, th));
    let block = Block::bordered().title(Line::from(title));
    let inner = block.inner(area);
    if grid.rows.is_empty() || grid.cols.is_empty() {
        frame.render_widget(block, area);
        frame.render_widget(
            Paragraph::new(format!(" {}", empty_message(app))).wrap(Wrap { trim: false }),
            inner,
        );
        return;
    }
    let layout = MatrixLayout::new(app, &grid, inner);
    let win = layout.scroll(app, &grid);
    let position = format!(
        " cols {}-{}/{}  rows {}-{}/{} ",
        app.col_offset + 1,
        win.last_col + 1,
        grid.cols.len(),
        app.row_offset + 1,
        win.last_row + 1,
        grid.rows.len()
    );
    let block = block.title_bottom(Line::from(Span::styled(position, th.dim())));
    frame.render_widget(block, area);
    let pass = RenderPass {
        app,
        grid: &grid,
        th,
        win,
    };
    layout.render(frame.buffer_mut(), &pass);
}

/// The title's marks of the filters in force: failing only, the endpoint filter.
pub(super) fn filter_badges(app: &App, th: Theme) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    if app.failing_only {
        out.push(Span::styled(" failing only ", th.fg(Color::Yellow)));
    }
    let filter = app.active_filter();
    if !filter.is_empty() {
        out.push(Span::styled(
            format!(" filter: {filter} "),
            th.fg(Color::Yellow),
        ));
    }
    out
}

/// Why the matrix is empty.
fn empty_message(app: &App) -> &'static str {
    if app.catalog.endpoints.is_empty() {
        "The inventory has no endpoints."
    } else if app.failing_only && app.snapshot.round > 0 && app.active_filter().is_empty() {
        "No failing cells. (f shows all)"
    } else {
        "No endpoint matches the filters. (Esc clears them)"
    }
}

/// Where the selection is and the last visible column and row, once scrolled.
#[derive(Debug, Clone, Copy)]
struct Window {
    sel_r: Option<usize>,
    sel_c: Option<usize>,
    last_col: usize,
    last_row: usize,
}

/// One render pass of the matrix: the state drawn, the selection, and the last visible column
/// and row.
struct RenderPass<'a> {
    app: &'a App,
    grid: &'a Grid,
    th: Theme,
    win: Window,
}

impl RenderPass<'_> {
    /// The grid rows on screen.
    fn visible_rows(&self) -> std::ops::RangeInclusive<usize> {
        self.app.row_offset..=self.win.last_row
    }
}

/// The cell width and the column labels: the full names when every column fits `avail`,
/// else shortened (`seps`: where a component starts).
fn fit_labels(app: &App, grid: &Grid, seps: &[bool], avail: u16) -> (u16, Vec<String>) {
    let wide: Vec<String> = grid
        .cols
        .iter()
        .map(|c| {
            if app.by_component() {
                c.component.title().to_string()
            } else {
                endpoint_label(app, c.endpoints[0])
            }
        })
        .collect();
    // Folded cells need room for the symbol, the disagreement mark and a change mark.
    let natural = wide
        .iter()
        .map(|l| width(l))
        .max()
        .unwrap_or(1)
        .saturating_add(1)
        .clamp(if app.by_component() { 5 } else { 3 }, 12);
    let total: u32 = seps
        .iter()
        .map(|s| u32::from(natural) + u32::from(*s))
        .sum();
    if total <= u32::from(avail) {
        (natural, wide)
    } else if app.by_component() {
        (5, wide.iter().map(|l| truncate(l, 4)).collect())
    } else {
        // Names too long for every column to show: shorten them (unique within their
        // component, by the table's rule) to fit, but never under 4 characters (columns
        // scroll instead); the selection line names the selected one in full.
        let n = u32::try_from(grid.cols.len()).unwrap_or(u32::MAX).max(1);
        let n_seps = u32::try_from(seps.iter().filter(|s| **s).count()).unwrap_or(0);
        let fit = u16::try_from(u32::from(avail).saturating_sub(n_seps) / n).unwrap_or(5);
        let cell_w = fit.max(5).min(natural.max(5));
        (cell_w, shorten_labels(&wide, seps, usize::from(cell_w - 1)))
    }
}

/// A cell of the matrix: its verdict (a fold's worst), and whether it (any member) changed or
/// rotated since the previous round.
fn cell_state(app: &App, identity: usize, col: &Column) -> (Option<Verdict>, bool, bool) {
    if col.endpoints.len() == 1 {
        let c = app.cell(identity, col.endpoints[0]);
        return (
            c.and_then(|c| c.verdict),
            c.is_some_and(|c| c.changed),
            c.is_some_and(|c| c.rotated) || app.rotated_since_baseline(col.endpoints[0]),
        );
    }
    let mut worst = None;
    let (mut changed, mut rotated) = (false, false);
    for &e in &col.endpoints {
        if let Some(c) = app.cell(identity, e) {
            if badness(c.verdict) > badness(worst) {
                worst = c.verdict;
            }
            changed |= c.changed;
            rotated |= c.rotated || app.rotated_since_baseline(e);
        }
    }
    (worst, changed, rotated)
}

/// Column widths and labels of the matrix for one frame.
struct MatrixLayout {
    inner: Rect,
    name_w: u16,
    cell_w: u16,
    /// Per column: cell width plus one for a group separator before it.
    widths: Vec<u16>,
    seps: Vec<bool>,
    labels: Vec<String>,
    avail: u16,
}

impl MatrixLayout {
    fn new(app: &App, grid: &Grid, inner: Rect) -> MatrixLayout {
        let name_w = grid
            .rows
            .iter()
            .filter_map(|&i| app.catalog.identities.get(i))
            .map(|i| width(&i.label()))
            .max()
            .unwrap_or(4)
            // Whole names up to 32 where the terminal is wide, else cut at 16.
            .clamp(4, if inner.width >= 120 { 32 } else { 16 })
            + 1;
        let avail = inner.width.saturating_sub(name_w);
        let seps: Vec<bool> = grid
            .cols
            .iter()
            .enumerate()
            .map(|(k, c)| k > 0 && grid.cols[k - 1].component != c.component)
            .collect();
        let (cell_w, labels) = fit_labels(app, grid, &seps, avail);
        let widths = seps.iter().map(|s| cell_w + u16::from(*s)).collect();
        MatrixLayout {
            inner,
            name_w,
            cell_w,
            widths,
            seps,
            labels,
            avail,
        }
    }

    fn last_visible(&self, offset: usize) -> usize {
        let mut used = 0u32;
        let mut last = offset;
        for (k, w) in self.widths.iter().enumerate().skip(offset) {
            used += u32::from(*w);
            if used > u32::from(self.avail) {
                break;
            }
            last = k;
        }
        last
    }

    /// Scroll so that the selection is visible; where it is and what is visible.
    fn scroll(&self, app: &mut App, grid: &Grid) -> Window {
        let (sel_r, sel_c) = app.selection_in(grid);
        let capacity = usize::from(self.inner.height.saturating_sub(2));
        app.col_offset = fit_cols(app.col_offset, sel_c.unwrap_or(0), &self.widths, self.avail);
        app.row_offset = fit_rows(
            app.row_offset,
            sel_r.unwrap_or(0),
            grid.rows.len(),
            capacity,
        );
        Window {
            sel_r,
            sel_c,
            last_col: self.last_visible(app.col_offset),
            last_row: (app.row_offset + capacity)
                .min(grid.rows.len())
                .saturating_sub(1),
        }
    }

    fn render(&self, buf: &mut Buffer, pass: &RenderPass<'_>) {
        let inner = self.inner;
        if inner.height < 3 || self.avail < self.cell_w {
            return;
        }
        self.render_row_names(buf, pass);
        self.render_scroll_hint(buf, pass);
        let mut x = inner.x + self.name_w;
        for k in pass.app.col_offset..=pass.win.last_col {
            let Some(col) = pass.grid.cols.get(k) else {
                break;
            };
            x = self.render_column(buf, pass, k, col, x);
        }
    }

    /// The line of the group headers (and, by component, of the column labels).
    fn y_group(&self) -> u16 {
        self.inner.y
    }

    /// The line of the column labels (and of the scroll hint).
    fn y_label(&self) -> u16 {
        self.inner.y + 1
    }

    /// The line of the first visible row.
    fn y_rows(&self) -> u16 {
        self.inner.y + 2
    }

    /// The identity names, one per visible row.
    fn render_row_names(&self, buf: &mut Buffer, pass: &RenderPass<'_>) {
        let (app, th) = (pass.app, pass.th);
        for (line, r) in pass.visible_rows().enumerate() {
            let Some(id) = pass
                .grid
                .rows
                .get(r)
                .and_then(|&i| app.catalog.identities.get(i))
            else {
                continue;
            };
            let style = if Some(r) == pass.win.sel_r {
                th.title().add_modifier(Modifier::UNDERLINED)
            } else {
                th.label()
            };
            buf.set_stringn(
                self.inner.x,
                self.y_rows() + u16::try_from(line).unwrap_or(0),
                id.label(),
                usize::from(self.name_w - 1),
                style,
            );
        }
    }

    /// `<` and `>` when columns are hidden to the left / right.
    fn render_scroll_hint(&self, buf: &mut Buffer, pass: &RenderPass<'_>) {
        let mut hint = String::new();
        if pass.app.col_offset > 0 {
            hint.push('<');
        }
        if pass.win.last_col + 1 < pass.grid.cols.len() {
            hint.push('>');
        }
        buf.set_string(self.inner.x, self.y_label(), hint, pass.th.dim());
    }

    /// Column `k` at `x`: its group separator, group header, label and cells. Returns the x of
    /// the next column.
    fn render_column(
        &self,
        buf: &mut Buffer,
        pass: &RenderPass<'_>,
        k: usize,
        col: &Column,
        mut x: u16,
    ) -> u16 {
        let (app, th) = (pass.app, pass.th);
        if self.seps[k] {
            let rows = u16::try_from(pass.visible_rows().count()).unwrap_or(0);
            for y in self.y_group()..self.y_rows() + rows {
                buf.set_string(x, y, "│", th.dim());
            }
            x += 1;
        }
        self.render_group_header(buf, pass, k, col, x);
        let selected_col = Some(k) == pass.win.sel_c;
        self.render_column_label(buf, pass, k, col, x, selected_col);
        for (line, r) in pass.visible_rows().enumerate() {
            let Some(&identity) = pass.grid.rows.get(r) else {
                continue;
            };
            let y = self.y_rows() + u16::try_from(line).unwrap_or(0);
            self.render_cell(
                buf,
                app,
                th,
                identity,
                col,
                x,
                y,
                selected_col && Some(r) == pass.win.sel_r,
            );
        }
        x + self.cell_w
    }

    /// The group header, at a group's first visible column (not when grouped by component).
    fn render_group_header(
        &self,
        buf: &mut Buffer,
        pass: &RenderPass<'_>,
        k: usize,
        col: &Column,
        x: u16,
    ) {
        let (app, last_col) = (pass.app, pass.win.last_col);
        let group_start = k == app.col_offset || self.seps[k];
        if group_start && !app.by_component() {
            let last_group = (k + 1..=last_col).all(|j| !self.seps[j]);
            let span: u16 = if last_group {
                self.inner.right().saturating_sub(x) + 1
            } else {
                (k..=last_col)
                    .take_while(|&j| j == k || !self.seps[j])
                    .map(|j| self.widths[j])
                    .sum::<u16>()
                    .saturating_sub(u16::from(self.seps[k]))
            };
            buf.set_stringn(
                x,
                self.y_group(),
                col.component.title(),
                usize::from(span.saturating_sub(1)),
                pass.th.title(),
            );
        }
    }

    /// The label of column `k` (by component: on the group line, with the endpoint count
    /// below).
    fn render_column_label(
        &self,
        buf: &mut Buffer,
        pass: &RenderPass<'_>,
        k: usize,
        col: &Column,
        x: u16,
        selected_col: bool,
    ) {
        let th = pass.th;
        let label_style = if selected_col {
            th.title().add_modifier(Modifier::UNDERLINED)
        } else {
            th.label()
        };
        if pass.app.by_component() {
            buf.set_stringn(
                x,
                self.y_group(),
                &self.labels[k],
                usize::from(self.cell_w - 1),
                label_style,
            );
            let n = format!("({})", col.endpoints.len());
            buf.set_stringn(x, self.y_label(), n, usize::from(self.cell_w - 1), th.dim());
        } else {
            buf.set_stringn(
                x,
                self.y_label(),
                &self.labels[k],
                usize::from(self.cell_w - 1),
                label_style,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn render_cell(
        &self,
        buf: &mut Buffer,
        app: &App,
        th: Theme,
        identity: usize,
        col: &Column,
        x: u16,
        y: u16,
        selected: bool,
    ) {
        let differ = col.endpoints.len() > 1 && app.members_differ(identity, &col.endpoints);
        let (verdict, changed, rotated) = cell_state(app, identity, col);
        let mut style = th.verdict(verdict);
        let mid = (self.cell_w - 1) / 2;
        if selected {
            // Reversed, and bracketed so that the selection shows without any attribute too.
            style = style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
            buf.set_string(x, y, " ".repeat(usize::from(self.cell_w)), style);
            buf.set_string(x + mid - 1, y, "[", style);
            buf.set_string(x + mid + 1, y, "]", style);
        }
        buf.set_string(x + mid, y, symbol(verdict).to_string(), style);
        // The members' disagreement first (it must not be lost for lack of room), then a change.
        let marks = [
            differ.then_some(DIFFER),
            if rotated {
                Some(ROTATED)
            } else if changed {
                Some(CHANGED)
            } else {
                None
            },
        ];
        let first = if selected { mid + 2 } else { mid + 1 };
        for (marker_x, m) in (first..self.cell_w).zip(marks.into_iter().flatten()) {
            buf.set_string(
                x + marker_x,
                y,
                m.to_string(),
                style.add_modifier(Modifier::BOLD),
            );
        }
    }
}

/// The line under the matrix that names the selected cell in full.
pub(super) fn selection_line(app: &App, th: Theme) -> Line<'static> {
    let Some((i, e)) = app.selected_cell() else {
        return Line::default();
    };
    let (Some(id), Some(_)) = (app.catalog.identities.get(i), app.catalog.endpoints.get(e)) else {
        return Line::default();
    };
    let v = app.verdict(i, e);
    let mut spans = vec![
        Span::raw(" "),
        Span::styled(id.name.clone(), th.title()),
        Span::raw(" -> "),
    ];
    spans.extend(selected_target(app, th, i, e));
    spans.push(Span::styled(
        format!("{} {}", symbol(v), v.map_or("pending", Verdict::as_str)),
        th.verdict(v),
    ));
    if let Some(x) = app.catalog.expected(i, e) {
        spans.push(Span::styled(format!(", {}", x.label()), th.dim()));
    }
    Line::from(spans)
}

/// What the selection is at: a group (transposed), a member of a folded cell, a component
/// fold, or an endpoint; `e` is the endpoint shown (a fold's worst).
fn selected_target(app: &App, th: Theme, i: usize, e: usize) -> Vec<Span<'static>> {
    let Some(ep) = app.catalog.endpoints.get(e) else {
        return Vec::new();
    };
    if let (true, Some(g)) = (app.transposed(), &app.sel_group) {
        let n = app
            .trows()
            .into_iter()
            .find_map(|r| match r {
                Row::Group {
                    name, endpoints, ..
                } if name == *g => Some(endpoints.len()),
                _ => None,
            })
            .unwrap_or(0);
        vec![
            Span::styled(format!("group {g}"), th.title()),
            Span::raw(format!(" ({n} endpoints, worst {}): ", ep.name)),
        ]
    } else if let Some(m) = app.members().filter(|_| !app.transposed()) {
        vec![
            Span::styled(ep.name.clone(), th.title()),
            Span::raw(format!(
                " ({} of {} {} endpoints): ",
                m.sel + 1,
                m.endpoints.len(),
                ep.component.title()
            )),
        ]
    } else if app.by_component() && !app.transposed() {
        component_target(app, th, i, e)
    } else {
        vec![
            Span::styled(ep.name.clone(), th.title()),
            Span::raw(format!(
                " ({} {} {}): ",
                ep.component.title(),
                ep.role,
                ep.address
            )),
        ]
    }
}

/// A component fold: its endpoint count, whether its members differ, its worst endpoint `e`.
fn component_target(app: &App, th: Theme, i: usize, e: usize) -> Vec<Span<'static>> {
    let Some(ep) = app.catalog.endpoints.get(e) else {
        return Vec::new();
    };
    let col = app
        .grid()
        .cols
        .into_iter()
        .find(|c| c.endpoints.contains(&e));
    let n = col.as_ref().map_or(1, |c| c.endpoints.len());
    let differ = col
        .as_ref()
        .is_some_and(|c| app.members_differ(i, &c.endpoints));
    let mut spans = vec![
        Span::styled(ep.component.title().to_string(), th.title()),
        Span::raw(format!(" ({n} endpoints")),
    ];
    if differ {
        spans.push(Span::styled(format!(" {DIFFER}"), th.title()));
    }
    spans.push(Span::raw(format!(", worst {}): ", ep.name)));
    spans
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use tlsaudit_engine::audit::IdentityKind;
    use tlsaudit_engine::profile::Component;

    use super::super::testkit::{big, frame, press};
    use super::*;
    use crate::tui::app::{Layout, Pane};

    /// A folded cell over a blocked and a secure member shows the blocked one with the mark,
    /// and `Enter` lists both; the plaintext status port does not hide the blocked gRPC port.
    #[test]
    fn a_folded_cell_shows_the_blocked_member_with_the_mark_and_enter_lists_both() {
        // 4 endpoints, one per component: pd-0, tikv-1, tidb-2, tiflash-3; 1 identity.
        let mut app = big(4, 1);
        let mut snap = (*app.snapshot).clone();
        let mut set = |e: usize, v: Verdict| {
            snap.cells[(
                tlsaudit_engine::audit::IdentityId(0),
                tlsaudit_engine::audit::EndpointId(e),
            )]
                .verdict = Some(v);
        };
        set(0, Verdict::Secure);
        set(1, Verdict::Blocked);
        set(2, Verdict::Secure);
        set(3, Verdict::Secure);
        app.set_snapshot(Arc::new(snap.clone()));
        // Fold tikv-1 and pd-0 into one column: make pd-0 a TiKV endpoint.
        app.catalog.endpoints[0].component = Component::Tikv;
        app.catalog.endpoints[0].name = "tikv-0".into();
        app = App::new(app.catalog.clone(), Arc::new(snap), false);
        app.layout = Layout::ByIdentity;
        press(&mut app, 'c', 1);
        let s = frame(&mut app, 80, 24);
        let row = s
            .lines()
            .find(|l| l.contains("│id-0"))
            .unwrap_or_default()
            .to_string();
        assert!(row.contains("[X]≠"), "blocked shown, with the mark:\n{s}");
        assert!(s.contains("≠ members differ"), "legend:\n{s}");
        app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        let s = frame(&mut app, 80, 24);
        assert!(s.contains("id-0 -> TiKV: 2 endpoints, 2 verdicts"), "{s}");
        let blocked = s.lines().position(|l| l.contains("X blocked     tikv-1"));
        let secure = s.lines().position(|l| l.contains("+ secure      tikv-0"));
        assert!(
            matches!((blocked, secure), (Some(b), Some(s)) if b < s),
            "both listed, worst first:\n{s}"
        );
        // Enter opens the selected member's own detail; Esc goes back to the list.
        app.handle_key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE));
        app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        assert_eq!(app.selected_cell(), Some((0, 0)));
        let s = frame(&mut app, 80, 24);
        assert!(s.contains("id-0 -> tikv-0"), "{s}");
        app.handle_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
        assert!(matches!(app.pane, Pane::Members(_)));
        app.handle_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
        assert_eq!(app.pane, Pane::None);
        // Unencrypted (a status port) does not outrank blocked (a gRPC port).
        let mut snap = (*app.snapshot).clone();
        snap.cells[(
            tlsaudit_engine::audit::IdentityId(0),
            tlsaudit_engine::audit::EndpointId(0),
        )]
            .verdict = Some(Verdict::Unencrypted);
        app.set_snapshot(Arc::new(snap));
        let s = frame(&mut app, 80, 24);
        let row = s
            .lines()
            .find(|l| l.contains("│id-0"))
            .unwrap_or_default()
            .to_string();
        assert!(row.contains("[X]≠"), "{s}");
    }

    #[test]
    fn a_minted_identity_is_marked_in_both_layouts_and_the_legend() {
        let mut app = big(8, 3);
        app.catalog.identities[1].name = "tikv".into();
        app.catalog.identities[1].kind = IdentityKind::Minted;
        app.catalog.identities[1].cn = Some("tikv".into());
        let rows = frame(&mut app, 100, 30);
        assert!(rows.contains("tikv*"), "{rows}");
        assert!(rows.contains("name* minted from the CA key"), "{rows}");
        assert!(!rows.contains("id-0*"), "{rows}");
        app.layout = Layout::Transposed;
        let fleet = frame(&mut app, 100, 30);
        assert!(fleet.contains("tikv*"), "{fleet}");
        // Without a minted identity, no mark and no legend item.
        let mut plain = big(8, 3);
        assert!(!frame(&mut plain, 100, 30).contains("minted"));
    }

    /// The selected cell is drawn `[x]`; it must be on screen after every move.
    #[test]
    fn hundred_endpoints_ten_identities_stay_usable_in_80x24() {
        for n_id in [10, 30] {
            scroll_around(n_id);
        }
    }

    fn scroll_around(n_id: usize) {
        let mut app = big(100, n_id);
        let s = frame(&mut app, 80, 24);
        assert!(s.contains("round 2: 40/88 probes"), "progress gauge:\n{s}");
        let last = n_id - 1;
        for (key, times) in [('l', 60), ('j', last), ('l', 39), ('h', 99), ('k', last)] {
            for _ in 0..times {
                press(&mut app, key, 1);
                let s = frame(&mut app, 80, 24);
                assert_eq!(s.matches('[').count(), 1, "one selected cell:\n{s}");
                let name = &app.catalog.endpoints[app.sel_endpoint].name;
                assert!(s.contains(&format!("-> {name} (")), "{name} named:\n{s}");
                let row = &app.catalog.identities[app.sel_identity].name;
                let line = s.lines().find(|l| l.contains('[')).unwrap_or_default();
                assert!(line.contains(&format!("│{row} ")), "row {row}:\n{s}");
            }
        }
        assert_eq!((app.sel_identity, app.sel_endpoint), (0, 0));
        let s = frame(&mut app, 80, 24);
        assert!(s.contains("cols 1-"), "{s}");
        assert!(s.contains("/100"), "{s}");
    }
}
