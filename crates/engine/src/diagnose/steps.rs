//! The trace's steps (`Step`, each with its `StepStatus`), built once and shared by the text
//! and JSON output.

use serde::Serialize;

use crate::probe::describe;
use crate::probe::PeerProtocol;
use crate::probe::{OutcomeClass, Phase, ProbeRecord, ProbeSpec, TlsParams, TlsVersions};

use super::inputs::Inputs;
use super::resolution::Resolution;
use super::variant::VariantRun;

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Ok,
    Warn,
    Fail,
    Info,
    Skipped,
}

/// One step of the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub number: u8,
    pub title: String,
    pub status: StepStatus,
    pub lines: Vec<String>,
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |m| format!("{m:.1} ms"))
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn chain_lines(rec: &ProbeRecord, out: &mut Vec<String>) {
    let chain = describe::chain(rec, now_unix());
    out.push(format!(
        "server chain, {} certificate{} as sent:",
        chain.len(),
        if chain.len() == 1 { "" } else { "s" }
    ));
    for c in chain {
        let pad = "  ".repeat(c.index + 1);
        out.push(format!("{pad}{} {}", c.index, c.subject));
        out.push(format!("{pad}  issuer {}", c.issuer));
        out.push(format!(
            "{pad}  valid {} ({})",
            c.period,
            c.validity.detail()
        ));
        out.push(format!("{pad}  SAN {}", c.sans));
        out.push(format!(
            "{pad}  EKU {}; {}; sha256 {}",
            c.eku, c.key, c.sha256_short
        ));
    }
}

fn versions(v: TlsVersions) -> &'static str {
    match v {
        TlsVersions::Any => "TLS 1.2 and 1.3",
        TlsVersions::Tls12 => "TLS 1.2",
        TlsVersions::Tls13 => "TLS 1.3",
    }
}

fn connected(rec: &ProbeRecord) -> bool {
    rec.peer_addr.is_some()
}

/// The server's answer to our identity, in words.
pub(crate) fn answer(rec: &ProbeRecord) -> Option<String> {
    let ev = &rec.evidence;
    if let Some(a) = &ev.alert {
        let when = match a.received {
            Phase::Check => {
                "on the first read after the handshake (a TLS 1.3 post-handshake rejection)"
            }
            p => describe::alert_when(p),
        };
        return Some(format!("alert {} ({}) {when}", a.name, a.code));
    }
    if let Some(m) = &rec.mysql {
        if let Some(a) = &m.tls_login {
            return Some(format!(
                "the login inside TLS as {} with {}",
                m.user,
                a.describe()
            ));
        }
    }
    if let Some(s) = ev.grpc_status {
        return Some(format!(
            "gRPC status {s} ({}){}",
            crate::probe::classify::grpc_code_name(s),
            ev.grpc_message
                .as_ref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ));
    }
    if let Some(s) = ev.http_status {
        return Some(format!(
            "HTTP {s}{}",
            ev.http_body
                .as_ref()
                .map(|b| format!(": {}", b.replace('\n', " ")))
                .unwrap_or_default()
        ));
    }
    if ev.session_ticket {
        return Some(
            "a TLS 1.3 session ticket after our Finished (it accepted our certificate)".into(),
        );
    }
    if ev.closed_silently {
        return Some("a close without any alert".into());
    }
    None
}

