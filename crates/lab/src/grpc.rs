//! A tiny gRPC server over h2 that answers `grpc.health.v1.Health/Check` and applies the
//! Common Name checks of TiKV (status 16) and TiFlash (status 7) on every call.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use http::{HeaderMap, HeaderValue, Request, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinSet;

use super::server::ConnInfo;

/// The health-check method every lab gRPC endpoint serves.
pub const HEALTH_CHECK_PATH: &str = "/grpc.health.v1.Health/Check";

/// A serialized `HealthCheckResponse { status: SERVING }`, with its gRPC frame prefix.
const SERVING_FRAME: &[u8] = &[0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x01];

const H2_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no call in flight is closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_BODY: usize = 1024 * 1024;

/// The application-level policy of a gRPC endpoint.
#[derive(Debug, Clone)]
pub(crate) enum GrpcPolicy {
    /// No CN check (PD's gRPC after its handshake-level check).
    Open,
    /// TiKV's `CNChecker`: UNAUTHENTICATED (16) with TiKV's message.
    Tikv { allowed: Vec<String> },
    /// TiFlash: PERMISSION_DENIED (7), "common name check is failed".
    Tiflash { allowed: Vec<String> },
}

/// The gRPC status (and message) the lab answers for a call.
pub(crate) fn decide(policy: &GrpcPolicy, path: &str, cn: Option<&str>) -> (u32, Option<String>) {
    if path != HEALTH_CHECK_PATH {
        return (12, None);
    }
    let allowed_by = |allowed: &[String]| {
        allowed.is_empty() || cn.is_some_and(|cn| allowed.iter().any(|a| a == cn))
    };
    match policy {
        GrpcPolicy::Open => (0, None),
        GrpcPolicy::Tikv { allowed } if allowed_by(allowed) => (0, None),
        GrpcPolicy::Tikv { allowed } => {
            let reason = match cn {
                Some(cn) => format!("x509_common_name from peer is {cn}"),
                None => "x509_common_name doesn't exist".to_owned(),
            };
            let set = allowed
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", ");
            (
                16,
                Some(format!(
                    "Common name check fail, reason: {reason}, cert_allowed_cn: {{{set}}}"
                )),
            )
        }
        GrpcPolicy::Tiflash { allowed } if allowed_by(allowed) => (0, None),
        GrpcPolicy::Tiflash { .. } => (7, Some("common name check is failed".to_owned())),
    }
}

/// Percent-encode a `grpc-message` value as the gRPC HTTP/2 protocol specifies: every byte
/// outside 0x20..=0x7E, and `%` itself.
pub fn percent_encode_grpc_message(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    for &b in msg.as_bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Serve gRPC on an established stream until the peer goes away, the connection idles out,
/// or the task is aborted. Every call is recorded through `info`.
pub(crate) async fn serve<T>(io: T, policy: Arc<GrpcPolicy>, info: Arc<ConnInfo>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handshake = h2::server::Builder::new()
        .max_concurrent_streams(256)
        .handshake::<T, Bytes>(io);
    let mut conn = match tokio::time::timeout(H2_HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            info.record("h2_failed", None, Some(e.to_string()));
            return;
        }
        Err(_) => {
            info.record(
                "h2_failed",
                None,
                Some("timeout waiting for the h2 preface".into()),
            );
            return;
        }
    };
    let mut calls: JoinSet<()> = JoinSet::new();
    let mut served = 0u64;
    loop {
        let idle = tokio::time::sleep(IDLE_TIMEOUT);
        tokio::select! {
            next = conn.accept() => match next {
                Some(Ok((req, respond))) => {
                    served += 1;
                    calls.spawn(call(req, respond, policy.clone(), info.clone()));
                }
                Some(Err(_)) | None => break,
            },
            Some(_) = calls.join_next(), if !calls.is_empty() => {}
            () = idle, if calls.is_empty() => break,
        }
    }
    if served == 0 {
        info.record(
            "accepted",
            None,
            Some("h2 connection closed without a call".into()),
        );
    }
}

