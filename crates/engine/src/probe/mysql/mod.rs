//! The `mysql` protocol: TLS on a MySQL-protocol port (TiDB 4000, TiProxy 6000, MySQL,
//! MariaDB), where TLS starts in-band.
//!
//! 1. Read the server's initial handshake: version, capability flags. `CLIENT_SSL` (0x0800) is
//!    set only when the server has a certificate loaded: without it, TLS is not offered at all.
//! 2. Send the 32-byte SSLRequest (sequence 1) and run the instrumented TLS handshake of
//!    [`super::probe`] on the same socket (chain, version, client certificate requested and
//!    accepted).
//! 3. Inside TLS, log in (sequence 2): as the audit account when one is given, else as a user
//!    that cannot exist. Any answer of the server's SQL layer proves the TLS session was
//!    accepted; `1045` (access denied) for the made-up user is the usual one.
//! 4. On a second connection, the same login without TLS. TiDB checks
//!    `require-secure-transport` right after the HandshakeResponse header, before
//!    authentication, and answers `3159`: plaintext refused, proved without any credential.
//!    MySQL and MariaDB check it after authentication: a `1045` in plaintext only proves that
//!    plaintext reached authentication ("unknown; give an audit account to be sure"). With an
//!    audit account that logs in over TLS, a plaintext refusal is proof, and a plaintext login
//!    is proof of the opposite.
//!
//! The audit account's password is a [`Secret`]: it never prints, and it leaves this module
//! only as the `mysql_native_password` scramble (SHA1-based, salted with the server's nonce).
//! The codec is generic over the stream so that tests drive it in memory.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::check::{classify_failure, CheckResult, Tap};
use super::classify::{self, Attribution};
use super::observe::Observer;
use super::record::{Evidence, Outcome, OutcomeClass, Phase, ProbeRecord};
use super::ProbeSpec;
use crate::error::InputError;

pub const CLIENT_LONG_PASSWORD: u32 = 0x0000_0001;
pub const CLIENT_LONG_FLAG: u32 = 0x0000_0004;
pub const CLIENT_PROTOCOL_41: u32 = 0x0000_0200;
pub const CLIENT_SSL: u32 = 0x0000_0800;
pub const CLIENT_TRANSACTIONS: u32 = 0x0000_2000;
pub const CLIENT_SECURE_CONNECTION: u32 = 0x0000_8000;
pub const CLIENT_PLUGIN_AUTH: u32 = 0x0008_0000;

/// `ER_ACCESS_DENIED_ERROR`: "Access denied for user ...".
pub const ER_ACCESS_DENIED: u16 = 1045;
/// `ER_HOST_NOT_PRIVILEGED`: "Host ... is not allowed to connect to this ... server".
pub const ER_HOST_NOT_PRIVILEGED: u16 = 1130;
/// `ER_SECURE_TRANSPORT_REQUIRED`: "Connections using insecure transport are prohibited while
/// --require_secure_transport=ON."
pub const ER_SECURE_TRANSPORT_REQUIRED: u16 = 3159;
/// The client library's `CR_SSL_CONNECTION_ERROR` ("SSL connection error: ...").
pub const CR_SSL_CONNECTION_ERROR: u16 = 2026;

/// The user of a login without an audit account: a name no server has.
pub const MADE_UP_USER: &str = "tlsaudit_no_such_user";
/// The only authentication plugin the probe speaks.
pub const NATIVE_PASSWORD: &str = "mysql_native_password";
/// The environment variable holding the audit account's password.
pub const PASSWORD_ENV: &str = "TLSAUDIT_MYSQL_PASSWORD";

/// The largest packet accepted from a server before authentication.
const MAX_PACKET: usize = 64 * 1024;
/// utf8mb4_general_ci.
const CHARSET: u8 = 45;
const MAX_PACKET_SIZE: u32 = 16 * 1024 * 1024;

/// A password that never prints (`Debug` shows `Secret(..)`, there is no `Display` and no
/// `Serialize`) and is wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(zeroize::Zeroizing<String>);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(zeroize::Zeroizing::new(s.into()))
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// An audit account: a MySQL user that needs no privilege at all (it only logs in). With one,
/// the probe logs in over TLS and in plaintext and compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlAccount {
    pub user: String,
    password: Secret,
}

impl MysqlAccount {
    pub fn new(user: impl Into<String>, password: Secret) -> MysqlAccount {
        MysqlAccount {
            user: user.into(),
            password,
        }
    }

    /// `--mysql-user NAME` with its password from `password_file` (one line; a trailing line
    /// break is dropped), else from `TLSAUDIT_MYSQL_PASSWORD`. Never from the command line;
    /// errors never quote the file's content.
    pub fn load(user: &str, password_file: Option<&Path>) -> Result<MysqlAccount, InputError> {
        if user.is_empty() {
            return Err(InputError::usage(
                "--mysql-user is empty",
                "give the audit account's user name",
            ));
        }
        let password = match password_file {
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|e| InputError::io(path, &e))?;
                let mut text = String::from_utf8(bytes).map_err(|_| {
                    InputError::file(
                        path,
                        "is not UTF-8 text",
                        "write the password on one line, as UTF-8",
                    )
                })?;
                if text.ends_with('\n') {
                    text.pop();
                    if text.ends_with('\r') {
                        text.pop();
                    }
                }
                let secret = Secret::new(text);
                if secret.expose().contains('\n') {
                    return Err(InputError::file(
                        path,
                        "holds more than one line",
                        "write only the password, on one line",
                    ));
                }
                secret
            }
            None => match std::env::var(PASSWORD_ENV) {
                Ok(v) => Secret::new(v),
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(InputError::usage(
                        format!("{PASSWORD_ENV} is not valid UTF-8"),
                        "set it to the audit account's password",
                    ))
                }
                Err(std::env::VarError::NotPresent) => {
                    return Err(InputError::usage(
                        format!("--mysql-user {user} needs the account's password"),
                        format!("set {PASSWORD_ENV}, or give --mysql-password-file FILE (never on the command line)"),
                    ))
                }
            },
        };
        Ok(MysqlAccount::new(user, password))
    }
}

