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
//! Here the probe's flow (the greeting with its deadline, the SSLRequest, the login inside TLS
//! and its verdict, the plaintext login and what the two prove); [`wire`] holds the packet
//! codec and the login exchange (generic over the stream, so that tests drive it in memory),
//! [`report`] what the record carries, [`account`] the audit account. The audit account's
//! password is a [`Secret`]: it never prints, and it leaves the engine only as the
//! `mysql_native_password` scramble (SHA1-based, salted with the server's nonce).

pub mod account;
pub mod report;
pub mod wire;

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;

pub use account::*;
pub use report::*;
pub use wire::*;

use super::check::{classify_failure, CheckResult, Tap};
use super::classify::{self, Attribution};
use super::observe::Observer;
use super::record::{Evidence, Outcome, OutcomeClass, PeerProtocol, Phase, ProbeRecord};
use super::spec::ProbeSpec;

/// The report of a greeting, before any login.
fn new_report(g: &Greeting, account: Option<&MysqlAccount>) -> MysqlReport {
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

/// What the first bytes of a port tell when they are not a MySQL greeting.
fn not_mysql(first: &[u8], rec: &mut ProbeRecord) -> Outcome {
    rec.evidence.peer_bytes = Some(classify::escape(&first[..first.len().min(48)]));
    let proto = classify::sniff(first).unwrap_or(PeerProtocol::Tls);
    rec.evidence.peer_protocol = Some(proto);
    let words = match proto {
        PeerProtocol::Tls | PeerProtocol::Unknown => {
            "the port answered with bytes that are not a MySQL greeting".to_string()
        }
        // A MySQL packet header whose length no greeting has (a hostile or broken server).
        PeerProtocol::Mysql => {
            let claimed = first.get(..3).map_or(0, |h| {
                usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16
            });
            format!(
                "the port answered with a MySQL packet header claiming a {claimed}-byte greeting (more than the {} bytes any server's greeting takes): refused unread",
                wire::MAX_PACKET
            )
        }
        _ => format!("the port speaks {proto}, not the MySQL protocol"),
    };
    Outcome::new(OutcomeClass::ProtocolError, Phase::Handshake, words)
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
            return Err(Outcome::new(
                OutcomeClass::Timeout,
                Phase::Handshake,
                format!(
                    "no MySQL greeting within {}: the port accepted TCP but sent nothing (MySQL servers speak first; is this a TLS or HTTP port?)",
                    humantime::format_duration(deadline)
                ),
            ))
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(Outcome::new(
                OutcomeClass::ProtocolError,
                Phase::Handshake,
                "the server closed the connection without a MySQL greeting",
            ))
        }
        Ok(Err(e)) => {
            return Err(Outcome::new(
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
        Err((_, Some(e))) => return Err(refused_before_tls(&e, rec)),
        Err((first, None)) => return Err(not_mysql(&first, rec)),
    };
    let report = new_report(&g, spec.mysql_account.as_ref());
    if !g.offers_tls() {
        return Err(no_tls(tcp, spec, &g, report, rec).await);
    }
    rec.mysql = Some(report);
    let sent = tokio::time::timeout(
        spec.timeouts.handshake,
        write_packet(tcp, 1, &ssl_request(g.capabilities)),
    )
    .await;
    match sent {
        Ok(Ok(())) => Ok(g),
        _ => Err(Outcome::new(
            OutcomeClass::Reset,
            Phase::Handshake,
            "the server closed the connection before the SSLRequest could be sent",
        )),
    }
}

/// An error packet instead of the greeting: the server answered (it is up and reachable),
/// refusing the connection before TLS; the outcome says what it said. Error 1130 (no account
/// for this host) is the server's own access control, not a firewall.
fn refused_before_tls(e: &ErrPacket, rec: &mut ProbeRecord) -> Outcome {
    rec.evidence.peer_protocol = Some(PeerProtocol::Mysql);
    let said = crate::probe::check::truncate(&e.message);
    let why = if e.code == ER_HOST_NOT_PRIVILEGED {
        " (the server is up: no account's host pattern matches this host, so it refuses every connection from here before TLS; audit from a host an account names, or add an account whose host pattern matches this one)"
    } else {
        ""
    };
    Outcome::new(
        OutcomeClass::ProtocolError,
        Phase::Handshake,
        format!(
            "the MySQL server answered with error {} instead of its greeting: {said}{why}",
            e.code
        ),
    )
}

/// A greeting without `CLIENT_SSL`: the login in plaintext on this connection (once per
/// endpoint and round in an audit), and the outcome `plaintext`.
async fn no_tls(
    tcp: &mut TcpStream,
    spec: &ProbeSpec,
    g: &Greeting,
    mut report: MysqlReport,
    rec: &mut ProbeRecord,
) -> Outcome {
    rec.evidence.peer_protocol = Some(PeerProtocol::Mysql);
    if spec.mysql_plaintext {
        let attempt = login(tcp, 1, g, false, spec.mysql_account.as_ref());
        if let Ok(Ok(a)) = tokio::time::timeout(spec.timeouts.check, attempt).await {
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
    Outcome::new(OutcomeClass::Plaintext, Phase::Handshake, words)
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
    let result = tls_login_result(&answer, account, a.sent);
    if let Some(r) = report {
        r.tls_login = Some(answer);
    }
    result
}

/// What the answer to the login inside TLS says of the TLS session (`sent`: with our client
/// certificate).
fn tls_login_result(
    answer: &LoginAnswer,
    account: Option<&MysqlAccount>,
    sent: bool,
) -> CheckResult {
    let user = account.map_or(MADE_UP_USER, |a| a.user.as_str());
    let cert = if sent {
        ", and accepted our client certificate"
    } else {
        ""
    };
    match answer.result {
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
    }
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
        let mut tcp = super::connect::connect(&spec.address, spec.timeouts.connect)
            .await
            .map_err(|(_, w)| w)?;
        let _ = tcp.set_nodelay(true);
        let g = match read_packet(&mut tcp).await {
            Ok((_, p)) if p.first() == Some(&0xff) => {
                return Ok(ErrPacket::parse(&p).map_or_else(
                    || LoginAnswer::protocol_error("a malformed error packet"),
                    LoginAnswer::from,
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
        LoginResult::Error => judge_error(r, plain),
        LoginResult::UnsupportedAuth | LoginResult::Closed | LoginResult::ProtocolError => (
            V::Unknown,
            format!(
                "unknown: the plaintext login ended with {}",
                plain.describe()
            ),
        ),
    }
}

/// What a plaintext login answered with an error proves: 3159 says TLS is required; otherwise
/// the audit account's TLS login is the comparison, and a made-up user's error says little.
fn judge_error(r: &MysqlReport, plain: &LoginAnswer) -> (PlaintextVerdict, String) {
    use PlaintextVerdict as V;
    if plain.code == Some(ER_SECURE_TRANSPORT_REQUIRED) {
        return (
            V::Refused,
            format!(
                "the plaintext login answered 3159 ER_SECURE_TRANSPORT_REQUIRED{}: the server requires TLS",
                if r.account == AccountKind::MadeUp {
                    " for a user that does not exist (checked before authentication, as TiDB does)"
                } else {
                    ""
                }
            ),
        );
    }
    let user = &r.user;
    let tls_ok = r
        .tls_login
        .as_ref()
        .is_some_and(|a| a.result == LoginResult::Ok);
    match r.account {
        AccountKind::Audit if tls_ok => (
            V::Refused,
            format!(
                "{user} logs in over TLS but is refused without it ({}): the server refuses plaintext (MariaDB's require_secure_transport answers 1045 so; an account with REQUIRE SSL does too)",
                plain.describe()
            ),
        ),
        AccountKind::Audit => (
            V::Unknown,
            format!(
                "unknown: {user} was refused without TLS ({}), but it did not log in over TLS either, so the two cannot be compared; check the audit account's password and allowed host",
                plain.describe()
            ),
        ),
        AccountKind::MadeUp if plain.code == Some(ER_ACCESS_DENIED) => (
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
        AccountKind::MadeUp => (
            V::Unknown,
            format!(
                "unknown; give an audit account to be sure (--mysql-user): the plaintext login answered {}",
                plain.describe()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
