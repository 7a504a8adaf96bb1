//! One probe: one (identity, endpoint) attempt, fully recorded. Three phases, each with its own
//! deadline and measured duration: TCP connect, TLS handshake, post-handshake check.
//!
//! The files, bottom to top (none imports one above it, nor this file): `limits` (open files),
//! `mysql::account`, `mysql::report` and `mysql::wire` (the SQL port's audit account, what its
//! record carries, its wire protocol), `record` (the serde record), `classify` (outcome classes
//! and sentences), `observe` (the handshake's instruments), `spec` (where and how to probe),
//! `connect` (the TCP connect), `check` (the post-handshake checks), `mysql` (the SQL port's
//! flow), `describe` (a record in words), and here the caller and the three phases.

pub mod check;
pub mod classify;
pub mod connect;
pub mod describe;
pub mod limits;
pub mod mysql;
pub mod observe;
pub mod record;
pub mod spec;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::Resumption;
use rustls::client::Tls12Resumption;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::pki::{provider, ChainCache, Identity, IdentityCheck, Trust};
pub use crate::profile::Protocol;
use classify::Attribution;
pub use connect::{add_resolves, local_cause, Resolve};
use observe::{Observer, RecordingResolver, RecordingVerifier, Sniff, TicketWatch};
pub use record::*;
pub use spec::{host_of, validate_address, ProbeSpec, Timeouts, TlsVersions, MAX_TIMEOUT};

/// An identity with its pre-flight check against the cluster CA, computed once.
#[derive(Debug, Clone)]
pub struct Caller {
    pub identity: Identity,
    pub check: IdentityCheck,
    /// The identity as every record of this caller shows it, built once and shared.
    report: Arc<IdentityReport>,
    /// Its client configurations, built once per kind of check ([`client_config`]).
    configs: Arc<Mutex<CallerConfigs>>,
}

/// A caller's client configurations, by what they depend on.
type CallerConfigs = Vec<(ConfigKey, Arc<ClientConfig>)>;

impl Caller {
    pub fn new(identity: Identity, trust: &Trust) -> Caller {
        let check = identity.check(trust);
        let leaf = identity.leaf.as_ref();
        let report = Arc::new(IdentityReport {
            name: identity.name.clone(),
            cn: identity.cn().map(str::to_string),
            cert_file: identity.cert_path.as_ref().map(|p| p.display().to_string()),
            sha256: leaf.map(|l| l.sha256.clone()),
            not_after: leaf.map(|l| l.not_after.clone()),
            check: check.clone(),
        });
        Caller {
            identity,
            check,
            report,
            configs: Arc::default(),
        }
    }

