//! `tlsaudit fix`: findings of an audit or a lint turned into a patch of the TiUP topology
//! (the `server_configs` lists `tiup cluster edit-config` edits) and the commands that apply it
//! while the cluster stays up.
//!
//! What it changes: a needed caller missing from a list (`CALLER_NOT_LISTED`, and
//! `LIST_LACKS_NEEDED_CN` from the lint), PD's own CN
//! (`PD_OWN_CN_NOT_LISTED`) and TiUP's client CN (`TIUP_CLIENT_NOT_LISTED`) are added to the
//! list they are missing from; a list that is configured but not enforced (`CN_NOT_ENFORCED`)
//! (or one that asks no certificate although its list is set: `ANONYMOUS_ACCEPTED`,
//! `FOREIGN_CA_ACCEPTED`) needs the
//! instance reloaded. Every other finding is listed as not fixed here, with its fix.

use super::allow::{cn_of, kinds_of};
use crate::profile::{self, Component, ConfigKey};
use crate::tiup::{Cluster, ConfigKind, Instance};

/// A finding as `fix` reads it (from a JSON report or a lint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub code: String,
    pub endpoint: Option<String>,
    /// The CN of the identity the finding is about.
    pub cn: Option<String>,
    pub title: String,
    pub fix: String,
}

/// One allow-list to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListChange {
    pub kind: ConfigKind,
    pub key: ConfigKey,
    /// Where the list is set now (`file:line:col: key`), if it is.
    pub source: Option<String>,
    pub before: Vec<String>,
    pub after: Vec<String>,
    /// The instances the list governs.
    pub instances: Vec<String>,
}

/// What `fix` will do.
#[derive(Debug, Clone, Default)]
pub struct FixPlan {
    pub lists: Vec<ListChange>,
    /// Instances to reload (node IDs `host:port`) so that they apply their config.
    pub reloads: Vec<String>,
    pub fixed: Vec<Issue>,
    pub not_fixed: Vec<Issue>,
}

/// The instance and its endpoint role behind an endpoint name.
fn locate<'a>(cluster: &'a Cluster, endpoint: &str) -> Option<(&'a Instance, usize)> {
    cluster.instances.iter().find_map(|i| {
        i.endpoints
            .iter()
            .position(|e| i.endpoint_name(e.role).as_deref() == Some(endpoint))
            .map(|n| (i, n))
    })
}

/// TiUP's node ID of an instance: `host:main port` (the last part of its name).
pub fn node_id(instance: &Instance) -> String {
    let port = instance.name.rsplit('-').next().unwrap_or_default();
    port.parse::<u16>().map_or_else(
        |_| instance.host.clone(),
        |p| crate::tiup::join_host_port(&instance.host, p),
    )
}

/// An endpoint that takes callers without a certificate although its config sets the list
/// that makes it ask for one (TiKV status, TiDB status, TiCDC): the server has not applied it.
fn unapplied_list(issue: &Issue, ep: &crate::tiup::InstanceEndpoint) -> bool {
    matches!(
        issue.code.as_str(),
        "ANONYMOUS_ACCEPTED" | "FOREIGN_CA_ACCEPTED"
    ) && ep.role.profile().cert_policy == crate::profile::CertPolicy::WithList
        && ep.list.as_ref().is_some_and(|l| !l.value.is_empty())
}

/// The CN to add for a list finding, if it is one.
fn cn_to_add(cluster: &Cluster, issue: &Issue) -> Option<String> {
    match issue.code.as_str() {
        "CALLER_NOT_LISTED" | "LIST_LACKS_NEEDED_CN" => issue.cn.clone(),
        "PD_OWN_CN_NOT_LISTED" => Some(cn_of(Component::Pd).to_string()),
        "TIUP_CLIENT_NOT_LISTED" => cluster.tiup_client_cn(),
        _ => None,
    }
}

/// Plan the fixes of `issues` on `cluster`.
pub fn plan(cluster: &Cluster, issues: &[Issue]) -> FixPlan {
    let mut plan = FixPlan::default();
    for issue in issues {
        let found = issue.endpoint.as_deref().and_then(|e| locate(cluster, e));
        let Some((inst, n)) = found else {
            plan.not_fixed.push(issue.clone());
            continue;
        };
        if issue.code == "CN_NOT_ENFORCED" || unapplied_list(issue, &inst.endpoints[n]) {
            let id = node_id(inst);
            if !plan.reloads.contains(&id) {
                plan.reloads.push(id);
            }
            plan.fixed.push(issue.clone());
            continue;
        }
        let Some(cn) = cn_to_add(cluster, issue) else {
            plan.not_fixed.push(issue.clone());
            continue;
        };
        let ep = &inst.endpoints[n];
        let profile = ep.role.profile();
        let Some(kind) = kinds_of(inst.component)
            .into_iter()
            .find(|k| k.config() == &profile.config)
        else {
            plan.not_fixed.push(issue.clone());
            continue;
        };
        let source = ep.list.as_ref().map(|l| l.source.clone());
        let before = ep
            .list
            .as_ref()
            .map(|l| l.value.clone())
            .unwrap_or_default();
        let change = match plan
            .lists
            .iter_mut()
            .position(|c| c.kind == kind && c.source == source)
        {
            Some(i) => &mut plan.lists[i],
            None => {
                plan.lists.push(ListChange {
                    kind,
                    key: profile.list,
                    source,
                    after: before.clone(),
                    before,
                    instances: Vec::new(),
                });
                let last = plan.lists.len() - 1;
                &mut plan.lists[last]
            }
        };
        if !change.after.contains(&cn) {
            change.after.push(cn);
        }
        if !change.instances.contains(&inst.name) {
            change.instances.push(inst.name.clone());
        }
        plan.fixed.push(issue.clone());
    }
    plan
}

/// The commands that apply the plan with the cluster up, in order.
pub fn commands(cluster: &str, plan: &FixPlan) -> Vec<String> {
    let mut out = Vec::new();
    if !plan.lists.is_empty() {
        out.push(format!(
            "tiup cluster edit-config {cluster}    # merge the fragment (or use --write on the topology)"
        ));
        // TiUP's names of the components whose lists change, in its reload order (a
        // tiflash-learner.toml list reloads TiFlash).
        let roles: Vec<&str> = profile::reload_order()
            .into_iter()
            .filter(|r| plan.lists.iter().any(|c| c.kind.component() == *r))
            .filter_map(Component::tiup_name)
            .collect();
        out.push(format!(
            "tiup cluster reload {cluster} -R {}    # rolling, one instance at a time; a list is read at start",
            roles.join(",")
        ));
    }
    if !plan.reloads.is_empty() {
        out.push(format!(
            "tiup cluster reload {cluster} -N {}    # the config is right; the running server has not applied it",
            plan.reloads.join(",")
        ));
    }
    out.push(
        "tlsaudit report --topology <topology> --tls-dir <tls> --format json    # then `tlsaudit diff` against the report before: the findings above are gone"
            .to_string(),
    );
    out
}
