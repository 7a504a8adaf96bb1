//! A TiDB-like SQL endpoint (MySQL protocol, TiDB's port 4000), as TiDB's `server/conn.go`
//! behaves:
//!
//! - The greeting (server version `8.0.11-TiDB-v8.5.0-lab`, `mysql_native_password`) carries
//!   `CLIENT_SSL` only when a server certificate is loaded ([`SqlConfig::tls`]).
//! - A 32-byte SSLRequest switches the socket to TLS; with a client CA ([`SqlConfig::client_ca`])
//!   the server asks for a client certificate and verifies one that is given
//!   (`VerifyClientCertIfGiven`), but admits a client without one.
//! - A HandshakeResponse without TLS meets `require-secure-transport` right after its header,
//!   before authentication: `3159 ER_SECURE_TRANSPORT_REQUIRED` whatever the user.
//! - Authentication: `mysql_native_password` against the configured account, else `1045
//!   Access denied for user '<user>'@'<host>' (using password: YES|NO)`.
//! - After a login: COM_PING answers OK, COM_QUIT closes, anything else answers 1047.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::server::ConnInfo;
use super::verify::{leaf_cn, ConnNote, LabIo};

pub(crate) const SERVER_VERSION: &str = "8.0.11-TiDB-v8.5.0-lab";
const NATIVE: &str = "mysql_native_password";
const CLIENT_PROTOCOL_41: u32 = 0x0200;
const CLIENT_SSL: u32 = 0x0800;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_PLUGIN_AUTH: u32 = 0x0008_0000;
const CLIENT_PLUGIN_AUTH_LENENC: u32 = 0x0020_0000;
const CLIENT_CONNECT_WITH_DB: u32 = 0x0008;
/// TiDB's default capabilities (without CLIENT_SSL).
const CAPABILITIES: u32 = 0x0000_0001 // LONG_PASSWORD
    | 0x0000_0004 // LONG_FLAG
    | CLIENT_CONNECT_WITH_DB
    | CLIENT_PROTOCOL_41
    | 0x0000_2000 // TRANSACTIONS
    | CLIENT_SECURE_CONNECTION
    | 0x0001_0000 // MULTI_STATEMENTS
    | 0x0002_0000 // MULTI_RESULTS
    | CLIENT_PLUGIN_AUTH
    | CLIENT_PLUGIN_AUTH_LENENC;
const READ_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_PACKET: usize = 64 * 1024;

/// A MySQL account of the lab's SQL endpoint. Only the `mysql_native_password` hash,
/// SHA1(SHA1(password)), is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct SqlAccount {
    /// The user name.
    pub user: String,
    hash: [u8; 20],
}

impl SqlAccount {
    /// An account with this password.
    pub fn new(user: impl Into<String>, password: &str) -> Self {
        Self {
            user: user.into(),
            hash: sha1(&[&sha1(&[password.as_bytes()])]),
        }
    }

    /// Whether `scramble` answers `nonce` with this account's password.
    fn verify(&self, nonce: &[u8], scramble: &[u8]) -> bool {
        if scramble.len() != 20 {
            return false;
        }
        let mix = sha1(&[nonce, &self.hash]);
        let stage1: Vec<u8> = scramble
            .iter()
            .zip(mix.iter())
            .map(|(a, b)| a ^ b)
            .collect();
        sha1(&[&stage1]) == self.hash
    }
}

impl std::fmt::Debug for SqlAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlAccount")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// How the SQL endpoint is configured (TiDB's `[security]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlConfig {
    /// `ssl-cert`/`ssl-key` set: TLS offered.
    pub tls: bool,
    /// `ssl-ca` set: a client certificate is asked for, and verified when given.
    pub client_ca: bool,
    /// `require-secure-transport`: plaintext logins get 3159 before authentication.
    pub require_secure_transport: bool,
    /// The account that can log in.
    pub account: Option<SqlAccount>,
}

impl Default for SqlConfig {
    fn default() -> Self {
        Self {
            tls: true,
            client_ca: true,
            require_secure_transport: true,
            account: None,
        }
    }
}

fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 20];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

