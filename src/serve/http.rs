//! The HTTP side of `serve`: the accept loop, with the limits a hostile or stuck client meets.
//!
//! axum's own `serve` has no header-read timeout, no connection cap and a graceful shutdown that
//! waits for every connection forever, so a client holding a partial request (slowloris) or
//! slow-reading `/report.json` kept the process alive past SIGTERM and could take every
//! descriptor the probes need. Here each accepted connection is served by hyper's HTTP/1 server
//! (the one under axum) with:
//!
//! - a header-read timeout ([`HEADER_READ_TIMEOUT`]): a client that has not sent its request
//!   headers in time is dropped;
//! - a connection cap ([`connection_cap`]): beyond it a new connection is closed at once, and the
//!   cap leaves the open-file limit's descriptors for the probes;
//! - a write-stall timeout ([`WRITE_STALL_TIMEOUT`]): a client that stops reading its response
//!   is dropped once the server's writes have made no progress that long, so that it cannot hold
//!   a connection, nor the round's body it shares, for ever;
//! - a shutdown deadline ([`SHUTDOWN_DEADLINE`]): on the signal the listener closes, open
//!   connections finish their request in flight, and whatever is still open at the deadline is
//!   closed.
//!
//! Responses are written vectored (`writev`): a body such as the round's `/report.json` is one
//! shared buffer handed to every reader, never copied into a connection's own write buffer.

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Sleep;

/// A client that has not sent its request headers within this is dropped.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection whose writes have made no progress this long is dropped.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// After SIGTERM or Ctrl-C, connections still open this long are closed.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

/// At most this many connections at once, whatever the open-file limit.
pub const MAX_CONNECTIONS: usize = 256;

/// The fewest connections allowed however low the open-file limit (a scrape, a health check and
/// a `/report.json` fetch at once, with room).
const MIN_CONNECTIONS: usize = 8;

/// Descriptors kept for the runtime, the listener, the resolver and the files of a round.
const RESERVED_FDS: u64 = 32;

/// How the accept loop treats connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub write_stall_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_deadline: Duration,
}

/// The connection cap for a soft open-file limit (`None`: the platform has none) and the
/// number of probes that may run at once: half the descriptors the probes and the reserve leave,
/// between [`MIN_CONNECTIONS`] and [`MAX_CONNECTIONS`].
pub fn connection_cap(soft_nofile: Option<u64>, probes: usize) -> usize {
    let Some(soft) = soft_nofile else {
        return MAX_CONNECTIONS;
    };
    let probes = u64::try_from(probes).unwrap_or(u64::MAX);
    let free = soft.saturating_sub(RESERVED_FDS.saturating_add(probes));
    usize::try_from(free / 2)
        .unwrap_or(usize::MAX)
        .clamp(MIN_CONNECTIONS, MAX_CONNECTIONS)
}

/// Serve `router` on `listener` until `shutdown` resolves, then stop within the deadline.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (close_tx, close_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let Some(stream) = accepted_or_pause(accepted).await else { continue };
                // Beyond the cap: dropped at once (the client reads end of stream).
                let Ok(permit) = permits.clone().try_acquire_owned() else { continue };
                let conn = connection(stream, router.clone(), limits, close_rx.clone(), permit);
                conns.spawn(conn);
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = close_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_deadline, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        // Past the deadline: abort the rest; dropping a connection closes its socket.
        conns.shutdown().await;
    }
}

/// The accepted stream; on an error, `None` after a pause when it is one of resources (out of
/// descriptors: retrying at once would spin), at once otherwise (the peer gave up).
async fn accepted_or_pause(
    accepted: std::io::Result<(TcpStream, std::net::SocketAddr)>,
) -> Option<TcpStream> {
    match accepted {
        Ok((stream, _)) => Some(stream),
        Err(e) => {
            use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
            if !matches!(
                e.kind(),
                ConnectionAborted | ConnectionRefused | ConnectionReset
            ) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            None
        }
    }
}

/// One connection: HTTP/1 with the header-read timeout, shut down gracefully when `close` says.
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    mut close: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(StallGuard::new(stream, limits.write_stall_timeout));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .writev(true);
    let conn = builder.serve_connection(io, TowerToHyperService::new(router));
    let mut conn = pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = close.wait_for(|closing| *closing) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// A stream whose writes fail once they have been pending, with no progress, for `limit`.
struct StallGuard {
    inner: TcpStream,
    limit: Duration,
    /// Armed when a write or flush is first pending; disarmed by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl StallGuard {
    fn new(inner: TcpStream, limit: Duration) -> StallGuard {
        StallGuard {
            inner,
            limit,
            stalled: None,
        }
    }

    /// The outcome of a write-side poll, with the stall timer armed, disarmed or expired.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let limit = self.limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client has not read its response",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for StallGuard {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for StallGuard {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_descriptors_for_the_probes() {
        assert_eq!(connection_cap(None, 64), MAX_CONNECTIONS);
        assert_eq!(connection_cap(Some(1 << 20), 4096), MAX_CONNECTIONS);
        // A limit of 120 with 56 probes: 32 reserved, 32 left, 16 connections.
        assert_eq!(connection_cap(Some(120), 56), 16);
        assert_eq!(connection_cap(Some(1024), 68), MAX_CONNECTIONS);
        assert_eq!(connection_cap(Some(400), 68), (400 - 32 - 68) / 2);
        // Never below the minimum, whatever the limit.
        assert_eq!(connection_cap(Some(10), usize::MAX), MIN_CONNECTIONS);
    }
}
