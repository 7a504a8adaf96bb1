//! The dashboard's memory of earlier rounds, bounded: the verdicts of the last `rounds` rounds
//! (one byte per cell each), the round in which each cell's verdict last changed, and a log of
//! the last [`LOG_CAP`] verdict changes for the changes view. Memory does not grow with the
//! number of rounds.

use std::collections::VecDeque;
use std::sync::Arc;

use tlsaudit_engine::audit::{Snapshot, Verdict};

/// Rounds kept by default.
pub const DEFAULT_ROUNDS: usize = 20;
/// Changes kept in the log (oldest dropped first).
pub const LOG_CAP: usize = 5_000;

/// One verdict change of one cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellChange {
    /// The round that observed the new verdict (0: the baseline).
    pub round: u64,
    /// When that round finished (RFC 3339), shared by the changes of a round.
    pub at: Option<Arc<str>>,
    /// `cells` index: `identity * endpoints + endpoint`.
    pub cell: usize,
    pub before: Option<Verdict>,
    pub after: Option<Verdict>,
}

#[derive(Debug, Clone)]
struct Round {
    round: u64,
    verdicts: Vec<u8>,
}

/// Verdict history of every cell.
#[derive(Debug, Clone)]
pub struct History {
    cap: usize,
    rounds: VecDeque<Round>,
    /// Per cell: the round of its last change and when that round finished.
    last_change: Vec<Option<(u64, Arc<str>)>>,
    log: VecDeque<CellChange>,
    /// Whether a baseline seeded the first comparison.
    pub baseline: bool,
}

fn code(v: Option<Verdict>) -> u8 {
    v.map_or(0, |v| {
        u8::try_from(Verdict::ALL.iter().position(|x| *x == v).unwrap_or(0) + 1).unwrap_or(0)
    })
}

fn verdict(c: u8) -> Option<Verdict> {
    (c > 0)
        .then(|| Verdict::ALL.get(usize::from(c) - 1).copied())
        .flatten()
}

impl History {
    /// Keep the last `rounds` rounds (at least one).
    pub fn new(rounds: usize) -> History {
        History {
            cap: rounds.max(1),
            rounds: VecDeque::new(),
            last_change: Vec::new(),
            log: VecDeque::new(),
            baseline: false,
        }
    }

    /// Start from a baseline's verdicts (same cell order as the snapshots): the first round is
    /// compared with it, so the changes view lists what changed since the baseline.
    pub fn seed(&mut self, verdicts: &[Option<Verdict>]) {
        self.rounds.clear();
        self.rounds.push_back(Round {
            round: 0,
            verdicts: verdicts.iter().map(|v| code(*v)).collect(),
        });
        self.baseline = true;
    }

    /// Take a snapshot: a finished round not seen yet is recorded and compared with the
    /// previous one; anything else is ignored.
    pub fn record(&mut self, snap: &Snapshot) {
        if snap.running || snap.finished_at.is_none() || snap.round == 0 {
            return;
        }
        if self
            .rounds
            .back()
            .is_some_and(|r| r.round >= snap.round && r.round != 0)
        {
            return;
        }
        let now: Vec<u8> = snap.cells.iter().map(|c| code(c.verdict)).collect();
        if self.last_change.len() != now.len() {
            self.last_change = vec![None; now.len()];
        }
        let at: Option<Arc<str>> = snap.finished_at.as_deref().map(Arc::from);
        if let Some(prev) = self.rounds.back().filter(|p| p.verdicts.len() == now.len()) {
            // A cell the baseline lacks (an identity or endpoint added since) has no verdict to
            // change from: the identity set's change is one line of the changes view, not one
            // per cell.
            let from_baseline = prev.round == 0;
            for (cell, (&b, &a)) in prev.verdicts.iter().zip(&now).enumerate() {
                if a != b && a != 0 && !(from_baseline && b == 0) {
                    if self.log.len() >= LOG_CAP {
                        self.log.pop_front();
                    }
                    self.log.push_back(CellChange {
                        round: snap.round,
                        at: at.clone(),
                        cell,
                        before: verdict(b),
                        after: verdict(a),
                    });
                    self.last_change[cell] =
                        Some((snap.round, at.clone().unwrap_or_else(|| Arc::from(""))));
                }
            }
        }
        // Reuse the oldest round's buffer once full: no allocation per round.
        let mut slot = if self.rounds.len() >= self.cap {
            self.rounds
                .pop_front()
                .map(|r| r.verdicts)
                .unwrap_or_default()
        } else {
            Vec::with_capacity(now.len())
        };
        slot.clear();
        slot.extend_from_slice(&now);
        self.rounds.push_back(Round {
            round: snap.round,
            verdicts: slot,
        });
    }

