//! Turning what a probe saw into an outcome class and a sentence, attributing rejections with
//! everything the probe knows (was a certificate requested and sent, does it chain to the
//! cluster CA, is it within validity), not with the alert alone.

use rustls::AlertDescription;

/// The protocol [`sniff`] names, kept with the record that carries it.
use super::record::PeerProtocol;
use super::record::{OutcomeClass, UntrustedReason};
use crate::pki::{CertSummary, IdentityCheck, Trust};

/// What the probe knows about its own side when a rejection arrives.
#[derive(Debug, Clone)]
pub struct Attribution<'a> {
    pub cn: Option<&'a str>,
    pub check: &'a IdentityCheck,
    pub requested: bool,
    pub sent: bool,
}

/// How a server turned the caller away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    Alert(AlertDescription),
    SilentClose,
    Reset,
    Grpc(u32),
    Http(u16),
}

impl Signal {
    fn describe(&self) -> String {
        match self {
            Signal::Alert(a) => {
                let (name, code) = alert_name(*a);
                format!("sent the TLS alert {name} ({code})")
            }
            Signal::SilentClose => "closed the connection without an alert".to_string(),
            Signal::Reset => "reset the connection".to_string(),
            Signal::Grpc(s) => format!("answered gRPC status {s} ({})", grpc_code_name(*s)),
            Signal::Http(s) => format!("answered HTTP {s}"),
        }
    }
}

/// Decide which kind of rejection a signal is.
pub fn attribute(a: &Attribution<'_>, signal: &Signal) -> (OutcomeClass, String) {
    let how = signal.describe();
    let cn = a.cn.unwrap_or("(no CN)");
    if !a.sent {
        let why = if a.requested || matches!(signal, Signal::Alert(_)) {
            "it requires a client certificate and none was sent"
        } else {
            "it refused a caller without a client certificate"
        };
        return (
            OutcomeClass::CertRequired,
            format!("the server {how}: {why}"),
        );
    }
    if let Some(problem) = &a.check.problem {
        return (
            OutcomeClass::CertRejected,
            format!("the server {how}: our certificate (CN {cn}) {problem}"),
        );
    }
    match signal {
        Signal::Alert(AlertDescription::UnknownCA) => (
            OutcomeClass::CertRejected,
            format!("the server {how}: it does not trust the CA that issued our certificate, though --ca does; the server is configured with a different CA file"),
        ),
        Signal::Alert(AlertDescription::CertificateExpired) => (
            OutcomeClass::CertRejected,
            format!("the server {how}, though our certificate (CN {cn}) is within its validity here: check the server's clock"),
        ),
        Signal::Alert(AlertDescription::UnsupportedCertificate) => (
            OutcomeClass::CertRejected,
            format!("the server {how}: it refuses the key type or key usage of our certificate (CN {cn})"),
        ),
        Signal::Alert(AlertDescription::CertificateRequired) => (
            OutcomeClass::CertRejected,
            format!("the server {how} although a certificate was sent"),
        ),
        Signal::SilentClose | Signal::Reset => (
            OutcomeClass::CertRejected,
            format!("the server {how} after receiving our certificate (CN {cn}), which is valid for the cluster CA: it probably trusts a different CA (gRPC C-core servers such as TiKV and TiFlash close without an alert)"),
        ),
        _ => (
            OutcomeClass::CnRejected,
            format!("the server {how}; our certificate is valid for the cluster CA, so it rejects the Common Name {cn:?}: it is not on the server's allow-list"),
        ),
    }
}

/// Classify an alert received during the handshake.
pub fn handshake_alert(a: &Attribution<'_>, alert: AlertDescription) -> (OutcomeClass, String) {
    use AlertDescription as A;
    let (name, code) = alert_name(alert);
    match alert {
        A::ProtocolVersion | A::InsufficientSecurity => (
            OutcomeClass::TlsMismatch,
            format!("the server sent {name} ({code}): no TLS version or cipher suite in common"),
        ),
        A::NoApplicationProtocol => (
            OutcomeClass::TlsMismatch,
            format!("the server sent {name} ({code}): none of the offered ALPN protocols is acceptable"),
        ),
        A::HandshakeFailure if !a.requested => (
            OutcomeClass::TlsMismatch,
            format!("the server sent {name} ({code}) before asking for a client certificate: no TLS version, cipher suite or group in common"),
        ),
        A::CertificateRequired
        | A::BadCertificate
        | A::UnsupportedCertificate
        | A::CertificateRevoked
        | A::CertificateExpired
        | A::CertificateUnknown
        | A::UnknownCA
        | A::AccessDenied
        | A::HandshakeFailure
        | A::DecryptError => attribute(a, &Signal::Alert(alert)),
        _ => (
            OutcomeClass::ProtocolError,
            format!("the server sent the alert {name} ({code})"),
        ),
    }
}