/// The server's initial handshake (protocol version 10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    pub server_version: String,
    pub connection_id: u32,
    pub capabilities: u32,
    pub charset: u8,
    /// The nonce (auth-plugin-data, usually 20 bytes).
    pub nonce: Vec<u8>,
    pub auth_plugin: Option<String>,
}

impl Greeting {
    /// Parse the payload of the initial handshake packet.
    pub fn parse(p: &[u8]) -> Result<Greeting, String> {
        let mut r = Reader(p);
        let version = r.u8().ok_or("empty greeting")?;
        if version != 10 {
            return Err(format!("protocol version {version}, not 10"));
        }
        let server_version =
            String::from_utf8_lossy(r.nul_str().ok_or("no server version")?).into_owned();
        let connection_id = r.u32().ok_or("no connection id")?;
        let mut nonce = r.take(8).ok_or("no auth-plugin-data")?.to_vec();
        r.u8().ok_or("truncated greeting")?;
        let mut capabilities = u32::from(r.u16().ok_or("no capability flags")?);
        let mut charset = 0;
        let mut auth_plugin = None;
        if let Some(cs) = r.u8() {
            charset = cs;
            r.u16().ok_or("no status flags")?;
            capabilities |= u32::from(r.u16().ok_or("no upper capability flags")?) << 16;
            let data_len = usize::from(r.u8().ok_or("no auth-plugin-data length")?);
            r.take(10).ok_or("truncated reserved bytes")?;
            if capabilities & CLIENT_SECURE_CONNECTION != 0 {
                let n = data_len.saturating_sub(8).max(13).min(r.0.len());
                let part2 = r.take(n).ok_or("truncated auth-plugin-data")?;
                // The second part ends with a NUL that is not part of the nonce.
                let part2 = part2.strip_suffix(&[0]).unwrap_or(part2);
                nonce.extend_from_slice(part2);
            }
            if capabilities & CLIENT_PLUGIN_AUTH != 0 && !r.0.is_empty() {
                // MySQL 5.5.7 and some proxies omit the final NUL.
                let name = r.nul_str().unwrap_or(r.0);
                auth_plugin = Some(String::from_utf8_lossy(name).into_owned());
            }
        }
        Ok(Greeting {
            server_version,
            connection_id,
            capabilities,
            charset,
            nonce,
            auth_plugin,
        })
    }

    /// The payload of a greeting (the lab and tests use it).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![10];
        out.extend_from_slice(self.server_version.as_bytes());
        out.push(0);
        out.extend_from_slice(&self.connection_id.to_le_bytes());
        let (part1, part2) = self.nonce.split_at(self.nonce.len().min(8));
        out.extend_from_slice(part1);
        out.push(0);
        out.extend_from_slice(&(self.capabilities as u16).to_le_bytes());
        out.push(self.charset);
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&((self.capabilities >> 16) as u16).to_le_bytes());
        out.push(u8::try_from(self.nonce.len() + 1).unwrap_or(21));
        out.extend_from_slice(&[0; 10]);
        out.extend_from_slice(part2);
        out.push(0);
        if let Some(p) = &self.auth_plugin {
            out.extend_from_slice(p.as_bytes());
            out.push(0);
        }
        out
    }

    pub fn offers_tls(&self) -> bool {
        self.capabilities & CLIENT_SSL != 0
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn nul_str(&mut self) -> Option<&'a [u8]> {
        let i = self.0.iter().position(|&b| b == 0)?;
        let s = &self.0[..i];
        self.0 = &self.0[i + 1..];
        Some(s)
    }
}

/// Read one packet: `(sequence, payload)`.
pub async fn read_packet<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 4];
    r.read_exact(&mut head).await?;
    let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
    if len > MAX_PACKET {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a {len}-byte packet during the handshake"),
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    Ok((head[3], payload))
}

/// Write one packet.
pub async fn write_packet<W: AsyncWrite + Unpin>(
    w: &mut W,
    seq: u8,
    payload: &[u8],
) -> std::io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|l| *l < 0x00ff_ffff)
        .ok_or_else(|| std::io::Error::other("packet too large"))?;
    let mut buf = Vec::with_capacity(payload.len() + 4);
    buf.extend_from_slice(&len.to_le_bytes()[..3]);
    buf.push(seq);
    buf.extend_from_slice(payload);
    w.write_all(&buf).await?;
    w.flush().await
}

/// The capabilities the probe asks for, within what the server offers.
fn client_capabilities(server: u32, tls: bool) -> u32 {
    let mut caps =
        CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS;
    caps |= server & (CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH);
    if tls {
        caps |= CLIENT_SSL;
    }
    caps
}

fn response_header(caps: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&caps.to_le_bytes());
    out.extend_from_slice(&MAX_PACKET_SIZE.to_le_bytes());
    out.push(CHARSET);
    out.extend_from_slice(&[0; 23]);
    out
}

/// The 32-byte SSLRequest.
pub fn ssl_request(server_caps: u32) -> Vec<u8> {
    response_header(client_capabilities(server_caps, true))
}

