//! The network rules: the name does not resolve, nothing listens, the port is silent, or it
//! speaks plaintext or the MySQL protocol instead of TLS; and for a SQL port, whether it still
//! takes plaintext logins.

use crate::probe::PeerProtocol;
use crate::profile::{Component, Version};

use super::super::cause::Cause;
use super::super::{CauseFinding, ConfigChange, Side};
use super::{new_finding, Analysis};

impl Analysis<'_> {
    /// A link-level cause the outcome names by itself, with its fix.
    pub(super) fn link(&mut self, cause: Cause) {
        let mut f = new_finding(cause, Side::Link, self.base.outcome.summary.clone());
        match cause {
            Cause::ResolveFailed => f.fix.push(format!(
                "make {} resolve on this host (DNS, /etc/hosts), or dial the IP address the topology uses",
                self.base.target.address
            )),
            Cause::Unreachable => f.fix.push(
                "check that the host is up and that no firewall drops packets on this port".into(),
            ),
            Cause::NoAnswer => {
                f.summary = format!(
                    "{}: it accepts TCP but does not answer TLS",
                    self.base.outcome.summary
                );
                f.fix.push("check which service listens on this port, and whether a proxy or load balancer in between expects another protocol".into());
            }
            Cause::NotTls => {
                if let Some(b) = &self.base.evidence.peer_bytes {
                    f.evidence.push(format!("the peer sent: {b}"));
                }
                f.fix.push(
                    "point the caller at the component's TLS port (see the port table in the docs)"
                        .into(),
                );
            }
            _ => {}
        }
        self.push(f);
    }

    /// Connection refused: nothing listens, or PD (before v8.4) did not start because of its
    /// list.
    pub(super) fn refused(&mut self) {
        let pd = self.pd_multiple_cn();
        if let Some((pd, true)) = pd {
            self.push(pd);
            return;
        }
        let mut f = new_finding(
            Cause::NotListening,
            Side::Link,
            format!(
                "{}: {} does not run, or listens on another port or address",
                self.base.outcome.summary,
                self.title()
            ),
        );
        let display = if self.comp().is_some_and(Component::is_tidb) {
            format!(
                " (`tiup cluster display {}` shows its state)",
                self.tiup_name()
            )
        } else {
            String::new()
        };
        f.fix.push(format!(
            "start {}{display} and read its log for a start failure: a TLS config it cannot load stops it",
            self.title()
        ));
        if let Some((pd, false)) = pd {
            f.evidence.push(pd.summary);
        }
        self.push(f);
    }

    /// PD given more than one allowed CN by the inventory: the finding, and whether PD is known
    /// to be older than v8.4 (then the list is why it does not run).
    fn pd_multiple_cn(&self) -> Option<(CauseFinding, bool)> {
        let declared = &self.inputs.target.declared_allowed_cn;
        if self.comp() != Some(Component::Pd) || declared.len() <= 1 {
            return None;
        }
        let old = self
            .inputs
            .target
            .version
            .is_some_and(|v| v < Version(8, 4));
        let mut pd = new_finding(
            Cause::PdMultipleCn,
            Side::Server,
            format!(
                "the inventory gives PD {} allowed CNs ({}); PD before v8.4 refuses to start with more than one{}",
                declared.len(),
                declared.join(", "),
                if old { "" } else { " (the PD version is not known here)" }
            ),
        );
        pd.config = self.list_config();
        pd.fix.push("upgrade PD to v8.4 or later, or keep exactly one CN in cert-allowed-cn (before v8.4 it is applied to the peer port 2380 only)".into());
        Some((pd, old))
    }

    /// The port answered in plaintext: a SQL port (offering TLS in-band or not at all), or a
    /// port where TLS is not enabled.
    pub(super) fn plaintext(&mut self) {
        let proto = self.base.evidence.peer_protocol;
        if proto == Some(PeerProtocol::Mysql) && self.base.mysql.is_some() {
            self.sql_tls_not_offered();
        } else if proto == Some(PeerProtocol::Mysql) {
            self.mysql_protocol();
        } else if matches!(
            proto,
            Some(PeerProtocol::Ssh | PeerProtocol::Text | PeerProtocol::Unknown)
        ) {
            // Not the component speaking plaintext: another service on the port.
            self.link(Cause::NotTls);
        } else {
            self.tls_not_enabled(proto);
        }
    }

    /// A MySQL greeting where TLS was expected: a SQL port, diagnosed with `--protocol mysql`.
    fn mysql_protocol(&mut self) {
        let mut f = new_finding(
            Cause::MysqlProtocol,
            Side::Link,
            "the port sent a MySQL greeting: this is a SQL port (TiDB 4000, TiProxy 6000), where TLS starts in-band after an SSLRequest; cluster TLS is checked on the status port 10080".into(),
        );
        f.fix.push(format!(
            "diagnose it as a SQL port: `tlsaudit diagnose {} --protocol mysql` (TLS offered or not, the chain, whether plaintext is refused); cluster TLS: TiDB's status port (10080)",
            self.base.target.address
        ));
        self.push(f);
    }

    /// A port answering plaintext (`proto`, when recognised) where callers use TLS.
    fn tls_not_enabled(&mut self, proto: Option<PeerProtocol>) {
        let what = proto.map_or("plaintext", PeerProtocol::describe);
        let mut f = new_finding(
            Cause::Plaintext,
            Side::Server,
            format!(
                "{} answers {what}, not TLS: TLS is not enabled on this port while callers use TLS (partial TLS enablement is unsupported)",
                self.server()
            ),
        );
        if let Some(b) = &self.base.evidence.peer_bytes {
            f.evidence
                .push(format!("the first bytes the port sent: {b}"));
        }
        if let Some(k) = self.keys() {
            let tidb = self.comp().is_some_and(crate::profile::Component::is_tidb);
            f.config = Some(ConfigChange {
                component: self.title().to_string(),
                file: k.config.file.to_string(),
                key: format!("{}, {}, {}", k.server.ca, k.server.cert, k.server.key),
                // TiUP's switch is for TiDB's components only.
                tiup: tidb.then(|| "global.enable_tls: true (tiup cluster tls)".to_string()),
            });
            f.fix.push(format!(
                "enable TLS on {}: set {}, {} and {} in {} and restart it{}",
                self.title(),
                k.server.ca,
                k.server.cert,
                k.server.key,
                k.config.file,
                if tidb {
                    " (TiUP: enable TLS for the whole cluster, never for part of it)"
                } else {
                    ""
                }
            ));
        }
        f.fix.push("or, if this endpoint is meant to be plaintext, make its callers use http:// (and expect no mTLS)".into());
        self.push(f);
    }

    /// A SQL port whose greeting lacks CLIENT_SSL.
    fn sql_tls_not_offered(&mut self) {
        let Some(m) = &self.base.mysql else { return };
        let mut f = new_finding(
            Cause::SqlTlsNotOffered,
            Side::Server,
            format!(
                "{} ({}) offers no TLS: its greeting lacks CLIENT_SSL, so it has no certificate loaded and every SQL client connects in plaintext",
                self.server(),
                m.server_version
            ),
        );
        f.evidence.push(format!(
            "greeting capability flags 0x{:08x}: CLIENT_SSL (0x0800) not set",
            m.capabilities
        ));
        if let Some(a) = &m.plaintext_login {
            f.evidence.push(format!(
                "the login in plaintext as {}: {}",
                m.user,
                a.describe()
            ));
        }
        if let Some(k) = self.keys() {
            f.config = Some(ConfigChange {
                component: self.title().to_string(),
                file: k.config.file.to_string(),
                key: format!("{}, {}", k.server.cert, k.server.key),
                tiup: k.config.tiup_key(k.server.cert),
            });
            f.fix.push(format!(
                "load a server certificate: set {} and {} in {} (and {} to verify client certificates), restart {}, then refuse plaintext with require-secure-transport",
                k.server.cert,
                k.server.key,
                k.config.file,
                k.server.ca,
                self.title()
            ));
        } else {
            f.fix.push("load a server certificate (ssl_cert, ssl_key) and restart the server; then SET GLOBAL require_secure_transport = ON".into());
        }
        self.push(f);
    }

    /// A SQL port offering TLS: does it still accept plaintext? (A note: the TLS link works.)
    pub(super) fn sql_plaintext(&mut self) {
        use crate::probe::mysql::PlaintextVerdict as V;
        let Some(m) = &self.base.mysql else { return };
        let server = self.server();
        let note = match m.plaintext {
            V::Refused => format!("{server} refuses plaintext logins: {}", m.plaintext_detail),
            V::Accepted => format!(
                "{server} ACCEPTS plaintext logins, although it offers TLS: {}; refuse them with require-secure-transport (TiDB: [security] in tidb.toml) or SET GLOBAL require_secure_transport = ON",
                m.plaintext_detail
            ),
            V::Unknown => format!(
                "whether {server} refuses plaintext logins is {}",
                m.plaintext_detail
            ),
            V::NoTls | V::NotTested => return,
        };
        self.notes.push(note);
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{causes, Case};
    use crate::diagnose::Side;
    use crate::probe::mysql::{
        AccountKind, LoginAnswer, LoginResult, MysqlReport, PlaintextVerdict,
    };
    use crate::probe::PeerProtocol;
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
