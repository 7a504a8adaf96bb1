//! `tlsaudit serve` against hostile HTTP clients, with real sockets on loopback: clients that
//! never finish their request headers (slowloris) are dropped after the header-read timeout while
//! `/metrics` keeps answering; SIGTERM with such clients and with stuck readers of
//! `/report.json` attached exits within the shutdown deadline; beyond the connection cap a new
//! connection is closed at once. The figures are printed (`--nocapture`) and kept in
//! docs/reliability.md; the assertions are generous bounds, not the targets.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use tlsaudit_testkit::eventually_async;
use tlsaudit_testkit::serve::{get, serve, Proc, Serve, SlowClients};

/// serve's header-read timeout, shutdown deadline and write-stall timeout (src/serve/http.rs).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);
const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A client that sends the start of a request and never the rest of its headers.
async fn slow_client(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ").as_bytes())
        .await
        .unwrap();
    s
}

/// Whether the server closed `s` within `within` (end of stream or a reset).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut sink = Vec::new();
    tokio::time::timeout(within, s.read_to_end(&mut sink))
        .await
        .is_ok()
}

/// A client that asks for `/report.json` many times over one connection and reads nothing: the
/// server's writes fill the socket buffers and its response stays in flight.
async fn stuck_reader(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let one = format!("GET /report.json HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    s.write_all(one.repeat(300).as_bytes()).await.unwrap();
    s
}

async fn wait_ready(s: &Serve) {
    let (within, every) = (Duration::from_secs(60), Duration::from_millis(200));
    eventually_async("/-/ready to answer 200", within, every, || async {
        let (status, _, _) = get(&s.addr, "/-/ready", None).await;
        if status == 200 {
            Ok(())
        } else {
            Err(status)
        }
    })
    .await;
}

/// Whether `/-/healthy` answers 200 (a refused or closed connection is a miss, not a panic).
async fn healthy(addr: &str) -> Result<(), String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let req = format!("GET /-/healthy HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
    let raw = String::from_utf8_lossy(&raw);
    if raw.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(raw.into_owned())
    }
}

/// The nearest-rank percentile `p` (0-100) of `samples`.
fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    samples.sort();
    let rank = (samples.len() * p).div_ceil(100).max(1);
    samples[rank - 1]
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_are_dropped_while_metrics_answer() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let s = serve(&["--config", config.to_str().unwrap(), "--interval", "30s"]);
    wait_ready(&s).await;

    let attached = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..100 {
        slow.push(slow_client(&s.addr).await);
    }
    let mut scrapes = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let (status, _, body) = get(&s.addr, "/metrics", None).await;
        scrapes.push(t.elapsed());
        assert_eq!(status, 200);
        assert!(body.contains("tlsaudit_link_verdict{"));
    }
    assert!(
        attached.elapsed() < HEADER_READ_TIMEOUT,
        "the scrapes ran while the slow clients were attached"
    );
    let p50 = percentile(&mut scrapes, 50);
    let p99 = percentile(&mut scrapes, 99);
    eprintln!("/metrics with 100 slow clients attached: p50 {p50:?}, p99 {p99:?} (50 scrapes)");
    assert!(p99 < Duration::from_secs(1), "p99 {p99:?}");

    // Every slow client is dropped once the header-read timeout has passed.
    let limit = HEADER_READ_TIMEOUT + Duration::from_secs(5);
    for c in &mut slow {
        let left = limit.saturating_sub(attached.elapsed());
        assert!(
            closed_within(c, left).await,
            "a slow client still held after {limit:?}"
        );
    }
    let dropped = attached.elapsed();
    eprintln!("100 slow clients all dropped {dropped:?} after connecting");
    assert!(
        dropped >= HEADER_READ_TIMEOUT - Duration::from_millis(500),
        "{dropped:?}"
    );
    let (status, _, _) = get(&s.addr, "/-/healthy", None).await;
    assert_eq!(status, 200);
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_with_slow_clients_attached_exits_within_the_deadline() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let mut s = serve(&["--config", config.to_str().unwrap(), "--interval", "30s"]);
    wait_ready(&s).await;
    let mut held = Vec::new();
    for _ in 0..100 {
        held.push(slow_client(&s.addr).await);
    }
    for _ in 0..5 {
        held.push(stuck_reader(&s.addr).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let signalled = Instant::now();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &s.proc.0.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let (within, every) = (Duration::from_secs(20), Duration::from_millis(20));
    let code = eventually_async("serve to exit after SIGTERM", within, every, || {
        let exited = s.proc.0.try_wait().unwrap();
        async move { exited.map(|st| st.code()).ok_or("still running") }
    })
    .await;
    let took = signalled.elapsed();
    eprintln!("SIGTERM with 100 slow clients and 5 stuck readers attached: exit after {took:?}");
    assert_eq!(code, Some(0));
    assert!(
        took < SHUTDOWN_DEADLINE + Duration::from_secs(3),
        "{took:?}"
    );
    // The stuck readers were in flight: the deadline, not an early close, ended them.
    assert!(
        took >= SHUTDOWN_DEADLINE - Duration::from_millis(500),
        "{took:?}"
    );
    std::net::TcpListener::bind(&s.addr).unwrap();
    drop(held);
    lab.stop().await;
}

/// `tlsaudit serve` under an open-file limit of `nofile` (soft and hard), and the connection
/// cap it prints.
fn serve_under_limit(config: &str, nofile: u32) -> (Proc, String, usize) {
    let bin = tlsaudit_testkit::bin().get_program().to_owned();
    let mut child = std::process::Command::new("prlimit")
        .arg(format!("--nofile={nofile}:{nofile}"))
        .arg("--")
        .arg(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--config", config])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let proc = Proc(child);
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stderr), &mut first).unwrap();
    let addr = first.split("http://").nth(1).unwrap().split_whitespace();
    let addr = addr.into_iter().next().unwrap().to_string();
    let cap = first
        .split("at most ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no connection cap in {first:?}"));
    (proc, addr, cap)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_connection_cap_closes_the_excess_at_once() {
    if tlsaudit_testkit::require_tool("prlimit").is_none() {
        return;
    }
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let (_proc, addr, cap) = serve_under_limit(config.to_str().unwrap(), 120);
    assert!((8..=40).contains(&cap), "cap under a limit of 120: {cap}");
    let mut clients = Vec::new();
    for _ in 0..cap + 20 {
        clients.push(slow_client(&addr).await);
    }
    // Checked at once, before the header-read timeout drops the held ones.
    let mut checks = tokio::task::JoinSet::new();
    for mut c in clients {
        checks.spawn(async move { closed_within(&mut c, Duration::from_secs(1)).await });
    }
    let (mut held, mut closed) = (0, 0);
    while let Some(was_closed) = checks.join_next().await {
        if was_closed.unwrap() {
            closed += 1;
        } else {
            held += 1;
        }
    }
    eprintln!("open-file limit 120: cap {cap}, {held} held, {closed} closed at once");
    assert_eq!((held, closed), (cap, 20));
    // Once they are gone, new clients are served again.
    let (within, every) = (Duration::from_secs(10), Duration::from_millis(100));
    eventually_async("/-/healthy after the flood", within, every, || {
        healthy(&addr)
    })
    .await;
    lab.stop().await;
}