    /// The identity as the records show it (one shared copy per caller).
    pub fn report(&self) -> Arc<IdentityReport> {
        self.report.clone()
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Run one probe. Never fails: every way it can end is an outcome in the record.
pub async fn probe(spec: &ProbeSpec, caller: &Caller, trust: &Trust) -> ProbeRecord {
    probe_with(spec, caller, trust, &ChainCache::new()).await
}

/// Run one probe, taking the server chain's summaries from `chains` (parsed there once and
/// shared with every other record of the same chain).
pub async fn probe_with(
    spec: &ProbeSpec,
    caller: &Caller,
    trust: &Trust,
    chains: &ChainCache,
) -> ProbeRecord {
    let t0 = Instant::now();
    let mut rec = blank_record(spec, caller);
    let total = spec.timeouts.total;
    // The instruments of the caller's shared configuration record into this observer.
    let obs = Arc::new(Observer::default());
    let running = run(spec, caller, trust, (&obs, chains), &mut rec);
    match tokio::time::timeout(total, observe::CURRENT.scope(obs.clone(), running)).await {
        Ok(o) => rec.outcome = o,
        Err(_) => rec.outcome = overall_timeout(spec, &obs, &mut rec),
    }
    if spec.protocol == Protocol::Mysql && spec.mysql_plaintext {
        let left = total.saturating_sub(t0.elapsed());
        let _ = tokio::time::timeout(left, mysql::plaintext_test(spec, &mut rec)).await;
    }
    rec.timings.total_ms = ms(t0.elapsed());
    tracing::debug!(
        address = %spec.address,
        identity = %caller.identity.name,
        outcome = rec.outcome.class.as_str(),
        ms = rec.timings.total_ms,
        "probe finished: {}",
        rec.outcome.summary
    );
    rec
}

/// The record of a probe of `spec` by `caller` before anything happened.
fn blank_record(spec: &ProbeSpec, caller: &Caller) -> ProbeRecord {
    ProbeRecord {
        target: TargetReport {
            address: spec.address.clone(),
            server_name: spec.server_name(),
            protocol: spec.protocol.as_str().to_string(),
            path: match spec.protocol {
                Protocol::Tls | Protocol::Mysql => None,
                _ => spec.path.clone(),
            },
            alpn_offered: spec.alpn_offered(),
            check_from_alpn: None,
        },
        peer_addr: None,
        identity: caller.report(),
        started_at: now_rfc3339(),
        timings: Timings::default(),
        tls: None,
        server_chain: Arc::from(Vec::new()),
        server_verification: None,
        outcome: Outcome {
            class: OutcomeClass::ProtocolError,
            phase: Phase::Connect,
            summary: String::new(),
            authorization: None,
        },
        evidence: Evidence::default(),
        mysql: None,
    }
}

/// How the summary of a [`failed_record`] starts.
pub const FAILED_INSIDE: &str = "the probe failed inside tlsaudit";

/// The record of a probe that could not produce its own (it panicked, or its task ended
/// without a record): an `error`, whose summary says why. Says nothing about the endpoint.
pub fn failed_record(spec: &ProbeSpec, caller: &Caller, why: &str) -> ProbeRecord {
    let mut rec = blank_record(spec, caller);
    rec.outcome = Outcome::new(
        OutcomeClass::Error,
        Phase::Connect,
        format!("{FAILED_INSIDE}: {why}; this says nothing about the endpoint"),
    );
    rec
}

/// The outcome of a probe stopped by its overall deadline, in the phase it had reached. Cut
/// off in the TLS handshake (TCP accepted), it says what the peer had sent, like the
/// handshake's own deadline.
fn overall_timeout(spec: &ProbeSpec, obs: &Observer, rec: &mut ProbeRecord) -> Outcome {
    let total = spec.timeouts.total;
    let phase = if rec.timings.connect_ms.is_none() {
        Phase::Connect
    } else if rec.timings.handshake_ms.is_none() {
        Phase::Handshake
    } else {
        Phase::Check
    };
    let in_tls = spec.protocol != Protocol::Mysql || rec.mysql.is_some();
    if phase == Phase::Handshake && in_tls {
        let first = std::mem::take(&mut obs.lock().first);
        return handshake_timeout(total, &first, rec);
    }
    Outcome::new(
        OutcomeClass::Timeout,
        phase,
        format!(
            "the probe did not end within its overall deadline of {} (stopped in the {} phase)",
            humantime::format_duration(total),
            phase.as_str()
        ),
    )
}

/// The instrumented client configuration of `caller` for `spec`: built on the caller's first
/// probe with these TLS versions, ALPN list and server verifier, then shared by every later
/// one (the instruments record into the running probe's observer, [`observe::CURRENT`]).
fn client_config(
    spec: &ProbeSpec,
    caller: &Caller,
    trust: &Trust,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let alpn: Vec<Vec<u8>> = spec
        .alpn_offered()
        .into_iter()
        .map(String::into_bytes)
        .collect();
    let key = ConfigKey {
        versions: spec.versions,
        alpn,
        verifier: Arc::as_ptr(&trust.server_verifier) as usize,
    };
    let mut configs = caller
        .configs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, cfg)) = configs.iter().find(|(k, _)| *k == key) {
        return Ok(cfg.clone());
    }
    let versions: &[&'static rustls::SupportedProtocolVersion] = match spec.versions {
        TlsVersions::Any => rustls::ALL_VERSIONS,
        TlsVersions::Tls12 => &[&rustls::version::TLS12],
        TlsVersions::Tls13 => &[&rustls::version::TLS13],
    };
    let mut cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RecordingVerifier {
            inner: trust.server_verifier.clone(),
        }))
        .with_client_cert_resolver(Arc::new(RecordingResolver {
            key: caller.identity.key.clone(),
        }));
    cfg.alpn_protocols = key.alpn.clone();
    cfg.resumption =
        Resumption::store(Arc::new(TicketWatch)).tls12_resumption(Tls12Resumption::Disabled);
    let cfg = Arc::new(cfg);
    // A handful per caller (one per distinct ALPN list and version set), never more.
    if configs.len() < MAX_CONFIGS_PER_CALLER {
        configs.push((key, cfg.clone()));
    }
    Ok(cfg)
}