/// A HandshakeResponse41 with a `mysql_native_password` answer.
pub fn handshake_response(server_caps: u32, tls: bool, user: &str, auth: &[u8]) -> Vec<u8> {
    let caps = client_capabilities(server_caps, tls);
    let mut out = response_header(caps);
    out.extend_from_slice(user.as_bytes());
    out.push(0);
    if caps & CLIENT_SECURE_CONNECTION != 0 {
        out.push(u8::try_from(auth.len()).unwrap_or(0));
        out.extend_from_slice(auth);
    } else {
        out.extend_from_slice(auth);
        out.push(0);
    }
    if caps & CLIENT_PLUGIN_AUTH != 0 {
        out.extend_from_slice(NATIVE_PASSWORD.as_bytes());
        out.push(0);
    }
    out
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

/// `mysql_native_password`: SHA1(password) XOR SHA1(nonce + SHA1(SHA1(password))); empty for
/// an empty password.
pub fn native_scramble(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let nonce = &nonce[..nonce.len().min(20)];
    let stage1 = sha1(&[password]);
    let stage2 = sha1(&[&stage1]);
    let mix = sha1(&[nonce, &stage2]);
    stage1.iter().zip(mix.iter()).map(|(a, b)| a ^ b).collect()
}

/// An error packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrPacket {
    pub code: u16,
    pub sql_state: Option<String>,
    pub message: String,
}

impl ErrPacket {
    pub fn parse(p: &[u8]) -> Option<ErrPacket> {
        let rest = p.strip_prefix(&[0xff])?;
        if rest.len() < 2 {
            return None;
        }
        let code = u16::from_le_bytes([rest[0], rest[1]]);
        let rest = &rest[2..];
        let (sql_state, msg) = match rest.strip_prefix(b"#") {
            Some(r) if r.len() >= 5 => {
                (Some(String::from_utf8_lossy(&r[..5]).into_owned()), &r[5..])
            }
            _ => (None, rest),
        };
        Some(ErrPacket {
            code,
            sql_state,
            message: String::from_utf8_lossy(msg).into_owned(),
        })
    }

    /// The payload of an error packet.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0xff];
        out.extend_from_slice(&self.code.to_le_bytes());
        if let Some(s) = &self.sql_state {
            out.push(b'#');
            out.extend_from_slice(s.as_bytes());
        }
        out.extend_from_slice(self.message.as_bytes());
        out
    }
}

/// How a login ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginResult {
    /// An OK packet: logged in.
    Ok,
    /// An error packet (`code`, `message`).
    Error,
    /// The server switched to an authentication plugin the probe does not speak.
    UnsupportedAuth,
    /// The server closed the connection without an answer.
    Closed,
    /// The answer was not MySQL protocol.
    ProtocolError,
}

/// The server's answer to one login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LoginAnswer {
    pub result: LoginResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The plugin of an AuthSwitchRequest, when the server sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_switch: Option<String>,
}

impl LoginAnswer {
    fn new(result: LoginResult) -> LoginAnswer {
        LoginAnswer {
            result,
            code: None,
            sql_state: None,
            message: None,
            auth_switch: None,
        }
    }

    fn error(e: ErrPacket) -> LoginAnswer {
        LoginAnswer {
            code: Some(e.code),
            sql_state: e.sql_state,
            message: Some(e.message),
            ..LoginAnswer::new(LoginResult::Error)
        }
    }

    pub fn is_error(&self, code: u16) -> bool {
        self.result == LoginResult::Error && self.code == Some(code)
    }

    /// `OK`, `error 1045 (28000): Access denied ...`.
    pub fn describe(&self) -> String {
        match self.result {
            LoginResult::Ok => "OK (logged in)".to_string(),
            LoginResult::Error => format!(
                "error {}{}: {}",
                self.code.unwrap_or(0),
                self.sql_state
                    .as_ref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default(),
                self.message.as_deref().unwrap_or("")
            ),
            LoginResult::UnsupportedAuth => format!(
                "a switch to the authentication plugin {}, which tlsaudit does not speak",
                self.auth_switch.as_deref().unwrap_or("?")
            ),
            LoginResult::Closed => "the connection closed without an answer".to_string(),
            LoginResult::ProtocolError => self
                .message
                .clone()
                .unwrap_or_else(|| "an answer that is not MySQL protocol".to_string()),
        }
    }
}

/// Which user the logins used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// The audit account (`--mysql-user`).
    Audit,
    /// A user that cannot exist ([`MADE_UP_USER`]).
    MadeUp,
}

/// Whether the server refuses plaintext logins, and how sure that is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaintextVerdict {
    /// Proved: 3159 before authentication, or the audit account logs in over TLS only.
    Refused,
    /// Proved: a login without TLS succeeded.
    Accepted,
    /// Plaintext reached authentication and was refused there (1045): the server may refuse
    /// plaintext or not. Give an audit account to be sure.
    Unknown,
    /// The server offers no TLS: every client connects in plaintext.
    NoTls,
    /// The plaintext login could not be made (connection failed, timeout).
    NotTested,
}

impl PlaintextVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            PlaintextVerdict::Refused => "refused",
            PlaintextVerdict::Accepted => "accepted",
            PlaintextVerdict::Unknown => "unknown",
            PlaintextVerdict::NoTls => "no_tls",
            PlaintextVerdict::NotTested => "not_tested",
        }
    }
}

