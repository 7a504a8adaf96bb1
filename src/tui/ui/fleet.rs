//! Drawing the fleet view: the transposed matrix, endpoints as rows (grouped under foldable
//! headers that show each identity's worst verdict and the group's counts) and identities as
//! columns.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::matrix::filter_badges;
use super::{symbol, truncate, width, Theme, CHANGED, DIFFER, ROTATED};
use crate::tui::app::{fit_cols, fit_rows, App, IdentityInfo, Row};
use tlsaudit_engine::audit::Verdict;

/// Column geometry of the transposed matrix for one frame.
struct Geometry {
    name_w: u16,
    cell_w: u16,
    cols: Vec<usize>,
    avail: u16,
}

fn geometry(app: &App, inner: Rect) -> Geometry {
    let cols = app.tcols();
    let name_w = app
        .catalog
        .endpoints
        .iter()
        .map(|e| width(&e.name))
        .max()
        .unwrap_or(8)
        .clamp(10, 30)
        + 3;
    let natural = cols
        .iter()
        .filter_map(|&i| app.catalog.identities.get(i))
        .map(|i| width(&i.label()) + 1)
        .max()
        .unwrap_or(4)
        .clamp(4, 33);
    let avail = inner.width.saturating_sub(name_w);
    // Identity names whole when every column fits at their width (`expired-visitor`, not
    // `expired-vi`); else cut to 10 and the columns scroll.
    let n = u32::try_from(cols.len()).unwrap_or(u32::MAX);
    let cell_w = if n.saturating_mul(u32::from(natural)) <= u32::from(avail) {
        natural
    } else {
        natural.min(11)
    };
    Geometry {
        name_w,
        cell_w,
        cols,
        avail,
    }
}

/// The window of the transposed matrix on screen for one frame.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// The selected row, if visible after the filters.
    sel_r: Option<usize>,
    last_col: usize,
    last_row: usize,
}

/// Scroll the transposed matrix so that the selection is visible; the window that results.
fn scroll(app: &mut App, g: &Geometry, rows: &[Row], inner: Rect) -> Window {
    let sel_r = app.tsel_row(rows);
    let sel_c = g.cols.iter().position(|&i| i == app.sel_identity);
    let widths = vec![g.cell_w; g.cols.len()];
    app.col_offset = fit_cols(app.col_offset, sel_c.unwrap_or(0), &widths, g.avail);
    let capacity = usize::from(inner.height.saturating_sub(1));
    app.row_offset = fit_rows(app.row_offset, sel_r.unwrap_or(0), rows.len(), capacity);
    let fit = usize::from(g.avail / g.cell_w.max(1)).max(1);
    Window {
        sel_r,
        last_col: (app.col_offset + fit).min(g.cols.len()) - 1,
        last_row: (app.row_offset + capacity)
            .min(rows.len())
            .saturating_sub(1),
    }
}

/// The transposed matrix: a header of identity names, then group headers (worst verdict per
/// identity and counts) and endpoint rows.
pub(super) fn draw_transposed(frame: &mut Frame, area: Rect, app: &mut App, th: Theme) {
    let rows = app.trows();
    let mut title = vec![Span::styled(
        format!(
            " Matrix: endpoints x identities, by {} ",
            app.group_by.describe()
        ),
        th.title(),
    )];
    title.extend(filter_badges(app, th));
    let block = Block::bordered().title(Line::from(title));
    let inner = block.inner(area);
    let g = geometry(app, inner);
    if rows.is_empty() || g.cols.is_empty() {
        frame.render_widget(block, area);
        let msg = if app.catalog.endpoints.is_empty() {
            " The inventory has no endpoints."
        } else {
            " Nothing matches the filters. (Esc clears them)"
        };
        frame.render_widget(Paragraph::new(msg).wrap(Wrap { trim: false }), inner);
        return;
    }
    let win = scroll(app, &g, &rows, inner);
    let block = block.title_bottom(position(app, &g, rows.len(), win, th));
    frame.render_widget(block, area);
    if inner.height < 2 || g.avail < g.cell_w {
        return;
    }
    let pass = Pass {
        app,
        th,
        g: &g,
        inner,
        last_col: win.last_col,
    };
    let buf = frame.buffer_mut();
    pass.identity_names(buf);
    for (line, r) in (app.row_offset..=win.last_row).enumerate() {
        let y = inner.y + 1 + u16::try_from(line).unwrap_or(0);
        pass.row(buf, &rows[r], y, Some(r) == win.sel_r);
    }
}