async fn read_packet<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 4];
    tokio::time::timeout(READ_TIMEOUT, r.read_exact(&mut head))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
    if len > MAX_PACKET {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "packet too large",
        ));
    }
    let mut payload = vec![0u8; len];
    tokio::time::timeout(READ_TIMEOUT, r.read_exact(&mut payload))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    Ok((head[3], payload))
}

async fn write_packet<W: AsyncWrite + Unpin>(
    w: &mut W,
    seq: u8,
    payload: &[u8],
) -> std::io::Result<()> {
    let len = u32::try_from(payload.len()).unwrap_or(0);
    let mut buf = Vec::with_capacity(payload.len() + 4);
    buf.extend_from_slice(&len.to_le_bytes()[..3]);
    buf.push(seq);
    buf.extend_from_slice(payload);
    w.write_all(&buf).await?;
    w.flush().await
}

fn ok_packet() -> Vec<u8> {
    vec![0x00, 0, 0, 0x02, 0, 0, 0]
}

fn err_packet(code: u16, state: &str, message: &str) -> Vec<u8> {
    let mut out = vec![0xff];
    out.extend_from_slice(&code.to_le_bytes());
    out.push(b'#');
    out.extend_from_slice(state.as_bytes());
    out.extend_from_slice(message.as_bytes());
    out
}

fn nonce() -> [u8; 20] {
    let mut n = [0u8; 20];
    if aws_lc_rs::rand::fill(&mut n).is_err() {
        n = [b'x'; 20];
    }
    // MySQL nonces are printable-ish: never 0, 7 bits.
    for b in &mut n {
        *b = (*b & 0x7f).max(1);
    }
    n
}

fn greeting(conn_id: u32, nonce: &[u8; 20], tls: bool) -> Vec<u8> {
    let caps = if tls {
        CAPABILITIES | CLIENT_SSL
    } else {
        CAPABILITIES
    };
    let mut out = vec![10];
    out.extend_from_slice(SERVER_VERSION.as_bytes());
    out.push(0);
    out.extend_from_slice(&conn_id.to_le_bytes());
    out.extend_from_slice(&nonce[..8]);
    out.push(0);
    out.extend_from_slice(&(caps as u16).to_le_bytes());
    out.push(46); // utf8mb4_bin, TiDB's default collation
    out.extend_from_slice(&2u16.to_le_bytes()); // SERVER_STATUS_AUTOCOMMIT
    out.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    out.push(21);
    out.extend_from_slice(&[0; 10]);
    out.extend_from_slice(&nonce[8..]);
    out.push(0);
    out.extend_from_slice(NATIVE.as_bytes());
    out.push(0);
    out
}

/// The fields of a HandshakeResponse41 the endpoint uses.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Response {
    capabilities: u32,
    user: String,
    auth: Vec<u8>,
    plugin: Option<String>,
}

fn lenenc(p: &[u8]) -> Option<(usize, usize)> {
    match *p.first()? {
        n @ 0..=0xfa => Some((usize::from(n), 1)),
        0xfc => Some((usize::from(u16::from_le_bytes([*p.get(1)?, *p.get(2)?])), 3)),
        _ => None,
    }
}