    /// Rounds kept (a seeded baseline counts as one).
    pub fn len(&self) -> usize {
        self.rounds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rounds.is_empty()
    }

    /// The cell's verdicts in the kept rounds, oldest first, with their round numbers.
    pub fn cell(&self, cell: usize) -> Vec<(u64, Option<Verdict>)> {
        self.rounds
            .iter()
            .filter_map(|r| r.verdicts.get(cell).map(|c| (r.round, verdict(*c))))
            .collect()
    }

    /// When the cell's verdict last changed: the round and its finishing time.
    pub fn last_change(&self, cell: usize) -> Option<(u64, &str)> {
        self.last_change
            .get(cell)
            .and_then(|c| c.as_ref())
            .map(|(r, t)| (*r, t.as_ref()))
    }

    /// Every logged change, newest first.
    pub fn changes(&self) -> impl Iterator<Item = &CellChange> {
        self.log.iter().rev()
    }

    pub fn changes_len(&self) -> usize {
        self.log.len()
    }

    /// Heap bytes held (from capacities): what the memory test watches.
    pub fn heap_bytes(&self) -> usize {
        let rounds: usize = self
            .rounds
            .iter()
            .map(|r| r.verdicts.capacity() + std::mem::size_of::<Round>())
            .sum();
        rounds
            + self.last_change.capacity() * std::mem::size_of::<Option<(u64, Arc<str>)>>()
            + self.log.capacity() * std::mem::size_of::<CellChange>()
    }
}

/// A baseline report's verdicts in the catalog's cell order (`None` where the report has no such
/// cell), for [`History::seed`].
pub fn baseline_verdicts(
    doc: &tlsaudit_report::Report,
    catalog: &super::Catalog,
) -> Vec<Option<Verdict>> {
    let by_name: std::collections::HashMap<(&str, &str), Option<Verdict>> = doc
        .cells
        .iter()
        .map(|c| ((c.identity.as_str(), c.endpoint.as_str()), c.verdict))
        .collect();
    catalog
        .identities
        .iter()
        .flat_map(|i| {
            catalog.endpoints.iter().map(|e| {
                by_name
                    .get(&(i.name.as_str(), e.name.as_str()))
                    .copied()
                    .flatten()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tlsaudit_engine::audit::CellState;

    fn snap(round: u64, verdicts: &[Verdict]) -> Snapshot {
        Snapshot {
            cluster: "t".into(),
            round,
            running: false,
            total: verdicts.len(),
            done: verdicts.len(),
            started_at: None,
            finished_at: Some(format!("2026-01-01T00:00:{:02}Z", round % 60)),
            identity_names: vec!["a".into()],
            endpoint_names: (0..verdicts.len()).map(|k| format!("e{k}")).collect(),
            cells: tlsaudit_engine::audit::Matrix::from_fn(1, verdicts.len(), |_, e| CellState {
                record: None,
                verdict: Some(verdicts[e.0]),
                changed: false,
                rotated: false,
            }),
            findings: Vec::new(),
            drift: Vec::new(),
            scans: Vec::new(),
        }
    }

    #[test]
    fn records_changes_and_keeps_the_last_rounds() {
        use Verdict::*;
        let mut h = History::new(3);
        h.record(&snap(1, &[Secure, Enforced]));
        assert_eq!(
            h.changes_len(),
            0,
            "nothing to compare the first round with"
        );
        h.record(&snap(2, &[Secure, Open]));
        h.record(&snap(2, &[Secure, Enforced]));
        assert_eq!(h.changes_len(), 1, "a round is recorded once");
        h.record(&snap(3, &[Blocked, Open]));
        h.record(&snap(4, &[Blocked, Enforced]));
        assert_eq!(h.len(), 3);
        assert_eq!(
            h.cell(1),
            [(2, Some(Open)), (3, Some(Open)), (4, Some(Enforced))]
        );
        assert_eq!(h.last_change(1).map(|c| c.0), Some(4));
        assert_eq!(h.last_change(0).map(|c| c.0), Some(3));
        let newest: Vec<(u64, usize)> = h.changes().map(|c| (c.round, c.cell)).collect();
        assert_eq!(newest, [(4, 1), (3, 0), (2, 1)]);
        let mut running = snap(5, &[Secure, Secure]);
        running.running = true;
        h.record(&running);
        assert_eq!(h.changes_len(), 3, "a round in flight is not recorded");
    }

    #[test]
    fn a_baseline_seeds_the_first_comparison() {
        use Verdict::*;
        let mut h = History::new(5);
        h.seed(&[Some(Secure), Some(Enforced)]);
        h.record(&snap(1, &[Secure, Open]));
        let c: Vec<_> = h.changes().collect();
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].before, c[0].after), (Some(Enforced), Some(Open)));
    }
}
