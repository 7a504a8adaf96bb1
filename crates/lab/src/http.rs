//! A minimal HTTP/1.1 responder: one request per connection, `Connection: close`.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest request head accepted.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// Time allowed to receive the request head.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for writing the response and the lingering close.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// After the response, wait at most this long for the peer to close (so that unread request
/// bytes do not turn our close into a reset that could destroy the response in flight).
const LINGER: Duration = Duration::from_millis(500);

/// The request line of a parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// Path without the query string.
    pub(crate) path: String,
}

/// Why no request could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeadError {
    Timeout,
    Eof,
    TooLarge,
    Malformed,
    Io(String),
}

impl HeadError {
    pub(crate) fn tag(&self) -> String {
        match self {
            HeadError::Timeout => "timeout".into(),
            HeadError::Eof => "eof".into(),
            HeadError::TooLarge => "too_large".into(),
            HeadError::Malformed => "malformed".into(),
            HeadError::Io(e) => format!("io:{e}"),
        }
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Read a request head (continuing from `buf`, which may hold bytes already read) and parse
/// its request line.
pub(crate) async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut buf: Vec<u8>,
) -> Result<Request, HeadError> {
    let read = async {
        let mut chunk = [0u8; 2048];
        loop {
            if let Some(end) = find_head_end(&buf) {
                return parse_request_line(&buf[..end]);
            }
            if buf.len() >= MAX_HEAD {
                return Err(HeadError::TooLarge);
            }
            match stream.read(&mut chunk).await {
                Ok(0) => return Err(HeadError::Eof),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Err(HeadError::Eof)
                }
                Err(e) => return Err(HeadError::Io(format!("{:?}", e.kind()))),
            }
        }
    };
    tokio::time::timeout(HEAD_TIMEOUT, read)
        .await
        .unwrap_or(Err(HeadError::Timeout))
}

fn parse_request_line(head: &[u8]) -> Result<Request, HeadError> {
    let line_end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or(HeadError::Malformed)?;
    let line = std::str::from_utf8(&head[..line_end]).map_err(|_| HeadError::Malformed)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed);
    };
    if method.is_empty() || !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Err(HeadError::Malformed);
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    Ok(Request {
        method: method.to_owned(),
        path: path.to_owned(),
    })
}

/// A response to write.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
}

impl Response {
    pub(crate) fn new(status: u16, content_type: &'static str, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type,
            body: body.into(),
        }
    }
    pub(crate) fn text(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, "text/plain; charset=utf-8", body)
    }
    pub(crate) fn json(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, "application/json", body)
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Unknown",
    }
}

/// Write `resp` with `Content-Length` and `Connection: close`, shut the stream down (for TLS:
/// send close_notify) and linger briefly for the peer's close.
pub(crate) async fn respond<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, resp: &Response) {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        resp.status,
        reason_phrase(resp.status),
        resp.content_type,
        resp.body.len()
    );
    let mut out = Vec::with_capacity(head.len() + resp.body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(resp.body.as_bytes());
    write_and_close(stream, &out).await;
}

/// Write raw bytes, shut down, and linger briefly (bounded in time).
pub(crate) async fn write_and_close<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, out: &[u8]) {
    let write = async {
        stream.write_all(out).await?;
        stream.flush().await?;
        stream.shutdown().await
    };
    if !matches!(tokio::time::timeout(WRITE_TIMEOUT, write).await, Ok(Ok(()))) {
        return;
    }
    let drain = async {
        let mut sink = [0u8; 1024];
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_request_line() {
        let r = parse_request_line(b"GET /status?x=1 HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/status");
        assert_eq!(
            parse_request_line(b"\x16\x03\x01 junk\r\n\r\n"),
            Err(HeadError::Malformed)
        );
        assert_eq!(
            parse_request_line(b"GET / SPDY/3\r\n\r\n"),
            Err(HeadError::Malformed)
        );
    }

    #[test]
    fn finds_head_end() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n"), None);
    }
}
