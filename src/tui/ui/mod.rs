//! Drawing: one frame from the [`App`] state. Pure: reads the state (and stores the scroll
//! offsets that keep the selection visible), never waits on anything.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Gauge, Paragraph, Wrap};
use ratatui::Frame;

mod fleet;

use super::app::{badness, fit_cols, fit_rows, App, Column, Grid, Modal, Pane, View};
use tlsaudit_engine::audit::{IdentityKind, Severity, Verdict};
use tlsaudit_engine::probe::describe;
use tlsaudit_engine::probe::ProbeRecord;

use crate::report::sanitize::{inert, inert_owned, needs_escape};

/// Styles, with or without colour (`NO_COLOR`): without, only modifiers remain and the verdict
/// symbols carry the meaning.
#[derive(Debug, Clone, Copy)]
struct Theme {
    color: bool,
}

impl Theme {
    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    fn verdict(self, v: Option<Verdict>) -> Style {
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
        }
    }

    fn severity(self, s: Severity) -> Style {
        match s {
            Severity::Critical => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Severity::Warning => self.fg(Color::Yellow),
            Severity::Info => self.fg(Color::Cyan),
        }
    }

    fn label(self) -> Style {
        self.fg(Color::Gray).add_modifier(Modifier::BOLD)
    }

    fn dim(self) -> Style {
        self.fg(Color::DarkGray)
    }

    fn title(self) -> Style {
        self.fg(Color::White).add_modifier(Modifier::BOLD)
    }

    fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    fn brand(self) -> Style {
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

fn symbol(v: Option<Verdict>) -> char {
    v.map_or(PENDING, Verdict::symbol)
}

fn width(s: &str) -> u16 {
    u16::try_from(s.chars().count()).unwrap_or(u16::MAX)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else if max == 0 {
        String::new()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('~');
        t
    }
}

/// `HH:MM:SS` of an RFC 3339 time.
fn clock(rfc3339: &str) -> &str {
    rfc3339.get(11..19).unwrap_or(rfc3339)
}

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
    draw_header(frame, header, app, th);
    match app.view {
        View::Matrix => draw_matrix_view(frame, body, app, th),
        View::Findings => draw_findings(frame, body, app, th),
        View::Changes => fleet::draw_changes(frame, body, app, th),
    }
    draw_status(frame, status, app, th);
    if app.modal == Modal::Help {
        draw_help(frame, area, th);
    }
    scrub(frame.buffer_mut());
}

/// Peer text in a line made visible: each span through the one sanitizer (our own text has
/// nothing it changes).
fn inert_line(mut line: Line<'static>) -> Line<'static> {
    for span in &mut line.spans {
        if span.content.chars().any(needs_escape) {
            span.content = inert_owned(&span.content).into();
        }
    }
    line
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

fn draw_header(frame: &mut Frame, area: Rect, app: &App, th: Theme) {
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
            if skip_zero && *n == 0 {
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

/// The legend, as lines that fit `width`, never splitting an item.
fn legend(th: Theme, width: u16, pending: bool, folds: bool, minted: bool) -> Vec<Line<'static>> {
    let mut items: Vec<Span<'static>> = Verdict::ALL
        .iter()
        .map(|v| {
            Span::styled(
                format!("{} {}", v.symbol(), v.as_str()),
                th.verdict(Some(*v)),
            )
        })
        .collect();
    if pending {
        items.push(Span::styled(format!("{PENDING} pending"), th.dim()));
    }
    items.push(Span::raw(format!("{CHANGED} changed")));
    items.push(Span::raw(format!("{ROTATED} rotated")));
    if folds {
        items.push(Span::raw(format!("{DIFFER} members differ")));
    }
    if minted {
        items.push(Span::raw("name* minted from the CA key"));
    }
    let mut lines = Vec::new();
    let mut line: Vec<Span<'static>> = Vec::new();
    let mut used = 0usize;
    for item in items {
        let w = item.width() + 2;
        if used + w > usize::from(width) && !line.is_empty() {
            lines.push(Line::from(std::mem::take(&mut line)));
            used = 0;
        }
        line.push(Span::raw(" "));
        line.push(item);
        line.push(Span::raw(" "));
        used += w;
    }
    if !line.is_empty() {
        lines.push(Line::from(line));
    }
    lines
}

fn draw_matrix_view(frame: &mut Frame, area: Rect, app: &mut App, th: Theme) {
    let pending = app.snapshot.cells.iter().any(|c| c.verdict.is_none());
    let folds = app.by_component() || app.transposed();
    let legend_h =
        u16::try_from(legend(th, area.width, pending, folds, app.catalog.has_minted()).len())
            .unwrap_or(1);
    let rows = if app.transposed() {
        app.trows().len().saturating_sub(1)
    } else {
        app.grid().rows.len()
    };
    let rows = u16::try_from(rows).unwrap_or(u16::MAX);
    let matrix_h = rows.saturating_add(4 + 1 + legend_h);
    let (matrix, detail) = if app.pane == Pane::None {
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
    };
    if let Some(m) = matrix {
        let legend = legend(th, m.width, pending, folds, app.catalog.has_minted());
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
            draw_matrix(frame, grid_area, app, th);
        }
        frame.render_widget(Paragraph::new(selection_line(app, th)), info);
        frame.render_widget(Paragraph::new(legend), leg);
    }
    match detail {
        Some(d) if !app.detail_open() => draw_members(frame, d, app, th),
        Some(d) => draw_detail(frame, d, app, th),
        None => {}
    }
}

/// The label of an endpoint column: the name without the component prefix the group header
/// already shows.
fn endpoint_label(app: &App, e: usize) -> String {
    let Some(ep) = app.catalog.endpoints.get(e) else {
        return String::new();
    };
    let prefix = format!("{}-", ep.component.as_str());
    match ep.name.strip_prefix(&prefix) {
        Some(rest) if !rest.is_empty() => rest.to_string(),
        _ => ep.name.clone(),
    }
}

/// Column labels shortened to `max` characters, unique within each group of columns (a group
/// starts where `seps` is true).
fn shorten_labels(labels: &[String], seps: &[bool], max: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(labels.len());
    let mut start = 0;
    for end in 1..=labels.len() {
        if end == labels.len() || seps[end] {
            let group: Vec<&str> = labels[start..end].iter().map(String::as_str).collect();
            out.extend(crate::report::table::abbreviate(&group, max));
            start = end;
        }
    }
    out
}

fn draw_matrix(frame: &mut Frame, area: Rect, app: &mut App, th: Theme) {
    let grid = app.grid();
    let mut title = vec![Span::styled(
        if app.by_component() {
            " Matrix by component "
        } else {
            " Matrix "
        },
        th.title(),
    )];
    if app.failing_only {
        title.push(Span::styled(" failing only ", th.fg(Color::Yellow)));
    }
    let filter = app.active_filter().to_string();
    if !filter.is_empty() {
        title.push(Span::styled(
            format!(" filter: {filter} "),
            th.fg(Color::Yellow),
        ));
    }
    let mut block = Block::bordered().title(Line::from(title));
    let inner = block.inner(area);
    if grid.rows.is_empty() || grid.cols.is_empty() {
        frame.render_widget(block, area);
        let msg = if app.catalog.endpoints.is_empty() {
            "The inventory has no endpoints."
        } else if app.failing_only && app.snapshot.round > 0 && filter.is_empty() {
            "No failing cells. (f shows all)"
        } else {
            "No endpoint matches the filters. (Esc clears them)"
        };
        frame.render_widget(
            Paragraph::new(format!(" {msg}")).wrap(Wrap { trim: false }),
            inner,
        );
        return;
    }
    let layout = MatrixLayout::new(app, &grid, inner);
    let (sel_r, sel_c) = app.selection_in(&grid);
    app.col_offset = fit_cols(
        app.col_offset,
        sel_c.unwrap_or(0),
        &layout.widths,
        layout.avail,
    );
    app.row_offset = fit_rows(
        app.row_offset,
        sel_r.unwrap_or(0),
        grid.rows.len(),
        usize::from(inner.height.saturating_sub(2)),
    );
    let last_col = layout.last_visible(app.col_offset);
    let last_row = (app.row_offset + usize::from(inner.height.saturating_sub(2)))
        .min(grid.rows.len())
        .saturating_sub(1);
    block = block.title_bottom(Line::from(Span::styled(
        format!(
            " cols {}-{}/{}  rows {}-{}/{} ",
            app.col_offset + 1,
            last_col + 1,
            grid.cols.len(),
            app.row_offset + 1,
            last_row + 1,
            grid.rows.len()
        ),
        th.dim(),
    )));
    frame.render_widget(block, area);
    layout.render(
        frame.buffer_mut(),
        app,
        &grid,
        th,
        (sel_r, sel_c),
        last_col,
        last_row,
    );
}

/// One render pass of the matrix: the state drawn, the selection, and the last visible column
/// and row.
struct RenderPass<'a> {
    app: &'a App,
    grid: &'a Grid,
    th: Theme,
    sel_r: Option<usize>,
    sel_c: Option<usize>,
    last_col: usize,
    last_row: usize,
}

impl RenderPass<'_> {
    /// The grid rows on screen.
    fn visible_rows(&self) -> std::ops::RangeInclusive<usize> {
        self.app.row_offset..=self.last_row
    }
}

