//! The Common Name rules: the server refuses the caller's CN (TiKV and TiFlash per call, PD
//! and TiDB in the handshake, a status port with 403), or admits a caller its allow-list does
//! not name (the list is not enforced).

#[cfg(test)]
mod tests {
    use super::super::fixture::{causes, leaf, trusted, with_tls, Case};
    use crate::audit::Verdict;
    use crate::diagnose::Side;
    use crate::probe::{OutcomeClass as O, Phase, Protocol};
    use crate::profile::Component;

    fn refused(component: Component, protocol: Protocol, cn: &str) -> Case {
        Case::new(
            Some(component),
            protocol,
            Some(cn),
            O::CnRejected,
            Phase::Check,
        )
    }

    #[test]
    fn tikv_refuses_an_unlisted_cn() {
        let mut c = refused(Component::Tikv, Protocol::Grpc, "lab-client");
        c.base.evidence.grpc_status = Some(16);
        c.base.evidence.grpc_message = Some("Common name check fail".into());
        c.identity_variant("tikv", O::Accepted);
        c.identity_variant("pd", O::CnRejected);
        let v = c.verdict();
        assert_eq!(causes(&v), ["cn_not_allowed"]);
        let f = &v.findings[0];
        assert_eq!(f.side, Side::Server);
        assert_eq!(
            f.log_texts[0].text,
            "rpc error: code = Unauthenticated desc = Common name check fail"
        );
        assert!(
            f.evidence
                .iter()
                .any(|e| e.starts_with("accepted as tikv; rejected as lab-client, pd")),
            "{:?}",
            f.evidence
        );
        assert!(f.fix[0].starts_with("add `lab-client` to [security] cert-allowed-cn"));
    }

    #[test]
    fn a_status_port_answers_403() {
        let mut c = refused(Component::Tikv, Protocol::Http, "lab-client");
        c.base.evidence.http_status = Some(403);
        let v = c.verdict();
        assert_eq!(causes(&v), ["cn_not_allowed"]);
        assert_eq!(v.findings[0].log_texts.len(), 1);
        assert_eq!(v.findings[0].log_texts[0].text, "certificate role error");
    }

    #[test]
    fn pd_refuses_its_own_cn() {
        let v = refused(Component::Pd, Protocol::Tls, "pd").verdict();
        assert_eq!(causes(&v), ["pd_cn_not_allowed"]);
        let f = &v.findings[0];
        assert!(f.summary.contains("PD's own"), "{}", f.summary);
        assert_eq!(f.fix.len(), 2);
    }

    #[test]
    fn tidb_refuses_tiups_client() {
        let mut c = refused(Component::Tidb, Protocol::Http, "lab-client");
        c.inputs.cluster = Some("lab".into());
        c.inputs.target.declared_allowed_cn = vec!["tidb".into()];
        let v = c.verdict();
        assert_eq!(causes(&v), ["tidb_verify_cn"]);
        let f = &v.findings[0];
        assert!(
            f.summary.contains("TiUP's own client certificate"),
            "{}",
            f.summary
        );
        assert!(
            f.log_texts[0].text.contains("[lab-client] was not found")
                && f.log_texts[0].text.ends_with("with value: [tidb]"),
            "{:?}",
            f.log_texts
        );
        // The component's own text first, then the generic ones after the first.
        assert!(f.log_texts.len() > 1);
    }

    #[test]
    fn a_list_edited_and_not_applied() {
        let mut c = refused(Component::Tiflash, Protocol::Grpc, "tidb");
        c.inputs.target.declared_allowed_cn = vec!["tidb".into()];
        let v = c.verdict();
        assert_eq!(causes(&v), ["cn_not_allowed"]);
        assert!(
            v.findings[0]
                .evidence
                .iter()
                .any(|e| e.contains("the file was edited and not applied")),
            "{:?}",
            v.findings[0].evidence
        );
    }

    #[test]
    fn an_unlisted_caller_admitted_means_the_list_is_not_enforced() {
        let mut c = Case::new(
            Some(Component::Tikv),
            Protocol::Grpc,
            Some("tlsaudit-unlisted"),
            O::Accepted,
            Phase::Check,
        );
        c.expect(false);
        c.inputs.target.declared_allowed_cn = vec!["tidb".into(), "pd".into()];
        let v = c.verdict();
        assert_eq!(v.cell, Some(Verdict::Open));
        assert_eq!(causes(&v), ["list_not_enforced"]);
        assert!(!v.works);
        assert!(
            v.headline.ends_with("the list is not enforced"),
            "{}",
            v.headline
        );
        assert!(
            v.findings[0].fix[0].starts_with("set [security] cert-allowed-cn = [tidb, pd]"),
            "{:?}",
            v.findings[0].fix
        );
    }

    #[test]
    fn a_refusal_the_configuration_intends_is_not_an_open_list() {
        let mut c = refused(Component::Tikv, Protocol::Grpc, "tlsaudit-unlisted");
        c.expect(false);
        let v = c.verdict();
        assert_eq!(v.cell, Some(Verdict::Enforced));
        assert_eq!(causes(&v), ["cn_not_allowed"]);
        assert!(
            v.headline.contains("as its configuration intends"),
            "{}",
            v.headline
        );
    }

    #[test]
    fn a_listed_caller_admitted_is_secure() {
        let mut c = Case::new(
            Some(Component::Tikv),
            Protocol::Grpc,
            Some("tidb"),
            O::Accepted,
            Phase::Check,
        );
        with_tls(&mut c.base, Some("h2"));
        trusted(&mut c.base, leaf("tikv", &["IP:127.0.0.1"]));
        c.expect(true);
        let v = c.verdict();
        assert_eq!(v.cell, Some(Verdict::Secure));
        assert!(causes(&v).is_empty());
        assert!(v.works);
    }
}
