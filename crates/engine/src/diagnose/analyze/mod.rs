//! From the baseline probe and its variants to named causes: each finding says what is wrong,
//! what showed it (the differences between the variants), what to change and where, and what
//! the real components print for it.

mod client;
mod cn;
#[cfg(test)]
mod fixture;
mod network;
mod protocol;
mod trust;

use crate::audit::Verdict;
use crate::pki::CertSummary;
use crate::probe::classify::PeerProtocol;
use crate::probe::{OutcomeClass, Phase, ProbeRecord, Protocol, UntrustedReason};
use crate::profile::{Component, Profile, Version};

use super::cause::{go_hostname_error, Cause, LogText};
use super::{admitted, CauseFinding, ConfigChange, Inputs, LinkVerdict, Side, Variant, VariantRun};

fn code(s: &str) -> String {
    format!("`{s}`")
}

fn new_finding(cause: Cause, side: Side, summary: String) -> CauseFinding {
    CauseFinding {
        cause,
        title: cause.title().to_string(),
        side,
        summary,
        evidence: Vec::new(),
        fix: Vec::new(),
        config: None,
        log_texts: cause.log_texts(),
        fact: cause.fact(),
    }
}

struct Analysis<'a> {
    inputs: &'a Inputs,
    base: &'a ProbeRecord,
    variants: &'a [VariantRun],
    findings: Vec<CauseFinding>,
    notes: Vec<String>,
}

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

/// Decide the verdict.
pub fn verdict(inputs: &Inputs, base: &ProbeRecord, variants: &[VariantRun]) -> LinkVerdict {
    let mut a = Analysis {
        inputs,
        base,
        variants,
        findings: Vec::new(),
        notes: inputs.notes.clone(),
    };
    a.run();
    let cell = inputs
        .expected
        .as_ref()
        .map(|e| crate::audit::expect::verdict(e, base));
    if inputs.expected.is_none() {
        a.notes.push("not checked: whether this caller should be admitted here (no inventory endpoint and identity to take the allow-list and the needs from; give --config or --topology with an endpoint name and --as)".into());
    }
    if inputs.target.component_guessed {
        a.notes.push(format!(
            "not checked: what listens on this port; {} was assumed from the port number (give --component to say)",
            inputs.target.component.map_or("the component", |c| c.title())
        ));
    }
    if cell == Some(Verdict::Open) {
        a.not_enforced();
    }
    let works = a.findings.is_empty() && admitted(base);
    if !works && a.findings.is_empty() {
        let mut f = new_finding(
            Cause::Unexplained,
            Side::Link,
            format!(
                "the probe ended {}: {}",
                base.outcome.class, base.outcome.summary
            ),
        );
        f.fix
            .push("read the evidence of the baseline and the variants (--format json)".into());
        a.findings.push(f);
    }
    let headline = if cell == Some(Verdict::Open) {
        format!(
            "{} admits {}, which its allow-list does not name: the list is not enforced",
            inputs.target.server_label(),
            a.who()
        )
    } else if cell == Some(Verdict::Enforced) {
        format!(
            "{} refuses {}, as its configuration intends: {}",
            inputs.target.server_label(),
            a.who(),
            inputs.expected.as_ref().map_or("", |e| e.reason.as_str())
        )
    } else if works {
        format!(
            "the link works: {} admits {}",
            inputs.target.server_label(),
            a.who()
        )
    } else {
        let names: Vec<&str> = a.findings.iter().map(|f| f.cause.id()).collect();
        format!(
            "{} fails for {}: {}",
            inputs.target.server_label(),
            a.who(),
            names.join(", ")
        )
    };
    LinkVerdict {
        works,
        cell,
        expected: inputs.expected.clone(),
        headline,
        findings: a.findings,
        notes: a.notes,
    }
}

impl<'a> Analysis<'a> {
    fn who(&self) -> String {
        let id = &self.inputs.caller.identity;
        match id.cn() {
            Some(cn) if cn != id.name => format!("{} (CN {cn})", id.name),
            Some(_) => id.name.clone(),
            None if self.inputs.key_mismatch.is_some() => {
                format!("{} (certificate not usable)", id.name)
            }
            None => "a caller without a certificate".to_string(),
        }
    }

