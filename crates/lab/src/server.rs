//! Listeners and per-connection behaviour of lab endpoints.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rustls::server::Acceptor;
use rustls::{ProtocolVersion, ServerConfig};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;
use tokio_rustls::{LazyConfigAcceptor, TlsAcceptor};

use super::grpc::{self, GrpcPolicy};
use super::http::{self, HeadError, Request, Response};
use super::verify::{leaf_cn, ConnNote, LabIo, NOTE};
use super::ConnEvent;

/// Events kept per endpoint (oldest dropped first).
pub(crate) const EVENT_CAP: usize = 1000;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const GARBAGE_READ_TIMEOUT: Duration = Duration::from_millis(500);
/// gRPC C-core checks the peer after the TLS handshake, on its own schedule: the session
/// ticket OpenSSL sent with the handshake reaches the client well before the close. The lab
/// keeps that gap so a prober that takes the ticket for a verdict is caught.
const CORE_CHECK_DELAY: Duration = Duration::from_millis(30);

/// What Go's net/http answers when a TLS ClientHello reaches a plaintext listener.
pub(crate) const GO_TLS_ON_PLAINTEXT: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request";

/// 64 bytes that are neither TLS (first byte 0x9f, not 0x14..=0x17) nor ASCII text (every
/// byte has its high bit set): a fixed xorshift pattern.
pub(crate) const GARBAGE: [u8; 64] = {
    let mut out = [0u8; 64];
    let mut x: u32 = 0x9e37_79b9;
    let mut i = 0;
    while i < 64 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = ((x >> 24) as u8) | 0x80;
        i += 1;
    }
    out[0] = 0x9f;
    out
};

/// Counters and the bounded event log of one endpoint.
#[derive(Debug, Default)]
pub(crate) struct EndpointState {
    pub(crate) connections: AtomicU64,
    events: Mutex<VecDeque<ConnEvent>>,
}

impl EndpointState {
    fn push(&self, ev: ConnEvent) {
        let mut q = self
            .events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if q.len() >= EVENT_CAP {
            q.pop_front();
        }
        q.push_back(ev);
    }

    pub(crate) fn events(&self) -> Vec<ConnEvent> {
        let q = self
            .events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        q.iter().cloned().collect()
    }

