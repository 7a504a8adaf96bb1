//! The terminal dashboard: a live matrix of every identity against every endpoint.
//!
//! - [`app`]: the state machine ([`App`]): selection, scrolling, filters, keys -> [`Action`].
//! - [`ui`]: one frame from an [`App`] ([`draw`]), for any ratatui backend.
//! - here: [`run`] (terminal setup and restore) and [`run_loop`], generic over the backend so
//!   tests drive it with `TestBackend`; [`dashboard`], what `tui` and `demo` open (with the
//!   `e` export and a baseline).
//!
//! The engine publishes owned snapshots on a watch channel; the loop waits on keys, new
//! snapshots, finished rounds and a half-second tick with `tokio::select!`, and draws from the
//! latest `Arc<Snapshot>` without holding any lock. Rounds run in spawned tasks.

pub mod app;
pub mod history;
pub mod saved;
pub mod ui;

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use futures_core::Stream;
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::Terminal;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

pub use app::{
    Action, App, Catalog, Column, Columns, EndpointInfo, Grid, GroupBy, IdentityInfo, Layout,
    Modal, Pane, Row, View,
};
use tlsaudit_engine::audit::{Auditor, CellId, Snapshot};
use tlsaudit_engine::error::InputError;
pub use ui::draw;

/// Writes the JSON report of a snapshot and returns where.
pub type ExportFn = Box<dyn Fn(&Snapshot) -> Result<PathBuf, String> + Send + Sync>;

/// The JSON report of `snap` as `tlsaudit-report-<stamp>.json` in `dir`, written atomically
/// and never over an existing file (or symlink): a taken name gets `-2`, `-3`... The path
/// written.
pub fn export_json(
    plan: &tlsaudit_engine::audit::Plan,
    snap: &Snapshot,
    dir: &std::path::Path,
    stamp: i64,
) -> Result<PathBuf, String> {
    let report = tlsaudit_report::Report::build(plan, snap);
    let json = tlsaudit_report::render(
        &report,
        tlsaudit_report::Format::Json,
        &tlsaudit_report::Options::default(),
    )
    .map_err(|e| e.to_string())?;
    tlsaudit_engine::fsutil::write_new_numbered(
        dir,
        &format!("tlsaudit-report-{stamp}"),
        "json",
        json.as_bytes(),
    )
    .map_err(|e| e.to_string())
}

/// The dashboard's `e`: [`export_json`] into the current directory, stamped with the time.
pub fn json_export(auditor: Arc<Auditor>) -> ExportFn {
    Box::new(move |snap: &Snapshot| {
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
        export_json(&auditor.plan(), snap, std::path::Path::new(""), stamp)
    })
}

/// Open the live dashboard over `auditor` until `q` or Ctrl-C, a round every `interval`, the
/// changes since the report `baseline` when given; `e` writes the JSON report into the current
/// directory.
pub async fn dashboard(
    auditor: Arc<Auditor>,
    interval: Duration,
    baseline: Option<&std::path::Path>,
) -> Result<(), InputError> {
    let baseline = match baseline {
        Some(path) => {
            let report = tlsaudit_report::Report::load(path)?;
            Some(Baseline {
                verdicts: history::baseline_verdicts(&report, &Catalog::from_plan(&auditor.plan())),
                report: Arc::new(report),
                file: path.display().to_string(),
            })
        }
        None => None,
    };
    if std::env::var_os("TERM").is_some_and(|t| t == "dumb") {
        return Err(InputError::usage(
            "TERM=dumb: this terminal cannot draw the dashboard",
            "use `tlsaudit report` (or pipe the output: `tlsaudit demo | cat`), or set TERM to the terminal's type",
        ));
    }
    let opts = TuiOptions {
        interval,
        export: Some(json_export(auditor.clone())),
        baseline,
        ..Default::default()
    };
    run(auditor, opts).await.map_err(|e| {
        InputError::usage(
            format!("the terminal failed: {e}"),
            "run it in a terminal, or pipe the output for a report",
        )
    })
}

/// How the dashboard runs.
pub struct TuiOptions {
    /// Period of the automatic re-probe rounds (counted from the end of the previous round).
    pub interval: Duration,
    /// Colours on; `false` when `NO_COLOR` is set (see [`color_from_env`]).
    pub color: bool,
    /// The `e` key: write the JSON report.
    pub export: Option<ExportFn>,
    /// A baseline report: the changes view then lists what changed since it, as `report
    /// --baseline` does.
    pub baseline: Option<Baseline>,
}