/// Column widths and labels of the matrix for one frame.
struct MatrixLayout {
    inner: Rect,
    name_w: u16,
    cell_w: u16,
    /// Per column: cell width plus one for a group separator before it.
    widths: Vec<u16>,
    seps: Vec<bool>,
    labels: Vec<String>,
    avail: u16,
}

impl MatrixLayout {
    fn new(app: &App, grid: &Grid, inner: Rect) -> MatrixLayout {
        let name_w = grid
            .rows
            .iter()
            .filter_map(|&i| app.catalog.identities.get(i))
            .map(|i| width(&i.label()))
            .max()
            .unwrap_or(4)
            .clamp(4, 16)
            + 1;
        let avail = inner.width.saturating_sub(name_w);
        let seps: Vec<bool> = grid
            .cols
            .iter()
            .enumerate()
            .map(|(k, c)| k > 0 && grid.cols[k - 1].component != c.component)
            .collect();
        let wide: Vec<String> = grid
            .cols
            .iter()
            .map(|c| {
                if app.by_component() {
                    c.component.title().to_string()
                } else {
                    endpoint_label(app, c.endpoints[0])
                }
            })
            .collect();
        // Folded cells need room for the symbol, the disagreement mark and a change mark.
        let natural = wide
            .iter()
            .map(|l| width(l))
            .max()
            .unwrap_or(1)
            .saturating_add(1)
            .clamp(if app.by_component() { 5 } else { 3 }, 12);
        let total: u32 = seps
            .iter()
            .map(|s| u32::from(natural) + u32::from(*s))
            .sum();
        let (cell_w, labels) = if total <= u32::from(avail) {
            (natural, wide)
        } else if app.by_component() {
            (5, wide.iter().map(|l| truncate(l, 4)).collect())
        } else {
            // Names too long for every column to show: shorten them (unique within their
            // component, by the table's rule) to fit, but never under 4 characters (columns
            // scroll instead); the selection line names the selected one in full.
            let n = u32::try_from(grid.cols.len()).unwrap_or(u32::MAX).max(1);
            let n_seps = u32::try_from(seps.iter().filter(|s| **s).count()).unwrap_or(0);
            let fit = u16::try_from(u32::from(avail).saturating_sub(n_seps) / n).unwrap_or(5);
            let cell_w = fit.max(5).min(natural.max(5));
            (
                cell_w,
                shorten_labels(&wide, &seps, usize::from(cell_w - 1)),
            )
        };
        let widths = seps.iter().map(|s| cell_w + u16::from(*s)).collect();
        MatrixLayout {
            inner,
            name_w,
            cell_w,
            widths,
            seps,
            labels,
            avail,
        }
    }

    fn last_visible(&self, offset: usize) -> usize {
        let mut used = 0u32;
        let mut last = offset;
        for (k, w) in self.widths.iter().enumerate().skip(offset) {
            used += u32::from(*w);
            if used > u32::from(self.avail) {
                break;
            }
            last = k;
        }
        last
    }

    #[allow(clippy::too_many_arguments)]
    fn render(
        &self,
        buf: &mut Buffer,
        app: &App,
        grid: &Grid,
        th: Theme,
        (sel_r, sel_c): (Option<usize>, Option<usize>),
        last_col: usize,
        last_row: usize,
    ) {
        let inner = self.inner;
        if inner.height < 3 || self.avail < self.cell_w {
            return;
        }
        let pass = RenderPass {
            app,
            grid,
            th,
            sel_r,
            sel_c,
            last_col,
            last_row,
        };
        self.render_row_names(buf, &pass);
        self.render_scroll_hint(buf, &pass);
        let mut x = inner.x + self.name_w;
        for k in app.col_offset..=last_col {
            let Some(col) = grid.cols.get(k) else {
                break;
            };
            x = self.render_column(buf, &pass, k, col, x);
        }
    }

