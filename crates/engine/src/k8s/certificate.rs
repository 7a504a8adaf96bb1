//! cert-manager `Certificate` manifests (`cert-manager.io/v1`, `--manifest`) of a TiDB Operator
//! cluster, linted before any Secret exists: a component's certificate must allow both server
//! and client authentication (each component serves and calls the others), its `dnsNames` must
//! cover the pod names callers dial (`<pod>.<cluster>-<component>-peer.<ns>.svc`), and its
//! `renewBefore` must be shorter than its `duration` (else cert-manager renews it at every
//! reconcile). Which component a Certificate is for is read from its `secretName`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::secrets::{client_secret, component_secret};
use super::tc::{at, text_at, Member, TidbCluster};
use crate::error::InputError;
use crate::finding::{Code, Finding, Severity};
use crate::tiup::tree::{parse_yaml, Node, Value};

/// One `Certificate`, as the lint reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub name: String,
    pub secret_name: String,
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    pub usages: Vec<String>,
    pub duration: Option<String>,
    pub renew_before: Option<String>,
    /// Where it was read (`file:line`).
    pub source: String,
}

/// Read every `Certificate` of a manifest file: one document, several (`---`), or a `List`.
pub fn load(path: &Path) -> Result<Vec<Certificate>, InputError> {
    let text = crate::fsutil::read_text_capped(path, crate::fsutil::MAX_CONFIG)?;
    let mut out = Vec::new();
    for doc in documents(&text) {
        if doc.trim().is_empty() {
            continue;
        }
        let node = parse_yaml(doc, path)?;
        let items = match at(&node, &["items"]).map(|n| &n.value) {
            Some(Value::List(items)) => items.clone(),
            _ => vec![node],
        };
        out.extend(items.iter().filter_map(|n| certificate(n, path)));
    }
    if out.is_empty() {
        return Err(InputError::file(
            path,
            "holds no cert-manager Certificate (kind: Certificate)",
            "give the Certificate manifests of the cluster (kubectl get certificate -n NS -o yaml)",
        ));
    }
    Ok(out)
}

/// The documents of a multi-document YAML text.
fn documents(text: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            docs.push(&text[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    docs.push(&text[start..]);
    docs
}

fn certificate(node: &Node, path: &Path) -> Option<Certificate> {
    if text_at(node, &["kind"]).as_deref() != Some("Certificate") {
        return None;
    }
    let list = |keys: &[&str]| -> Vec<String> {
        match at(node, keys).map(|n| &n.value) {
            Some(Value::List(items)) => items.iter().filter_map(Node::scalar_text).collect(),
            _ => Vec::new(),
        }
    };
    let name = text_at(node, &["metadata", "name"]).unwrap_or_default();
    Some(Certificate {
        secret_name: text_at(node, &["spec", "secretName"]).unwrap_or_else(|| name.clone()),
        name,
        common_name: text_at(node, &["spec", "commonName"]),
        dns_names: list(&["spec", "dnsNames"]),
        usages: list(&["spec", "usages"]),
        duration: text_at(node, &["spec", "duration"]),
        renew_before: text_at(node, &["spec", "renewBefore"]),
        source: format!("{}:{}", path.display(), node.pos.line.max(1)),
    })
}

/// The findings of the cluster's Certificates.
pub fn lint(tc: &TidbCluster, certs: &[Certificate]) -> Vec<Finding> {
    let mut out = Vec::new();
    for cert in certs {
        let member = tc
            .members
            .iter()
            .find(|m| component_secret(&tc.name, m.key) == cert.secret_name);
        let client = cert.secret_name == client_secret(&tc.name);
        if member.is_none() && !client {
            continue;
        }
        out.extend(usages(cert, member.is_some()));
        if let Some(m) = member {
            out.extend(dns_names(tc, m, cert));
        }
        out.extend(renewal(cert));
    }
    out
}

/// The usages a component's certificate needs (server and client auth), or the client's.
fn usages(cert: &Certificate, component: bool) -> Option<Finding> {
    let needed: &[&str] = if component {
        &["server auth", "client auth"]
    } else {
        &["client auth"]
    };
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|u| !cert.usages.iter().any(|have| have == u))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let why = if component {
        "each component serves its ports and calls the others with this one certificate"
    } else {
        "the ctl tools and the operator call the components with it"
    };
    Some(
        Finding::new(
            Code::K8sCertUsages,
            Severity::Critical,
            format!(
                "Certificate {} lacks the usages {}",
                cert.name,
                missing.join(", ")
            ),
            format!("usages: [{}]; {why}", cert.usages.join(", ")),
            format!(
                "set spec.usages of {} to [{}] and let cert-manager reissue {}",
                cert.name,
                needed.join(", "),
                cert.secret_name
            ),
        )
        .source(cert.source.clone()),
    )
}

/// Whether `pattern` (a DNS name, or a `*.` wildcard of one label) covers `name`.
fn covers(pattern: &str, name: &str) -> bool {
    let (pattern, name) = (pattern.to_ascii_lowercase(), name.to_ascii_lowercase());
    match pattern.strip_prefix("*.") {
        Some(rest) => name
            .split_once('.')
            .is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
        None => pattern == name,
    }
}

/// The pods of `m` whose DNS name no `dnsNames` entry covers: callers dial those names, and
/// verify the server's certificate for them.
fn dns_names(tc: &TidbCluster, m: &Member, cert: &Certificate) -> Option<Finding> {
    let uncovered: Vec<String> = (0..m.replicas.max(1))
        .map(|i| tc.pod_name(m.key, i))
        .filter(|pod| !cert.dns_names.iter().any(|d| covers(d, pod)))
        .collect();
    let first = uncovered.first()?;
    let wildcard = first.split_once('.').map_or(first.as_str(), |(_, t)| t);
    Some(
        Finding::new(
            Code::K8sCertDnsNames,
            Severity::Warning,
            format!(
                "Certificate {} does not cover {} of the {} pods' names ({first}...)",
                cert.name,
                uncovered.len(),
                m.key
            ),
            format!("dnsNames: [{}]", cert.dns_names.join(", ")),
            format!(
                "add \"*.{wildcard}\" to spec.dnsNames of {}: callers dial the pods by these names and verify the certificate for them",
                cert.name
            ),
        )
        .source(cert.source.clone()),
    )
}

/// A `renewBefore` not shorter than the `duration`: cert-manager would reissue at once, again
/// and again.
fn renewal(cert: &Certificate) -> Option<Finding> {
    let parse = |s: &Option<String>| s.as_deref().and_then(go_duration);
    let (duration, before) = (parse(&cert.duration)?, parse(&cert.renew_before)?);
    if before < duration {
        return None;
    }
    Some(
        Finding::new(
            Code::K8sCertRenewal,
            Severity::Warning,
            format!(
                "Certificate {} renews {} before it expires, but is valid only {}",
                cert.name,
                cert.renew_before.as_deref().unwrap_or_default(),
                cert.duration.as_deref().unwrap_or_default()
            ),
            "cert-manager reissues a certificate once it is within renewBefore of its expiry"
                .to_string(),
            format!(
                "make spec.renewBefore of {} shorter than spec.duration (the operator's examples: duration 8760h, renewBefore 360h)",
                cert.name
            ),
        )
        .source(cert.source.clone()),
    )
}

/// A Go duration (`8760h`, `2160h0m0s`, `90m`), as cert-manager writes them.
fn go_duration(s: &str) -> Option<Duration> {
    let mut total = 0.0_f64;
    let mut number = String::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        number.clear();
        number.push_str(&rest[..digits]);
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += number.parse::<f64>().ok()? * scale;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_secs_f64(total))
}

