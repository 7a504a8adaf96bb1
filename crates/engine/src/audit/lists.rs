//! The findings of each cell against its intent (docs/judgment.md): a caller admitted that must
//! be refused, refused that must be admitted, and per endpoint what its allow-list is: stated
//! and not enforced by design, not stated while the server enforces one (learned, never
//! blamed), or not stated while an outsider got in. No fix here ever proposes admitting an
//! outsider: the CNs a fix adds are those of the callers the cluster needs.

use std::collections::BTreeSet;

use super::expect::{Expected, Intent, Need, Verdict};
use super::identity::{AuditIdentity, IdentityKind};
use super::matrix::{EndpointId, IdentityId};
use super::plan::Plan;
use crate::finding::{Code, Finding, Severity};
use crate::inventory::Endpoint;
use crate::probe::{OutcomeClass, ProbeRecord};
use crate::profile::Component;

/// A probed endpoint's records: identity, record and verdict of every cell that has both.
pub(super) type Records<'a> = [(IdentityId, &'a ProbeRecord, Verdict)];

/// Where a finding's cell is, with what the audit knows of it.
struct CellCtx<'a> {
    plan: &'a Plan,
    ep: &'a Endpoint,
    id: &'a AuditIdentity,
    exp: &'a Expected,
    rec: &'a ProbeRecord,
}

impl CellCtx<'_> {
    fn cn(&self) -> &str {
        self.id.caller.identity.cn().unwrap_or("(none)")
    }

    /// The probe's answer, for a finding's evidence.
    fn answer(&self) -> String {
        format!(
            "{} ({}): {}: {}",
            self.ep.name, self.ep.address, self.rec.outcome.class, self.rec.outcome.summary
        )
    }

    /// From a topology: `tiup cluster reload <name> -N <node>` for the instance serving the
    /// endpoint.
    fn reload(&self) -> Option<String> {
        let inv = &self.plan.inventory;
        let name = super::drift::tiup_cluster(inv)?;
        let node = super::drift::tiup_node(&inv.endpoints, self.ep)
            .unwrap_or_else(|| self.ep.address.clone());
        Some(crate::tiup::reload_command(Some(name), &node))
    }

    /// From a topology: the cluster's name, where the endpoint's list is set, and the reload.
    fn tiup(&self) -> Option<(&str, &str, String)> {
        let name = super::drift::tiup_cluster(&self.plan.inventory)?;
        let at = self.ep.list_at.as_deref()?;
        Some((name, at, self.reload()?))
    }

    fn finding(&self, code: Code, severity: Severity, title: String, fix: String) -> Finding {
        Finding::new(code, severity, title, self.answer(), fix)
            .endpoint(self.ep.name.clone())
            .identity(self.id.name.clone())
    }
}

/// The list key and file an endpoint's advice names: the component's, or the inventory's
/// `allowed_cn` for an endpoint that is no TiDB component.
fn list_words(ep: &Endpoint) -> (String, String) {
    if ep.component.is_tidb() || ep.component == Component::Etcd {
        (
            ep.profile.list.to_string(),
            ep.profile.config.file.to_string(),
        )
    } else {
        (
            "its CN allow-list".to_string(),
            "the server's TLS configuration".to_string(),
        )
    }
}

/// The cells' findings of one endpoint, and its list's.
pub(super) fn findings(
    plan: &Plan,
    e: EndpointId,
    ep: &Endpoint,
    records: &Records<'_>,
    out: &mut Vec<Finding>,
) {
    for (i, rec, verdict) in records {
        let ctx = CellCtx {
            plan,
            ep,
            id: &plan.identities[i.0],
            exp: &plan.expected[(*i, e)],
            rec,
        };
        match verdict {
            Verdict::Open if !ctx.exp.admitted_unstated() || ctx.exp.faulty => {
                out.push(open_finding(&ctx));
            }
            Verdict::Blocked => out.push(blocked_finding(&ctx)),
            _ => {}
        }
    }
    list_findings(plan, e, ep, records, out);
}