    /// The line of the group headers (and, by component, of the column labels).
    fn y_group(&self) -> u16 {
        self.inner.y
    }

    /// The line of the column labels (and of the scroll hint).
    fn y_label(&self) -> u16 {
        self.inner.y + 1
    }

    /// The line of the first visible row.
    fn y_rows(&self) -> u16 {
        self.inner.y + 2
    }

    /// The identity names, one per visible row.
    fn render_row_names(&self, buf: &mut Buffer, pass: &RenderPass<'_>) {
        let (app, th) = (pass.app, pass.th);
        for (line, r) in pass.visible_rows().enumerate() {
            let Some(id) = pass
                .grid
                .rows
                .get(r)
                .and_then(|&i| app.catalog.identities.get(i))
            else {
                continue;
            };
            let style = if Some(r) == pass.sel_r {
                th.title().add_modifier(Modifier::UNDERLINED)
            } else {
                th.label()
            };
            buf.set_stringn(
                self.inner.x,
                self.y_rows() + u16::try_from(line).unwrap_or(0),
                id.label(),
                usize::from(self.name_w - 1),
                style,
            );
        }
    }

    /// `<` and `>` when columns are hidden to the left / right.
    fn render_scroll_hint(&self, buf: &mut Buffer, pass: &RenderPass<'_>) {
        let mut hint = String::new();
        if pass.app.col_offset > 0 {
            hint.push('<');
        }
        if pass.last_col + 1 < pass.grid.cols.len() {
            hint.push('>');
        }
        buf.set_string(self.inner.x, self.y_label(), hint, pass.th.dim());
    }

    /// Column `k` at `x`: its group separator, group header, label and cells. Returns the x of
    /// the next column.
    fn render_column(
        &self,
        buf: &mut Buffer,
        pass: &RenderPass<'_>,
        k: usize,
        col: &Column,
        mut x: u16,
    ) -> u16 {
        let (app, th) = (pass.app, pass.th);
        if self.seps[k] {
            let rows = u16::try_from(pass.visible_rows().count()).unwrap_or(0);
            for y in self.y_group()..self.y_rows() + rows {
                buf.set_string(x, y, "│", th.dim());
            }
            x += 1;
        }
        self.render_group_header(buf, pass, k, col, x);
        let selected_col = Some(k) == pass.sel_c;
        self.render_column_label(buf, pass, k, col, x, selected_col);
        for (line, r) in pass.visible_rows().enumerate() {
            let Some(&identity) = pass.grid.rows.get(r) else {
                continue;
            };
            let y = self.y_rows() + u16::try_from(line).unwrap_or(0);
            self.render_cell(
                buf,
                app,
                th,
                identity,
                col,
                x,
                y,
                selected_col && Some(r) == pass.sel_r,
            );
        }
        x + self.cell_w
    }

    /// The group header, at a group's first visible column (not when grouped by component).
    fn render_group_header(
        &self,
        buf: &mut Buffer,
        pass: &RenderPass<'_>,
        k: usize,
        col: &Column,
        x: u16,
    ) {
        let (app, last_col) = (pass.app, pass.last_col);
        let group_start = k == app.col_offset || self.seps[k];
        if group_start && !app.by_component() {
            let last_group = (k + 1..=last_col).all(|j| !self.seps[j]);
            let span: u16 = if last_group {
                self.inner.right().saturating_sub(x) + 1
            } else {
                (k..=last_col)
                    .take_while(|&j| j == k || !self.seps[j])
                    .map(|j| self.widths[j])
                    .sum::<u16>()
                    .saturating_sub(u16::from(self.seps[k]))
            };
            buf.set_stringn(
                x,
                self.y_group(),
                col.component.title(),
                usize::from(span.saturating_sub(1)),
                pass.th.title(),
            );
        }
    }

