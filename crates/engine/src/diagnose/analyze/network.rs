//! The network rules: the name does not resolve, nothing listens, the port is silent, resets,
//! or speaks plaintext or the MySQL protocol instead of TLS.

#[cfg(test)]
mod tests {
    use super::super::fixture::{causes, Case};
    use crate::diagnose::Side;
    use crate::probe::classify::PeerProtocol;
    use crate::probe::mysql::{
        AccountKind, LoginAnswer, LoginResult, MysqlReport, PlaintextVerdict,
    };
    use crate::probe::{OutcomeClass as O, Phase, Protocol};
    use crate::profile::{Component, Version};

    fn tikv(class: O, phase: Phase) -> Case {
        Case::new(
            Some(Component::Tikv),
            Protocol::Grpc,
            Some("tidb"),
            class,
            phase,
        )
    }

    #[test]
    fn an_unresolvable_name_is_named() {
        let v = tikv(O::ResolveFailed, Phase::Connect).verdict();
        assert_eq!(causes(&v), ["resolve_failed"]);
        assert_eq!(v.findings[0].side, Side::Link);
        assert!(!v.works);
    }

    #[test]
    fn a_refused_connection_is_not_listening() {
        let v = tikv(O::Refused, Phase::Connect).verdict();
        assert_eq!(causes(&v), ["not_listening"]);
        assert!(
            v.findings[0].fix[0].starts_with("start TiKV"),
            "{:?}",
            v.findings[0].fix
        );
    }

    fn pd_refused(version: Option<Version>) -> Case {
        let mut c = Case::new(
            Some(Component::Pd),
            Protocol::Tls,
            Some("tidb"),
            O::Refused,
            Phase::Connect,
        );
        c.inputs.target.declared_allowed_cn = vec!["pd".into(), "tidb".into()];
        c.inputs.target.version = version;
        c
    }

    #[test]
    fn an_old_pd_with_several_cns_does_not_start() {
        let v = pd_refused(Some(Version(8, 1))).verdict();
        assert_eq!(causes(&v), ["pd_multiple_cn"]);
        assert_eq!(v.findings[0].side, Side::Server);
        assert_eq!(
            v.findings[0].config.as_ref().map(|c| c.key.as_str()),
            Some("[security] cert-allowed-cn")
        );
    }

    #[test]
    fn a_pd_of_v8_4_with_several_cns_is_only_not_listening() {
        for version in [Some(Version(8, 4)), None] {
            let v = pd_refused(version).verdict();
            assert_eq!(causes(&v), ["not_listening"], "{version:?}");
            assert!(
                v.findings[0].evidence[0].contains("the PD version is not known here"),
                "{:?}",
                v.findings[0].evidence
            );
        }
    }

    #[test]
    fn a_pd_with_one_cn_is_only_not_listening() {
        let mut c = pd_refused(Some(Version(7, 5)));
        c.inputs.target.declared_allowed_cn = vec!["pd".into()];
        let v = c.verdict();
        assert_eq!(causes(&v), ["not_listening"]);
        assert!(v.findings[0].evidence.is_empty());
    }

    #[test]
    fn timeouts_by_phase() {
        assert_eq!(
            causes(&tikv(O::Timeout, Phase::Connect).verdict()),
            ["unreachable"]
        );
        assert_eq!(
            causes(&tikv(O::Timeout, Phase::Handshake).verdict()),
            ["no_answer"]
        );
        // After the handshake the link is up: the check did not answer.
        let v = tikv(O::Timeout, Phase::Check).verdict();
        assert_eq!(causes(&v), ["unexplained"]);
        assert_eq!(v.findings[0].side, Side::Link);
    }

    #[test]
    fn a_peer_speaking_another_protocol_is_not_tls() {
        let mut c = tikv(O::ProtocolError, Phase::Handshake);
        c.base.evidence.peer_protocol = Some(PeerProtocol::Ssh);
        c.base.evidence.peer_bytes = Some("SSH-2.0-OpenSSH".into());
        let v = c.verdict();
        assert_eq!(causes(&v), ["not_tls"]);
        assert_eq!(v.findings[0].evidence, ["the peer sent: SSH-2.0-OpenSSH"]);
    }