/// Map an HTTP status to a rejection signal, when it is one.
pub fn http_rejection(status: u16, body: &str) -> Option<(Signal, Option<OutcomeClass>)> {
    match status {
        403 => Some((Signal::Http(403), None)),
        // nginx answers a missing or bad client certificate with HTTP 400 after the handshake.
        400 if body.contains("No required SSL certificate") => {
            Some((Signal::Http(400), Some(OutcomeClass::CertRequired)))
        }
        400 if body.contains("SSL certificate error") => {
            Some((Signal::Http(400), Some(OutcomeClass::CertRejected)))
        }
        495 => Some((Signal::Http(495), Some(OutcomeClass::CertRejected))),
        496 => Some((Signal::Http(496), Some(OutcomeClass::CertRequired))),
        _ => None,
    }
}

/// The gRPC status codes that mean "this caller is not allowed".
pub fn grpc_is_rejection(status: u32) -> bool {
    status == 16 || status == 7
}

pub fn grpc_code_name(status: u32) -> &'static str {
    match status {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        16 => "UNAUTHENTICATED",
        _ => "other",
    }
}

/// The IANA name and number of an alert.
pub fn alert_name(a: AlertDescription) -> (String, u8) {
    let code = u8::from(a);
    let name = match a {
        AlertDescription::CloseNotify => "close_notify".to_string(),
        AlertDescription::UnexpectedMessage => "unexpected_message".to_string(),
        AlertDescription::BadRecordMac => "bad_record_mac".to_string(),
        AlertDescription::HandshakeFailure => "handshake_failure".to_string(),
        AlertDescription::BadCertificate => "bad_certificate".to_string(),
        AlertDescription::UnsupportedCertificate => "unsupported_certificate".to_string(),
        AlertDescription::CertificateRevoked => "certificate_revoked".to_string(),
        AlertDescription::CertificateExpired => "certificate_expired".to_string(),
        AlertDescription::CertificateUnknown => "certificate_unknown".to_string(),
        AlertDescription::IllegalParameter => "illegal_parameter".to_string(),
        AlertDescription::UnknownCA => "unknown_ca".to_string(),
        AlertDescription::AccessDenied => "access_denied".to_string(),
        AlertDescription::DecodeError => "decode_error".to_string(),
        AlertDescription::DecryptError => "decrypt_error".to_string(),
        AlertDescription::ProtocolVersion => "protocol_version".to_string(),
        AlertDescription::InsufficientSecurity => "insufficient_security".to_string(),
        AlertDescription::InternalError => "internal_error".to_string(),
        AlertDescription::InappropriateFallback => "inappropriate_fallback".to_string(),
        AlertDescription::UserCanceled => "user_canceled".to_string(),
        AlertDescription::NoRenegotiation => "no_renegotiation".to_string(),
        AlertDescription::MissingExtension => "missing_extension".to_string(),
        AlertDescription::UnsupportedExtension => "unsupported_extension".to_string(),
        AlertDescription::UnrecognisedName => "unrecognized_name".to_string(),
        AlertDescription::CertificateRequired => "certificate_required".to_string(),
        AlertDescription::NoApplicationProtocol => "no_application_protocol".to_string(),
        _ => format!("alert_{code}"),
    };
    (name, code)
}