/// The SQL logins, and what they prove about plaintext.
fn sql_step(m: &crate::probe::mysql::MysqlReport) -> Step {
    use crate::probe::mysql::{AccountKind, PlaintextVerdict as V};
    let mut lines = Vec::new();
    let who = match m.account {
        AccountKind::Audit => format!("{} (the audit account)", m.user),
        AccountKind::MadeUp => format!("{} (a made-up user: no credential)", m.user),
    };
    match &m.tls_login {
        Some(a) => lines.push(format!("inside TLS as {who}: {}", a.describe())),
        None => lines.push(format!("inside TLS as {who}: no TLS session")),
    }
    if let Some(a) = &m.plaintext_login {
        lines.push(format!("in plaintext as {who}: {}", a.describe()));
    }
    lines.push(format!(
        "plaintext {}: {}",
        m.plaintext.as_str(),
        m.plaintext_detail
    ));
    let status = match m.plaintext {
        V::Refused => StepStatus::Ok,
        V::Accepted => StepStatus::Warn,
        V::NoTls => StepStatus::Fail,
        V::Unknown => StepStatus::Info,
        V::NotTested => StepStatus::Skipped,
    };
    Step {
        number: 6,
        title: "SQL logins: inside TLS and in plaintext".into(),
        status,
        lines,
    }
}

/// Steps 1 to 6 of the trace (7 for a SQL port).
pub fn steps(
    inputs: &Inputs,
    spec: &ProbeSpec,
    res: &Resolution,
    base: &ProbeRecord,
    variants: &[VariantRun],
) -> Vec<Step> {
    let mut steps = vec![
        connect_step(res, base),
        speaks_tls_step(base),
        handshake_step(spec, base),
        server_step(inputs, spec, base),
        client_step(inputs, base),
    ];
    // 6. A SQL port: the logins over TLS and in plaintext.
    if let Some(m) = &base.mysql {
        steps.push(sql_step(m));
    }
    // 6 (or 7). Variants.
    let number = u8::try_from(steps.len() + 1).unwrap_or(u8::MAX);
    steps.push(variants_step(number, variants));
    steps
}

/// Step 1: name resolution and the TCP connect.
fn connect_step(res: &Resolution, base: &ProbeRecord) -> Step {
    let mut lines = Vec::new();
    if res.host.parse::<std::net::IpAddr>().is_ok() {
        lines.push(format!("{} is an IP address: no lookup", res.host));
    } else if let Some(e) = &res.error {
        lines.push(format!(
            "cannot resolve {}: {e} ({:.1} ms)",
            res.host, res.ms
        ));
    } else {
        lines.push(format!(
            "{} resolved to {} in {:.1} ms",
            res.host,
            res.addresses.join(", "),
            res.ms
        ));
    }
    let status = if let Some(peer) = &base.peer_addr {
        lines.push(format!(
            "TCP connected to {peer} in {}",
            fmt_ms(base.timings.connect_ms)
        ));
        StepStatus::Ok
    } else {
        lines.push(format!(
            "{} ({})",
            base.outcome.summary,
            fmt_ms(base.timings.connect_ms)
        ));
        StepStatus::Fail
    };
    Step {
        number: 1,
        title: "Name resolution and TCP connect".into(),
        status,
        lines,
    }
}

/// Step 2: does the port speak TLS at all (in-band for MySQL)?
fn speaks_tls_step(base: &ProbeRecord) -> Step {
    let mut lines = Vec::new();
    let status = if !connected(base) {
        lines.push("not reached".into());
        StepStatus::Skipped
    } else if let Some(m) = &base.mysql {
        lines.push(format!(
            "the MySQL protocol: a greeting from {} (connection {}, capabilities 0x{:08x})",
            m.server_version, m.connection_id, m.capabilities
        ));
        if m.tls_offered {
            lines.push("yes, in-band: the greeting carries CLIENT_SSL; an SSLRequest was sent and TLS started on the same socket".into());
            StepStatus::Ok
        } else {
            lines.push("no: the greeting lacks CLIENT_SSL: the server has no certificate loaded, so every client connects in plaintext".into());
            StepStatus::Fail
        }
    } else if let Some(p) = &base.evidence.peer_protocol {
        let what = match p {
            PeerProtocol::Http1 => {
                "plain HTTP/1.x: it answered our ClientHello with an HTTP response"
            }
            PeerProtocol::Http2 => "HTTP/2 without TLS (a SETTINGS frame): plaintext gRPC",
            PeerProtocol::Mysql => {
                "the MySQL protocol (a server greeting): TiDB's SQL port, where TLS is in-band"
            }
            other => other.describe(),
        };
        lines.push(format!("no: the port speaks {what}"));
        if let Some(b) = &base.evidence.peer_bytes {
            lines.push(format!("first bytes: {b}"));
        }
        StepStatus::Fail
    } else if base.tls.is_some() || !base.server_chain.is_empty() || base.evidence.alert.is_some() {
        lines.push("yes: the server answered the ClientHello in TLS".into());
        StepStatus::Ok
    } else {
        lines.push(format!("no TLS answer: {}", base.outcome.summary));
        StepStatus::Fail
    };
    Step {
        number: 2,
        title: "Does the port speak TLS?".into(),
        status,
        lines,
    }
}

