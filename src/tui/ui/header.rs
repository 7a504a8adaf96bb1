//! The three header lines: cluster, round and refresh state; the counts per verdict; the
//! round's progress or the findings by severity.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph};
use ratatui::Frame;

use super::{clock, width, Theme};
use crate::tui::app::App;
use tlsaudit_engine::audit::{Severity, Verdict};
use tlsaudit_report::sanitize::inert_owned;

pub(super) fn draw_header(frame: &mut Frame, area: Rect, app: &App, th: Theme) {
    let [l1, l2, l3] = Layout::vertical([Constraint::Length(1); 3]).areas(area);
    draw_header_title(frame, l1, app, th);
    draw_header_counts(frame, l2, app, th);
    draw_header_progress(frame, l3, app, th);
}

/// The first header line: cluster, round, refresh state and the help hint.
fn draw_header_title(frame: &mut Frame, area: Rect, app: &App, th: Theme) {
    let s = &app.snapshot;
    let mut left = vec![
        Span::styled(" tlsaudit ", th.brand()),
        Span::raw(" cluster "),
        Span::styled(inert_owned(&s.cluster), th.title()),
        Span::raw("  round "),
        Span::styled(s.round.to_string(), th.title()),
    ];
    match &app.last_finished {
        Some(t) => {
            left.push(Span::raw("  last "));
            left.push(Span::raw(format!("{} UTC", clock(t))));
        }
        None => left.push(Span::styled("  no round finished yet", th.dim())),
    }
    left.push(Span::raw("  "));
    if s.running {
        left.push(Span::styled("probing...", th.title()));
    } else if app.paused {
        left.push(Span::styled(
            "paused",
            th.fg(Color::Yellow)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ));
    } else if let Some(n) = app.next_refresh_secs {
        left.push(Span::raw(format!("next refresh in {n}s")));
    }
    if app.paused && s.running {
        left.push(Span::styled(" (paused)", th.fg(Color::Yellow)));
    }
    frame.render_widget(Paragraph::new(Line::from(left)), area);
    let help = "? help ";
    if area.width > 60 {
        let w = width(help);
        frame.render_widget(
            Paragraph::new(Span::styled(help, th.dim())),
            Rect::new(area.right().saturating_sub(w), area.y, w, 1),
        );
    }
}

/// The second header line: the counts per verdict.
fn draw_header_counts(frame: &mut Frame, area: Rect, app: &App, th: Theme) {
    let s = &app.snapshot;
    // Counts per verdict: full words if they fit, else without the zeros, else symbols only.
    let counts = s.counts();
    let full = |skip_zero: bool, words: bool| -> Vec<Span<'static>> {
        let mut v = vec![Span::raw(" ")];
        for (verdict, n) in &counts {
            // `bad_identity` (our own certificate's fault) is rare: named only when present.
            if (skip_zero || !verdict.always_listed()) && *n == 0 {
                continue;
            }
            let text = if words {
                format!("{} {} {}  ", verdict.symbol(), n, verdict.as_str())
            } else {
                format!("{}{} ", verdict.symbol(), n)
            };
            v.push(Span::styled(text, th.verdict(Some(*verdict))));
        }
        v
    };
    let fits = |spans: &[Span]| {
        spans
            .iter()
            .map(ratatui::prelude::Span::width)
            .sum::<usize>()
            <= area.width as usize
    };
    let mut line = full(false, true);
    if !fits(&line) {
        line = full(true, true);
    }
    if !fits(&line) {
        line = full(false, false);
    }
    frame.render_widget(Paragraph::new(Line::from(line)), area);
}

/// The third header line: the round's progress while probing, else the findings by severity.
fn draw_header_progress(frame: &mut Frame, area: Rect, app: &App, th: Theme) {
    let s = &app.snapshot;
    if s.running && s.total > 0 {
        #[allow(clippy::cast_precision_loss)]
        let ratio = (s.done as f64 / s.total as f64).clamp(0.0, 1.0);
        let gauge = Gauge::default()
            .ratio(ratio)
            .label(format!("round {}: {}/{} probes", s.round, s.done, s.total))
            .gauge_style(th.fg(Color::Cyan));
        frame.render_widget(gauge, area.inner(ratatui::layout::Margin::new(1, 0)));
    } else {
        let mut by = [0usize; 3];
        for f in &s.findings {
            by[match f.severity {
                Severity::Info => 0,
                Severity::Warning => 1,
                Severity::Critical => 2,
            }] += 1;
        }
        let line = if s.findings.is_empty() && s.round > 0 {
            Line::from(Span::styled(
                " no findings",
                th.verdict(Some(Verdict::Secure)),
            ))
        } else if s.findings.is_empty() {
            Line::default()
        } else {
            Line::from(vec![
                Span::raw(" findings: "),
                Span::styled(
                    format!("{} critical", by[2]),
                    th.severity(Severity::Critical),
                ),
                Span::raw(", "),
                Span::styled(format!("{} warning", by[1]), th.severity(Severity::Warning)),
                Span::raw(", "),
                Span::styled(format!("{} info", by[0]), th.severity(Severity::Info)),
                Span::styled("  (Tab lists them)", th.dim()),
            ])
        };
        frame.render_widget(Paragraph::new(line), area);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{big, frame};

    #[test]
    fn counts_degrade_to_symbols_when_narrow_and_paused_shows() {
        let mut app = big(8, 2);
        app.paused = true;
        let wide = frame(&mut app, 140, 30);
        assert!(wide.contains("+ 2 secure"), "{wide}");
        assert!(wide.contains("paused"), "{wide}");
        let narrow = frame(&mut app, 60, 20);
        assert!(narrow.contains("+2 -2 !2"), "{narrow}");
    }
}
