//! The protocol rules: no TLS version or ALPN protocol in common, a handshake reset that
//! another version completes, and a gRPC server that negotiates no ALPN (which real gRPC
//! callers refuse even when the probe got an answer); with the notes on the versions a
//! server does not speak and its silence without h2.

use crate::probe::{OutcomeClass, Protocol, TlsParams};

use super::super::cause::Cause;
use super::super::{admitted, CauseFinding, Side, Variant};
use super::{new_finding, Analysis};

impl<'a> Analysis<'a> {
    /// The server resets the default handshake: a version or ALPN mismatch when a variant
    /// completes it, else a plain reset.
    pub(super) fn reset(&mut self) {
        let worked: Vec<String> = [
            Variant::Tls12,
            Variant::Tls13,
            Variant::AlpnNone,
            Variant::AlpnH2,
        ]
        .iter()
        .filter(|id| self.variant(id).is_some_and(|v| v.record.tls.is_some()))
        .map(Variant::id)
        .collect();
        if !worked.is_empty() {
            let mut f = new_finding(
                Cause::TlsVersionMismatch,
                Side::Link,
                format!(
                    "the server resets the default handshake, but completes it {}",
                    worked.join(", ")
                ),
            );
            f.fix
                .push("align the TLS versions and ALPN of caller and server".into());
            self.push(f);
            return;
        }
        let mut f = new_finding(
            Cause::ConnectionReset,
            Side::Link,
            self.base.outcome.summary.clone(),
        );
        f.fix.push("check for a proxy or firewall resetting TLS, or a server that refuses this client at the TCP level".into());
        self.push(f);
    }

    /// No common TLS parameters: the ALPN protocol when the server says so, else the version.
    pub(super) fn mismatch(&mut self) {
        if self.no_common_alpn() {
            self.alpn_mismatch();
        } else {
            self.version_mismatch();
        }
    }

    /// The server refused every offered ALPN protocol (its alert, or rustls's words).
    fn no_common_alpn(&self) -> bool {
        let ev = &self.base.evidence;
        ev.alert
            .as_ref()
            .is_some_and(|a| a.name == "no_application_protocol")
            || ev
                .tls_error
                .as_deref()
                .is_some_and(|e| e.contains("doesn't support any known protocol"))
    }

    /// No ALPN protocol in common, with the ALPN variants that completed the handshake.
    fn alpn_mismatch(&mut self) {
        let offered = self.base.target.alpn_offered.join(", ");
        let ok: Vec<String> = self
            .variants
            .iter()
            .filter(|v| v.id.is_alpn() && v.record.tls.is_some())
            .map(|v| v.label.clone())
            .collect();
        let mut f = new_finding(
            Cause::MissingAlpn,
            Side::Link,
            format!(
                "{} accepts none of the offered ALPN protocols ({offered})",
                self.server()
            ),
        );
        if !ok.is_empty() {
            f.evidence
                .push(format!("the handshake completes {}", ok.join(", ")));
        }
        f.fix.push("offer the protocol the endpoint serves (gRPC: h2; HTTP: http/1.1), i.e. probe it with the right --protocol".into());
        self.push(f);
    }

    /// No TLS version in common, with what each single-version variant got.
    fn version_mismatch(&mut self) {
        let mut versions = Vec::new();
        for (id, name) in [(Variant::Tls12, "TLS 1.2"), (Variant::Tls13, "TLS 1.3")] {
            if let Some(v) = self.variant(&id) {
                versions.push(format!("{name} only: {}", v.outcome));
            }
        }
        let mut f = new_finding(
            Cause::TlsVersionMismatch,
            Side::Link,
            self.base.outcome.summary.clone(),
        );
        if !versions.is_empty() {
            f.evidence.push(versions.join("; "));
        }
        self.scanned_versions(&mut f);
        f.fix.push("align the TLS versions: TiKV's status port speaks TLS 1.2 only; TiProxy's `min-tls-version` can exclude 1.2".into());
        self.push(f);
    }

    /// What the hygiene scan saw the server accept, which a rustls caller (TLS 1.2 and 1.3
    /// only) cannot: a server that speaks only TLS 1.0 or 1.1 gets the fix that raises it.
    fn scanned_versions(&self, f: &mut CauseFinding) {
        let Some(scan) = self.scan.filter(|s| s.failure.is_none()) else {
            return;
        };
        let accepted = scan.accepted();
        let names: Vec<&str> = accepted.iter().map(|v| v.name()).collect();
        f.evidence.push(if names.is_empty() {
            "the hygiene scan: the server accepts none of TLS 1.0 to 1.3".to_string()
        } else {
            format!("the hygiene scan: the server accepts {}", names.join(", "))
        });
        if !accepted.is_empty() && accepted.iter().all(|v| v.is_obsolete()) {
            let t = &self.inputs.target;
            let served = crate::scan::Served::of(t.component, t.protocol);
            f.fix.push(format!(
                "the server speaks only obsolete versions, which current callers (rustls, Go 1.22+, TiDB components) refuse: {}",
                crate::scan::version_fix(served)
            ));
        }
    }