/// What the handshake negotiated, and whether the server asked for a client certificate.
fn negotiated_lines(tls: &TlsParams, base: &ProbeRecord, lines: &mut Vec<String>) {
    lines.push(format!(
        "negotiated {} {}, ALPN {}{} in {}",
        tls.version,
        tls.cipher_suite,
        tls.alpn.as_deref().unwrap_or("none"),
        tls.key_exchange
            .as_ref()
            .map(|k| format!(", {k}"))
            .unwrap_or_default(),
        fmt_ms(base.timings.handshake_ms)
    ));
    if tls.client_cert_requested {
        lines.push(format!(
            "the server requested a client certificate{}",
            if tls.ca_hints.is_empty() {
                " (naming no CA)".to_string()
            } else {
                format!(", naming the CAs: {}", tls.ca_hints.join("; "))
            }
        ));
    } else {
        lines.push("the server did not request a client certificate".into());
    }
}

/// Step 3: what was offered, what was negotiated, and the chain the server sent.
fn handshake_step(spec: &ProbeSpec, base: &ProbeRecord) -> Step {
    let mut lines = Vec::new();
    let offered = spec.alpn_offered();
    lines.push(format!(
        "offered {} with ALPN {}; verifying the server as {}",
        versions(spec.versions),
        if offered.is_empty() {
            "none".to_string()
        } else {
            offered.join(", ")
        },
        spec.server_name()
    ));
    let status = if let Some(tls) = &base.tls {
        negotiated_lines(tls, base, &mut lines);
        StepStatus::Ok
    } else if connected(base) && base.evidence.peer_protocol.is_none() {
        lines.push(format!(
            "failed after {}: {}",
            fmt_ms(base.timings.handshake_ms),
            base.outcome.summary
        ));
        StepStatus::Fail
    } else {
        lines.push("not reached".into());
        StepStatus::Skipped
    };
    if !base.server_chain.is_empty() {
        chain_lines(base, &mut lines);
    }
    Step {
        number: 3,
        title: "TLS handshake".into(),
        status,
        lines,
    }
}

/// Step 4: whether the server's chain verifies against the cluster CA.
fn server_step(inputs: &Inputs, spec: &ProbeSpec, base: &ProbeRecord) -> Step {
    let mut lines = Vec::new();
    let ca = inputs
        .trust
        .certs
        .first()
        .map(|c| c.subject.clone())
        .unwrap_or_default();
    let status = match &base.server_verification {
        Some(v) if v.trusted => {
            lines.push(format!(
                "the chain verifies against the cluster CA ({ca}) for {}",
                v.server_name
            ));
            StepStatus::Ok
        }
        Some(v) => {
            lines.push(format!(
                "the chain does NOT verify for {}: {}",
                v.server_name,
                v.reason.map_or(
                    "other",
                    super::super::probe::record::UntrustedReason::as_str
                )
            ));
            if let Some(d) = &v.detail {
                lines.push(d.clone());
            }
            lines.push(format!("cluster CA: {ca}"));
            StepStatus::Fail
        }
        None => {
            lines.push("the server sent no certificate".into());
            StepStatus::Skipped
        }
    };
    Step {
        number: 4,
        title: format!("Server certificate for {}", spec.server_name()),
        status,
        lines,
    }
}

