//! The findings view: the findings most severe first, the selected one's title, evidence and
//! fix, and what the audit did not check.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::{hang_wrap, inert_line, kv, truncate, Theme};
use crate::tui::app::{fit_rows, App};
use tlsaudit_engine::audit::{Finding, Severity};
use tlsaudit_report::sanitize::{inert, inert_owned};

/// What the audit did not check, under the findings (never hidden by an empty list); returns
/// the area left for the findings.
fn draw_not_checked(frame: &mut Frame, area: Rect, app: &App, th: Theme) -> Rect {
    let gaps = app.catalog.not_checked.len();
    let gaps_h = if gaps > 0 && area.height >= 12 {
        u16::try_from(gaps.min(4) + 2).unwrap_or(6)
    } else {
        0
    };
    let [area, gaps_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(gaps_h)]).areas(area);
    if gaps_h > 0 {
        let block =
            Block::bordered().title(Span::styled(format!(" Not checked ({gaps}) "), th.title()));
        let w = usize::from(gaps_area.width.saturating_sub(4));
        let lines: Vec<Line> = app
            .catalog
            .not_checked
            .iter()
            .map(|n| Line::from(format!("- {}", truncate(&inert(n), w))))
            .collect();
        frame.render_widget(Paragraph::new(lines).block(block), gaps_area);
    }
    area
}

/// The findings view: the list, most severe first, and the selected finding in full under it
/// when there is room; what the audit did not check below.
pub(super) fn draw_findings(frame: &mut Frame, area: Rect, app: &mut App, th: Theme) {
    let area = draw_not_checked(frame, area, app, th);
    let n = app.findings_len();
    let detail_h = if area.height >= 16 { 8 } else { 0 };
    let [list_area, detail_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(detail_h)]).areas(area);
    let block = Block::bordered().title(Span::styled(
        format!(" Findings ({n}) most severe first; Enter shows the cell "),
        th.title(),
    ));
    let inner = block.inner(list_area);
    frame.render_widget(block, list_area);
    if n == 0 {
        let msg = if app.snapshot.round == 0 || app.snapshot.finished_at.is_none() {
            " No round finished yet."
        } else {
            " No findings."
        };
        frame.render_widget(Paragraph::new(msg), inner);
        return;
    }
    let cap = usize::from(inner.height);
    app.finding_offset = fit_rows(app.finding_offset, app.finding_sel, n, cap);
    frame.render_widget(Paragraph::new(finding_lines(app, th, cap)), inner);
    if detail_h > 0 {
        if let Some(f) = app.selected_finding() {
            draw_finding(frame, detail_area, f, th);
        }
    }
}

/// What a finding is about, as the list names it.
fn target(f: &Finding) -> String {
    match (&f.endpoint, &f.identity) {
        (Some(e), Some(i)) => format!("{e} x {i}"),
        (Some(e), None) => e.clone(),
        (None, Some(i)) => format!("identity {i}"),
        (None, None) => "cluster".to_string(),
    }
}

/// The list's lines on screen (`cap` from the scroll offset), in aligned columns: severity,
/// code, target, title.
fn finding_lines(app: &App, th: Theme, cap: usize) -> Vec<Line<'static>> {
    let code_w = app
        .findings()
        .map(|f| f.code.as_str().len())
        .max()
        .unwrap_or(4);
    let target_w = app
        .findings()
        .map(|f| target(f).chars().count())
        .max()
        .unwrap_or(7)
        .min(28);
    app.findings()
        .enumerate()
        .skip(app.finding_offset)
        .take(cap)
        .map(|(k, f)| {
            let sev = match f.severity {
                Severity::Critical => "CRIT",
                Severity::Warning => "WARN",
                Severity::Info => "INFO",
            };
            let mark = if k == app.finding_sel { '>' } else { ' ' };
            let line = Line::from(vec![
                Span::raw(mark.to_string()),
                Span::styled(format!("{sev} "), th.severity(f.severity)),
                Span::styled(format!("{:<code_w$} ", f.code), th.title()),
                Span::raw(format!(
                    "{:<target_w$} ",
                    truncate(&inert(&target(f)), target_w)
                )),
                Span::raw(inert_owned(&f.title)),
            ]);
            if k == app.finding_sel {
                line.style(th.selected())
            } else {
                line
            }
        })
        .collect()
}

/// The selected finding in full: title, evidence, fix, wrapped.
fn draw_finding(frame: &mut Frame, area: Rect, f: &Finding, th: Theme) {
    let wrap_w = usize::from(area.width.saturating_sub(2));
    let lines: Vec<Line> = [
        kv(th, "Title", vec![Span::raw(f.title.clone())]),
        kv(th, "Evidence", vec![Span::raw(f.evidence.clone())]),
        kv(th, "Fix", vec![Span::raw(f.fix.clone())]),
    ]
    .into_iter()
    .map(inert_line)
    .flat_map(|l| hang_wrap(l, wrap_w))
    .collect();
    let block = Block::bordered().title(Span::styled(
        format!(" {} ({}) ", f.code, f.severity.as_str()),
        th.severity(f.severity),
    ));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
