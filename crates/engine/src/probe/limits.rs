//! The limits on probing: the host's open files (a probe holds one socket at a time, so the
//! concurrency an audit may use is bounded by the open-file limit; beyond it every connect
//! fails with EMFILE, which would say nothing about the endpoints), and the [`Gate`] every
//! connection of a round passes: the global and per-host concurrency and the `--rate` pace,
//! shared by the probes and the hygiene scans so that `--rate` and `per_host` bound both.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The largest `concurrency` / `per_host` accepted from a config or a flag.
pub const MAX_CONCURRENCY: usize = 4096;

/// Descriptors kept free for the runtime, the resolver, reports and the terminal.
const RESERVED_FDS: u64 = 64;

static NOTE: Mutex<Option<String>> = Mutex::new(None);
static NOTED: AtomicBool = AtomicBool::new(false);

/// Raise the soft RLIMIT_NOFILE to the hard limit (once, at start). Returns the soft limit
/// then in force, when the platform has one.
pub fn raise_nofile() -> Option<u64> {
    let (_, hard) = rlimit::Resource::NOFILE.get().ok()?;
    rlimit::increase_nofile_limit(hard).ok()
}

/// The current soft open-file limit, if the platform has one.
fn soft_nofile() -> Option<u64> {
    rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft)
}

/// The concurrency to use for `requested`: at most [`MAX_CONCURRENCY`], and at most what the
/// open-file limit allows. When capped by the limit, a note is kept for [`take_note`].
pub fn cap(requested: usize) -> usize {
    let requested = requested.clamp(1, MAX_CONCURRENCY);
    let Some(soft) = soft_nofile() else {
        return requested;
    };
    let allowed = usize::try_from(soft.saturating_sub(RESERVED_FDS).max(1)).unwrap_or(usize::MAX);
    if requested <= allowed {
        return requested;
    }
    let mut note = NOTE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if note.is_none() {
        *note = Some(format!(
            "concurrency capped at {allowed} (asked for {requested}): the open-file limit is {soft} even after raising it to the hard limit; raise `ulimit -n` for more"
        ));
    }
    allowed
}

/// The note of a cap, the first time it is asked for (say it once).
pub fn take_note() -> Option<String> {
    if NOTED.swap(true, Ordering::Relaxed) {
        return None;
    }
    NOTE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .or_else(|| {
            NOTED.store(false, Ordering::Relaxed);
            None
        })
}

/// Spaces connection starts evenly: at most `rate` per second across a round.
#[derive(Debug)]
pub struct Pacer {
    gap: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pacer {
    pub fn new(rate: u32) -> Pacer {
        Pacer {
            gap: Duration::from_secs(1) / rate.max(1),
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Wait for this start's time (the lock is held while waiting, so starts queue up).
    pub async fn wait(&self) {
        let mut next = self.next.lock().await;
        let now = tokio::time::Instant::now();
        let at = (*next).max(now);
        tokio::time::sleep_until(at).await;
        *next = at + self.gap;
    }
}

/// What one connection waits for before it starts: a slot at its host, a global slot, and
/// its turn in the pace. Cheap to clone; every clone shares the same limits.
#[derive(Debug, Clone)]
pub struct Gate {
    pub global: Arc<Semaphore>,
    pub host: Option<Arc<Semaphore>>,
    pub pacer: Option<Arc<Pacer>>,
}

/// The slots a connection holds while it runs (released when dropped).
#[derive(Debug)]
pub struct Pass {
    _host: Option<OwnedSemaphorePermit>,
    _global: OwnedSemaphorePermit,
}

impl Gate {
    /// A gate of `n` slots and no host limit nor pace.
    pub fn of(n: usize) -> Gate {
        Gate {
            global: Arc::new(Semaphore::new(n.max(1))),
            host: None,
            pacer: None,
        }
    }

    /// Wait for the host's slot, then a global one, then the pace; `None` if a semaphore was
    /// closed (never, in practice).
    pub async fn pass(&self) -> Option<Pass> {
        let host = match &self.host {
            Some(h) => Some(h.clone().acquire_owned().await.ok()?),
            None => None,
        };
        let global = self.global.clone().acquire_owned().await.ok()?;
        if let Some(p) = &self.pacer {
            p.wait().await;
        }
        Some(Pass {
            _host: host,
            _global: global,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_gate_holds_its_slots_and_keeps_the_pace() {
        let gate = Gate {
            pacer: Some(Arc::new(Pacer::new(10))),
            host: Some(Arc::new(Semaphore::new(1))),
            ..Gate::of(4)
        };
        let start = tokio::time::Instant::now();
        let first = gate.pass().await.unwrap();
        assert_eq!(gate.global.available_permits(), 3);
        assert_eq!(gate.host.as_ref().unwrap().available_permits(), 0);
        drop(first);
        let _second = gate.pass().await.unwrap();
        assert!(
            start.elapsed() >= Duration::from_millis(90),
            "10 per second"
        );
    }

    #[test]
    fn huge_values_are_capped_not_panicking() {
        let n = cap(usize::MAX);
        assert!((1..=MAX_CONCURRENCY).contains(&n));
        assert_eq!(cap(0), 1);
        let sem = tokio::sync::Semaphore::new(n);
        assert_eq!(sem.available_permits(), n);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let Ok((_, hard)) = rlimit::Resource::NOFILE.get() else {
            return;
        };
        let soft = raise_nofile();
        assert_eq!(soft.map(|s| s.min(hard)), soft);
        assert!(soft.is_some());
    }
}
