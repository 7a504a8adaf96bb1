//! Who needs whom, before any probe: with the instances known, an allow-list that lacks the
//! Common Name of a component present in the cluster that needs the endpoint (the table of
//! [`crate::profile::needs`], the one the audit judges `blocked` by) is an outage once the list
//! is applied: raft between TiKV stores, the TiFlash learner's raft, every component's calls to
//! PD, TiDB's reads from TiFlash, and so on.

use std::collections::BTreeSet;

use crate::finding::{Code, Finding, Severity};
use crate::profile::{self, Component, Role};
use crate::tiup::tlsdir::cert_cn;
use crate::tiup::Cluster;

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

/// `LIST_LACKS_NEEDED_CN`: each (list, caller) once.
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
            for (caller, cn, from) in &callers {
                if !profile::needs(*caller, ep.role) || list.value.contains(cn) {
                    continue;
                }
                // PD's own CN in PD's list: PD_OWN_CN_NOT_LISTED says it.
                if *caller == Component::Pd && inst.component == Component::Pd {
                    continue;
                }
                if !done.insert((list.source.clone(), ep.role, *caller)) {
                    continue;
                }
                let key = p.list.dotted();
                let callee = format!("{} {}", inst.component.title(), ep.role);
                let found = Finding::new(
                    Code::ListLacksNeededCn,
                    Severity::Critical,
                    format!(
                        "{callee}'s {key} [{}] lacks {cn}, the CN of {}, which needs it",
                        list.value.join(", "),
                        caller.title()
                    ),
                    format!(
                        "{} is in the cluster and calls {callee} ({}); {from}; the list refuses it, so the link fails once the list is applied",
                        caller.title(),
                        why(*caller, ep.role)
                    ),
                    format!(
                        "add \"{cn}\" to {key} where it is set (see source), then restart {}",
                        inst.component.title()
                    ),
                );
                out.push(
                    found
                        .endpoint(inst.endpoint_name(ep.role))
                        // The identity that stands for the caller (its file or the minted
                        // one), so that `fix` knows which CN to add.
                        .identity(caller.cert_name().to_string())
                        .source(list.source.clone()),
                );
            }
        }
    }
}
