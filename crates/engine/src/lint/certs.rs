//! Checks of certificate and key files that can be read here: extended key usage, SANs against
//! the addresses callers dial, expiry, key match and key file mode. Files TiUP keeps on the
//! servers (`<deploy_dir>/tls`) are checked only when copied into the TLS folder.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::LintOptions;
use crate::finding::{Code, Finding, Severity};
use crate::pki::load::{self, CertRole};
use crate::pki::{summarize, CertSummary, Identity, IdentityError};
use crate::profile::Component;
use crate::tiup::{Cluster, Located, Security};

/// A certificate file and how it is used.
#[derive(Debug, Clone)]
struct CertUse {
    cert: PathBuf,
    key: Option<PathBuf>,
    /// Where the cert is named (`file:line:col: key`, or the file itself).
    source: String,
    key_source: String,
    /// Who presents it (identity name).
    who: String,
    /// Used as a server certificate (component certs) or only as a client (TiUP's client).
    server: bool,
    /// Hosts callers dial to reach it.
    hosts: Vec<String>,
    /// Each host must be covered (a certificate of one instance); otherwise at least one (a
    /// certificate shared or copied from one of several instances).
    exact: bool,
}

impl CertUse {
    /// A component's own certificate from a `[security]` section (presented as server and
    /// client).
    fn component(s: &Security, cert: &Located<PathBuf>, hosts: Vec<String>, exact: bool) -> Self {
        CertUse {
            cert: cert.value.clone(),
            key: s.key.as_ref().map(|k| k.value.clone()),
            source: cert.source.clone(),
            key_source: s
                .key
                .as_ref()
                .map_or(cert.source.clone(), |k| k.source.clone()),
            who: s.kind.cert_name().to_string(),
            server: true,
            hosts,
            exact,
        }
    }
}

/// Add a use, merging it with an earlier use of the same certificate file.
fn add(u: CertUse, uses: &mut Vec<CertUse>) {
    if let Some(e) = uses.iter_mut().find(|e| e.cert == u.cert) {
        for h in u.hosts {
            if !e.hosts.contains(&h) {
                e.hosts.push(h);
            }
        }
        e.exact &= u.exact;
    } else {
        uses.push(u);
    }
}

/// Every certificate the inputs name, with the hosts it must be valid for; files that cannot be
/// read here become info findings.
fn collect(cluster: &Cluster, out: &mut Vec<Finding>) -> Vec<CertUse> {
    let mut uses: Vec<CertUse> = Vec::new();
    let mut unreadable = Vec::new();
    for i in &cluster.instances {
        for s in i.security.iter().filter(|s| !s.tiup_managed) {
            unreadable.extend(missing_files(s));
            let Some(cert) = s.cert.as_ref().filter(|c| c.value.is_file()) else {
                continue;
            };
            add(
                CertUse::component(s, cert, vec![i.host.clone()], s.exact),
                &mut uses,
            );
        }
    }
    for f in &cluster.component_configs {
        let s = &f.security;
        unreadable.extend(missing_files(s));
        // Files not tied to an instance (no address to dial): checked without hosts.
        if let Some(cert) = s
            .cert
            .as_ref()
            .filter(|c| c.value.is_file() && !uses.iter().any(|u| u.cert == c.value))
        {
            add(CertUse::component(s, cert, Vec::new(), false), &mut uses);
        }
    }
    for u in tls_dir_uses(cluster) {
        add(u, &mut uses);
    }
    unreadable_findings(unreadable, out);
    uses
}

/// The CA, certificate and key paths of a section that are not files here.
fn missing_files(s: &Security) -> Vec<Located<PathBuf>> {
    [&s.ca, &s.cert, &s.key]
        .into_iter()
        .flatten()
        .filter(|p| !p.value.is_file())
        .cloned()
        .collect()
}

/// The client and component certificates of TiUP's TLS folder.
fn tls_dir_uses(cluster: &Cluster) -> Vec<CertUse> {
    let Some(d) = &cluster.tls_dir else {
        return Vec::new();
    };
    let mut uses = Vec::new();
    if let Some((c, k)) = &d.client {
        uses.push(CertUse {
            cert: c.clone(),
            key: Some(k.clone()),
            source: c.display().to_string(),
            key_source: k.display().to_string(),
            who: "client".into(),
            server: false,
            hosts: Vec::new(),
            exact: false,
        });
    }
    for r in &d.roles {
        let component = Component::from_identity_name(&r.name);
        let hosts: Vec<String> = cluster
            .instances
            .iter()
            .filter(|i| Some(i.component) == component)
            .map(|i| i.host.clone())
            .collect();
        uses.push(CertUse {
            cert: r.cert.clone(),
            key: Some(r.key.clone()),
            source: r.cert.display().to_string(),
            key_source: r.key.display().to_string(),
            who: r.name.clone(),
            server: component.is_some(),
            hosts,
            exact: false,
        });
    }
    uses
}