/// What the MySQL exchange showed; part of the probe record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MysqlReport {
    /// The version string of the greeting (`8.0.11-TiDB-v8.5.0`, `10.11.6-MariaDB...`).
    pub server_version: String,
    pub connection_id: u32,
    /// The greeting's capability flags.
    pub capabilities: u32,
    /// `CLIENT_SSL` was set: the server has a certificate loaded and offers TLS.
    pub tls_offered: bool,
    /// The authentication plugin the greeting names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_plugin: Option<String>,
    pub account: AccountKind,
    pub user: String,
    /// The answer to the login inside TLS (absent when no TLS session was reached).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_login: Option<LoginAnswer>,
    /// The answer to the same login without TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plaintext_login: Option<LoginAnswer>,
    pub plaintext: PlaintextVerdict,
    /// Why, in words.
    pub plaintext_detail: String,
}

impl MysqlReport {
    fn new(g: &Greeting, account: Option<&MysqlAccount>) -> MysqlReport {
        MysqlReport {
            server_version: g.server_version.clone(),
            connection_id: g.connection_id,
            capabilities: g.capabilities,
            tls_offered: g.offers_tls(),
            auth_plugin: g.auth_plugin.clone(),
            account: if account.is_some() {
                AccountKind::Audit
            } else {
                AccountKind::MadeUp
            },
            user: account.map_or_else(|| MADE_UP_USER.to_string(), |a| a.user.clone()),
            tls_login: None,
            plaintext_login: None,
            plaintext: PlaintextVerdict::NotTested,
            plaintext_detail: "the plaintext login was not tried in this probe (an audit tries it once per endpoint and round, in its first identity's probe; diagnose in its baseline)".to_string(),
        }
    }

    /// The server calls itself TiDB.
    pub fn is_tidb(&self) -> bool {
        self.server_version.contains("TiDB")
    }
}

/// Log in: send the HandshakeResponse (sequence `seq`), follow an AuthSwitchRequest to
/// `mysql_native_password`, read the verdict. On OK, send COM_QUIT.
pub async fn login<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    seq: u8,
    greeting: &Greeting,
    tls: bool,
    account: Option<&MysqlAccount>,
) -> std::io::Result<LoginAnswer> {
    let user = account.map_or(MADE_UP_USER, |a| a.user.as_str());
    let password = account.map_or(&b""[..], |a| a.password.expose().as_bytes());
    let auth = native_scramble(password, &greeting.nonce);
    let packet = handshake_response(greeting.capabilities, tls, user, &auth);
    write_packet(s, seq, &packet).await?;
    let mut switched = None;
    for _ in 0..3 {
        let (seq, p) = match read_packet(s).await {
            Ok(x) => x,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Ok(LoginAnswer::new(LoginResult::Closed))
            }
            Err(e) => return Err(e),
        };
        match p.first() {
            Some(0x00) => {
                let _ = write_packet(s, 0, &[0x01]).await;
                let _ = tokio::time::timeout(Duration::from_millis(100), s.shutdown()).await;
                return Ok(LoginAnswer {
                    auth_switch: switched,
                    ..LoginAnswer::new(LoginResult::Ok)
                });
            }
            Some(0xff) => {
                let Some(e) = ErrPacket::parse(&p) else {
                    return Ok(protocol_error("a malformed error packet"));
                };
                return Ok(LoginAnswer {
                    auth_switch: switched,
                    ..LoginAnswer::error(e)
                });
            }
            Some(0xfe) if p.len() > 1 => {
                let mut r = Reader(&p[1..]);
                let plugin = String::from_utf8_lossy(r.nul_str().unwrap_or(r.0)).into_owned();
                let data = r.0.strip_suffix(&[0]).unwrap_or(r.0);
                switched = Some(plugin.clone());
                let reply = if plugin == NATIVE_PASSWORD {
                    native_scramble(password, data)
                } else if account.is_none() {
                    // A made-up user has no password in any plugin: an empty answer.
                    Vec::new()
                } else {
                    return Ok(LoginAnswer {
                        auth_switch: switched,
                        ..LoginAnswer::new(LoginResult::UnsupportedAuth)
                    });
                };
                write_packet(s, seq.wrapping_add(1), &reply).await?;
            }
            Some(0x01) if account.is_none() => {
                // More data of another plugin (caching_sha2_password): nothing to add.
                return Ok(LoginAnswer {
                    auth_switch: switched,
                    ..protocol_error("an AuthMoreData packet for a user without password")
                });
            }
            Some(0x01) => {
                return Ok(LoginAnswer {
                    auth_switch: switched.or_else(|| greeting.auth_plugin.clone()),
                    ..LoginAnswer::new(LoginResult::UnsupportedAuth)
                })
            }
            _ => {
                return Ok(protocol_error(
                    "an answer that is not OK, error or auth switch",
                ))
            }
        }
    }
    Ok(protocol_error("more than two authentication switches"))
}

fn protocol_error(words: &str) -> LoginAnswer {
    LoginAnswer {
        message: Some(words.to_string()),
        ..LoginAnswer::new(LoginResult::ProtocolError)
    }
}

/// What the first bytes of a port tell when they are not a MySQL greeting.
fn not_mysql(first: &[u8], rec: &mut ProbeRecord) -> Outcome {
    rec.evidence.peer_bytes = Some(classify::escape(&first[..first.len().min(48)]));
    let (class, proto) = classify::sniff(first)
        .unwrap_or((OutcomeClass::ProtocolError, classify::PeerProtocol::Tls));
    rec.evidence.peer_protocol = Some(proto);
    let words = if proto == classify::PeerProtocol::Tls || class == OutcomeClass::ProtocolError {
        "the port answered with bytes that are not a MySQL greeting".to_string()
    } else {
        format!("the port speaks {proto}, not the MySQL protocol")
    };
    super::outcome(OutcomeClass::ProtocolError, Phase::Handshake, words)
}

