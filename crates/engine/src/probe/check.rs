//! The post-handshake check. In TLS 1.3 a server's rejection of the client certificate only
//! arrives after the client's handshake has completed, and some servers reject a caller inside
//! the application (gRPC status 16/7, HTTP 403): so every probe reads once more.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::classify::{self, Attribution, Signal};
use super::observe::Observer;
use super::record::{AlertEvidence, Evidence, OutcomeClass, Phase};
use super::spec::ProbeSpec;
use crate::profile::Protocol;

/// The check's result before the engine folds it into the record.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub class: OutcomeClass,
    pub summary: String,
}

fn done(class: OutcomeClass, summary: impl Into<String>) -> CheckResult {
    CheckResult {
        class,
        summary: summary.into(),
    }
}

/// The first failure seen while reading from the TLS stream, kept with its original TLS error.
#[derive(Debug, Clone, Default)]
pub struct Tapped {
    pub kind: Option<std::io::ErrorKind>,
    pub tls: Option<rustls::Error>,
    pub eof: bool,
}

/// Wraps the TLS stream so that a failure buried under another protocol (h2 turns io errors into
/// strings) can still be classified from the original error.
#[derive(Debug)]
pub struct Tap<S> {
    inner: S,
    seen: Arc<Mutex<Tapped>>,
    /// A write met the peer's reset or close: its error, returned once what the peer sent
    /// before has been read, or once the deadline passes.
    salvage: Option<(std::io::Error, Pin<Box<tokio::time::Sleep>>)>,
}

/// How long a failed write waits for what the peer sent before it (its alert) to be readable.
const SALVAGE_WINDOW: Duration = Duration::from_millis(250);

impl<S> Tap<S> {
    pub fn new(inner: S) -> (Self, Arc<Mutex<Tapped>>) {
        let seen = Arc::new(Mutex::new(Tapped::default()));
        (
            Tap {
                inner,
                seen: seen.clone(),
                salvage: None,
            },
            seen,
        )
    }
}

fn record_error(seen: &Mutex<Tapped>, e: &std::io::Error) {
    let mut t = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .cloned();
    // The first failure is kept, except that an alert read after a write error or a reset
    // replaces it: the alert is the peer's own verdict.
    let alert = matches!(tls, Some(rustls::Error::AlertReceived(_)));
    let had_alert = matches!(t.tls, Some(rustls::Error::AlertReceived(_)));
    if t.kind.is_none() || (alert && !had_alert) {
        t.kind = Some(e.kind());
        t.tls = tls;
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        match &r {
            Poll::Ready(Err(e)) => record_error(&this.seen, e),
            Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                this.seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .eof = true;
            }
            _ => {}
        }
        r
    }
}

impl<S: AsyncRead + Unpin> Tap<S> {
    /// A write failed: record it, and when the peer reset or closed the connection, read what
    /// it already sent before returning the error. A server that refuses the certificate after
    /// the handshake sends its alert and closes; our next write (h2's preface, an HTTP request)
    /// then meets a reset, and a protocol layer such as h2 gives up on the write error without
    /// reading again, so the alert would be lost and the rejection taken for a reset. The read
    /// waits for readiness (the reactor may not have seen the data yet), at most
    /// [`SALVAGE_WINDOW`].
    fn write_failed(&mut self, cx: &mut Context<'_>, e: std::io::Error) -> Poll<std::io::Error> {
        record_error(&self.seen, &e);
        use std::io::ErrorKind as K;
        if !matches!(
            e.kind(),
            K::ConnectionReset | K::BrokenPipe | K::ConnectionAborted
        ) {
            return Poll::Ready(e);
        }
        self.salvage = Some((e, Box::pin(tokio::time::sleep(SALVAGE_WINDOW))));
        self.poll_salvage(cx)
    }

