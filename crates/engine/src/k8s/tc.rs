//! A `TidbCluster` (`pingcap.com/v1alpha1`, the output of `kubectl get tc NAME -o yaml`) read into
//! what the audit needs: the cluster's name, namespace and cluster domain, whether TLS between
//! components is on, and per component its replicas and the allow-lists of its
//! `spec.<component>.config` (a TOML string or a map: both occur).

use std::path::Path;

use crate::error::InputError;
use crate::profile::Component;
use crate::tiup::tree::{flatten, parse_toml, parse_yaml, Node};

/// The components a `TidbCluster` may hold, by their `spec` key, in the operator's order.
pub const SPEC_KEYS: &[(&str, Component)] = &[
    ("pd", Component::Pd),
    ("tikv", Component::Tikv),
    ("tidb", Component::Tidb),
    ("tiflash", Component::Tiflash),
    ("ticdc", Component::Ticdc),
    ("tiproxy", Component::Tiproxy),
];

/// One component of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub component: Component,
    /// The `spec` key (`ticdc`), also the component's part of pod and Secret names.
    pub key: &'static str,
    pub replicas: u32,
    /// The flattened `spec.<key>.config` settings that hold lists, by dotted key
    /// (`security.cert-allowed-cn`, TiFlash's `config.security.cert_allowed_cn`).
    pub lists: Vec<(String, Vec<String>)>,
}

impl Member {
    /// The list set under `key` (dotted), if any.
    pub fn list(&self, key: &str) -> Option<&[String]> {
        self.lists
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }
}

/// The `TidbCluster` as the audit reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TidbCluster {
    pub name: String,
    pub namespace: String,
    /// `spec.clusterDomain`, when set: pod names then end in `.svc.<domain>`.
    pub cluster_domain: Option<String>,
    /// `spec.tlsCluster.enabled`.
    pub tls_cluster: bool,
    pub version: Option<String>,
    pub members: Vec<Member>,
}

impl TidbCluster {
    /// Read a `TidbCluster` YAML file.
    pub fn load(path: &Path) -> Result<TidbCluster, InputError> {
        let text = std::fs::read_to_string(path).map_err(|e| InputError::io(path, &e))?;
        Self::parse(&text, path)
    }

    /// Parse a `TidbCluster` (a `List` of one, as `kubectl get tc -o yaml` without a name
    /// prints, is taken too).
    pub fn parse(text: &str, path: &Path) -> Result<TidbCluster, InputError> {
        let doc = parse_yaml(text, path)?;
        let doc = match doc.get("items").map(|e| &e.value.value) {
            Some(crate::tiup::tree::Value::List(items)) if items.len() == 1 => items[0].clone(),
            Some(_) => {
                return Err(bad(
                    path,
                    &doc,
                    "a List holding other than one TidbCluster",
                    "give one cluster: kubectl get tc NAME -o yaml",
                ))
            }
            None => doc,
        };
        let kind = text_at(&doc, &["kind"]).unwrap_or_default();
        if kind != "TidbCluster" {
            return Err(bad(
                path,
                &doc,
                &format!("kind is {kind:?}, not TidbCluster"),
                "give the output of kubectl get tc NAME -o yaml (apiVersion pingcap.com/v1alpha1)",
            ));
        }
        let Some(name) = text_at(&doc, &["metadata", "name"]) else {
            return Err(bad(
                path,
                &doc,
                "no metadata.name",
                "give the TidbCluster as kubectl prints it",
            ));
        };
        let spec = doc.get("spec").map(|e| &e.value);
        let mut members = Vec::new();
        for (key, component) in SPEC_KEYS {
            if let Some(m) = spec.and_then(|s| s.get(key)) {
                members.push(member(path, key, *component, &m.value)?);
            }
        }
        Ok(TidbCluster {
            name,
            namespace: text_at(&doc, &["metadata", "namespace"])
                .unwrap_or_else(|| "default".into()),
            cluster_domain: text_at(&doc, &["spec", "clusterDomain"]).filter(|d| !d.is_empty()),
            tls_cluster: at(&doc, &["spec", "tlsCluster", "enabled"])
                .and_then(Node::as_bool)
                .unwrap_or(false),
            version: text_at(&doc, &["spec", "version"]),
            members,
        })
    }

    /// The DNS name of a pod: `<cluster>-<key>-<ordinal>.<cluster>-<key>-peer.<ns>.svc[.<domain>]`.
    pub fn pod_name(&self, key: &str, ordinal: u32) -> String {
        let base = format!(
            "{c}-{key}-{ordinal}.{c}-{key}-peer.{ns}.svc",
            c = self.name,
            ns = self.namespace
        );
        match &self.cluster_domain {
            Some(d) => format!("{base}.{d}"),
            None => base,
        }
    }
}

