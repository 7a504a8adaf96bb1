//! From the baseline probe and its variants to named causes: each finding says what is wrong,
//! what showed it (the differences between the variants), what to change and where, and what
//! the real components print for it.
//!
//! The rules, by family: `network` (resolution, nothing listening, silence, plaintext, SQL
//! ports), `trust` (the server's chain), `client` (our certificate and key, and what the server
//! makes of them), `cn` (the allow-lists) and `protocol` (TLS versions and ALPN). This module
//! holds what they share and `Analysis::run`, which picks the rules in order from how the
//! baseline ended.

mod client;
mod cn;
#[cfg(test)]
mod fixture;
mod network;
mod protocol;
mod trust;

use crate::audit::Verdict;
use crate::probe::{OutcomeClass, Phase, ProbeRecord};
use crate::profile::{Component, Profile};
use crate::scan::ScanResult;
use crate::tiup::ListLayer;

use super::cause::Cause;
use super::{admitted, CauseFinding, ConfigChange, Inputs, LinkVerdict, Side, Variant, VariantRun};

/// `s` as inline code.
fn code(s: &str) -> String {
    format!("`{s}`")
}

/// A finding for `cause` with its title, log texts and failure mode, and nothing observed yet.
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
    scan: Option<&'a ScanResult>,
    findings: Vec<CauseFinding>,
    notes: Vec<String>,
}