    fn cn(&self) -> Option<&str> {
        self.inputs.caller.identity.cn()
    }

    fn variant(&self, id: &Variant) -> Option<&VariantRun> {
        self.variants.iter().find(|v| v.id == *id)
    }

    fn comp(&self) -> Option<Component> {
        self.inputs.target.component
    }

    /// The target's row of the component table, when its component is known.
    fn keys(&self) -> Option<&'static Profile> {
        self.inputs.target.profile()
    }

    fn title(&self) -> &'static str {
        self.comp().map_or("the server", |c| c.title())
    }

    fn server(&self) -> String {
        self.inputs.target.server_label()
    }

    fn dialed(&self) -> String {
        self.base.target.server_name.clone()
    }

    /// The server's certificate file keys, as a ConfigChange.
    fn cert_config(&self) -> Option<ConfigChange> {
        let k = self.keys()?;
        Some(ConfigChange {
            component: self.title().to_string(),
            file: k.config.file.to_string(),
            key: format!("{} / {}", k.server.cert, k.server.key),
            tiup: None,
        })
    }

    fn ca_config(&self) -> Option<ConfigChange> {
        let k = self.keys()?;
        Some(ConfigChange {
            component: self.title().to_string(),
            file: k.config.file.to_string(),
            key: k.server.ca.to_string(),
            tiup: None,
        })
    }

    fn list_config(&self) -> Option<ConfigChange> {
        let p = self.keys()?;
        Some(ConfigChange {
            component: p.component.title().to_string(),
            file: p.config.file.to_string(),
            key: p.list.to_string(),
            tiup: p.config.tiup_key(p.list),
        })
    }

    /// `accepted as tikv, pd; rejected as tidb` from the identity variants.
    fn identity_split(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let mut ok = Vec::new();
        let mut cn_no = Vec::new();
        let mut other = Vec::new();
        for v in self.variants.iter().filter(|v| v.id.is_identity()) {
            let rec = &v.record;
            let name = rec
                .identity
                .cn
                .clone()
                .unwrap_or_else(|| rec.identity.name.clone());
            let class = rec.outcome.authorization.unwrap_or(rec.outcome.class);
            if admitted(rec) {
                ok.push(name);
            } else if class == OutcomeClass::CnRejected {
                cn_no.push(name);
            } else {
                other.push(format!("{name} ({class})"));
            }
        }
        (ok, cn_no, other)
    }

    fn server_answer(rec: &ProbeRecord) -> Option<String> {
        super::steps::answer(rec).map(|a| format!("the server answered with {a}"))
    }

    fn push(&mut self, f: CauseFinding) {
        if !self
            .findings
            .iter()
            .any(|x| x.cause == f.cause && x.side == f.side)
        {
            self.findings.push(f);
        }
    }

    fn run(&mut self) {
        if let Some(m) = &self.inputs.key_mismatch {
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
        let class = self.base.outcome.class;
        match class {
            OutcomeClass::ResolveFailed => self.link(Cause::ResolveFailed),
            OutcomeClass::Refused => self.refused(),
            OutcomeClass::Timeout if self.base.outcome.phase == Phase::Connect => {
                self.link(Cause::Unreachable);
            }
            OutcomeClass::Timeout if self.base.outcome.phase == Phase::Handshake => {
                self.link(Cause::NoAnswer);
            }
            OutcomeClass::Plaintext => self.plaintext(),
            OutcomeClass::ProtocolError if self.base.evidence.peer_protocol.is_some() => {
                self.link(Cause::NotTls);
            }
            OutcomeClass::ProtocolError
                if self.base.outcome.phase == Phase::Handshake
                    && self.base.server_chain.is_empty() =>
            {
                self.link(Cause::NoAnswer);
            }
            OutcomeClass::Reset if self.base.outcome.phase == Phase::Handshake => self.reset(),
            OutcomeClass::TlsMismatch => self.mismatch(),
            OutcomeClass::ServerUntrusted => {
                self.server_untrusted();
                if let Some(auth) = self.base.outcome.authorization {
                    self.client(auth);
                }
            }
            other => self.client(other),
        }
        self.alpn_checks();
        self.observations();
    }

    fn link(&mut self, cause: Cause) {
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

    fn refused(&mut self) {
        let mut f = new_finding(
            Cause::NotListening,
            Side::Link,
            format!(
                "{}: {} does not run, or listens on another port or address",
                self.base.outcome.summary,
                self.title()
            ),
        );
        f.fix.push(format!(
            "start {} (`tiup cluster display <cluster>` shows its state) and read its log for a start failure: a TLS config it cannot load stops it",
            self.title()
        ));
        let declared = &self.inputs.target.declared_allowed_cn;
        if self.comp() == Some(Component::Pd) && declared.len() > 1 {
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
            if old {
                self.push(pd);
                return;
            }
            f.evidence.push(pd.summary.clone());
        }
        self.push(f);
    }

    fn plaintext(&mut self) {
        let proto = self.base.evidence.peer_protocol;
        if proto == Some(PeerProtocol::Mysql) && self.base.mysql.is_some() {
            self.sql_tls_not_offered();
            return;
        }
        if proto == Some(PeerProtocol::Mysql) {
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
            return;
        }
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
            f.config = Some(ConfigChange {
                component: self.title().to_string(),
                file: k.config.file.to_string(),
                key: format!("{}, {}, {}", k.server.ca, k.server.cert, k.server.key),
                tiup: Some("global.enable_tls: true (tiup cluster tls)".to_string()),
            });
            f.fix.push(format!(
                "enable TLS on {}: set {}, {} and {} in {} and restart it (TiUP: enable TLS for the whole cluster, never for part of it)",
                self.title(),
                k.server.ca,
                k.server.cert,
                k.server.key,
                k.config.file
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

    fn reset(&mut self) {
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

    fn mismatch(&mut self) {
        let ev = &self.base.evidence;
        let alpn = ev
            .alert
            .as_ref()
            .is_some_and(|a| a.name == "no_application_protocol")
            || ev
                .tls_error
                .as_deref()
                .is_some_and(|e| e.contains("doesn't support any known protocol"));
        if alpn {
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
            return;
        }
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
        f.fix.push("align the TLS versions: TiKV's status port speaks TLS 1.2 only; TiProxy's `min-tls-version` can exclude 1.2".into());
        self.push(f);
    }

    fn server_untrusted(&mut self) {
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
            UntrustedReason::IncompleteChain => {
                let mut f = new_finding(Cause::IncompleteChain, Side::Server, u.detail.clone());
                f.config = self.cert_config();
                f.fix.push(format!(
                    "append the intermediate CA certificate after the leaf in {}'s certificate file, or add the intermediate to the callers' CA files",
                    self.title()
                ));
                f
            }
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

    /// The subject of the cluster CA (the trust's first certificate).
    fn trust_subject(&self) -> String {
        self.inputs
            .trust
            .certs
            .first()
            .map(|c| c.subject.clone())
            .unwrap_or_default()
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
        let cn_only = sans.is_empty();
        let cause = if cn_only {
            Cause::CnOnlyCert
        } else {
            Cause::SanMismatch
        };
        let summary = if cn_only {
            format!(
                "{}'s certificate has no subjectAltName, only the subject {}: Go callers (TiDB, PD, TiCDC, TiUP) ignore the CN, so it is valid for no name, {dialed} included",
                self.server(),
                leaf.map_or("?", |l| l.subject.as_str())
            )
        } else {
            format!(
                "{}'s certificate is valid for {}, not for {dialed}, the name callers dial",
                self.server(),
                sans.join(", ")
            )
        };
        let mut f = new_finding(cause, Side::Server, summary);
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
        let san = if dialed.parse::<std::net::IpAddr>().is_ok() {
            format!("IP:{dialed}")
        } else {
            format!("DNS:{dialed}")
        };
        f.fix.push(format!(
            "reissue {}'s certificate with {san} in its subjectAltName (TiUP puts localhost, 127.0.0.1 and the instance `host` there: the `host` in the topology must be the address others dial)",
            self.title()
        ));
        if !cn_only {
            f.fix.push(format!(
                "or make callers dial a name the certificate has: {}",
                sans.join(", ")
            ));
        }
        f
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

    /// A rejection of (or no rejection of) the caller.
    fn client(&mut self, class: OutcomeClass) {
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
        f.fix.push("configure the caller with a certificate and key issued by the cluster CA (tlsaudit: --cert/--key or --as; TiUP's own: ~/.tiup/storage/cluster/clusters/<cluster>/tls/client.crt and client.pem)".into());
        self.push(f);
    }

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
        } else if check.has_certificate && !check.within_validity {
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
        } else if check.has_certificate && !check.client_auth_eku {
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
        let leaf = self.inputs.caller.identity.leaf.as_ref();
        let hints = self
            .base
            .tls
            .as_ref()
            .map(|t| t.ca_hints.clone())
            .unwrap_or_default();
        if self
            .base
            .evidence
            .alert
            .as_ref()
            .is_some_and(|a| a.name == "certificate_expired")
        {
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
            return f;
        }
        // Our certificate is valid for the cluster CA, yet the server refuses it at the TLS
        // level (unknown_ca, or gRPC C-core's silent close): the server trusts another CA.
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

    fn cn_rejected(&mut self) {
        let cn = self.cn().unwrap_or("(no CN)").to_string();
        let comp = self.comp();
        let cause = match comp {
            Some(Component::Pd) => Cause::PdCnNotAllowed,
            Some(Component::Tidb) => Cause::TidbVerifyCn,
            _ => Cause::CnNotAllowed,
        };
        let config = self.list_config();
        let key = config
            .as_ref()
            .map_or_else(|| "its CN allow-list".into(), |c| c.key.clone());
        let summary = self.cn_summary(cause, &cn, &key);
        let mut f = new_finding(cause, Side::Server, summary);
        self.cn_evidence(&mut f, &cn);
        self.cn_fixes(&mut f, cause, &cn, &key, config.as_ref());
        let mut texts = self.cn_log_texts(cause, &cn);
        if !texts.is_empty() {
            // The component is known: its own words replace the catalogue of every component's.
            if cause == Cause::TidbVerifyCn {
                texts.extend(f.log_texts.iter().skip(1).cloned());
            }
            f.log_texts = texts;
        }
        f.config = config;
        self.push(f);
    }

    /// The summary of a CN rejection, in the words of the component that refuses it.
    fn cn_summary(&self, cause: Cause, cn: &str, key: &str) -> String {
        let own = self
            .comp()
            .is_some_and(|c| Component::from_identity_name(cn) == Some(c));
        let tiup_client = cn.ends_with("-client")
            || self
                .inputs
                .cluster
                .as_ref()
                .is_some_and(|c| cn == format!("{c}-client"));
        match cause {
            Cause::PdCnNotAllowed if own => format!(
                "{} refuses the CN {} — PD's own: PD applies cert-allowed-cn as a client too, so PD members refuse each other (`client certificate authentication failed`)",
                self.server(),
                code(cn)
            ),
            Cause::PdCnNotAllowed => format!(
                "{} refuses the CN {}: it is not in PD's {key}",
                self.server(),
                code(cn)
            ),
            Cause::TidbVerifyCn if tiup_client => format!(
                "{} refuses the CN {}: `cluster-verify-cn` does not list it; this is TiUP's own client certificate, so `tiup cluster display` shows this TiDB as Down",
                self.server(),
                code(cn)
            ),
            Cause::TidbVerifyCn => format!(
                "{} refuses the CN {}: `cluster-verify-cn` does not list it",
                self.server(),
                code(cn)
            ),
            _ => format!(
                "{} refuses the CN {}: it is not in {key}",
                self.server(),
                code(cn)
            ),
        }
    }

    /// The evidence of a CN rejection: the server's answer, which identities get through, the
    /// probe without a certificate, and the inventory's list. Returns the accepted identities.
    fn cn_evidence(&self, f: &mut CauseFinding, cn: &str) {
        if let Some(a) = Self::server_answer(self.base) {
            f.evidence.push(a);
        }
        let (ok, no, other) = self.identity_split();
        if !ok.is_empty() || !no.is_empty() {
            let mut rejected = no.clone();
            rejected.insert(0, cn.to_string());
            rejected.dedup();
            f.evidence.push(format!(
                "accepted as {}; rejected as {}: the CN is not on the list (every one of these certificates chains to the cluster CA)",
                if ok.is_empty() { "nobody".to_string() } else { ok.join(", ") },
                rejected.join(", ")
            ));
        }
        if !other.is_empty() {
            f.evidence
                .push(format!("other identities: {}", other.join(", ")));
        }
        if ok.is_empty() && !no.is_empty() {
            f.evidence.push("no configured identity is accepted: check the list for typos, case or spaces (the match is exact)".into());
        }
        if let Some(v) = self.variant(&Variant::NoCert) {
            f.evidence
                .push(format!("without a certificate: {}", v.outcome));
        }
        if self
            .inputs
            .target
            .declared_allowed_cn
            .iter()
            .any(|d| d == cn)
        {
            f.evidence.push(format!(
                "the inventory says {} is on the list, but the running server refuses it: the file was edited and not applied (reload or restart), or the inventory is stale",
                code(cn)
            ));
        }
    }

    /// The fixes for a CN rejection: add the CN to the list (with TiUP's commands).
    fn cn_fixes(
        &self,
        f: &mut CauseFinding,
        cause: Cause,
        cn: &str,
        key: &str,
        config: Option<&ConfigChange>,
    ) {
        let reload = self.keys().and_then(|k| k.config.tiup).map(|t| {
            format!(
                " (TiUP: {} via `tiup cluster edit-config <cluster>`, then `tiup cluster reload <cluster> -R {t}`)",
                config.and_then(|c| c.tiup.clone()).unwrap_or_default()
            )
        });
        f.fix.push(format!(
            "add {} to {key} in {} on {}{}",
            code(cn),
            config.map_or_else(|| "the server's config".into(), |c| c.file.clone()),
            self.title(),
            reload.unwrap_or_default()
        ));
        if cause == Cause::PdCnNotAllowed {
            f.fix.push("keep PD's own CN on the list; PD v8.4+ enforces the list on the client port 2379 only with more than one entry, and before v8.4 PD takes a single CN".into());
        }
        // Never "call with an identity whose CN is listed": that is one component borrowing
        // another's certificate, and its list entry would stop meaning anything.
    }

    /// The component's own words for a CN rejection, with the names filled in (empty when
    /// the component or its answer is not known).
    fn cn_log_texts(&self, cause: Cause, cn: &str) -> Vec<LogText> {
        let ev = &self.base.evidence;
        let mut texts = Vec::new();
        match (cause, self.comp()) {
            (Cause::CnNotAllowed, Some(Component::Tikv)) if ev.grpc_status.is_some() => {
                let msg = ev.grpc_message.clone().unwrap_or_else(|| {
                    format!("Common name check fail, reason: x509_common_name from peer is {cn}, cert_allowed_cn: {{...}}")
                });
                texts.push(LogText::new(
                    "TiKV's answer, as a Go gRPC caller (TiDB, PD, TiCDC) logs it",
                    format!("rpc error: code = Unauthenticated desc = {msg}"),
                ));
            }
            (Cause::CnNotAllowed, _) if ev.http_status == Some(403) => {
                texts.push(LogText::new(
                    format!("{} status port (HTTP 403)", self.title()),
                    ev.http_body
                        .clone()
                        .unwrap_or_else(|| "certificate role error".into()),
                ));
            }
            (Cause::CnNotAllowed, Some(Component::Tiflash)) if ev.grpc_status.is_some() => {
                texts.push(LogText::new(
                    "TiFlash's answer, as a Go gRPC caller logs it",
                    format!(
                        "rpc error: code = PermissionDenied desc = {}",
                        ev.grpc_message
                            .clone()
                            .unwrap_or_else(|| "common name check is failed".into())
                    ),
                ));
            }
            (Cause::TidbVerifyCn, _) => {
                let declared = &self.inputs.target.declared_allowed_cn;
                let list = if declared.is_empty() {
                    "<cluster-verify-cn>".to_string()
                } else {
                    format!("[{}]", declared.join(" "))
                };
                texts.push(LogText::new(
                    "TiDB log (recent versions; older ones omit the CN list)",
                    format!("client certificate authentication failed. The Common Name from the client certificate [{cn}] was not found in the configuration cluster-verify-cn with value: {list}"),
                ));
            }
            _ => {}
        }
        texts
    }

    /// A SQL port offering TLS: does it still accept plaintext? (A note: the TLS link works.)
    fn sql_plaintext(&mut self) {
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

    /// gRPC needs h2: a server that negotiates no ALPN breaks real gRPC callers even when this
    /// probe (which speaks HTTP/2 by prior knowledge) got through.
    fn alpn_checks(&mut self) {
        if self.base.target.protocol != Protocol::Grpc.as_str() {
            return;
        }
        let Some(tls) = &self.base.tls else { return };
        if tls.alpn.as_deref() == Some("h2") {
            return;
        }
        let offered_h2 = self.base.target.alpn_offered.iter().any(|p| p == "h2");
        if !offered_h2 {
            return;
        }
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

    /// The audit expects a refusal and the server admitted the caller: its list is not enforced.
    fn not_enforced(&mut self) {
        let reason = self
            .inputs
            .expected
            .as_ref()
            .map_or(String::new(), |e| e.reason.clone());
        let mut f = new_finding(
            Cause::ListNotEnforced,
            Side::Server,
            format!(
                "{} admitted {} although {reason}: the server does not enforce its list",
                self.server(),
                self.who()
            ),
        );
        if let Some(answer) = Self::server_answer(self.base) {
            f.evidence.push(answer);
        }
        if let Some(c) = self.list_config() {
            let declared = &self.inputs.target.declared_allowed_cn;
            f.fix.push(format!(
                "set {} = [{}] in {} as the inventory declares{}, then restart it (the list is read at start)",
                c.key,
                declared.join(", "),
                c.file,
                c.tiup
                    .as_ref()
                    .map(|t| format!(" (TiUP: {t})"))
                    .unwrap_or_default()
            ));
            f.config = Some(c);
        } else {
            f.fix.push(
                "set the allow-list on the server as the inventory declares, then restart it"
                    .into(),
            );
        }
        f.fix.push(
            "if the server runs a version that checks no CN on this port, upgrade it or restrict the port by network"
                .into(),
        );
        self.push(f);
    }

    fn observations(&mut self) {
        self.sql_plaintext();
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
    use super::fixture::{causes, leaf, untrusted, Case};
    use crate::probe::{OutcomeClass as O, Phase, Protocol, UntrustedReason};
    use crate::profile::Component;

    #[test]
    fn an_outcome_no_rule_names_is_unexplained() {
        let v = Case::new(
            Some(Component::Tikv),
            Protocol::Grpc,
            Some("tidb"),
            O::Error,
            Phase::Connect,
        )
        .verdict();
        assert_eq!(causes(&v), ["unexplained"]);
        assert!(!v.works);
        assert_eq!(
            v.headline,
            "TiKV at 127.0.0.1:20160 fails for tidb: unexplained"
        );
    }

    #[test]
    fn the_notes_say_what_was_not_checked() {
        let mut c = Case::new(
            Some(Component::Tikv),
            Protocol::Grpc,
            None,
            O::Accepted,
            Phase::Check,
        );
        c.inputs.target.component_guessed = true;
        let v = c.verdict();
        assert!(v.works);
        assert_eq!(v.notes.len(), 2, "{:?}", v.notes);
        assert!(v.notes[0].starts_with("not checked: whether this caller should be admitted"));
        assert!(v.notes[1].contains("TiKV was assumed from the port number"));
        assert_eq!(
            v.headline,
            "the link works: TiKV at 127.0.0.1:20160 admits a caller without a certificate"
        );
    }

    #[test]
    fn a_cause_is_named_once_per_side() {
        // The chain from another CA, and our (valid) certificate refused: both rules name the
        // server's CA.
        let mut c = Case::new(
            Some(Component::Pd),
            Protocol::Tls,
            Some("tidb"),
            O::ServerUntrusted,
            Phase::Handshake,
        );
        untrusted(&mut c.base, UntrustedReason::UnknownIssuer, leaf("pd", &[]));
        c.base.outcome.authorization = Some(O::CertRejected);
        assert_eq!(causes(&c.verdict()), ["unknown_ca"]);
    }
}