/// What a caller's client configuration depends on besides the caller.
#[derive(Debug, PartialEq, Eq)]
struct ConfigKey {
    versions: TlsVersions,
    alpn: Vec<Vec<u8>>,
    /// The server verifier (the trusted CAs) by address: a caller probing under another
    /// `Trust` gets another configuration.
    verifier: usize,
}

/// How many client configurations a caller keeps (an audit needs one per check kind).
const MAX_CONFIGS_PER_CALLER: usize = 16;

async fn run(
    spec: &ProbeSpec,
    caller: &Caller,
    trust: &Trust,
    (obs, chains): (&Arc<Observer>, &ChainCache),
    rec: &mut ProbeRecord,
) -> Outcome {
    // Phase 1: resolve and connect.
    let mut tcp = match connect_phase(spec, rec).await {
        Ok(s) => s,
        Err(o) => return o,
    };
    // MySQL: TLS starts in-band, after the greeting and an SSLRequest.
    let greeting = if spec.protocol == Protocol::Mysql {
        match mysql::negotiate(&mut tcp, spec, rec).await {
            Ok(g) => Some(g),
            Err(o) => return o,
        }
    } else {
        None
    };

    // Phase 2: the TLS handshake, instrumented.
    let done = match handshake_phase(spec, caller, trust, (obs, chains), tcp, rec).await {
        Ok(h) => h,
        Err(o) => return o,
    };
    let tls13 = record_tls_params(rec, &done.tls, (obs, chains), &done.attribution);
    if done.ticket {
        rec.evidence.session_ticket = true;
    }

    // Phase 3: the post-handshake check.
    check_phase(spec, done, greeting.as_ref(), obs, tls13, rec).await
}

/// The client side of a finished TLS handshake, over the sniffing TCP stream.
type ClientTls = tokio_rustls::client::TlsStream<Sniff<TcpStream>>;

/// What a successful handshake phase hands to the check phase.
struct Handshaken<'c> {
    tls: ClientTls,
    attribution: Attribution<'c>,
    /// Whether the server had sent a session ticket when the handshake ended.
    ticket: bool,
}

