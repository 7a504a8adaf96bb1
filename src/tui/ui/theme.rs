//! The dashboard's styles ([`Theme`], with or without colour) and the marks a cell can carry.

use ratatui::style::{Color, Modifier, Style};

use tlsaudit_engine::audit::{Severity, Verdict};

/// Styles, with or without colour (`NO_COLOR`): without, only modifiers remain and the verdict
/// symbols carry the meaning.
#[derive(Debug, Clone, Copy)]
pub(super) struct Theme {
    pub(super) color: bool,
}

impl Theme {
    pub(super) fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub(super) fn verdict(self, v: Option<Verdict>) -> Style {
        match v {
            None => self.fg(Color::DarkGray),
            Some(Verdict::Secure) => self.fg(Color::Green),
            Some(Verdict::Enforced) => self.fg(Color::Cyan),
            Some(Verdict::Open) => self.fg(Color::LightRed).add_modifier(Modifier::BOLD),
            Some(Verdict::Blocked) => self.fg(Color::Magenta).add_modifier(Modifier::BOLD),
            Some(Verdict::Unencrypted) => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Some(Verdict::Untrusted) => self.fg(Color::Yellow),
            Some(Verdict::Unreachable) => self.fg(Color::DarkGray),
            Some(Verdict::Error) => self.fg(Color::LightMagenta),
            Some(Verdict::BadIdentity) => self.fg(Color::LightYellow),
        }
    }

    pub(super) fn severity(self, s: Severity) -> Style {
        match s {
            Severity::Critical => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Severity::Warning => self.fg(Color::Yellow),
            Severity::Info => self.fg(Color::Cyan),
        }
    }

    pub(super) fn label(self) -> Style {
        self.fg(Color::Gray).add_modifier(Modifier::BOLD)
    }

    pub(super) fn dim(self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub(super) fn title(self) -> Style {
        self.fg(Color::White).add_modifier(Modifier::BOLD)
    }

    pub(super) fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub(super) fn brand(self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }
}

/// The symbol of a cell that has no verdict yet.
pub const PENDING: char = '.';
/// Marks a cell whose verdict changed since the previous round.
pub const CHANGED: char = '*';
/// Marks a cell whose server certificate changed (rotated) since the previous round.
pub const ROTATED: char = '~';
/// Marks a folded cell whose members have different verdicts (it shows the worst; `Enter`
/// lists them all).
pub const DIFFER: char = '≠';

pub(super) fn symbol(v: Option<Verdict>) -> char {
    v.map_or(PENDING, Verdict::symbol)
}
