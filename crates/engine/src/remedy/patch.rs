//! A fix's list changes ([`ListChange`], one edit description each) turned into what `fix`
//! prints and writes: the file each change edits, the text of that file with the changes
//! applied (for the unified diff and `--write`), and the `tiup cluster edit-config` fragment.
//! Both come from the change's layer, so they always agree: a list set in an instance's own
//! `config` is edited there in the diff and shown there in the fragment.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::edit::{set_toml_list, set_yaml_list};
use super::fix::ListChange;
use super::render::{comment, toml_str, yaml_str};
use crate::tiup::ListLayer;

/// The file a change edits: the file of its layer, the topology for a list not set yet.
pub fn file_of(change: &ListChange, topology: Option<&Path>) -> Option<PathBuf> {
    match change.layer.at() {
        Some(at) => Some(at.file.clone()),
        None => topology.map(Path::to_path_buf),
    }
}

/// `text` (of `file`) with every change that edits `file` applied: the lists set there
/// replaced where they are, bottom up (an edit never moves a line still to edit), then the
/// lists not set yet inserted under `server_configs` (`topology` says whether `file` is it).
pub fn apply(
    text: &str,
    file: &Path,
    topology: Option<&Path>,
    changes: &[ListChange],
) -> Result<String, String> {
    let mut mine: Vec<&ListChange> = changes
        .iter()
        .filter(|c| file_of(c, topology).as_deref() == Some(file))
        .collect();
    mine.sort_by_key(|c| std::cmp::Reverse(c.layer.at().map(|a| a.line)));
    let mut out = text.to_string();
    for c in mine {
        let line = c.layer.at().map(|a| a.line);
        out = match c.layer {
            ListLayer::ComponentFile { .. } => {
                set_toml_list(&out, line, c.key.table, c.key.key, &c.after)
            }
            _ => set_yaml_list(&out, line, c.section(), &c.key.dotted(), &c.after),
        }?;
    }
    Ok(out)
}

/// A host as the topology writes it: plain when it is a name or an IPv4 address, else quoted.
fn host_str(host: &str) -> String {
    let plain = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        && host.starts_with(|c: char| c.is_ascii_alphanumeric());
    if plain {
        host.to_string()
    } else {
        yaml_str(host)
    }
}

fn flow(values: &[String]) -> String {
    let v: Vec<String> = values.iter().map(|s| yaml_str(s)).collect();
    format!("[{}]", v.join(", "))
}

/// The `tiup cluster edit-config` fragment of the changes in the topology: the shared lists
/// under `server_configs`, an instance's own under that instance (found by its host and main
/// port). Empty when no change is in the topology.
pub fn fragment(changes: &[ListChange]) -> String {
    let mut out = String::new();
    let shared: Vec<&ListChange> = changes
        .iter()
        .filter(|c| matches!(c.layer, ListLayer::ServerConfigs { .. } | ListLayer::Unset))
        .collect();
    if !shared.is_empty() {
        out.push_str("server_configs:\n");
        for c in shared {
            let _ = writeln!(out, "  {}:", c.section());
            let _ = writeln!(out, "    {}: {}", c.key.dotted(), flow(&c.after));
        }
    }
    let mut sections: Vec<&str> = Vec::new();
    for c in changes {
        if let ListLayer::Instance { section, .. } = &c.layer {
            if !sections.contains(section) {
                sections.push(section);
            }
        }
    }
    for s in sections {
        let _ = writeln!(out, "{s}:");
        for c in changes {
            let ListLayer::Instance {
                section,
                index,
                host,
                port,
                ..
            } = &c.layer
            else {
                continue;
            };
            if section != &s {
                continue;
            }
            let _ = writeln!(
                out,
                "  - host: {}    # {s}[{index}]: this instance's own config",
                host_str(host)
            );
            let _ = writeln!(out, "    {}: {}", port.0, port.1);
            let _ = writeln!(out, "    config:");
            let _ = writeln!(out, "      {}: {}", c.key.dotted(), flow(&c.after));
        }
    }
    out
}