/// Phase 1: resolve and connect within the connect deadline, recording its duration and the
/// peer address.
async fn connect_phase(spec: &ProbeSpec, rec: &mut ProbeRecord) -> Result<TcpStream, Outcome> {
    let t = Instant::now();
    let connected = tokio::time::timeout(
        spec.timeouts.connect,
        connect::connect(&spec.address, spec.timeouts.connect),
    )
    .await;
    rec.timings.connect_ms = Some(ms(t.elapsed()));
    let tcp = match connected {
        Err(_) => {
            return Err(Outcome::new(
                OutcomeClass::Timeout,
                Phase::Connect,
                format!(
                "no TCP connection within {} (a firewall dropping packets, or the host is down)",
                humantime::format_duration(spec.timeouts.connect)
            ),
            ))
        }
        Ok(Err((class, words))) => return Err(Outcome::new(class, Phase::Connect, words)),
        Ok(Ok(s)) => s,
    };
    rec.peer_addr = tcp.peer_addr().ok().map(|a| a.to_string());
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// Phase 2: the instrumented TLS handshake within its deadline. Records its duration and the
/// server side (chain and verdict), and attributes a failure to the caller's identity.
async fn handshake_phase<'c>(
    spec: &ProbeSpec,
    caller: &'c Caller,
    trust: &Trust,
    (obs, chains): (&Arc<Observer>, &ChainCache),
    tcp: TcpStream,
    rec: &mut ProbeRecord,
) -> Result<Handshaken<'c>, Outcome> {
    let server_name = spec.server_name();
    let (name, connector) = tls_connector(spec, caller, trust, &server_name)?;
    let t = Instant::now();
    let handshake = tokio::time::timeout(
        spec.timeouts.handshake,
        connector.connect(name, Sniff::new(tcp)).into_fallible(),
    )
    .await;
    rec.timings.handshake_ms = Some(ms(t.elapsed()));
    record_server_side(rec, obs, trust, chains, &server_name);
    let (requested, ticket) = {
        let st = obs.lock();
        (st.cert_requested, st.ticket)
    };
    let attribution = Attribution {
        cn: caller.identity.cn(),
        check: &caller.check,
        requested,
        sent: requested && caller.identity.key.is_some(),
    };
    let first = std::mem::take(&mut obs.lock().first);
    let tls = match handshake {
        Err(_) => return Err(handshake_timeout(spec.timeouts.handshake, &first, rec)),
        Ok(Err((err, Sniff { inner, .. }))) => {
            let left = spec.timeouts.handshake.saturating_sub(t.elapsed());
            let (first, waiting) = behind_a_reset(&err, inner, first, left).await;
            return Err(handshake_failure(
                &err,
                &first,
                waiting,
                &attribution,
                &mut rec.evidence,
            ));
        }
        Ok(Ok(tls)) => tls,
    };
    Ok(Handshaken {
        tls,
        attribution,
        ticket,
    })
}

/// A write error or a reset can hide what the peer sent before closing (an alert, or the
/// first bytes of another protocol): it is usually waiting in the receive buffer. After such
/// an error, read it (within `left`, at most [`DRAIN_BUDGET`]): the peer's first bytes, when
/// none had been read, and the alert among them.
async fn behind_a_reset(
    err: &std::io::Error,
    tcp: TcpStream,
    first: Vec<u8>,
    left: Duration,
) -> (Vec<u8>, Option<u8>) {
    if !is_reset(err) {
        return (first, None);
    }
    let got = drain(tcp, left.min(DRAIN_BUDGET)).await;
    let waiting = classify::find_alert(&got);
    if first.is_empty() {
        (got.into_iter().take(observe::SNIFF_LEN).collect(), waiting)
    } else {
        (first, waiting)
    }
}

/// The server name to verify and the connector configured for this caller.
fn tls_connector(
    spec: &ProbeSpec,
    caller: &Caller,
    trust: &Trust,
    server_name: &str,
) -> Result<(ServerName<'static>, TlsConnector), Outcome> {
    let Ok(name) = ServerName::try_from(server_name.to_string()) else {
        return Err(Outcome::new(
            OutcomeClass::ProtocolError,
            Phase::Handshake,
            format!("{server_name:?} is not a valid server name"),
        ));
    };
    let config = match client_config(spec, caller, trust) {
        Ok(c) => c,
        Err(e) => {
            return Err(Outcome::new(
                OutcomeClass::TlsMismatch,
                Phase::Handshake,
                format!("cannot configure TLS: {e}"),
            ))
        }
    };
    Ok((name, TlsConnector::from(config)))
}

/// A handshake that did not finish within `deadline`, the TCP connection accepted: the peer
/// sent `first` before it stalled. Bytes that are not TLS say what it speaks instead; none
/// at all is a port that never answered (`evidence.no_answer`).
fn handshake_timeout(deadline: Duration, first: &[u8], rec: &mut ProbeRecord) -> Outcome {
    if let Some(outcome) = sniffed_failure(first, &mut rec.evidence) {
        return outcome;
    }
    rec.evidence.no_answer = first.is_empty();
    Outcome::new(
        OutcomeClass::Timeout,
        Phase::Handshake,
        classify::no_tls_answer(deadline, !first.is_empty()),
    )
}

