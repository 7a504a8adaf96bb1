//! Who needs whom, before any probe: with the instances known, an allow-list that lacks the
//! Common Name of a component present in the cluster that needs the endpoint (the table of
//! [`crate::profile::needs`], the one the audit judges `blocked` by) is an outage once the list
//! is applied: raft between TiKV stores, the TiFlash learner's raft, every component's calls to
//! PD, TiDB's reads from TiFlash, and so on. A list that lacks PD's CN where TiDB Dashboard
//! (inside PD) calls is a warning naming the Dashboard pages that break
//! ([`crate::profile::dashboard_features`]): the cluster itself keeps working.

use std::collections::BTreeSet;

use crate::finding::{Code, Finding, Severity};
use crate::profile::{self, Component, Need, Role};
use crate::tiup::tlsdir::cert_cn;
use crate::tiup::{Cluster, Instance, Located};

/// Why `caller` needs `role`, in words for the evidence.
fn why(caller: Component, role: Role) -> &'static str {
    match (caller, role) {
        (Component::Tikv, Role::TikvGrpc) => "raft between TiKV stores",
        (Component::Tiflash, Role::TikvGrpc) => {
            "the TiFlash learner's raft and its reads from TiKV"
        }
        (Component::Tikv, Role::TiflashProxy) => "raft from TiKV to the TiFlash learner",
        (Component::Tiflash, Role::TiflashProxy) => "raft between TiFlash stores",
        (Component::Tidb, Role::TikvGrpc) => "TiDB reads and writes through TiKV",
        (Component::Ticdc, Role::TikvGrpc) => "TiCDC pulls change logs from TiKV",
        (Component::Tidb, Role::TiflashGrpc) => "TiDB sends queries to TiFlash replicas",
        (Component::Pd, _) => "PD calls the other PD members (etcd)",
        (_, Role::PdClient) => "every component asks PD for timestamps and region routes",
        (Component::Tidb, Role::TidbStatus) => {
            "TiDB reads the other TiDB servers' status ports (cluster tables)"
        }
        (Component::Tiproxy, _) => "TiProxy routes to TiDB and checks its health",
        _ => "the cluster needs this link",
    }
}

/// The CN a component's certificate has, and where that is known from: a certificate file of
/// one of its instances readable here, TiUP's TLS folder (`<name>.crt`), or the name TiUP gives
/// the certificates it manages.
pub(super) fn component_cn(cluster: &Cluster, c: Component) -> Option<(String, String)> {
    let instances = || cluster.instances.iter().filter(move |i| i.component == c);
    for s in instances().flat_map(|i| i.security.iter()) {
        if let Some(cert) = &s.cert {
            if let Some(cn) = cert_cn(&cert.value) {
                return Some((cn, format!("the CN of {}", cert.value.display())));
            }
        }
    }
    if let Some(r) = cluster.tls_dir.as_ref().and_then(|d| d.role(c.cert_name())) {
        if let Some(cn) = cert_cn(&r.cert) {
            return Some((cn, format!("the CN of {}", r.cert.display())));
        }
    }
    if instances().any(|i| i.security.iter().any(|s| s.tiup_managed)) {
        let cn = c.cert_name();
        return Some((
            cn.to_string(),
            format!("TiUP issues the {} certificate with CN {cn}", c.title()),
        ));
    }
    None
}

/// A list in force on one endpoint of an instance, and where it is set.
struct Listed<'a> {
    inst: &'a Instance,
    role: Role,
    list: &'a Located<Vec<String>>,
}

impl Listed<'_> {
    /// `TiKV grpc`.
    /// The endpoint by its name (as every finding is titled), with what it is.
    fn callee(&self) -> String {
        let what = format!("{} {}", self.inst.component.title(), self.role);
        match self.inst.endpoint_name(self.role) {
            Some(name) => format!("{name} ({what})"),
            None => what,
        }
    }

    /// The finding, with the endpoint, the identity that stands for the caller (its file or
    /// the minted one, so that `fix` knows which CN to add) and the list's source.
    fn finding(&self, f: Finding, caller: Component) -> Finding {
        f.endpoint(self.inst.endpoint_name(self.role))
            .identity(caller.cert_name().to_string())
            .source(self.list.source.clone())
    }
}

/// `LIST_LACKS_NEEDED_CN` (the cluster needs the caller) and `DASHBOARD_NOT_LISTED` (TiDB
/// Dashboard calls with PD's certificate): each (list, role, caller) once.
pub(super) fn check(cluster: &Cluster, out: &mut Vec<Finding>) {
    let mut present: Vec<Component> = Vec::new();
    for i in &cluster.instances {
        if !present.contains(&i.component) {
            present.push(i.component);
        }
    }
    let callers: Vec<(Component, String, String)> = present
        .iter()
        .filter_map(|&c| component_cn(cluster, c).map(|(cn, from)| (c, cn, from)))
        .collect();
    let mut done = BTreeSet::new();
    for inst in &cluster.instances {
        for ep in &inst.endpoints {
            let Some(list) = ep.list.as_ref().filter(|l| !l.value.is_empty()) else {
                continue;
            };
            let p = ep.role.profile();
            if !p.policy(&list.value, inst.version, p.path).list_enforced {
                // Not applied (PD's client port with one entry): PD_SINGLE_CN_CLIENT_PORT.
                continue;
            }
            let at = Listed {
                inst,
                role: ep.role,
                list,
            };
            for (caller, cn, from) in &callers {
                let Some(need) = profile::need(*caller, ep.role) else {
                    continue;
                };
                // PD's own CN in PD's list: PD_OWN_CN_NOT_LISTED says it.
                let own_pd = *caller == Component::Pd && inst.component == Component::Pd;
                if list.value.contains(cn) || own_pd {
                    continue;
                }
                if !done.insert((list.source.clone(), ep.role, *caller)) {
                    continue;
                }
                let found = match need {
                    Need::Cluster => lacks_needed(&at, *caller, cn, from),
                    Need::Dashboard => dashboard_not_listed(&at, cn, from),
                };
                out.push(at.finding(found, *caller));
            }
        }
    }
}

