//! Misspelled Common Names in allow-lists (`CN_TYPO`): an entry that no certificate of the
//! cluster has, within two edits (case ignored) of the CN of a component present in the
//! cluster: `tibd` for `tidb`. The list refuses the component it was meant for, and admits a
//! name nobody should hold. [`CnSpelling`] is the one judgment, shared by the lint and by
//! `fix`, which writes the right CN in place of the typo.

use std::collections::BTreeSet;

use super::needs::component_cn;
use crate::finding::{Code, Finding, Severity};
use crate::profile::Component;
use crate::tiup::{edit_distance, Cluster, ListEntry, ListLayer};

/// The CNs of a cluster as the typo check reads them.
#[derive(Debug, Clone, Default)]
pub struct CnSpelling {
    /// Every CN in use: TiUP's name of every component, TiUP's client CN, the CNs of the
    /// certificates readable here and those of the components present.
    in_use: BTreeSet<String>,
    /// The CN of each component present, with where it is known from.
    components: Vec<(String, String)>,
    /// CNs known from certificates (a case-only difference to one of them is
    /// `CN_CASE_MISMATCH`).
    known: Vec<String>,
}

/// The most edits an entry may be away from a CN of `len` characters to be its typo: two,
/// one for CNs of three characters or less (`pd`, `cdc`: two edits reach any short word).
fn max_edits(len: usize) -> usize {
    if len <= 3 {
        1
    } else {
        2
    }
}

impl CnSpelling {
    /// The CNs of `cluster`.
    pub fn of(cluster: &Cluster) -> CnSpelling {
        let mut present: Vec<Component> = Vec::new();
        for i in &cluster.instances {
            if i.component != Component::Exporter && !present.contains(&i.component) {
                present.push(i.component);
            }
        }
        let components: Vec<(String, String)> = present
            .iter()
            .map(|&c| {
                component_cn(cluster, c).unwrap_or_else(|| {
                    let cn = c.cert_name();
                    (
                        cn.to_string(),
                        format!("TiUP names the {} certificate {cn}", c.title()),
                    )
                })
            })
            .collect();
        let known: Vec<String> = super::known_cns(cluster)
            .into_iter()
            .map(|(cn, _)| cn)
            .collect();
        let mut in_use: BTreeSet<String> = Component::ALL
            .iter()
            .map(|c| c.cert_name().to_string())
            .collect();
        in_use.extend(known.iter().cloned());
        in_use.extend(components.iter().map(|(cn, _)| cn.clone()));
        in_use.extend(cluster.tiup_client_cn());
        CnSpelling {
            in_use,
            components,
            known,
        }
    }

    /// The component CN `entry` is a typo of, with where that CN is known from; `None` when
    /// `entry` is a CN in use, differs from a certificate's CN only in case
    /// (`CN_CASE_MISMATCH`), or is near no component's CN.
    pub fn typo_of(&self, entry: &str) -> Option<&(String, String)> {
        if self.in_use.contains(entry) || self.known.iter().any(|k| k.eq_ignore_ascii_case(entry)) {
            return None;
        }
        let lower = entry.to_lowercase();
        self.components
            .iter()
            .map(|c| (edit_distance(&lower, &c.0.to_lowercase()), c))
            .filter(|(d, c)| *d <= max_edits(c.0.chars().count()))
            .min_by_key(|(d, _)| *d)
            .map(|(_, c)| c)
    }

    /// `list` with every typo replaced by the CN it stands for (a CN already listed is not
    /// listed twice).
    pub fn corrected(&self, list: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for entry in list {
            let cn = self
                .typo_of(entry)
                .map_or_else(|| entry.clone(), |(cn, _)| cn.clone());
            if !out.contains(&cn) {
                out.push(cn);
            }
        }
        out
    }
}

/// Where a list is set, for a fix: its layer in words, or the source.
fn place(layer: &ListLayer, source: &str) -> String {
    match layer {
        ListLayer::Unset => source.to_string(),
        l => l.describe(),
    }
}