/// Recognise a peer that does not speak TLS from the first bytes it sent: `None` when they
/// are (or may still become) a TLS record header, else the protocol they seem to speak
/// ([`PeerProtocol::Unknown`] for bytes of no protocol tlsaudit knows). Whatever it names,
/// the peer is not speaking TLS: a TLS peer that breaks the protocol later (an alert, a
/// malformed record after a valid header) starts with a record header and gets `None`.
pub fn sniff(bytes: &[u8]) -> Option<PeerProtocol> {
    if is_tls_record_start(bytes) {
        return None;
    }
    if bytes.starts_with(b"HTTP/") {
        return Some(PeerProtocol::Http1);
    }
    if bytes.starts_with(b"SSH-") {
        return Some(PeerProtocol::Ssh);
    }
    // HTTP/2 server preface: a SETTINGS frame (type 4) on stream 0.
    if bytes.len() >= 9 && bytes[3] == 0x04 && bytes[5..9] == [0, 0, 0, 0] {
        return Some(PeerProtocol::Http2);
    }
    // MySQL initial handshake: 3-byte length, sequence 0, protocol version 10.
    if bytes.len() >= 5 && bytes[3] == 0 && bytes[4] == 10 {
        return Some(PeerProtocol::Mysql);
    }
    let printable = bytes
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    Some(if printable {
        PeerProtocol::Text
    } else {
        PeerProtocol::Unknown
    })
}

/// Whether bytes start like a TLS record (content type 20..=24, major version 3), or are too
/// few to tell (nothing, or a lone content-type byte).
fn is_tls_record_start(bytes: &[u8]) -> bool {
    match bytes {
        [] => true,
        [kind, rest @ ..] => {
            (0x14..=0x18).contains(kind) && rest.first().is_none_or(|&major| major == 0x03)
        }
    }
}

/// How many of a non-TLS peer's first bytes a summary quotes.
const QUOTED: usize = 32;

/// The sentence for a peer that answered the ClientHello with `bytes`, not TLS, seeming to
/// speak `proto`. HTTP and a MySQL greeting keep their words (the caller may have the wrong
/// scheme); anything else quotes the first bytes, escaped and bounded.
pub fn not_tls(proto: PeerProtocol, bytes: &[u8]) -> String {
    match proto {
        PeerProtocol::Http1 | PeerProtocol::Http2 | PeerProtocol::Mysql => format!(
            "the endpoint speaks plaintext ({proto}), not TLS: it is not TLS-enabled, or the caller should use http:// (partial TLS enablement is unsupported by TiDB)"
        ),
        _ => {
            let shown = escape(&bytes[..bytes.len().min(QUOTED)]);
            let more = if bytes.len() > QUOTED { "…" } else { "" };
            let what = match proto {
                PeerProtocol::Unknown => String::new(),
                known => format!(" ({})", known.describe()),
            };
            format!(
                "the endpoint answered with non-TLS bytes{what}: '{shown}{more}'; it does not speak TLS on this port"
            )
        }
    }
}

/// The sentence for a handshake cut off by `deadline` after the TCP connection was accepted:
/// `answered` when the peer had sent any TLS bytes before it stalled.
pub fn no_tls_answer(deadline: std::time::Duration, answered: bool) -> String {
    let within = humantime::format_duration(deadline);
    if answered {
        format!("TCP connection accepted; the TLS handshake did not finish within {within}: the server answered the ClientHello, then stalled")
    } else {
        format!("TCP connection accepted; no TLS answer within {within}: the port never answered the ClientHello")
    }
}

/// The description of the first plaintext TLS alert in bytes read from a peer: records are
/// walked from the start; when the start is not a record boundary (the TLS library had
/// consumed part of a record), the alert record's 7-byte shape is searched for instead.
pub fn find_alert(bytes: &[u8]) -> Option<u8> {
    let mut at = 0;
    while at + 5 <= bytes.len() {
        let (kind, major) = (bytes[at], bytes[at + 1]);
        if !(0x14..=0x18).contains(&kind) || major != 3 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([bytes[at + 3], bytes[at + 4]]));
        if kind == 0x15 && len == 2 {
            return bytes.get(at + 6).copied();
        }
        at += 5 + len;
    }
    bytes.windows(7).find_map(|w| {
        let shape =
            w[0] == 0x15 && w[1] == 3 && w[2] <= 4 && w[3..5] == [0, 2] && (w[5] == 1 || w[5] == 2);
        shape.then_some(w[6])
    })
}