/// Record the negotiated TLS parameters; returns whether the connection is TLS 1.3.
fn record_tls_params(
    rec: &mut ProbeRecord,
    tls: &ClientTls,
    (obs, chains): (&Observer, &ChainCache),
    attribution: &Attribution<'_>,
) -> bool {
    let (_, conn) = tls.get_ref();
    let tls13 = conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
    rec.tls = Some(TlsParams {
        version: conn
            .protocol_version()
            .map(version_name)
            .unwrap_or_default(),
        cipher_suite: conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        key_exchange: conn
            .negotiated_key_exchange_group()
            .map(|g| format!("{:?}", g.name())),
        client_cert_requested: attribution.requested,
        client_cert_sent: attribution.sent,
        ca_hints: chains.ca_hints(&obs.lock().ca_hints, dn_to_string),
    });
    tls13
}

/// Phase 3: the post-handshake check (MySQL login or the protocol's check), within its
/// deadline; an untrusted server certificate outranks the check's verdict.
async fn check_phase(
    spec: &ProbeSpec,
    done: Handshaken<'_>,
    greeting: Option<&mysql::Greeting>,
    obs: &Observer,
    tls13: bool,
    rec: &mut ProbeRecord,
) -> Outcome {
    let Handshaken {
        tls, attribution, ..
    } = done;
    let t = Instant::now();
    let checked = match greeting {
        Some(g) => {
            let ev = &mut rec.evidence;
            mysql::check(spec, tls, g, obs, &attribution, ev, rec.mysql.as_mut()).await
        }
        None => {
            let upgraded = upgrade_from_alpn(spec, rec);
            let spec = upgraded.as_ref().unwrap_or(spec);
            check::run(spec, tls, obs, &attribution, tls13, &mut rec.evidence).await
        }
    };
    rec.timings.check_ms = Some(ms(t.elapsed()));
    let verdict = rec.server_verification.as_ref();
    if let Some(v) = verdict.filter(|v| !v.trusted) {
        return Outcome {
            class: OutcomeClass::ServerUntrusted,
            phase: Phase::Handshake,
            summary: format!(
                "the server certificate does not verify for {}: {}",
                v.server_name,
                v.detail.clone().unwrap_or_default()
            ),
            authorization: Some(checked.class),
        };
    }
    let checked = keep_tls_verdict(checked, &attribution, tls13, rec);
    let summary = match &rec.target.check_from_alpn {
        Some(check) => format!(
            "{} (the {check} check, chosen because the server negotiated ALPN {})",
            checked.summary,
            if check == "grpc" { "h2" } else { "http/1.1" }
        ),
        None => checked.summary,
    };
    Outcome::new(checked.class, Phase::Check, summary)
}

/// A check chosen from ALPN speaks a protocol the server may not serve (etcd's peer port
/// negotiates `h2` but serves no gRPC). When it ends without any answer (no alert, no status,
/// just a close or a reset) after the TLS layer took our certificate (a TLS 1.3 session ticket,
/// or a completed TLS 1.2 handshake), that silence is no rejection: the TLS verdict stands.
fn keep_tls_verdict(
    checked: check::CheckResult,
    a: &Attribution<'_>,
    tls13: bool,
    rec: &ProbeRecord,
) -> check::CheckResult {
    let ev = &rec.evidence;
    let silent = ev.alert.is_none() && ev.grpc_status.is_none() && ev.http_status.is_none();
    let tls_took_it = a.sent && (!tls13 || ev.session_ticket);
    let rejected =
        checked.class != OutcomeClass::Accepted && checked.class != OutcomeClass::Timeout;
    match &rec.target.check_from_alpn {
        Some(check) if silent && tls_took_it && rejected => check::CheckResult {
            class: OutcomeClass::Accepted,
            summary: format!(
                "the server accepted our certificate at the TLS layer; the {check} check got no answer ({}), which is no rejection",
                checked.summary
            ),
        },
        _ => checked,
    }
}

