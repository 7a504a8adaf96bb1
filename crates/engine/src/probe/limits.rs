//! The host's limits on probing: open files. A probe holds one socket at a time, so the
//! concurrency an audit may use is bounded by the open-file limit; beyond it every connect
//! fails with EMFILE, which would say nothing about the endpoints.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

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

#[cfg(test)]
mod tests {
    use super::*;

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
