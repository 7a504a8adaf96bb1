//! `tlsaudit serve` in tests: the process (killed when dropped), the address it prints, and a
//! plain HTTP/1.1 GET over loopback.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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
