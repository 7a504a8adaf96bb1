//! Human-readable text of a probe record, read at a glance.

use std::fmt::Write;

use tlsaudit_engine::probe::mysql::{AccountKind, MysqlReport, PlaintextVerdict};
use tlsaudit_engine::probe::{OutcomeClass, ProbeRecord};

/// Terminal styling; `plain` when stdout is not a terminal or `NO_COLOR` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn plain() -> Style {
        Style { color: false }
    }

    /// Colour when stdout is a terminal and `NO_COLOR` is unset.
    pub fn detect() -> Style {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color && std::io::stdout().is_terminal(),
        }
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
        m.server_version,
        m.connection_id,
        if m.tls_offered {
            "TLS offered (CLIENT_SSL)".to_string()
        } else {
            style.bad("TLS NOT offered (no CLIENT_SSL in the greeting)")
        }
    );
    let who = match m.account {
        AccountKind::Audit => format!("{} (audit account)", m.user),
        AccountKind::MadeUp => format!("{} (made-up user)", m.user),
    };
    if let Some(a) = &m.tls_login {
        let _ = writeln!(
            out,
            "             login inside TLS as {who}: {}",
            a.describe()
        );
    }
    if let Some(a) = &m.plaintext_login {
        let _ = writeln!(
            out,
            "             login in plaintext as {who}: {}",
            a.describe()
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
        m.plaintext_detail
    );
}

/// The probe record as text.
pub fn probe(rec: &ProbeRecord, style: Style) -> String {
    let mut out = String::new();
    let who = match &rec.identity.cn {
        Some(cn) if *cn != rec.identity.name => format!("{} (CN {cn})", rec.identity.name),
        Some(_) => rec.identity.name.clone(),
        None => format!("{} (no client certificate)", rec.identity.name),
    };
    let _ = writeln!(
        out,
        "probe {} as {who} over {}{}",
        rec.target.address,
        rec.target.protocol,
        rec.target
            .path
            .as_ref()
            .map(|p| format!(" {p}"))
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
    let _ = writeln!(out, "\n  {label}  {}", rec.outcome.summary);
    if let Some(auth) = rec.outcome.authorization {
        let _ = writeln!(out, "  (past the untrusted chain, the check saw: {auth})");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  connect    {:<48} {}",
        rec.peer_addr.as_deref().unwrap_or(&rec.target.address),
        fmt_ms(rec.timings.connect_ms)
    );
    if let Some(tls) = &rec.tls {
        let line = format!(
            "{} {}, ALPN {}{}",
            tls.version,
            tls.cipher_suite,
            tls.alpn.as_deref().unwrap_or("none"),
            tls.key_exchange
                .as_ref()
                .map(|k| format!(", {k}"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "  handshake  {line:<48} {}",
            fmt_ms(rec.timings.handshake_ms)
        );
        let cert = match (tls.client_cert_requested, tls.client_cert_sent) {
            (false, _) => "not requested by the server".to_string(),
            (true, true) => format!(
                "requested, sent (CN {})",
                rec.identity.cn.as_deref().unwrap_or("-")
            ),
            (true, false) => "requested, none sent".to_string(),
        };
        let _ = writeln!(out, "             client certificate: {cert}");
        if !tls.ca_hints.is_empty() {
            let _ = writeln!(
                out,
                "             acceptable CAs: {}",
                tls.ca_hints.join("; ")
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
    if let Some(m) = &rec.mysql {
        mysql(&mut out, m, style);
    }
    if !rec.server_chain.is_empty() {
        let verdict = match &rec.server_verification {
            Some(v) if v.trusted => style.good(&format!("verified for {}", v.server_name)),
            Some(v) => style.bad(&format!(
                "NOT verified for {}: {}",
                v.server_name,
                v.reason
                    .map_or("other", tlsaudit_engine::probe::UntrustedReason::as_str)
            )),
            None => "not verified".to_string(),
        };
        let _ = writeln!(out, "\n  server chain ({verdict})");
        for (i, c) in rec.server_chain.iter().enumerate() {
            let indent = "  ".repeat(i);
            let _ = writeln!(out, "    {indent}{i} {}", c.subject);
            let _ = writeln!(out, "    {indent}  issuer   {}", c.issuer);
            let _ = writeln!(
                out,
                "    {indent}  valid    {} .. {}",
                c.not_before, c.not_after
            );
            if !c.sans.is_empty() {
                let _ = writeln!(out, "    {indent}  SAN      {}", c.sans.join(", "));
            }
            let eku = if c.has_eku_extension {
                c.extended_key_usage.join(", ")
            } else {
                "(no EKU extension)".to_string()
            };
            let _ = writeln!(
                out,
                "    {indent}  key      {}, {}{}, EKU {eku}",
                c.public_key,
                c.signature_algorithm,
                if c.is_ca { ", CA" } else { "" }
            );
            let _ = writeln!(out, "    {indent}  sha256   {}", style.dim(&c.sha256));
        }
        if let Some(detail) = rec
            .server_verification
            .as_ref()
            .and_then(|v| v.detail.as_ref())
        {
            let _ = writeln!(out, "    {detail}");
        }
    }
    let ev = &rec.evidence;
    let mut lines = Vec::new();
    if let Some(a) = &ev.alert {
        let when = match a.received {
            tlsaudit_engine::probe::Phase::Handshake => "during the handshake",
            _ => "on the first read after the handshake",
        };
        lines.push(format!("alert {} ({}) {when}", a.name, a.code));
    }
    if let Some(m) = &ev.grpc_message {
        lines.push(format!("grpc-message: {m}"));
    }
    if let Some(b) = &ev.http_body {
        lines.push(format!("http body: {b}"));
    }
    if let Some(p) = &ev.peer_protocol {
        lines.push(format!("peer speaks: {p}"));
    }
    if let Some(b) = &ev.peer_bytes {
        lines.push(format!("peer sent: {b}"));
    }
    if ev.closed_silently {
        lines.push("peer closed without an alert".to_string());
    }
    if let Some(e) = &ev.tls_error {
        lines.push(format!("tls error: {e}"));
    }
    if let Some(e) = &ev.io_error {
        lines.push(format!("io error: {e}"));
    }
    if let Some(p) = &rec.identity.check.problem {
        lines.push(format!("our certificate {p}"));
    }
    if !lines.is_empty() {
        let _ = writeln!(out, "\n  evidence");
        for l in lines {
            let _ = writeln!(out, "    {l}");
        }
    }
    let _ = writeln!(out, "\n  total {}", fmt_ms(Some(rec.timings.total_ms)));
    out
}