    pub(crate) fn event_count(&self) -> usize {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

/// What is known about one accepted connection; records events.
#[derive(Debug)]
pub(crate) struct ConnInfo {
    state: Arc<EndpointState>,
    conn_id: u64,
    peer: SocketAddr,
    pub(crate) client_cn: Option<String>,
    tls_version: Option<String>,
    alpn: Option<String>,
    sni: Option<String>,
}

impl ConnInfo {
    fn new(state: Arc<EndpointState>, conn_id: u64, peer: SocketAddr) -> Self {
        Self {
            state,
            conn_id,
            peer,
            client_cn: None,
            tls_version: None,
            alpn: None,
            sni: None,
        }
    }

    /// The client's IP address, as MySQL servers name it in "Access denied" messages.
    pub(crate) fn peer_host(&self) -> String {
        self.peer.ip().to_string()
    }

    pub(crate) fn conn_id(&self) -> u64 {
        self.conn_id
    }

    /// Note the negotiated TLS parameters of the connection.
    pub(crate) fn set_tls(&mut self, conn: &rustls::ServerConnection) {
        self.tls_version = version_name(conn.protocol_version());
        self.alpn = conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        self.sni = conn.server_name().map(str::to_owned);
    }

    pub(crate) fn record(&self, decision: &str, path: Option<String>, detail: Option<String>) {
        tracing::debug!(
            conn = self.conn_id,
            peer = %self.peer,
            cn = ?self.client_cn,
            decision,
            "lab connection"
        );
        self.state.push(ConnEvent {
            conn_id: self.conn_id,
            peer: self.peer,
            client_cn: self.client_cn.clone(),
            tls_version: self.tls_version.clone(),
            alpn: self.alpn.clone(),
            sni: self.sni.clone(),
            path,
            decision: decision.to_owned(),
            detail,
            at: SystemTime::now(),
        });
    }
}

/// The behaviour of an endpoint, with its prepared TLS configuration.
pub(crate) enum Kind {
    /// PD client port: TLS 1.3, h2 -> gRPC (no CN check), otherwise HTTP/1.1.
    Pd {
        acceptor: TlsAcceptor,
    },
    /// gRPC C-core imitation (TiKV / TiFlash).
    Grpc {
        with_h2: Arc<ServerConfig>,
        no_alpn: Arc<ServerConfig>,
        policy: Arc<GrpcPolicy>,
        /// C-core closes a connection that did not negotiate h2; `false` for a server that
        /// negotiates no ALPN and serves HTTP/2 by prior knowledge.
        require_h2: bool,
    },
    /// TiKV status port.
    TikvStatus {
        acceptor: TlsAcceptor,
        allowed: Vec<String>,
    },
    /// TiDB status port.
    TidbStatus {
        acceptor: TlsAcceptor,
    },
    /// Go TLS 1.2 status port that resets the connection after refusing a certificate.
    GoTls12 {
        acceptor: TlsAcceptor,
    },
    /// TiDB SQL port (MySQL protocol, TLS in-band); no acceptor when TLS is not offered.
    TidbSql {
        acceptor: Option<TlsAcceptor>,
        config: Arc<super::mysql::SqlConfig>,
    },
    Plaintext,
    Silent,
    Garbage,
    Reset,
}

pub(crate) struct Runtime {
    pub(crate) kind: Kind,
    pub(crate) state: Arc<EndpointState>,
}

/// Accept connections until `shutdown` fires (or its sender is dropped); then abort and
/// await every connection task. Dropping (aborting) this future aborts them too, because the
/// `JoinSet` that owns them is dropped with it.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    current: watch::Receiver<Arc<Runtime>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns: JoinSet<()> = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // The behaviour in force when the connection arrived (see Lab::reconfigure).
                    let rt = current.borrow().clone();
                    let id = rt.state.connections.fetch_add(1, Ordering::Relaxed) + 1;
                    let _ = stream.set_nodelay(true);
                    conns.spawn(handle(rt, stream, peer, id));
                }
                Err(e) => {
                    // Typically EMFILE/ENFILE: back off instead of spinning.
                    tracing::warn!(error = %e, "lab accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
    drop(listener);
    conns.shutdown().await;
}

async fn handle(rt: Arc<Runtime>, stream: TcpStream, peer: SocketAddr, id: u64) {
    let info = ConnInfo::new(rt.state.clone(), id, peer);
    match &rt.kind {
        Kind::Silent => silent(stream, info).await,
        Kind::Garbage => garbage(stream, info).await,
        Kind::Reset => reset(stream, &info),
        Kind::Plaintext => plaintext(stream, info).await,
        Kind::TidbSql { acceptor, config } => {
            let serve = super::mysql::serve(stream, info, acceptor.clone(), config.clone());
            NOTE.scope(ConnNote::default(), serve).await;
        }
        _ => {
            NOTE.scope(ConnNote::default(), tls_conn(rt.clone(), stream, info))
                .await;
        }
    }
}

async fn silent(mut stream: TcpStream, info: ConnInfo) {
    info.record("silent", None, None);
    let mut sink = [0u8; 4096];
    while let Ok(n) = stream.read(&mut sink).await {
        if n == 0 {
            break;
        }
    }
}

async fn garbage(mut stream: TcpStream, info: ConnInfo) {
    let mut sink = [0u8; 1024];
    let _ = tokio::time::timeout(GARBAGE_READ_TIMEOUT, stream.read(&mut sink)).await;
    info.record("garbage_sent", None, None);
    http::write_and_close(&mut stream, &GARBAGE).await;
}

fn reset(stream: TcpStream, info: &ConnInfo) {
    info.record("reset", None, None);
    if let Err(e) = stream.set_zero_linger() {
        tracing::warn!(error = %e, "lab: SO_LINGER 0 failed; closing normally");
    }
    drop(stream);
}

async fn plaintext(mut stream: TcpStream, info: ConnInfo) {
    let mut first = [0u8; 2048];
    let n = match tokio::time::timeout(http::HEAD_TIMEOUT, stream.read(&mut first)).await {
        Ok(Ok(0)) => {
            info.record("http_no_request:eof", None, None);
            return;
        }
        Ok(Ok(n)) => n,
        Ok(Err(e)) => {
            info.record(&format!("http_no_request:io:{:?}", e.kind()), None, None);
            return;
        }
        Err(_) => {
            info.record("http_no_request:timeout", None, None);
            return;
        }
    };
    if first[0] == 0x16 {
        info.record(
            "http_status:400",
            None,
            Some("TLS record on a plaintext HTTP port (Go net/http answer)".into()),
        );
        http::write_and_close(&mut stream, GO_TLS_ON_PLAINTEXT).await;
        return;
    }
    serve_http(stream, &info, first[..n].to_vec(), |_req| {
        Response::text(200, "ok\n")
    })
    .await;
}

/// Read one request, route it, record the decision, answer and close.
async fn serve_http<S, F>(mut stream: S, info: &ConnInfo, initial: Vec<u8>, route: F)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Response,
{
    match http::read_request(&mut stream, initial).await {
        Ok(req) => {
            let resp = route(&req);
            info.record(
                &format!("http_status:{}", resp.status),
                Some(req.path),
                None,
            );
            http::respond(&mut stream, &resp).await;
        }
        Err(HeadError::Malformed) => {
            info.record("http_status:400", None, Some("malformed request".into()));
            http::respond(&mut stream, &Response::text(400, "400 Bad Request")).await;
        }
        Err(e) => info.record(&format!("http_no_request:{}", e.tag()), None, None),
    }
}

fn version_name(v: Option<ProtocolVersion>) -> Option<String> {
    v.map(|v| match v {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        other => format!("{other:?}"),
    })
}

/// Classify a failed handshake for the log: the lab's own refusals are
/// `handshake_rejected:*`, everything else (the client's alert, EOF, garbage) is
/// `handshake_failed:*`.
fn handshake_decision(err: &std::io::Error) -> String {
    if err.kind() == std::io::ErrorKind::TimedOut {
        return "handshake_failed:timeout".into();
    }
    let tls = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::NoCertificatesPresented) => "handshake_rejected:no_client_cert".into(),
        Some(rustls::Error::NoApplicationProtocol) => "handshake_rejected:no_alpn_overlap".into(),
        Some(rustls::Error::PeerIncompatible(p)) => {
            format!("handshake_rejected:peer_incompatible:{p:?}")
        }
        Some(rustls::Error::AlertReceived(a)) => format!("handshake_failed:peer_alert:{a:?}"),
        Some(
            rustls::Error::InvalidMessage(_)
            | rustls::Error::InappropriateMessage { .. }
            | rustls::Error::InappropriateHandshakeMessage { .. },
        ) => "handshake_failed:invalid_message".into(),
        Some(other) => format!("handshake_failed:{other}"),
        None if err.kind() == std::io::ErrorKind::UnexpectedEof => "handshake_failed:eof".into(),
        None => format!("handshake_failed:io:{:?}", err.kind()),
    }
}