/// Read the greeting with the handshake deadline. `Ok(Err((bytes, err)))`: the port answered
/// something else (its first bytes), or an error packet.
async fn greeting(
    tcp: &mut TcpStream,
    deadline: Duration,
) -> Result<Result<Greeting, (Vec<u8>, Option<ErrPacket>)>, Outcome> {
    let read = tokio::time::timeout(deadline, async {
        let mut head = [0u8; 4];
        tcp.read_exact(&mut head).await?;
        let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
        if len == 0 || len > MAX_PACKET || head[3] != 0 {
            // Not a MySQL packet: keep what the port sent, for the evidence.
            let mut more = vec![0u8; 44];
            let n = tokio::time::timeout(Duration::from_millis(200), tcp.read(&mut more))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(0);
            let mut first = head.to_vec();
            first.extend_from_slice(&more[..n]);
            return Ok::<_, std::io::Error>(Err(first));
        }
        let mut payload = vec![0u8; len];
        tcp.read_exact(&mut payload).await?;
        Ok(Ok(payload))
    })
    .await;
    let payload = match read {
        Err(_) => {
            return Err(super::outcome(
                OutcomeClass::Timeout,
                Phase::Handshake,
                format!(
                    "no MySQL greeting within {}: the port accepted TCP but sent nothing (MySQL servers speak first; is this a TLS or HTTP port?)",
                    humantime::format_duration(deadline)
                ),
            ))
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(super::outcome(
                OutcomeClass::ProtocolError,
                Phase::Handshake,
                "the server closed the connection without a MySQL greeting",
            ))
        }
        Ok(Err(e)) => {
            return Err(super::outcome(
                OutcomeClass::Reset,
                Phase::Handshake,
                format!("the connection failed before the MySQL greeting: {e}"),
            ))
        }
        Ok(Ok(Err(first))) => return Ok(Err((first, None))),
        Ok(Ok(Ok(p))) => p,
    };
    if payload.first() == Some(&0xff) {
        return Ok(Err((payload.clone(), ErrPacket::parse(&payload))));
    }
    match Greeting::parse(&payload) {
        Ok(g) => Ok(Ok(g)),
        Err(_) => Ok(Err((payload, None))),
    }
}

/// Before TLS: read the greeting; when TLS is offered, send the SSLRequest and return the
/// greeting (the TLS handshake follows on the same socket). Otherwise the probe ends here:
/// the login is tried in plaintext on this connection, and the outcome is `plaintext`.
pub(super) async fn negotiate(
    tcp: &mut TcpStream,
    spec: &ProbeSpec,
    rec: &mut ProbeRecord,
) -> Result<Greeting, Outcome> {
    let g = match greeting(tcp, spec.timeouts.handshake).await? {
        Ok(g) => g,
        Err((_, Some(e))) => {
            let class = if e.code == ER_HOST_NOT_PRIVILEGED {
                OutcomeClass::Refused
            } else {
                OutcomeClass::ProtocolError
            };
            rec.evidence.peer_protocol = Some(crate::probe::classify::PeerProtocol::Mysql);
            return Err(super::outcome(
                class,
                Phase::Handshake,
                format!(
                    "the server refused the connection before TLS with error {}: {}",
                    e.code, e.message
                ),
            ));
        }
        Err((first, None)) => return Err(not_mysql(&first, rec)),
    };
    let account = spec.mysql_account.as_ref();
    let mut report = MysqlReport::new(&g, account);
    if !g.offers_tls() {
        rec.evidence.peer_protocol = Some(crate::probe::classify::PeerProtocol::Mysql);
        // The plaintext login, on this connection (once per endpoint and round in an audit).
        if spec.mysql_plaintext {
            let answer =
                tokio::time::timeout(spec.timeouts.check, login(tcp, 1, &g, false, account)).await;
            if let Ok(Ok(a)) = answer {
                report.plaintext_login = Some(a);
            }
        }
        report.plaintext = PlaintextVerdict::NoTls;
        report.plaintext_detail = match &report.plaintext_login {
            Some(a) if a.result == LoginResult::Ok => format!(
                "the server offers no TLS (no CLIENT_SSL in its greeting), and {} logged in without it",
                report.user
            ),
            _ => "the server offers no TLS (no CLIENT_SSL in its greeting): every client connects in plaintext".to_string(),
        };
        let words = format!(
            "{} ({}) offers no TLS: its greeting lacks CLIENT_SSL, so no certificate is loaded and every client connects in plaintext",
            spec.address, g.server_version
        );
        rec.mysql = Some(report);
        return Err(super::outcome(
            OutcomeClass::Plaintext,
            Phase::Handshake,
            words,
        ));
    }
    rec.mysql = Some(report);
    let sent = tokio::time::timeout(
        spec.timeouts.handshake,
        write_packet(tcp, 1, &ssl_request(g.capabilities)),
    )
    .await;
    match sent {
        Ok(Ok(())) => Ok(g),
        _ => Err(super::outcome(
            OutcomeClass::Reset,
            Phase::Handshake,
            "the server closed the connection before the SSLRequest could be sent",
        )),
    }
}

fn done(class: OutcomeClass, summary: String) -> CheckResult {
    CheckResult { class, summary }
}

