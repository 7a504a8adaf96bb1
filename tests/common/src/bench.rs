//! What the benches share: their knobs from the environment, the fleet they audit, the
//! `tlsaudit serve` process they measure, a blocking GET that times itself, and percentiles.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A lab fleet of `n` endpoints, PD, TiKV gRPC, TiKV status and TiDB status in turn, each with
/// an allow-list (the TiDB status ports admit `bench-client` too).
pub fn fleet_spec(n: usize) -> tlsaudit_lab::LabSpec {
    use tlsaudit_lab::EndpointSpec;
    let list = ["tidb", "pd", "tikv", "tiflash"];
    let mut s = tlsaudit_lab::LabSpec::new("bench");
    for i in 0..n {
        let ep = match i % 4 {
            0 => EndpointSpec::pd(format!("pd-{i}"), &list),
            1 => EndpointSpec::tikv_grpc(format!("tikv-{i}"), &list),
            2 => EndpointSpec::tikv_status(format!("tikv-{i}-status"), &list),
            _ => EndpointSpec::tidb_status(format!("tidb-{i}-status"), &["tidb", "bench-client"]),
        };
        s = s.with(ep);
    }
    s
}

/// A knob of a bench: the environment variable `name` as a number, else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A `tlsaudit serve` started by a bench (killed when dropped), and its address.
pub struct ServeProc {
    pub child: Child,
    pub addr: String,
}

impl Drop for ServeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `BIN serve --listen 127.0.0.1:0 --interval INTERVAL --config CONFIG`, its address read from
/// the first line it prints.
pub fn spawn_serve(bin: &str, config: &Path, interval: &str) -> ServeProc {
    let mut child = std::process::Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--interval", interval])
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tlsaudit serve starts");
    let mut line = String::new();
    let stderr = child.stderr.take().expect("stderr is piped");
    BufReader::new(stderr)
        .read_line(&mut line)
        .expect("serve prints its address");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    ServeProc { child, addr }
}

/// GET `path` as Prometheus asks for it (OpenMetrics, then the connection closed): (elapsed,
/// the whole response).
pub fn get(addr: &str, path: &str) -> (Duration, String) {
    let t = Instant::now();
    let mut s = std::net::TcpStream::connect(addr).expect("serve listens");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/openmetrics-text;version=1.0.0\r\nConnection: close\r\n\r\n"
    )
    .expect("the request is sent");
    let mut body = String::new();
    s.read_to_string(&mut body).expect("the response is read");
    (t.elapsed(), body)
}

/// Wait until `/-/ready` answers 200 (the first round finished), at most `within`.
pub fn wait_ready(addr: &str, within: Duration) {
    let t = Instant::now();
    while !get(addr, "/-/ready").1.starts_with("HTTP/1.1 200") {
        assert!(t.elapsed() < within, "never ready within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The nearest-rank percentile `p` (0 to 100) of sorted `samples`, in ms.
pub fn percentile_ms(sorted: &[Duration], p: usize) -> f64 {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1].as_secs_f64() * 1000.0
}
