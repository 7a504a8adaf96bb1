//! A large audit (200 endpoints x 6 identities on loopback), next to, in the same run:
//! - a bare tokio-rustls connect+handshake loop over the same 1200 (endpoint, identity) pairs at
//!   the same concurrency (the ceiling),
//! - the same bare loop followed by the least application exchange that shows a CN check made
//!   inside the application (a gRPC health call, or an HTTP GET): the audit's floor without its
//!   instruments and records,
//! - the same matrix probed one handshake at a time with `openssl s_client` (what users fall
//!   back on today),
//! - and the peak memory of the real CLI (`tlsaudit report --config`) auditing it.
//!
//! `cargo bench --bench audit`. Env: `BENCH_ENDPOINTS` (default 200), `BENCH_OPENSSL_CELLS`
//! (default: all; a smaller number samples the openssl loop and extrapolates), `BENCH_PER_HOST`
//! (the audit's per-host limit; default the inventory default, 16: every lab endpoint is on
//! 127.0.0.1, so this caps the audit's concurrency while the bare loop runs 64), `BENCH_PAIRS`
//! (default 7: turns of audit, bare and exchange rounds), `BENCH_ONLY` (`audit`, `bare` or
//! `exchange`: that loop alone, `BENCH_PAIRS` rounds after the warm-up, for a profiler).

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::Resumption;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tlsaudit_engine::audit::{Auditor, Plan};
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_engine::pki::{provider, Trust};
use tlsaudit_testkit::bench::env_usize;

/// Peak resident set (VmHWM) of a child, polled until it exits.
fn run_cli_measuring(args: &[&std::ffi::OsStr]) -> (Duration, u64, i32) {
    let bin = env!("CARGO_BIN_EXE_tlsaudit");
    let t = Instant::now();
    let mut child = std::process::Command::new(bin)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn tlsaudit");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            if let Some(v) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak_kb = peak_kb.max(v);
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            return (t.elapsed(), peak_kb, status.code().unwrap_or(-1));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// One client config per identity (and one without a certificate), as a bare loop would build.
fn bare_configs(inv: &Inventory, trust: &Trust) -> Vec<Arc<ClientConfig>> {
    let mut configs = Vec::new();
    for id in &inv.identities {
        let chain =
            tlsaudit_engine::pki::load::load_certs(&id.cert, tlsaudit_engine::pki::CertRole::Leaf)
                .expect("cert");
        let key = tlsaudit_engine::pki::load::load_key(&id.key).expect("key");
        let mut c = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(trust.roots.clone())
            .with_client_auth_cert(chain, key)
            .expect("client cert");
        c.resumption = Resumption::disabled();
        c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        configs.push(Arc::new(c));
    }
    let mut anon = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(trust.roots.clone())
        .with_no_client_auth();
    anon.resumption = Resumption::disabled();
    configs.push(Arc::new(anon));
    configs
}

/// Every (endpoint, client config) pair the bare loop handshakes, identity by identity.
fn bare_pairs(
    inv: &Inventory,
    addrs: &[std::net::SocketAddr],
) -> Arc<Vec<(std::net::SocketAddr, Arc<ClientConfig>)>> {
    let trust = Trust::load(&inv.ca).expect("ca");
    let configs = bare_configs(inv, &trust);
    Arc::new(
        configs
            .iter()
            .flat_map(|c| addrs.iter().map(move |a| (*a, c.clone())))
            .collect(),
    )
}

/// A round's probe durations: p50, p99, max, and the endpoint and phases of the slowest.
fn slowest_probes(snap: &tlsaudit_engine::audit::Snapshot) -> String {
    let mut recs: Vec<_> = snap.cells.iter().filter_map(|c| c.record.clone()).collect();
    recs.sort_by(|a, b| a.timings.total_ms.total_cmp(&b.timings.total_ms));
    let at = |p: f64| {
        recs[((recs.len() - 1) as f64 * p) as usize]
            .timings
            .total_ms
    };
    let worst = recs.last().map(|r| {
        format!(
            "{} as {} ({:?}, {:?})",
            r.target.address, r.identity.name, r.timings, r.outcome.class
        )
    });
    let mut by_id: std::collections::BTreeMap<String, (f64, f64, usize)> = Default::default();
    for r in &recs {
        let e = by_id.entry(r.identity.name.clone()).or_default();
        e.0 += r.timings.total_ms;
        e.1 += r.timings.check_ms.unwrap_or(0.0);
        e.2 += 1;
    }
    let by_id: Vec<String> = by_id
        .iter()
        .map(|(k, (t, c, n))| format!("{k} {:.1}/{:.1}", t / *n as f64, c / *n as f64))
        .collect();
    format!(
        "mean total/check ms by identity: {}; probe total p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms: {}",
        by_id.join(", "),
        at(0.5),
        at(0.99),
        at(1.0),
        worst.unwrap_or_default()
    )
}

/// CPU seconds this process has used (user + system, /proc/self/stat), 0 where unknown.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the ')'.
    (ticks(11) + ticks(12)) / 100.0
}