/// One component's spec: replicas (default 1; TiProxy's and TiCDC's default too) and lists.
fn member(
    path: &Path,
    key: &'static str,
    component: Component,
    spec: &Node,
) -> Result<Member, InputError> {
    let replicas = match spec.get("replicas").map(|e| &e.value) {
        None => 1,
        Some(n) => n
            .scalar_text()
            .and_then(|t| t.parse::<u32>().ok())
            .ok_or_else(|| {
                bad(
                    path,
                    n,
                    &format!("spec.{key}.replicas is not a number"),
                    "write a count, e.g. replicas: 3",
                )
            })?,
    };
    let mut lists = Vec::new();
    if let Some(n) = spec.get("config").map(|e| &e.value) {
        if component == Component::Tiflash && n.map().is_some() {
            // TiFlash's config holds two files: `config` (tiflash.toml), `proxy` (the learner's).
            for part in ["config", "proxy"] {
                if let Some(p) = n.get(part) {
                    let found = config_lists(path, &p.value)?;
                    lists.extend(found.into_iter().map(|(k, v)| (format!("{part}.{k}"), v)));
                }
            }
        } else {
            lists = config_lists(path, n)?;
        }
    }
    Ok(Member {
        component,
        key,
        replicas,
        lists,
    })
}

/// The lists of a config given as a TOML string (`config: |`) or as a map.
fn config_lists(path: &Path, n: &Node) -> Result<Vec<(String, Vec<String>)>, InputError> {
    Ok(match n.as_str() {
        Some(toml) => settings(&parse_toml(toml, path)?),
        None => settings(n),
    })
}

/// The settings of a config that are lists (or a single string), by dotted key.
fn settings(config: &Node) -> Vec<(String, Vec<String>)> {
    flatten(config)
        .into_iter()
        .filter(|s| {
            s.key.ends_with("allowed-cn")
                || s.key.ends_with("allowed_cn")
                || s.key.ends_with("verify-cn")
        })
        .filter_map(|s| s.value.string_list().map(|v| (s.key, v)))
        .collect()
}

pub(super) fn at<'a>(node: &'a Node, keys: &[&str]) -> Option<&'a Node> {
    keys.iter()
        .try_fold(node, |n, k| n.get(k).map(|e| &e.value))
}

pub(super) fn text_at(node: &Node, keys: &[&str]) -> Option<String> {
    at(node, keys).and_then(Node::scalar_text)
}

fn bad(path: &Path, node: &Node, problem: &str, fix: &str) -> InputError {
    InputError::Config {
        path: path.to_path_buf(),
        line: node.pos.line.max(1),
        column: node.pos.column.max(1),
        problem: problem.to_string(),
        fix: fix.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> TidbCluster {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/k8s")
            .join(name);
        TidbCluster::load(&path).unwrap()
    }

    #[test]
    fn the_operators_basic_tls_example_reads_with_its_toml_string_lists() {
        let tc = fixture("basic-tls.yaml");
        assert_eq!(
            (tc.name.as_str(), tc.namespace.as_str()),
            ("basic-tls", "tidb-cluster")
        );
        assert!(tc.tls_cluster);
        assert_eq!(tc.cluster_domain, None);
        let keys: Vec<_> = tc.members.iter().map(|m| (m.key, m.replicas)).collect();
        assert_eq!(keys, [("pd", 1), ("tikv", 1), ("tidb", 1)]);
        assert_eq!(
            tc.members[0].list("security.cert-allowed-cn"),
            Some(&["TiDB".to_string()][..])
        );
        // The example's TiDB key is not TiDB's: no cluster-verify-cn.
        assert_eq!(tc.members[2].list("security.cluster-verify-cn"), None);
        assert_eq!(
            tc.pod_name("pd", 0),
            "basic-tls-pd-0.basic-tls-pd-peer.tidb-cluster.svc"
        );
    }

    #[test]
    fn the_map_form_the_cluster_domain_and_tiflashs_two_files() {
        let tc = fixture("per-component.yaml");
        assert_eq!(
            tc.pod_name("tikv", 2),
            "prod-tikv-2.prod-tikv-peer.tidb.svc.cluster.local"
        );
        let tidb = tc.members.iter().find(|m| m.key == "tidb").unwrap();
        assert_eq!(tidb.replicas, 2);
        assert_eq!(
            tidb.list("security.cluster-verify-cn").map(<[String]>::len),
            Some(4)
        );
        let flash = tc.members.iter().find(|m| m.key == "tiflash").unwrap();
        assert_eq!(
            flash
                .list("config.security.cert_allowed_cn")
                .map(<[String]>::len),
            Some(4)
        );
        assert_eq!(
            flash
                .list("proxy.security.cert-allowed-cn")
                .map(<[String]>::len),
            Some(3)
        );
        assert_eq!(tc.members.len(), 6);
    }

    #[test]
    fn other_kinds_and_bad_replicas_are_clear_errors() {
        let p = Path::new("x.yaml");
        let e = TidbCluster::parse("kind: Secret\nmetadata: {name: a}\n", p).unwrap_err();
        assert!(e.to_string().contains("not TidbCluster"), "{e}");
        let e = TidbCluster::parse(
            "kind: TidbCluster\nmetadata: {name: a}\nspec: {pd: {replicas: many}}\n",
            p,
        )
        .unwrap_err();
        assert!(e.to_string().contains("replicas"), "{e}");
        assert!(TidbCluster::parse("kind: [", p).is_err());
    }
}