    /// The label of column `k` (by component: on the group line, with the endpoint count
    /// below).
    fn render_column_label(
        &self,
        buf: &mut Buffer,
        pass: &RenderPass<'_>,
        k: usize,
        col: &Column,
        x: u16,
        selected_col: bool,
    ) {
        let th = pass.th;
        let label_style = if selected_col {
            th.title().add_modifier(Modifier::UNDERLINED)
        } else {
            th.label()
        };
        if pass.app.by_component() {
            buf.set_stringn(
                x,
                self.y_group(),
                &self.labels[k],
                usize::from(self.cell_w - 1),
                label_style,
            );
            let n = format!("({})", col.endpoints.len());
            buf.set_stringn(x, self.y_label(), n, usize::from(self.cell_w - 1), th.dim());
        } else {
            buf.set_stringn(
                x,
                self.y_label(),
                &self.labels[k],
                usize::from(self.cell_w - 1),
                label_style,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn render_cell(
        &self,
        buf: &mut Buffer,
        app: &App,
        th: Theme,
        identity: usize,
        col: &Column,
        x: u16,
        y: u16,
        selected: bool,
    ) {
        let differ = col.endpoints.len() > 1 && app.members_differ(identity, &col.endpoints);
        let (verdict, changed, rotated) = if col.endpoints.len() == 1 {
            let c = app.cell(identity, col.endpoints[0]);
            (
                c.and_then(|c| c.verdict),
                c.is_some_and(|c| c.changed),
                c.is_some_and(|c| c.rotated),
            )
        } else {
            let mut worst = None;
            let (mut changed, mut rotated) = (false, false);
            for &e in &col.endpoints {
                if let Some(c) = app.cell(identity, e) {
                    if badness(c.verdict) > badness(worst) {
                        worst = c.verdict;
                    }
                    changed |= c.changed;
                    rotated |= c.rotated;
                }
            }
            (worst, changed, rotated)
        };
        let mut style = th.verdict(verdict);
        let mid = (self.cell_w - 1) / 2;
        if selected {
            // Reversed, and bracketed so that the selection shows without any attribute too.
            style = style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
            buf.set_string(x, y, " ".repeat(usize::from(self.cell_w)), style);
            buf.set_string(x + mid - 1, y, "[", style);
            buf.set_string(x + mid + 1, y, "]", style);
        }
        buf.set_string(x + mid, y, symbol(verdict).to_string(), style);
        // The members' disagreement first (it must not be lost for lack of room), then a change.
        let marks = [
            differ.then_some(DIFFER),
            if rotated {
                Some(ROTATED)
            } else if changed {
                Some(CHANGED)
            } else {
                None
            },
        ];
        let first = if selected { mid + 2 } else { mid + 1 };
        for (marker_x, m) in (first..self.cell_w).zip(marks.into_iter().flatten()) {
            buf.set_string(
                x + marker_x,
                y,
                m.to_string(),
                style.add_modifier(Modifier::BOLD),
            );
        }
    }
}

/// The line under the matrix that names the selected cell in full.
fn selection_line(app: &App, th: Theme) -> Line<'static> {
    let Some((i, e)) = app.selected_cell() else {
        return Line::default();
    };
    let (Some(id), Some(ep)) = (app.catalog.identities.get(i), app.catalog.endpoints.get(e)) else {
        return Line::default();
    };
    let v = app.verdict(i, e);
    let mut spans = vec![
        Span::raw(" "),
        Span::styled(id.name.clone(), th.title()),
        Span::raw(" -> "),
    ];
    if let (true, Some(g)) = (app.transposed(), &app.sel_group) {
        let n = app
            .trows()
            .into_iter()
            .find_map(|r| match r {
                super::app::Row::Group {
                    name, endpoints, ..
                } if name == *g => Some(endpoints.len()),
                _ => None,
            })
            .unwrap_or(0);
        spans.push(Span::styled(format!("group {g}"), th.title()));
        spans.push(Span::raw(format!(" ({n} endpoints, worst {}): ", ep.name)));
    } else if let Some(m) = app.members().filter(|_| !app.transposed()) {
        spans.push(Span::styled(ep.name.clone(), th.title()));
        spans.push(Span::raw(format!(
            " ({} of {} {} endpoints): ",
            m.sel + 1,
            m.endpoints.len(),
            ep.component.title()
        )));
    } else if app.by_component() && !app.transposed() {
        let col = app
            .grid()
            .cols
            .into_iter()
            .find(|c| c.endpoints.contains(&e));
        let n = col.as_ref().map_or(1, |c| c.endpoints.len());
        let differ = col
            .as_ref()
            .is_some_and(|c| app.members_differ(i, &c.endpoints));
        spans.push(Span::styled(ep.component.title().to_string(), th.title()));
        spans.push(Span::raw(format!(" ({n} endpoints")));
        if differ {
            spans.push(Span::styled(format!(" {DIFFER}"), th.title()));
        }
        spans.push(Span::raw(format!(", worst {}): ", ep.name)));
    } else {
        spans.push(Span::styled(ep.name.clone(), th.title()));
        spans.push(Span::raw(format!(
            " ({} {} {}): ",
            ep.component.title(),
            ep.role,
            ep.address
        )));
    }
    spans.push(Span::styled(
        format!("{} {}", symbol(v), v.map_or("pending", Verdict::as_str)),
        th.verdict(v),
    ));
    if let Some(x) = app.catalog.expected(i, e) {
        spans.push(Span::styled(
            format!(
                ", expected {}",
                match (x.allow, x.needed) {
                    (true, _) => "allow",
                    (false, true) => "deny by its list, but its component needs this link",
                    (false, false) => "deny",
                }
            ),
            th.dim(),
        ));
    }
    Line::from(spans)
}

fn kv(th: Theme, label: &str, value: Vec<Span<'static>>) -> Line<'static> {
    let mut spans = vec![Span::styled(format!("{label:<10}"), th.label())];
    spans.extend(value);
    Line::from(spans)
}

fn more(value: Vec<Span<'static>>) -> Line<'static> {
    let mut spans = vec![Span::raw(" ".repeat(10))];
    spans.extend(value);
    Line::from(spans)
}

fn kind_str(k: IdentityKind) -> &'static str {
    match k {
        IdentityKind::Configured => "from the inventory",
        IdentityKind::Anonymous => "no client certificate",
        IdentityKind::Foreign => "certificate from a throwaway CA",
        IdentityKind::Unlisted => "cluster CA, CN on no allow-list",
        IdentityKind::Minted => "minted from the CA key, with the CN TiUP gives the component",
    }
}

fn chain_lines(th: Theme, rec: &ProbeRecord, rotated: bool, out: &mut Vec<Line<'static>>) {
    let verdict = match describe::verification(rec) {
        Some((true, words)) => Span::styled(words, th.verdict(Some(Verdict::Secure))),
        Some((false, words)) => Span::styled(words, th.verdict(Some(Verdict::Untrusted))),
        None => Span::styled("no certificate seen", th.dim()),
    };
    out.push(kv(th, "Chain", vec![verdict]));
    if rotated {
        out.push(more(vec![Span::styled(
            format!("{ROTATED} rotated: the server certificate changed since the previous round"),
            th.title(),
        )]));
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let chain = describe::chain(rec, now);
    for c in &chain {
        let pad = " ".repeat(2 + 3 * c.index);
        out.push(Line::from(vec![
            Span::raw(format!("{pad}`- ")),
            Span::styled(c.subject.clone(), th.title()),
            Span::styled(format!("  [{}]", c.position.as_str()), th.dim()),
        ]));
        let pad = format!("{pad}   ");
        let state_style = if c.validity.is_valid() {
            th.verdict(Some(Verdict::Secure))
        } else {
            th.verdict(Some(Verdict::Untrusted))
                .add_modifier(Modifier::BOLD)
        };
        out.push(Line::from(vec![
            Span::raw(format!("{pad}{}  ", c.period)),
            Span::styled(c.validity.label(), state_style),
        ]));
        out.push(Line::from(format!("{pad}SAN {}", c.sans)));
        out.push(Line::from(vec![
            Span::raw(pad.clone()),
            Span::styled(format!("sha256 {}", c.sha256), th.dim()),
        ]));
    }
    if let Some(issuer) = describe::issuer_not_sent(rec) {
        out.push(Line::from(vec![
            Span::raw(format!("{}`- ", " ".repeat(2 + 3 * chain.len()))),
            Span::raw(issuer.to_string()),
            Span::styled("  [issuer, not sent]", th.dim()),
        ]));
    }
}

fn evidence_lines(th: Theme, rec: &ProbeRecord) -> Vec<Line<'static>> {
    let items = describe::evidence(rec);
    if items.is_empty() {
        return vec![kv(th, "Evidence", vec![Span::styled("none", th.dim())])];
    }
    items
        .into_iter()
        .enumerate()
        .map(|(k, s)| {
            if k == 0 {
                kv(th, "Evidence", vec![Span::raw(s)])
            } else {
                more(vec![Span::raw(s)])
            }
        })
        .collect()
}

/// A SQL port: the greeting, the logins over TLS and in plaintext, what they prove.
fn mysql_lines(th: Theme, rec: &ProbeRecord, out: &mut Vec<Line<'static>>) {
    use tlsaudit_engine::probe::mysql::PlaintextVerdict;
    let Some(m) = &rec.mysql else {
        return;
    };
    out.push(kv(
        th,
        "MySQL",
        vec![
            Span::styled(m.server_version.clone(), th.title()),
            Span::raw(if m.tls_offered {
                "  TLS offered (CLIENT_SSL)"
            } else {
                "  TLS NOT offered (no CLIENT_SSL)"
            }),
        ],
    ));
    if let Some(a) = &m.tls_login {
        out.push(more(vec![Span::raw(format!(
            "login as {} inside TLS: {}",
            m.user,
            a.describe()
        ))]));
    }
    if let Some(a) = &m.plaintext_login {
        out.push(more(vec![Span::raw(format!(
            "login as {} in plaintext: {}",
            m.user,
            a.describe()
        ))]));
    }
    let verdict = match m.plaintext {
        PlaintextVerdict::Refused => {
            Span::styled("plaintext refused", th.verdict(Some(Verdict::Secure)))
        }
        PlaintextVerdict::Accepted => {
            Span::styled("plaintext ACCEPTED", th.verdict(Some(Verdict::Unencrypted)))
        }
        PlaintextVerdict::NoTls => {
            Span::styled("plaintext only", th.verdict(Some(Verdict::Unencrypted)))
        }
        PlaintextVerdict::Unknown => Span::styled("plaintext: unknown", th.title()),
        PlaintextVerdict::NotTested => Span::styled("plaintext not tested", th.dim()),
    };
    out.push(more(vec![
        verdict,
        Span::raw(format!(": {}", m.plaintext_detail)),
    ]));
}

/// A duration in milliseconds, right-aligned so that the line keeps its width.
fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| format!("{:>6}", "-"), |v| format!("{v:>6.2}"))
}

/// The detail pane's lines for the selected cell.
fn detail_lines(app: &App, th: Theme) -> Vec<Line<'static>> {
    let Some((i, e)) = app.selected_cell() else {
        return vec![Line::from(" No cell selected.")];
    };
    let (Some(id), Some(ep)) = (app.catalog.identities.get(i), app.catalog.endpoints.get(e)) else {
        return vec![Line::from(" No cell selected.")];
    };
    let cell = app.cell(i, e);
    let mut out = subject_lines(th, ep, id);
    if let Some(x) = app.catalog.expected(i, e) {
        out.push(kv(
            th,
            "Expected",
            vec![
                Span::styled(if x.allow { "allow" } else { "deny" }, th.title()),
                Span::raw(format!(
                    ": {}{}",
                    x.reason,
                    if x.needed {
                        " (its component needs this link)"
                    } else {
                        ""
                    }
                )),
            ],
        ));
    }
    out.extend(vantage_lines(app, th, i, e));
    let verdict = cell.and_then(|c| c.verdict);
    let rec = cell.and_then(|c| c.record.clone());
    let Some(rec) = rec else {
        out.push(kv(
            th,
            "Observed",
            vec![Span::styled("not probed yet", th.dim())],
        ));
        return out;
    };
    observed_lines(th, &rec, verdict, cell.is_some_and(|c| c.changed), &mut out);
    out.extend(fleet::history_lines(app, th, i, e));
    out.extend(cell_findings(app, th, ep, id));
    drift_lines(app, th, e, &mut out);
    tls_lines(th, &rec, &mut out);
    mysql_lines(th, &rec, &mut out);
    chain_lines(th, &rec, cell.is_some_and(|c| c.rotated), &mut out);
    out.push(timings_line(th, &rec));
    out.extend(evidence_lines(th, &rec));
    out
}

