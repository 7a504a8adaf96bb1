//! `tlsaudit fix`: findings of an audit or a lint turned into a patch of the layer that holds
//! each list ([`crate::tiup::list_layer`]: an instance's `config` override, `server_configs`,
//! a component TOML) and the commands that apply it while the cluster stays up. The patch is
//! one edit description ([`ListChange`]) from which both the printed `edit-config` fragment and
//! the unified diff are made ([`super::patch`]).
//!
//! What it changes: a needed caller missing from a list (`CALLER_NOT_LISTED`, and
//! `LIST_LACKS_NEEDED_CN` and `DASHBOARD_NOT_LISTED` from the lint), PD's own CN
//! (`PD_OWN_CN_NOT_LISTED`) and TiUP's client CN (`TIUP_CLIENT_NOT_LISTED`) are added to the
//! list they are missing from, in place of a misspelling of it (`CN_TYPO`: `tibd` becomes
//! `tidb`). A list that is configured but not enforced (`CN_NOT_ENFORCED`), one that asks no
//! certificate although its list is set (`ANONYMOUS_ACCEPTED`, `FOREIGN_CA_ACCEPTED`), and a
//! caller the file lists but the running server refuses (`CALLER_BLOCKED`: drift) need the
//! instance reloaded, the file unchanged. Every other finding is listed as not fixed here,
//! with its fix.

use super::allow::{cn_of, kinds_of};
use crate::lint::CnSpelling;
use crate::profile::{self, Component, ConfigKey};
use crate::tiup::{shell_quote, Cluster, ConfigKind, Instance, InstanceEndpoint, ListLayer};

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

/// One allow-list to change, in the layer that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListChange {
    pub kind: ConfigKind,
    pub key: ConfigKey,
    /// Where the list is set now; [`ListLayer::Unset`]: it goes under
    /// `server_configs.<section>` of the topology.
    pub layer: ListLayer,
    pub before: Vec<String>,
    pub after: Vec<String>,
    /// The instances the list governs.
    pub instances: Vec<String>,
}

impl ListChange {
    /// The `server_configs` section of the list's file (`tikv`, `cdc`).
    pub fn section(&self) -> &'static str {
        self.kind.config().tiup.unwrap_or(self.kind.name())
    }
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

/// TiUP's node ID of an instance: `host:main port` ([`crate::tiup::node_id`]).
pub fn node_id(instance: &Instance) -> String {
    crate::tiup::node_id(instance)
}

/// Whether the file is right and the running server has not applied it: a list not
/// enforced; an endpoint that takes callers without a certificate although its config sets
/// the list that makes it ask for one (TiKV status, TiDB status, TiCDC); a caller the file
/// lists that the server refuses (drift).
fn needs_reload(issue: &Issue, ep: &InstanceEndpoint) -> bool {
    let listed = |cn: &str| {
        ep.list
            .as_ref()
            .is_some_and(|l| l.value.iter().any(|c| c == cn))
    };
    match issue.code.as_str() {
        "CN_NOT_ENFORCED" => true,
        "ANONYMOUS_ACCEPTED" | "FOREIGN_CA_ACCEPTED" => {
            ep.role.profile().cert_policy == crate::profile::CertPolicy::WithList
                && ep.list.as_ref().is_some_and(|l| !l.value.is_empty())
        }
        "CALLER_BLOCKED" => issue.cn.as_deref().is_some_and(listed),
        _ => false,
    }
}

/// What a list finding asks of its list.
enum Edit {
    /// Add this CN (in place of a misspelling of it).
    Add(String),
    /// Write the right CN in place of each misspelled one.
    Correct,
}

/// The edit a finding asks for, if it is a list finding.
fn edit_of(cluster: &Cluster, issue: &Issue) -> Option<Edit> {
    match issue.code.as_str() {
        "CALLER_NOT_LISTED" | "LIST_LACKS_NEEDED_CN" | "DASHBOARD_NOT_LISTED" => {
            issue.cn.clone().map(Edit::Add)
        }
        "PD_OWN_CN_NOT_LISTED" => Some(Edit::Add(cn_of(Component::Pd).to_string())),
        "TIUP_CLIENT_NOT_LISTED" => cluster.tiup_client_cn().map(Edit::Add),
        "CN_TYPO" => Some(Edit::Correct),
        _ => None,
    }
}

