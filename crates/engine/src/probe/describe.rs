//! A probe record as facts in words: the server chain (position, validity, SANs, key, EKU,
//! fingerprint), the server verification and the evidence. The text report, `diagnose` and the
//! dashboard style these; none of them words a chain or the evidence on its own.

use crate::pki::CertSummary;

use super::record::{OutcomeClass, Phase, ProbeRecord};

/// Where a certificate sits in the chain the server sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainPosition {
    Leaf,
    Intermediate,
    Ca,
}

impl ChainPosition {
    pub fn as_str(self) -> &'static str {
        match self {
            ChainPosition::Leaf => "leaf",
            ChainPosition::Intermediate => "intermediate",
            ChainPosition::Ca => "CA",
        }
    }
}

/// Whether a certificate is valid at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Valid { days_left: i64 },
    Expired { days_ago: i64 },
    NotYetValid { days_until: i64 },
}

impl Validity {
    pub fn of(c: &CertSummary, now_unix: i64) -> Validity {
        let days = |s: i64| s / 86_400;
        if c.not_after_unix < now_unix {
            Validity::Expired {
                days_ago: days(now_unix - c.not_after_unix),
            }
        } else if c.not_before_unix > now_unix {
            Validity::NotYetValid {
                days_until: days(c.not_before_unix - now_unix),
            }
        } else {
            Validity::Valid {
                days_left: days(c.not_after_unix - now_unix),
            }
        }
    }

    pub fn is_valid(self) -> bool {
        matches!(self, Validity::Valid { .. })
    }

    /// `valid`, `EXPIRED`, `NOT YET VALID`.
    pub fn label(self) -> &'static str {
        match self {
            Validity::Valid { .. } => "valid",
            Validity::Expired { .. } => "EXPIRED",
            Validity::NotYetValid { .. } => "NOT YET VALID",
        }
    }

    /// `EXPIRED 3 days ago`, `NOT YET VALID, starts in 2 days`, `364 days left`.
    pub fn detail(self) -> String {
        match self {
            Validity::Valid { days_left } => format!("{days_left} days left"),
            Validity::Expired { days_ago } => format!("EXPIRED {days_ago} days ago"),
            Validity::NotYetValid { days_until } => {
                format!("NOT YET VALID, starts in {days_until} days")
            }
        }
    }
}

/// One certificate of the server chain, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// Its index in the chain as sent (0 = leaf).
    pub index: usize,
    pub position: ChainPosition,
    pub subject: String,
    pub issuer: String,
    /// `2026-11-27T04:58:57Z .. 2036-11-25T04:58:57Z`.
    pub period: String,
    pub validity: Validity,
    /// `DNS:localhost, IP:127.0.0.1`, or `(none)`.
    pub sans: String,
    /// `ECDSA P-256, ecdsa-with-SHA256` (and `, CA`).
    pub key: String,
    /// `serverAuth, clientAuth`, or `(no EKU extension: any)`.
    pub eku: String,
    pub sha256: String,
    /// The first 16 hex digits, for tight spaces.
    pub sha256_short: String,
}

impl CertFacts {
    pub fn of(index: usize, c: &CertSummary, now_unix: i64) -> CertFacts {
        let position = if index == 0 {
            ChainPosition::Leaf
        } else if c.is_ca {
            ChainPosition::Ca
        } else {
            ChainPosition::Intermediate
        };
        CertFacts {
            index,
            position,
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            period: format!("{} .. {}", c.not_before, c.not_after),
            validity: Validity::of(c, now_unix),
            sans: if c.sans.is_empty() {
                "(none)".to_string()
            } else {
                c.sans_words()
            },
            key: format!(
                "{}, {}{}",
                c.public_key,
                c.signature_algorithm,
                if c.is_ca { ", CA" } else { "" }
            ),
            eku: if c.has_eku_extension {
                c.extended_key_usage.join(", ")
            } else {
                "(no EKU extension: any)".to_string()
            },
            sha256: c.sha256.clone(),
            sha256_short: c.sha256.get(..16).unwrap_or(&c.sha256).to_string(),
        }
    }
}

/// The chain the server sent, certificate by certificate.
pub fn chain(rec: &ProbeRecord, now_unix: i64) -> Vec<CertFacts> {
    rec.server_chain
        .iter()
        .enumerate()
        .map(|(i, c)| CertFacts::of(i, c, now_unix))
        .collect()
}

/// The issuer of the last certificate sent, when the server did not send it (the usual case:
/// servers leave out the root).
pub fn issuer_not_sent(rec: &ProbeRecord) -> Option<&str> {
    rec.server_chain
        .last()
        .filter(|c| c.issuer != c.subject)
        .map(|c| c.issuer.as_str())
}