/// The endpoint's rotation drift (where its certificate or CA file is known): what it serves
/// against the files, the CA, the days left.
fn drift_lines(app: &App, th: Theme, e: usize, out: &mut Vec<Line<'static>>) {
    use tlsaudit_engine::audit::drift::{CaDrift, CertDrift};
    let Some(Some(d)) = app.snapshot.drift.get(e) else {
        return;
    };
    let bad = d.cert == CertDrift::NotReloaded || d.ca == CaDrift::RestartRequired;
    let style = if bad {
        th.verdict(Some(Verdict::Blocked))
            .add_modifier(Modifier::BOLD)
    } else {
        th.dim()
    };
    for (k, line) in d.describe().into_iter().enumerate() {
        let value = vec![Span::styled(line, style)];
        out.push(if k == 0 {
            kv(th, "Drift", value)
        } else {
            more(value)
        });
    }
}

/// A merged report's cell: what each vantage point saw (the cell shows the worst).
fn vantage_lines(app: &App, th: Theme, i: usize, e: usize) -> Vec<Line<'static>> {
    let n_ep = app.catalog.endpoints.len();
    let Some(Some(by)) = app.by_vantage.get(i * n_ep + e) else {
        return Vec::new();
    };
    let first = by.values().next().and_then(|c| c.verdict);
    let differ = by.values().any(|c| c.verdict != first);
    let mut out = Vec::new();
    for (k, (v, c)) in by.iter().enumerate() {
        let value = vec![
            Span::raw(format!("{v}: ")),
            Span::styled(
                format!(
                    "{} {}",
                    symbol(c.verdict),
                    c.verdict.map_or("not probed", Verdict::as_str)
                ),
                th.verdict(c.verdict),
            ),
            Span::raw(c.outcome.map(|o| format!(" ({o})")).unwrap_or_default()),
        ];
        out.push(if k == 0 {
            kv(th, if differ { "Vantage ≠" } else { "Vantage" }, value)
        } else {
            more(value)
        });
    }
    out
}

/// The endpoint (with its allow-list) and the identity of a cell.
fn subject_lines(
    th: Theme,
    ep: &super::app::EndpointInfo,
    id: &super::app::IdentityInfo,
) -> Vec<Line<'static>> {
    vec![
        kv(
            th,
            "Endpoint",
            vec![
                Span::styled(ep.name.clone(), th.title()),
                Span::raw(format!(
                    "  {} {}  {}",
                    ep.component.title(),
                    ep.role,
                    ep.address
                )),
            ],
        ),
        more(vec![Span::styled(
            if ep.allowed_cn.is_empty() {
                "allow-list: none set".to_string()
            } else {
                format!("allow-list: {}", ep.allowed_cn.join(", "))
            },
            th.dim(),
        )]),
        kv(
            th,
            "Identity",
            vec![
                Span::styled(id.name.clone(), th.title()),
                Span::raw(format!(
                    "  {}{}",
                    kind_str(id.kind),
                    id.cn
                        .as_deref()
                        .map(|cn| format!(", CN {cn}"))
                        .unwrap_or_default()
                )),
            ],
        ),
    ]
}