/// Add `cn` to `list`: in place of an entry that misspells it, else at the end.
fn add(list: &mut Vec<String>, cn: String, spelling: &CnSpelling) {
    if list.contains(&cn) {
        return;
    }
    match list
        .iter()
        .position(|e| spelling.typo_of(e).is_some_and(|(t, _)| *t == cn))
    {
        Some(i) => list[i] = cn,
        None => list.push(cn),
    }
}

impl FixPlan {
    /// The change of the list that governs `ep` (in the file `kind`), made on first use.
    fn change_for(&mut self, kind: ConfigKind, ep: &InstanceEndpoint) -> &mut ListChange {
        let i = match self
            .lists
            .iter()
            .position(|c| c.kind == kind && c.layer == ep.layer)
        {
            Some(i) => i,
            None => {
                let before = ep
                    .list
                    .as_ref()
                    .map(|l| l.value.clone())
                    .unwrap_or_default();
                self.lists.push(ListChange {
                    kind,
                    key: ep.role.profile().list,
                    layer: ep.layer.clone(),
                    after: before.clone(),
                    before,
                    instances: Vec::new(),
                });
                self.lists.len() - 1
            }
        };
        &mut self.lists[i]
    }

    /// Reload the instance `inst` (once).
    fn reload(&mut self, inst: &Instance) {
        let id = node_id(inst);
        if !self.reloads.contains(&id) {
            self.reloads.push(id);
        }
    }
}

/// Plan the fixes of `issues` on `cluster`.
pub fn plan(cluster: &Cluster, issues: &[Issue]) -> FixPlan {
    let spelling = CnSpelling::of(cluster);
    let mut plan = FixPlan::default();
    for issue in issues {
        let found = issue.endpoint.as_deref().and_then(|e| locate(cluster, e));
        let Some((inst, n)) = found else {
            plan.not_fixed.push(issue.clone());
            continue;
        };
        let ep = &inst.endpoints[n];
        if needs_reload(issue, ep) {
            plan.reload(inst);
            plan.fixed.push(issue.clone());
            continue;
        }
        let profile = ep.role.profile();
        let kind = kinds_of(inst.component)
            .into_iter()
            .find(|k| k.config() == &profile.config);
        let (Some(edit), Some(kind)) = (edit_of(cluster, issue), kind) else {
            plan.not_fixed.push(issue.clone());
            continue;
        };
        let change = plan.change_for(kind, ep);
        match edit {
            Edit::Add(cn) => add(&mut change.after, cn, &spelling),
            Edit::Correct => change.after = spelling.corrected(&change.after),
        }
        if !change.instances.contains(&inst.name) {
            change.instances.push(inst.name.clone());
        }
        plan.fixed.push(issue.clone());
    }
    plan
}

/// The node IDs of the instances whose own `config` changes.
fn instance_nodes(plan: &FixPlan) -> Vec<String> {
    let mut nodes: Vec<String> = Vec::new();
    for c in &plan.lists {
        if let ListLayer::Instance { host, port, .. } = &c.layer {
            let id = crate::tiup::join_host_port(host, port.1);
            if !nodes.contains(&id) {
                nodes.push(id);
            }
        }
    }
    nodes
}

