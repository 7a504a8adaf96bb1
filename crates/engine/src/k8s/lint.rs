//! The static checks of a TiDB Operator cluster: component certificates that share one Common
//! Name (the operator documentation's `commonName: TiDB`: no allow-list can then tell the
//! components apart), and Secrets the cluster needs that were not found.

use std::collections::BTreeSet;

use super::secrets::{client_secret, Secrets};
use super::tc::TidbCluster;
use crate::finding::{Code, Finding, Severity};
use crate::pki::load::load_certs;
use crate::pki::{summarize, CertRole};

/// The findings of the cluster and its Secrets.
pub fn lint(tc: &TidbCluster, secrets: &Secrets) -> Vec<Finding> {
    let mut out: Vec<Finding> = secrets
        .missing
        .iter()
        .map(|s| {
            Finding::new(
                Code::K8sSecretMissing,
                Severity::Warning,
                format!("Secret {s} was not found"),
                format!("no {s}/tls.crt and tls.key under the Secrets given"),
                format!("create {s} (a cert-manager Certificate with secretName: {s}) or mount it into the audit's pod"),
            )
            .source(tc.name.clone())
        })
        .collect();
    out.extend(shared_cn(tc, secrets));
    out
}

/// The Common Name of each Secret's certificate (`None` where it cannot be read: the audit's
/// own identity check reports that).
fn common_names(secrets: &Secrets) -> Vec<(String, Option<String>)> {
    secrets
        .identities
        .iter()
        .map(|i| {
            let cn = load_certs(&i.cert, CertRole::Leaf)
                .ok()
                .and_then(|c| c.first().and_then(|d| summarize(d).ok()))
                .and_then(|s| s.common_name);
            (i.secret.clone(), cn)
        })
        .collect()
}

/// One finding when two component Secrets or more (the client's included) share a CN.
fn shared_cn(tc: &TidbCluster, secrets: &Secrets) -> Option<Finding> {
    let names = common_names(secrets);
    let known: Vec<(&str, &str)> = names
        .iter()
        .filter_map(|(s, cn)| cn.as_deref().map(|cn| (s.as_str(), cn)))
        .collect();
    let distinct: BTreeSet<&str> = known.iter().map(|(_, cn)| *cn).collect();
    if known.len() < 2 || distinct.len() != 1 {
        return None;
    }
    let cn = known[0].1;
    let secrets_named: Vec<&str> = known.iter().map(|(s, _)| *s).collect();
    Some(
        Finding::new(
            Code::K8sSharedCn,
            Severity::Critical,
            format!(
                "every certificate of {} has the Common Name {cn:?}: no allow-list can tell its components apart",
                tc.name
            ),
            format!("CN {cn:?} in {}", secrets_named.join(", ")),
            per_component_fix(tc),
        )
        .source(tc.name.clone()),
    )
}

/// The fix in words: a Certificate per component with its own `commonName`, the client's
/// apart, and the matching lists.
fn per_component_fix(tc: &TidbCluster) -> String {
    let keys: Vec<&str> = tc.members.iter().map(|m| m.key).collect();
    format!(
        "issue each component's Certificate with its own commonName (for {keys}: commonName: <component>, e.g. spec.commonName: tikv in the Certificate whose secretName is {c}-tikv-cluster-secret), the client's ({client}) with another (e.g. {c}-client); then set in spec.<component>.config the callers' names, e.g. spec.pd.config and spec.tikv.config: [security] cert-allowed-cn = [\"pd\", \"tikv\", \"tidb\", \"{c}-client\"], spec.tidb.config: [security] cluster-verify-cn = [\"pd\", \"tidb\", \"{c}-client\"]",
        keys = keys.join(", "),
        c = tc.name,
        client = client_secret(&tc.name),
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::k8s::secrets::read;
    use crate::k8s::tc::SPEC_KEYS;
    use crate::pki::mint::Ca;

    /// The Secrets of `basic` (PD, TiKV, the client; TiDB's left out) with the CNs `cn(part)`.
    fn secrets(dir: &Path, cn: fn(&str) -> String) -> (TidbCluster, Secrets) {
        let ca = Ca::generate("basic", 1).unwrap();
        for part in ["pd", "tikv", "client"] {
            let name = if part == "client" {
                client_secret("basic")
            } else {
                format!("basic-{part}-cluster-secret")
            };
            let folder = dir.join(name);
            std::fs::create_dir_all(&folder).unwrap();
            let issued = ca.issue(&cn(part), &[], true, 30).unwrap();
            issued
                .write(&folder.join("tls.crt"), &folder.join("tls.key"), false)
                .unwrap();
            std::fs::write(folder.join("ca.crt"), &ca.pem).unwrap();
        }
        let tc = TidbCluster::parse(
            "kind: TidbCluster\nmetadata: {name: basic}\nspec: {pd: {}, tikv: {}, tidb: {}}\n",
            Path::new("tc.yaml"),
        )
        .unwrap();
        let s = read(dir, "basic", &SPEC_KEYS[..3]).unwrap();
        (tc, s)
    }

    #[test]
    fn one_cn_for_every_secret_is_the_shared_cn_finding_and_a_missing_secret_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (tc, s) = secrets(dir.path(), |_| "TiDB".into());
        assert_eq!(s.missing, ["basic-tidb-cluster-secret"]);
        assert!(s
            .ca()
            .is_some_and(|p| p.ends_with("basic-cluster-client-secret/ca.crt")));
        let f = lint(&tc, &s);
        let codes: Vec<Code> = f.iter().map(|f| f.code).collect();
        assert_eq!(codes, [Code::K8sSecretMissing, Code::K8sSharedCn]);
        assert!(f[1].evidence.contains("\"TiDB\""), "{:?}", f[1]);
        assert!(f[1].fix.contains("commonName: tikv"), "{:?}", f[1]);
    }

    #[test]
    fn a_cn_per_component_is_no_finding() {
        let dir = tempfile::tempdir().unwrap();
        let (tc, s) = secrets(dir.path(), std::string::ToString::to_string);
        assert!(!lint(&tc, &s).iter().any(|f| f.code == Code::K8sSharedCn));
    }
}
