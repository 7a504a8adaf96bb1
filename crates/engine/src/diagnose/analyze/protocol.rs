//! The protocol rules: no TLS version or ALPN protocol in common, a handshake reset that
//! another version completes, and a gRPC server that negotiates no ALPN (which real gRPC
//! callers refuse even when the probe got an answer).

#[cfg(test)]
mod tests {
    use super::super::fixture::{causes, with_alert, with_tls, Case};
    use crate::diagnose::{Side, Variant};
    use crate::probe::{OutcomeClass as O, Phase, Protocol};
    use crate::profile::Component;

    fn case(protocol: Protocol, class: O, phase: Phase) -> Case {
        Case::new(Some(Component::Tikv), protocol, Some("tidb"), class, phase)
    }

    #[test]
    fn no_alpn_protocol_in_common() {
        let mut c = case(Protocol::Grpc, O::TlsMismatch, Phase::Handshake);
        with_alert(&mut c.base, "no_application_protocol", 120);
        with_tls(c.variant(Variant::AlpnH2, O::Accepted), Some("h2"));
        c.variant(Variant::Tls12, O::TlsMismatch);
        let v = c.verdict();
        assert_eq!(causes(&v), ["missing_alpn"]);
        assert_eq!(v.findings[0].side, Side::Link);
        assert_eq!(
            v.findings[0].evidence,
            ["the handshake completes variant alpn:h2"]
        );
    }

    #[test]
    fn rustls_words_for_no_alpn_in_common() {
        let mut c = case(Protocol::Grpc, O::TlsMismatch, Phase::Handshake);
        c.base.evidence.tls_error = Some("peer doesn't support any known protocol".into());
        assert_eq!(causes(&c.verdict()), ["missing_alpn"]);
    }

    #[test]
    fn no_tls_version_in_common() {
        let mut c = case(Protocol::Http, O::TlsMismatch, Phase::Handshake);
        c.variant(Variant::Tls12, O::Accepted);
        c.variant(Variant::Tls13, O::TlsMismatch);
        let v = c.verdict();
        assert_eq!(causes(&v), ["tls_version_mismatch"]);
        assert_eq!(
            v.findings[0].evidence,
            ["TLS 1.2 only: accepted; TLS 1.3 only: tls_mismatch"]
        );
        assert!(
            v.notes
                .iter()
                .any(|n| n.ends_with("does not speak TLS 1.3")),
            "{:?}",
            v.notes
        );
    }

    #[test]
    fn a_reset_that_another_version_gets_past() {
        let mut c = case(Protocol::Grpc, O::Reset, Phase::Handshake);
        with_tls(c.variant(Variant::Tls12, O::Accepted), Some("h2"));
        c.variant(Variant::Tls13, O::Reset);
        let v = c.verdict();
        assert_eq!(causes(&v), ["tls_version_mismatch"]);
        assert!(v.findings[0].summary.ends_with("completes it tls1.2"));
    }

    #[test]
    fn a_reset_nothing_gets_past() {
        let mut c = case(Protocol::Grpc, O::Reset, Phase::Handshake);
        c.variant(Variant::Tls12, O::Reset);
        let v = c.verdict();
        assert_eq!(causes(&v), ["connection_reset"]);
        // After the handshake a reset is the client rule's: the same cause.
        let v = case(Protocol::Grpc, O::Reset, Phase::Check).verdict();
        assert_eq!(causes(&v), ["connection_reset"]);
    }

    #[test]
    fn a_grpc_server_without_alpn() {
        let mut c = case(Protocol::Grpc, O::Accepted, Phase::Check);
        with_tls(&mut c.base, None);
        c.base.evidence.grpc_status = Some(0);
        let v = c.verdict();
        assert_eq!(causes(&v), ["missing_alpn"]);
        let f = &v.findings[0];
        assert_eq!(f.side, Side::Server);
        assert!(f.summary.contains("still got an answer"), "{}", f.summary);
        assert!(!v.works);
    }

    #[test]
    fn missing_alpn_replaces_an_unexplained_finding() {
        let mut c = case(Protocol::Grpc, O::Timeout, Phase::Check);
        with_tls(&mut c.base, None);
        let v = c.verdict();
        assert_eq!(causes(&v), ["missing_alpn"]);
        assert!(!v.findings[0].summary.contains("still got an answer"));
    }

    #[test]
    fn alpn_is_judged_on_grpc_offering_h2_only() {
        // h2 negotiated.
        let mut c = case(Protocol::Grpc, O::Accepted, Phase::Check);
        with_tls(&mut c.base, Some("h2"));
        assert!(causes(&c.verdict()).is_empty());
        // HTTP needs no ALPN.
        let mut c = case(Protocol::Http, O::Accepted, Phase::Check);
        with_tls(&mut c.base, None);
        assert!(causes(&c.verdict()).is_empty());
        // A gRPC probe that did not offer h2.
        let mut c = case(Protocol::Grpc, O::Accepted, Phase::Check);
        with_tls(&mut c.base, None);
        c.base.target.alpn_offered.clear();
        assert!(causes(&c.verdict()).is_empty());
    }

    #[test]
    fn a_silent_close_without_h2_is_a_note() {
        let mut c = case(Protocol::Grpc, O::Accepted, Phase::Check);
        with_tls(&mut c.base, Some("h2"));
        with_tls(c.variant(Variant::AlpnNone, O::CertRejected), None);
        let v = c.verdict();
        assert!(causes(&v).is_empty());
        assert!(
            v.notes
                .iter()
                .any(|n| n.contains("closes the connection silently")),
            "{:?}",
            v.notes
        );
    }
}