/// Decide the verdict.
pub fn verdict(
    inputs: &Inputs,
    base: &ProbeRecord,
    variants: &[VariantRun],
    scan: Option<&ScanResult>,
) -> LinkVerdict {
    let mut a = Analysis {
        inputs,
        base,
        variants,
        scan,
        findings: Vec::new(),
        notes: inputs.notes.clone(),
    };
    a.run();
    let cell = inputs
        .expected
        .as_ref()
        .map(|e| crate::audit::expect::verdict(e, base));
    a.scope_notes();
    let unstated_outsider = inputs
        .expected
        .as_ref()
        .is_some_and(crate::audit::Expected::admitted_unstated);
    match cell {
        Some(Verdict::Open) if unstated_outsider => a.outsider_admitted(),
        Some(Verdict::Open) => a.not_enforced(),
        Some(Verdict::Enforced) => a.refused_as_intended(),
        _ => {}
    }
    let works = a.findings.is_empty() && admitted(base);
    // A refusal the audit expects is no failure to explain.
    if !works && a.findings.is_empty() && cell != Some(Verdict::Enforced) {
        a.unexplained();
    }
    let headline = a.headline(cell, works);
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
    /// The rules, in order: our key, then by how the baseline ended, then ALPN and the notes.
    fn run(&mut self) {
        self.key_mismatch();
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

    /// What does not break the link: the SQL port's plaintext logins, callers admitted without
    /// a certificate, the TLS versions the server does not speak, its silence without ALPN.
    fn observations(&mut self) {
        self.sql_plaintext();
        self.anonymous_admitted();
        self.version_notes();
        self.alpn_note();
    }

    /// What the diagnosis could not check, for want of inputs.
    fn scope_notes(&mut self) {
        let inputs = self.inputs;
        if inputs.expected.is_none() {
            self.notes.push("not checked: whether this caller should be admitted here (no inventory endpoint and identity to take the allow-list and the needs from; give --config or --topology with an endpoint name and --as)".into());
        }
        if inputs.target.component_guessed {
            self.notes.push(format!(
                "not checked: what listens on this port; {} was assumed from the port number (give --component to say)",
                inputs.target.component.map_or("the component", |c| c.title())
            ));
        }
    }

    /// The baseline failed and no rule named why.
    fn unexplained(&mut self) {
        let mut f = new_finding(
            Cause::Unexplained,
            Side::Link,
            format!(
                "the probe ended {}: {}",
                self.base.outcome.class, self.base.outcome.summary
            ),
        );
        f.fix
            .push("read the evidence of the baseline and the variants (--format json)".into());
        self.findings.push(f);
    }

    /// The verdict in one sentence: the report's cell when it is known, else whether the link
    /// works and the causes found.
    fn headline(&self, cell: Option<Verdict>, works: bool) -> String {
        let server = self.inputs.target.server_label();
        let expected = self.inputs.expected.as_ref();
        let origin = self.inputs.origin.noun();
        if cell == Some(Verdict::Open)
            && expected.is_some_and(crate::audit::Expected::admitted_unstated)
        {
            format!(
                "{server} admits {}, an outsider: {origin} states no allow-list for it",
                self.who()
            )
        } else if cell == Some(Verdict::Open) {
            format!(
                "{server} admits {}, which its allow-list does not name: the list is not enforced",
                self.who()
            )
        } else if cell == Some(Verdict::Enforced)
            && expected.is_some_and(|e| e.intent() == crate::audit::Intent::Unstated)
        {
            format!(
                "{server} refuses {}: it enforces an allow-list {origin} does not state, without this caller; nothing is broken as far as {origin} says",
                self.who()
            )
        } else if cell == Some(Verdict::BadIdentity) {
            format!(
                "{server} refuses {}, because of our own certificate: {}",
                self.who(),
                self.inputs
                    .caller
                    .check
                    .problem
                    .as_deref()
                    .unwrap_or("it is faulty")
            )
        } else if cell == Some(Verdict::Enforced) {
            format!(
                "{server} refuses {}, as its configuration intends: {}",
                self.who(),
                self.inputs
                    .expected
                    .as_ref()
                    .map_or("", |e| e.reason.as_str())
            )
        } else if works {
            format!("the link works: {server} admits {}", self.who())
        } else {
            let names: Vec<&str> = self.findings.iter().map(|f| f.cause.id()).collect();
            format!("{server} fails for {}: {}", self.who(), names.join(", "))
        }
    }

    /// The caller as the headline names it: its name, with its CN when that differs.
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

    /// The TiUP cluster's name for a command: known from a topology (shell-quoted), else
    /// `<cluster>`.
    fn tiup_name(&self) -> String {
        let topology = self.inputs.origin == crate::inventory::Origin::Topology;
        crate::tiup::cluster_arg(self.inputs.cluster.as_deref().filter(|_| topology))
    }

    /// The caller's CN.
    fn cn(&self) -> Option<&str> {
        self.inputs.caller.identity.cn()
    }

    /// The variant run `id`, when it ran.
    fn variant(&self, id: &Variant) -> Option<&VariantRun> {
        self.variants.iter().find(|v| v.id == *id)
    }

    /// The target's component, when known.
    fn comp(&self) -> Option<Component> {
        self.inputs.target.component
    }

    /// The target's row of the component table, when its component is known.
    fn keys(&self) -> Option<&'static Profile> {
        self.inputs.target.profile()
    }

    /// The component's name (`TiKV`), or `the server`.
    fn title(&self) -> &'static str {
        self.comp().map_or("the server", |c| c.title())
    }

    /// The server as findings name it: `TiKV (tikv-1)`, or the address.
    fn server(&self) -> String {
        self.inputs.target.server_label()
    }

    /// The server name the baseline dialed.
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

    /// The server's CA file key, as a ConfigChange.
    fn ca_config(&self) -> Option<ConfigChange> {
        let k = self.keys()?;
        Some(ConfigChange {
            component: self.title().to_string(),
            file: k.config.file.to_string(),
            key: k.server.ca.to_string(),
            tiup: None,
        })
    }

    /// The server's CN allow-list key, as a ConfigChange, in the layer that holds it when a
    /// TiUP topology says (the instance's own `config`, `server_configs`, a component file;
    /// [`crate::tiup::list_layer`]).
    fn list_config(&self) -> Option<ConfigChange> {
        let p = self.keys()?;
        let layer = self.inputs.target.tiup.as_ref().map(|t| &t.layer);
        let file = match layer.and_then(ListLayer::at) {
            Some(at) if matches!(layer, Some(ListLayer::ComponentFile { .. })) => at.to_string(),
            _ => p.config.file.to_string(),
        };
        let tiup = p.config.tiup_key(p.list).and_then(|shared| match layer {
            Some(l) => l.tiup_key(p.config.tiup.unwrap_or_default(), &p.list.dotted()),
            None => Some(shared),
        });
        Some(ConfigChange {
            component: p.component.title().to_string(),
            file,
            key: p.list.to_string(),
            tiup,
        })
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

    /// What the server answered, as evidence.
    fn server_answer(rec: &ProbeRecord) -> Option<String> {
        super::steps::answer(rec).map(|a| format!("the server answered with {a}"))
    }

    /// Add a finding, unless one names the same cause on the same side.
    fn push(&mut self, f: CauseFinding) {
        if !self
            .findings
            .iter()
            .any(|x| x.cause == f.cause && x.side == f.side)
        {
            self.findings.push(f);
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
