//! Keys to transitions: [`App::handle_key`] gives a key to the open modal (help, a prompt),
//! else to the keys that ask the main loop for something, the mode and layout toggles, and
//! finally to the view on screen. Returns the [`Action`] the main loop must take.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{Action, App, Columns, Layout, Modal, Pane, View};

impl App {
    /// Handle one key.
    pub fn handle_key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c' | 'C')) {
            return Action::Quit;
        }
        if !matches!(self.modal, Modal::None) {
            return self.modal_key(key.code);
        }
        self.status = None;
        if let Some(action) = self.action_key(key.code) {
            return action;
        }
        if !self.mode_key(key.code) && !self.layout_key(key.code) {
            match self.view {
                View::Matrix => self.matrix_key(key.code),
                View::Findings => self.findings_key(key.code),
                View::Changes => self.changes_key(key.code),
            }
        }
        Action::None
    }

    /// A key while a modal is open: any key closes the help (`q` quits as well); a prompt
    /// takes every key.
    fn modal_key(&mut self, code: KeyCode) -> Action {
        match self.modal {
            Modal::None => {}
            Modal::Help => {
                self.modal = Modal::None;
                if code == KeyCode::Char('q') {
                    return Action::Quit;
                }
            }
            Modal::Filter { .. } => self.filter_key(code),
            Modal::Search(_) => self.search_key(code),
        }
        Action::None
    }

    /// The filter prompt's keys (after `/`): the filter applies while typed.
    fn filter_key(&mut self, code: KeyCode) {
        let Modal::Filter { typed, previous } = &mut self.modal else {
            return;
        };
        match code {
            KeyCode::Char(c) => typed.push(c),
            KeyCode::Backspace => {
                typed.pop();
            }
            KeyCode::Enter => {
                self.filter = typed.trim().to_string();
                self.modal = Modal::None;
            }
            KeyCode::Esc => {
                self.filter = std::mem::take(previous);
                self.modal = Modal::None;
            }
            _ => {}
        }
        self.normalize();
    }

    /// The search prompt's keys (after `s`).
    fn search_key(&mut self, code: KeyCode) {
        let Modal::Search(q) = &mut self.modal else {
            return;
        };
        match code {
            KeyCode::Char(c) => q.push(c),
            KeyCode::Backspace => {
                q.pop();
            }
            KeyCode::Enter => {
                let q = std::mem::take(q);
                self.modal = Modal::None;
                self.jump(&q);
            }
            KeyCode::Esc => self.modal = Modal::None,
            _ => {}
        }
    }

    /// The keys that ask the main loop for something: quit, re-probe, export.
    fn action_key(&mut self, code: KeyCode) -> Option<Action> {
        match code {
            KeyCode::Char('q') => Some(Action::Quit),
            KeyCode::Char('r') => {
                self.status = Some("re-probing every cell".into());
                Some(Action::Reprobe(None))
            }
            KeyCode::Char('R') => {
                let cells = self.selected_cells();
                if cells.is_empty() {
                    self.status = Some("no cell selected".into());
                    return Some(Action::None);
                }
                self.status = Some(format!("re-probing {} cell(s)", cells.len()));
                Some(Action::Reprobe(Some(cells)))
            }
            KeyCode::Char('e') => Some(Action::Export),
            _ => None,
        }
    }

    /// The keys of every view: help, the next view, pause, the filters, `Esc`; returns whether
    /// the key was handled.
    fn mode_key(&mut self, code: KeyCode) -> bool {
        match code {
            KeyCode::Char('?') => self.modal = Modal::Help,
            KeyCode::Tab | KeyCode::BackTab => {
                self.view = match (self.view, code == KeyCode::BackTab) {
                    (View::Matrix, false) | (View::Changes, true) => View::Findings,
                    (View::Findings, false) | (View::Matrix, true) => View::Changes,
                    (View::Changes, false) | (View::Findings, true) => View::Matrix,
                };
            }
            KeyCode::Char(' ') => {
                self.paused = !self.paused;
                self.status = Some(if self.paused {
                    "paused: no automatic rounds (space resumes)".into()
                } else {
                    "resumed".into()
                });
            }
            KeyCode::Char('f') => {
                self.failing_only = !self.failing_only;
                self.normalize();
            }
            KeyCode::Char('/') => {
                self.modal = Modal::Filter {
                    typed: self.filter.clone(),
                    previous: self.filter.clone(),
                };
            }
            KeyCode::Esc => self.escape(),
            _ => return false,
        }
        true
    }

    /// `Esc`: close the detail, else the member list, else go back to the matrix, else clear
    /// the filters.
    fn escape(&mut self) {
        let matrix = self.view == View::Matrix;
        if self.detail_open() && matrix {
            self.close_detail();
        } else if self.members().is_some() && matrix {
            self.pane = Pane::None;
        } else if !matrix {
            self.view = View::Matrix;
        } else {
            self.filter.clear();
            self.failing_only = false;
            self.normalize();
        }
    }

    /// The layout's keys (`t`, `g`, `c`, `z` when transposed, `s`, `n`); returns whether the
    /// key was handled.
    fn layout_key(&mut self, code: KeyCode) -> bool {
        let transposed = self.transposed();
        match code {
            KeyCode::Char('t') => {
                self.layout = if transposed {
                    Layout::ByIdentity
                } else {
                    Layout::Transposed
                };
                self.sel_group = None;
                (self.row_offset, self.col_offset) = (0, 0);
                self.normalize();
            }
            KeyCode::Char('g') => self.cycle_group(),
            KeyCode::Char('z') if transposed => self.toggle_fold(),
            KeyCode::Char('c') if transposed => self.fold_all(),
            KeyCode::Char('c') => {
                self.columns = match self.columns {
                    Columns::Endpoint => Columns::Component,
                    Columns::Component => Columns::Endpoint,
                };
                self.col_offset = 0;
                self.normalize();
            }
            KeyCode::Char('s') => self.modal = Modal::Search(String::new()),
            KeyCode::Char('n') => {
                let q = self.last_search.clone();
                self.jump(&q);
            }
            _ => return false,
        }
        true
    }

    fn matrix_key(&mut self, code: KeyCode) {
        if self.transposed() && self.transposed_key(code) {
            return;
        }
        if self.members().is_some() && self.members_key(code) {
            return;
        }
        self.grid_key(code);
    }

    /// The transposed matrix's moves, and `Enter` on a group header (folds it); returns whether
    /// the key was handled.
    fn transposed_key(&mut self, code: KeyCode) -> bool {
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.tmove_row(-1),
            KeyCode::Down | KeyCode::Char('j') => self.tmove_row(1),
            KeyCode::Left | KeyCode::Char('h') => self.tmove_col(-1),
            KeyCode::Right | KeyCode::Char('l') => self.tmove_col(1),
            KeyCode::Home => self.tmove_col(isize::MIN / 2),
            KeyCode::End => self.tmove_col(isize::MAX / 2),
            KeyCode::Enter if self.sel_group.is_some() && !self.detail_open() => {
                self.toggle_fold();
            }
            _ => return false,
        }
        true
    }

    /// The member list's keys; returns whether the key was handled (a move to another column
    /// closes the list, then moves).
    fn members_key(&mut self, code: KeyCode) -> bool {
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.move_member(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_member(1),
            KeyCode::Enter => self.toggle_detail(),
            KeyCode::Left | KeyCode::Right | KeyCode::Char('h' | 'l') => {
                self.pane = Pane::None;
                return false;
            }
            _ => return false,
        }
        true
    }

    /// The identity-rows matrix's moves; `Enter` opens a folded cell's members, else toggles
    /// the detail.
    fn grid_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.move_row(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_row(1),
            KeyCode::Left | KeyCode::Char('h') => self.move_col(-1),
            KeyCode::Right | KeyCode::Char('l') => self.move_col(1),
            KeyCode::Home => self.move_col(isize::MIN / 2),
            KeyCode::End => self.move_col(isize::MAX / 2),
            KeyCode::Enter => {
                let listed = !self.detail_open() && self.open_members();
                if !listed {
                    self.toggle_detail();
                }
            }
            KeyCode::PageDown => self.detail_scroll = self.detail_scroll.saturating_add(5),
            KeyCode::PageUp => self.detail_scroll = self.detail_scroll.saturating_sub(5),
            _ => {}
        }
    }

    fn findings_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.move_finding(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_finding(1),
            KeyCode::PageUp => self.move_finding(-10),
            KeyCode::PageDown => self.move_finding(10),
            KeyCode::Home => self.move_finding(isize::MIN / 2),
            KeyCode::End => self.move_finding(isize::MAX / 2),
            KeyCode::Enter => self.jump_to_finding(),
            _ => {}
        }
    }

    fn changes_key(&mut self, code: KeyCode) {
        let n = self.history.changes_len();
        let mut step = |d: isize| {
            if n > 0 {
                self.change_sel = self.change_sel.saturating_add_signed(d).min(n - 1);
            }
        };
        match code {
            KeyCode::Up | KeyCode::Char('k') => step(-1),
            KeyCode::Down | KeyCode::Char('j') => step(1),
            KeyCode::PageUp => step(-10),
            KeyCode::PageDown => step(10),
            KeyCode::Home => step(isize::MIN / 2),
            KeyCode::End => step(isize::MAX / 2),
            KeyCode::Enter => self.jump_to_change(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use tlsaudit_engine::audit::{EndpointId, IdentityId};

    use super::super::testkit::{app, code, key, names};
    use super::*;

    #[test]
    fn substring_filter_typed_applied_and_cancelled() {
        let mut app = app();
        app.handle_key(key('/'));
        for c in "PD".chars() {
            app.handle_key(key(c));
        }
        assert_eq!(
            names(&app, &app.grid()),
            ["pd-1", "pd-2"],
            "live while typing"
        );
        assert_eq!(
            app.handle_key(key('q')),
            Action::None,
            "q is typed, not quit"
        );
        assert!(app.grid().cols.is_empty());
        app.handle_key(code(KeyCode::Backspace));
        app.handle_key(code(KeyCode::Enter));
        assert_eq!(app.filter, "PD");
        assert_eq!(app.modal, Modal::None);
        app.handle_key(key('/'));
        app.handle_key(key('x'));
        app.handle_key(code(KeyCode::Esc));
        assert_eq!(app.filter, "PD", "Esc restores the previous filter");
        // The address matches too.
        app.handle_key(key('/'));
        for _ in 0..2 {
            app.handle_key(code(KeyCode::Backspace));
        }
        for c in "10.0.0.3".chars() {
            app.handle_key(key(c));
        }
        app.handle_key(code(KeyCode::Enter));
        assert_eq!(names(&app, &app.grid()), ["db-1"]);
        assert_eq!(app.sel_endpoint, 3);
        app.handle_key(code(KeyCode::Esc));
        assert!(app.filter.is_empty(), "Esc clears the filters");
    }

    #[test]
    fn keys_produce_actions() {
        let mut app = app();
        assert_eq!(app.handle_key(key('r')), Action::Reprobe(None));
        app.handle_key(key('l'));
        app.handle_key(key('j'));
        assert_eq!(
            app.handle_key(key('R')),
            Action::Reprobe(Some(vec![(IdentityId(1), EndpointId(2))]))
        );
        assert_eq!(app.handle_key(key('e')), Action::Export);
        app.handle_key(key(' '));
        assert!(app.paused);
        app.handle_key(key(' '));
        assert!(!app.paused);
        assert_eq!(
            app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Action::Quit
        );
        assert_eq!(app.handle_key(key('q')), Action::Quit);
    }

    #[test]
    fn help_and_detail_toggle() {
        let mut app = app();
        app.handle_key(key('?'));
        assert_eq!(app.modal, Modal::Help);
        assert_eq!(app.handle_key(key('j')), Action::None);
        assert_eq!(app.modal, Modal::None);
        assert_eq!(
            app.sel_identity, 0,
            "the key that closes help does nothing else"
        );
        app.handle_key(code(KeyCode::Enter));
        assert!(app.detail_open());
        app.handle_key(code(KeyCode::PageDown));
        assert_eq!(app.detail_scroll, 5);
        app.handle_key(code(KeyCode::Esc));
        assert!(!app.detail_open());
    }
}
