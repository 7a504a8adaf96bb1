//! Drawing the fleet view (endpoints as rows, identities as columns, grouped and foldable), the
//! changes view, and the history lines of the detail pane.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::{clock, kv, more, symbol, truncate, width, Theme, CHANGED, DIFFER, ROTATED};
use crate::report::diff::Change;
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
    let cell_w = cols
        .iter()
        .filter_map(|&i| app.catalog.identities.get(i))
        .map(|i| width(&i.label()) + 1)
        .max()
        .unwrap_or(4)
        .clamp(4, 11);
    Geometry {
        name_w,
        cell_w,
        cols,
        avail: inner.width.saturating_sub(name_w),
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
    if app.failing_only {
        title.push(Span::styled(
            " failing only ",
            th.verdict(Some(Verdict::Untrusted)),
        ));
    }
    let filter = app.active_filter().to_string();
    if !filter.is_empty() {
        title.push(Span::styled(
            format!(" filter: {filter} "),
            th.verdict(Some(Verdict::Untrusted)),
        ));
    }
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
    let sel_r = app.tsel_row(&rows);
    let sel_c = g.cols.iter().position(|&i| i == app.sel_identity);
    let widths = vec![g.cell_w; g.cols.len()];
    app.col_offset = fit_cols(app.col_offset, sel_c.unwrap_or(0), &widths, g.avail);
    let capacity = usize::from(inner.height.saturating_sub(1));
    app.row_offset = fit_rows(app.row_offset, sel_r.unwrap_or(0), rows.len(), capacity);
    let fit = usize::from(g.avail / g.cell_w.max(1)).max(1);
    let last_col = (app.col_offset + fit).min(g.cols.len()) - 1;
    let last_row = (app.row_offset + capacity)
        .min(rows.len())
        .saturating_sub(1);
    let block = block.title_bottom(Line::from(Span::styled(
        format!(
            " rows {}-{}/{}  identities {}-{}/{}  t: transpose  g: group  z: fold ",
            app.row_offset + 1,
            last_row + 1,
            rows.len(),
            app.col_offset + 1,
            last_col + 1,
            g.cols.len()
        ),
        th.dim(),
    )));
    frame.render_widget(block, area);
    if inner.height < 2 || g.avail < g.cell_w {
        return;
    }
    let buf = frame.buffer_mut();
    // Header: identity names.
    let mut hint = String::new();
    if app.col_offset > 0 {
        hint.push('<');
    }
    if last_col + 1 < g.cols.len() {
        hint.push('>');
    }
    buf.set_string(inner.x, inner.y, format!("{hint:<2}endpoint"), th.dim());
    for (k, &i) in g.cols[app.col_offset..=last_col].iter().enumerate() {
        let x = inner.x + g.name_w + g.cell_w * u16::try_from(k).unwrap_or(0);
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
        buf.set_stringn(x, inner.y, name, usize::from(g.cell_w - 1), style);
    }
    for (line, r) in (app.row_offset..=last_row).enumerate() {
        let y = inner.y + 1 + u16::try_from(line).unwrap_or(0);
        draw_row(
            buf,
            app,
            th,
            &g,
            &rows[r],
            y,
            inner,
            (Some(r) == sel_r, last_col),
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn draw_row(
    buf: &mut Buffer,
    app: &App,
    th: Theme,
    g: &Geometry,
    row: &Row,
    y: u16,
    inner: Rect,
    (selected, last_col): (bool, usize),
) {
    let name_style = if selected {
        th.title().add_modifier(Modifier::UNDERLINED)
    } else {
        th.label()
    };
    let visible = &g.cols[app.col_offset..=last_col];
    let after_cells = inner.x + g.name_w + g.cell_w * u16::try_from(visible.len()).unwrap_or(0);
    let rest = usize::from(inner.right().saturating_sub(after_cells + 1));
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
            buf.set_stringn(
                inner.x,
                y,
                head,
                usize::from(g.name_w - 1),
                name_style.add_modifier(Modifier::BOLD),
            );
            for (k, &i) in visible.iter().enumerate() {
                let v = app.group_worst(i, endpoints).and_then(|(_, v)| v);
                let x = inner.x + g.name_w + g.cell_w * u16::try_from(k).unwrap_or(0);
                cell(
                    buf,
                    th,
                    x,
                    y,
                    g.cell_w,
                    v,
                    app.members_differ(i, endpoints).then_some(DIFFER),
                    selected && i == app.sel_identity,
                );
            }
            let mut x = after_cells + 1;
            let mut left = rest;
            for (v, n) in app.group_counts(endpoints, &g.cols) {
                let text = format!("{}{n} ", v.symbol());
                if text.len() > left {
                    break;
                }
                buf.set_string(x, y, &text, th.verdict(Some(v)));
                x += width(&text);
                left -= text.len();
            }
        }
        Row::Endpoint(e) => {
            let Some(ep) = app.catalog.endpoints.get(*e) else {
                return;
            };
            buf.set_stringn(
                inner.x + 2,
                y,
                &ep.name,
                usize::from(g.name_w - 3),
                name_style,
            );
            for (k, &i) in visible.iter().enumerate() {
                let c = app.cell(i, *e);
                let mark = c.and_then(|c| {
                    if c.rotated {
                        Some(ROTATED)
                    } else if c.changed {
                        Some(CHANGED)
                    } else {
                        None
                    }
                });
                let x = inner.x + g.name_w + g.cell_w * u16::try_from(k).unwrap_or(0);
                let sel = selected && i == app.sel_identity;
                cell(
                    buf,
                    th,
                    x,
                    y,
                    g.cell_w,
                    c.and_then(|c| c.verdict),
                    mark,
                    sel,
                );
            }
            let info = truncate(
                &format!("{} {} {}", ep.component.title(), ep.role, ep.address),
                rest,
            );
            buf.set_string(after_cells + 1, y, info, th.dim());
        }
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

/// The changes view: every verdict change the dashboard saw, newest first.
pub(super) fn draw_changes(frame: &mut Frame, area: Rect, app: &mut App, th: Theme) {
    let n = app.history.changes_len();
    let since = if app.history.baseline {
        "since the baseline"
    } else {
        "since start"
    };
    let block = Block::bordered().title(Span::styled(
        format!(" Changes {since} ({n}), newest first; Enter shows the cell "),
        th.title(),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if n == 0 {
        let msg = if app.history.len() < 2 {
            " No change yet: changes show once two rounds have finished."
        } else {
            " No verdict changed."
        };
        frame.render_widget(Paragraph::new(msg), inner);
        return;
    }
    let cap = usize::from(inner.height);
    app.change_sel = app.change_sel.min(n - 1);
    app.change_offset = fit_rows(app.change_offset, app.change_sel, n, cap);
    let n_ep = app.catalog.endpoints.len().max(1);
    let lines: Vec<Line> = app
        .history
        .changes()
        .enumerate()
        .skip(app.change_offset)
        .take(cap)
        .map(|(k, c)| {
            let id = app
                .catalog
                .identities
                .get(c.cell / n_ep)
                .map_or("?", |i| i.name.as_str());
            let ep = app
                .catalog
                .endpoints
                .get(c.cell % n_ep)
                .map_or("?", |e| e.name.as_str());
            let group = Change::of(c.before, c.after).map_or("", Change::title);
            let mut line = Line::from(vec![
                Span::raw(if k == app.change_sel { ">" } else { " " }),
                Span::styled(
                    format!(
                        "round {:<4} {}  ",
                        c.round,
                        c.at.as_deref().map_or("--:--:--", clock)
                    ),
                    th.dim(),
                ),
                Span::styled(format!("{} ", symbol(c.after)), th.verdict(c.after)),
                Span::styled(format!("{id} -> {ep}"), th.title()),
                Span::raw(format!(
                    "  {} -> {}  ",
                    c.before.map_or("pending", Verdict::as_str),
                    c.after.map_or("pending", Verdict::as_str)
                )),
                Span::styled(group, th.verdict(c.after)),
            ]);
            if k == app.change_sel {
                line = line.style(th.selected());
            }
            line
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The detail pane's history of a cell: its verdict in the kept rounds and its last change.
pub(super) fn history_lines(
    app: &App,
    th: Theme,
    identity: usize,
    endpoint: usize,
) -> Vec<Line<'static>> {
    let cell = identity * app.catalog.endpoints.len() + endpoint;
    let kept = app.history.cell(cell);
    if kept.is_empty() {
        return vec![kv(
            th,
            "History",
            vec![Span::styled("no finished round yet", th.dim())],
        )];
    }
    let mut spans: Vec<Span<'static>> = Vec::new();
    for (_, v) in &kept {
        spans.push(Span::styled(format!("{} ", symbol(*v)), th.verdict(*v)));
    }
    let first = kept.first().map_or(0, |(r, _)| *r);
    let last = kept.last().map_or(0, |(r, _)| *r);
    spans.push(Span::styled(
        if first == 0 {
            format!(" (baseline, then rounds 1-{last})")
        } else {
            format!(" (rounds {first}-{last}, oldest first)")
        },
        th.dim(),
    ));
    let mut out = vec![kv(th, "History", spans)];
    out.push(more(vec![Span::raw(match app.history.last_change(cell) {
        Some((round, at)) => format!("verdict last changed in round {round} at {} UTC", clock(at)),
        None => "verdict unchanged in the kept rounds".to_string(),
    })]));
    out
}