/// Inside TLS: log in and classify the answer. Any answer of the SQL layer proves the TLS
/// session was accepted; a read failure is classified like any post-handshake failure (a TLS
/// 1.3 client-certificate rejection arrives here).
pub(super) async fn check<S>(
    spec: &ProbeSpec,
    stream: S,
    greeting: &Greeting,
    obs: &Observer,
    a: &Attribution<'_>,
    ev: &mut Evidence,
    report: Option<&mut MysqlReport>,
) -> CheckResult
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut stream, seen) = Tap::new(stream);
    let account = spec.mysql_account.as_ref();
    let answer = tokio::time::timeout(
        spec.timeouts.check,
        login(&mut stream, 2, greeting, true, account),
    )
    .await;
    if obs.lock().ticket {
        ev.session_ticket = true;
    }
    let failure = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let answer = match answer {
        Err(_) => {
            return done(
                OutcomeClass::Timeout,
                format!(
                    "no answer to the login inside TLS within {}",
                    humantime::format_duration(spec.timeouts.check)
                ),
            )
        }
        Ok(Err(_)) => return classify_failure(&failure, a, ev),
        Ok(Ok(x)) if x.result == LoginResult::Closed => {
            return classify_failure(&failure, a, ev);
        }
        Ok(Ok(x)) => x,
    };
    let user = account.map_or(MADE_UP_USER, |a| a.user.as_str());
    let cert = if a.sent {
        ", and accepted our client certificate"
    } else {
        ""
    };
    let result = match answer.result {
        LoginResult::Ok => done(
            OutcomeClass::Accepted,
            format!("logged in as {user} over TLS{cert}"),
        ),
        LoginResult::Error if account.is_none() && answer.code == Some(ER_ACCESS_DENIED) => done(
            OutcomeClass::Accepted,
            format!(
                "the server accepted the TLS session{cert}: it answered the login of the made-up user {user} inside TLS with 1045 access denied"
            ),
        ),
        LoginResult::Error => done(
            OutcomeClass::Accepted,
            format!(
                "the server accepted the TLS session{cert}; the login of {user} inside TLS answered {}",
                answer.describe()
            ),
        ),
        LoginResult::UnsupportedAuth => done(
            OutcomeClass::Accepted,
            format!(
                "the server accepted the TLS session{cert}; the account {user} uses the authentication plugin {}, which tlsaudit does not speak (give the audit account mysql_native_password)",
                answer.auth_switch.as_deref().unwrap_or("?")
            ),
        ),
        LoginResult::Closed | LoginResult::ProtocolError => done(
            OutcomeClass::ProtocolError,
            format!("the login inside TLS failed: {}", answer.describe()),
        ),
    };
    if let Some(r) = report {
        r.tls_login = Some(answer);
    }
    result
}

/// After the TLS probe: the same login without TLS on a second connection, and what the two
/// answers prove.
pub(super) async fn plaintext_test(spec: &ProbeSpec, rec: &mut ProbeRecord) {
    let Some(report) = rec.mysql.as_mut() else {
        return;
    };
    if report.plaintext != PlaintextVerdict::NotTested || !report.tls_offered {
        return;
    }
    let account = spec.mysql_account.as_ref();
    let deadline = spec.timeouts.connect + spec.timeouts.handshake + spec.timeouts.check;
    let attempt = async {
        let mut tcp = super::connect(&spec.address, spec.timeouts.connect)
            .await
            .map_err(|(_, w)| w)?;
        let _ = tcp.set_nodelay(true);
        let g = match read_packet(&mut tcp).await {
            Ok((_, p)) if p.first() == Some(&0xff) => {
                return Ok(ErrPacket::parse(&p).map_or_else(
                    || protocol_error("a malformed error packet"),
                    LoginAnswer::error,
                ));
            }
            Ok((_, p)) => Greeting::parse(&p).map_err(|e| format!("a malformed greeting: {e}"))?,
            Err(e) => return Err(format!("no greeting: {e}")),
        };
        login(&mut tcp, 1, &g, false, account)
            .await
            .map_err(|e| format!("the login failed: {e}"))
    };
    match tokio::time::timeout(deadline, attempt).await {
        Ok(Ok(answer)) => report.plaintext_login = Some(answer),
        Ok(Err(words)) => {
            report.plaintext_detail = format!("the plaintext login could not be made: {words}");
            return;
        }
        Err(_) => {
            report.plaintext_detail = format!(
                "the plaintext login got no answer within {}",
                humantime::format_duration(deadline)
            );
            return;
        }
    }
    let (verdict, detail) = judge(report);
    report.plaintext = verdict;
    report.plaintext_detail = detail;
}