fn parse_response(p: &[u8]) -> Option<Response> {
    let capabilities = u32::from_le_bytes(p.get(..4)?.try_into().ok()?);
    let rest = p.get(32..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    let user = String::from_utf8_lossy(&rest[..end]).into_owned();
    let rest = &rest[end + 1..];
    let (auth, rest) = if capabilities & CLIENT_PLUGIN_AUTH_LENENC != 0 {
        let (n, skip) = lenenc(rest)?;
        (rest.get(skip..skip + n)?, rest.get(skip + n..)?)
    } else if capabilities & CLIENT_SECURE_CONNECTION != 0 {
        let n = usize::from(*rest.first()?);
        (rest.get(1..1 + n)?, rest.get(1 + n..)?)
    } else {
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        (&rest[..end], rest.get(end + 1..).unwrap_or(&[]))
    };
    let mut rest = rest;
    if capabilities & CLIENT_CONNECT_WITH_DB != 0 {
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        rest = rest.get(end + 1..).unwrap_or(&[]);
    }
    let plugin = (capabilities & CLIENT_PLUGIN_AUTH != 0).then(|| {
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        String::from_utf8_lossy(&rest[..end]).into_owned()
    });
    Some(Response {
        capabilities,
        user,
        auth: auth.to_vec(),
        plugin,
    })
}

/// Serve one connection. Must run inside the connection's [`ConnNote`] scope.
pub(crate) async fn serve(
    stream: TcpStream,
    mut info: ConnInfo,
    acceptor: Option<TlsAcceptor>,
    config: Arc<SqlConfig>,
) {
    let peer_host = info.peer_host();
    let mut io = LabIo::new(stream);
    let nonce = nonce();
    let conn_id = u32::try_from(info.conn_id()).unwrap_or(u32::MAX);
    if write_packet(&mut io, 0, &greeting(conn_id, &nonce, acceptor.is_some()))
        .await
        .is_err()
    {
        info.record("sql_no_request:io", None, None);
        return;
    }
    let (seq, first) = match read_packet(&mut io).await {
        Ok(p) => p,
        Err(e) => {
            info.record(&format!("sql_no_request:{:?}", e.kind()), None, None);
            return;
        }
    };
    if first.len() < 32 {
        info.record(
            "sql_malformed",
            None,
            Some("handshake response shorter than 32 bytes".into()),
        );
        return;
    }
    let caps = u32::from_le_bytes([first[0], first[1], first[2], first[3]]);
    match (&acceptor, caps & CLIENT_SSL != 0) {
        (Some(acceptor), true) => {
            let tls = match tokio::time::timeout(READ_TIMEOUT, acceptor.accept(io)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    info.client_cn = ConnNote::take_cn();
                    let decision = match ConnNote::take_reason() {
                        Some(reason) => format!("handshake_rejected:{reason}"),
                        None => "handshake_failed".to_string(),
                    };
                    info.record(&decision, None, Some(e.to_string()));
                    return;
                }
                Err(_) => {
                    info.record("handshake_failed:timeout", None, None);
                    return;
                }
            };
            {
                let (_, conn) = tls.get_ref();
                let leaf = conn.peer_certificates().and_then(|c| c.first());
                info.client_cn = ConnNote::take_cn().or_else(|| leaf.and_then(|c| leaf_cn(c)));
                info.set_tls(conn);
            }
            authenticate(tls, &mut info, &config, &nonce, &peer_host).await;
        }
        (_, false) if config.require_secure_transport => {
            // TiDB: checked right after the response header, before authentication.
            let e = err_packet(
                3159,
                "HY000",
                "Connections using insecure transport are prohibited while --require_secure_transport=ON.",
            );
            let _ = write_packet(&mut io, seq.wrapping_add(1), &e).await;
            info.record("sql_error:3159", None, None);
        }
        _ => {
            // No SSLRequest (or one a server without TLS reads as the response itself).
            authenticate_first(io, &mut info, &config, &nonce, seq, &first, &peer_host).await;
        }
    }
}

async fn authenticate_first(
    mut io: LabIo,
    info: &mut ConnInfo,
    config: &SqlConfig,
    nonce: &[u8; 20],
    seq: u8,
    first: &[u8],
    host: &str,
) {
    let Some(resp) = parse_response(first) else {
        info.record("sql_malformed", None, None);
        return;
    };
    let login = Login {
        info,
        config,
        nonce,
        host,
        tls: false,
    };
    answer(&mut io, login, seq, resp).await;
}

async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    info: &mut ConnInfo,
    config: &SqlConfig,
    nonce: &[u8; 20],
    host: &str,
) {
    let (seq, p) = match read_packet(&mut s).await {
        Ok(x) => x,
        Err(e) => {
            info.record(&format!("sql_no_request:{:?}", e.kind()), None, None);
            return;
        }
    };
    let Some(resp) = parse_response(&p) else {
        info.record("sql_malformed", None, None);
        return;
    };
    let login = Login {
        info,
        config,
        nonce,
        host,
        tls: true,
    };
    answer(&mut s, login, seq, resp).await;
}

/// A connection's login: what it records into, the server's config, the nonce it sent, the
/// client's host and whether the connection is TLS.
struct Login<'a> {
    info: &'a mut ConnInfo,
    config: &'a SqlConfig,
    nonce: &'a [u8; 20],
    host: &'a str,
    tls: bool,
}

