//! The soak: audit rounds over the demo lab (15 endpoints x 8 identities, 120 probes a round)
//! while a fault injector reconfigures random lab endpoints every few milliseconds: resets,
//! stalls (a server that accepts and never answers), garbage, certificate swaps (re-issued,
//! expired, and files swapped on disk and re-read), and back to the planted spec. Then:
//! - no panic, and every probe of every round is classified (a record with a class);
//! - open file descriptors back to their count before the first round;
//! - resident memory flat over the second half (the growth is printed and bounded).
//!
//! `cargo test --test soak` runs a short version (1,200 probes). The documented long run:
//! `TLSAUDIT_SOAK_PROBES=10000 cargo test --release --test soak -- --nocapture`
//! (figures in docs/reliability.md). `TLSAUDIT_SOAK_SEED` replays a fault sequence.

// A test binary of its own: it counts every open descriptor of the process (`/proc/self/fd`)
// and watches the process's resident memory, which the parallel tests of a shared binary would
// move.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tlsaudit_engine::audit::{Auditor, EndpointId, IdentityId, Plan};
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_engine::pki::mint::Ca;
use tlsaudit_engine::probe::OutcomeClass;
use tlsaudit_lab::{Behavior, EndpointSpec, Lab, ServerCertKind};

/// A small deterministic generator (xorshift64*): a soak is replayable from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// Resident memory of this process in KiB (`VmRSS`).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Two server certificates of the lab's CA for 127.0.0.1, written as files the injector swaps.
fn swap_pairs(lab: &Lab, dir: &Path) -> [(PathBuf, PathBuf); 2] {
    let ca = Ca::load(&lab.pki().ca_cert, &lab.pki().ca_key).unwrap();
    [0, 1].map(|i| {
        let issued = ca
            .issue(
                "tikv",
                &["127.0.0.1".to_string(), "localhost".to_string()],
                true,
                30,
            )
            .unwrap();
        let cert = dir.join(format!("swap-{i}.crt"));
        let key = dir.join(format!("swap-{i}.pem"));
        std::fs::write(&cert, issued.cert_pem).unwrap();
        std::fs::write(&key, issued.key_pem).unwrap();
        (cert, key)
    })
}

/// One random fault (or a return to the planted spec) applied to a random endpoint.
fn inject(lab: &mut Lab, planted: &[EndpointSpec], files: &[(PathBuf, PathBuf); 2], rng: &mut Rng) {
    let base = planted[rng.below(planted.len())].clone();
    let tls = !matches!(
        base.behavior,
        Behavior::PlaintextHttp | Behavior::Silent | Behavior::Garbage | Behavior::Reset
    );
    let mut spec = base.clone();
    match rng.below(8) {
        0 => spec.behavior = Behavior::Reset,
        1 => spec.behavior = Behavior::Silent,
        2 => spec.behavior = Behavior::Garbage,
        3 if tls => spec = spec.with_server_cert(ServerCertKind::Reissued),
        4 if tls => spec = spec.with_server_cert(ServerCertKind::Expired),
        5 if tls => {
            // A certificate swapped on disk: the files' contents trade places, then the
            // endpoint re-reads them (as TiKV does when the file's mtime changes).
            let (a, b) = (&files[0], &files[1]);
            let tmp = a.0.with_extension("tmp");
            std::fs::rename(&a.0, &tmp).unwrap();
            std::fs::rename(&b.0, &a.0).unwrap();
            std::fs::rename(&tmp, &b.0).unwrap();
            let tmp = a.1.with_extension("tmpkey");
            std::fs::rename(&a.1, &tmp).unwrap();
            std::fs::rename(&b.1, &a.1).unwrap();
            std::fs::rename(&tmp, &b.1).unwrap();
            spec = spec.with_server_files(&a.0, &a.1);
        }
        _ => {}
    }
    lab.reconfigure(spec).unwrap();
}

/// What the rounds saw: probes classified, their classes, resident memory after each round.
type Seen = (usize, std::collections::BTreeMap<String, usize>, Vec<u64>);

