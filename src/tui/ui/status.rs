//! The footer (a prompt being typed, a status message, or the key hints that fit) and the
//! help overlay.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{Theme, CHANGED, PENDING, ROTATED};
use crate::tui::app::{App, Modal, View};
use tlsaudit_engine::audit::Verdict;
use tlsaudit_report::sanitize::inert;

pub(super) fn draw_status(frame: &mut Frame, area: Rect, app: &App, th: Theme) {
    let line = if let Modal::Search(q) = &app.modal {
        Line::from(vec![
            Span::styled(" jump to endpoint: ", th.title()),
            Span::raw(q.clone()),
            Span::styled("_", Style::new().add_modifier(Modifier::SLOW_BLINK)),
            Span::styled("   Enter jump  Esc cancel  (n: next match)", th.dim()),
        ])
    } else if let Modal::Filter { typed: input, .. } = &app.modal {
        Line::from(vec![
            Span::styled(" filter endpoints: /", th.title()),
            Span::raw(input.clone()),
            Span::styled("_", Style::new().add_modifier(Modifier::SLOW_BLINK)),
            Span::styled("   Enter apply  Esc cancel", th.dim()),
        ])
    } else if let Some(s) = &app.status {
        Line::from(Span::styled(format!(" {}", inert(s)), th.title()))
    } else {
        Line::from(Span::styled(fit_hints(hints(app), area.width), th.dim()))
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// The footer's key hints for the current view, most useful first.
fn hints(app: &App) -> &'static [&'static str] {
    match app.view {
        View::Matrix if app.transposed() => &[
            "hjkl move",
            "Enter detail/fold",
            "z fold",
            "c fold all",
            "g group",
            "t transpose",
            "s jump",
            "f failing",
            "/ filter",
            "Tab views",
        ],
        View::Matrix if app.members().is_some() => &[
            "j/k member",
            "Enter detail",
            "Esc back",
            "h/l other column",
            "R re-probe it",
            "Tab views",
        ],
        View::Matrix => &[
            "hjkl move",
            "Enter detail",
            "Tab views",
            "c fold",
            "f failing",
            "/ filter",
            "t transpose",
            "r re-probe",
            "R cell",
            "space pause",
            "e export",
        ],
        View::Findings => &[
            "j/k move",
            "Enter show cell",
            "Tab changes",
            "r re-probe",
            "e export",
        ],
        View::Changes => &[
            "j/k move",
            "Enter show cell",
            "Tab matrix",
            "r re-probe",
            "e export",
        ],
    }
}

/// As many `hints` as fit `width`, in order, always ending with `? help  q quit`.
fn fit_hints(hints: &[&str], width: u16) -> String {
    const TAIL: &str = "  ? help  q quit";
    let room = usize::from(width).saturating_sub(TAIL.len() + 1);
    let mut out = String::from(" ");
    for h in hints {
        let sep = if out.len() > 1 { "  " } else { "" };
        if out.chars().count() + sep.len() + h.chars().count() > room {
            break;
        }
        out.push_str(sep);
        out.push_str(h);
    }
    out.push_str(if out.len() > 1 {
        TAIL
    } else {
        TAIL.trim_start()
    });
    out
}

/// The keys, as the help overlay lists them.
pub const KEYS: &[(&str, &str)] = &[
    ("arrows, h j k l", "move the selection"),
    ("Home / End", "first / last column"),
    (
        "Enter",
        "detail; folded cell: its endpoints; findings: go to it",
    ),
    ("PgUp / PgDn", "scroll the detail"),
    ("Tab", "matrix, findings, changes (newest first)"),
    ("t", "transpose: endpoints as rows, identities as columns"),
    (
        "g",
        "group endpoint rows by component, host or an inventory label",
    ),
    (
        "z",
        "fold / unfold the selected group (also Enter on its header)",
    ),
    (
        "c",
        "fold endpoints by component; transposed: fold all groups",
    ),
    (
        "s / n",
        "jump to an endpoint by name or address / next match",
    ),
    ("f", "only rows and columns with a failing cell"),
    ("/", "filter endpoints by name, address or component"),
    ("Esc", "close the detail, else clear the filters"),
    ("r", "re-probe every cell now"),
    ("R", "re-probe the selected cell"),
    ("space", "pause / resume the automatic rounds"),
    ("e", "export the JSON report"),
    ("?", "this help"),
    ("q, Ctrl-C", "quit"),
];

pub(super) fn draw_help(frame: &mut Frame, area: Rect, th: Theme) {
    let w = area.width.min(76);
    let h = area
        .height
        .min(u16::try_from(KEYS.len() + 14).unwrap_or(u16::MAX));
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!(" {k:<16}"), th.title()),
                Span::raw((*what).to_string()),
            ])
        })
        .collect();
    lines.push(Line::default());
    lines.extend(verdict_lines(th));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .title(Span::styled(" Help ", th.title()))
                .title_bottom(Span::styled(" any key closes ", th.dim())),
        ),
        rect,
    );
}

/// The help's second part: what each verdict and mark means.
fn verdict_lines(th: Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(Span::styled(" Verdicts", th.title()))];
    for v in Verdict::ALL {
        let what = match v {
            Verdict::Secure => "admitted over a trusted chain, as intended",
            Verdict::Enforced => "refused, as intended",
            Verdict::Open => "must be refused, ADMITTED: list not enforced or not set",
            Verdict::Blocked => "must be admitted (needed or listed), refused",
            Verdict::Unencrypted => "the endpoint does not speak TLS",
            Verdict::Untrusted => "the server chain does not verify",
            Verdict::Unreachable => "refused or timed out",
            Verdict::Error => "reset, protocol error, no common TLS parameters",
            Verdict::BadIdentity => "refused: our own certificate is faulty",
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {} {:<12}", v.symbol(), v.as_str()),
                th.verdict(Some(v)),
            ),
            Span::raw(what),
        ]));
    }
    lines.push(Line::from(format!(
        "  {PENDING} pending  {CHANGED} verdict changed  {ROTATED} certificate rotated"
    )));
    lines
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{big, frame};
    use super::*;
    use crate::tui::app::Layout;

    /// The footer ends with `? help  q quit` at any width, dropping hints that do not fit.
    #[test]
    fn the_footer_fits_80_columns_and_keeps_help_and_quit() {
        let mut app = big(11, 8);
        for layout in [Layout::ByIdentity, Layout::Transposed] {
            app.layout = layout;
            let s = frame(&mut app, 80, 24);
            let footer = s.lines().last().unwrap_or_default();
            assert!(
                footer
                    .trim_matches('"')
                    .trim_end()
                    .ends_with("? help  q quit"),
                "{footer}"
            );
        }
        assert_eq!(fit_hints(&["a b", "c d"], 20), " ? help  q quit");
        assert_eq!(fit_hints(&["a b", "c d"], 40), " a b  c d  ? help  q quit");
    }
}