/// The commands that apply the plan with the cluster up, in order.
pub fn commands(cluster: &Cluster, plan: &FixPlan) -> Vec<String> {
    let name = shell_quote(&cluster.name);
    let mut out = Vec::new();
    if plan
        .lists
        .iter()
        .any(|c| c.layer.in_topology() || c.layer == ListLayer::Unset)
    {
        out.push(format!(
            "tiup cluster edit-config {name}    # merge the fragment (or use --write on the topology)"
        ));
    }
    // TiUP's names of the components whose shared lists change (server_configs, a component
    // file), in its reload order (a tiflash-learner.toml list reloads TiFlash).
    let roles: Vec<&str> = profile::reload_order()
        .into_iter()
        .filter(|r| {
            plan.lists
                .iter()
                .any(|c| c.kind.component() == *r && !matches!(c.layer, ListLayer::Instance { .. }))
        })
        .filter_map(Component::tiup_name)
        .collect();
    if !roles.is_empty() {
        out.push(format!(
            "tiup cluster reload {name} -R {}    # rolling, one instance at a time; a list is read at start",
            roles.join(",")
        ));
    }
    let own = instance_nodes(plan);
    if !own.is_empty() {
        out.push(format!(
            "tiup cluster reload {name} -N {}    # the instance's own config changed, not the others'",
            shell_quote(&own.join(","))
        ));
    }
    if !plan.reloads.is_empty() {
        out.push(format!(
            "{}    # the config is right; the running server has not applied it",
            crate::tiup::reload_command(Some(&cluster.name), &plan.reloads.join(","))
        ));
    }
    out.push(format!(
        "tlsaudit report --topology {} --tls-dir {} --format json    # then `tlsaudit diff` against the report before: the findings above are gone",
        cluster
            .topology
            .as_ref()
            .map_or_else(|| "<topology>".to_string(), |p| shell_quote(&p.display().to_string())),
        cluster
            .tls_dir
            .as_ref()
            .map_or_else(|| "<tls>".to_string(), |d| shell_quote(&d.dir.display().to_string())),
    ));
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const TOPO: &str = "global:\n  enable_tls: true\nserver_configs:\n  tikv:\n    security.cert-allowed-cn: [\"tidb\", \"tikv\", \"pd\"]\npd_servers:\n  - host: a\ntidb_servers:\n  - host: b\ntikv_servers:\n  - host: c\n  - host: d\n    config:\n      security.cert-allowed-cn: [\"tibd\", \"tikv\", \"pd\"]\n";

    use crate::tiup::test_cluster as cluster;

    pub(crate) fn issue(code: &str, endpoint: &str, cn: Option<&str>) -> Issue {
        Issue {
            code: code.into(),
            endpoint: Some(endpoint.into()),
            cn: cn.map(str::to_string),
            title: String::new(),
            fix: String::new(),
        }
    }

    #[test]
    fn an_instance_override_is_fixed_in_place_and_its_typo_replaced() {
        let (_d, c) = cluster(TOPO);
        let p = plan(
            &c,
            &[
                issue("LIST_LACKS_NEEDED_CN", "tikv-d-20160", Some("tidb")),
                issue("CN_TYPO", "tikv-d-20160", None),
            ],
        );
        assert_eq!(p.lists.len(), 1, "{:?}", p.lists);
        let l = &p.lists[0];
        assert!(
            matches!(&l.layer, ListLayer::Instance { section: "tikv_servers", index: 1, host, .. } if host == "d"),
            "{:?}",
            l.layer
        );
        assert_eq!(l.after, ["tidb", "tikv", "pd"]);
        assert_eq!(p.fixed.len(), 2);
        let cmds = commands(&c, &p);
        assert!(
            cmds.iter()
                .any(|c| c.starts_with("tiup cluster reload prod -N d:20160 ")),
            "{cmds:?}"
        );
        assert!(!cmds.iter().any(|c| c.contains(" -R ")), "{cmds:?}");
        assert!(
            cmds.last().unwrap().contains("prod.yaml --tls-dir <tls>"),
            "{cmds:?}"
        );
    }

    #[test]
    fn drift_is_a_reload_of_the_instance_with_the_file_unchanged() {
        let (_d, c) = cluster(TOPO);
        // The file lists pd; the running server refused it.
        let p = plan(&c, &[issue("CALLER_BLOCKED", "tikv-c-20160", Some("pd"))]);
        assert!(p.lists.is_empty());
        assert_eq!(p.reloads, ["c:20160"]);
        let cmds = commands(&c, &p);
        assert!(
            cmds[0].starts_with("tiup cluster reload prod -N c:20160    # the config is right"),
            "{cmds:?}"
        );
        // Not listed in the file: not drift, nothing this plan can do.
        let p = plan(
            &c,
            &[issue("CALLER_BLOCKED", "tikv-c-20160", Some("intruder"))],
        );
        assert!(p.reloads.is_empty() && p.not_fixed.len() == 1);
    }

    #[test]
    fn a_server_configs_list_is_fixed_there_for_every_instance_it_governs() {
        let (_d, c) = cluster(TOPO);
        let p = plan(
            &c,
            &[issue("CALLER_NOT_LISTED", "tikv-c-20160", Some("cdc"))],
        );
        assert!(
            matches!(
                p.lists[0].layer,
                ListLayer::ServerConfigs {
                    section: "tikv",
                    ..
                }
            ),
            "{:?}",
            p.lists[0].layer
        );
        assert_eq!(p.lists[0].after, ["tidb", "tikv", "pd", "cdc"]);
        let cmds = commands(&c, &p);
        assert!(
            cmds[1].starts_with("tiup cluster reload prod -R tikv "),
            "{cmds:?}"
        );
    }
}