/// The changes in component files, one line each: `pd.toml:3:1: [security] cert-allowed-cn =
/// ["tidb", "pd"]`.
pub fn component_lines(changes: &[ListChange]) -> Vec<String> {
    changes
        .iter()
        .filter_map(|c| match &c.layer {
            ListLayer::ComponentFile { at } => {
                let v: Vec<String> = c.after.iter().map(|s| toml_str(s)).collect();
                Some(format!(
                    "{}: [{}] {} = [{}]",
                    comment(&at.to_string()),
                    c.key.table,
                    c.key.key,
                    v.join(", ")
                ))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remedy::fix::{plan, Issue};
    use crate::tiup::tree::{parse_yaml, Node, Value};
    use crate::tiup::{Cluster, TiupOptions};

    /// The topology with a fragment merged the way an operator merges it in `tiup cluster
    /// edit-config`: each list of the fragment replaces the one at the same place (its
    /// `server_configs` section, or the instance of that host and main port), found in the
    /// topology by reading it, not from the plan.
    fn merge_fragment(topology: &str, fragment: &str) -> String {
        let path = Path::new("t.yaml");
        let frag = parse_yaml(fragment, path).unwrap();
        let topo = parse_yaml(topology, path).unwrap();
        let mut text = topology.to_string();
        let mut edits: Vec<(Option<usize>, String, String, Vec<String>)> = Vec::new();
        for e in frag.map().unwrap() {
            if e.key == "server_configs" {
                for sec in e.value.map().unwrap() {
                    for (key, values) in settings(&sec.value) {
                        let line = find(&topo, &["server_configs", &sec.key], &key);
                        edits.push((line, sec.key.clone(), key, values));
                    }
                }
                continue;
            }
            let Value::List(items) = &e.value.value else {
                panic!("{e:?}")
            };
            for item in items {
                let host = field(item, "host");
                let fields = item.map().unwrap();
                let port_field = fields
                    .iter()
                    .find(|f| f.key != "host" && f.key != "config")
                    .unwrap();
                let port = port_field.value.scalar_text().unwrap();
                let Value::List(instances) = &entry(&topo, &e.key).value else {
                    panic!()
                };
                let inst = instances
                    .iter()
                    .find(|i| {
                        field(i, "host") == host
                            && i.map()
                                .unwrap()
                                .iter()
                                .find(|f| f.key == port_field.key)
                                .is_none_or(|f| f.value.scalar_text().unwrap() == port)
                    })
                    .unwrap();
                let config = &fields.iter().find(|f| f.key == "config").unwrap().value;
                for (key, values) in settings(config) {
                    let cfg = &inst
                        .map()
                        .unwrap()
                        .iter()
                        .find(|f| f.key == "config")
                        .unwrap()
                        .value;
                    let line = cfg
                        .map()
                        .unwrap()
                        .iter()
                        .find(|f| f.key == key)
                        .map(|f| f.key_pos.line);
                    edits.push((line, String::new(), key, values));
                }
            }
        }
        edits.sort_by_key(|e| std::cmp::Reverse(e.0));
        for (line, section, key, values) in edits {
            text = set_yaml_list(&text, line, &section, &key, &values).unwrap();
        }
        text
    }

    fn entry<'a>(node: &'a Node, key: &str) -> &'a Node {
        &node
            .map()
            .unwrap()
            .iter()
            .find(|e| e.key == key)
            .unwrap()
            .value
    }

    fn field(node: &Node, key: &str) -> String {
        entry(node, key).scalar_text().unwrap()
    }

    fn settings(node: &Node) -> Vec<(String, Vec<String>)> {
        node.map()
            .unwrap()
            .iter()
            .map(|e| (e.key.clone(), e.value.string_list().unwrap()))
            .collect()
    }

    /// The line of `key` under the path `at`, if it is set there.
    fn find(root: &Node, at: &[&str], key: &str) -> Option<usize> {
        let mut node = root;
        for k in at {
            node = &node.map()?.iter().find(|e| e.key == *k)?.value;
        }
        node.map()?
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.key_pos.line)
    }

    use super::super::fix::tests::issue;

    #[test]
    fn the_fragment_and_the_diff_give_the_same_topology_in_every_layer() {
        let topo = "global:\n  enable_tls: true\nserver_configs:\n  tikv:\n    security.cert-allowed-cn: [\"tidb\", \"tikv\"]\n  pd:\n    log.level: info\npd_servers:\n  - host: a\n    client_port: 2381\n  - host: b\ntidb_servers:\n  - host: c\ntikv_servers:\n  - host: d\n  - host: e\n    port: 20161\n    config:\n      security.cert-allowed-cn:\n        - tibd\n        - tikv\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prod.yaml");
        std::fs::write(&path, topo).unwrap();
        let cluster = Cluster::load(&TiupOptions {
            topology: Some(path.clone()),
            ..Default::default()
        })
        .unwrap();
        let cases: [(&str, Vec<Issue>); 4] = [
            // An instance's own config, with a typo.
            (
                "instance",
                vec![
                    issue("LIST_LACKS_NEEDED_CN", "tikv-e-20161", Some("tidb")),
                    issue("CN_TYPO", "tikv-e-20161", None),
                ],
            ),
            // server_configs, for every TiKV without an override.
            (
                "server_configs",
                vec![issue("CALLER_NOT_LISTED", "tikv-d-20160", Some("pd"))],
            ),
            // Not set yet: a section of server_configs that exists, then one that does not.
            (
                "unset",
                vec![issue("PD_OWN_CN_NOT_LISTED", "pd-a-2381", None)],
            ),
            (
                "all",
                vec![
                    issue("CN_TYPO", "tikv-e-20161", None),
                    issue("CALLER_NOT_LISTED", "tikv-d-20160", Some("pd")),
                    issue("PD_OWN_CN_NOT_LISTED", "pd-a-2381", None),
                    issue("CALLER_NOT_LISTED", "tidb-c-10080", Some("tidb")),
                ],
            ),
        ];
        for (name, issues) in cases {
            let p = plan(&cluster, &issues);
            assert!(!p.lists.is_empty(), "{name}");
            let diffed = apply(topo, &path, Some(&path), &p.lists).unwrap();
            let frag = fragment(&p.lists);
            assert_eq!(merge_fragment(topo, &frag), diffed, "{name}:\n{frag}");
            assert_ne!(diffed, topo, "{name}");
        }
        let p = plan(&cluster, &cases_instance());
        let frag = fragment(&p.lists);
        assert_eq!(
            frag,
            "tikv_servers:\n  - host: e    # tikv_servers[1]: this instance's own config\n    port: 20161\n    config:\n      security.cert-allowed-cn: [\"tidb\", \"tikv\"]\n"
        );
        let diffed = apply(topo, &path, Some(&path), &p.lists).unwrap();
        assert!(diffed.contains(
            "server_configs:\n  tikv:\n    security.cert-allowed-cn: [\"tidb\", \"tikv\"]\n"
        ));
        assert!(
            diffed.ends_with("    config:\n      security.cert-allowed-cn: [\"tidb\", \"tikv\"]\n"),
            "{diffed}"
        );
    }

    fn cases_instance() -> Vec<Issue> {
        vec![issue("CN_TYPO", "tikv-e-20161", None)]
    }

    #[test]
    fn a_component_file_change_is_applied_to_that_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let toml = dir.path().join("tikv.toml");
        // A typo of the one component present (a standalone file: TiKV).
        let text = "[security]\ncert-allowed-cn = [\"tikb\"]\n";
        std::fs::write(&toml, text).unwrap();
        let cluster = Cluster::load(&TiupOptions {
            component_configs: vec![crate::tiup::ConfigArg::file(None, toml.clone())],
            ..Default::default()
        })
        .unwrap();
        let ep = cluster.instances[0]
            .endpoint_name(crate::profile::Role::TikvGrpc)
            .unwrap();
        let p = plan(&cluster, &[issue("CALLER_NOT_LISTED", &ep, Some("tikv"))]);
        assert_eq!(file_of(&p.lists[0], None).as_deref(), Some(toml.as_path()));
        assert_eq!(fragment(&p.lists), "");
        assert_eq!(
            apply(text, &toml, None, &p.lists).unwrap(),
            "[security]\ncert-allowed-cn = [\"tikv\"]\n"
        );
        let lines = component_lines(&p.lists);
        assert!(
            lines[0].ends_with("tikv.toml:2:1: [security] cert-allowed-cn = [\"tikv\"]"),
            "{lines:?}"
        );
    }
}
