//! The client-certificate rules: a key that is not the certificate's, no certificate sent where
//! one is required, and a certificate the server refuses (ours from another CA, expired or
//! without clientAuth; or ours fine, and the server's clock or CA file at fault).

use crate::pki::{CertSummary, IdentityCheck};
use crate::probe::OutcomeClass;
use crate::profile::Component;

use super::super::cause::Cause;
use super::super::{admitted, CauseFinding, Side, Variant};
use super::{new_finding, Analysis};

impl Analysis<'_> {
    /// Our key does not belong to our certificate: the probes ran without one.
    pub(super) fn key_mismatch(&mut self) {
        let Some(m) = &self.inputs.key_mismatch else {
            return;
        };
        let mut f = new_finding(
            Cause::KeyMismatch,
            Side::Client,
            format!(
                "the key {} does not belong to the certificate {} (CN {}): no certificate could be presented, so the probes ran without one",
                m.key_file,
                m.cert_file,
                m.certificate.label()
            ),
        );
        f.fix.push(format!(
            "pair {} with the key it was issued with (TiUP: <role>.crt goes with <role>.pem in the same tls folder), or reissue both",
            m.cert_file
        ));
        self.push(f);
    }

    /// A rejection of (or no rejection of) the caller.
    pub(super) fn client(&mut self, class: OutcomeClass) {
        match class {
            OutcomeClass::CertRequired => self.cert_required(),
            OutcomeClass::CertRejected => self.cert_rejected(),
            OutcomeClass::CnRejected => self.cn_rejected(),
            OutcomeClass::Accepted => {}
            OutcomeClass::Timeout => {
                let mut f = new_finding(
                    Cause::Unexplained,
                    Side::Link,
                    self.base.outcome.summary.clone(),
                );
                f.fix.push("the handshake completed but the server did not answer the check: check the --protocol and --path, and the server's load".into());
                self.push(f);
            }
            OutcomeClass::Reset => self.reset(),
            _ => {}
        }
    }

    /// No certificate was sent and the server requires one (unless our key did not match).
    fn cert_required(&mut self) {
        if self.inputs.key_mismatch.is_some() {
            return;
        }
        let mut f = new_finding(
            Cause::ClientCertRequired,
            Side::Client,
            format!(
                "{} requires a client certificate and none was sent",
                self.server()
            ),
        );
        if self.comp() == Some(Component::Tidb) {
            f.evidence.push("TiDB asks for a client certificate on its status port only when `cluster-verify-cn` is set: it is set here".into());
        }
        let ok = self.admitted_identities();
        if !ok.is_empty() {
            f.evidence
                .push(format!("with a certificate it works: {}", ok.join(", ")));
        }
        f.fix.push(format!("configure the caller with a certificate and key issued by the cluster CA (tlsaudit: --cert/--key or --as; TiUP's own: ~/.tiup/storage/cluster/clusters/{}/tls/client.crt and client.pem)", self.tiup_name()));
        self.push(f);
    }

    /// The server refused our certificate: our certificate at fault, else the server.
    fn cert_rejected(&mut self) {
        let id = &self.inputs.caller;
        let file = id
            .identity
            .cert_path
            .as_ref()
            .map_or_else(|| id.identity.name.clone(), |p| p.display().to_string());
        let answer = Self::server_answer(self.base);
        let cn = self.cn().unwrap_or("(no CN)").to_string();
        let trust_subject = self.trust_subject();
        let others_ok = self.admitted_identities();
        let mut f = self
            .own_cert_fault(&file, &cn, &trust_subject)
            .unwrap_or_else(|| self.server_cert_fault(&cn, &trust_subject));
        if let Some(a) = answer {
            f.evidence.insert(0, a);
        }
        if let Some(v) = self.variant(&Variant::NoCert) {
            f.evidence
                .push(format!("without a certificate: {}", v.outcome));
        }
        if !others_ok.is_empty() {
            f.evidence.push(format!(
                "other identities get through: {}; so the server works and our certificate is what it refuses",
                others_ok.join(", ")
            ));
        }
        self.push(f);
    }

    /// The labels of the identity variants the server admitted.
    fn admitted_identities(&self) -> Vec<String> {
        self.variants
            .iter()
            .filter(|v| v.id.is_identity() && admitted(&v.record))
            .map(|v| v.label.clone())
            .collect()
    }

    /// What the pre-flight check found wrong with our own certificate, if anything: not from
    /// the cluster CA, outside its validity, no clientAuth, or another problem.
    fn own_cert_fault(&self, file: &str, cn: &str, trust_subject: &str) -> Option<CauseFinding> {
        let check = &self.inputs.caller.check;
        let leaf = self.inputs.caller.identity.leaf.as_ref();
        let f = if check.has_certificate && !check.chains_to_ca {
            own_unknown_ca(file, cn, trust_subject, leaf)
        } else if check.has_certificate && !check.within_validity {
            own_expired(file, cn, check)
        } else if check.has_certificate && !check.client_auth_eku {
            own_no_client_auth(file, cn, leaf)
        } else if let Some(problem) = &check.problem {
            let mut f = new_finding(
                Cause::Unexplained,
                Side::Client,
                format!("our certificate {file} {problem}"),
            );
            f.fix
                .push("reissue the certificate from the cluster CA".into());
            f
        } else {
            return None;
        };
        Some(f)
    }

    /// Our certificate is fine here, so the server is at fault: its clock, or its CA file.
    fn server_cert_fault(&self, cn: &str, trust_subject: &str) -> CauseFinding {
        if self
            .base
            .evidence
            .alert
            .as_ref()
            .is_some_and(|a| a.name == "certificate_expired")
        {
            return self.clock_skew();
        }
        self.server_ca_differs(cn, trust_subject)
    }

    /// The server calls our certificate expired while it is valid here.
    fn clock_skew(&self) -> CauseFinding {
        let leaf = self.inputs.caller.identity.leaf.as_ref();
        let mut f = new_finding(
            Cause::ClockSkew,
            Side::Server,
            format!(
                "{} says our certificate expired, but it is valid here until {}: the server's clock is off",
                self.server(),
                leaf.map_or("?", |l| l.not_after.as_str())
            ),
        );
        f.fix.push("fix the server's clock (NTP)".into());
        f
    }

    /// Our certificate is valid for the cluster CA, yet the server refuses it at the TLS level
    /// (unknown_ca, or gRPC C-core's silent close): the server trusts another CA.
    fn server_ca_differs(&self, cn: &str, trust_subject: &str) -> CauseFinding {
        let hints = self
            .base
            .tls
            .as_ref()
            .map(|t| t.ca_hints.clone())
            .unwrap_or_default();
        let mut f = new_finding(
            Cause::UnknownCa,
            Side::Server,
            format!(
                "{} refuses our certificate (CN {cn}), which is valid for the cluster CA ({trust_subject}): the server's CA file is a different CA",
                self.server()
            ),
        );
        if !hints.is_empty() && !hints.iter().any(|h| h == trust_subject) {
            f.evidence.push(format!(
                "the server's CertificateRequest names the CAs it trusts: {} (not {trust_subject})",
                hints.join("; ")
            ));
        }
        f.config = self.ca_config();
        f.fix.push(format!(
            "point {} at the cluster's ca.crt ({}), then restart it: the CA pool is built once at start",
            self.title(),
            f.config.as_ref().map_or_else(|| "its CA file".into(), |c| format!("{} in {}", c.key, c.file))
        ));
        f
    }

    /// A note when the server also admits the variant without a client certificate.
    pub(super) fn anonymous_admitted(&mut self) {
        if let Some(v) = self.variant(&Variant::NoCert) {
            if admitted(&v.record) && self.inputs.caller.identity.key.is_some() {
                let declared = !self.inputs.target.declared_allowed_cn.is_empty();
                self.notes.push(format!(
                    "{} also admits callers without a client certificate{}",
                    self.server(),
                    if declared {
                        ": the allow-list the inventory declares is not enforced"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
}

/// Our certificate is not issued by the cluster CA.
fn own_unknown_ca(
    file: &str,
    cn: &str,
    trust_subject: &str,
    leaf: Option<&CertSummary>,
) -> CauseFinding {
    let issuer = leaf.map(|l| l.issuer.clone()).unwrap_or_default();
    let mut f = new_finding(
        Cause::UnknownCa,
        Side::Client,
        format!(
            "our certificate {file} (CN {cn}) is issued by {issuer}, not by the cluster CA ({trust_subject}): the server does not trust it"
        ),
    );
    f.fix.push(format!(
        "give the caller a certificate issued by the cluster CA; if {file} is right, the CA file is the one that is wrong"
    ));
    f
}

/// Our certificate is outside its validity.
fn own_expired(file: &str, cn: &str, check: &IdentityCheck) -> CauseFinding {
    let mut f = new_finding(
        Cause::Expired,
        Side::Client,
        format!(
            "our certificate {file} (CN {cn}) {}",
            check
                .problem
                .clone()
                .unwrap_or_else(|| "is outside its validity".into())
        ),
    );
    f.fix.push(format!(
        "renew {file}; Go components re-read their cert at every handshake, TiKV when the file's mtime changes"
    ));
    f
}

/// Our certificate lacks the clientAuth extended key usage.
fn own_no_client_auth(file: &str, cn: &str, leaf: Option<&CertSummary>) -> CauseFinding {
    let eku = leaf
        .map(|l| l.extended_key_usage.join(", "))
        .unwrap_or_default();
    let mut f = new_finding(
        Cause::IncompatibleEku,
        Side::Client,
        format!(
            "our certificate {file} (CN {cn}) lacks the clientAuth extended key usage (it has: {eku}); servers refuse it as a client certificate"
        ),
    );
    f.fix.push("reissue it with both clientAuth and serverAuth (component certificates are used as client and server)".into());
    f
}

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
