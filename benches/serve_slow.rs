//! `tlsaudit serve` under slow clients: `/metrics` scrape latency with no other client (the
//! baseline), then with 100 slowloris clients kept attached (each sends a partial request and a
//! header byte a second; the server drops it at its header-read timeout and it connects again),
//! in the same run, over the demo lab, the real binary. Target: p99 under 50 ms with them.
//!
//! `cargo bench --bench serve_slow`. Env: `BENCH_SCRAPES` (500 per phase, one every 20 ms, so
//! that the loaded phase spans two header-read timeouts), `BENCH_SLOW_CLIENTS` (100).

// Bench code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use tlsaudit_testkit::bench::{env_usize, get, percentile_ms, spawn_serve, wait_ready};
use tlsaudit_testkit::serve::SlowClients;

/// One scrape as Prometheus asks for it: (elapsed, status line).
fn scrape(addr: &str) -> (Duration, String) {
    let (t, body) = get(addr, "/metrics");
    (t, body.lines().next().unwrap_or_default().to_string())
}

/// `n` scrapes, one every 20 ms; the sorted latencies (every scrape must answer 200).
fn scrapes(addr: &str, n: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let (t, status) = scrape(addr);
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        times.push(t);
        std::thread::sleep(Duration::from_millis(20));
    }
    times.sort();
    times
}

/// Print a phase's figures; its p99 in ms.
fn summary(label: &str, times: &[Duration]) -> f64 {
    let p99 = percentile_ms(times, 99);
    println!(
        "{label}: {} scrapes: p50 {:.2} ms, p99 {p99:.2} ms, max {:.2} ms",
        times.len(),
        percentile_ms(times, 50),
        percentile_ms(times, 100),
    );
    p99
}

fn main() {
    let n = env_usize("BENCH_SCRAPES", 500);
    let clients = env_usize("BENCH_SLOW_CLIENTS", 100);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (lab, config) = rt.block_on(tlsaudit::demo::start()).unwrap();
    let s = spawn_serve(env!("CARGO_BIN_EXE_tlsaudit"), &config, "30s");
    wait_ready(&s.addr, Duration::from_secs(120));
    // The first scrape in a format encodes it; later ones hand out the round's bytes.
    scrape(&s.addr);
    println!("serve_slow bench: the demo lab, /metrics as OpenMetrics, one scrape every 20 ms");
    let baseline = summary("no other client", &scrapes(&s.addr, n));

    let slow = {
        let _in = rt.enter();
        SlowClients::start(&s.addr, clients)
    };
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    let loaded = scrapes(&s.addr, n);
    let spanned = started.elapsed();
    let label = format!("{clients} slow clients attached");
    let p99 = summary(&label, &loaded);
    println!(
        "  over {:.1} s, the slow clients opened {} connections (dropped at the header-read timeout, reconnected)",
        spanned.as_secs_f64(),
        slow.connections()
    );
    println!(
        "p99 with {clients} slow clients: {p99:.2} ms (baseline {baseline:.2} ms); target under 50 ms: {}",
        if p99 < 50.0 { "met" } else { "MISSED" }
    );
    {
        let _in = rt.enter();
        slow.stop();
    }
    drop(s);
    rt.block_on(lab.stop());
}