/// Step 5: our identity, whether it was sent, and what the server made of it.
fn client_step(inputs: &Inputs, base: &ProbeRecord) -> Step {
    let class = base.outcome.class;
    let mut lines = Vec::new();
    identity_lines(inputs, &mut lines);
    if let Some(tls) = &base.tls {
        lines.push(match (tls.client_cert_requested, tls.client_cert_sent) {
            (true, true) => "sent it: the server asked".to_string(),
            (true, false) => "the server asked for a certificate; none was sent".to_string(),
            (false, _) => "not sent: the server did not ask".to_string(),
        });
    }
    if let Some(a) = answer(base) {
        lines.push(format!("the server answered: {a}"));
    }
    lines.push(format!(
        "{}: {}",
        class.as_str().to_uppercase(),
        base.outcome.summary
    ));
    if let Some(auth) = base.outcome.authorization {
        lines.push(format!("past the untrusted chain, the check saw: {auth}"));
    }
    let status = match base.outcome.authorization.unwrap_or(class) {
        OutcomeClass::Accepted if class == OutcomeClass::Accepted => StepStatus::Ok,
        OutcomeClass::Accepted => StepStatus::Warn,
        c if c.is_rejection() => StepStatus::Fail,
        _ if inputs.key_mismatch.is_some() => StepStatus::Fail,
        _ => StepStatus::Skipped,
    };
    Step {
        number: 5,
        title: "Client side".into(),
        status,
        lines,
    }
}

/// The caller's identity for step 5: a key that does not match, or the certificate's facts.
fn identity_lines(inputs: &Inputs, lines: &mut Vec<String>) {
    let id = &inputs.caller.identity;
    let check = &inputs.caller.check;
    if let Some(m) = &inputs.key_mismatch {
        lines.push(format!(
            "identity {}: certificate {} (CN {}) does NOT match its key {}: probed without a certificate",
            m.identity,
            m.cert_file,
            m.certificate.label(),
            m.key_file
        ));
    } else if let Some(leaf) = &id.leaf {
        let facts = describe::CertFacts::of(0, leaf, now_unix());
        lines.push(format!(
            "identity {}: {} (CN {}, sha256 {}); its key matches",
            id.name,
            id.cert_path
                .as_ref()
                .map_or_else(|| "certificate".into(), |p| p.display().to_string()),
            leaf.label(),
            facts.sha256_short
        ));
        lines.push(format!(
            "EKU {}; valid {} ({})",
            facts.eku,
            facts.period,
            facts.validity.detail()
        ));
        lines.push(format!(
            "issued by {}: {}",
            leaf.issuer,
            if check.chains_to_ca {
                "chains to the cluster CA"
            } else {
                "does NOT chain to the cluster CA"
            }
        ));
        if let Some(p) = &check.problem {
            lines.push(format!("pre-flight check: the certificate {p}"));
        }
    } else {
        lines.push("no client certificate configured".into());
    }
}

/// The last step: one line per variant probe.
fn variants_step(number: u8, variants: &[VariantRun]) -> Step {
    let mut lines = Vec::new();
    if variants.is_empty() {
        lines.push(
            "none: the baseline did not reach TLS, so changing TLS parameters tells nothing".into(),
        );
    }
    for v in variants {
        let outcome = match v.authorization {
            Some(a) => format!("{} (then {a})", v.outcome),
            None => v.outcome.to_string(),
        };
        lines.push(format!("{:<42} {:<28} {}", v.label, outcome, v.observed));
    }
    Step {
        number,
        title: format!(
            "Variants: {} extra handshake{}",
            variants.len(),
            if variants.len() == 1 { "" } else { "s" }
        ),
        status: StepStatus::Info,
        lines,
    }
}