/// The observed outcome of a probed cell, and its verdict (`changed`: since the previous
/// round).
fn observed_lines(
    th: Theme,
    rec: &ProbeRecord,
    verdict: Option<Verdict>,
    changed: bool,
    out: &mut Vec<Line<'static>>,
) {
    out.push(kv(
        th,
        "Observed",
        vec![
            Span::styled(rec.outcome.class.as_str(), th.title()),
            Span::raw(format!(
                " in {}: {}",
                rec.outcome.phase.as_str(),
                rec.outcome.summary
            )),
        ],
    ));
    if let Some(a) = rec.outcome.authorization {
        out.push(more(vec![Span::raw(format!("authorization: {a}"))]));
    }
    let mut v = vec![Span::styled(
        format!(
            "{} {}",
            symbol(verdict),
            verdict.map_or("pending", Verdict::as_str)
        ),
        th.verdict(verdict),
    )];
    if changed {
        v.push(Span::styled(
            format!("  {CHANGED} changed since the previous round"),
            th.title(),
        ));
    }
    out.push(kv(th, "Verdict", v));
}

/// The negotiated TLS session, or that there was none.
fn tls_lines(th: Theme, rec: &ProbeRecord, out: &mut Vec<Line<'static>>) {
    match &rec.tls {
        Some(t) => {
            out.push(kv(
                th,
                "TLS",
                vec![Span::raw(format!(
                    "{}  {}  ALPN {}",
                    t.version,
                    t.cipher_suite,
                    t.alpn.as_deref().unwrap_or("none")
                ))],
            ));
            let yes = |b: bool| if b { "yes" } else { "no" };
            out.push(more(vec![Span::styled(
                format!(
                    "key exchange {}  client cert requested {}, sent {}",
                    t.key_exchange.as_deref().unwrap_or("-"),
                    yes(t.client_cert_requested),
                    yes(t.client_cert_sent)
                ),
                th.dim(),
            )]));
        }
        None => out.push(kv(
            th,
            "TLS",
            vec![Span::styled("no TLS session", th.dim())],
        )),
    }
}

/// The timings of the probe's phases.
fn timings_line(th: Theme, rec: &ProbeRecord) -> Line<'static> {
    let t = &rec.timings;
    kv(
        th,
        "Timings",
        vec![Span::raw(format!(
            "connect {}  handshake {}  check {}  total {} ms",
            ms(t.connect_ms),
            ms(t.handshake_ms),
            ms(t.check_ms),
            ms(Some(t.total_ms))
        ))],
    )
}

/// The findings about a cell: its own, and its endpoint's.
fn cell_findings(
    app: &App,
    th: Theme,
    ep: &super::app::EndpointInfo,
    id: &super::app::IdentityInfo,
) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let findings: Vec<_> = app
        .snapshot
        .findings
        .iter()
        .filter(|f| {
            f.endpoint.as_deref() == Some(ep.name.as_str())
                && f.identity.as_deref().is_none_or(|n| n == id.name)
        })
        .collect();
    if findings.is_empty() {
        out.push(kv(th, "Finding", vec![Span::styled("none", th.dim())]));
    }
    for f in findings {
        out.push(kv(
            th,
            "Finding",
            vec![
                Span::styled(format!("{} ", f.code), th.severity(f.severity)),
                Span::raw(format!(
                    "({}{}) {}",
                    f.severity.as_str(),
                    if f.identity.is_none() {
                        ", endpoint"
                    } else {
                        ""
                    },
                    f.title
                )),
            ],
        ));
        out.push(kv(th, "Fix", vec![Span::raw(f.fix.clone())]));
    }
    out
}