/// Run `rounds` audit rounds; every cell of each must have a record and a verdict.
async fn run_rounds(auditor: Arc<Auditor>, rounds: usize, stop: Arc<AtomicBool>) -> Seen {
    let mut classified = 0usize;
    let mut classes = std::collections::BTreeMap::<String, usize>::new();
    let mut rss = Vec::new();
    for _ in 0..rounds {
        let snap = auditor.run_round(None).await;
        for i in 0..snap.identity_names.len() {
            for e in 0..snap.endpoint_names.len() {
                let cell = snap.cell(IdentityId(i), EndpointId(e));
                let rec = cell.record.as_ref().unwrap_or_else(|| {
                    panic!(
                        "round {}: {} -> {} has no record",
                        snap.round, snap.identity_names[i], snap.endpoint_names[e]
                    )
                });
                // Garbage is plaintext of no known protocol: counted apart from plain HTTP.
                let class = match rec.evidence.peer_protocol {
                    Some(p) if rec.outcome.class == OutcomeClass::Plaintext => {
                        format!("Plaintext({p})")
                    }
                    _ => format!("{:?}", rec.outcome.class),
                };
                *classes.entry(class).or_default() += 1;
                assert!(
                    cell.verdict.is_some(),
                    "unjudged cell in round {}",
                    snap.round
                );
                classified += 1;
            }
        }
        rss.push(rss_kib());
    }
    stop.store(true, Ordering::SeqCst);
    (classified, classes, rss)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_under_injected_faults() {
    let probes: usize = std::env::var("TLSAUDIT_SOAK_PROBES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_200);
    let seed: u64 = std::env::var("TLSAUDIT_SOAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    let (mut lab, inv_path) = tlsaudit::demo::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = swap_pairs(&lab, dir.path());
    let planted: Vec<EndpointSpec> = lab
        .endpoints()
        .iter()
        .map(|e| lab.spec(&e.name).unwrap().clone())
        .collect();

    let mut inv = Inventory::load(&inv_path).unwrap();
    // Short deadlines: a stalled server costs a probe half a second, not ten.
    let t = &mut inv.options.timeouts;
    t.connect = Duration::from_millis(500);
    t.handshake = Duration::from_millis(500);
    t.check = Duration::from_millis(500);
    t.total = Duration::from_millis(1500);
    let plan = Plan::new(inv).unwrap();
    let cells = plan.cell_count();
    let auditor = Arc::new(Auditor::new(plan));
    let rounds = probes.div_ceil(cells);

    let fds_start = open_fds();
    let stop = Arc::new(AtomicBool::new(false));
    let runner = tokio::spawn(run_rounds(auditor.clone(), rounds, stop.clone()));

    let mut rng = Rng(seed);
    let mut faults = 0usize;
    let began = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        inject(&mut lab, &planted, &files, &mut rng);
        faults += 1;
        tokio::time::sleep(Duration::from_millis(5 + rng.below(40) as u64)).await;
        if runner.is_finished() {
            break;
        }
    }
    let (classified, classes, rss) = runner.await.unwrap();
    let elapsed = began.elapsed();
    for spec in &planted {
        lab.reconfigure(spec.clone()).unwrap();
    }
    drop(auditor);

    // Every socket the probes opened is closed: the count returns to where it started (a
    // server-side connection may take a moment to finish its close).
    let (within, every) = (Duration::from_secs(5), Duration::from_millis(50));
    let fds_end = tlsaudit_testkit::poll_async(within, every, || {
        let n = open_fds();
        async move {
            if n > fds_start {
                Err(n)
            } else {
                Ok(n)
            }
        }
    });
    let fds_end = fds_end.await.unwrap_or_else(|n| n);
    let half = rss.len() / 2;
    let mid = rss[half.saturating_sub(1)];
    let peak_late = rss[half..].iter().copied().max().unwrap_or(mid);
    println!(
        "soak: seed {seed}, {classified} probes in {rounds} rounds ({cells} cells) in {:.1} s, \
         {faults} faults injected; fds {fds_start} -> {fds_end}; RSS KiB start {} mid {mid} \
         end {} peak of the second half {peak_late}",
        elapsed.as_secs_f64(),
        rss.first().copied().unwrap_or(0),
        rss.last().copied().unwrap_or(0),
    );
    println!("soak: outcome classes {classes:?}");
    assert_eq!(classified, rounds * cells, "every probe classified");
    // The faults reached the probes: resets, stalls and garbage each showed as their class.
    for class in ["Reset", "Timeout", "Plaintext(unknown)"] {
        assert!(
            classes.get(class).copied().unwrap_or(0) > 0,
            "no {class} outcome in {classes:?} (seed {seed})"
        );
    }
    assert!(faults >= rounds, "the injector ran ({faults} faults)");
    assert!(
        fds_end <= fds_start,
        "file descriptors leaked: {fds_start} before, {fds_end} after (seed {seed})"
    );
    // Flat: the second half grows by less than 16 MiB over its first sample (allocator noise
    // and the records of one round, not a per-probe leak).
    assert!(
        peak_late <= mid + 16 * 1024,
        "memory grew over the second half: {mid} KiB -> {peak_late} KiB (seed {seed})"
    );
    lab.stop().await;
}