/// Bytes as text an operator can read: printable ASCII kept, the rest as `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// An io error kind as snake_case.
pub fn io_kind(kind: std::io::ErrorKind) -> String {
    let debug = format!("{kind:?}");
    let mut out = String::new();
    for (i, ch) in debug.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

fn organization(dn: &str) -> Option<&str> {
    dn.split(", ").find_map(|part| part.strip_prefix("O="))
}

/// Why WebPKI refused the server chain, in the reason vocabulary and in words.
pub fn untrusted(
    err: &rustls::Error,
    chain: &[CertSummary],
    trust: &Trust,
    server_name: &str,
    now: i64,
) -> (UntrustedReason, String) {
    use rustls::CertificateError as C;
    let Some(leaf) = chain.first() else {
        return (
            UntrustedReason::Other,
            "the server sent no certificate".to_string(),
        );
    };
    let cert = match err {
        rustls::Error::InvalidCertificate(c) => c,
        other => return (UntrustedReason::Other, other.to_string()),
    };
    match cert {
        C::UnknownIssuer | C::BadSignature => unknown_issuer(leaf, chain, trust),
        C::Expired | C::ExpiredContext { .. } => expired(leaf, chain, now),
        C::NotValidYet | C::NotValidYetContext { .. } => not_yet_valid(leaf, chain, now),
        C::NotValidForName | C::NotValidForNameContext { .. } => name_mismatch(leaf, server_name),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => (
            UntrustedReason::BadEku,
            "the server certificate lacks the serverAuth extended key usage".to_string(),
        ),
        C::Revoked => (
            UntrustedReason::Revoked,
            "the certificate is revoked".to_string(),
        ),
        C::BadEncoding => (
            UntrustedReason::BadEncoding,
            "the server certificate is malformed".to_string(),
        ),
        C::Other(e) => (
            UntrustedReason::Other,
            other_certificate_error(&e.to_string()),
        ),
        other => (UntrustedReason::Other, other.to_string()),
    }
}

/// WebPKI's other refusals, in words (rustls shows them as the error's Rust name: a chain longer
/// than the verifier's depth reads `MaximumPathDepthExceeded`).
fn other_certificate_error(name: &str) -> String {
    let words = match name {
        "MaximumPathDepthExceeded" => {
            "the server's chain is longer than a verifier follows (more than 6 intermediate CAs): send the leaf and the cluster CA's intermediates only"
        }
        "MaximumSignatureChecksExceeded" | "MaximumPathBuildCallsExceeded" => {
            "the server's chain takes more signature checks than a verifier allows: it sends too many or looping CA certificates"
        }
        "MaximumNameConstraintComparisonsExceeded" => {
            "the server certificate has more names than its CA's name constraints let a verifier compare"
        }
        "CaUsedAsEndEntity" => "the server presents a CA certificate as its own",
        "EndEntityUsedAsCa" => "a certificate in the server's chain is a leaf used as a CA",
        "UnsupportedSignatureAlgorithm" | "UnsupportedSignatureAlgorithmForPublicKey" => {
            "the server's chain is signed with an algorithm a verifier does not accept"
        }
        _ => return format!("the server chain does not verify ({name})"),
    };
    words.to_string()
}

/// An unknown issuer (or a bad signature): another cluster's CA of the same name, a chain missing
/// its intermediate, or simply another CA.
fn unknown_issuer(
    leaf: &CertSummary,
    chain: &[CertSummary],
    trust: &Trust,
) -> (UntrustedReason, String) {
    let same_name = trust.certs.iter().any(|a| a.subject == leaf.issuer);
    let issuer_sent = chain.iter().skip(1).any(|c| c.subject == leaf.issuer);
    if same_name && !issuer_sent {
        return (
            UntrustedReason::UnknownIssuer,
            format!(
                "the server certificate's issuer is named like the cluster CA ({}) but was signed with another key: a CA from another cluster (TiUP names every CA O=PingCAP, OU=TiUP)",
                leaf.issuer
            ),
        );
    }
    let same_org = organization(&leaf.issuer).is_some_and(|o| {
        trust
            .certs
            .iter()
            .any(|a| organization(&a.subject) == Some(o))
    });
    if chain.len() == 1 && leaf.issuer != leaf.subject && same_org {
        return (
            UntrustedReason::IncompleteChain,
            format!(
                "the server sent only its own certificate, issued by {}, which is not the cluster CA: it most likely omits the intermediate CA certificate; serve the full chain (leaf then intermediate) in the cert file",
                leaf.issuer
            ),
        );
    }
    (
        UntrustedReason::UnknownIssuer,
        format!(
            "the server certificate is issued by {}, which does not chain to the cluster CA ({}); the server uses a certificate from another CA (or omits an intermediate)",
            leaf.issuer,
            trust
                .certs
                .first()
                .map_or("?", |c| c.subject.as_str())
        ),
    )
}

/// An expired certificate: the first expired one of the chain, else the leaf.
fn expired(leaf: &CertSummary, chain: &[CertSummary], now: i64) -> (UntrustedReason, String) {
    let who = chain
        .iter()
        .find(|c| c.parse_error.is_none() && c.not_after_unix < now)
        .unwrap_or(leaf);
    (
        UntrustedReason::Expired,
        format!(
            "the certificate {} expired on {}",
            who.label(),
            who.not_after
        ),
    )
}

/// A certificate not valid yet: the first such one of the chain, else the leaf.
fn not_yet_valid(leaf: &CertSummary, chain: &[CertSummary], now: i64) -> (UntrustedReason, String) {
    let who = chain
        .iter()
        .find(|c| c.parse_error.is_none() && c.not_before_unix > now)
        .unwrap_or(leaf);
    (
        UntrustedReason::NotYetValid,
        format!(
            "the certificate {} is not valid before {} (check clocks)",
            who.label(),
            who.not_before
        ),
    )
}

/// A leaf not valid for the name the callers dial.
fn name_mismatch(leaf: &CertSummary, server_name: &str) -> (UntrustedReason, String) {
    (
        UntrustedReason::NameMismatch,
        if leaf.sans.is_empty() {
            format!(
                "the certificate has no subject alternative names, so it is valid for no name (Go ignores the legacy CN field); callers dialing {server_name} refuse it"
            )
        } else {
            format!(
                "the certificate is valid for {}, not {server_name}; callers dialing {server_name} refuse it",
                leaf.sans_words()
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(valid: bool) -> IdentityCheck {
        IdentityCheck {
            has_certificate: true,
            chains_to_ca: valid,
            within_validity: true,
            client_auth_eku: true,
            problem: (!valid).then(|| "is not issued by the cluster CA".to_string()),
        }
    }

    #[test]
    fn same_alert_three_causes() {
        // Go before 1.20 sends bad_certificate for every client-certificate failure.
        let valid = check(true);
        let invalid = check(false);
        let none = IdentityCheck::default();
        let bad = Signal::Alert(AlertDescription::BadCertificate);
        let mk = |check, sent| Attribution {
            cn: Some("tidb"),
            check,
            requested: true,
            sent,
        };
        assert_eq!(
            attribute(&mk(&valid, true), &bad).0,
            OutcomeClass::CnRejected
        );
        assert_eq!(
            attribute(&mk(&invalid, true), &bad).0,
            OutcomeClass::CertRejected
        );
        assert_eq!(
            attribute(&mk(&none, false), &bad).0,
            OutcomeClass::CertRequired
        );
    }

    #[test]
    fn handshake_failure_before_a_certificate_request_is_a_mismatch() {
        let c = check(true);
        let a = Attribution {
            cn: Some("tidb"),
            check: &c,
            requested: false,
            sent: false,
        };
        assert_eq!(
            handshake_alert(&a, AlertDescription::HandshakeFailure).0,
            OutcomeClass::TlsMismatch
        );
    }

    #[test]
    fn alerts_are_found_after_records_or_inside_a_partial_one() {
        let hs = [0x16, 3, 3, 0, 3, 1, 2, 3];
        let alert = [0x15, 3, 3, 0, 2, 2, 42];
        assert_eq!(find_alert(&[&hs[..], &alert[..]].concat()), Some(42));
        assert_eq!(find_alert(&[&[9, 9, 9][..], &alert[..]].concat()), Some(42));
        assert_eq!(find_alert(&hs), None);
        assert_eq!(find_alert(&[]), None);
    }

    #[test]
    fn sniffing() {
        assert_eq!(
            sniff(b"HTTP/1.1 400 Bad Request"),
            Some(PeerProtocol::Http1)
        );
        assert_eq!(sniff(&[0x16, 0x03, 0x03, 0, 5]), None);
        assert_eq!(
            sniff(&[0, 0, 0x12, 4, 0, 0, 0, 0, 0]),
            Some(PeerProtocol::Http2)
        );
        assert_eq!(sniff(&[0x4a, 0, 0, 0, 10, b'8']), Some(PeerProtocol::Mysql));
        assert_eq!(sniff(b"SSH-2.0-OpenSSH_9.6\r\n"), Some(PeerProtocol::Ssh));
        assert_eq!(sniff(b"220 smtp ready\r\n"), Some(PeerProtocol::Text));
        assert_eq!(sniff(&[0x9f, 0x01, 0xff]), Some(PeerProtocol::Unknown));
        assert_eq!(escape(b"a\r\n\x00"), "a\\r\\n\\x00");
        assert_eq!(
            io_kind(std::io::ErrorKind::ConnectionReset),
            "connection_reset"
        );
    }

    #[test]
    fn a_tls_record_header_or_too_few_bytes_is_no_verdict() {
        // An alert, a heartbeat, a lone content-type byte, nothing: TLS, or not yet known.
        assert_eq!(sniff(&[0x15, 0x03, 0x01, 0, 2, 2, 40]), None);
        assert_eq!(sniff(&[0x18, 0x03]), None);
        assert_eq!(sniff(&[0x16]), None);
        assert_eq!(sniff(&[]), None);
        // A content-type byte with another major version is not TLS.
        assert_eq!(sniff(&[0x16, 0x01, 0xff]), Some(PeerProtocol::Unknown));
    }

    #[test]
    fn non_tls_bytes_are_quoted_escaped_and_bounded() {
        let ssh = not_tls(PeerProtocol::Ssh, b"SSH-2.0-OpenSSH_9.6\r\n");
        assert_eq!(
            ssh,
            "the endpoint answered with non-TLS bytes (SSH): 'SSH-2.0-OpenSSH_9.6\\r\\n'; it does not speak TLS on this port"
        );
        let garbage = not_tls(PeerProtocol::Unknown, &[0x9f; 48]);
        assert!(garbage.starts_with("the endpoint answered with non-TLS bytes: '\\x9f"));
        assert_eq!(garbage.matches("\\x9f").count(), QUOTED, "{garbage}");
        assert!(garbage.contains("…'"), "{garbage}");
        // HTTP keeps its words.
        assert!(not_tls(PeerProtocol::Http1, b"HTTP/1.1 400").contains("should use http://"));
    }

    #[test]
    fn a_timeout_after_the_connect_says_tcp_was_accepted() {
        let silent = no_tls_answer(std::time::Duration::from_secs(5), false);
        assert_eq!(
            silent,
            "TCP connection accepted; no TLS answer within 5s: the port never answered the ClientHello"
        );
        assert!(no_tls_answer(std::time::Duration::from_millis(300), true).contains("stalled"));
    }

    #[test]
    fn webpki_refusals_read_in_words_not_as_rust_names() {
        #[derive(Debug)]
        struct Named(&'static str);
        impl std::fmt::Display for Named {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for Named {}
        let words = other_certificate_error(&Named("MaximumPathDepthExceeded").to_string());
        assert!(words.contains("longer than a verifier follows"), "{words}");
        assert!(!words.contains("MaximumPathDepthExceeded"), "{words}");
        let unknown = other_certificate_error("SomethingNew");
        assert_eq!(unknown, "the server chain does not verify (SomethingNew)");
        // The variant rustls carries it in is routed there.
        let err = rustls::Error::InvalidCertificate(rustls::CertificateError::Other(
            rustls::OtherError(std::sync::Arc::new(Named("MaximumPathDepthExceeded"))),
        ));
        let ca = crate::pki::mint::Ca::generate("t", 1).unwrap();
        let der = {
            use rustls_pki_types::pem::PemObject;
            rustls_pki_types::CertificateDer::from_pem_slice(ca.pem.as_bytes()).unwrap()
        };
        let trust = Trust::from_der(vec![der]).unwrap();
        let leaf = trust.certs[0].clone();
        let (reason, why) = untrusted(&err, &[leaf], &trust, "127.0.0.1", 0);
        assert_eq!(reason, UntrustedReason::Other);
        assert!(why.contains("longer than a verifier follows"), "{why}");
    }
}