    /// Read (and drop) what the peer sent until an error (the alert), the end, 64 KiB or the
    /// deadline; then hand back the write error.
    fn poll_salvage(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        let mut read = 0usize;
        loop {
            let mut scratch = [0u8; 2048];
            let mut rb = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.inner).poll_read(cx, &mut rb) {
                Poll::Ready(Err(e)) => {
                    record_error(&self.seen, &e);
                    break;
                }
                Poll::Ready(Ok(())) if rb.filled().is_empty() => break,
                Poll::Ready(Ok(())) => {
                    read += rb.filled().len();
                    if read > 64 * 1024 {
                        break;
                    }
                }
                Poll::Pending => {
                    let waiting = self
                        .salvage
                        .as_mut()
                        .is_some_and(|(_, deadline)| deadline.as_mut().poll(cx).is_pending());
                    if waiting {
                        return Poll::Pending;
                    }
                    break;
                }
            }
        }
        match self.salvage.take() {
            Some((e, _)) => Poll::Ready(e),
            None => Poll::Ready(std::io::ErrorKind::BrokenPipe.into()),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.salvage.is_some() {
            return this.poll_salvage(cx).map(Err);
        }
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Err(e)) => this.write_failed(cx, e).map(Err),
            r => r,
        }
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.salvage.is_some() {
            return this.poll_salvage(cx).map(Err);
        }
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Err(e)) => this.write_failed(cx, e).map(Err),
            r => r,
        }
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.salvage.is_some() {
            return this.poll_salvage(cx).map(Err);
        }
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(Err(e)) => this.write_failed(cx, e).map(Err),
            r => r,
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.salvage.is_some() {
            return this.poll_salvage(cx).map(Err);
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// Classify a failure seen on the stream after the handshake.
pub fn classify_failure(t: &Tapped, a: &Attribution<'_>, ev: &mut Evidence) -> CheckResult {
    if let Some(kind) = t.kind {
        ev.io_error = Some(classify::io_kind(kind));
    }
    if let Some(tls) = &t.tls {
        ev.tls_error = Some(tls.to_string());
        if let rustls::Error::AlertReceived(alert) = tls {
            let (name, code) = classify::alert_name(*alert);
            ev.alert = Some(AlertEvidence {
                name,
                code,
                received: Phase::Check,
            });
            let (class, words) = classify::handshake_alert(a, *alert);
            return done(
                class,
                format!("{words} (the alert arrived on the first read after the handshake)"),
            );
        }
        return done(
            OutcomeClass::ProtocolError,
            format!("TLS error after the handshake: {tls}"),
        );
    }
    use std::io::ErrorKind as K;
    match t.kind {
        Some(K::ConnectionReset | K::BrokenPipe | K::ConnectionAborted) => {
            if a.requested {
                let (class, words) = classify::attribute(a, &Signal::Reset);
                done(class, words)
            } else {
                done(
                    OutcomeClass::Reset,
                    "the server reset the connection after the handshake",
                )
            }
        }
        Some(K::UnexpectedEof) | None => {
            ev.closed_silently = true;
            if a.requested {
                let (class, words) = classify::attribute(a, &Signal::SilentClose);
                done(class, words)
            } else {
                done(
                    OutcomeClass::ProtocolError,
                    "the server closed the connection right after the handshake without answering (gRPC servers do this when the client offers no h2 ALPN)",
                )
            }
        }
        Some(other) => done(
            OutcomeClass::ProtocolError,
            format!("error after the handshake: {}", classify::io_kind(other)),
        ),
    }
}

/// Run the protocol check on an established TLS stream.
pub async fn run<S>(
    spec: &ProbeSpec,
    stream: S,
    obs: &Observer,
    a: &Attribution<'_>,
    tls13: bool,
    ev: &mut Evidence,
) -> CheckResult
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut stream, seen) = Tap::new(stream);
    let work = async {
        match spec.protocol {
            // `mysql` runs its own check (mysql.rs); here it only waits like `tls`.
            Protocol::Tls | Protocol::Mysql => {
                tls_window(spec, &mut stream, obs, a, tls13, ev).await
            }
            Protocol::Http => http(spec, &mut stream, a, ev).await,
            Protocol::Grpc => grpc(spec, stream, a, ev).await,
        }
    };
    let r = tokio::time::timeout(spec.timeouts.check, work).await;
    let failure = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if obs.lock().ticket {
        ev.session_ticket = true;
    }
    match r {
        Ok(Some(r)) => r,
        Ok(None) => classify_failure(&failure, a, ev),
        Err(_) => done(
            OutcomeClass::Timeout,
            format!(
                "no answer to the {} check within {}",
                spec.protocol.as_str(),
                humantime::format_duration(spec.timeouts.check)
            ),
        ),
    }
}