/// A baseline report (`tui --baseline`): its verdicts in cell order
/// ([`history::baseline_verdicts`]), which seed the history, and the report itself, which each
/// finished round is compared with by the report's own diff (`report --baseline`'s): the
/// rotations and the identity and endpoint changes since it.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub verdicts: Vec<Option<tlsaudit_engine::audit::Verdict>>,
    pub report: Arc<tlsaudit_report::Report>,
    pub file: String,
}

impl Baseline {
    /// What changed between the baseline and the round of `snap`.
    pub fn diff(
        &self,
        plan: &tlsaudit_engine::audit::Plan,
        snap: &Snapshot,
    ) -> tlsaudit_report::diff::Diff {
        let now = tlsaudit_report::Report::build(plan, snap);
        tlsaudit_report::diff::diff(&self.report, &now, (&self.file, "this round"))
    }
}

impl Default for TuiOptions {
    fn default() -> Self {
        TuiOptions {
            interval: Duration::from_secs(10),
            color: color_from_env(),
            export: None,
            baseline: None,
        }
    }
}

impl std::fmt::Debug for TuiOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TuiOptions")
            .field("interval", &self.interval)
            .field("color", &self.color)
            .field("export", &self.export.as_ref().map(|_| "fn"))
            .finish()
    }
}

pub use crate::cli::output::color_from_env;

/// Whether the terminal is in raw mode / alternate screen on our behalf.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

fn restore_terminal() -> io::Result<()> {
    let raw = terminal::disable_raw_mode();
    execute!(io::stdout(), LeaveAlternateScreen, cursor::Show)?;
    raw
}

/// Restores the terminal on the panic path, then runs the previous hook (which prints the
/// message, now readable on the normal screen).
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ACTIVE.swap(false, Ordering::SeqCst) {
                let _ = restore_terminal();
            }
            previous(info);
        }));
    });
}

/// Raw mode + alternate screen for its lifetime: dropped on return, on error and while
/// unwinding.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        terminal::enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let guard = TerminalGuard;
        execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)?;
        Ok(guard)
    }

    fn restore(self) -> io::Result<()> {
        let r = if ACTIVE.swap(false, Ordering::SeqCst) {
            restore_terminal()
        } else {
            Ok(())
        };
        std::mem::forget(self);
        r
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if ACTIVE.swap(false, Ordering::SeqCst) {
            let _ = restore_terminal();
        }
    }
}

/// Run the dashboard on the terminal until `q` or Ctrl-C. Starts a round at once if none has
/// run yet, then one every `opts.interval`. SIGINT, SIGTERM, SIGHUP and SIGQUIT restore the
/// terminal and exit with the conventional code (128 + the signal's number).
pub async fn run(auditor: Arc<Auditor>, opts: TuiOptions) -> io::Result<()> {
    let guard = TerminalGuard::enter()?;
    let body = async {
        let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        terminal.clear()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(forward_events(tx));
        let mut app = App::new(
            Catalog::from_plan(&auditor.plan()),
            auditor.snapshot(),
            opts.color,
        );
        if let Some(b) = &opts.baseline {
            app.history.seed(&b.verdicts);
        }
        let result = run_loop(&mut terminal, &mut app, auditor, rx, &opts).await;
        reader.abort();
        result
    };
    let outcome = tokio::select! {
        result = body => Ok(result),
        signo = termination_signal() => Err(signo),
    };
    let restored = guard.restore();
    match outcome {
        Ok(result) => result.and(restored),
        Err(signo) => std::process::exit(128 + signo),
    }
}