/// Answer a handshake response: switch its plugin if needed, check the password, then serve
/// the command phase to a client admitted.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    login: Login<'_>,
    seq: u8,
    resp: Response,
) {
    let Login {
        info,
        config,
        nonce,
        host,
        tls,
    } = login;
    let Some((seq, auth)) = native_auth(s, info, nonce, seq, &resp).await else {
        return;
    };
    let admitted = config
        .account
        .as_ref()
        .is_some_and(|a| a.user == resp.user && a.verify(nonce, &auth));
    let path = Some(resp.user.clone());
    if !admitted {
        let msg = format!(
            "Access denied for user '{}'@'{host}' (using password: {})",
            resp.user,
            if auth.is_empty() { "NO" } else { "YES" }
        );
        let _ = write_packet(s, seq.wrapping_add(1), &err_packet(1045, "28000", &msg)).await;
        info.record("sql_error:1045", path, Some(msg));
        return;
    }
    if write_packet(s, seq.wrapping_add(1), &ok_packet())
        .await
        .is_err()
    {
        return;
    }
    info.record(
        if tls {
            "sql_login:tls"
        } else {
            "sql_login:plaintext"
        },
        path,
        None,
    );
    command_phase(s).await;
}

/// The sequence number and the mysql_native_password scramble of a response: as sent, or
/// after switching a client that answered for another plugin. `None`: the connection is gone.
async fn native_auth<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    info: &mut ConnInfo,
    nonce: &[u8; 20],
    seq: u8,
    resp: &Response,
) -> Option<(u8, Vec<u8>)> {
    let other_plugin = resp.capabilities & CLIENT_PLUGIN_AUTH != 0
        && resp.plugin.as_deref().is_some_and(|p| p != NATIVE);
    if !other_plugin {
        return Some((seq, resp.auth.clone()));
    }
    let mut switch = vec![0xfe];
    switch.extend_from_slice(NATIVE.as_bytes());
    switch.push(0);
    switch.extend_from_slice(nonce);
    switch.push(0);
    let seq = seq.wrapping_add(1);
    if write_packet(s, seq, &switch).await.is_err() {
        return None;
    }
    match read_packet(s).await {
        Ok(answer) => Some(answer),
        Err(_) => {
            info.record("sql_no_request:auth_switch", None, None);
            None
        }
    }
}

/// The command phase: COM_PING and COM_QUIT, any other command refused; then shut down.
async fn command_phase<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) {
    while let Ok((_, p)) = read_packet(s).await {
        match p.first() {
            Some(0x01) | None => break,
            Some(0x0e) => {
                if write_packet(s, 1, &ok_packet()).await.is_err() {
                    break;
                }
            }
            Some(_) => {
                let e = err_packet(1047, "08S01", "Unknown command");
                if write_packet(s, 1, &e).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = s.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_password_verifies() {
        let a = SqlAccount::new("audit", "pw");
        let nonce = [7u8; 20];
        let stage1 = sha1(&[b"pw"]);
        let mix = sha1(&[&nonce, &sha1(&[&stage1])]);
        let scramble: Vec<u8> = stage1.iter().zip(mix.iter()).map(|(a, b)| a ^ b).collect();
        assert!(a.verify(&nonce, &scramble));
        assert!(!a.verify(&[8u8; 20], &scramble));
        assert!(!a.verify(&nonce, &[]));
        assert!(!format!("{a:?}").contains("pw\""));
    }

    #[test]
    fn response_parses() {
        let mut p = Vec::new();
        p.extend_from_slice(
            &(CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH).to_le_bytes(),
        );
        p.extend_from_slice(&[0; 28]);
        p.extend_from_slice(b"bob\0");
        p.push(3);
        p.extend_from_slice(b"abc");
        p.extend_from_slice(b"mysql_native_password\0");
        let r = parse_response(&p).unwrap();
        assert_eq!(r.user, "bob");
        assert_eq!(r.auth, b"abc");
        assert_eq!(r.plugin.as_deref(), Some(NATIVE));
    }
}
