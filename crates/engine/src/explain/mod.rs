//! `tlsaudit explain "ERROR TEXT"`: map a log line from TiDB, TiKV, PD, TiFlash, TiCDC, Go,
//! OpenSSL, rustls or nginx to the likely cause, the checks that confirm it, and the
//! `tlsaudit diagnose` command that probes it. The texts are in `patterns.rs`; nginx's
//! client-certificate lines, whose OpenSSL error number decides the cause, in `nginx.rs`.

use serde::Serialize;

use crate::diagnose::cause::Cause;

mod extract;
mod nginx;
mod patterns;

use extract::{extract, Extracted};
use patterns::{Pattern, PATTERNS};
use Cause as C;

/// A cause as the explanation lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CauseInfo {
    pub cause: Cause,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fact: Option<u8>,
}

/// One recognised text in the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    /// The recognised words, as they appear in the input.
    pub matched: String,
    /// Who prints it.
    pub source: String,
    pub meaning: String,
    /// Likely causes, most likely first.
    pub causes: Vec<CauseInfo>,
    /// Names read from the text (the CN, the dialed address, the SANs, the list).
    pub details: Vec<String>,
    /// What to check to confirm.
    pub checks: Vec<String>,
    /// The tlsaudit command that probes the link and names the cause.
    pub confirm: String,
}

/// The explanation of a pasted text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub input: String,
    pub matches: Vec<Match>,
}

impl Explanation {
    pub fn matched(&self) -> bool {
        !self.matches.is_empty()
    }

    /// 0 when the text was recognised, 1 when it was not.
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.matched())
    }

    /// The most likely cause.
    pub fn cause(&self) -> Option<Cause> {
        self.matches
            .first()
            .and_then(|m| m.causes.first())
            .map(|c| c.cause)
    }
}

fn confirm(cause: Cause, ex: &Extracted) -> String {
    let target = match (&ex.endpoint, &ex.host) {
        (Some(e), _) => e.clone(),
        (None, Some(h)) if h.contains(':') && !h.contains('.') => format!("[{h}]:PORT"),
        (None, Some(h)) => format!("{h}:PORT"),
        (None, None) => "HOST:PORT".to_string(),
    };
    let who = match &ex.cn {
        Some(cn) => format!("--as {cn}"),
        None => "--as IDENTITY".to_string(),
    };
    match cause {
        C::CnNotAllowed | C::PdCnNotAllowed | C::TidbVerifyCn => format!(
            "tlsaudit diagnose {} --config tlsaudit.toml {who}   (the identity whose certificate has that CN; the variants show which CNs the server accepts)",
            ex.endpoint.as_deref().unwrap_or("ENDPOINT")
        ),
        C::SanMismatch | C::CnOnlyCert => format!(
            "tlsaudit diagnose {target} --config tlsaudit.toml   (dial it as the callers do; the variants verify the chain for the certificate's own SANs)"
        ),
        C::PdMultipleCn | C::NotListening => "tlsaudit diagnose PD-HOST:2379 --config tlsaudit.toml".to_string(),
        C::Plaintext => format!(
            "tlsaudit diagnose {target} --config tlsaudit.toml   (step 2 shows what the port speaks)"
        ),
        C::MissingAlpn => format!(
            "tlsaudit diagnose {target} --config tlsaudit.toml --protocol grpc   (step 3 shows the negotiated ALPN)"
        ),
        C::KeyMismatch => "tlsaudit diagnose HOST:PORT --ca ca.crt --cert CERT --key KEY".to_string(),
        C::SqlTlsNotOffered | C::SecureTransportRequired | C::SqlAccessDenied | C::SqlHostNotAllowed => format!(
            "tlsaudit diagnose {} --ca ca.crt --protocol mysql   (add --mysql-user NAME, password in TLSAUDIT_MYSQL_PASSWORD, to learn whether plaintext is refused)",
            match &ex.host {
                Some(h) => format!("{h}:4000"),
                None => "HOST:4000".to_string(),
            }
        ),
        _ => format!("tlsaudit diagnose {target} --config tlsaudit.toml {who}"),
    }
}

/// Explain a pasted text (one or more log lines).
pub fn explain(input: &str) -> Explanation {
    let original = input.trim();
    // Zap (TiDB, PD, TiCDC) and slog (TiKV) quote nested strings with `\"`: read them unescaped.
    let unescaped = extract::unescape(original);
    let text = unescaped.as_str();
    let lower = text.to_ascii_lowercase();
    // OpenSSL/BoringSSL reason codes as gRPC C-core prints them (`CERTIFICATE_VERIFY_FAILED`,
    // `WRONG_VERSION_NUMBER`) are the same words as OpenSSL's texts with underscores.
    let spaced = lower.replace('_', " ");
    let ex = extract(text, &lower);
    let mut found: Vec<(&Pattern, String)> = Vec::new();
    for pat in PATTERNS {
        if pat
            .needles
            .iter()
            .all(|n| lower.contains(n) || spaced.contains(n))
        {
            let first = pat.needles[0];
            let matched = lower
                .find(first)
                .or_else(|| spaced.find(first))
                .and_then(|i| text.get(i..i + first.len()))
                .unwrap_or(first)
                .to_string();
            found.push((pat, matched));
        }
    }
    let nginx = nginx::nginx(text, &lower);
    if nginx.is_some() || found.iter().any(|(p, _)| !p.generic) {
        found.retain(|(p, _)| !p.generic);
    }
    let mut seen = Vec::new();
    let mut matches = Vec::new();
    if let Some(n) = nginx {
        seen.push(n.causes[0]);
        let target = n.endpoint.as_deref().unwrap_or("HOST:PORT");
        let mut details = n.details;
        for d in &ex.details {
            if !details.contains(d) {
                details.push(d.clone());
            }
        }
        matches.push(Match {
            confirm: format!(
                "tlsaudit diagnose {target} --ca ca.crt --cert CALLER.crt --key CALLER.key   (the CA of ssl_client_certificate and the caller's files; the variants show what nginx admits)"
            ),
            ..to_match(n.matched, n.source, &n.meaning, n.causes, details, &ex)
        });
    }
    for (pat, matched) in found {
        let primary = pat.causes[0];
        if seen.contains(&primary) {
            continue;
        }
        seen.push(primary);
        matches.push(to_match(
            matched,
            pat.source,
            pat.meaning,
            pat.causes,
            ex.details.clone(),
            &ex,
        ));
    }
    Explanation {
        input: original.to_string(),
        matches,
    }
}

