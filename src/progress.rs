//! Progress of a `report` round on stderr (indicatif): probes done of total, the rate, and the
//! endpoints still pending when the round slows down. Drawn from the audit's snapshots (the
//! watch channel), so the engine knows nothing of terminals. Only when stderr is a terminal and
//! `--quiet` is not given.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tlsaudit_engine::audit::{Auditor, EndpointId, Snapshot};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// No probe finished for this long: the bar names the endpoints still pending.
const SLOW: Duration = Duration::from_secs(2);
/// Pending endpoints named at most.
const MAX_NAMED: usize = 4;

/// A running progress bar; [`Progress::finish`] clears it.
pub struct Progress {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Progress {
    /// Start drawing the auditor's next round, when stderr is a terminal and not `quiet`.
    pub fn start(auditor: &Auditor, quiet: bool) -> Option<Progress> {
        if quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        let rx = auditor.subscribe();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(draw(rx, stopped));
        Some(Progress { stop, task })
    }

    /// Clear the bar (the report follows on stdout).
    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn draw(mut rx: watch::Receiver<Arc<Snapshot>>, mut stopped: oneshot::Receiver<()>) {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {pos}/{len} probes  {per_sec:.dim}  {elapsed}  {wide_msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut last_done = 0;
    let mut last_change = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            changed = rx.changed() => if changed.is_err() { break },
            _ = tick.tick() => {}
        }
        let snap = rx.borrow().clone();
        bar.set_length(snap.total as u64);
        bar.set_position(snap.done as u64);
        if snap.done != last_done {
            last_done = snap.done;
            last_change = Instant::now();
        }
        if snap.running && last_change.elapsed() >= SLOW {
            bar.set_message(pending_line(&pending(&snap), MAX_NAMED));
        } else {
            bar.set_message("");
        }
    }
    bar.finish_and_clear();
}

/// The endpoints of the round with a probe still out (a cell without a record), in order.
pub fn pending(snap: &Snapshot) -> Vec<&str> {
    snap.endpoint_names
        .iter()
        .enumerate()
        .filter(|(e, _)| {
            (0..snap.identity_names.len()).any(|i| {
                snap.cell(tlsaudit_engine::audit::IdentityId(i), EndpointId(*e))
                    .record
                    .is_none()
            })
        })
        .map(|(_, n)| n.as_str())
        .collect()
}

/// "waiting for pd-1, tikv-2 (+3 more)": at most `max` names, each made inert (a name comes
/// from the inventory or a topology, and this line is drawn on the terminal).
pub fn pending_line(names: &[&str], max: usize) -> String {
    if names.is_empty() {
        return String::new();
    }
    let shown = names.len().min(max.max(1));
    let inert: Vec<String> = names[..shown]
        .iter()
        .map(|n| tlsaudit_report::sanitize::inert_owned(n))
        .collect();
    let mut s = format!("waiting for {}", inert.join(", "));
    if names.len() > shown {
        s.push_str(&format!(" (+{} more)", names.len() - shown));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_line_names_a_few_and_counts_the_rest() {
        assert_eq!(pending_line(&[], 4), "");
        assert_eq!(pending_line(&["pd-1"], 4), "waiting for pd-1");
        assert_eq!(
            pending_line(&["pd-1", "tikv-1", "tikv-2"], 2),
            "waiting for pd-1, tikv-1 (+1 more)"
        );
        assert_eq!(
            pending_line(&["a", "b", "c", "d", "e", "f"], 4),
            "waiting for a, b, c, d (+2 more)"
        );
        assert_eq!(pending_line(&["a", "b"], 0), "waiting for a (+1 more)");
    }

    #[test]
    fn pending_names_reach_the_terminal_inert() {
        let line = pending_line(&["pd\x1b]2;PWNED\x07-1", "tikv\u{202e}1"], 4);
        assert_eq!(line, "waiting for pd\\x1b]2;PWNED\\x07-1, tikv\\u{202e}1");
    }
}