async fn call(
    req: Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    policy: Arc<GrpcPolicy>,
    info: Arc<ConnInfo>,
) {
    let path = req.uri().path().to_owned();
    let mut body = req.into_body();
    let drain = async {
        let mut total = 0usize;
        while let Some(chunk) = body.data().await {
            let chunk = chunk?;
            total += chunk.len();
            let _ = body.flow_control().release_capacity(chunk.len());
            if total > MAX_BODY {
                break;
            }
        }
        Ok::<(), h2::Error>(())
    };
    match tokio::time::timeout(BODY_TIMEOUT, drain).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            info.record("grpc_aborted", Some(path), Some(e.to_string()));
            return;
        }
        Err(_) => {
            info.record(
                "grpc_aborted",
                Some(path),
                Some("request body timeout".into()),
            );
            return;
        }
    }
    let (status, message) = decide(&policy, &path, info.client_cn.as_deref());
    // Log first: the client may look at the log as soon as it has the answer.
    info.record(
        &format!("grpc_status:{status}"),
        Some(path),
        message.clone(),
    );
    let sent = if status == 0 {
        send_serving(&mut respond)
    } else {
        send_trailers_only(&mut respond, status, message.as_deref())
    };
    if let Err(e) = sent {
        tracing::debug!(error = %e, "lab: sending a gRPC response failed");
    }
}

fn grpc_response() -> Response<()> {
    let mut resp = Response::new(());
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    resp
}

fn send_serving(respond: &mut SendResponse<Bytes>) -> Result<(), h2::Error> {
    let mut stream = respond.send_response(grpc_response(), false)?;
    stream.send_data(Bytes::from_static(SERVING_FRAME), false)?;
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    stream.send_trailers(trailers)
}

fn send_trailers_only(
    respond: &mut SendResponse<Bytes>,
    status: u32,
    message: Option<&str>,
) -> Result<(), h2::Error> {
    let mut resp = grpc_response();
    let headers = resp.headers_mut();
    headers.insert("grpc-status", HeaderValue::from(status));
    if let Some(msg) = message {
        if let Ok(v) = HeaderValue::from_str(&percent_encode_grpc_message(msg)) {
            headers.insert("grpc-message", v);
        }
    }
    respond.send_response(resp, true).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tikv_message_matches_tikv_text() {
        let p = GrpcPolicy::Tikv {
            allowed: vec!["tidb".into(), "pd".into()],
        };
        assert_eq!(decide(&p, HEALTH_CHECK_PATH, Some("tidb")), (0, None));
        let (status, msg) = decide(&p, HEALTH_CHECK_PATH, Some("lab-client"));
        assert_eq!(status, 16);
        assert_eq!(
            msg.as_deref(),
            Some(
                "Common name check fail, reason: x509_common_name from peer is lab-client, \
                 cert_allowed_cn: {\"tidb\", \"pd\"}"
            )
        );
        assert_eq!(decide(&p, "/tikvpb.Tikv/KvGet", Some("tidb")).0, 12);
        assert_eq!(decide(&p, "/tikvpb.Tikv/KvGet", Some("x")).0, 12);
    }

    #[test]
    fn tiflash_and_open() {
        let p = GrpcPolicy::Tiflash {
            allowed: vec!["tidb".into()],
        };
        assert_eq!(
            decide(&p, HEALTH_CHECK_PATH, Some("pd")),
            (7, Some("common name check is failed".into()))
        );
        assert_eq!(
            decide(&GrpcPolicy::Open, HEALTH_CHECK_PATH, None),
            (0, None)
        );
        let empty = GrpcPolicy::Tikv { allowed: vec![] };
        assert_eq!(decide(&empty, HEALTH_CHECK_PATH, Some("anyone")), (0, None));
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(percent_encode_grpc_message("a b{\"c\"}"), "a b{\"c\"}");
        assert_eq!(percent_encode_grpc_message("50%\n"), "50%25%0A");
        assert_eq!(percent_encode_grpc_message("é"), "%C3%A9");
    }
}