/// The resident set of process `pid`, from /proc (Linux).
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The demo inventory plus `n` endpoints at a port nothing listens on: a large report, fast.
/// The socket returned keeps the port refusing.
fn with_refused_endpoints(
    config: &std::path::Path,
    n: usize,
) -> (std::path::PathBuf, tokio::net::TcpSocket) {
    let (socket, refusing) = tlsaudit_testkit::refusing_addr();
    let mut text = std::fs::read_to_string(config).unwrap();
    for i in 0..n {
        text.push_str(&format!(
            "\n[[endpoints]]\nname = \"gone-{i}\"\ncomponent = \"tikv\"\nrole = \"grpc\"\naddress = \"{refusing}\"\nallowed_cn = [\"tidb\"]\n"
        ));
    }
    let path = config.with_file_name("large.toml");
    std::fs::write(&path, text).unwrap();
    (path, socket)
}

#[tokio::test(flavor = "multi_thread")]
async fn stuck_readers_share_one_body_and_are_dropped_when_they_stall() {
    let Some(_) = rss_bytes(std::process::id()) else {
        return;
    };
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let (config, _refusing) = with_refused_endpoints(&config, 600);
    let s = serve(&["--config", config.to_str().unwrap(), "--interval", "10m"]);
    wait_ready(&s).await;
    let (status, _, body) = get(&s.addr, "/report.json", None).await;
    assert_eq!(status, 200);
    let size = body.len() as u64;
    let pid = s.proc.0.id();
    let before = rss_bytes(pid).unwrap();
    let stuck = Instant::now();
    let mut readers = Vec::new();
    for _ in 0..25 {
        readers.push(stuck_reader(&s.addr).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_bytes(pid).unwrap();
    let grown = after.saturating_sub(before);
    let mb = |b: u64| b / (1 << 20);
    eprintln!(
        "25 stuck readers of a {} MB /report.json: RSS {} MB -> {} MB",
        mb(size),
        mb(before),
        mb(after)
    );
    // A copy per reader would add 25 x the body; one shared body adds buffers only.
    assert!(
        grown < 5 * size,
        "RSS grew by {grown} bytes for a {size}-byte body"
    );

    // The server's writes to them stall; past the stall timeout it drops them.
    let server_port: u16 = s.addr.rsplit(':').next().unwrap().parse().unwrap();
    let ports: Vec<u16> = readers
        .iter()
        .map(|r| r.local_addr().unwrap().port())
        .collect();
    let (within, every) = (
        WRITE_STALL_TIMEOUT + Duration::from_secs(5),
        Duration::from_millis(200),
    );
    eventually_async("the stuck readers to be dropped", within, every, || async {
        let open = tlsaudit_testkit::sockets::own_sockets_on(&[server_port])
            .into_iter()
            .filter(|o| ports.contains(&o.local_port) && o.state == "01")
            .count();
        if open == 0 {
            Ok(())
        } else {
            Err(format!("{open} still established"))
        }
    })
    .await;
    eprintln!(
        "25 stuck readers dropped {:?} after they connected",
        stuck.elapsed()
    );
    drop(readers);
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scrapes_answer_while_100_slow_clients_stay_attached() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let s = serve(&["--config", config.to_str().unwrap(), "--interval", "30s"]);
    wait_ready(&s).await;
    let slow = SlowClients::start(&s.addr, 100);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Past two header-read timeouts: the server drops them, they come back.
    let until = Instant::now() + 2 * HEADER_READ_TIMEOUT + Duration::from_secs(1);
    let mut scrapes = Vec::new();
    while Instant::now() < until {
        let t = Instant::now();
        let (status, _, body) = get(&s.addr, "/metrics", None).await;
        scrapes.push(t.elapsed());
        assert_eq!(status, 200);
        assert!(body.contains("tlsaudit_link_verdict{"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connections = slow.connections();
    slow.stop();
    let n = scrapes.len();
    let p50 = percentile(&mut scrapes, 50);
    let p99 = percentile(&mut scrapes, 99);
    eprintln!(
        "/metrics with 100 slow clients kept attached ({connections} connections): {n} scrapes, p50 {p50:?}, p99 {p99:?}"
    );
    assert!(
        connections >= 200,
        "the slow clients were dropped and came back: {connections}"
    );
    assert!(p99 < Duration::from_secs(2), "p99 {p99:?}");
    lab.stop().await;
}

/// An inventory of the demo lab plus `silent`: an endpoint that accepts connections (the
/// kernel's backlog) and never answers, so that a probe of it runs to its deadline. The
/// listener returned keeps it so.
fn with_silent_endpoint(config: &std::path::Path) -> (std::path::PathBuf, std::net::TcpListener) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut text = std::fs::read_to_string(config).unwrap();
    text.push_str(&format!(
        "\n[[endpoints]]\nname = \"silent\"\ncomponent = \"tikv\"\nrole = \"grpc\"\naddress = \"{addr}\"\nallowed_cn = [\"tidb\"]\n"
    ));
    let path = config.with_file_name("silent.toml");
    std::fs::write(&path, text).unwrap();
    (path, listener)
}

/// (status, the Retry-After header, elapsed) of one `/probe` request.
async fn probe_request(addr: String, path: &'static str) -> (u16, Option<String>, Duration) {
    let t = Instant::now();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw);
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    let retry = raw.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("retry-after: ")
            .map(str::to_string)
    });
    (status, retry, t.elapsed())
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_beyond_the_queue_are_refused_with_retry_after() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let (config, _silent) = with_silent_endpoint(&config);
    let s = serve(&[
        "--config",
        config.to_str().unwrap(),
        "--interval",
        "10m",
        "--timeout",
        "2s",
    ]);
    wait_ready(&s).await;
    // 4 run, 8 wait, 4 are refused: at once, whatever order they arrive in.
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..16 {
        requests.spawn(probe_request(
            s.addr.clone(),
            "/probe?target=silent&module=tidb",
        ));
    }
    let (mut answered, mut refused) = (Vec::new(), Vec::new());
    while let Some(r) = requests.join_next().await {
        let (status, retry, took) = r.unwrap();
        match status {
            200 => answered.push(took),
            429 => refused.push((retry, took)),
            other => panic!("status {other}"),
        }
    }
    answered.sort();
    eprintln!(
        "16 probes of a silent endpoint (--timeout 2s): {} answered (first {:?}, last {:?}), {} refused (Retry-After {:?}) in {:?}",
        answered.len(),
        answered.first(),
        answered.last(),
        refused.len(),
        refused.first().map(|r| &r.0),
        refused.iter().map(|r| r.1).max()
    );
    assert_eq!((answered.len(), refused.len()), (12, 4));
    for (retry, took) in &refused {
        let secs: u64 = retry.as_deref().unwrap().parse().unwrap();
        assert!(secs >= 1, "Retry-After {secs}");
        assert!(*took < Duration::from_secs(1), "a refusal took {took:?}");
    }
    // Three waves of 4: the last waited for two before it.
    assert!(answered[11] >= 2 * answered[0], "{answered:?}");
    // A 7 KB unknown name is answered in one short line, not echoed whole.
    let long = "z".repeat(7 * 1024);
    let (status, _, body) = get(&s.addr, &format!("/probe?target={long}&module=tidb"), None).await;
    assert_eq!(status, 400);
    assert!(body.len() < 200, "{} bytes: {body}", body.len());
    assert!(body.contains("…\" (7168 bytes)"), "{body}");
    let (status, _, _) = get(&s.addr, "/-/healthy", None).await;
    assert_eq!(status, 200);
    lab.stop().await;
}