/// The generic `tls` check guesses nothing: when the server negotiated `h2` it speaks gRPC
/// (TiKV, TiFlash and PD refuse a CN inside the call), when `http/1.1` it speaks HTTP. The
/// spec to check with then, noted in the record.
fn upgrade_from_alpn(spec: &ProbeSpec, rec: &mut ProbeRecord) -> Option<ProbeSpec> {
    if spec.protocol != Protocol::Tls {
        return None;
    }
    let protocol = match rec.tls.as_ref()?.alpn.as_deref()? {
        "h2" => Protocol::Grpc,
        "http/1.1" => Protocol::Http,
        _ => return None,
    };
    rec.target.check_from_alpn = Some(protocol.as_str().to_string());
    let mut upgraded = spec.clone();
    upgraded.protocol = protocol;
    upgraded.path = None;
    Some(upgraded)
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        other => format!("{other:?}"),
    }
}

fn dn_to_string(der: &[u8]) -> String {
    use x509_parser::prelude::FromDer;
    // The hint is the DER Name without its outer SEQUENCE header in some stacks; accept both.
    match x509_parser::x509::X509Name::from_der(der) {
        Ok((_, name)) => name.to_string(),
        Err(_) => classify::escape(der),
    }
}

/// Summarize the chain (once per distinct chain, through `chains`) and WebPKI's verdict into
/// the record.
fn record_server_side(
    rec: &mut ProbeRecord,
    obs: &Observer,
    trust: &Trust,
    chains: &ChainCache,
    server_name: &str,
) {
    let st = obs.lock();
    rec.server_chain = chains.intern(&st.chain);
    rec.server_verification = st.verdict.as_ref().map(|v| match v {
        Ok(()) => ServerVerification {
            trusted: true,
            server_name: server_name.to_string(),
            reason: None,
            detail: None,
        },
        Err(e) => {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let (reason, detail) =
                classify::untrusted(e, &rec.server_chain, trust, server_name, now);
            ServerVerification {
                trusted: false,
                server_name: server_name.to_string(),
                reason: Some(reason),
                detail: Some(detail),
            }
        }
    });
}

/// How long a probe reads, after a write error or a reset, for an alert the peer sent first.
const DRAIN_BUDGET: Duration = Duration::from_millis(200);

/// A plain io error that says the peer closed hard: a reset, an abort or a broken pipe.
fn is_reset(err: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    let tls = err
        .get_ref()
        .is_some_and(|e| e.downcast_ref::<rustls::Error>().is_some());
    !tls && matches!(
        err.kind(),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe
    )
}

/// Read what the peer already sent (at most 64 KiB, within `budget`) and return the
/// description of the first plaintext TLS alert in it.
pub async fn drain_alert(tcp: TcpStream, budget: Duration) -> Option<u8> {
    classify::find_alert(&drain(tcp, budget).await)
}