/// `tls`: wait for the server's verdict on our certificate. A decision is taken on evidence
/// only, never on which of two signals won a race:
/// - an alert, a close or a reset is a rejection, also when a session ticket came first (the
///   ticket only proves the TLS layer took the handshake; gRPC C-core, for one, sends tickets
///   and then closes on a caller without a certificate);
/// - application data is acceptance;
/// - a ticket ends the wait early only when our certificate was sent, and only after whatever
///   the peer sent with it has been read; without a certificate the ticket says nothing about
///   the caller, so the probe waits out the alert window for a close.
async fn tls_window<S>(
    spec: &ProbeSpec,
    stream: &mut Tap<S>,
    obs: &Observer,
    a: &Attribution<'_>,
    tls13: bool,
    ev: &mut Evidence,
) -> Option<CheckResult>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if !tls13 || !a.requested {
        return Some(done(
            OutcomeClass::Accepted,
            if a.requested {
                "handshake completed: the server verified our certificate during the handshake (TLS 1.2)"
            } else {
                "handshake completed; the server did not ask for a client certificate"
            },
        ));
    }
    let mut buf = [0u8; 512];
    let deadline = tokio::time::Instant::now() + spec.timeouts.alert_window;
    loop {
        let ticket = obs.lock().ticket;
        let read = if ticket && a.sent {
            // A ticket with our certificate: decisive, once what already arrived is read.
            tokio::time::timeout(Duration::ZERO, stream.read(&mut buf)).await
        } else {
            tokio::select! {
                r = stream.read(&mut buf) => Ok(r),
                // Re-checked at the top of the loop: a ticket only counts with a certificate.
                _ = obs.ticket_arrived.notified(), if a.sent => continue,
                _ = tokio::time::sleep_until(deadline) => {
                    tokio::time::timeout(Duration::ZERO, stream.read(&mut buf)).await
                }
            }
        };
        match read {
            // EOF or an error: the caller classifies it from the tap.
            Ok(Ok(0) | Err(_)) => return None,
            Ok(Ok(_)) => {
                return Some(done(
                    OutcomeClass::Accepted,
                    "the server accepted our certificate and sent application data",
                ))
            }
            Err(_) if obs.lock().ticket && a.sent => {
                ev.session_ticket = true;
                let _ = tokio::time::timeout(Duration::from_millis(100), stream.shutdown()).await;
                return Some(done(
                    OutcomeClass::Accepted,
                    "the server accepted our certificate: it sent a TLS 1.3 session ticket after our Finished",
                ));
            }
            Err(_) => {
                let words = if obs.lock().ticket {
                    ev.session_ticket = true;
                    format!(
                        "no rejection within {} after the handshake (the server sent a session ticket and keeps the connection open)",
                        humantime::format_duration(spec.timeouts.alert_window)
                    )
                } else {
                    format!(
                        "no rejection within {} after the handshake (the server sent no session ticket and keeps the connection open)",
                        humantime::format_duration(spec.timeouts.alert_window)
                    )
                };
                return Some(done(OutcomeClass::Accepted, words));
            }
        }
    }
}