/// Bare tokio-rustls handshakes over every pair, `concurrency` at a time: handshakes per second.
/// With `exchange`, each handshake is followed by the least application exchange that shows a
/// CN check made inside the application: a gRPC health call where the server chose `h2`, an
/// HTTP GET otherwise (what the audit must do, without its instruments and records).
async fn bare_round(
    pairs: &Arc<Vec<(std::net::SocketAddr, Arc<ClientConfig>)>>,
    concurrency: usize,
    exchange: bool,
) -> f64 {
    let t = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (pairs, next) = (pairs.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((addr, cfg)) = pairs.get(i) else {
                    break;
                };
                let Ok(tcp) = tokio::net::TcpStream::connect(addr).await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let name = ServerName::try_from("127.0.0.1").expect("name");
                let tls = tokio_rustls::TlsConnector::from(cfg.clone())
                    .connect(name, tcp)
                    .await;
                if let (true, Ok(tls)) = (exchange, tls) {
                    let _ = tokio::time::timeout(Duration::from_secs(2), bare_exchange(tls)).await;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    pairs.len() as f64 / t.elapsed().as_secs_f64()
}

/// The application exchange of [`bare_round`]: a gRPC health call over h2, or an HTTP GET.
async fn bare_exchange(tls: tokio_rustls::client::TlsStream<tokio::net::TcpStream>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
        let io = tokio::io::BufWriter::new(tls);
        let Ok((client, conn)) = h2::client::handshake(io).await else {
            return;
        };
        let Ok(mut client) = client.ready().await else {
            return;
        };
        let req = http::Request::post("https://127.0.0.1/grpc.health.v1.Health/Check")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap();
        let Ok((response, mut body)) = client.send_request(req, false) else {
            return;
        };
        let _ = body.send_data(bytes::Bytes::from_static(&[0, 0, 0, 0, 0]), true);
        let call = async {
            let (_, mut body) = response.await?.into_parts();
            while let Some(chunk) = body.data().await {
                let _ = body.flow_control().release_capacity(chunk?.len());
            }
            body.trailers().await.map(|_| ())
        };
        tokio::select! {
            _ = call => {}
            _ = conn => {}
        }
    } else {
        let mut tls = tls;
        let req = b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        if tls.write_all(req).await.is_ok() {
            let mut buf = [0u8; 2048];
            while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {}
        }
    }
}

/// `openssl s_client`, one handshake at a time, as a person would script it: (runs, per second).
fn openssl_loop(
    ca: &std::path::Path,
    ids: &[(Option<std::path::PathBuf>, Option<std::path::PathBuf>)],
    addrs: &[std::net::SocketAddr],
    sample: usize,
) -> (usize, f64) {
    let t = Instant::now();
    let mut done = 0usize;
    'outer: for (cert, key) in ids {
        for addr in addrs {
            if done >= sample {
                break 'outer;
            }
            let mut cmd = std::process::Command::new("openssl");
            cmd.args([
                "s_client",
                "-connect",
                &addr.to_string(),
                "-brief",
                "-CAfile",
            ])
            .arg(ca);
            if let (Some(c), Some(k)) = (cert, key) {
                cmd.arg("-cert").arg(c).arg("-key").arg(k);
            }
            let _ = cmd
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
            done += 1;
        }
    }
    (done, done as f64 / t.elapsed().as_secs_f64())
}

