//! The trust rules: the server's chain does not verify for the dialed name (another CA, an
//! intermediate missing, outside its validity, the name not in its SANs, no serverAuth).

use crate::pki::CertSummary;
use crate::probe::UntrustedReason;

use super::super::cause::{go_hostname_error, Cause, LogText};
use super::super::{CauseFinding, Side, Variant};
use super::{new_finding, Analysis};

/// What the server's untrusted chain shows, gathered once for its finding.
struct Untrusted {
    reason: UntrustedReason,
    detail: String,
    /// The server's leaf certificate, as sent.
    leaf: Option<CertSummary>,
    /// The server name the baseline dialed.
    dialed: String,
    /// The cluster CA's subject.
    trust_subject: String,
    /// The server-name variants the chain verified for.
    verified_for: Vec<String>,
    /// The server-name variants it did not verify for.
    not_verified_for: Vec<String>,
}

impl Analysis<'_> {
    /// The server's chain did not verify: the finding for the reason WebPKI gave.
    pub(super) fn server_untrusted(&mut self) {
        let Some(v) = self.base.server_verification.clone() else {
            return;
        };
        let (verified_for, not_verified_for) = self.server_name_split();
        let u = Untrusted {
            reason: v.reason.unwrap_or(UntrustedReason::Other),
            detail: v.detail.clone().unwrap_or_default(),
            leaf: self.base.server_chain.first().cloned(),
            dialed: self.dialed(),
            trust_subject: self.trust_subject(),
            verified_for,
            not_verified_for,
        };
        let f = match u.reason {
            UntrustedReason::UnknownIssuer | UntrustedReason::BadSignature => {
                self.untrusted_issuer(&u)
            }
            UntrustedReason::IncompleteChain => self.untrusted_chain(&u),
            UntrustedReason::Expired | UntrustedReason::NotYetValid => self.untrusted_validity(&u),
            UntrustedReason::NameMismatch => self.untrusted_name(&u),
            UntrustedReason::BadEku => self.untrusted_eku(&u),
            _ => {
                let mut f = new_finding(Cause::Unexplained, Side::Server, u.detail.clone());
                f.fix.push("inspect the chain in step 3".into());
                f
            }
        };
        self.push(f);
    }

    /// The server-name variants, split by whether the chain verified for that name:
    /// (verified for, not verified for).
    fn server_name_split(&self) -> (Vec<String>, Vec<String>) {
        let (mut verified_for, mut not_verified_for) = (Vec::new(), Vec::new());
        for x in self.variants {
            let Variant::ServerName(name) = &x.id else {
                continue;
            };
            match x.record.server_verification.as_ref().map(|s| s.trusted) {
                Some(true) => verified_for.push(name.clone()),
                Some(false) => not_verified_for.push(name.clone()),
                None => {}
            }
        }
        (verified_for, not_verified_for)
    }

    /// The server's chain is issued by a CA other than the cluster's.
    fn untrusted_issuer(&self, u: &Untrusted) -> CauseFinding {
        let trust_subject = &u.trust_subject;
        let detail = &u.detail;
        let issuer = u
            .leaf
            .as_ref()
            .map(|l| l.issuer.clone())
            .unwrap_or_default();
        let mut f = new_finding(
            Cause::UnknownCa,
            Side::Server,
            format!(
                "{}'s certificate is issued by {issuer}, which is not the cluster CA ({trust_subject}): {detail}",
                self.server()
            ),
        );
        if !u.not_verified_for.is_empty() && u.verified_for.is_empty() {
            f.evidence.push(format!(
                "no server name helps: it does not verify for {} either, so the chain is the problem, not the name",
                u.not_verified_for.join(", ")
            ));
        }
        f.config = self.cert_config();
        f.fix.push(format!(
            "give {} a certificate issued by the cluster CA ({}), or, if {issuer} is the right CA, put it in every component's CA file; all components must share one ca.crt, and a CA change needs restarts",
            self.title(),
            f.config.as_ref().map_or_else(|| "its cert file".into(), |c| format!("{} in {}", c.key, c.file))
        ));
        f
    }

    /// The server does not send the intermediate CA between its leaf and the cluster CA.
    fn untrusted_chain(&self, u: &Untrusted) -> CauseFinding {
        let mut f = new_finding(Cause::IncompleteChain, Side::Server, u.detail.clone());
        f.config = self.cert_config();
        f.fix.push(format!(
            "append the intermediate CA certificate after the leaf in {}'s certificate file, or add the intermediate to the callers' CA files",
            self.title()
        ));
        f
    }

    /// The server's chain is expired or not yet valid, with what Go callers print about now.
    fn untrusted_validity(&self, u: &Untrusted) -> CauseFinding {
        let mut f = new_finding(
            Cause::Expired,
            Side::Server,
            format!("the certificate chain of {}: {}", self.server(), u.detail),
        );
        if let Some(l) = &u.leaf {
            let now = time::OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default();
            let text = if u.reason == UntrustedReason::Expired {
                format!("x509: certificate has expired or is not yet valid: current time {now} is after {}", l.not_after)
            } else {
                format!("x509: certificate has expired or is not yet valid: current time {now} is before {}", l.not_before)
            };
            f.log_texts.insert(
                0,
                LogText::new(format!("Go callers dialing {}, about now", u.dialed), text),
            );
        }
        f.config = self.cert_config();
        f.fix.push(format!(
            "renew {}'s certificate; Go components and TiKV gRPC pick up a new cert file on new connections, TiKV's status port after a handshake error; a renewed CA needs restarts",
            self.title()
        ));
        if u.reason == UntrustedReason::NotYetValid {
            f.fix
                .push("or fix the clock: the certificate's validity has not started here".into());
        }
        f
    }

    /// The server's certificate is not valid for the dialed name (or carries a CN only).
    fn untrusted_name(&self, u: &Untrusted) -> CauseFinding {
        let dialed = &u.dialed;
        let leaf = u.leaf.as_ref();
        let sans = leaf.map(|l| l.sans.clone()).unwrap_or_default();
        let cn = leaf.and_then(|l| l.common_name.clone());
        let go = go_hostname_error(&sans, cn.as_deref(), dialed);
        let cause = if sans.is_empty() {
            Cause::CnOnlyCert
        } else {
            Cause::SanMismatch
        };
        let mut f = new_finding(cause, Side::Server, self.name_summary(u, &sans));
        f.log_texts.insert(
            0,
            LogText::new(
                format!("TiDB, PD, TiCDC, TiUP (Go) dialing {dialed}: exactly"),
                go,
            ),
        );
        if !u.verified_for.is_empty() {
            f.evidence.push(format!(
                "the same chain verifies for {}: the CA is right, only the dialed name is missing from the SANs",
                u.verified_for.join(", ")
            ));
        }
        if !u.not_verified_for.is_empty() {
            f.evidence.push(format!(
                "it does not verify for {} either",
                u.not_verified_for.join(", ")
            ));
        }
        f.config = self.cert_config();
        self.name_fixes(&mut f, dialed, &sans);
        f
    }

    /// What is wrong with the name: no SANs at all (Go ignores the CN), or not the dialed one.
    fn name_summary(&self, u: &Untrusted, sans: &[String]) -> String {
        let dialed = &u.dialed;
        if sans.is_empty() {
            format!(
                "{}'s certificate has no subjectAltName, only the subject {}: Go callers (TiDB, PD, TiCDC, TiUP) ignore the CN, so it is valid for no name, {dialed} included",
                self.server(),
                u.leaf.as_ref().map_or("?", |l| l.subject.as_str())
            )
        } else {
            format!(
                "{}'s certificate is valid for {}, not for {dialed}, the name callers dial",
                self.server(),
                sans.join(", ")
            )
        }
    }

    /// Reissue with the dialed name as a SAN, or dial a name the certificate has.
    fn name_fixes(&self, f: &mut CauseFinding, dialed: &str, sans: &[String]) {
        let san = if dialed.parse::<std::net::IpAddr>().is_ok() {
            format!("IP:{dialed}")
        } else {
            format!("DNS:{dialed}")
        };
        f.fix.push(format!(
            "reissue {}'s certificate with {san} in its subjectAltName (TiUP puts localhost, 127.0.0.1 and the instance `host` there: the `host` in the topology must be the address others dial)",
            self.title()
        ));
        if !sans.is_empty() {
            f.fix.push(format!(
                "or make callers dial a name the certificate has: {}",
                sans.join(", ")
            ));
        }
    }

    /// The server's certificate lacks serverAuth.
    fn untrusted_eku(&self, u: &Untrusted) -> CauseFinding {
        let eku = u
            .leaf
            .as_ref()
            .map(|l| l.extended_key_usage.join(", "))
            .unwrap_or_default();
        let mut f = new_finding(
            Cause::IncompatibleEku,
            Side::Server,
            format!(
                "{}'s certificate lacks the serverAuth extended key usage (it has: {eku})",
                self.server()
            ),
        );
        f.config = self.cert_config();
        f.fix.push(format!(
            "reissue {}'s certificate with both serverAuth and clientAuth: component certificates act as server and client",
            self.title()
        ));
        f
    }
}

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
