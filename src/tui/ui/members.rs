//! The member list of a folded cell (`Enter` on it), in the pane beside or under the matrix:
//! every endpoint the cell folds with this identity's verdict there, worst first.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::{symbol, Theme};
use crate::tui::app::{fit_rows, App, Members};
use tlsaudit_engine::audit::Verdict;

/// The member list of a folded cell: every endpoint it folds with this identity's verdict there,
/// worst first; `Enter` opens the selected member's detail.
pub(super) fn draw_members(frame: &mut Frame, area: Rect, app: &mut App, th: Theme) {
    let Some(m) = app.members().cloned() else {
        return;
    };
    let block = members_block(app, &m, th);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let name_w = m
        .endpoints
        .iter()
        .filter_map(|&e| app.catalog.endpoints.get(e))
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(8);
    let cap = usize::from(inner.height);
    let offset = fit_rows(0, m.sel, m.endpoints.len(), cap);
    let lines: Vec<Line> = m
        .endpoints
        .iter()
        .enumerate()
        .skip(offset)
        .take(cap)
        .filter_map(|(k, &e)| member_line(app, th, &m, e, (k == m.sel, name_w)))
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The list's frame: who at which component, how many endpoints and distinct verdicts.
fn members_block(app: &App, m: &Members, th: Theme) -> Block<'static> {
    let id = app
        .catalog
        .identities
        .get(m.identity)
        .map_or("?", |i| i.name.as_str());
    let component = m
        .endpoints
        .first()
        .and_then(|&e| app.catalog.endpoints.get(e))
        .map_or("?", |e| e.component.title());
    let kinds: std::collections::BTreeSet<Option<Verdict>> = m
        .endpoints
        .iter()
        .map(|&e| app.verdict(m.identity, e))
        .collect();
    Block::bordered()
        .title(Span::styled(
            format!(
                " {id} -> {component}: {} endpoints, {} verdicts ",
                m.endpoints.len(),
                kinds.len()
            ),
            th.title(),
        ))
        .title_bottom(Span::styled(
            " j/k move  Enter detail  Esc close ",
            th.dim(),
        ))
}

/// One member: the verdict, the endpoint (names padded to `name_w`), its role and address,
/// and what was expected.
fn member_line(
    app: &App,
    th: Theme,
    m: &Members,
    e: usize,
    (selected, name_w): (bool, usize),
) -> Option<Line<'static>> {
    let ep = app.catalog.endpoints.get(e)?;
    let v = app.verdict(m.identity, e);
    let expected = app
        .catalog
        .expected(m.identity, e)
        .map_or("", tlsaudit_engine::audit::Expected::label);
    let line = Line::from(vec![
        Span::raw(if selected { ">" } else { " " }),
        Span::styled(
            format!("{} {:<12}", symbol(v), v.map_or("pending", Verdict::as_str)),
            th.verdict(v),
        ),
        Span::styled(format!("{:<name_w$}  ", ep.name), th.title()),
        Span::raw(format!("{} {}  ", ep.role, ep.address)),
        Span::styled(expected, th.dim()),
    ]);
    Some(if selected {
        line.style(th.selected())
    } else {
        line
    })
}