/// What the TLS and plaintext answers prove about plaintext.
pub fn judge(r: &MysqlReport) -> (PlaintextVerdict, String) {
    use PlaintextVerdict as V;
    let Some(plain) = &r.plaintext_login else {
        return (V::NotTested, r.plaintext_detail.clone());
    };
    let user = &r.user;
    let tls_ok = r
        .tls_login
        .as_ref()
        .is_some_and(|a| a.result == LoginResult::Ok);
    match plain.result {
        LoginResult::Ok => (
            V::Accepted,
            match r.account {
                AccountKind::Audit => format!(
                    "{user} logged in without TLS: the server accepts plaintext (require_secure_transport / require-secure-transport is off)"
                ),
                AccountKind::MadeUp => format!(
                    "the server admitted the made-up user {user} without TLS: it accepts plaintext and authenticates nobody"
                ),
            },
        ),
        LoginResult::Error if plain.code == Some(ER_SECURE_TRANSPORT_REQUIRED) => (
            V::Refused,
            format!(
                "the plaintext login answered 3159 ER_SECURE_TRANSPORT_REQUIRED{}: the server requires TLS",
                if r.account == AccountKind::MadeUp {
                    " for a user that does not exist (checked before authentication, as TiDB does)"
                } else {
                    ""
                }
            ),
        ),
        LoginResult::Error if r.account == AccountKind::Audit && tls_ok => (
            V::Refused,
            format!(
                "{user} logs in over TLS but is refused without it ({}): the server refuses plaintext (MariaDB's require_secure_transport answers 1045 so; an account with REQUIRE SSL does too)",
                plain.describe()
            ),
        ),
        LoginResult::Error if r.account == AccountKind::Audit => (
            V::Unknown,
            format!(
                "unknown: {user} was refused without TLS ({}), but it did not log in over TLS either, so the two cannot be compared; check the audit account's password and allowed host",
                plain.describe()
            ),
        ),
        LoginResult::Error if plain.code == Some(ER_ACCESS_DENIED) => (
            V::Unknown,
            format!(
                "unknown; give an audit account to be sure (--mysql-user): the plaintext login of the made-up user reached authentication (1045 access denied). {}",
                if r.is_tidb() {
                    "TiDB answers 3159 before authentication when require-secure-transport is on, so this TiDB most likely has it off"
                } else {
                    "MySQL and MariaDB check require_secure_transport after authentication, so a made-up user cannot tell"
                }
            ),
        ),
        LoginResult::Error => (
            V::Unknown,
            format!(
                "unknown; give an audit account to be sure (--mysql-user): the plaintext login answered {}",
                plain.describe()
            ),
        ),
        LoginResult::UnsupportedAuth | LoginResult::Closed | LoginResult::ProtocolError => (
            V::Unknown,
            format!(
                "unknown: the plaintext login ended with {}",
                plain.describe()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tidb_greeting(tls: bool) -> Greeting {
        let mut caps = CLIENT_LONG_PASSWORD
            | CLIENT_LONG_FLAG
            | CLIENT_PROTOCOL_41
            | CLIENT_TRANSACTIONS
            | CLIENT_SECURE_CONNECTION
            | CLIENT_PLUGIN_AUTH;
        if tls {
            caps |= CLIENT_SSL;
        }
        Greeting {
            server_version: "8.0.11-TiDB-v8.5.0".into(),
            connection_id: 7,
            capabilities: caps,
            charset: 46,
            nonce: (1..=20).collect(),
            auth_plugin: Some(NATIVE_PASSWORD.into()),
        }
    }

    #[test]
    fn greeting_round_trips() {
        let g = tidb_greeting(true);
        let parsed = Greeting::parse(&g.encode()).unwrap();
        assert_eq!(parsed, g);
        assert!(parsed.offers_tls());
        assert!(!Greeting::parse(&tidb_greeting(false).encode())
            .unwrap()
            .offers_tls());
        assert!(Greeting::parse(&[9, b'x', 0]).is_err());
        assert!(Greeting::parse(&[10, b'x']).is_err());
    }

    #[test]
    fn mariadb_greeting_parses() {
        // A real MariaDB 10.11 greeting payload (nonce replaced): "5.5.5-" prefix, extended
        // capabilities in the reserved bytes.
        let mut p = vec![10];
        p.extend_from_slice(b"5.5.5-10.11.6-MariaDB-0+deb12u1\0");
        p.extend_from_slice(&3u32.to_le_bytes());
        p.extend_from_slice(b"abcdefgh\0");
        p.extend_from_slice(&0xfffeu16.to_le_bytes());
        p.push(45);
        p.extend_from_slice(&2u16.to_le_bytes());
        p.extend_from_slice(&0x81bfu16.to_le_bytes());
        p.push(21);
        p.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x1d, 0, 0, 0]);
        p.extend_from_slice(b"ijklmnopqrst\0mysql_native_password\0");
        let g = Greeting::parse(&p).unwrap();
        assert_eq!(g.server_version, "5.5.5-10.11.6-MariaDB-0+deb12u1");
        assert_eq!(g.nonce, b"abcdefghijklmnopqrst");
        assert!(g.offers_tls());
        assert_eq!(g.auth_plugin.as_deref(), Some(NATIVE_PASSWORD));
    }

    #[test]
    fn ssl_request_is_32_bytes_with_client_ssl() {
        let r = ssl_request(tidb_greeting(true).capabilities);
        assert_eq!(r.len(), 32);
        let caps = u32::from_le_bytes([r[0], r[1], r[2], r[3]]);
        assert_ne!(caps & CLIENT_SSL, 0);
        assert_ne!(caps & CLIENT_PROTOCOL_41, 0);
    }

    #[test]
    fn native_scramble_matches_the_reference() {
        // MySQL's scramble: verified against the server-side check SHA1(x) == SHA1(SHA1(pw)).
        let nonce: Vec<u8> = (1..=20).collect();
        let s = native_scramble(b"secret", &nonce);
        assert_eq!(s.len(), 20);
        let stage2 = sha1(&[&sha1(&[b"secret"])]);
        let mix = sha1(&[&nonce, &stage2]);
        let candidate: Vec<u8> = s.iter().zip(mix.iter()).map(|(a, b)| a ^ b).collect();
        assert_eq!(sha1(&[&candidate]), stage2);
        assert!(native_scramble(b"", &nonce).is_empty());
    }

    #[test]
    fn err_packets() {
        let e = ErrPacket {
            code: 3159,
            sql_state: Some("HY000".into()),
            message: "Connections using insecure transport are prohibited while --require_secure_transport=ON.".into(),
        };
        assert_eq!(ErrPacket::parse(&e.encode()), Some(e));
        // Before authentication some servers send no SQL state.
        let bare = ErrPacket::parse(b"\xff\x6a\x04Host 'x' is not allowed").unwrap();
        assert_eq!(bare.code, 1130);
        assert_eq!(bare.sql_state, None);
    }

    #[test]
    fn secrets_never_print() {
        let a = MysqlAccount::new("audit", Secret::new("hunter2-xyz"));
        let shown = format!("{a:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("audit"));
    }

    #[test]
    fn password_file_drops_one_line_break() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "pa ss\r\n").unwrap();
        let a = MysqlAccount::load("audit", Some(&p)).unwrap();
        assert_eq!(a.password.expose(), "pa ss");
        std::fs::write(&p, "one\ntwo\n").unwrap();
        let e = MysqlAccount::load("audit", Some(&p))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("one") || e.contains("one line"), "{e}");
        assert!(!e.contains("two"), "{e}");
    }

    /// A scripted server over an in-memory stream: greeting, then the answers.
    async fn serve(mut s: tokio::io::DuplexStream, answers: Vec<Vec<u8>>) -> Vec<(u8, Vec<u8>)> {
        let mut got = Vec::new();
        for a in answers {
            let Ok(p) = read_packet(&mut s).await else {
                break;
            };
            let seq = p.0;
            got.push(p);
            write_packet(&mut s, seq.wrapping_add(1), &a).await.unwrap();
        }
        if let Ok(p) = read_packet(&mut s).await {
            got.push(p);
        }
        got
    }

    #[tokio::test]
    async fn login_follows_a_switch_to_native_password() {
        let (mut client, server) = tokio::io::duplex(4096);
        let g = tidb_greeting(false);
        let mut switch = vec![0xfe];
        switch.extend_from_slice(b"mysql_native_password\0");
        let nonce2: Vec<u8> = (21..=40).collect();
        switch.extend_from_slice(&nonce2);
        switch.push(0);
        let server = tokio::spawn(serve(server, vec![switch, vec![0, 0, 0, 2, 0, 0, 0]]));
        let account = MysqlAccount::new("audit", Secret::new("pw"));
        let a = login(&mut client, 1, &g, false, Some(&account))
            .await
            .unwrap();
        assert_eq!(a.result, LoginResult::Ok);
        assert_eq!(a.auth_switch.as_deref(), Some(NATIVE_PASSWORD));
        drop(client);
        let got = server.await.unwrap();
        // The response, the switched scramble (sequence 3), COM_QUIT.
        assert_eq!(got[0].0, 1);
        assert!(got[0].1.windows(6).any(|w| w == b"audit\0"));
        assert_eq!(got[1], (3, native_scramble(b"pw", &nonce2)));
        assert_eq!(got[2], (0, vec![0x01]));
        // The password itself never crossed the wire.
        for (_, p) in &got {
            assert!(!p.windows(2).any(|w| w == b"pw"));
        }
    }

    #[tokio::test]
    async fn login_reports_3159_and_unsupported_plugins() {
        let (mut client, server) = tokio::io::duplex(4096);
        let e = ErrPacket {
            code: ER_SECURE_TRANSPORT_REQUIRED,
            sql_state: Some("HY000".into()),
            message: "Connections using insecure transport are prohibited while --require_secure_transport=ON.".into(),
        };
        tokio::spawn(serve(server, vec![e.encode()]));
        let a = login(&mut client, 1, &tidb_greeting(true), false, None)
            .await
            .unwrap();
        assert!(a.is_error(ER_SECURE_TRANSPORT_REQUIRED));

        let (mut client, server) = tokio::io::duplex(4096);
        let mut switch = vec![0xfe];
        switch.extend_from_slice(b"client_ed25519\0abc");
        tokio::spawn(serve(server, vec![switch]));
        let account = MysqlAccount::new("audit", Secret::new("pw"));
        let a = login(&mut client, 2, &tidb_greeting(true), true, Some(&account))
            .await
            .unwrap();
        assert_eq!(a.result, LoginResult::UnsupportedAuth);
        assert_eq!(a.auth_switch.as_deref(), Some("client_ed25519"));
    }

    fn report(account: AccountKind, tls: Option<LoginAnswer>, plain: LoginAnswer) -> MysqlReport {
        MysqlReport {
            server_version: "5.5.5-10.11.6-MariaDB".into(),
            connection_id: 1,
            capabilities: CLIENT_SSL,
            tls_offered: true,
            auth_plugin: None,
            account,
            user: "u".into(),
            tls_login: tls,
            plaintext_login: Some(plain),
            plaintext: PlaintextVerdict::NotTested,
            plaintext_detail: String::new(),
        }
    }

    fn err(code: u16) -> LoginAnswer {
        LoginAnswer {
            code: Some(code),
            ..LoginAnswer::new(LoginResult::Error)
        }
    }

    #[test]
    fn judging_plaintext() {
        use AccountKind::{Audit, MadeUp};
        use PlaintextVerdict as V;
        let ok = LoginAnswer::new(LoginResult::Ok);
        // Without an account, 1045 in plaintext is never "accepted".
        let (v, why) = judge(&report(MadeUp, Some(err(1045)), err(1045)));
        assert_eq!(v, V::Unknown);
        assert!(
            why.starts_with("unknown; give an audit account to be sure"),
            "{why}"
        );
        assert_eq!(
            judge(&report(MadeUp, Some(err(1045)), err(3159))).0,
            V::Refused
        );
        // With one: TLS logs in, plaintext refused (MariaDB: 1045) or admitted.
        assert_eq!(
            judge(&report(Audit, Some(ok.clone()), err(1045))).0,
            V::Refused
        );
        assert_eq!(
            judge(&report(Audit, Some(ok.clone()), ok.clone())).0,
            V::Accepted
        );
        assert_eq!(
            judge(&report(Audit, Some(err(1045)), err(1045))).0,
            V::Unknown
        );
        assert_eq!(judge(&report(Audit, None, ok)).0, V::Accepted);
    }
}