/// The bottom line of the frame: which rows and identities are on screen, and the keys.
fn position(app: &App, g: &Geometry, n_rows: usize, win: Window, th: Theme) -> Line<'static> {
    Line::from(Span::styled(
        format!(
            " rows {}-{}/{}  identities {}-{}/{}  t: transpose  g: group  z: fold ",
            app.row_offset + 1,
            win.last_row + 1,
            n_rows,
            app.col_offset + 1,
            win.last_col + 1,
            g.cols.len()
        ),
        th.dim(),
    ))
}

/// One frame's drawing of the transposed matrix's lines: the state, the geometry and the last
/// visible identity column.
struct Pass<'a> {
    app: &'a App,
    th: Theme,
    g: &'a Geometry,
    inner: Rect,
    last_col: usize,
}

impl Pass<'_> {
    /// The identity columns on screen.
    fn visible(&self) -> &[usize] {
        &self.g.cols[self.app.col_offset..=self.last_col]
    }

    /// The x of the `k`th visible identity column.
    fn cell_x(&self, k: usize) -> u16 {
        self.inner.x + self.g.name_w + self.g.cell_w * u16::try_from(k).unwrap_or(0)
    }

    /// The x just after the last visible cell, and the room left there on the line.
    fn after_cells(&self) -> (u16, usize) {
        let x = self.cell_x(self.visible().len());
        (x, usize::from(self.inner.right().saturating_sub(x + 1)))
    }

    /// The header line: the scroll hint, then the identity names.
    fn identity_names(&self, buf: &mut Buffer) {
        let (app, th, inner) = (self.app, self.th, self.inner);
        let mut hint = String::new();
        if app.col_offset > 0 {
            hint.push('<');
        }
        if self.last_col + 1 < self.g.cols.len() {
            hint.push('>');
        }
        buf.set_string(inner.x, inner.y, format!("{hint:<2}endpoint"), th.dim());
        for (k, &i) in self.visible().iter().enumerate() {
            let style = if i == app.sel_identity {
                th.title().add_modifier(Modifier::UNDERLINED)
            } else {
                th.label()
            };
            let name = app
                .catalog
                .identities
                .get(i)
                .map_or_else(String::new, IdentityInfo::label);
            let w = usize::from(self.g.cell_w - 1);
            buf.set_stringn(self.cell_x(k), inner.y, name, w, style);
        }
    }

    /// One row at `y`: a group's header or an endpoint.
    fn row(&self, buf: &mut Buffer, row: &Row, y: u16, selected: bool) {
        let name_style = if selected {
            self.th.title().add_modifier(Modifier::UNDERLINED)
        } else {
            self.th.label()
        };
        match row {
            Row::Group {
                name,
                endpoints,
                folded,
            } => {
                let head = format!(
                    "{} {} ({})",
                    if *folded { '+' } else { '-' },
                    name,
                    endpoints.len()
                );
                let style = name_style.add_modifier(Modifier::BOLD);
                let w = usize::from(self.g.name_w - 1);
                buf.set_stringn(self.inner.x, y, head, w, style);
                self.group_cells(buf, endpoints, y, selected);
                self.group_counts(buf, endpoints, y);
            }
            Row::Endpoint(e) => self.endpoint_row(buf, *e, y, name_style, selected),
        }
    }

    /// A group header's cells: each identity's worst verdict in the group, marked when the
    /// members differ.
    fn group_cells(&self, buf: &mut Buffer, endpoints: &[usize], y: u16, selected: bool) {
        let app = self.app;
        for (k, &i) in self.visible().iter().enumerate() {
            let v = app.group_worst(i, endpoints).and_then(|(_, v)| v);
            let mark = app.members_differ(i, endpoints).then_some(DIFFER);
            let sel = selected && i == app.sel_identity;
            cell(buf, self.th, self.cell_x(k), y, self.g.cell_w, v, mark, sel);
        }
    }

    /// After a group header's cells: its verdict counts over the filtered identities, as many
    /// as fit.
    fn group_counts(&self, buf: &mut Buffer, endpoints: &[usize], y: u16) {
        let (after, rest) = self.after_cells();
        let mut x = after + 1;
        let mut left = rest;
        for (v, n) in self.app.group_counts(endpoints, &self.g.cols) {
            let text = format!("{}{n} ", v.symbol());
            if text.len() > left {
                break;
            }
            buf.set_string(x, y, &text, self.th.verdict(Some(v)));
            x += width(&text);
            left -= text.len();
        }
    }

    /// An endpoint row: its name, its cells, then its component, role and address.
    fn endpoint_row(&self, buf: &mut Buffer, e: usize, y: u16, name_style: Style, selected: bool) {
        let app = self.app;
        let Some(ep) = app.catalog.endpoints.get(e) else {
            return;
        };
        let w = usize::from(self.g.name_w - 3);
        buf.set_stringn(self.inner.x + 2, y, &ep.name, w, name_style);
        for (k, &i) in self.visible().iter().enumerate() {
            let c = app.cell(i, e);
            let mark = c.and_then(|c| {
                if c.rotated {
                    Some(ROTATED)
                } else if c.changed {
                    Some(CHANGED)
                } else {
                    None
                }
            });
            let sel = selected && i == app.sel_identity;
            let v = c.and_then(|c| c.verdict);
            cell(buf, self.th, self.cell_x(k), y, self.g.cell_w, v, mark, sel);
        }
        let (after, rest) = self.after_cells();
        let info = truncate(
            &format!("{} {} {}", ep.component.title(), ep.role, ep.address),
            rest,
        );
        buf.set_string(after + 1, y, info, self.th.dim());
    }
}

