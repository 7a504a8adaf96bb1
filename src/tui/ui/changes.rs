//! The verdict history: the changes view (every verdict change the dashboard saw, newest
//! first) and the history lines of a cell's detail.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::{clock, kv, more, symbol, Theme, ROTATED};
use crate::tui::app::{fit_rows, App};
use crate::tui::history::CellChange;
use tlsaudit_engine::audit::Verdict;
use tlsaudit_report::diff::{Change, Diff};

/// The changes view: with a baseline, first what changed since it besides verdicts (server
/// certificates, identities and endpoints, as `report --baseline` lists them); then every
/// verdict change the dashboard saw, newest first.
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
    let mut inner = block.inner(area);
    frame.render_widget(block, area);
    let besides = app
        .baseline_diff
        .as_ref()
        .map(|d| baseline_lines(d, th))
        .unwrap_or_default();
    if !besides.is_empty() {
        let rows = u16::try_from(besides.len())
            .unwrap_or(u16::MAX)
            .min(inner.height / 2);
        let top = Rect {
            height: rows,
            ..inner
        };
        frame.render_widget(Paragraph::new(besides), top);
        inner.y += rows;
        inner.height -= rows;
    }
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
    let lines: Vec<Line> = app
        .history
        .changes()
        .enumerate()
        .skip(app.change_offset)
        .take(cap)
        .map(|(k, c)| change_line(app, th, c, k == app.change_sel))
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// What changed since the baseline besides verdicts, a line each: every server certificate
/// that changed, and the identities and endpoints added or removed (one line per kind, not one
/// per cell).
fn baseline_lines(d: &Diff, th: Theme) -> Vec<Line<'static>> {
    let short = |c: &Option<tlsaudit_report::diff::Cert>| {
        c.as_ref()
            .map_or("none".to_string(), |c| c.sha256.chars().take(12).collect())
    };
    let mut out: Vec<Line<'static>> = d
        .rotations
        .iter()
        .map(|r| {
            Line::from(vec![
                Span::styled(format!(" {ROTATED} {}", r.endpoint), th.title()),
                Span::raw(format!(
                    "  server certificate changed since the baseline: {} -> {}",
                    short(&r.before),
                    short(&r.after)
                )),
            ])
        })
        .collect();
    let names = |v: &[String]| v.join(", ");
    let ids = |v: &[tlsaudit_report::diff::IdentityBrief]| {
        v.iter().map(|i| i.name.clone()).collect::<Vec<_>>()
    };
    let eps = |v: &[tlsaudit_report::diff::EndpointBrief]| {
        v.iter().map(|e| e.name.clone()).collect::<Vec<_>>()
    };
    for (what, list) in [
        (
            "identities not in the baseline (their cells are new, not changes)",
            ids(&d.identities.added),
        ),
        (
            "identities of the baseline not audited now",
            ids(&d.identities.removed),
        ),
        ("endpoints not in the baseline", eps(&d.endpoints.added)),
        (
            "endpoints of the baseline not audited now",
            eps(&d.endpoints.removed),
        ),
    ] {
        if !list.is_empty() {
            out.push(Line::from(Span::styled(
                format!(" {what}: {}", names(&list)),
                th.dim(),
            )));
        }
    }
    out
}

/// One line of the changes view: round and time, the new verdict, the cell, the transition
/// and its kind.
fn change_line(app: &App, th: Theme, c: &CellChange, selected: bool) -> Line<'static> {
    let n_ep = app.catalog.endpoints.len().max(1);
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
    let line = Line::from(vec![
        Span::raw(if selected { ">" } else { " " }),
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
    if selected {
        line.style(th.selected())
    } else {
        line
    }
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