/// The first of SIGINT, SIGTERM, SIGHUP and SIGQUIT to arrive, by number (never, for those
/// that cannot be listened to).
async fn termination_signal() -> i32 {
    use tokio::signal::unix::{signal, Signal, SignalKind};
    async fn recv(s: &mut Option<Signal>) {
        match s {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    let mut quit = signal(SignalKind::quit()).ok();
    tokio::select! {
        () = recv(&mut int) => 2,
        () = recv(&mut term) => 15,
        () = recv(&mut hup) => 1,
        () = recv(&mut quit) => 3,
    }
}

/// Forward terminal events to the loop; ends (closing the channel, which quits) when the
/// terminal's input ends or fails.
async fn forward_events(tx: mpsc::UnboundedSender<Event>) {
    let mut stream = EventStream::new();
    loop {
        match std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
            Some(Ok(ev)) => {
                if tx.send(ev).is_err() {
                    break;
                }
            }
            Some(Err(e)) => {
                tracing::warn!("terminal input failed: {e}");
                break;
            }
            None => break,
        }
    }
}

/// At most one round in flight; a request meanwhile is queued (merged with any queued one).
struct Rounds {
    auditor: Arc<Auditor>,
    in_flight: Option<JoinHandle<()>>,
    queued: Option<Option<Vec<CellId>>>,
    done: mpsc::UnboundedSender<()>,
}

impl Rounds {
    fn busy(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Start a round now, or queue it; returns whether it was queued.
    fn request(&mut self, only: Option<Vec<CellId>>) -> bool {
        if self.busy() {
            self.queued = Some(match (self.queued.take(), only) {
                (Some(Some(mut a)), Some(b)) => {
                    a.extend(b);
                    a.sort_unstable();
                    a.dedup();
                    Some(a)
                }
                (None, Some(b)) => Some(b),
                _ => None,
            });
            return true;
        }
        let (auditor, done) = (self.auditor.clone(), self.done.clone());
        self.in_flight = Some(tokio::spawn(async move {
            auditor.run_round(only).await;
            let _ = done.send(());
        }));
        false
    }

    /// The round in flight ended; start the queued one. Returns whether one started.
    fn finished(&mut self) -> bool {
        self.in_flight = None;
        match self.queued.take() {
            Some(only) => {
                self.request(only);
                true
            }
            None => false,
        }
    }

    fn abort(&mut self) {
        if let Some(h) = self.in_flight.take() {
            h.abort();
        }
    }
}

fn export(app: &mut App, opts: &TuiOptions) {
    app.status = Some(match &opts.export {
        None => "export is not available in this mode".to_string(),
        Some(write) => match write(&app.snapshot) {
            Ok(path) => format!("JSON report written to {}", path.display()),
            Err(e) => format!("export failed: {e}"),
        },
    });
}

fn secs_until(t: Instant) -> u64 {
    let d = t.saturating_duration_since(Instant::now());
    u64::try_from(d.as_millis().div_ceil(1000)).unwrap_or(u64::MAX)
}

/// The main loop on any backend: draws, then waits for a key, a new snapshot, the end of a
/// round or the tick. Returns on `q`/Ctrl-C or when `events` closes.
pub async fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    auditor: Arc<Auditor>,
    mut events: mpsc::UnboundedReceiver<Event>,
    opts: &TuiOptions,
) -> io::Result<()> {
    let mut snapshots = auditor.subscribe();
    app.set_snapshot(snapshots.borrow_and_update().clone());
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let mut rounds = Rounds {
        auditor,
        in_flight: None,
        queued: None,
        done: done_tx,
    };
    let mut next_round = Instant::now() + opts.interval;
    if app.snapshot.round == 0 {
        rounds.request(None);
    }
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut watching = true;
    let result = loop {
        app.next_refresh_secs = (!rounds.busy()).then(|| secs_until(next_round));
        if let Err(e) = terminal.draw(|f| draw(f, app)) {
            break Err(io::Error::other(e.to_string()));
        }
        tokio::select! {
            ev = events.recv() => {
                let Some(ev) = ev else { break Ok(()) };
                if let Event::Key(key) = ev {
                    match app.handle_key(key) {
                        Action::Quit => break Ok(()),
                        Action::Reprobe(only) => {
                            if rounds.request(only) {
                                app.status = Some("queued: a round is in flight".into());
                            }
                        }
                        Action::Export => export(app, opts),
                        Action::None => {}
                    }
                }
            }
            changed = snapshots.changed(), if watching => match changed {
                Ok(()) => {
                    let snap = snapshots.borrow_and_update().clone();
                    app.set_snapshot(snap);
                }
                Err(_) => watching = false,
            },
            Some(()) = done_rx.recv() => {
                next_round = Instant::now() + opts.interval;
                if let Some(b) = &opts.baseline {
                    let snap = rounds.auditor.snapshot();
                    app.baseline_diff = Some(b.diff(&rounds.auditor.plan(), &snap));
                }
                if rounds.finished() {
                    app.status = Some("running the queued re-probe".into());
                }
            }
            _ = tick.tick() => {
                if !app.paused && !rounds.busy() && Instant::now() >= next_round {
                    rounds.request(None);
                }
            }
        }
    };
    rounds.abort();
    result
}