fn unreadable_findings(unreadable: Vec<Located<PathBuf>>, out: &mut Vec<Finding>) {
    let mut seen = std::collections::BTreeSet::new();
    for p in unreadable {
        if !seen.insert(p.value.clone()) {
            continue;
        }
        out.push(
            Finding::new(
                Code::CertFileUnreadable,
                Severity::Info,
                format!("{} cannot be read here, so it was not checked", p.value.display()),
                "the path is as the component sees it on its own host",
                "copy the file here (or run tlsaudit lint on that host) to check its expiry, SANs, key usage and key",
            )
            .source(p.source),
        );
    }
}

/// Whether a certificate's SANs cover a host callers dial.
pub(crate) fn covers(sans: &[String], host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return sans.iter().any(|s| {
            s.strip_prefix("IP:")
                .and_then(|v| v.parse::<IpAddr>().ok())
                .is_some_and(|v| v == ip)
        });
    }
    let host = host.to_ascii_lowercase();
    sans.iter().filter_map(|s| s.strip_prefix("DNS:")).any(|d| {
        let d = d.to_ascii_lowercase();
        match d.strip_prefix("*.") {
            Some(rest) => host
                .split_once('.')
                .is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
            None => d == host,
        }
    })
}

fn expiry(
    leaf: &CertSummary,
    who: &str,
    cert: &Path,
    source: &str,
    (opts, cluster): (&LintOptions, &str),
    out: &mut Vec<Finding>,
) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let horizon = now + i64::from(opts.expiry_warning_days) * 86_400;
    let evidence = format!("{} (sha256 {})", leaf.subject, leaf.sha256);
    if leaf.not_after_unix <= now {
        out.push(
            Finding::new(
                Code::CertFileExpired,
                Severity::Critical,
                format!("{} expired on {}", cert.display(), leaf.not_after),
                evidence,
                format!("issue a new certificate from the cluster CA and replace the file (TiUP: `tiup cluster tls {cluster} enable --force` re-issues every certificate); callers see \"x509: certificate has expired or is not yet valid\""),
            )
            .identity(who.to_string())
            .source(source.to_string()),
        );
    } else if leaf.not_after_unix <= horizon {
        out.push(
            Finding::new(
                Code::CertFileExpiring,
                Severity::Warning,
                format!(
                    "{} expires on {}, within {} days",
                    cert.display(),
                    leaf.not_after,
                    opts.expiry_warning_days
                ),
                evidence,
                "renew it before it expires and replace the file in place: components re-read certificate and key on new connections, but a new CA needs a restart",
            )
            .identity(who.to_string())
            .source(source.to_string()),
        );
    }
}

fn key_checks(
    who: &str,
    chain: Vec<rustls_pki_types::CertificateDer<'static>>,
    cert: &Path,
    key: &Path,
    key_source: &str,
    out: &mut Vec<Finding>,
) {
    if !key.is_file() {
        return;
    }
    match load::load_key(key) {
        Err(e) => out.push(
            Finding::new(
                Code::KeyUnusable,
                Severity::Critical,
                format!("the key {} cannot be used", key.display()),
                e.to_string(),
                "the components need an unencrypted PEM key (PKCS#1, PKCS#8 or SEC1) matching the certificate",
            )
            .identity(who.to_string())
            .source(key_source.to_string()),
        ),
        Ok(der) => {
            if let Err(IdentityError::Mismatch) = Identity::from_der(who, chain, der) {
                out.push(
                    Finding::new(
                        Code::KeyCertMismatch,
                        Severity::Critical,
                        format!(
                            "the key {} does not belong to {}",
                            key.display(),
                            cert.display()
                        ),
                        "the key's public half differs from the certificate's: every TLS handshake with it fails",
                        "point the key path at the key issued with this certificate (TiUP: <role>.pem beside <role>.crt), or reissue both",
                    )
                    .identity(who.to_string())
                    .source(key_source.to_string()),
                );
            }
        }
    }
    permissions(who, key, key_source, out);
}

/// The key-mode check the audit's and probe's warning share ([`load::key_exposure`]).
fn permissions(who: &str, key: &Path, key_source: &str, out: &mut Vec<Finding>) {
    if let Some(x) = load::key_exposure(key) {
        let mode = x.mode;
        out.push(
            Finding::new(
                Code::KeyFilePermissions,
                Severity::Warning,
                format!(
                    "the private key {} is readable by {}",
                    key.display(),
                    x.readers()
                ),
                format!("mode {mode:04o}"),
                format!(
                    "chmod 600 {} (owned by the user the component runs as)",
                    key.display()
                ),
            )
            .identity(who.to_string())
            .source(key_source.to_string()),
        );
    }
}