/// A caller admitted although the stated configuration refuses it: a hole.
fn open_finding(c: &CellCtx<'_>) -> Finding {
    let (key, file) = list_words(c.ep);
    let cn = c.cn();
    let kind = if c.id.from_other_ca() {
        IdentityKind::Foreign
    } else {
        c.id.kind
    };
    let (code, what, fix) = match kind {
        IdentityKind::Anonymous => (
            Code::AnonymousAccepted,
            "accepts a caller without a client certificate".to_string(),
            format!("require client certificates: set the CA path in {file} and restart"),
        ),
        IdentityKind::Foreign => (
            Code::ForeignCaAccepted,
            format!("accepts a certificate (CN {cn}) from a CA other than the cluster CA"),
            format!("make {file} point its CA path at the cluster CA only, and restart"),
        ),
        _ if c.exp.faulty => (
            Code::BadCertAccepted,
            format!(
                "accepts the certificate of {}, which {}",
                c.id.name,
                c.id.caller.check.problem.as_deref().unwrap_or("is faulty")
            ),
            "the server does not verify client certificates properly; check its TLS settings"
                .to_string(),
        ),
        _ => (
            Code::CnNotEnforced,
            format!("accepts CN {cn} although {key} does not list it"),
            match c.tiup() {
                Some((_, at, reload)) => format!(
                    "the topology sets {key} = [{}] ({at}) and the running {} has not applied it: {reload}",
                    c.ep.allowed_cn.join(", "),
                    c.ep.component.title(),
                ),
                None => format!(
                    "the running {} does not enforce {key} = [{}]: set it in {file} on {} and restart (it reads the list at start)",
                    c.ep.component.title(),
                    c.ep.allowed_cn.join(", "),
                    c.ep.host()
                ),
            },
        ),
    };
    c.finding(
        code,
        Severity::Critical,
        format!("{} {what}", c.ep.name),
        fix,
    )
}