/// One match: the causes with their titles, the checks of the first two, the confirming
/// command of the first.
fn to_match(
    matched: String,
    source: &str,
    meaning: &str,
    causes: &[Cause],
    details: Vec<String>,
    ex: &Extracted,
) -> Match {
    let mut checks = Vec::new();
    for c in causes.iter().take(2) {
        for x in c.checks() {
            if !checks.contains(&x) {
                checks.push(x);
            }
        }
    }
    Match {
        matched,
        source: source.to_string(),
        meaning: meaning.to_string(),
        causes: causes
            .iter()
            .map(|c| CauseInfo {
                cause: *c,
                title: c.title().to_string(),
                fact: c.fact(),
            })
            .collect(),
        details,
        checks,
        confirm: confirm(causes[0], ex),
    }
}

/// What to say when nothing matched.
pub fn unmatched_help(input: &str) -> String {
    // The text is shown back: control characters and the Unicode controls that reorder or hide
    // text become visible escapes, so a pasted line cannot drive the terminal.
    let shown: String = input
        .trim()
        .chars()
        .take(120)
        .flat_map(|c| {
            let hidden = c.is_control()
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            let escaped: Vec<char> = if hidden {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    format!(
        "tlsaudit does not recognise this text: \"{shown}\"\n\
         It knows the TLS errors of TiDB, TiKV, PD, TiFlash and TiCDC, of Go (crypto/tls, crypto/x509, gRPC),\n\
         OpenSSL and rustls, nginx's client-certificate lines, and the SQL ports' MySQL errors (1045, 1130, 2026,\n\
         3159), for example:\n\
         \x20 x509: certificate signed by unknown authority\n\
         \x20 x509: certificate is valid for 127.0.0.1, not 10.0.1.5\n\
         \x20 Common name check fail, reason: x509_common_name from peer is tidb\n\
         \x20 remote error: tls: bad certificate / sslv3 alert bad certificate / wrong version number\n\
         \x20 ERROR 3159 (HY000): Connections using insecure transport are prohibited while --require_secure_transport=ON.\n\
         Paste the whole log line (the part after the timestamp is enough), or let tlsaudit probe the link:\n\
         \x20 tlsaudit diagnose HOST:PORT --config tlsaudit.toml --as IDENTITY\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_is_lowercase() {
        for p in PATTERNS {
            for n in p.needles {
                assert_eq!(*n, n.to_ascii_lowercase());
            }
            assert!(!p.causes.is_empty());
        }
    }

    #[test]
    fn specific_beats_generic() {
        let e = explain("rpc error: code = Unavailable desc = connection error: desc = \"transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority\"");
        assert_eq!(e.cause(), Some(Cause::UnknownCa));
        assert_eq!(e.matches.len(), 1);
    }

    #[test]
    fn reads_the_names() {
        let e = explain("x509: certificate is valid for 127.0.0.1, ::1, not 10.0.1.5");
        assert!(e.matches[0]
            .details
            .iter()
            .any(|d| d.ends_with("dialed: 10.0.1.5")));
        assert!(e.matches[0].confirm.contains("10.0.1.5:PORT"));
    }

    #[test]
    fn nginx_lines_come_first_with_their_cause_and_fix() {
        let e = explain("2024/05/01 10:00:00 [info] 1234#0: *5 client SSL certificate verify error: (20:unable to get local issuer certificate) while reading client request headers, client: 10.0.3.9, server: api, request: \"GET / HTTP/1.1\", host: \"10.0.3.5:8443\"");
        assert_eq!(e.cause(), Some(Cause::UnknownCa));
        let m = &e.matches[0];
        assert!(m.source.starts_with("nginx"), "{m:?}");
        assert!(m.meaning.contains("Fix: "), "{m:?}");
        assert!(m.confirm.contains("10.0.3.5:8443"), "{m:?}");
        // OpenSSL's own pattern for error 20 names the same cause: one match, nginx's.
        assert_eq!(e.matches.len(), 1, "{e:#?}");
        let e = explain("client SSL certificate verify error: (26:unsupported certificate purpose) while reading client request headers");
        assert_eq!(e.cause(), Some(Cause::IncompatibleEku));
        assert_eq!(e.matches.len(), 1, "{e:#?}");
        let e =
            explain("client sent no required SSL certificate while reading client request headers");
        assert_eq!(e.cause(), Some(Cause::ClientCertRequired));
        assert!(e.matches[0].confirm.contains("HOST:PORT"), "{e:#?}");
        assert!(e.matched());
    }
}