/// `LIST_LACKS_NEEDED_CN`: the cluster needs the caller; refused, the link is down.
fn lacks_needed(at: &Listed<'_>, caller: Component, cn: &str, from: &str) -> Finding {
    let key = at.role.profile().list.dotted();
    let callee = at.callee();
    Finding::new(
        Code::ListLacksNeededCn,
        Severity::Critical,
        format!(
            "{callee}'s {key} [{}] lacks {cn}, the CN of {}, which needs it",
            at.list.value.join(", "),
            caller.title()
        ),
        format!(
            "{} is in the cluster and calls {callee} ({}); {from}; the list refuses it, so the link fails once the list is applied",
            caller.title(),
            why(caller, at.role)
        ),
        format!(
            "add \"{cn}\" to {key} where it is set (see source), then restart {}",
            at.inst.component.title()
        ),
    )
}

/// `DASHBOARD_NOT_LISTED`: TiDB Dashboard (inside PD) calls with PD's certificate; refused,
/// the cluster works and the Dashboard pages that read this endpoint fail.
fn dashboard_not_listed(at: &Listed<'_>, cn: &str, from: &str) -> Finding {
    let key = at.role.profile().list.dotted();
    let callee = at.callee();
    let features = profile::dashboard_features(at.role);
    Finding::new(
        Code::DashboardNotListed,
        Severity::Warning,
        format!(
            "{callee}'s {key} [{}] lacks {cn}, the CN of PD, which TiDB Dashboard calls it with: {features} will fail",
            at.list.value.join(", "),
        ),
        format!(
            "TiDB Dashboard runs inside PD and calls {callee} with PD's certificate ({features}); {from}; the list refuses it once applied. The cluster itself keeps working"
        ),
        format!(
            "add \"{cn}\" to {key} where it is set (see source), then restart {}; leave it out only where TiDB Dashboard is not used",
            at.inst.component.title()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiup::TiupOptions;

    fn findings(lists: &str) -> Vec<Finding> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("prod.yaml");
        std::fs::write(
            &p,
            format!(
                "global:\n  enable_tls: true\nserver_configs:\n{lists}\
                 pd_servers:\n  - host: 10.0.2.1\ntikv_servers:\n  - host: 10.0.2.2\n\
                 tidb_servers:\n  - host: 10.0.2.3\n"
            ),
        )
        .unwrap();
        let cluster = Cluster::load(&TiupOptions {
            topology: Some(p),
            ..Default::default()
        })
        .unwrap();
        let mut out = Vec::new();
        check(&cluster, &mut out);
        out
    }

    #[test]
    fn a_list_without_pd_breaks_dashboard_pages_not_the_cluster() {
        let f = findings(
            "  tikv:\n    security.cert-allowed-cn: [tidb, tikv]\n\
             \x20 tidb:\n    security.cluster-verify-cn: [tidb, prod-client]\n",
        );
        let dash: Vec<&Finding> = f
            .iter()
            .filter(|x| x.code == Code::DashboardNotListed)
            .collect();
        // TiKV's gRPC and status ports, TiDB's status port.
        assert_eq!(dash.len(), 3, "{f:#?}");
        assert!(
            f.iter().all(|x| x.code != Code::ListLacksNeededCn),
            "{f:#?}"
        );
        for d in &dash {
            assert_eq!(d.severity, Severity::Warning);
            assert_eq!(d.identity.as_deref(), Some("pd"));
            assert!(d.fix.contains("add \"pd\""), "{d:#?}");
        }
        let grpc = dash
            .iter()
            .find(|d| d.endpoint.as_deref() == Some("tikv-10.0.2.2-20160"))
            .unwrap();
        assert!(grpc.title.contains("Search Logs"), "{grpc:#?}");
        assert!(grpc.evidence.contains("keeps working"), "{grpc:#?}");
        let tidb = dash
            .iter()
            .find(|d| d.endpoint.as_deref() == Some("tidb-10.0.2.3-10080"))
            .unwrap();
        assert!(tidb.title.contains("Instance Profiling"), "{tidb:#?}");
    }

    #[test]
    fn pd_listed_or_a_cluster_need_missing() {
        let f = findings("  tikv:\n    security.cert-allowed-cn: [pd, tidb, tikv]\n");
        assert!(f.is_empty(), "{f:#?}");
        // A cluster need missing stays critical, beside the Dashboard warning.
        let f = findings("  tikv:\n    security.cert-allowed-cn: [tikv]\n");
        let codes: Vec<(Code, Severity)> = f.iter().map(|x| (x.code, x.severity)).collect();
        assert!(
            codes.contains(&(Code::ListLacksNeededCn, Severity::Critical)),
            "{f:#?}"
        );
        assert!(
            codes.contains(&(Code::DashboardNotListed, Severity::Warning)),
            "{f:#?}"
        );
    }
}
