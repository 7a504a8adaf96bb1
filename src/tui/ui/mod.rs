//! Drawing: one frame from the [`App`] state. Pure: reads the state (and stores the scroll
//! offsets that keep the selection visible), never waits on anything.
//!
//! - here: the frame's layout ([`draw`]): header, the view, footer, help; the matrix view's
//!   split between the matrix and its pane; the last guard against control characters;
//! - `header`, `matrix` (identity rows), `fleet` (endpoint rows), `changes` (the history),
//!   `detail` and `members` (the pane: a cell's detail, a folded cell's members), `findings`,
//!   `status` (footer and help);
//! - `theme` (styles and cell marks) and `text` (line helpers) serve them all.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

mod changes;
mod detail;
mod findings;
mod fleet;
mod header;
mod matrix;
mod members;
mod status;
#[cfg(test)]
mod testkit;
mod text;
mod theme;

pub use status::KEYS;
pub use theme::{CHANGED, DIFFER, PENDING, ROTATED};

use super::app::{App, Modal, Pane, View};
use text::{clock, hang_wrap, inert_line, kv, more, truncate, width};
use theme::{symbol, Theme};
use tlsaudit_report::sanitize::needs_escape;

/// Draw a whole frame.
pub fn draw(frame: &mut Frame, app: &mut App) {
    let th = Theme { color: app.color };
    let area = frame.area();
    let [header, body, status] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw_header(frame, header, app, th);
    match app.view {
        View::Matrix => draw_matrix_view(frame, body, app, th),
        View::Findings => findings::draw_findings(frame, body, app, th),
        View::Changes => changes::draw_changes(frame, body, app, th),
    }
    status::draw_status(frame, status, app, th);
    if app.modal == Modal::Help {
        status::draw_help(frame, area, th);
    }
    scrub(frame.buffer_mut());
}

/// The last guard before the terminal: ratatui drops control characters from cells but keeps
/// zero-width ones (a bidi override joins the previous cell), so any cell still holding a
/// character [`needs_escape`] names loses it. Peer text is made visible before it gets here;
/// this catches what a future drawing path forgets.
fn scrub(buf: &mut Buffer) {
    for cell in &mut buf.content {
        if cell.symbol().chars().any(needs_escape) {
            let kept: String = cell
                .symbol()
                .chars()
                .filter(|c| !needs_escape(*c))
                .collect();
            cell.set_symbol(if kept.is_empty() { "?" } else { &kept });
        }
    }
}

fn draw_matrix_view(frame: &mut Frame, area: Rect, app: &mut App, th: Theme) {
    let marks = matrix::Marks {
        pending: app.snapshot.cells.iter().any(|c| c.verdict.is_none()),
        folds: app.by_component() || app.transposed(),
        minted: app.catalog.has_minted(),
        bad_identity: app
            .snapshot
            .cells
            .iter()
            .any(|c| c.verdict == Some(tlsaudit_engine::audit::Verdict::BadIdentity)),
    };
    let rows = if app.transposed() {
        app.trows().len().saturating_sub(1)
    } else {
        app.grid().rows.len()
    };
    let rows = u16::try_from(rows).unwrap_or(u16::MAX);
    let (matrix, pane) = {
        let legend = matrix::legend(th, area.width, marks);
        let legend_h = u16::try_from(legend.len()).unwrap_or(1);
        split_pane(area, app, rows.saturating_add(4 + 1 + legend_h))
    };
    if let Some(m) = matrix {
        let legend = matrix::legend(th, m.width, marks);
        let legend_h = u16::try_from(legend.len()).unwrap_or(1);
        let [grid_area, info, leg, _] = Layout::vertical([
            Constraint::Max(rows.saturating_add(4).max(5)),
            Constraint::Length(1),
            Constraint::Length(legend_h),
            Constraint::Min(0),
        ])
        .areas(m);
        if app.transposed() {
            fleet::draw_transposed(frame, grid_area, app, th);
        } else {
            matrix::draw_matrix(frame, grid_area, app, th);
        }
        frame.render_widget(Paragraph::new(matrix::selection_line(app, th)), info);
        frame.render_widget(Paragraph::new(legend), leg);
    }
    match pane {
        Some(d) if !app.detail_open() => members::draw_members(frame, d, app, th),
        Some(d) => detail::draw_detail(frame, d, app, th),
        None => {}
    }
}

/// The matrix view's areas: the matrix (`matrix_h` high with its legend, if it fits) and the
/// open pane: under it when tall, beside it when wide, else the pane alone.
fn split_pane(area: Rect, app: &App, matrix_h: u16) -> (Option<Rect>, Option<Rect>) {
    if app.pane == Pane::None {
        (Some(area), None)
    } else if area.height >= 30 {
        let h = matrix_h.min(area.height.saturating_sub(12)).max(8);
        let [m, d] = Layout::vertical([Constraint::Length(h), Constraint::Min(1)]).areas(area);
        (Some(m), Some(d))
    } else if area.width >= 100 {
        let [m, d] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(area);
        (Some(m), Some(d))
    } else {
        (None, Some(area))
    }
}

#[cfg(test)]
mod tests {
    use ratatui::text::{Line, Span};

    use super::testkit::{big, frame};
    use super::*;
    use crate::tui::app::Layout as AppLayout;

    #[test]
    fn peer_text_is_made_visible_and_no_cell_keeps_a_control() {
        let line = inert_line(Line::from(vec![
            Span::raw("CN "),
            Span::raw("evil\x1b[31m\u{202e}txt"),
        ]));
        assert_eq!(line.spans[0].content, "CN ");
        assert_eq!(line.spans[1].content, "evil\\x1b[31m\\u{202e}txt");
        // What slips past the writers: ratatui keeps a zero-width override in its cell.
        let mut buf = Buffer::empty(Rect::new(0, 0, 8, 1));
        ratatui::widgets::Widget::render(Line::from("ab\u{202e}c\u{200b}"), buf.area, &mut buf);
        assert!(buf.content.iter().any(|c| c.symbol().contains('\u{202e}')));
        scrub(&mut buf);
        assert!(buf
            .content
            .iter()
            .all(|c| !c.symbol().chars().any(needs_escape)));
        assert_eq!(buf.content[1].symbol(), "b");
    }

    #[test]
    fn tiny_terminals_do_not_panic() {
        let mut app = big(30, 5);
        for (w, h) in [(1, 1), (10, 5), (20, 8), (40, 10), (80, 6)] {
            app.pane = Pane::None;
            frame(&mut app, w, h);
            app.pane = Pane::Detail;
            frame(&mut app, w, h);
            app.modal = Modal::Help;
            frame(&mut app, w, h);
            app.modal = Modal::None;
            app.view = View::Findings;
            frame(&mut app, w, h);
            app.view = View::Changes;
            frame(&mut app, w, h);
            app.view = View::Matrix;
            app.layout = AppLayout::Transposed;
            frame(&mut app, w, h);
            app.pane = Pane::Detail;
            frame(&mut app, w, h);
            app.layout = AppLayout::ByIdentity;
        }
    }
}