async fn tls_handshake(rt: &Runtime, io: LabIo) -> std::io::Result<TlsStream<LabIo>> {
    let hs = async {
        match &rt.kind {
            Kind::Grpc {
                with_h2, no_alpn, ..
            } => {
                // Like gRPC C-core (OpenSSL ALPN callback answering NOACK): a client that does
                // not offer h2 gets a handshake without ALPN instead of an alert.
                let start = LazyConfigAcceptor::new(Acceptor::default(), io).await?;
                let offers_h2 = start
                    .client_hello()
                    .alpn()
                    .is_some_and(|mut protos| protos.any(|p| p == b"h2"));
                let config = if offers_h2 { with_h2 } else { no_alpn };
                start.into_stream(config.clone()).await
            }
            Kind::Pd { acceptor }
            | Kind::TikvStatus { acceptor, .. }
            | Kind::TidbStatus { acceptor } => acceptor.accept(io).await,
            Kind::GoTls12 { acceptor } => match acceptor.accept(io).into_fallible().await {
                Ok(tls) => Ok(tls),
                Err((e, io)) => {
                    // Go closes with the client's flight partly unread: the kernel resets.
                    io.abort();
                    Err(e)
                }
            },
            _ => Err(std::io::Error::other("not a TLS endpoint")),
        }
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, hs).await {
        Ok(r) => r,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

async fn tls_conn(rt: Arc<Runtime>, stream: TcpStream, mut info: ConnInfo) {
    let silent_kind = matches!(rt.kind, Kind::Grpc { .. });
    let tls = match tls_handshake(&rt, LabIo::new(stream)).await {
        Ok(tls) => tls,
        Err(e) => {
            info.client_cn = ConnNote::take_cn();
            let decision = match ConnNote::take_reason() {
                Some(reason) if silent_kind => format!("closed_silently:{reason}"),
                Some(reason) => format!("handshake_rejected:{reason}"),
                None => handshake_decision(&e),
            };
            info.record(&decision, None, Some(e.to_string()));
            return;
        }
    };
    let has_cert = {
        let (_, conn) = tls.get_ref();
        info.tls_version = version_name(conn.protocol_version());
        info.alpn = conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        info.sni = conn.server_name().map(str::to_owned);
        let leaf = conn.peer_certificates().and_then(|c| c.first());
        info.client_cn = ConnNote::take_cn().or_else(|| leaf.and_then(|c| leaf_cn(c)));
        leaf.is_some()
    };
    match &rt.kind {
        Kind::Grpc {
            policy, require_h2, ..
        } => {
            // gRPC C-core: no certificate, or no h2, means a bare close (no close_notify).
            if !has_cert {
                tokio::time::sleep(CORE_CHECK_DELAY).await;
                info.record("closed_silently:no_client_cert", None, None);
                return;
            }
            if *require_h2 && info.alpn.as_deref() != Some("h2") {
                tokio::time::sleep(CORE_CHECK_DELAY).await;
                info.record("closed_silently:no_h2_alpn", None, None);
                return;
            }
            grpc::serve(tls, policy.clone(), Arc::new(info)).await;
        }
        Kind::Pd { .. } => {
            if info.alpn.as_deref() == Some("h2") {
                grpc::serve(tls, Arc::new(GrpcPolicy::Open), Arc::new(info)).await;
            } else {
                serve_http(tls, &info, Vec::new(), pd_route).await;
            }
        }
        Kind::TikvStatus { allowed, .. } => {
            let cn = info.client_cn.clone();
            serve_http(tls, &info, Vec::new(), |req| {
                tikv_status_route(req, allowed, cn.as_deref())
            })
            .await;
        }
        Kind::TidbStatus { .. } | Kind::GoTls12 { .. } => {
            serve_http(tls, &info, Vec::new(), tidb_status_route).await;
        }
        _ => {}
    }
}

fn pd_route(req: &Request) -> Response {
    if req.method != "GET" {
        return Response::text(405, "method not allowed");
    }
    Response::json(
        200,
        r#"{"version":"v8.5.0-lab","git_hash":"lab","start_timestamp":0}"#,
    )
}

/// TiKV's status server paths that skip the CN ("certificate role") check.
const TIKV_STATUS_OPEN_PATHS: &[&str] = &["/metrics", "/status", "/config", "/debug/pprof/profile"];

pub(crate) fn tikv_status_route(req: &Request, allowed: &[String], cn: Option<&str>) -> Response {
    let exempt = req.method == "GET" && TIKV_STATUS_OPEN_PATHS.contains(&req.path.as_str());
    let cn_ok = allowed.is_empty() || cn.is_some_and(|cn| allowed.iter().any(|a| a == cn));
    if !exempt && !cn_ok {
        return Response::text(403, "certificate role error");
    }
    match req.path.as_str() {
        "/engine_type" => Response::text(200, "tikv"),
        "/status" => Response::text(200, ""),
        "/metrics" => Response::text(200, "# tlsaudit lab tikv metrics\n"),
        "/config" => Response::json(200, r#"{"security":{"cert-allowed-cn":[]}}"#),
        _ => Response::text(200, "ok"),
    }
}

fn tidb_status_route(req: &Request) -> Response {
    match req.path.as_str() {
        "/status" => Response::json(
            200,
            r#"{"connections":0,"version":"8.0.11-TiDB-v8.5.0-lab","git_hash":"lab"}"#,
        ),
        "/metrics" => Response::text(200, "# tlsaudit lab tidb metrics\n"),
        _ => Response::text(404, "404 page not found\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_neither_tls_nor_text() {
        assert_eq!(GARBAGE[0], 0x9f);
        assert!(GARBAGE.iter().all(|b| *b >= 0x80));
        assert!(
            GARBAGE
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len()
                > 16
        );
    }

    #[test]
    fn tikv_status_routes() {
        let allowed = vec!["tidb".to_owned()];
        let get = |p: &str| Request {
            method: "GET".into(),
            path: p.into(),
        };
        let r = tikv_status_route(&get("/engine_type"), &allowed, Some("lab-client"));
        assert_eq!((r.status, r.body.as_str()), (403, "certificate role error"));
        assert_eq!(
            tikv_status_route(&get("/metrics"), &allowed, None).status,
            200
        );
        let r = tikv_status_route(&get("/engine_type"), &allowed, Some("tidb"));
        assert_eq!((r.status, r.body.as_str()), (200, "tikv"));
        assert_eq!(tikv_status_route(&get("/anything"), &[], None).status, 200);
    }
}
