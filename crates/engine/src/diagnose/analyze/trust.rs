//! The trust rules: the server's chain does not verify for the dialed name (another CA, an
//! intermediate missing, outside its validity, the name not in its SANs, no serverAuth).

#[cfg(test)]
mod tests {
    use super::super::fixture::{causes, leaf, trusted, untrusted, with_tls, Case, LEAF_ISSUER};
    use crate::audit::Verdict;
    use crate::diagnose::{Side, Variant};
    use crate::probe::{OutcomeClass as O, Phase, Protocol, UntrustedReason as R};
    use crate::profile::Component;

    fn pd_untrusted(reason: R, sans: &[&str]) -> Case {
        let mut c = Case::new(
            Some(Component::Pd),
            Protocol::Tls,
            Some("tidb"),
            O::ServerUntrusted,
            Phase::Handshake,
        );
        untrusted(&mut c.base, reason, leaf("pd", sans));
        c
    }

    #[test]
    fn a_chain_from_another_ca() {
        let mut c = pd_untrusted(R::UnknownIssuer, &["DNS:localhost"]);
        c.base.server_chain = vec![{
            let mut l = leaf("pd", &["DNS:localhost"]);
            l.issuer = "CN=another CA".into();
            l
        }]
        .into();
        c.variant(Variant::ServerName("localhost".into()), O::ServerUntrusted)
            .server_verification = c.base.server_verification.clone();
        let v = c.verdict();
        assert_eq!(causes(&v), ["unknown_ca"]);
        let f = &v.findings[0];
        assert_eq!(f.side, Side::Server);
        assert!(
            f.summary.contains("issued by CN=another CA"),
            "{}",
            f.summary
        );
        assert!(
            f.evidence[0].starts_with("no server name helps"),
            "{:?}",
            f.evidence
        );
    }

    #[test]
    fn a_bad_signature_is_another_ca_too() {
        let v = pd_untrusted(R::BadSignature, &["DNS:localhost"]).verdict();
        assert_eq!(causes(&v), ["unknown_ca"]);
    }

    #[test]
    fn the_dialed_name_missing_from_the_sans() {
        let mut c = pd_untrusted(R::NameMismatch, &["DNS:localhost"]);
        c.variant(Variant::ServerName("localhost".into()), O::Accepted)
            .server_verification = Some(crate::probe::ServerVerification {
            trusted: true,
            server_name: "localhost".into(),
            reason: None,
            detail: None,
        });
        let v = c.verdict();
        assert_eq!(causes(&v), ["san_mismatch"]);
        let f = &v.findings[0];
        assert!(
            f.log_texts[0].text.starts_with("x509: "),
            "{:?}",
            f.log_texts
        );
        assert!(
            f.evidence[0].starts_with("the same chain verifies for localhost"),
            "{:?}",
            f.evidence
        );
        assert!(f.fix[0].contains("IP:127.0.0.1"), "{:?}", f.fix);
        assert_eq!(f.fix.len(), 2);
    }

    #[test]
    fn a_certificate_without_sans() {
        let v = pd_untrusted(R::NameMismatch, &[]).verdict();
        assert_eq!(causes(&v), ["cn_only_cert"]);
        let f = &v.findings[0];
        assert_eq!(f.fix.len(), 1, "no name to dial instead: {:?}", f.fix);
    }

    #[test]
    fn a_missing_intermediate() {
        let v = pd_untrusted(R::IncompleteChain, &["DNS:localhost"]).verdict();
        assert_eq!(causes(&v), ["incomplete_chain"]);
        assert!(v.findings[0].config.is_some());
    }

    #[test]
    fn an_expired_server_certificate() {
        let v = pd_untrusted(R::Expired, &["DNS:localhost"]).verdict();
        assert_eq!(causes(&v), ["expired"]);
        let f = &v.findings[0];
        assert_eq!(f.side, Side::Server);
        assert!(
            f.log_texts[0]
                .text
                .ends_with("is after 2035-01-01T00:00:00Z"),
            "{:?}",
            f.log_texts
        );
        assert!(!f.fix.iter().any(|x| x.contains("clock")), "{:?}", f.fix);
    }

    #[test]
    fn a_server_certificate_not_yet_valid() {
        let v = pd_untrusted(R::NotYetValid, &["DNS:localhost"]).verdict();
        assert_eq!(causes(&v), ["expired"]);
        let f = &v.findings[0];
        assert!(
            f.log_texts[0]
                .text
                .ends_with("is before 2025-01-01T00:00:00Z"),
            "{:?}",
            f.log_texts
        );
        assert!(
            f.fix.iter().any(|x| x.contains("fix the clock")),
            "{:?}",
            f.fix
        );
    }

    #[test]
    fn a_server_certificate_without_server_auth() {
        let v = pd_untrusted(R::BadEku, &["DNS:localhost"]).verdict();
        assert_eq!(causes(&v), ["incompatible_eku"]);
        assert_eq!(v.findings[0].side, Side::Server);
    }

    #[test]
    fn another_reason_is_unexplained() {
        let v = pd_untrusted(R::Revoked, &["DNS:localhost"]).verdict();
        assert_eq!(causes(&v), ["unexplained"]);
        assert_eq!(v.findings[0].side, Side::Server);
    }

    #[test]
    fn what_the_check_saw_of_the_caller_is_judged_too() {
        let mut c = pd_untrusted(R::NameMismatch, &["DNS:localhost"]);
        c.base.outcome.authorization = Some(O::CnRejected);
        let v = c.verdict();
        assert_eq!(causes(&v), ["san_mismatch", "pd_cn_not_allowed"]);

        let mut c = pd_untrusted(R::NameMismatch, &["DNS:localhost"]);
        c.base.outcome.authorization = Some(O::Accepted);
        c.expect(true);
        let v = c.verdict();
        assert_eq!(causes(&v), ["san_mismatch"]);
        assert_eq!(v.cell, Some(Verdict::Untrusted));
        assert!(!v.works);
    }

    #[test]
    fn untrusted_without_a_verification_is_left_unexplained() {
        let mut c = pd_untrusted(R::NameMismatch, &["DNS:localhost"]);
        c.base.server_verification = None;
        assert_eq!(causes(&c.verdict()), ["unexplained"]);
    }

    #[test]
    fn a_trusted_chain_gets_no_trust_cause() {
        let mut c = Case::new(
            Some(Component::Pd),
            Protocol::Tls,
            Some("tidb"),
            O::Accepted,
            Phase::Check,
        );
        with_tls(&mut c.base, Some("h2"));
        trusted(&mut c.base, leaf("pd", &["DNS:localhost", "IP:127.0.0.1"]));
        let v = c.verdict();
        assert!(causes(&v).is_empty());
        assert!(v.works);
        assert_eq!(c.base.server_chain[0].issuer, LEAF_ISSUER);
    }
}
