//! `tlsaudit serve` under load: 200 lab endpoints x 10 identities (2,000 cells), the real binary.
//!
//! - Phase A: `--interval 10s`; `/metrics` scraped 10 times a second for `BENCH_SCRAPE_SECONDS`
//!   (default 30): scrape time p50, p99, max.
//! - Phase B: rounds back to back (`--interval 1ms`, so a round is always running) until
//!   `BENCH_ROUNDS` (default 1000) rounds have completed: scrape time again (every scrape lands
//!   while a round runs), and the exporter's resident memory (VmRSS) every 50 rounds.
//!
//! `cargo bench --bench serve`. Env: `BENCH_ENDPOINTS` (200), `BENCH_IDENTITIES` (10: the lab's
//! five, anonymous, foreign, unlisted, and copies of the lab's certificates under other names).

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::process::Child;
use std::time::{Duration, Instant};

use tlsaudit_testkit::bench::{env_usize, get, percentile_ms, spawn_serve, wait_ready};

fn rounds(addr: &str) -> u64 {
    let (_, body) = get(addr, "/metrics");
    body.lines()
        .find(|l| l.starts_with("tlsaudit_rounds_total{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn rss_mb(child: &Child) -> f64 {
    status_mb(child, "VmRSS:")
}

/// A memory line of the child's /proc status (VmRSS, VmHWM: the peak resident set), in MB.
fn status_mb(child: &Child, key: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Scrape `/metrics` every 100 ms until `until` says stop; print p50/p99/max.
fn scrape_loop(label: &str, addr: &str, mut until: impl FnMut(usize) -> bool) {
    let mut times = Vec::new();
    let mut size = 0;
    while !until(times.len()) {
        let (t, body) = get(addr, "/metrics");
        size = body.len();
        times.push(t);
        std::thread::sleep(Duration::from_millis(100));
    }
    times.sort();
    println!(
        "{label}: {} scrapes of {:.1} MB: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        times.len(),
        size as f64 / 1e6,
        percentile_ms(&times, 50),
        percentile_ms(&times, 99),
        percentile_ms(&times, 100)
    );
}

fn main() {
    let endpoints = env_usize("BENCH_ENDPOINTS", 200);
    let identities = env_usize("BENCH_IDENTITIES", 10);
    let scrape_seconds = env_usize("BENCH_SCRAPE_SECONDS", 30) as u64;
    let target_rounds = env_usize("BENCH_ROUNDS", 1000) as u64;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (lab, config) = rt
        .block_on(tlsaudit::demo::start_spec(
            tlsaudit_testkit::bench::fleet_spec(endpoints),
        ))
        .unwrap();
    // The lab's five identities and anonymous, foreign, unlisted: 8; copies up to `identities`.
    let mut text = std::fs::read_to_string(&config).unwrap();
    let pki = lab.pki();
    for n in 8..identities {
        let f = &pki.identities["tidb"];
        text.push_str(&format!(
            "\n[identities.tidb-copy-{n}]\ncert = {:?}\nkey = {:?}\n",
            f.cert.display().to_string(),
            f.key.display().to_string()
        ));
    }
    let config = config.with_file_name("bench-serve.toml");
    std::fs::write(&config, text).unwrap();
    println!("serve bench: {endpoints} endpoints x {identities} identities");

    let s = spawn_serve(env!("CARGO_BIN_EXE_tlsaudit"), &config, "10s");
    let t = Instant::now();
    wait_ready(&s.addr, Duration::from_secs(300));
    println!("first round done after {:.2} s", t.elapsed().as_secs_f64());
    let deadline = Instant::now() + Duration::from_secs(scrape_seconds);
    scrape_loop("phase A, --interval 10s", &s.addr, |_| {
        Instant::now() >= deadline
    });
    println!(
        "phase A: RSS {:.1} MB, peak (VmHWM) {:.1} MB",
        rss_mb(&s.child),
        status_mb(&s.child, "VmHWM:")
    );
    drop(s);

    let s = spawn_serve(env!("CARGO_BIN_EXE_tlsaudit"), &config, "1ms");
    wait_ready(&s.addr, Duration::from_secs(300));
    let started = Instant::now();
    let mut next = 50;
    let mut last = 0;
    // RSS at every scrape (10 a second), as (min, max) per window of 100 rounds.
    let mut windows: Vec<(f64, f64)> = Vec::new();
    scrape_loop("phase B, rounds back to back", &s.addr, |n| {
        let rss = rss_mb(&s.child);
        let w = (last / 100) as usize;
        if windows.len() <= w {
            windows.resize(w + 1, (f64::MAX, 0.0));
        }
        windows[w] = (windows[w].0.min(rss), windows[w].1.max(rss));
        if n % 10 == 0 {
            last = rounds(&s.addr);
            if last >= next {
                println!(
                    "  after {last} rounds ({:.0} s): RSS {rss:.1} MB",
                    started.elapsed().as_secs_f64(),
                );
                next = (last / 50 + 1) * 50;
            }
        }
        last >= target_rounds
    });
    println!(
        "phase B: {last} rounds in {:.0} s ({:.2} s per round); RSS {:.1} MB, peak (VmHWM) {:.1} MB",
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() / last.max(1) as f64,
        rss_mb(&s.child),
        status_mb(&s.child, "VmHWM:")
    );
    for (w, (lo, hi)) in windows.iter().enumerate() {
        if *hi > 0.0 {
            println!(
                "  rounds {:>4} to {:>4}: RSS {lo:.1} to {hi:.1} MB",
                w * 100,
                w * 100 + 99
            );
        }
    }
    drop(s);
    rt.block_on(lab.stop());
}
