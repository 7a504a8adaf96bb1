//! The TLS hygiene scan against sslyze on the same endpoints, measured in the same run: three
//! nginx servers (TLS 1.0-1.2 with `ALL:@SECLEVEL=0`, TLS 1.3 only, TLS 1.2 AEAD only) and
//! `openssl s_server -tls1 -cipher ALL:@SECLEVEL=0`, started here on loopback.
//!
//! `cargo bench --bench scan` (needs nginx, openssl and sslyze: `$SSLYZE_BIN` or `sslyze` on the
//! PATH; skips with a note without them; env `BENCH_SCAN_ROUNDS`, default 3). Prints, per
//! endpoint, the scan's time (best of the rounds) and connections, sslyze's time for the same
//! endpoint (one process each, as a user runs it), and the ratio; then both over all endpoints.
//!
//! First, needing nothing installed: the scan's cost inside a full audit. The real binary's
//! `report --config` on the demo lab (15 endpoints, 7 identities), then on a lab fleet of
//! `BENCH_ENDPOINTS` endpoints (default 200; 0 skips it), with the scan and with `--no-scan`,
//! alternated (`BENCH_REPORT_PAIRS`, default 9); the median wall time of each and the ratio
//! (target on the demo: at most 1.5).

// Bench code: helpers may unwrap.
#![allow(clippy::unwrap_used)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tlsaudit_engine::scan::{scan, ScanLimits, ScanSpec};
use tlsaudit_testkit::bench::{env_usize, fleet_spec};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `$<NAME>_BIN` or `name` on the PATH.
fn tool(name: &str) -> Option<PathBuf> {
    let env = format!("{}_BIN", name.to_ascii_uppercase());
    std::env::var_os(env).map(PathBuf::from).or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait(port: u16) {
    let end = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < end, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn nginx(bin: &Path, dir: &Path, name: &str, protocols: &str, ciphers: &str) -> (Server, u16) {
    let root = dir.join(name);
    let port = free_port();
    let ciphers = if ciphers.is_empty() {
        String::new()
    } else {
        format!("ssl_ciphers \"{ciphers}\";")
    };
    let t = dir.display();
    let server = format!(
        "  server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {t}/cert.pem; ssl_certificate_key {t}/key.pem; ssl_protocols {protocols}; {ciphers} }}\n"
    );
    let child = tlsaudit_testkit::nginx::spawn(
        bin,
        &root,
        &tlsaudit_testkit::nginx::config(&root, &server, false),
    );
    wait(port);
    (Server(child), port)
}

fn s_server(openssl: &Path, dir: &Path) -> (Server, u16) {
    let port = free_port();
    let child = Command::new(openssl)
        .args(["s_server", "-accept", &format!("127.0.0.1:{port}")])
        .arg("-cert")
        .arg(dir.join("cert.pem"))
        .arg("-key")
        .arg(dir.join("key.pem"))
        .args(["-www", "-quiet", "-tls1", "-cipher", "ALL:@SECLEVEL=0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait(port);
    (Server(child), port)
}

fn sslyze(bin: &Path, dir: &Path, addresses: &[String]) -> Duration {
    let started = Instant::now();
    let ok = Command::new(bin)
        .args(["--quiet", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3"])
        .arg(format!("--json_out={}", dir.join("sslyze.json").display()))
        .args(addresses)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "sslyze failed");
    started.elapsed()
}

/// The best of `rounds` scans of `address`: (time, connections).
fn ours(rt: &tokio::runtime::Runtime, address: &str, rounds: usize) -> (Duration, usize) {
    let spec = ScanSpec::new(address);
    let limits = ScanLimits::default();
    (0..rounds.max(1))
        .map(|_| {
            let started = Instant::now();
            let r = rt.block_on(scan(&spec, &limits));
            assert!(r.failure.is_none() && r.complete, "{r:#?}");
            (started.elapsed(), r.connections)
        })
        .min()
        .unwrap()
}

/// Wall time of one `tlsaudit report` run with `extra` arguments (its output discarded).
fn report_once(config: &Path, extra: &[&str]) -> Duration {
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_tlsaudit"))
        .args(["report", "--format", "json", "--config"])
        .arg(config)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    // 0, or 1 for the demo's planted findings; never an input error.
    assert!(status.code().is_some_and(|c| c <= 1), "{status}");
    started.elapsed()
}

/// The scan's cost in a full report of `spec`'s lab (`name` says which): the medians with and
/// without it.
fn report_overhead(name: &str, spec: tlsaudit_lab::LabSpec) {
    let pairs = env_usize("BENCH_REPORT_PAIRS", 9);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (lab, config) = rt.block_on(tlsaudit::demo::start_spec(spec)).unwrap();
    report_once(&config, &[]);
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..pairs.max(1) {
        with.push(report_once(&config, &[]));
        without.push(report_once(&config, &["--no-scan"]));
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (w, wo) = (median(with), median(without));
    println!(
        "report on {name} (median of {pairs}): with the scan {:.0} ms, --no-scan {:.0} ms, ratio {:.2}",
        w.as_secs_f64() * 1e3,
        wo.as_secs_f64() * 1e3,
        w.as_secs_f64() / wo.as_secs_f64()
    );
    rt.block_on(lab.stop());
}

fn main() {
    report_overhead("the demo (15 endpoints)", tlsaudit::demo::spec());
    let fleet = env_usize("BENCH_ENDPOINTS", 200);
    if fleet > 0 {
        report_overhead(&format!("a fleet of {fleet} endpoints"), fleet_spec(fleet));
    }
    let (Some(nginx_bin), Some(openssl), Some(sslyze_bin)) =
        (tool("nginx"), tool("openssl"), tool("sslyze"))
    else {
        eprintln!("note: the scan bench needs nginx, openssl and sslyze ($SSLYZE_BIN); skipped");
        return;
    };
    let rounds = std::env::var("BENCH_SCAN_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ok = Command::new(&openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let servers = [
        (
            "nginx TLS 1.0-1.2 ALL",
            nginx(
                &nginx_bin,
                dir,
                "legacy",
                "TLSv1 TLSv1.1 TLSv1.2",
                "ALL:@SECLEVEL=0",
            ),
        ),
        (
            "nginx TLS 1.3 only",
            nginx(&nginx_bin, dir, "tls13", "TLSv1.3", ""),
        ),
        (
            "nginx TLS 1.2 AEAD",
            nginx(
                &nginx_bin,
                dir,
                "aead",
                "TLSv1.2",
                "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305",
            ),
        ),
        ("openssl -tls1 ALL", s_server(&openssl, dir)),
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (mut ours_all, mut theirs_all) = (Duration::ZERO, Duration::ZERO);
    println!(
        "{:<24} {:>10} {:>6} {:>10} {:>7}",
        "endpoint", "tlsaudit", "conns", "sslyze", "ratio"
    );
    for (name, (_, port)) in &servers {
        let address = format!("127.0.0.1:{port}");
        let (t, conns) = ours(&rt, &address, rounds);
        let s = sslyze(&sslyze_bin, dir, std::slice::from_ref(&address));
        ours_all += t;
        theirs_all += s;
        println!(
            "{name:<24} {:>8.1}ms {conns:>6} {:>8.0}ms {:>6.0}x",
            t.as_secs_f64() * 1e3,
            s.as_secs_f64() * 1e3,
            s.as_secs_f64() / t.as_secs_f64()
        );
    }
    println!(
        "{:<24} {:>8.1}ms {:>6} {:>8.0}ms {:>6.0}x",
        "all, one after another",
        ours_all.as_secs_f64() * 1e3,
        "",
        theirs_all.as_secs_f64() * 1e3,
        theirs_all.as_secs_f64() / ours_all.as_secs_f64()
    );
}