    /// gRPC needs h2: a server that negotiates no ALPN breaks real gRPC callers even when this
    /// probe (which speaks HTTP/2 by prior knowledge) got through.
    pub(super) fn alpn_checks(&mut self) {
        let Some(tls) = self.grpc_without_h2() else {
            return;
        };
        let got_answer = self.base.evidence.grpc_status.is_some();
        let mut f = new_finding(
            Cause::MissingAlpn,
            Side::Server,
            format!(
                "{} negotiates no ALPN protocol although h2 was offered: gRPC callers (C-core in TiKV/TiFlash, grpc-go >= 1.67 in TiDB/PD/TiCDC) refuse the connection{}",
                self.server(),
                if got_answer {
                    "; this probe, speaking HTTP/2 by prior knowledge, still got an answer, which is why the server looks healthy to tools that do not check ALPN"
                } else {
                    ""
                }
            ),
        );
        f.evidence.push(format!(
            "offered ALPN {}, negotiated none ({})",
            self.base.target.alpn_offered.join(", "),
            tls.version
        ));
        if let Some(v) = self
            .variant(&Variant::AlpnH2)
            .or_else(|| self.variant(&Variant::AlpnHttp11))
        {
            f.evidence.push(format!("{}: {}", v.label, v.observed));
        }
        f.config = self.cert_config().map(|mut c| {
            c.key = "the server's TLS config (NextProtos / ALPN)".into();
            c
        });
        f.fix.push(format!(
            "make {} offer h2 in its TLS config (TiDB's status port offers http/1.1 and h2 since 2025: upgrade), or put nothing between the caller and the server that terminates TLS without ALPN",
            self.title()
        ));
        // Replace a generic finding about the same link.
        self.findings.retain(|x| x.cause != Cause::Unexplained);
        self.push(f);
    }

    /// The baseline's TLS parameters, when it is a gRPC probe that offered h2 and the server
    /// negotiated something else (or nothing).
    fn grpc_without_h2(&self) -> Option<&'a TlsParams> {
        let base = self.base;
        if base.target.protocol != Protocol::Grpc.as_str() {
            return None;
        }
        let tls = base.tls.as_ref()?;
        if tls.alpn.as_deref() == Some("h2") {
            return None;
        }
        let offered_h2 = base.target.alpn_offered.iter().any(|p| p == "h2");
        offered_h2.then_some(tls)
    }

    /// A note on the TLS versions the single-version variants found the server does not speak.
    pub(super) fn version_notes(&mut self) {
        let mut versions = Vec::new();
        for (id, name) in [(Variant::Tls12, "TLS 1.2"), (Variant::Tls13, "TLS 1.3")] {
            if let Some(v) = self.variant(&id) {
                if v.outcome == OutcomeClass::TlsMismatch {
                    versions.push(format!("does not speak {name}"));
                }
            }
        }
        if !versions.is_empty() {
            self.notes
                .push(format!("{} {}", self.server(), versions.join(" and ")));
        }
    }

    /// A note when a gRPC server that negotiates h2 closes silently on a caller offering no
    /// ALPN (C-core): that looks like a certificate rejection.
    pub(super) fn alpn_note(&mut self) {
        let base_h2 = self
            .base
            .tls
            .as_ref()
            .is_some_and(|t| t.alpn.as_deref() == Some("h2"));
        if base_h2 && self.base.target.protocol == Protocol::Grpc.as_str() {
            if let Some(v) = self.variant(&Variant::AlpnNone) {
                if !admitted(&v.record) && v.record.tls.is_some() {
                    self.notes.push(format!(
                        "without ALPN h2 {} closes the connection silently (gRPC C-core): a caller that does not offer h2 sees what looks like a certificate rejection",
                        self.server()
                    ));
                }
            }
        }
    }
}

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

    /// A TiDB SQL port that speaks only TLS 1.0 and 1.1 (rustls offers 1.2 and 1.3): the
    /// scan says what it accepts, and the fix raises TiDB's `tls-version`.
    #[test]
    fn a_server_of_obsolete_versions_only_gets_the_fix_that_raises_it() {
        use crate::scan::{ScanResult, Version, VersionScan};
        let mut c = Case::new(
            Some(Component::Tidb),
            Protocol::Mysql,
            Some("tidb"),
            O::TlsMismatch,
            Phase::Handshake,
        );
        c.variant(Variant::Tls12, O::TlsMismatch);
        c.variant(Variant::Tls13, O::TlsMismatch);
        let versions = Version::ALL
            .iter()
            .map(|&v| {
                let mut s = VersionScan::new(v);
                s.accepted = v.is_obsolete();
                s
            })
            .collect();
        c.scan = Some(ScanResult {
            address: "127.0.0.1:4000".into(),
            protocol: "mysql".into(),
            versions,
            certificates: Vec::new(),
            connections: 4,
            elapsed_ms: 1,
            complete: true,
            finished_at: None,
            failure: None,
        });
        let v = c.verdict();
        assert_eq!(causes(&v), ["tls_version_mismatch"]);
        let f = &v.findings[0];
        assert!(
            f.evidence
                .contains(&"the hygiene scan: the server accepts TLS 1.0, TLS 1.1".to_string()),
            "{:?}",
            f.evidence
        );
        assert!(
            f.fix
                .iter()
                .any(|x| x.contains("tls-version = \"TLSv1.2\"")),
            "{:?}",
            f.fix
        );
        // Without the scan the finding says what the variants saw, and no version fix.
        c.scan = None;
        let v = c.verdict();
        assert!(!v.findings[0]
            .fix
            .iter()
            .any(|x| x.contains("tls-version = \"TLSv1.2\"")));
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