/// Wrap a line to `width` cells with a hanging indent: continuation lines start under the value
/// (after the label column, or under a tree node's text).
fn hang_wrap(line: Line<'static>, width: usize) -> Vec<Line<'static>> {
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    if text.chars().count() <= width || width < 20 {
        return vec![line];
    }
    let lead = text.chars().take_while(|c| *c == ' ').count();
    let indent = if lead == 0 {
        10
    } else if text[lead..].starts_with("`- ") {
        lead + 3
    } else {
        lead
    }
    .min(width / 2);
    let mut tokens: Vec<(String, Style)> = Vec::new();
    for span in &line.spans {
        let mut cur = String::new();
        let mut cur_space = None;
        for c in span.content.chars() {
            let space = c == ' ';
            if cur_space.is_some_and(|s| s != space) {
                tokens.push((std::mem::take(&mut cur), span.style));
            }
            cur.push(c);
            cur_space = Some(space);
        }
        if !cur.is_empty() {
            tokens.push((cur, span.style));
        }
    }
    let mut out = Vec::new();
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    let newline = |out: &mut Vec<Line<'static>>, spans: &mut Vec<Span<'static>>| {
        out.push(Line::from(std::mem::take(spans)));
        spans.push(Span::raw(" ".repeat(indent)));
    };
    for (tok, style) in tokens {
        let len = tok.chars().count();
        if used + len <= width {
            spans.push(Span::styled(tok, style));
            used += len;
            continue;
        }
        if tok.starts_with(' ') {
            newline(&mut out, &mut spans);
            used = indent;
            continue;
        }
        if used > indent {
            newline(&mut out, &mut spans);
            used = indent;
        }
        let mut rest: Vec<char> = tok.chars().collect();
        while used + rest.len() > width {
            let head: String = rest.drain(..width - used).collect();
            spans.push(Span::styled(head, style));
            newline(&mut out, &mut spans);
            used = indent;
        }
        used += rest.len();
        spans.push(Span::styled(rest.into_iter().collect::<String>(), style));
    }
    if !spans.is_empty() {
        out.push(Line::from(spans));
    }
    out
}

/// The member list of a folded cell: every endpoint it folds with this identity's verdict there,
/// worst first; `Enter` opens the selected member's detail.
fn draw_members(frame: &mut Frame, area: Rect, app: &mut App, th: Theme) {
    let Some(m) = app.members().cloned() else {
        return;
    };
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
    let block = Block::bordered()
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
        ));
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
        .filter_map(|(k, &e)| {
            let ep = app.catalog.endpoints.get(e)?;
            let v = app.verdict(m.identity, e);
            let expected =
                app.catalog
                    .expected(m.identity, e)
                    .map_or("", |x| match (x.allow, x.needed) {
                        (true, _) => "expected allow",
                        (false, true) => "not listed, but needed",
                        (false, false) => "expected deny",
                    });
            let mut line = Line::from(vec![
                Span::raw(if k == m.sel { ">" } else { " " }),
                Span::styled(
                    format!("{} {:<12}", symbol(v), v.map_or("pending", Verdict::as_str)),
                    th.verdict(v),
                ),
                Span::styled(format!("{:<name_w$}  ", ep.name), th.title()),
                Span::raw(format!("{} {}  ", ep.role, ep.address)),
                Span::styled(expected, th.dim()),
            ]);
            if k == m.sel {
                line = line.style(th.selected());
            }
            Some(line)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_detail(frame: &mut Frame, area: Rect, app: &mut App, th: Theme) {
    let wrap_w = usize::from(area.width.saturating_sub(2));
    let lines: Vec<Line> = detail_lines(app, th)
        .into_iter()
        .map(inert_line)
        .flat_map(|l| hang_wrap(l, wrap_w))
        .collect();
    let max = u16::try_from(lines.len().saturating_sub(1)).unwrap_or(u16::MAX);
    app.detail_scroll = app.detail_scroll.min(max);
    let title = match app.selected_cell().and_then(|(i, e)| {
        Some((
            app.catalog.identities.get(i)?,
            app.catalog.endpoints.get(e)?,
        ))
    }) {
        Some((id, ep)) => format!(" {} -> {} ", inert(&id.name), inert(&ep.name)),
        None => " Detail ".to_string(),
    };
    let block = Block::bordered()
        .title(Span::styled(title, th.title()))
        .title_bottom(Span::styled(
            " Enter/Esc close  PgUp/PgDn scroll ",
            th.dim(),
        ));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((app.detail_scroll, 0)),
        area,
    );
}

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

fn draw_findings(frame: &mut Frame, area: Rect, app: &mut App, th: Theme) {
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
    let code_w = app
        .findings()
        .map(|f| f.code.as_str().len())
        .max()
        .unwrap_or(4);
    let target = |f: &tlsaudit_engine::audit::Finding| match (&f.endpoint, &f.identity) {
        (Some(e), Some(i)) => format!("{e} x {i}"),
        (Some(e), None) => e.clone(),
        (None, Some(i)) => format!("identity {i}"),
        (None, None) => "cluster".to_string(),
    };
    let target_w = app
        .findings()
        .map(|f| target(f).chars().count())
        .max()
        .unwrap_or(7)
        .min(28);
    let lines: Vec<Line> = app
        .findings()
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
            let mut line = Line::from(vec![
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
                line = line.style(th.selected());
            }
            line
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
    if detail_h > 0 {
        if let Some(f) = app.selected_finding() {
            let wrap_w = usize::from(detail_area.width.saturating_sub(2));
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
            frame.render_widget(Paragraph::new(lines).block(block), detail_area);
        }
    }
}

fn draw_status(frame: &mut Frame, area: Rect, app: &App, th: Theme) {
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

fn draw_help(frame: &mut Frame, area: Rect, th: Theme) {
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
    lines.push(Line::from(Span::styled(" Verdicts", th.title())));
    for v in Verdict::ALL {
        let what = match v {
            Verdict::Secure => "expected allow, accepted over a trusted chain",
            Verdict::Enforced => "expected deny, rejected",
            Verdict::Open => "expected deny, ACCEPTED: allow-list not enforced",
            Verdict::Blocked => "expected allow or needed, rejected",
            Verdict::Unencrypted => "the endpoint speaks plaintext",
            Verdict::Untrusted => "the server chain does not verify",
            Verdict::Unreachable => "refused or timed out",
            Verdict::Error => "reset, protocol error, no common TLS parameters",
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::*;
    use crate::tui::app::{Catalog, EndpointInfo, IdentityInfo, Layout};
    use tlsaudit_engine::audit::{CellState, Expected, Matrix, Snapshot};
    use tlsaudit_engine::profile::Component;

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

    /// `n_ep` endpoints in 4 components x `n_id` identities; verdicts cycle, none recorded.
    fn big(n_ep: usize, n_id: usize) -> App {
        let comps = [
            Component::Pd,
            Component::Tikv,
            Component::Tidb,
            Component::Tiflash,
        ];
        let endpoints: Vec<EndpointInfo> = (0..n_ep)
            .map(|k| {
                let c = comps[k * comps.len() / n_ep];
                EndpointInfo {
                    name: format!("{}-{k}", c.as_str()),
                    component: c,
                    role: tlsaudit_engine::profile::Role::default_for(c),
                    address: format!("10.0.0.{k}:20160"),
                    allowed_cn: vec![],
                    labels: std::collections::BTreeMap::new(),
                }
            })
            .collect();
        let identities: Vec<IdentityInfo> = (0..n_id)
            .map(|i| IdentityInfo {
                name: format!("id-{i}"),
                kind: IdentityKind::Configured,
                cn: None,
            })
            .collect();
        let cells = Matrix::from_fn(n_id, n_ep, |i, e| CellState {
            record: None,
            verdict: Some(Verdict::ALL[(i.0 * n_ep + e.0) % 8]),
            changed: false,
            rotated: false,
        });
        let snapshot = Snapshot {
            cluster: "big".into(),
            round: 2,
            running: true,
            total: 88,
            done: 40,
            started_at: None,
            finished_at: None,
            identity_names: identities.iter().map(|i| i.name.clone()).collect(),
            endpoint_names: endpoints.iter().map(|e| e.name.clone()).collect(),
            cells,
            findings: Vec::new(),
            drift: Vec::new(),
        };
        let expected = Matrix::from_fn(n_id, n_ep, |_, _| Expected {
            allow: true,
            needed: false,
            reason: "test".into(),
            deny_only_if_sent: false,
        });
        let mut app = App::new(
            Catalog {
                endpoints,
                identities,
                expected,
                not_checked: Vec::new(),
            },
            Arc::new(snapshot),
            false,
        );
        app.layout = Layout::ByIdentity;
        app
    }

    fn frame(app: &mut App, w: u16, h: u16) -> String {
        let Ok(mut t) = Terminal::new(TestBackend::new(w, h));
        let Ok(_) = t.draw(|f| draw(f, app));
        t.backend().to_string()
    }

    fn press(app: &mut App, c: char, times: usize) {
        for _ in 0..times {
            app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
    }

    /// A folded cell over a blocked and a secure member shows the blocked one with the mark,
    /// and `Enter` lists both; the plaintext status port does not hide the blocked gRPC port.
    #[test]
    fn a_folded_cell_shows_the_blocked_member_with_the_mark_and_enter_lists_both() {
        // 4 endpoints, one per component: pd-0, tikv-1, tidb-2, tiflash-3; 1 identity.
        let mut app = big(4, 1);
        let mut snap = (*app.snapshot).clone();
        let mut set = |e: usize, v: Verdict| {
            snap.cells[(
                tlsaudit_engine::audit::IdentityId(0),
                tlsaudit_engine::audit::EndpointId(e),
            )]
                .verdict = Some(v);
        };
        set(0, Verdict::Secure);
        set(1, Verdict::Blocked);
        set(2, Verdict::Secure);
        set(3, Verdict::Secure);
        app.set_snapshot(Arc::new(snap.clone()));
        // Fold tikv-1 and pd-0 into one column: make pd-0 a TiKV endpoint.
        app.catalog.endpoints[0].component = Component::Tikv;
        app.catalog.endpoints[0].name = "tikv-0".into();
        app = App::new(app.catalog.clone(), Arc::new(snap), false);
        app.layout = Layout::ByIdentity;
        press(&mut app, 'c', 1);
        let s = frame(&mut app, 80, 24);
        let row = s
            .lines()
            .find(|l| l.contains("│id-0"))
            .unwrap_or_default()
            .to_string();
        assert!(row.contains("[X]≠"), "blocked shown, with the mark:\n{s}");
        assert!(s.contains("≠ members differ"), "legend:\n{s}");
        app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        let s = frame(&mut app, 80, 24);
        assert!(s.contains("id-0 -> TiKV: 2 endpoints, 2 verdicts"), "{s}");
        let blocked = s.lines().position(|l| l.contains("X blocked     tikv-1"));
        let secure = s.lines().position(|l| l.contains("+ secure      tikv-0"));
        assert!(
            matches!((blocked, secure), (Some(b), Some(s)) if b < s),
            "both listed, worst first:\n{s}"
        );
        // Enter opens the selected member's own detail; Esc goes back to the list.
        app.handle_key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE));
        app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        assert_eq!(app.selected_cell(), Some((0, 0)));
        let s = frame(&mut app, 80, 24);
        assert!(s.contains("id-0 -> tikv-0"), "{s}");
        app.handle_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
        assert!(matches!(app.pane, Pane::Members(_)));
        app.handle_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
        assert_eq!(app.pane, Pane::None);
        // Unencrypted (a status port) does not outrank blocked (a gRPC port).
        let mut snap = (*app.snapshot).clone();
        snap.cells[(
            tlsaudit_engine::audit::IdentityId(0),
            tlsaudit_engine::audit::EndpointId(0),
        )]
            .verdict = Some(Verdict::Unencrypted);
        app.set_snapshot(Arc::new(snap));
        let s = frame(&mut app, 80, 24);
        let row = s
            .lines()
            .find(|l| l.contains("│id-0"))
            .unwrap_or_default()
            .to_string();
        assert!(row.contains("[X]≠"), "{s}");
    }

    /// The footer ends with `? help  q quit` at any width, dropping hints that do not fit.
    #[test]
    fn a_minted_identity_is_marked_in_both_layouts_and_the_legend() {
        let mut app = big(8, 3);
        app.catalog.identities[1].name = "tikv".into();
        app.catalog.identities[1].kind = IdentityKind::Minted;
        app.catalog.identities[1].cn = Some("tikv".into());
        let rows = frame(&mut app, 100, 30);
        assert!(rows.contains("tikv*"), "{rows}");
        assert!(rows.contains("name* minted from the CA key"), "{rows}");
        assert!(!rows.contains("id-0*"), "{rows}");
        app.layout = Layout::Transposed;
        let fleet = frame(&mut app, 100, 30);
        assert!(fleet.contains("tikv*"), "{fleet}");
        // Without a minted identity, no mark and no legend item.
        let mut plain = big(8, 3);
        assert!(!frame(&mut plain, 100, 30).contains("minted"));
    }

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

    /// The selected cell is drawn `[x]`; it must be on screen after every move.
    #[test]
    fn hundred_endpoints_ten_identities_stay_usable_in_80x24() {
        for n_id in [10, 30] {
            scroll_around(n_id);
        }
    }

    fn scroll_around(n_id: usize) {
        let mut app = big(100, n_id);
        let s = frame(&mut app, 80, 24);
        assert!(s.contains("round 2: 40/88 probes"), "progress gauge:\n{s}");
        let last = n_id - 1;
        for (key, times) in [('l', 60), ('j', last), ('l', 39), ('h', 99), ('k', last)] {
            for _ in 0..times {
                press(&mut app, key, 1);
                let s = frame(&mut app, 80, 24);
                assert_eq!(s.matches('[').count(), 1, "one selected cell:\n{s}");
                let name = &app.catalog.endpoints[app.sel_endpoint].name;
                assert!(s.contains(&format!("-> {name} (")), "{name} named:\n{s}");
                let row = &app.catalog.identities[app.sel_identity].name;
                let line = s.lines().find(|l| l.contains('[')).unwrap_or_default();
                assert!(line.contains(&format!("│{row} ")), "row {row}:\n{s}");
            }
        }
        assert_eq!((app.sel_identity, app.sel_endpoint), (0, 0));
        let s = frame(&mut app, 80, 24);
        assert!(s.contains("cols 1-"), "{s}");
        assert!(s.contains("/100"), "{s}");
    }

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
            app.layout = Layout::Transposed;
            frame(&mut app, w, h);
            app.pane = Pane::Detail;
            frame(&mut app, w, h);
            app.layout = Layout::ByIdentity;
        }
    }

    #[test]
    fn hang_wrap_keeps_the_value_column() {
        let th = Theme { color: false };
        let line = kv(th, "Fix", vec![Span::raw("word ".repeat(20))]);
        let lines = hang_wrap(line, 40);
        assert!(lines.len() > 2);
        for l in &lines {
            assert!(l.width() <= 40);
        }
        for l in &lines[1..] {
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            assert!(text.starts_with("          word"), "{text:?}");
        }
        let long = Line::from(format!("     sha256 {}", "ab".repeat(40)));
        for l in hang_wrap(long, 30) {
            assert!(l.width() <= 30);
        }
    }
}