/// One loop alone, `BENCH_PAIRS` rounds: its rate and CPU per probe (for a profiler or strace).
async fn run_alone(
    only: &str,
    auditor: &Auditor,
    pairs: &Arc<Vec<(std::net::SocketAddr, Arc<ClientConfig>)>>,
    concurrency: usize,
) {
    let (t, c) = (Instant::now(), cpu_seconds());
    let rounds = env_usize("BENCH_PAIRS", 7);
    for _ in 0..rounds {
        if only == "bare" || only == "exchange" {
            bare_round(pairs, concurrency, only == "exchange").await;
        } else {
            auditor.run_round(None).await;
        }
    }
    let n = (rounds * pairs.len()) as f64;
    println!(
        "{only} alone: {:.0} per second, CPU per probe {:.0} us",
        n / t.elapsed().as_secs_f64(),
        (cpu_seconds() - c) / n * 1e6
    );
}

/// Audit, bare handshake and bare exchange rounds in turn, `BENCH_PAIRS` times, so that all
/// three see the same machine (a load that comes and goes moves the figures of one turn alike):
/// the rates of the audit and the bare handshakes, and the audit / bare ratio of each turn.
/// Prints the CPU per probe of each loop and the audit / bare exchange ratio.
async fn measure_rounds(
    auditor: &Auditor,
    pairs: &Arc<Vec<(std::net::SocketAddr, Arc<ClientConfig>)>>,
    concurrency: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let cells = pairs.len();
    let (mut audit_rates, mut bare_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut exchange_ratios = Vec::new();
    // CPU per probe of each loop (both sides: the lab's servers are in this process).
    let (mut audit_cpu, mut bare_cpu, mut exchange_cpu) = (0.0, 0.0, 0.0);
    let mut last_round = None;
    for _ in 0..env_usize("BENCH_PAIRS", 7) {
        let (t, c) = (Instant::now(), cpu_seconds());
        let snap = auditor.run_round(None).await;
        let el = t.elapsed();
        audit_cpu += cpu_seconds() - c;
        assert_eq!(snap.done, cells);
        last_round = Some(snap);
        let a = cells as f64 / el.as_secs_f64();
        let c = cpu_seconds();
        let b = bare_round(pairs, concurrency, false).await;
        bare_cpu += cpu_seconds() - c;
        let c = cpu_seconds();
        let x = bare_round(pairs, concurrency, true).await;
        exchange_cpu += cpu_seconds() - c;
        audit_rates.push(a);
        bare_rates.push(b);
        ratios.push(a / b);
        exchange_ratios.push(a / x);
    }
    if let Some(snap) = &last_round {
        println!("last audit round: {}", slowest_probes(snap));
    }
    let n = (ratios.len() * cells) as f64;
    println!(
        "CPU per probe, both sides: audit {:.0} us, bare handshake {:.0} us (ratio {:.3}), bare exchange {:.0} us (ratio {:.3})",
        audit_cpu / n * 1e6,
        bare_cpu / n * 1e6,
        bare_cpu / audit_cpu,
        exchange_cpu / n * 1e6,
        exchange_cpu / audit_cpu
    );
    println!("audit / bare, turn by turn: {}", join(&ratios));
    println!(
        "audit / bare exchange, turn by turn: {}",
        join(&exchange_ratios)
    );
    exchange_ratios.sort_by(f64::total_cmp);
    println!(
        "audit / bare exchange: {:.3} (median of the turns)",
        exchange_ratios[exchange_ratios.len() / 2]
    );
    (audit_rates, bare_rates, ratios)
}

fn join(v: &[f64]) -> String {
    v.iter()
        .map(|r| format!("{r:.3}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let n = env_usize("BENCH_ENDPOINTS", 200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let (lab, config) = tlsaudit::demo::start_spec(tlsaudit_testkit::bench::fleet_spec(n)).await.expect("lab");
        let mut inv = Inventory::load(&config).expect("inventory");
        // 5 configured identities (tidb, tikv, pd, tiflash, client) + anonymous = 6.
        inv.options.foreign = false;
        inv.options.unlisted = false;
        if let Some(p) = std::env::var("BENCH_PER_HOST").ok().and_then(|v| v.parse().ok()) {
            inv.options.per_host = p;
        }
        // The same for the CLI run.
        let cli_config = config.with_file_name("bench.toml");
        let text = std::fs::read_to_string(&config).expect("read");
        let text = text.replacen("[cluster]", "[probe]\nforeign = false\nunlisted = false\n\n[cluster]", 1);
        std::fs::write(&cli_config, text).expect("write");

        let concurrency = inv.options.concurrency;
        let plan = Plan::new(inv.clone()).expect("plan");
        let cells = plan.cell_count();
        println!("audit: {} endpoints x {} identities = {cells} cells, concurrency {concurrency}", n, plan.identities.len());
        let addrs: Vec<std::net::SocketAddr> = lab.endpoints().iter().map(|e| e.addr).collect();
        let pairs = bare_pairs(&inv, &addrs);

        // A warm-up of each, then audit and bare rounds alternated, so that both see the same
        // machine (a load that comes and goes moves both figures of a pair alike); the ratio is
        // the median of the pairs' ratios.
        let auditor = Auditor::new(plan);
        auditor.run_round(None).await;
        bare_round(&pairs, concurrency, false).await;
        // `BENCH_ONLY=audit` (or `bare`) runs that loop alone, for a profiler or strace.
        if let Ok(only) = std::env::var("BENCH_ONLY") {
            run_alone(&only, &auditor, &pairs, concurrency).await;
            lab.stop().await;
            return;
        }
        let (audit_rates, bare_rates, ratios) = measure_rounds(&auditor, &pairs, concurrency).await;

        // openssl s_client, one handshake at a time, as a person would script it.
        let sample = env_usize("BENCH_OPENSSL_CELLS", pairs.len()).min(pairs.len());
        let ids: Vec<(Option<std::path::PathBuf>, Option<std::path::PathBuf>)> = inv
            .identities
            .iter()
            .map(|i| (Some(i.cert.clone()), Some(i.key.clone())))
            .chain(std::iter::once((None, None)))
            .collect();
        let (done, openssl_rate) = openssl_loop(&inv.ca, &ids, &addrs, sample);

        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (a, b, ratio) = (median(audit_rates), median(bare_rates), median(ratios));
        println!("audit engine : {a:>8.0} cells/s ({:.2} s per round)", cells as f64 / a);
        println!("bare rustls  : {b:>8.0} handshakes/s");
        println!("openssl loop : {openssl_rate:>8.1} handshakes/s ({done} run, {:.1} s for the full matrix)", cells as f64 / openssl_rate);
        println!("audit / bare rustls : {ratio:.3} (median of the pairs; target >= 0.9)");
        println!("audit / openssl     : {:.1}x (target >= 20x)", a / openssl_rate);

        let (wall, peak_kb, code) = run_cli_measuring(&[
            std::ffi::OsStr::new("report"),
            std::ffi::OsStr::new("--format"),
            std::ffi::OsStr::new("json"),
            std::ffi::OsStr::new("--config"),
            cli_config.as_os_str(),
        ]);
        println!(
            "tlsaudit report (CLI, JSON to /dev/null): {:.2} s, peak RSS {:.1} MB, exit {code} (target < 100 MB)",
            wall.as_secs_f64(),
            peak_kb as f64 / 1024.0
        );
        let (wall, peak_kb, code) = run_cli_measuring(&[
            std::ffi::OsStr::new("report"),
            std::ffi::OsStr::new("--no-scan"),
            std::ffi::OsStr::new("--format"),
            std::ffi::OsStr::new("json"),
            std::ffi::OsStr::new("--config"),
            cli_config.as_os_str(),
        ]);
        println!(
            "tlsaudit report --no-scan (the same): {:.2} s, peak RSS {:.1} MB, exit {code}",
            wall.as_secs_f64(),
            peak_kb as f64 / 1024.0
        );
        lab.stop().await;
    });
}
