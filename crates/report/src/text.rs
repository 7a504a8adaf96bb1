//! Human-readable text of a probe record, read at a glance, and [`Style`]: the colours of
//! every text writer.

use std::fmt::Write;

use tlsaudit_engine::probe::describe;
use tlsaudit_engine::probe::mysql::{AccountKind, MysqlReport, PlaintextVerdict};
use tlsaudit_engine::probe::{OutcomeClass, ProbeRecord};

use super::sanitize::{inert, inert_owned};

/// Terminal styling: ANSI colours or none. Whether stdout is a terminal and whether `NO_COLOR`
/// is set are the front end's to decide ([`Style::with_color`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// No colour.
    pub fn plain() -> Style {
        Style { color: false }
    }

    /// Colour when `color`.
    pub fn with_color(color: bool) -> Style {
        Style { color }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub fn good(&self, s: &str) -> String {
        self.paint("1;32", s)
    }
    pub fn bad(&self, s: &str) -> String {
        self.paint("1;31", s)
    }
    pub fn warn(&self, s: &str) -> String {
        self.paint("1;33", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |m| format!("{m:.1} ms"))
}

/// A SQL port's greeting, logins and what they prove.
fn mysql(out: &mut String, m: &MysqlReport, style: Style) {
    let _ = writeln!(
        out,
        "\n  mysql      {} (connection {}), {}",
        inert(&m.server_version),
        m.connection_id,
        if m.tls_offered {
            "TLS offered (CLIENT_SSL)".to_string()
        } else {
            style.bad("TLS NOT offered (no CLIENT_SSL in the greeting)")
        }
    );
    let who = match m.account {
        AccountKind::Audit => format!("{} (audit account)", inert(&m.user)),
        AccountKind::MadeUp => format!("{} (made-up user)", inert(&m.user)),
    };
    if let Some(a) = &m.tls_login {
        let _ = writeln!(
            out,
            "             login inside TLS as {who}: {}",
            inert(&a.describe())
        );
    }
    if let Some(a) = &m.plaintext_login {
        let _ = writeln!(
            out,
            "             login in plaintext as {who}: {}",
            inert(&a.describe())
        );
    }
    let verdict = match m.plaintext {
        PlaintextVerdict::Refused => style.good("refused"),
        PlaintextVerdict::Accepted => style.bad("ACCEPTED"),
        PlaintextVerdict::NoTls => style.bad("the only way in (no TLS)"),
        PlaintextVerdict::Unknown => style.warn("unknown"),
        PlaintextVerdict::NotTested => "not tested".to_string(),
    };
    let _ = writeln!(
        out,
        "             plaintext: {verdict}: {}",
        inert(&m.plaintext_detail)
    );
}

/// The first lines: who probed what, and the outcome with its summary.
fn header(out: &mut String, rec: &ProbeRecord, style: Style) {
    let name = inert(&rec.identity.name);
    let who = match &rec.identity.cn {
        Some(cn) if *cn != rec.identity.name => format!("{name} (CN {})", inert(cn)),
        Some(_) => name.into_owned(),
        None => format!("{name} (no client certificate)"),
    };
    let _ = writeln!(
        out,
        "probe {} as {who} over {}{}",
        inert(&rec.target.address),
        rec.target.protocol,
        rec.target
            .path
            .as_ref()
            .map(|p| format!(" {}", inert(p)))
            .unwrap_or_default()
    );
    let class = rec.outcome.class;
    let label = class.as_str().to_uppercase();
    let label = match class {
        OutcomeClass::Accepted => style.good(&label),
        OutcomeClass::CnRejected | OutcomeClass::CertRejected | OutcomeClass::CertRequired => {
            style.warn(&label)
        }
        _ => style.bad(&label),
    };
    let _ = writeln!(out, "\n  {label}  {}", inert(&rec.outcome.summary));
    if let Some(auth) = rec.outcome.authorization {
        let _ = writeln!(out, "  (past the untrusted chain, the check saw: {auth})");
    }
    let _ = writeln!(out);
}

/// The connect and handshake phases: timings, the negotiated parameters and the client
/// certificate exchange.
fn handshake(out: &mut String, rec: &ProbeRecord) {
    let _ = writeln!(
        out,
        "  connect    {:<48} {}",
        inert(rec.peer_addr.as_deref().unwrap_or(&rec.target.address)),
        fmt_ms(rec.timings.connect_ms)
    );
    if let Some(tls) = &rec.tls {
        let line = inert_owned(&format!(
            "{} {}, ALPN {}{}",
            tls.version,
            tls.cipher_suite,
            tls.alpn.as_deref().unwrap_or("none"),
            tls.key_exchange
                .as_ref()
                .map(|k| format!(", {k}"))
                .unwrap_or_default()
        ));
        let _ = writeln!(
            out,
            "  handshake  {line:<48} {}",
            fmt_ms(rec.timings.handshake_ms)
        );
        let cert = match (tls.client_cert_requested, tls.client_cert_sent) {
            (false, _) => "not requested by the server".to_string(),
            (true, true) => format!(
                "requested, sent (CN {})",
                inert(rec.identity.cn.as_deref().unwrap_or("-"))
            ),
            (true, false) => "requested, none sent".to_string(),
        };
        let _ = writeln!(out, "             client certificate: {cert}");
        if !tls.ca_hints.is_empty() {
            let _ = writeln!(
                out,
                "             acceptable CAs: {}",
                inert(&tls.ca_hints.join("; "))
            );
        }
    } else if rec.timings.handshake_ms.is_some() {
        let _ = writeln!(
            out,
            "  handshake  {:<48} {}",
            "failed",
            fmt_ms(rec.timings.handshake_ms)
        );
    }
}

/// The application-level check after the handshake, with its timing.
fn check(out: &mut String, rec: &ProbeRecord) {
    if rec.timings.check_ms.is_some() {
        let ev = &rec.evidence;
        let what = if rec.mysql.as_ref().is_some_and(|m| m.tls_login.is_some()) {
            "MySQL login inside TLS".to_string()
        } else if let Some(s) = ev.grpc_status {
            format!("grpc-status {s}")
        } else if let Some(s) = ev.http_status {
            format!("HTTP {s}")
        } else if ev.session_ticket {
            "session ticket received".to_string()
        } else {
            "read after handshake".to_string()
        };
        let _ = writeln!(
            out,
            "  check      {what:<48} {}",
            fmt_ms(rec.timings.check_ms)
        );
    }
}

/// The certificate chain the server sent, each certificate with its details.
fn server_chain(out: &mut String, rec: &ProbeRecord, style: Style) {
    if !rec.server_chain.is_empty() {
        let verdict = match describe::verification(rec) {
            Some((true, words)) => style.good(&inert(&words)),
            Some((false, words)) => style.bad(&inert(&words)),
            None => "not verified".to_string(),
        };
        let _ = writeln!(out, "\n  server chain ({verdict})");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        for c in describe::chain(rec, now) {
            let indent = "  ".repeat(c.index);
            let _ = writeln!(out, "    {indent}{} {}", c.index, inert(&c.subject));
            let _ = writeln!(out, "    {indent}  issuer   {}", inert(&c.issuer));
            let validity = if c.validity.is_valid() {
                c.validity.detail()
            } else {
                style.bad(&c.validity.detail())
            };
            let _ = writeln!(out, "    {indent}  valid    {} ({validity})", c.period);
            let _ = writeln!(out, "    {indent}  SAN      {}", inert(&c.sans));
            let _ = writeln!(
                out,
                "    {indent}  key      {}, EKU {}",
                inert(&c.key),
                inert(&c.eku)
            );
            let _ = writeln!(out, "    {indent}  sha256   {}", style.dim(&c.sha256));
        }
    }
}

/// The evidence lines behind the outcome.
fn evidence(out: &mut String, rec: &ProbeRecord) {
    let lines = describe::evidence(rec);
    if !lines.is_empty() {
        let _ = writeln!(out, "\n  evidence");
        for l in lines {
            let _ = writeln!(out, "    {}", inert(&l));
        }
    }
}

/// The probe record as text.
pub fn probe(rec: &ProbeRecord, style: Style) -> String {
    let mut out = String::new();
    header(&mut out, rec, style);
    handshake(&mut out, rec);
    check(&mut out, rec);
    if let Some(m) = &rec.mysql {
        mysql(&mut out, m, style);
    }
    server_chain(&mut out, rec, style);
    evidence(&mut out, rec);
    let _ = writeln!(out, "\n  total {}", fmt_ms(Some(rec.timings.total_ms)));
    out
}
