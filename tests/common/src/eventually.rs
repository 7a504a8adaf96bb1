//! Waiting in tests for something that happens on its own time (a server listening, a round
//! finished, a socket closed): a check polled at an interval under a deadline.
//!
//! [`eventually`] (on a thread) and [`eventually_async`] (in a task) panic at the deadline with
//! what was awaited and the last miss the check reported; [`poll`] and [`poll_async`] return
//! that miss instead, for a caller that tries again (another port) or asserts on it itself.
//! A check returns `Ok` with what it waited for, or `Err` with what it saw instead; it may also
//! return `Ok` early with a value saying that waiting is pointless (a process that exited).

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

/// Calls `check` until it returns `Ok`, sleeping `every` between calls, for at most `within`;
/// at the deadline, the last `Err`. `check` runs at least once.
pub fn poll<T, E>(
    within: Duration,
    every: Duration,
    mut check: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let deadline = Instant::now() + within;
    loop {
        let miss = match check() {
            Ok(v) => return Ok(v),
            Err(miss) => miss,
        };
        if Instant::now() >= deadline {
            return Err(miss);
        }
        std::thread::sleep(every);
    }
}

/// [`poll`] in a task: sleeps with tokio between calls, so the runtime's other tasks (a lab,
/// a server under test) keep running.
pub async fn poll_async<T, E, F>(
    within: Duration,
    every: Duration,
    mut check: impl FnMut() -> F,
) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + within;
    loop {
        let miss = match check().await {
            Ok(v) => return Ok(v),
            Err(miss) => miss,
        };
        if Instant::now() >= deadline {
            return Err(miss);
        }
        tokio::time::sleep(every).await;
    }
}

/// [`poll`], or a panic naming `what` was awaited and the last miss.
pub fn eventually<T, E: Display>(
    what: &str,
    within: Duration,
    every: Duration,
    check: impl FnMut() -> Result<T, E>,
) -> T {
    poll(within, every, check).unwrap_or_else(|miss| timed_out(what, within, &miss))
}

/// [`poll_async`], or a panic naming `what` was awaited and the last miss.
pub async fn eventually_async<T, E: Display, F>(
    what: &str,
    within: Duration,
    every: Duration,
    check: impl FnMut() -> F,
) -> T
where
    F: Future<Output = Result<T, E>>,
{
    poll_async(within, every, check)
        .await
        .unwrap_or_else(|miss| timed_out(what, within, &miss))
}

fn timed_out(what: &str, within: Duration, miss: &dyn Display) -> ! {
    panic!("timed out after {within:?} waiting for {what}; last seen: {miss}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn returns_the_first_success_and_the_last_miss_at_the_deadline() {
        let mut n = 0;
        assert_eq!(
            poll(Duration::from_secs(10), MS, || {
                n += 1;
                if n == 3 {
                    Ok(n)
                } else {
                    Err(n)
                }
            }),
            Ok(3)
        );
        let mut n = 0;
        let r: Result<(), i32> = poll(Duration::from_millis(30), MS, || {
            n += 1;
            Err(n)
        });
        assert!(
            matches!(r, Err(last) if last == n && n > 1),
            "{r:?} after {n} calls"
        );
    }

    #[test]
    #[should_panic(expected = "waiting for the answer; last seen: 41")]
    fn names_what_it_waited_for() {
        eventually("the answer", Duration::from_millis(10), MS, || {
            Err::<(), _>(41)
        });
    }

    #[tokio::test]
    async fn waits_in_a_task() {
        let mut n = 0;
        let got = eventually_async("three calls", Duration::from_secs(10), MS, || {
            n += 1;
            let n = n;
            async move {
                if n == 3 {
                    Ok(n)
                } else {
                    Err(n)
                }
            }
        })
        .await;
        assert_eq!(got, 3);
    }
}
