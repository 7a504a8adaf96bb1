//! The Common Name rules: the server refuses the caller's CN (TiKV and TiFlash per call, PD
//! and TiDB in the handshake, a status port with 403), or admits a caller its allow-list does
//! not name (the list is not enforced).

use crate::probe::OutcomeClass;
use crate::profile::Component;
use crate::tiup::{reload_command, shell_quote, ListLayer};

use super::super::cause::{Cause, LogText};
use super::super::{admitted, CauseFinding, ConfigChange, Side, Variant};
use super::{code, new_finding, Analysis};

impl Analysis<'_> {
    /// The server refused our CN: the component's cause, its words and the list to change.
    pub(super) fn cn_rejected(&mut self) {
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
                "{origin} says {} is on the list, but the running server refuses it: the file was edited and not applied (reload or restart), or {origin} is stale",
                code(cn),
                origin = self.inputs.origin.noun()
            ));
        }
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

    /// The fixes for a CN rejection: add the CN to the list in the layer that holds it (with
    /// TiUP's commands); when the configuration already lists it (drift), reload the instance
    /// instead, the file unchanged.
    fn cn_fixes(
        &self,
        f: &mut CauseFinding,
        cause: Cause,
        cn: &str,
        key: &str,
        config: Option<&ConfigChange>,
    ) {
        let target = &self.inputs.target;
        if target.declared_allowed_cn.iter().any(|d| d == cn) {
            f.fix.push(self.drift_fix(cn, key, config));
        } else {
            f.fix.push(format!(
                "add {} to {key} in {} on {}{}",
                code(cn),
                config.map_or_else(|| "the server's config".into(), |c| c.file.clone()),
                self.title(),
                self.tiup_edit(config).unwrap_or_default()
            ));
        }
        if cause == Cause::PdCnNotAllowed {
            f.fix.push("keep PD's own CN on the list; PD v8.4+ enforces the list on the client port 2379 only with more than one entry, and before v8.4 PD takes a single CN".into());
        }
        // Never "call with an identity whose CN is listed": that is one component borrowing
        // another's certificate, and its list entry would stop meaning anything.
    }

    /// ` (TiUP: <key> via edit-config, then reload)`: the instance alone when its own
    /// `config` holds the list, else its component; the cluster's name when the topology says
    /// it (`<cluster>` when the input is no topology).
    fn tiup_edit(&self, config: Option<&ConfigChange>) -> Option<String> {
        let section = self.keys().and_then(|k| k.config.tiup)?;
        let tiup = self.inputs.target.tiup.as_ref();
        let name = crate::tiup::cluster_arg(tiup.map(|t| t.cluster.as_str()));
        let reload = match tiup {
            Some(t) if matches!(t.layer, ListLayer::Instance { .. }) => {
                format!("-N {}", shell_quote(&t.node))
            }
            _ => format!("-R {section}"),
        };
        Some(format!(
            " (TiUP: {} via `tiup cluster edit-config {name}`, then `tiup cluster reload {name} {reload}`)",
            config.and_then(|c| c.tiup.clone()).unwrap_or_default()
        ))
    }

    /// The fix of a CN the configuration lists and the running server refuses: the file is
    /// right, the server has not applied it.
    fn drift_fix(&self, cn: &str, key: &str, config: Option<&ConfigChange>) -> String {
        let file = config.map_or_else(|| "its config".into(), |c| c.file.clone());
        match &self.inputs.target.tiup {
            Some(t) => format!(
                "{} is listed in {key} ({}): the file is right and the running {} has not applied it; reload this instance: `{}`",
                code(cn),
                t.layer.describe(),
                self.title(),
                reload_command(Some(&t.cluster), &t.node)
            ),
            None => format!(
                "the configuration lists {} in {key}: the running {} has not applied {file}; restart it there (or correct the inventory, if the file on the server does not list it)",
                code(cn),
                self.title()
            ),
        }
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
            (Cause::TidbVerifyCn, _) => texts.push(self.tidb_verify_cn_text(cn)),
            _ => {}
        }
        texts
    }

    /// What TiDB logs when `cluster-verify-cn` lacks `cn` (the list as the inventory declares it).
    fn tidb_verify_cn_text(&self, cn: &str) -> LogText {
        let declared = &self.inputs.target.declared_allowed_cn;
        let list = if declared.is_empty() {
            "<cluster-verify-cn>".to_string()
        } else {
            format!("[{}]", declared.join(" "))
        };
        LogText::new(
            "TiDB log (recent versions; older ones omit the CN list)",
            format!("client certificate authentication failed. The Common Name from the client certificate [{cn}] was not found in the configuration cluster-verify-cn with value: {list}"),
        )
    }

    /// The audit expects this refusal (an outsider, a caller a stated list leaves out, or one a
    /// list nobody stated refuses): what the rules found of it still says how the refusal
    /// looked (the server's words, the key), but it is no fault to fix, and no advice may admit
    /// the caller.
    pub(super) fn refused_as_intended(&mut self) {
        let refusal = |c: Cause| {
            matches!(
                c,
                Cause::CnNotAllowed
                    | Cause::PdCnNotAllowed
                    | Cause::TidbVerifyCn
                    | Cause::ClientCertRequired
                    | Cause::UnknownCa
                    | Cause::Expired
                    | Cause::IncompatibleEku
                    | Cause::CertVerifyFailed
            )
        };
        let Some(expected) = self.inputs.expected.as_ref() else {
            return;
        };
        let origin = self.inputs.origin.noun();
        let fix = if expected.intent() == crate::audit::Intent::Unstated {
            format!(
                "nothing to change on the server: {origin} states no list here and nothing needs this caller; state the list the server enforces in {origin} (the CNs it admits) so that every caller is judged against it"
            )
        } else {
            format!(
                "nothing to change: {} ({})",
                expected.words(),
                expected.reason
            )
        };
        for f in self.findings.iter_mut().filter(|f| refusal(f.cause)) {
            f.fix = vec![fix.clone()];
        }
    }

    /// An outsider got in where no list is stated: the list's absence, with the callers that
    /// need the endpoint as the fix (never the outsider).
    pub(super) fn outsider_admitted(&mut self) {
        let key = self
            .list_config()
            .map_or_else(|| "its CN allow-list".to_string(), |c| c.key);
        let mut f = new_finding(
            Cause::ListNotEnforced,
            Side::Server,
            format!(
                "{} admitted {}, an outsider: {} states no {key} for it, so every certificate of the CA gets in",
                self.server(),
                self.who(),
                self.inputs.origin.noun()
            ),
        );
        if let Some(answer) = Self::server_answer(self.base) {
            f.evidence.push(answer);
        }
        f.fix.push(format!(
            "set {key} to the CNs of the components that call this endpoint (docs/tidb.md, who connects to whom), then restart it; state the same list in {}",
            self.inputs.origin.noun()
        ));
        f.config = self.list_config();
        self.push(f);
    }

    /// The audit expects a refusal and the server admitted the caller: its list is not enforced.
    pub(super) fn not_enforced(&mut self) {
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
        self.enforce_fixes(&mut f);
        self.push(f);
    }

    /// Set the list the inventory declares (and restart), or upgrade or firewall a server that
    /// checks no CN on this port.
    fn enforce_fixes(&self, f: &mut CauseFinding) {
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
    }
}

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

    fn tiup(layer: crate::tiup::ListLayer) -> crate::diagnose::TiupTarget {
        crate::diagnose::TiupTarget {
            cluster: "prod".into(),
            node: "10.0.1.32:20160".into(),
            layer,
        }
    }

    #[test]
    fn the_fix_edits_the_instance_override_that_holds_the_list() {
        use crate::tiup::{ListLayer, Spot};
        let mut c = refused(Component::Tikv, Protocol::Grpc, "tidb");
        c.inputs.target.tiup = Some(tiup(ListLayer::Instance {
            at: Spot {
                file: "t.yaml".into(),
                line: 16,
                column: 7,
            },
            section: "tikv_servers",
            index: 1,
            host: "10.0.1.32".into(),
            port: ("port", 20160),
        }));
        let v = c.verdict();
        let f = &v.findings[0];
        assert_eq!(
            f.config.as_ref().and_then(|c| c.tiup.as_deref()),
            Some("tikv_servers[1].config.security.cert-allowed-cn")
        );
        assert!(
            f.fix[0].ends_with("(TiUP: tikv_servers[1].config.security.cert-allowed-cn via `tiup cluster edit-config prod`, then `tiup cluster reload prod -N 10.0.1.32:20160`)"),
            "{:?}",
            f.fix
        );
        assert!(!f.fix[0].contains("<cluster>") && !f.fix[0].contains("server_configs"));
        // Without a topology the name is not known.
        let v = refused(Component::Tikv, Protocol::Grpc, "tidb").verdict();
        assert!(
            v.findings[0].fix[0].contains("server_configs.tikv.security.cert-allowed-cn via `tiup cluster edit-config <cluster>`, then `tiup cluster reload <cluster> -R tikv`"),
            "{:?}",
            v.findings[0].fix
        );
    }

    #[test]
    fn a_listed_cn_refused_is_a_reload_of_the_instance() {
        use crate::tiup::{ListLayer, Spot};
        let mut c = refused(Component::Pd, Protocol::Tls, "pd");
        c.inputs.target.declared_allowed_cn = vec!["pd".into(), "tidb".into()];
        c.inputs.target.tiup = Some(tiup(ListLayer::ServerConfigs {
            at: Spot {
                file: "meta.yaml".into(),
                line: 9,
                column: 7,
            },
            section: "pd",
        }));
        let v = c.verdict();
        let fix = &v.findings[0].fix[0];
        assert!(
            fix.ends_with("reload this instance: `tiup cluster reload prod -N 10.0.1.32:20160`"),
            "{fix}"
        );
        assert!(!fix.starts_with("add"), "{fix}");
        // From an inventory: restart, never "add".
        let mut c = refused(Component::Pd, Protocol::Tls, "pd");
        c.inputs.target.declared_allowed_cn = vec!["pd".into()];
        let fix = c.verdict().findings[0].fix[0].clone();
        assert!(fix.starts_with("the configuration lists `pd`"), "{fix}");
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
        // How the refusal looked, but no advice to add the CN.
        let fix = v.findings[0].fix.join(" ");
        assert!(fix.starts_with("nothing to change"), "{fix}");
        assert!(!fix.contains("tlsaudit-unlisted"), "{fix}");
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