#[allow(clippy::too_many_arguments)]
fn cell(
    buf: &mut Buffer,
    th: Theme,
    x: u16,
    y: u16,
    w: u16,
    v: Option<Verdict>,
    mark: Option<char>,
    selected: bool,
) {
    let mut style = th.verdict(v);
    let mid = (w - 1) / 2;
    if selected {
        style = style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
        buf.set_string(x, y, " ".repeat(usize::from(w - 1)), style);
        buf.set_string(x + mid - 1, y, "[", style);
        buf.set_string(x + mid + 1, y, "]", style);
    }
    buf.set_string(x + mid, y, symbol(v).to_string(), style);
    let mx = if selected { mid + 2 } else { mid + 1 };
    if let (Some(m), true) = (mark, mx < w) {
        buf.set_string(x + mx, y, m.to_string(), style.add_modifier(Modifier::BOLD));
    }
}

#[cfg(test)]
mod wide_names {
    use super::super::testkit::{big, frame};
    use crate::tui::app::Layout;

    /// Identity names use the width the terminal has before they are cut: whole at 160
    /// columns in both layouts, cut at 80.
    #[test]
    fn identity_names_are_whole_when_the_terminal_has_room() {
        let mut app = big(8, 3);
        app.catalog.identities[1].name = "expired-visitor".into();
        app.catalog.identities[2].name = "a-caller-named-at-length-24".into();
        app.layout = Layout::Transposed;
        let wide = frame(&mut app, 160, 30);
        assert!(wide.contains("expired-visitor"), "{wide}");
        let narrow = frame(&mut app, 80, 30);
        assert!(!narrow.contains("expired-visitor"), "{narrow}");
        app.layout = Layout::ByIdentity;
        let wide = frame(&mut app, 160, 30);
        assert!(wide.contains("a-caller-named-at-length-24"), "{wide}");
    }
}