    #[test]
    fn a_protocol_error_before_any_certificate_is_no_answer() {
        let v = tikv(O::ProtocolError, Phase::Handshake).verdict();
        assert_eq!(causes(&v), ["no_answer"]);
        // Later in the probe, a protocol error is not one the rules name.
        let v = tikv(O::ProtocolError, Phase::Check).verdict();
        assert_eq!(causes(&v), ["unexplained"]);
    }

    #[test]
    fn plaintext_http_on_a_tls_port() {
        let mut c = tikv(O::Plaintext, Phase::Handshake);
        c.base.evidence.peer_protocol = Some(PeerProtocol::Http1);
        let v = c.verdict();
        assert_eq!(causes(&v), ["plaintext"]);
        let f = &v.findings[0];
        assert_eq!(f.side, Side::Server);
        assert_eq!(
            f.config.as_ref().and_then(|c| c.tiup.as_deref()),
            Some("global.enable_tls: true (tiup cluster tls)")
        );
    }

    #[test]
    fn a_mysql_greeting_is_a_sql_port() {
        let mut c = tikv(O::Plaintext, Phase::Handshake);
        c.base.evidence.peer_protocol = Some(PeerProtocol::Mysql);
        let v = c.verdict();
        assert_eq!(causes(&v), ["mysql_protocol"]);
        assert_eq!(v.findings[0].side, Side::Link);
    }

    fn sql_report(tls: bool, plaintext: PlaintextVerdict) -> MysqlReport {
        MysqlReport {
            server_version: "8.0.11-TiDB-v8.5.0".into(),
            connection_id: 1,
            capabilities: if tls { 0x0800 } else { 0 },
            tls_offered: tls,
            auth_plugin: None,
            account: AccountKind::MadeUp,
            user: "tlsaudit_no_such_user".into(),
            tls_login: None,
            plaintext_login: Some(LoginAnswer {
                result: LoginResult::Error,
                code: Some(1045),
                sql_state: None,
                message: Some("Access denied".into()),
                auth_switch: None,
            }),
            plaintext,
            plaintext_detail: "as a made-up user".into(),
        }
    }

    #[test]
    fn a_sql_port_without_tls() {
        let mut c = Case::new(
            Some(Component::Tidb),
            Protocol::Mysql,
            None,
            O::Plaintext,
            Phase::Handshake,
        );
        c.base.evidence.peer_protocol = Some(PeerProtocol::Mysql);
        c.base.mysql = Some(sql_report(false, PlaintextVerdict::NoTls));
        let v = c.verdict();
        assert_eq!(causes(&v), ["sql_tls_not_offered"]);
        assert_eq!(
            v.findings[0].evidence[0],
            "greeting capability flags 0x00000000: CLIENT_SSL (0x0800) not set"
        );
    }

    #[test]
    fn a_sql_port_accepting_plaintext_is_a_note() {
        let mut c = Case::new(
            Some(Component::Tidb),
            Protocol::Mysql,
            None,
            O::Accepted,
            Phase::Check,
        );
        c.base.mysql = Some(sql_report(true, PlaintextVerdict::Accepted));
        let v = c.verdict();
        assert!(causes(&v).is_empty());
        assert!(v.works);
        assert!(
            v.notes
                .iter()
                .any(|n| n.contains("ACCEPTS plaintext logins")),
            "{:?}",
            v.notes
        );
    }

    #[test]
    fn a_link_that_works_has_no_network_cause() {
        let v = tikv(O::Accepted, Phase::Check).verdict();
        assert!(causes(&v).is_empty());
        assert!(v.works);
        assert!(v.headline.starts_with("the link works"), "{}", v.headline);
    }
}