/// `CN_TYPO`: each (list, entry) once.
pub(super) fn check(cluster: &Cluster, out: &mut Vec<Finding>) {
    let spelling = CnSpelling::of(cluster);
    let mut done = BTreeSet::new();
    for e in cluster.list_entries() {
        let Some((cn, from)) = spelling.typo_of(e.entry) else {
            continue;
        };
        if done.insert((e.list.source.clone(), e.entry.clone())) {
            out.push(typo_finding(&e, cn, from));
        }
    }
}

/// The finding of one misspelled entry: `cn` is the CN it is close to, `from` where that CN is.
fn typo_finding(e: &ListEntry<'_>, cn: &str, from: &str) -> Finding {
    let (entry, list) = (e.entry, e.list);
    let key = e.ep.role.profile().list.dotted();
    let shown = list.value.join(", ");
    Finding::new(
        Code::CnTypo,
        Severity::Warning,
        format!("{entry}: did you mean {cn}? ({key} [{shown}] of {})", e.inst.name),
        format!(
            "no certificate of the cluster has the CN {entry:?}, and it is {} edit(s) from {cn} ({from}): the list refuses {cn} and admits a name nobody should hold",
            edit_distance(&entry.to_lowercase(), &cn.to_lowercase())
        ),
        format!(
            "write \"{cn}\" instead of \"{entry}\" in {key} ({}), then reload {}",
            place(&e.ep.layer, &list.source),
            e.inst.component.title()
        ),
    )
    .endpoint(e.inst.endpoint_name(e.ep.role))
    .source(list.source.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::tiup::test_cluster as cluster;

    const TOPO: &str = "global:\n  enable_tls: true\npd_servers:\n  - host: a\ntidb_servers:\n  - host: b\ntikv_servers:\n  - host: c\n    config:\n      security.cert-allowed-cn: [\"tibd\", \"TIKV\", \"pdd\", \"cdc\", \"x\", \"prod-client\", \"Tidb\"]\n";

    #[test]
    fn typos_are_near_a_present_components_cn_and_no_cn_in_use() {
        let (_d, c) = cluster(TOPO);
        let s = CnSpelling::of(&c);
        let typo = |e: &str| s.typo_of(e).map(|(cn, _)| cn.as_str());
        assert_eq!(typo("tibd"), Some("tidb"));
        assert_eq!(typo("TIBD"), Some("tidb"));
        assert_eq!(typo("pdd"), Some("pd"));
        // A CN in use, even of a component not in this cluster, is no typo; nor is a name
        // far from every CN.
        for e in ["tidb", "cdc", "prod-client", "x", "tiflash", "ab"] {
            assert_eq!(typo(e), None, "{e}");
        }
        // Case only, with TiUP managing the certificates: CN_CASE_MISMATCH says it.
        assert_eq!(typo("TIKV"), None);
        assert_eq!(
            s.corrected(&["tibd".into(), "tidb".into(), "pd".into()]),
            ["tidb", "pd"]
        );
    }

    #[test]
    fn the_finding_names_the_entry_the_cn_the_list_and_its_place() {
        let (_d, c) = cluster(TOPO);
        let mut out = Vec::new();
        check(&c, &mut out);
        let names: Vec<&str> = out.iter().map(|f| f.title.as_str()).collect();
        assert_eq!(out.len(), 2, "{names:?}");
        let f = &out[0];
        assert_eq!((f.code, f.severity), (Code::CnTypo, Severity::Warning));
        assert!(
            f.title
                .starts_with("tibd: did you mean tidb? (security.cert-allowed-cn [tibd, TIKV"),
            "{}",
            f.title
        );
        assert!(
            f.source
                .as_deref()
                .unwrap()
                .ends_with("prod.yaml:10:7: tikv_servers[0].config security.cert-allowed-cn"),
            "{:?}",
            f.source
        );
        assert!(
            f.fix.contains("the config of tikv_servers[0] (c:20160)"),
            "{}",
            f.fix
        );
        assert_eq!(f.endpoint.as_deref(), Some("tikv-c-20160"));
        assert!(
            out[1].title.starts_with("pdd: did you mean pd?"),
            "{}",
            out[1].title
        );
    }
}