/// The server verification in words: `(trusted, "verified for 127.0.0.1")` or
/// `(false, "NOT verified for 10.0.1.5: name_mismatch (...)")`; `None` when no chain was seen.
pub fn verification(rec: &ProbeRecord) -> Option<(bool, String)> {
    let v = rec.server_verification.as_ref()?;
    Some(if v.trusted {
        (true, format!("verified for {}", v.server_name))
    } else {
        (
            false,
            format!(
                "NOT verified for {}: {}{}",
                v.server_name,
                v.reason.map_or("other", |r| r.as_str()),
                v.detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
        )
    })
}

/// When an alert arrived, in words.
pub fn alert_when(phase: Phase) -> &'static str {
    match phase {
        Phase::Handshake | Phase::Connect => "during the handshake",
        Phase::Check => "on the first read after the handshake",
    }
}

/// What the peer did, one fact a line, in a fixed order: the server's answer first (alert,
/// gRPC status, HTTP status), then what the bytes and the connection showed, then our side.
pub fn evidence(rec: &ProbeRecord) -> Vec<String> {
    let ev = &rec.evidence;
    let mut items = Vec::new();
    if let Some(a) = &ev.alert {
        items.push(format!(
            "alert {} ({}) {}",
            a.name,
            a.code,
            alert_when(a.received)
        ));
    }
    if let Some(s) = ev.grpc_status {
        items.push(match &ev.grpc_message {
            Some(m) => format!("grpc-status {s}: {m}"),
            None => format!("grpc-status {s}"),
        });
    }
    if let Some(s) = ev.http_status {
        items.push(match ev.http_body.as_deref().map(str::trim) {
            Some(b) if !b.is_empty() => format!("HTTP {s}: {b}"),
            _ => format!("HTTP {s}"),
        });
    }
    if let Some(p) = ev.peer_protocol {
        items.push(format!("peer speaks {p}"));
    }
    if let Some(b) = &ev.peer_bytes {
        items.push(format!("peer sent {b}"));
    }
    if ev.closed_silently {
        items.push("closed without an alert or an answer".into());
    }
    if ev.no_answer {
        items.push("TCP connection accepted; not one byte answered before the deadline".into());
    }
    if let Some(e) = &ev.tls_error {
        items.push(format!("TLS error: {e}"));
    }
    if let Some(e) = &ev.io_error {
        items.push(format!("io error: {e}"));
    }
    if ev.session_ticket {
        // A ticket proves the TLS layer took our certificate; an answer after it (gRPC 16, HTTP
        // 403) decides, so the ticket is labelled as superseded rather than contradicting it.
        let accepted = rec.outcome.authorization.unwrap_or(rec.outcome.class);
        items.push(if accepted == OutcomeClass::Accepted {
            "session ticket after our Finished (certificate accepted)".into()
        } else {
            "session ticket after our Finished (the TLS layer took the certificate; superseded by the answer above)".into()
        });
    }
    if let Some(p) = &rec.identity.check.problem {
        items.push(format!("our certificate {p}"));
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(not_before_unix: i64, not_after_unix: i64) -> CertSummary {
        CertSummary {
            subject: "CN=tikv".into(),
            issuer: "CN=ca".into(),
            common_name: Some("tikv".into()),
            sans: vec!["IP:127.0.0.1".into()],
            sans_total: None,
            serial: "01".into(),
            not_before: "a".into(),
            not_after: "b".into(),
            not_before_unix,
            not_after_unix,
            public_key: "ECDSA P-256".into(),
            signature_algorithm: "ecdsa-with-SHA256".into(),
            sha256: "0123456789abcdef0123".into(),
            is_ca: false,
            key_usage: vec![],
            extended_key_usage: vec![],
            has_eku_extension: false,
            parse_error: None,
        }
    }

    #[test]
    fn validity_in_days() {
        let day = 86_400;
        assert_eq!(
            Validity::of(&cert(0, 10 * day), 3 * day).detail(),
            "7 days left"
        );
        assert_eq!(
            Validity::of(&cert(0, day), 4 * day).detail(),
            "EXPIRED 3 days ago"
        );
        let early = Validity::of(&cert(5 * day, 9 * day), 3 * day);
        assert_eq!((early.label(), early.is_valid()), ("NOT YET VALID", false));
    }

    #[test]
    fn cert_facts() {
        let f = CertFacts::of(1, &cert(0, 1), 0);
        assert_eq!(f.position, ChainPosition::Intermediate);
        assert_eq!(f.eku, "(no EKU extension: any)");
        assert_eq!(f.key, "ECDSA P-256, ecdsa-with-SHA256");
        assert_eq!(f.sha256_short, "0123456789abcdef");
        assert_eq!(f.period, "a .. b");
    }
}