/// `http`: GET the path and read the status line (and the start of the body).
async fn http<S>(
    spec: &ProbeSpec,
    stream: &mut Tap<S>,
    a: &Attribution<'_>,
    ev: &mut Evidence,
) -> Option<CheckResult>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let path = spec.path.as_deref().unwrap_or("/");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tlsaudit/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        spec.address,
        env!("CARGO_PKG_VERSION")
    );
    // A write error has already read what the peer sent before it (the tap's salvage).
    if stream.write_all(request.as_bytes()).await.is_err() || stream.flush().await.is_err() {
        return None;
    }
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    // Interim answers (1xx: `100 Continue`, `103 Early Hints`) come before the answer: skipped,
    // as HTTP/1.1 requires (RFC 9110, 15.2), up to a bound.
    let mut interim = Vec::new();
    // Whether the server has closed its side (it answers `Connection: close`).
    let (header_end, mut closed) = loop {
        let (end, closed) = read_head(stream, &mut buf).await;
        match (end, parse_status(&buf)) {
            (Some(end), Some(s)) if is_interim(s) && interim.len() < MAX_INTERIM => {
                interim.push(s);
                buf.drain(..end);
            }
            _ => break (end, closed),
        }
    };
    if let Some(r) = only_interim(&buf, &interim, header_end) {
        return r;
    }
    // Read a little of the body: enough for the words of a rejection.
    if let Some(end) = header_end {
        let want = content_length(&buf[..end]).unwrap_or(256).min(256);
        while buf.len() < end + want {
            match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                Ok(_) => {
                    closed = true;
                    break;
                }
                Err(_) => break,
            }
        }
    }
    // A server that has closed (its close_notify usually comes with the answer) needs no
    // close_notify back: dropping the stream closes the socket. Without one, say goodbye.
    if !closed {
        closed = matches!(
            tokio::time::timeout(Duration::ZERO, stream.read(&mut chunk)).await,
            Ok(Ok(0))
        );
    }
    if !closed {
        let _ = tokio::time::timeout(Duration::from_millis(100), stream.shutdown()).await;
    }
    let Some(status) = parse_status(&buf) else {
        ev.peer_bytes = Some(classify::escape(&buf[..buf.len().min(48)]));
        return Some(done(
            OutcomeClass::ProtocolError,
            "the server's answer to an HTTP request is not HTTP/1.x",
        ));
    };
    ev.http_status = Some(status);
    let body = header_end
        .map(|e| {
            String::from_utf8_lossy(&buf[e.min(buf.len())..])
                .chars()
                .take(200)
                .collect::<String>()
        })
        .unwrap_or_default();
    if !body.is_empty() {
        ev.http_body = Some(body.trim().to_string());
    }
    if let Some((signal, fixed)) = classify::http_rejection(status, &body) {
        let (class, words) = classify::attribute(a, &signal);
        return Some(done(fixed.unwrap_or(class), words));
    }
    Some(done(
        OutcomeClass::Accepted,
        format!("GET {path} answered HTTP {status}"),
    ))
}

/// The most interim (1xx) answers skipped before the answer.
const MAX_INTERIM: usize = 16;

/// An interim answer: any 1xx but `101 Switching Protocols`, which ends HTTP/1.1 on the
/// connection (never asked for here: taken as the answer).
fn is_interim(status: u16) -> bool {
    (100..200).contains(&status) && status != 101
}