/// A component certificate needs serverAuth and clientAuth, a client certificate clientAuth.
fn eku_check(u: &CertUse, leaf: &CertSummary, out: &mut Vec<Finding>) {
    let eku_missing: Vec<&str> = [
        (u.server && !leaf.allows_server_auth(), "serverAuth"),
        (!leaf.allows_client_auth(), "clientAuth"),
    ]
    .into_iter()
    .filter_map(|(m, n)| m.then_some(n))
    .collect();
    if !eku_missing.is_empty() {
        out.push(
            Finding::new(
                Code::CertEku,
                Severity::Critical,
                format!(
                    "{} lacks the {} extended key usage",
                    u.cert.display(),
                    eku_missing.join(" and ")
                ),
                format!(
                    "extendedKeyUsage: {}; {}",
                    if leaf.extended_key_usage.is_empty() { "none".to_string() } else { leaf.extended_key_usage.join(", ") },
                    if u.server { "a component's certificate serves its port and calls the others, so it needs both" } else { "a client certificate needs clientAuth" }
                ),
                "reissue it with extendedKeyUsage = serverAuth, clientAuth (callers see \"x509: certificate specifies an incompatible key usage\")",
            )
            .identity(u.who.clone())
            .source(u.source.clone()),
        );
    }
}

/// A component certificate must carry SANs that cover the hosts callers dial.
fn san_check(u: &CertUse, leaf: &CertSummary, out: &mut Vec<Finding>) {
    if leaf.sans.is_empty() {
        out.push(
            Finding::new(
                Code::CertNoSans,
                Severity::Critical,
                format!("{} has a CN ({}) but no subject alternative names", u.cert.display(), leaf.label()),
                "Go callers (TiDB, PD, TiCDC, TiUP, pd-ctl) ignore the CN: \"x509: certificate relies on legacy Common Name field\" / \"doesn't contain any IP SANs\"",
                "reissue it with the instance's IP and host name (and 127.0.0.1, localhost) as subjectAltName",
            )
            .identity(u.who.clone())
            .source(u.source.clone()),
        );
    } else if !u.hosts.is_empty() {
        let missing: Vec<&String> = u.hosts.iter().filter(|h| !covers(&leaf.sans, h)).collect();
        let bad = if u.exact {
            !missing.is_empty()
        } else {
            missing.len() == u.hosts.len()
        };
        if bad {
            out.push(
                Finding::new(
                    Code::CertSanMismatch,
                    if u.exact { Severity::Critical } else { Severity::Warning },
                    format!(
                        "{} does not cover {} that callers dial",
                        u.cert.display(),
                        missing.iter().map(|h| h.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                    format!(
                        "its SANs are {}; callers fail with \"x509: certificate is valid for ..., not {}\"",
                        leaf.sans.join(", "),
                        missing.first().map(|h| h.as_str()).unwrap_or_default()
                    ),
                    if u.exact {
                        "reissue it with the instance's address in subjectAltName".to_string()
                    } else {
                        "this certificate matches none of the component's hosts: check that it is the right file, or reissue the instances' certificates with their addresses".to_string()
                    },
                )
                .identity(u.who.clone())
                .source(u.source.clone()),
            );
        }
    }
}

pub(super) fn check(cluster: &Cluster, opts: &LintOptions, out: &mut Vec<Finding>) {
    let name = super::cluster_name(cluster);
    for u in collect(cluster, out) {
        let chain = match load::load_certs(&u.cert, CertRole::Leaf) {
            Ok(c) => c,
            Err(e) => {
                out.push(
                    Finding::new(
                        Code::CertFileInvalid,
                        Severity::Critical,
                        format!("{} is not a usable certificate", u.cert.display()),
                        e.to_string(),
                        "point the path at the PEM certificate issued by the cluster CA",
                    )
                    .identity(u.who.clone())
                    .source(u.source.clone()),
                );
                continue;
            }
        };
        let Some(leaf) = chain.first().and_then(|c| summarize(c.as_ref()).ok()) else {
            continue;
        };
        eku_check(&u, &leaf, out);
        if u.server {
            san_check(&u, &leaf, out);
        }
        expiry(&leaf, &u.who, &u.cert, &u.source, (opts, &name), out);
        if let Some(key) = &u.key {
            key_checks(&u.who, chain, &u.cert, key, &u.key_source, out);
        }
    }
    // The CA itself and its key.
    if let Some(ca) = &cluster.ca {
        if let Ok(chain) = load::load_certs(&ca.value, CertRole::Ca) {
            for c in &chain {
                if let Ok(s) = summarize(c.as_ref()) {
                    expiry(&s, "ca", &ca.value, &ca.source, (opts, &name), out);
                }
            }
            if let Some(key) = &cluster.ca_key {
                let first = chain.into_iter().take(1).collect();
                key_checks("ca", first, &ca.value, key, &key.display().to_string(), out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn san_coverage() {
        let sans = vec![
            "DNS:localhost".to_string(),
            "IP:127.0.0.1".to_string(),
            "IP:10.0.1.1".to_string(),
            "DNS:*.tidb.example".to_string(),
            "IP:::1".to_string(),
        ];
        assert!(covers(&sans, "10.0.1.1"));
        assert!(!covers(&sans, "10.0.1.2"));
        assert!(covers(&sans, "LOCALHOST"));
        assert!(covers(&sans, "pd1.tidb.example"));
        assert!(!covers(&sans, "a.b.tidb.example"));
        assert!(covers(&sans, "[::1]"));
    }
}
