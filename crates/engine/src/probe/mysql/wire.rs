//! The MySQL wire protocol as the probe speaks it: the capability flags and error codes, the
//! server's greeting, packets (read and write), the SSLRequest and the HandshakeResponse41,
//! the `mysql_native_password` scramble, error packets, and the login exchange. Generic over
//! the stream, so that tests drive it in memory.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::account::MysqlAccount;
use super::report::{LoginAnswer, LoginResult};

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

/// The largest packet accepted from a server before authentication.
pub(super) const MAX_PACKET: usize = 64 * 1024;
/// utf8mb4_general_ci.
const CHARSET: u8 = 45;
const MAX_PACKET_SIZE: u32 = 16 * 1024 * 1024;

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

impl From<ErrPacket> for LoginAnswer {
    /// The answer an error packet gives.
    fn from(e: ErrPacket) -> LoginAnswer {
        LoginAnswer {
            code: Some(e.code),
            sql_state: e.sql_state,
            message: Some(e.message),
            ..LoginAnswer::new(LoginResult::Error)
        }
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
    let auth = native_scramble(password_of(account), &greeting.nonce);
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
        match step(&p, greeting, account, &mut switched) {
            Step::Reply(reply) => write_packet(s, seq.wrapping_add(1), &reply).await?,
            Step::Done(answer) => {
                if answer.result == LoginResult::Ok {
                    let _ = write_packet(s, 0, &[0x01]).await;
                    let _ = tokio::time::timeout(Duration::from_millis(100), s.shutdown()).await;
                }
                return Ok(answer);
            }
        }
    }
    Ok(LoginAnswer::protocol_error(
        "more than two authentication switches",
    ))
}

/// The password of the login: the audit account's, else none.
fn password_of(account: Option<&MysqlAccount>) -> &[u8] {
    account.map_or(&b""[..], |a| a.password.expose().as_bytes())
}

/// What one packet of the server's answer to a login asks for.
enum Step {
    /// The login ended with this answer.
    Done(LoginAnswer),
    /// An AuthSwitchRequest: send this, and read on.
    Reply(Vec<u8>),
}

/// What packet `p` of the answer to a login means. `switched` keeps the plugin of an
/// AuthSwitchRequest, for the answer.
fn step(
    p: &[u8],
    greeting: &Greeting,
    account: Option<&MysqlAccount>,
    switched: &mut Option<String>,
) -> Step {
    let answer = match p.first() {
        Some(0x00) => LoginAnswer {
            auth_switch: switched.take(),
            ..LoginAnswer::new(LoginResult::Ok)
        },
        Some(0xff) => match ErrPacket::parse(p) {
            Some(e) => LoginAnswer {
                auth_switch: switched.take(),
                ..LoginAnswer::from(e)
            },
            None => LoginAnswer::protocol_error("a malformed error packet"),
        },
        Some(0xfe) if p.len() > 1 => return switch_reply(&p[1..], account, switched),
        // More data of another plugin (caching_sha2_password): nothing to add.
        Some(0x01) if account.is_none() => LoginAnswer {
            auth_switch: switched.take(),
            ..LoginAnswer::protocol_error("an AuthMoreData packet for a user without password")
        },
        Some(0x01) => LoginAnswer {
            auth_switch: switched.take().or_else(|| greeting.auth_plugin.clone()),
            ..LoginAnswer::new(LoginResult::UnsupportedAuth)
        },
        _ => LoginAnswer::protocol_error("an answer that is not OK, error or auth switch"),
    };
    Step::Done(answer)
}

/// An AuthSwitchRequest (`body`, after its 0xfe): the `mysql_native_password` scramble with
/// the new nonce; for a made-up user, which has no password in any plugin, an empty answer;
/// else the login ends on a plugin the probe does not speak.
fn switch_reply(
    body: &[u8],
    account: Option<&MysqlAccount>,
    switched: &mut Option<String>,
) -> Step {
    let mut r = Reader(body);
    let plugin = String::from_utf8_lossy(r.nul_str().unwrap_or(r.0)).into_owned();
    let data = r.0.strip_suffix(&[0]).unwrap_or(r.0);
    let native = plugin == NATIVE_PASSWORD;
    *switched = Some(plugin);
    if native {
        Step::Reply(native_scramble(password_of(account), data))
    } else if account.is_none() {
        Step::Reply(Vec::new())
    } else {
        Step::Done(LoginAnswer {
            auth_switch: switched.take(),
            ..LoginAnswer::new(LoginResult::UnsupportedAuth)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::mysql::account::Secret;

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
}