/// The severity of refusing a caller the cluster needs: an outage for the cluster's own links,
/// a warning for TiDB Dashboard's and the tools'.
fn need_severity(need: Option<Need>) -> Severity {
    if need.is_none_or(Need::is_outage) {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

/// What breaks when a needed caller is refused, in words.
fn what_breaks(c: &CellCtx<'_>) -> String {
    let who =
        c.id.component
            .map_or_else(|| c.id.name.clone(), |x| x.title().to_string());
    match c.exp.need {
        Some(Need::Dashboard) => format!(
            "TiDB Dashboard (inside PD, with PD's certificate) needs it: {}",
            crate::profile::dashboard_features(c.ep.role)
        ),
        Some(Need::Tool) => {
            "TiUP and the ctl tools call it with this certificate (`tiup cluster display` shows it Down)"
                .to_string()
        }
        Some(Need::Declared) => format!("the {} says {} needs it", c.plan.inventory.origin.noun(), c.id.name),
        _ => format!("{who} needs it"),
    }
}

/// A caller refused although it must be admitted: an outage (of a page or a tool for the
/// weaker needs).
fn blocked_finding(c: &CellCtx<'_>) -> Finding {
    let (key, file) = list_words(c.ep);
    let cn = c.cn().to_string();
    let severity = need_severity(c.exp.need);
    let breaks = what_breaks(c);
    if !c.exp.allow {
        let fix = match c.tiup() {
            Some((name, at, reload)) => format!(
                "add \"{cn}\" to {key} in {at} (`tiup cluster edit-config {}`), then {reload}",
                crate::tiup::shell_quote(name),
            ),
            None => format!(
                "add \"{cn}\" to {key} in {file} on {}, then restart {}",
                c.ep.host(),
                c.ep.component.title()
            ),
        };
        return c.finding(
            Code::CallerNotListed,
            severity,
            format!("{} {key} lacks {cn}: {breaks}", c.ep.name),
            fix,
        );
    }
    let origin = c.plan.inventory.origin.noun();
    let (title, fix) = match c.rec.outcome.class {
        OutcomeClass::CnRejected if c.ep.policy().list_enforced => (
            format!(
                "{} refuses {} (CN {cn}) although {origin} lists it",
                c.ep.name, c.id.name
            ),
            drift_fix(c, &key, &file),
        ),
        OutcomeClass::CnRejected => (
            format!(
                "{} enforces a list {origin} does not state, without {cn}: {breaks}",
                c.ep.name
            ),
            format!(
                "add \"{cn}\" to {key} in {file} on {}, and state the list in {origin}",
                c.ep.host()
            ),
        ),
        OutcomeClass::CertRequired => (
            format!(
                "{} asks {} for a certificate it does not have",
                c.ep.name, c.id.name
            ),
            "give this caller its client certificate".to_string(),
        ),
        _ => (
            format!(
                "{} refuses the certificate of {}: {breaks}",
                c.ep.name, c.id.name
            ),
            "every component must trust the same ca.crt and present a certificate it issued"
                .to_string(),
        ),
    };
    c.finding(Code::CallerBlocked, severity, title, fix)
}

/// The fix when the stated list admits a caller the running server refuses: the file is
/// right, the server has not applied it.
fn drift_fix(c: &CellCtx<'_>, key: &str, file: &str) -> String {
    match c.reload() {
        Some(reload) => format!(
            "the topology is right and the running {} has not applied it: {reload}",
            c.ep.component.title(),
        ),
        None => format!(
            "the running {} refuses a CN the inventory lists in {key}: apply {file} on {} (restart it), or correct the inventory if the server is right",
            c.ep.component.title(),
            c.ep.host()
        ),
    }
}

/// The callers of an endpoint, split by what happened to them.
#[derive(Default)]
struct Split {
    /// CNs admitted with their certificate.
    admitted: BTreeSet<String>,
    /// Names refused by a CN or certificate check while no list is stated.
    refused_unstated: Vec<String>,
    /// Outsiders admitted where no list is stated.
    outsiders_in: Vec<String>,
}

fn split(plan: &Plan, e: EndpointId, records: &Records<'_>) -> Split {
    let mut s = Split::default();
    for (i, rec, verdict) in records {
        let id = &plan.identities[i.0];
        let exp = &plan.expected[(*i, e)];
        let sent = rec.tls.as_ref().is_some_and(|t| t.client_cert_sent);
        match verdict {
            Verdict::Secure if sent => {
                s.admitted
                    .extend(id.caller.identity.cn().map(str::to_string));
            }
            Verdict::Enforced if exp.intent() != Intent::MustRefuse || exp.allow => {
                if matches!(
                    rec.outcome.class,
                    OutcomeClass::CnRejected | OutcomeClass::CertRejected
                ) {
                    s.refused_unstated.push(id.name.clone());
                }
            }
            Verdict::Open if exp.admitted_unstated() && !exp.faulty => {
                s.outsiders_in.push(id.name.clone());
            }
            _ => {}
        }
    }
    s
}

/// The endpoint's allow-list as stated against what was observed: stated where it has no
/// effect, not stated while the server enforces one, or not stated while outsiders got in.
fn list_findings(
    plan: &Plan,
    e: EndpointId,
    ep: &Endpoint,
    records: &Records<'_>,
    out: &mut Vec<Finding>,
) {
    // The SQL ports have no CN list (a MySQL account's REQUIRE decides).
    if !ep.profile.has_cn_list() || ep.protocol == crate::probe::Protocol::Mysql {
        return;
    }
    let policy = ep.policy();
    if let Some(why) = &policy.not_enforced_because {
        not_enforced_by_design(ep, why, out);
        return;
    }
    if policy.list_enforced {
        return;
    }
    let s = split(plan, e, records);
    if !s.refused_unstated.is_empty() {
        out.push(list_unstated(plan, ep, &s));
    } else if !s.outsiders_in.is_empty() || policy.requires_cert {
        out.push(no_allow_list(plan, e, ep, &s));
    }
}

/// A list stated where it has no effect.
fn not_enforced_by_design(ep: &Endpoint, why: &str, out: &mut Vec<Finding>) {
    let file = ep.profile.config.file;
    let key = ep.profile.list;
    if ep
        .profile
        .exempt_paths
        .iter()
        .any(|p| Some(*p) == ep.path.as_deref())
    {
        return;
    }
    out.push(
        Finding::new(
            Code::ListNotEnforcedByDesign,
            Severity::Warning,
            format!(
                "{} lists {} in {key}, but the list has no effect there",
                ep.name,
                ep.allowed_cn.join(", ")
            ),
            why.to_string(),
            if ep.component == Component::Pd {
                format!("add a second CN (for example the CNs of every component that calls PD) to {key} in {file}, on PD v8.4 or later")
            } else {
                format!("probe a path the list covers; {key} in {file} is in force elsewhere")
            },
        )
        .endpoint(ep.name.clone()),
    );
}

fn quoted(cns: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    cns.into_iter()
        .map(|c| format!("\"{}\"", c.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The server enforces a list the input does not state: learned from who got in, never blamed.
fn list_unstated(plan: &Plan, ep: &Endpoint, s: &Split) -> Finding {
    let origin = plan.inventory.origin.noun();
    let (key, _) = list_words(ep);
    let admitted = if s.admitted.is_empty() {
        "nobody".to_string()
    } else {
        s.admitted.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    let fix = match plan.inventory.origin {
        crate::inventory::Origin::Inventory => format!(
            "state it in the inventory: allowed_cn = [{}] on endpoint {} (the CNs it admitted), so that every caller is judged against it",
            quoted(&s.admitted),
            ep.name
        ),
        crate::inventory::Origin::Topology => format!(
            "the config on {} sets {key} and the topology does not: state the list in the topology ({key} = [{}], the CNs it admitted) so that a reload keeps it",
            ep.host(),
            quoted(&s.admitted)
        ),
    };
    Finding::new(
        Code::ListUnstated,
        Severity::Warning,
        format!("{} enforces an allow-list {origin} does not state", ep.name),
        format!(
            "{} ({}): admitted CN {admitted}; refused {}",
            ep.name,
            ep.address,
            s.refused_unstated.join(", ")
        ),
        fix,
    )
    .endpoint(ep.name.clone())
}

/// No list is stated: outsiders get in (a warning on TiDB's components, whose guide sets the
/// list so that "other visitors are blocked"; info elsewhere), or nothing says whether they do.
fn no_allow_list(plan: &Plan, e: EndpointId, ep: &Endpoint, s: &Split) -> Finding {
    let (key, file) = list_words(ep);
    let needed: BTreeSet<&str> = plan
        .identities
        .iter()
        .enumerate()
        .filter(|(i, _)| plan.expected[(IdentityId(*i), e)].needed)
        .filter_map(|(_, id)| id.caller.identity.cn())
        .collect();
    let severity = if s.outsiders_in.is_empty() || !ep.component.is_tidb() {
        Severity::Info
    } else {
        Severity::Warning
    };
    let title = if s.outsiders_in.is_empty() {
        format!(
            "{} admits every certificate the CA issued: {key} is not set",
            ep.name
        )
    } else {
        format!(
            "{} admits outsiders ({}): {key} is not set",
            ep.name,
            s.outsiders_in.join(", ")
        )
    };
    let fix = if needed.is_empty() {
        format!("set {key} in {file} to the CNs of the callers that need it")
    } else {
        format!(
            "set {key} = [{}] in {file} to admit only the callers that need it",
            quoted(&needed)
        )
    };
    Finding::new(
        Code::NoAllowList,
        severity,
        title,
        format!(
            "{} ({}): no CN allow-list is configured",
            ep.name, ep.address
        ),
        fix,
    )
    .endpoint(ep.name.clone())
}

#[cfg(test)]
mod tests {
    //! The rule no fix may break: whatever the servers answer, no finding proposes admitting
    //! an outsider. Every outcome class, at every kind of endpoint, for every kind of caller,
    //! in patterns that mix them (so that lists are learned, blamed, or found missing).

    use std::sync::Arc;

    use super::super::cell::CellState;
    use super::super::expect;
    use super::super::identity::{AuditIdentity, IdentityKind};
    use super::super::matrix::Matrix;
    use super::super::plan::{Plan, Snapshot};
    use crate::inventory::Inventory;
    use crate::pki::mint::Ca;
    use crate::pki::{ChainCache, Trust};
    use crate::probe::{Caller, OutcomeClass, ProbeRecord, ProbeSpec, Protocol, TlsParams};

    const INVENTORY: &str = r#"
[cluster]
name = "t"
ca = "ca.crt"
[identities.tidb]
cert = "a"
key = "b"
[identities.intruder]
cert = "a"
key = "b"
expect = "refuse"
[[endpoints]]
name = "kv-listed"
component = "tikv"
address = "127.0.0.1:1"
allowed_cn = ["tidb"]
[[endpoints]]
name = "kv-lacks"
component = "tikv"
address = "127.0.0.1:7"
allowed_cn = ["tikv"]
[[endpoints]]
name = "kv-open"
component = "tikv"
address = "127.0.0.1:2"
[[endpoints]]
name = "db-status"
component = "tidb"
address = "127.0.0.1:3"
[[endpoints]]
name = "pd-one"
component = "pd"
address = "127.0.0.1:4"
allowed_cn = ["tidb"]
version = "v8.5.0"
[[endpoints]]
name = "etcd-peer"
component = "etcd"
role = "peer"
address = "127.0.0.1:5"
[[endpoints]]
name = "web"
component = "generic"
address = "127.0.0.1:6"
client_auth = "required"
"#;

    /// The CNs no fix may name: the declared intruder's and the unlisted identity's.
    const OUTSIDERS: [&str; 2] = ["Intruder", "tlsaudit-unlisted"];

    fn plan() -> Plan {
        let inventory = Inventory::parse(INVENTORY, std::path::Path::new("t.toml")).unwrap();
        let ca = Ca::generate("test CA", 1).unwrap();
        let der = {
            use rustls_pki_types::pem::PemObject;
            rustls_pki_types::CertificateDer::from_pem_slice(ca.pem.as_bytes()).unwrap()
        };
        let trust = Trust::from_der(vec![der]).unwrap();
        let id = |name: &str, cn: &str, kind, outsider| {
            let mut a = AuditIdentity::configured(
                &inventory.identities[0],
                Caller::new(ca.identity(name, cn, &[], true, 1).unwrap(), &trust),
            );
            a.name = name.to_string();
            a.kind = kind;
            a.outsider = outsider;
            a.component = (!outsider && kind == IdentityKind::Configured)
                .then_some(crate::profile::Component::Tidb);
            a
        };
        let identities = vec![
            id("tidb", "tidb", IdentityKind::Configured, false),
            id("intruder", "Intruder", IdentityKind::Configured, true),
            id(
                "unlisted",
                "tlsaudit-unlisted",
                IdentityKind::Unlisted,
                false,
            ),
        ];
        let expected = Matrix::from_fn(identities.len(), inventory.endpoints.len(), |i, e| {
            expect::expect(&inventory.endpoints[e.0], &identities[i.0], &trust)
        });
        let specs = inventory
            .endpoints
            .iter()
            .map(|e| ProbeSpec::new(e.address.clone(), Protocol::Tls))
            .collect();
        Plan {
            inventory,
            trust,
            identities,
            expected,
            static_findings: Vec::new(),
            not_checked: Vec::new(),
            specs,
            chains: std::sync::Arc::new(ChainCache::new()),
        }
    }

    /// A real record (a refused loopback port), its outcome set to `class`, a certificate
    /// sent.
    async fn record(plan: &Plan, class: OutcomeClass) -> ProbeRecord {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let spec = ProbeSpec::new(format!("127.0.0.1:{port}"), Protocol::Tls);
        let mut rec = crate::probe::probe(&spec, &plan.identities[0].caller, &plan.trust).await;
        rec.outcome.class = class;
        rec.tls = Some(TlsParams {
            version: "TLSv1.3".into(),
            cipher_suite: "TLS13_AES_256_GCM_SHA384".into(),
            alpn: Some("h2".into()),
            key_exchange: None,
            client_cert_requested: true,
            client_cert_sent: true,
            ca_hints: Vec::new().into(),
        });
        rec
    }

    #[tokio::test]
    async fn no_fix_ever_names_an_outsider() {
        use OutcomeClass as O;
        let plan = plan();
        let classes = [
            O::Accepted,
            O::CnRejected,
            O::CertRejected,
            O::CertRequired,
            O::Plaintext,
            O::Reset,
        ];
        let mut records = Vec::new();
        for c in classes {
            records.push(Arc::new(record(&plan, c).await));
        }
        let (n_id, n_ep) = (plan.identities.len(), plan.inventory.endpoints.len());
        let mut codes = std::collections::BTreeSet::new();
        // Every class everywhere, then mixes of classes across cells.
        for pattern in 0..classes.len() * 4 {
            let cells = Matrix::from_fn(n_id, n_ep, |i, e| {
                let k = if pattern < classes.len() {
                    pattern
                } else {
                    (pattern + i.0 * 5 + e.0 * 3) % classes.len()
                };
                let rec = records[k].clone();
                CellState {
                    verdict: Some(expect::verdict(&plan.expected[(i, e)], &rec)),
                    record: Some(rec),
                    changed: false,
                    rotated: false,
                }
            });
            let snap = Snapshot {
                cluster: "t".into(),
                round: 1,
                running: false,
                total: n_id * n_ep,
                done: n_id * n_ep,
                started_at: None,
                finished_at: None,
                identity_names: plan.identities.iter().map(|i| i.name.clone()).collect(),
                endpoint_names: plan
                    .inventory
                    .endpoints
                    .iter()
                    .map(|e| e.name.clone())
                    .collect(),
                cells,
                findings: Vec::new(),
                drift: Vec::new(),
                scans: Vec::new(),
            };
            for f in super::super::findings::compute(&plan, &snap) {
                codes.insert(f.code.as_str());
                for cn in OUTSIDERS {
                    assert!(
                        !f.fix.contains(cn),
                        "pattern {pattern}: {} proposes {cn}: {}",
                        f.code,
                        f.fix
                    );
                }
            }
        }
        // The patterns reach the codes that judge lists and callers.
        for code in [
            "CN_NOT_ENFORCED",
            "CALLER_NOT_LISTED",
            "CALLER_BLOCKED",
            "LIST_UNSTATED",
            "NO_ALLOW_LIST",
            "LIST_NOT_ENFORCED_BY_DESIGN",
            "PLAINTEXT_ENDPOINT",
            "PARTIAL_TLS",
            "PROTOCOL_ERROR",
        ] {
            assert!(codes.contains(code), "{code} never raised: {codes:?}");
        }
    }
}
