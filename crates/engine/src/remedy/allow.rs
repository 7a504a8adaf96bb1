//! The allow-lists a cluster needs, from the component table: for each component config file,
//! the CNs of exactly the components that call an endpoint the file's list governs
//! ([`profile::needs`]), plus TiUP's client CN where TiUP and the ctl tools connect.

use std::collections::BTreeSet;

use crate::profile::{self, Component, ConfigKey, Role, Version};
use crate::tiup::{Cluster, ConfigKind};

/// One CN of a list and why it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub cn: String,
    pub why: String,
}

/// The allow-list of one component config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    pub kind: ConfigKind,
    /// The list key (`[security] cert-allowed-cn`).
    pub key: ConfigKey,
    pub entries: Vec<Entry>,
    /// A limit the list obeys (PD before v8.4: one CN).
    pub note: Option<String>,
}

impl AllowList {
    pub fn cns(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.cn.clone()).collect()
    }
}

/// The config files of a component: `tiflash.toml` and `tiflash-learner.toml` for TiFlash.
pub fn kinds_of(component: Component) -> Vec<ConfigKind> {
    ConfigKind::FILES
        .into_iter()
        .chain([ConfigKind::Tiproxy])
        .filter(|k| k.component() == component)
        .collect()
}

/// Whether TiUP and the ctl tools (pd-ctl, tikv-ctl, tidb-ctl, cdc cli, TiUP's status checks)
/// connect to this file's endpoints with the TiUP client certificate.
fn tools_connect(kind: ConfigKind) -> bool {
    matches!(
        kind,
        ConfigKind::Pd
            | ConfigKind::Tikv
            | ConfigKind::Tidb
            | ConfigKind::Ticdc
            | ConfigKind::Tiproxy
    )
}

/// The CN a component's certificates carry (TiUP's naming: TiCDC's is `cdc`):
/// [`Component::cert_name`].
pub fn cn_of(component: Component) -> &'static str {
    component.cert_name()
}

/// The components of the cluster, in table order.
pub fn components(cluster: &Cluster) -> Vec<Component> {
    let present: BTreeSet<Component> = cluster.instances.iter().map(|i| i.component).collect();
    present.into_iter().collect()
}

/// The oldest version among a component's instances, if any is known.
fn oldest(cluster: &Cluster, component: Component) -> Option<Version> {
    cluster
        .instances
        .iter()
        .filter(|i| i.component == component)
        .filter_map(|i| i.version)
        .min()
}

/// The list of one config file: who needs any of the endpoints it governs.
pub fn list_for(cluster: &Cluster, kind: ConfigKind, client_cn: &str) -> Option<AllowList> {
    let roles = kind.roles();
    let first = roles.first()?;
    let key = first.profile().list;
    let present = components(cluster);
    let mut entries: Vec<Entry> = Vec::new();
    for caller in &present {
        let needed: Vec<Role> = roles
            .iter()
            .copied()
            .filter(|r| profile::needs(*caller, *r))
            .collect();
        if needed.is_empty() {
            continue;
        }
        let ports: Vec<String> = needed
            .iter()
            .map(|r| format!("{} {}", r.component().title(), r.as_str()))
            .collect();
        entries.push(Entry {
            cn: cn_of(*caller).to_string(),
            why: format!("{} calls {}", caller.title(), ports.join(", ")),
        });
    }
    if tools_connect(kind) {
        entries.push(Entry {
            cn: client_cn.to_string(),
            why: "TiUP and the ctl tools connect with the cluster's client certificate".into(),
        });
    }
    let mut note = None;
    if kind == ConfigKind::Pd {
        if let Some(v) =
            oldest(cluster, Component::Pd).filter(|v| *v < profile::PD_CLIENT_LIST_SINCE)
        {
            entries.retain(|e| e.cn == cn_of(Component::Pd));
            note = Some(format!(
                "PD {v} accepts one CN and applies it to the peer port only; list every caller after upgrading PD to v8.4 or later"
            ));
        }
    }
    Some(AllowList {
        kind,
        key,
        entries,
        note,
    })
}

/// Every list the cluster needs, one per config file of its components.
pub fn allow_lists(cluster: &Cluster, client_cn: &str) -> Vec<AllowList> {
    components(cluster)
        .into_iter()
        .flat_map(kinds_of)
        .filter_map(|k| list_for(cluster, k, client_cn))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiup::TiupOptions;

    fn cluster(version: Option<Version>) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("prod.yaml");
        std::fs::write(
            &p,
            "pd_servers:\n  - host: a\ntikv_servers:\n  - host: b\ntidb_servers:\n  - host: c\ntiflash_servers:\n  - host: d\ncdc_servers:\n  - host: e\n",
        )
        .unwrap();
        Cluster::load(&TiupOptions {
            topology: Some(p),
            version,
            ..Default::default()
        })
        .unwrap()
    }

    fn list(lists: &[AllowList], kind: ConfigKind) -> Vec<String> {
        lists.iter().find(|l| l.kind == kind).unwrap().cns()
    }

    #[test]
    fn lists_hold_exactly_who_needs_each_file() {
        let l = allow_lists(&cluster(None), "prod-client");
        assert_eq!(
            list(&l, ConfigKind::Pd),
            ["pd", "tikv", "tidb", "tiflash", "cdc", "prod-client"]
        );
        assert_eq!(
            list(&l, ConfigKind::Tikv),
            ["tikv", "tidb", "tiflash", "cdc", "prod-client"]
        );
        assert_eq!(list(&l, ConfigKind::Tidb), ["tidb", "prod-client"]);
        assert_eq!(list(&l, ConfigKind::Tiflash), ["tidb"]);
        assert_eq!(list(&l, ConfigKind::TiflashLearner), ["tikv", "tiflash"]);
        assert_eq!(list(&l, ConfigKind::Ticdc), ["prod-client"]);
        // Every listed component needs one of the file's roles, or is the tools' client.
        for a in &l {
            for e in a.entries.iter().filter(|e| e.cn != "prod-client") {
                let c = Component::from_identity_name(&e.cn).unwrap();
                assert!(
                    a.kind.roles().iter().any(|r| profile::needs(c, *r)),
                    "{e:?}"
                );
            }
        }
    }

    #[test]
    fn pd_before_v8_4_keeps_one_cn() {
        let l = allow_lists(&cluster(Some(Version(8, 1))), "prod-client");
        let pd = l.iter().find(|l| l.kind == ConfigKind::Pd).unwrap();
        assert_eq!(pd.cns(), ["pd"]);
        assert!(pd.note.as_deref().unwrap().contains("v8.1"), "{pd:?}");
        let l = allow_lists(&cluster(Some(Version(8, 4))), "prod-client");
        assert_eq!(list(&l, ConfigKind::Pd).len(), 6);
    }
}