/// Read into `buf` until it holds a whole response head (16 KiB at most): where the head ends
/// (`None` when the server closed or the head is too long), and whether the server closed.
async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> (Option<usize>, bool) {
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            return (Some(i + 4), false);
        }
        if buf.len() > 16 * 1024 {
            return (None, false);
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return (None, true),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// When no answer followed the interim ones: `Some(None)` when the server sent nothing at
/// all (the failure is classified from what the connection saw), a protocol error when it
/// sent only interim answers or more than [`MAX_INTERIM`] of them.
fn only_interim(
    buf: &[u8],
    interim: &[u16],
    header_end: Option<usize>,
) -> Option<Option<CheckResult>> {
    let codes = || {
        interim
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if buf.is_empty() && interim.is_empty() {
        return Some(None);
    }
    if buf.is_empty() {
        return Some(Some(done(
            OutcomeClass::ProtocolError,
            format!(
                "the server sent only interim answers (HTTP {}) and no answer",
                codes()
            ),
        )));
    }
    let still_interim = header_end.is_some() && parse_status(buf).is_some_and(is_interim);
    still_interim.then(|| {
        Some(done(
            OutcomeClass::ProtocolError,
            format!(
                "the server sent more than {MAX_INTERIM} interim answers (HTTP {}, ...) and no answer",
                codes()
            ),
        ))
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_status(buf: &[u8]) -> Option<u16> {
    let line_end = find(buf, b"\r\n").unwrap_or(buf.len());
    let line = std::str::from_utf8(&buf[..line_end]).ok()?;
    let mut parts = line.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

fn content_length(head: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(head).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })
}

/// The most header bytes (HPACK-decoded) a server may send in one header list.
pub const MAX_HEADER_LIST: u32 = 64 * 1024;
/// The most characters of a server's text (`grpc-message`) a record keeps.
pub const MAX_TEXT: usize = 1024;

/// An HTTP/2 client a hostile server cannot grow: bounded header lists, no server push, no
/// stream the server may open, small windows.
fn h2_client() -> h2::client::Builder {
    let mut b = h2::client::Builder::new();
    b.max_header_list_size(MAX_HEADER_LIST)
        .enable_push(false)
        .max_concurrent_streams(0)
        .initial_window_size(64 * 1024)
        .initial_connection_window_size(64 * 1024)
        .max_frame_size(16 * 1024)
        .max_send_buffer_size(64 * 1024)
        .max_concurrent_reset_streams(8)
        .max_pending_accept_reset_streams(8);
    b
}

/// The buffer under the HTTP/2 client: room for the preface and the whole health call.
const H2_WRITE_BUFFER: usize = 4 * 1024;

/// A server's text cut to [`MAX_TEXT`] characters (marked with `...`).
pub fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_TEXT {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_TEXT).collect();
    cut.push_str("...");
    cut
}

/// `grpc`: call `/grpc.health.v1.Health/Check` over HTTP/2 and read grpc-status.
async fn grpc<S>(
    spec: &ProbeSpec,
    stream: Tap<S>,
    a: &Attribution<'_>,
    ev: &mut Evidence,
) -> Option<CheckResult>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (head, status) = match grpc_exchange(spec, stream).await? {
        Ok(r) => r,
        Err(e) => {
            return if e.get_io().is_some() || e.is_io() {
                None
            } else {
                Some(done(
                    OutcomeClass::ProtocolError,
                    // The server's GOAWAY debug data is in the error's text: bounded.
                    format!("the HTTP/2 exchange failed: {}", truncate(&e.to_string())),
                ))
            };
        }
    };
    if head.status != http::StatusCode::OK {
        ev.http_status = Some(head.status.as_u16());
        return Some(done(
            OutcomeClass::ProtocolError,
            format!("not a gRPC server: HTTP/2 status {}", head.status.as_u16()),
        ));
    }
    let Some((code, message)) = status else {
        return Some(done(
            OutcomeClass::ProtocolError,
            "the gRPC answer carries no grpc-status",
        ));
    };
    Some(grpc_answer(code, &message, a, ev))
}

/// The health call over HTTP/2, driving the connection beside it: `None` when the HTTP/2
/// handshake or the request could not be made.
async fn grpc_exchange<S>(
    spec: &ProbeSpec,
    stream: Tap<S>,
) -> Option<Result<(http::response::Parts, Option<(u32, String)>), h2::Error>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // h2 writes its preface straight to the stream and then flushes the frames it queued each
    // time the connection is polled: the buffer, and a request queued before the connection is
    // first polled, put the preface, SETTINGS, HEADERS and DATA in one TLS record and segment.
    let stream = tokio::io::BufWriter::with_capacity(H2_WRITE_BUFFER, stream);
    let (client, conn) = h2_client().handshake::<_, Bytes>(stream).await.ok()?;
    let request = health_request(spec)?;
    let mut client = client.ready().await.ok()?;
    let (response, mut body_tx) = client.send_request(request, false).ok()?;
    // An empty HealthCheckRequest: no compression flag, zero length.
    body_tx
        .send_data(Bytes::from_static(&[0, 0, 0, 0, 0]), true)
        .ok()?;
    // The connection is driven here, beside the call, rather than by a task of its own: no
    // spawn, no cross-thread wake-up, and nothing to abort once the answer is read.
    let mut call = std::pin::pin!(grpc_call(response));
    let first = {
        let conn = std::pin::pin!(conn);
        tokio::select! {
            biased;
            r = call.as_mut() => Some(r),
            _ = conn => None,
        }
    };
    // The connection ended first: dropping it has failed every open stream, so the call now
    // finishes with what was read or with the connection's error.
    Some(match first {
        Some(r) => r,
        None => call.await,
    })
}

/// The health check's request head (the path can be overridden by the spec).
fn health_request(spec: &ProbeSpec) -> Option<http::Request<()>> {
    let path = spec
        .path
        .as_deref()
        .unwrap_or("/grpc.health.v1.Health/Check");
    http::Request::builder()
        .method(http::Method::POST)
        .uri(format!("https://{}{path}", spec.address))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header(
            "user-agent",
            concat!("tlsaudit/", env!("CARGO_PKG_VERSION")),
        )
        .body(())
        .ok()
}

/// What a grpc-status says: a rejection of the caller, or an answer that admitted it.
fn grpc_answer(code: u32, message: &str, a: &Attribution<'_>, ev: &mut Evidence) -> CheckResult {
    ev.grpc_status = Some(code);
    if !message.is_empty() {
        ev.grpc_message = Some(message.to_string());
    }
    if classify::grpc_is_rejection(code) {
        let (class, words) = classify::attribute(a, &Signal::Grpc(code));
        let words = if message.is_empty() {
            words
        } else {
            format!("{words}; message: {message}")
        };
        return done(class, words);
    }
    let name = classify::grpc_code_name(code);
    let words = match code {
        0 => "the gRPC health check answered OK".to_string(),
        12 => "the server does not serve the health check (UNIMPLEMENTED); the TLS layer accepted us, but the allow-list cannot be observed through this method".to_string(),
        _ => format!("the gRPC call answered status {code} ({name}), which is not a rejection of the caller"),
    };
    done(OutcomeClass::Accepted, words)
}

/// The answer to a gRPC call: the response head and the grpc-status (and message) from the
/// headers or, after the body, the trailers. A non-200 answer is returned without reading on.
async fn grpc_call(
    response: h2::client::ResponseFuture,
) -> Result<(http::response::Parts, Option<(u32, String)>), h2::Error> {
    let (head, mut body) = response.await?.into_parts();
    if head.status != http::StatusCode::OK {
        return Ok((head, None));
    }
    let mut status = grpc_status(&head.headers);
    if status.is_none() {
        // A health answer is a few bytes; a server streaming more is not waited for.
        let mut read = 0usize;
        while let Some(chunk) = body.data().await {
            match chunk {
                Ok(c) => {
                    read += c.len();
                    let _ = body.flow_control().release_capacity(c.len());
                    if read > 64 * 1024 {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        if let Ok(Some(trailers)) = body.trailers().await {
            status = grpc_status(&trailers);
        }
    }
    Ok((head, status))
}

fn grpc_status(headers: &http::HeaderMap) -> Option<(u32, String)> {
    let code = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let message = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .map(|m| truncate(&percent_decode(m)))
        .unwrap_or_default();
    Some((code, message))
}

/// gRPC percent-encodes grpc-message: `%XX` becomes the byte, anything else stays, and the
/// bytes are read as UTF-8 (lossily). Public for the fuzz targets (`fuzz/`).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_status_and_length() {
        assert_eq!(parse_status(b"HTTP/1.1 403 Forbidden\r\n\r\n"), Some(403));
        assert_eq!(parse_status(b"SSH-2.0"), None);
        assert_eq!(
            content_length(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"),
            Some(12)
        );
    }

    /// A stream whose writes fail as after a peer's reset, and whose reads yield what
    /// tokio-rustls returns for the peer's alert, once the reactor has seen it (the first read
    /// after the write error finds the socket not yet readable).
    struct ResetAfterAlert {
        reads: usize,
    }

    impl AsyncRead for ResetAfterAlert {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            self.reads += 1;
            if self.reads == 1 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                rustls::Error::AlertReceived(rustls::AlertDescription::BadCertificate),
            )))
        }
    }

    impl AsyncWrite for ResetAfterAlert {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Err(std::io::ErrorKind::ConnectionReset.into()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A write that meets a reset reads the alert the peer sent before it: the protocol on
    /// top (h2) gives up on the write error and would never read it.
    #[tokio::test]
    async fn a_write_error_reads_the_waiting_alert() {
        for flush in [false, true] {
            let (mut tap, seen) = Tap::new(ResetAfterAlert { reads: 0 });
            let r = if flush {
                tap.flush().await
            } else {
                tap.write_all(b"PRI * HTTP/2.0").await
            };
            // The write's own error is what the caller gets; the alert is what is recorded.
            let kind = if flush {
                std::io::ErrorKind::ConnectionReset
            } else {
                std::io::ErrorKind::BrokenPipe
            };
            assert_eq!(r.unwrap_err().kind(), kind);
            assert_eq!(tap.inner.reads, 2, "waited for the alert, then stopped");
            let t = seen.lock().unwrap();
            assert_eq!(
                t.tls,
                Some(rustls::Error::AlertReceived(
                    rustls::AlertDescription::BadCertificate
                )),
                "flush: {flush}"
            );
        }
    }

    #[test]
    fn grpc_message_is_percent_decoded() {
        assert_eq!(percent_decode("a%20b%7Bc%7D"), "a b{c}");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
    }
}
