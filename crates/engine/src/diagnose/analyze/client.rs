//! The client-certificate rules: no certificate sent where one is required, a key that is not
//! the certificate's, and a certificate the server refuses (ours from another CA, expired or
//! without clientAuth; or ours fine, and the server's clock or CA file at fault).

#[cfg(test)]
mod tests {
    use super::super::fixture::{causes, leaf, with_alert, with_tls, Case};
    use crate::diagnose::{KeyMismatch, Side, Variant};
    use crate::probe::{OutcomeClass as O, Phase, Protocol};
    use crate::profile::Component;

    fn tikv(cn: Option<&str>, class: O) -> Case {
        Case::new(
            Some(Component::Tikv),
            Protocol::Grpc,
            cn,
            class,
            Phase::Handshake,
        )
    }

    #[test]
    fn no_certificate_where_one_is_required() {
        let mut c = tikv(None, O::CertRequired);
        c.identity_variant("tikv", O::Accepted);
        let v = c.verdict();
        assert_eq!(causes(&v), ["client_cert_required"]);
        let f = &v.findings[0];
        assert_eq!(f.side, Side::Client);
        assert_eq!(f.evidence, ["with a certificate it works: variant as:tikv"]);
    }

    #[test]
    fn tidb_asks_for_a_certificate_only_with_its_list() {
        let mut c = tikv(None, O::CertRequired);
        c.inputs.target.component = Some(Component::Tidb);
        let v = c.verdict();
        assert_eq!(causes(&v), ["client_cert_required"]);
        assert!(
            v.findings[0].evidence[0].contains("`cluster-verify-cn` is set"),
            "{:?}",
            v.findings[0].evidence
        );
    }

    #[test]
    fn a_key_that_is_not_the_certificates() {
        let mut c = tikv(None, O::CertRequired);
        c.inputs.key_mismatch = Some(KeyMismatch {
            identity: "tidb".into(),
            cert_file: "tidb.crt".into(),
            key_file: "tikv.pem".into(),
            certificate: leaf("tidb", &[]),
        });
        let v = c.verdict();
        // The missing certificate is the mismatch's consequence, not a second cause.
        assert_eq!(causes(&v), ["key_mismatch"]);
        assert_eq!(v.findings[0].side, Side::Client);
        assert!(
            v.headline
                .ends_with("(certificate not usable): key_mismatch"),
            "{}",
            v.headline
        );
    }

    #[test]
    fn our_certificate_from_another_ca() {
        let mut c = tikv(Some("tidb"), O::CertRejected);
        c.inputs.caller = c.foreign_caller("tidb");
        c.identity_variant("pd", O::Accepted);
        let v = c.verdict();
        assert_eq!(causes(&v), ["unknown_ca"]);
        let f = &v.findings[0];
        assert_eq!(f.side, Side::Client);
        assert!(
            f.evidence
                .iter()
                .any(|e| e.starts_with("other identities get through: variant as:pd")),
            "{:?}",
            f.evidence
        );
    }

    #[test]
    fn our_certificate_expired() {
        let mut c = tikv(Some("tidb"), O::CertRejected);
        c.inputs.caller.check.within_validity = false;
        c.inputs.caller.check.problem = Some("expired on 2024-01-01T00:00:00Z".into());
        let v = c.verdict();
        assert_eq!(causes(&v), ["expired"]);
        assert_eq!(v.findings[0].side, Side::Client);
        assert!(
            v.findings[0]
                .summary
                .ends_with("expired on 2024-01-01T00:00:00Z"),
            "{}",
            v.findings[0].summary
        );
    }

    #[test]
    fn our_certificate_without_client_auth() {
        let mut c = tikv(Some("tidb"), O::CertRejected);
        c.inputs.caller.check.client_auth_eku = false;
        let v = c.verdict();
        assert_eq!(causes(&v), ["incompatible_eku"]);
        assert_eq!(v.findings[0].side, Side::Client);
    }

    #[test]
    fn another_problem_with_our_certificate() {
        let mut c = tikv(Some("tidb"), O::CertRejected);
        c.inputs.caller.check.problem = Some("is not acceptable".into());
        let v = c.verdict();
        assert_eq!(causes(&v), ["unexplained"]);
        assert_eq!(v.findings[0].side, Side::Client);
    }

    #[test]
    fn a_valid_certificate_called_expired_is_the_servers_clock() {
        let mut c = tikv(Some("tidb"), O::CertRejected);
        with_alert(&mut c.base, "certificate_expired", 45);
        let v = c.verdict();
        assert_eq!(causes(&v), ["clock_skew"]);
        assert_eq!(v.findings[0].side, Side::Server);
    }

    #[test]
    fn a_valid_certificate_refused_is_the_servers_ca_file() {
        let mut c = tikv(Some("tidb"), O::CertRejected);
        with_alert(&mut c.base, "unknown_ca", 48);
        with_tls(&mut c.base, Some("h2"));
        if let Some(t) = c.base.tls.as_mut() {
            t.ca_hints = vec!["CN=old CA".to_string()].into();
        }
        c.variant(Variant::NoCert, O::CertRequired);
        let v = c.verdict();
        assert_eq!(causes(&v), ["unknown_ca"]);
        let f = &v.findings[0];
        assert_eq!(f.side, Side::Server);
        assert_eq!(
            f.config.as_ref().map(|c| c.key.as_str()),
            Some("[security] ca-path")
        );
        assert!(
            f.evidence[0].starts_with("the server answered with alert unknown_ca (48)"),
            "{:?}",
            f.evidence
        );
        assert!(
            f.evidence[1]
                .starts_with("the server's CertificateRequest names the CAs it trusts: CN=old CA"),
            "{:?}",
            f.evidence
        );
        assert_eq!(f.evidence[2], "without a certificate: cert_required");
    }

    #[test]
    fn an_admitted_caller_gets_no_client_cause() {
        let mut c = tikv(Some("tidb"), O::Accepted);
        c.variant(Variant::NoCert, O::Accepted);
        let v = c.verdict();
        assert!(causes(&v).is_empty());
        assert!(v.works);
        assert!(
            v.notes
                .iter()
                .any(|n| n.ends_with("also admits callers without a client certificate")),
            "{:?}",
            v.notes
        );
    }
}