/// Read what the peer already sent: at most 64 KiB, within `budget`.
async fn drain(mut tcp: TcpStream, budget: Duration) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    let _ = tokio::time::timeout(budget, async {
        while got.len() < 64 * 1024 {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    got
}

fn handshake_failure(
    err: &std::io::Error,
    first: &[u8],
    waiting: Option<u8>,
    a: &Attribution<'_>,
    ev: &mut Evidence,
) -> Outcome {
    ev.io_error = Some(classify::io_kind(err.kind()));
    // A peer that does not speak TLS shows in its first bytes, whatever the error says (rustls:
    // "received corrupt message of type InvalidContentType", or a reset, or a close).
    if let Some(outcome) = sniffed_failure(first, ev) {
        return outcome;
    }
    if let Some(code) = waiting {
        return waiting_alert_failure(err, code, a, ev);
    }
    let tls = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    if let Some(tls) = tls {
        return tls_error_failure(tls, a, ev);
    }
    io_signal_failure(err, first, a, ev)
}

/// A handshake that failed with an alert still waiting in the receive buffer: the alert says
/// why.
fn waiting_alert_failure(
    err: &std::io::Error,
    code: u8,
    a: &Attribution<'_>,
    ev: &mut Evidence,
) -> Outcome {
    let alert = rustls::AlertDescription::from(code);
    let (name, code) = classify::alert_name(alert);
    ev.alert = Some(AlertEvidence {
        name,
        code,
        received: Phase::Handshake,
    });
    let (class, words) = classify::handshake_alert(a, alert);
    Outcome::new(
        class,
        Phase::Handshake,
        format!(
            "{words} (read from the receive buffer after the {})",
            classify::io_kind(err.kind()).replace('_', " ")
        ),
    )
}

/// A peer whose first bytes are not TLS, if so: whatever it speaks (HTTP, a MySQL greeting,
/// SSH, text, bytes of no known protocol), the port is plaintext.
fn sniffed_failure(first: &[u8], ev: &mut Evidence) -> Option<Outcome> {
    let proto = classify::sniff(first)?;
    ev.peer_bytes = Some(classify::escape(first));
    ev.peer_protocol = Some(proto);
    Some(Outcome::new(
        OutcomeClass::Plaintext,
        Phase::Handshake,
        classify::not_tls(proto, first),
    ))
}

/// A handshake that rustls itself failed (an alert received, incompatible parameters, ...).
fn tls_error_failure(tls: &rustls::Error, a: &Attribution<'_>, ev: &mut Evidence) -> Outcome {
    ev.tls_error = Some(tls.to_string());
    let (class, words) = match tls {
        rustls::Error::AlertReceived(alert) => {
            let (name, code) = classify::alert_name(*alert);
            ev.alert = Some(AlertEvidence {
                name,
                code,
                received: Phase::Handshake,
            });
            classify::handshake_alert(a, *alert)
        }
        rustls::Error::PeerIncompatible(p) => (
            OutcomeClass::TlsMismatch,
            format!("the server is incompatible with the offered TLS parameters: {p:?}"),
        ),
        rustls::Error::NoApplicationProtocol => (
            OutcomeClass::TlsMismatch,
            "the server chose no ALPN protocol we offered".to_string(),
        ),
        other => (
            OutcomeClass::ProtocolError,
            format!("the TLS handshake failed: {other}"),
        ),
    };
    Outcome::new(class, Phase::Handshake, words)
}

/// A handshake that ended on a bare I/O error: a reset or a silent close, attributed to the
/// client certificate when the server requested one.
fn io_signal_failure(
    err: &std::io::Error,
    first: &[u8],
    a: &Attribution<'_>,
    ev: &mut Evidence,
) -> Outcome {
    use std::io::ErrorKind as K;
    let signal = match err.kind() {
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => classify::Signal::Reset,
        K::UnexpectedEof => classify::Signal::SilentClose,
        _ => {
            return Outcome::new(
                OutcomeClass::ProtocolError,
                Phase::Handshake,
                format!("the TLS handshake failed: {err}"),
            )
        }
    };
    if a.requested {
        if signal == classify::Signal::SilentClose {
            ev.closed_silently = true;
        }
        let (class, words) = classify::attribute(a, &signal);
        return Outcome::new(class, Phase::Handshake, words);
    }
    match signal {
        classify::Signal::Reset => Outcome::new(
            OutcomeClass::Reset,
            Phase::Handshake,
            "the peer reset the connection during the TLS handshake",
        ),
        _ => {
            ev.closed_silently = true;
            Outcome::new(
                OutcomeClass::ProtocolError,
                Phase::Handshake,
                if first.is_empty() {
                    "the peer closed the connection without answering the ClientHello (not a TLS server, or one that refuses this client silently)"
                } else {
                    "the peer closed the connection in the middle of the TLS handshake"
                },
            )
        }
    }
}
