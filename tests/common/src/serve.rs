//! `tlsaudit serve` in tests: the process (killed when dropped), the address it prints, a
//! plain HTTP/1.1 GET over loopback, and slow clients that stay attached ([`SlowClients`]).

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A child process killed when the test ends, however it ends.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `tlsaudit serve`: its process, its address, and the rest of its stderr.
pub struct Serve {
    pub proc: Proc,
    pub addr: String,
    pub stderr: mpsc::Receiver<String>,
}

impl Serve {
    /// The rest of stderr once the process has exited: every line until the reader thread
    /// reaches the end of the pipe (bounded), not only those it had forwarded so far.
    pub fn rest_after_exit(&self) -> Vec<String> {
        let until = std::time::Instant::now() + Duration::from_secs(10);
        let mut lines = Vec::new();
        while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(_) => break,
            }
        }
        lines
    }
}

/// Start `tlsaudit serve --listen 127.0.0.1:0 ARGS` and read the address it prints.
pub fn serve(args: &[&str]) -> Serve {
    serve_with_env(args, &[])
}

/// [`serve`] with these environment variables set for the process.
pub fn serve_with_env(args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Serve {
    let mut child = crate::bin()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tlsaudit serve starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let proc = Proc(child);
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("serve prints its address");
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    Serve {
        proc,
        addr,
        stderr: rx,
    }
}

/// GET over HTTP/1.1 on loopback: (status, content type, body); status 0 when nothing
/// listens yet.
pub async fn get(addr: &str, path: &str, accept: Option<&str>) -> (u16, String, String) {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return (0, String::new(), String::new());
    };
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let ctype = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, ctype, body)
}

pub fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// `n` slowloris clients kept attached to a server: each sends the start of a request, then one
/// more header byte a second and never the end of its headers; one the server drops (its
/// header-read timeout) connects again at once. They stop when this is dropped.
pub struct SlowClients {
    tasks: tokio::task::JoinSet<()>,
    connections: Arc<AtomicUsize>,
}

impl SlowClients {
    /// Start them on the current tokio runtime.
    pub fn start(addr: &str, n: usize) -> SlowClients {
        let connections = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..n {
            tasks.spawn(slow_client(addr.to_string(), connections.clone()));
        }
        SlowClients { tasks, connections }
    }

    /// Connections opened so far (a reconnection counts again).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// Stop every client now (their sockets close).
    pub fn stop(mut self) {
        self.tasks.abort_all();
    }
}

/// One slowloris client, for ever: connect, send a partial request, trickle, reconnect.
async fn slow_client(addr: String, connections: Arc<AtomicUsize>) {
    let head = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ");
    loop {
        let opened = Instant::now();
        if let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await {
            connections.fetch_add(1, Ordering::Relaxed);
            if s.write_all(head.as_bytes()).await.is_ok() {
                trickle_until_closed(&mut s).await;
            }
        }
        // Refused or closed at once (a connection cap): no busy loop.
        if opened.elapsed() < Duration::from_millis(200) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// One header byte a second until the server closes the connection.
async fn trickle_until_closed(s: &mut tokio::net::TcpStream) {
    let mut buf = [0u8; 512];
    loop {
        tokio::select! {
            read = s.read(&mut buf) => {
                if matches!(read, Ok(0) | Err(_)) {
                    return;
                }
            }
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                if s.write_all(b"x").await.is_err() {
                    return;
                }
            }
        }
    }
}