/// The manifests of `paths`, read.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<Certificate>, InputError> {
    let mut out = Vec::new();
    for p in paths {
        out.extend(load(p)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_and_wildcards() {
        assert_eq!(go_duration("8760h"), Some(Duration::from_secs(8760 * 3600)));
        assert_eq!(
            go_duration("2160h0m0s"),
            Some(Duration::from_secs(2160 * 3600))
        );
        assert_eq!(go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(go_duration("10d"), None);
        assert!(covers("*.c-pd-peer.ns.svc", "c-pd-0.c-pd-peer.ns.svc"));
        assert!(!covers("*.c-pd-peer.ns.svc", "a.c-pd-0.c-pd-peer.ns.svc"));
        assert!(!covers("*.c-pd-peer", "c-pd-0.c-pd-peer.ns.svc"));
        assert!(covers("C-PD-0.c-pd-peer.ns.svc", "c-pd-0.c-pd-peer.ns.svc"));
        assert_eq!(documents("a: 1\n---\nb: 2\n"), ["a: 1\n", "b: 2\n"]);
    }

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/k8s")
            .join(name)
    }

    #[test]
    fn the_planted_faults_of_the_manifests_are_found_and_the_sound_ones_pass() {
        let tc = TidbCluster::load(&fixture("basic-tls.yaml")).unwrap();
        let certs = load(&fixture("certificates.yaml")).unwrap();
        assert_eq!(certs.len(), 4);
        let found: Vec<(Code, String)> = lint(&tc, &certs)
            .into_iter()
            .map(|f| (f.code, f.title))
            .collect();
        let codes: Vec<Code> = found.iter().map(|f| f.0).collect();
        assert_eq!(
            codes,
            [
                Code::K8sCertUsages,
                Code::K8sCertDnsNames,
                Code::K8sCertRenewal
            ],
            "{found:#?}"
        );
        assert!(found[0].1.contains("tikv") && found[0].1.contains("client auth"));
        assert!(found[1]
            .1
            .contains("basic-tls-tikv-0.basic-tls-tikv-peer.tidb-cluster.svc"));
        assert!(found[2].1.contains("tidb"));
        let e = load(&fixture("basic-tls.yaml")).unwrap_err().to_string();
        assert!(e.contains("no cert-manager Certificate"), "{e}");
    }
}
