//! Static lint of a TiDB cluster's TLS configuration: what the topology, the component configs
//! and the certificate files say, without probing. Every finding has a stable code, the file and
//! key it comes from (`source`) and a fix. The same findings go into
//! [`crate::audit::Plan::static_findings`], so they are part of every report.
//!
//! Codes (see `docs/tidb.md`): `TLS_DISABLED`, `HTTP_URL_WITH_TLS`, `CA_MISMATCH`,
//! `PD_OWN_CN_NOT_LISTED`, `PD_MULTIPLE_CN_BEFORE_V8_4`, `PD_SINGLE_CN_CLIENT_PORT`,
//! `TIUP_CLIENT_NOT_LISTED`, `LIST_LACKS_NEEDED_CN` (who needs whom), and for certificate files `CERT_EKU`, `CERT_NO_SANS`,
//! `CERT_SAN_MISMATCH`, `CERT_FILE_EXPIRED`, `CERT_FILE_EXPIRING`, `CERT_FILE_INVALID`,
//! `CERT_FILE_UNREADABLE`, `KEY_CERT_MISMATCH`, `KEY_UNUSABLE`, `KEY_FILE_PERMISSIONS`; plus the
//! import's own notes (`TOPOLOGY_SECTION_NOT_AUDITED`, `ADDRESS_NOT_DIALABLE`,
//! `CONFIG_APPLIED_TO_ALL`, `CONFIG_NOT_MATCHED`, `UNKNOWN_KEY`, `ALLOW_LIST_EMPTIED`) and
//! `CN_CASE_MISMATCH` (an allow-list entry that matches a certificate's CN only ignoring case)
//! and `CN_TYPO` (an entry within two edits of a component's CN that no certificate has:
//! `tibd`).

mod certs;
mod needs;
mod typo;

pub use typo::CnSpelling;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::finding::{Code, Finding, Severity};
use crate::profile::{self, Component, Role, PD_CLIENT_LIST_SINCE, TIUP};
use crate::tiup::{Cluster, Instance, ListLayer, Located};

/// How the lint runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LintOptions {
    /// A certificate expiring within this many days is a warning.
    pub expiry_warning_days: u32,
}

impl Default for LintOptions {
    fn default() -> Self {
        LintOptions {
            expiry_warning_days: 30,
        }
    }
}

/// Lint a cluster: the import's notes and every check, most severe first.
pub fn lint(cluster: &Cluster, opts: &LintOptions) -> Vec<Finding> {
    let mut out = cluster.notes.clone();
    tls_disabled(cluster, &mut out);
    http_urls(cluster, &mut out);
    pd_lists(cluster, &mut out);
    tiup_client(cluster, &mut out);
    ca_mismatch(cluster, &mut out);
    cn_case(cluster, &mut out);
    typo::check(cluster, &mut out);
    needs::check(cluster, &mut out);
    certs::check(cluster, opts, &mut out);
    let mut seen = BTreeSet::new();
    out.retain(|f| seen.insert((f.code, f.source.clone(), f.title.clone())));
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.code.as_str().cmp(b.code.as_str()))
            .then_with(|| a.source.cmp(&b.source))
    });
    out
}

/// The cluster's name for a TiUP command: its name when a topology says it, else `<cluster>`
/// (component config files alone do not).
fn cluster_name(cluster: &Cluster) -> String {
    crate::tiup::cluster_arg(cluster.topology.is_some().then_some(cluster.name.as_str()))
}

/// Whether any finding reaches `fail_on`.
pub fn fails(findings: &[Finding], fail_on: Severity) -> bool {
    findings.iter().any(|f| f.severity >= fail_on)
}

fn tls_disabled(cluster: &Cluster, out: &mut Vec<Finding>) {
    let Some(tls) = &cluster.tls else { return };
    if tls.value {
        return;
    }
    let partial: Vec<&str> = cluster
        .instances
        .iter()
        .filter(|i| i.security.iter().any(|s| s.cert.is_some()))
        .map(|i| i.name.as_str())
        .collect();
    out.push(
        Finding::new(
            Code::TlsDisabled,
            Severity::Critical,
            format!(
                "TLS is off in the topology: {} instance(s) talk to each other in plaintext",
                cluster.component_instances()
            ),
            if partial.is_empty() {
                "global.enable_tls is false or not set".to_string()
            } else {
                format!(
                    "global.enable_tls is off, but {} set certificate paths themselves: TiDB does not support a partly encrypted cluster",
                    partial.join(", ")
                )
            },
            format!(
                "run `tiup cluster tls {} enable` (then restart), or set global.enable_tls: true before deploying",
                crate::tiup::shell_quote(&cluster.name)
            ),
        )
        .source(tls.source.clone()),
    );
}

fn http_urls(cluster: &Cluster, out: &mut Vec<Finding>) {
    for i in &cluster.instances {
        if !cluster.tls_on(i) {
            continue;
        }
        for u in &i.urls {
            if !u.value.trim().to_ascii_lowercase().starts_with("http://") {
                continue;
            }
            out.push(
                Finding::new(
                    Code::HttpUrlWithTls,
                    Severity::Critical,
                    format!("{} = {} uses http:// while TLS is on", u.key, u.value),
                    format!(
                        "{} ({}) has TLS enabled; a plaintext URL fails with \"first record does not look like a TLS handshake\" or \"wrong version number\"",
                        i.name,
                        i.component.title()
                    ),
                    format!(
                        "write {} with https://",
                        u.key
                    ),
                )
                .source(u.source.clone()),
            );
        }
    }
}

/// The CN of a PD instance's own certificate: its cert file if readable here, else the TLS
/// folder's `pd.crt`, else `pd` when TiUP manages the certificates.
fn pd_cn(cluster: &Cluster, inst: &Instance) -> Option<(String, String)> {
    for s in &inst.security {
        if let Some(c) = &s.cert {
            if let Some(cn) = crate::tiup::tlsdir::cert_cn(&c.value) {
                return Some((cn, format!("the CN of {}", c.value.display())));
            }
        }
    }
    let name = Component::Pd.cert_name();
    if let Some(r) = cluster.tls_dir.as_ref().and_then(|d| d.role(name)) {
        if let Some(cn) = crate::tiup::tlsdir::cert_cn(&r.cert) {
            return Some((cn, format!("the CN of {}", r.cert.display())));
        }
    }
    if inst.security.iter().any(|s| s.tiup_managed) {
        return Some((
            name.to_string(),
            format!(
                "TiUP issues {}'s certificate with CN {name}",
                Component::Pd.title()
            ),
        ));
    }
    None
}

fn list_of(inst: &Instance, role: Role) -> Option<&Located<Vec<String>>> {
    inst.endpoints
        .iter()
        .find(|e| e.role == role)
        .and_then(|e| e.list.as_ref())
        .filter(|l| !l.value.is_empty())
}

/// The server_configs section of the file that sets a role's list (`pd`).
fn tiup_section(role: Role) -> &'static str {
    role.profile().config.tiup.unwrap_or_default()
}

/// Where an instance's list for `role` is set, as a fix says it: `TiUP: server_configs.pd`
/// (also where a list not set yet goes), `TiUP: pd_servers[1].config, this instance's own`,
/// or the component file's place ([`crate::tiup::list_layer`]).
fn tiup_place(inst: &Instance, role: Role) -> String {
    match crate::tiup::list_layer(inst, role) {
        ListLayer::Instance { section, index, .. } => {
            format!("TiUP: {section}[{index}].config, this instance's own")
        }
        ListLayer::ComponentFile { at } => format!("at {at}"),
        ListLayer::ServerConfigs { .. } | ListLayer::Unset => {
            format!("TiUP: server_configs.{}", tiup_section(role))
        }
    }
}

/// One PD allow-list, as the PD findings read it.
struct PdList<'a> {
    list: &'a Located<Vec<String>>,
    /// The list as shown: `[pd, tidb]`.
    shown: String,
    /// The endpoint of the PD client port.
    endpoint: Option<String>,
    /// Its PD's version, as said in a finding.
    version: String,
    /// Whether that PD is older than the one that applies the list to its client port.
    old: bool,
    /// TiUP's client CN (`<cluster>-client` when no input says it).
    client: String,
    /// Where the list is set, as a fix says it.
    place: String,
}

impl PdList<'_> {
    fn finding(
        &self,
        code: Code,
        severity: Severity,
        title: String,
        evidence: String,
        fix: String,
    ) -> Finding {
        Finding::new(code, severity, title, evidence, fix)
            .endpoint(self.endpoint.clone())
            .source(self.list.source.clone())
    }
}

fn pd_lists(cluster: &Cluster, out: &mut Vec<Finding>) {
    let mut done = BTreeSet::new();
    for inst in cluster
        .instances
        .iter()
        .filter(|i| i.component == Component::Pd)
    {
        let Some(list) = list_of(inst, Role::PdClient).or_else(|| list_of(inst, Role::PdPeer))
        else {
            continue;
        };
        if !done.insert((list.source.clone(), inst.version)) {
            continue;
        }
        let pd = PdList {
            list,
            shown: format!("[{}]", list.value.join(", ")),
            endpoint: inst.endpoint_name(Role::PdClient),
            version: inst
                .version
                .map_or("unknown".to_string(), |v| v.to_string()),
            old: inst.version.is_some_and(|v| v < PD_CLIENT_LIST_SINCE),
            client: cluster
                .tiup_client_cn()
                .unwrap_or_else(|| "<cluster>-client".to_string()),
            place: tiup_place(inst, Role::PdClient),
        };
        if let Some((cn, why)) = pd_cn(cluster, inst) {
            pd_own_cn(&pd, &cn, &why, out);
        }
        pd_list_size(&pd, out);
    }
}

/// `PD_OWN_CN_NOT_LISTED`: PD's list lacks PD's own CN.
fn pd_own_cn(pd: &PdList<'_>, cn: &str, why: &str, out: &mut Vec<Finding>) {
    if pd.list.value.iter().any(|c| c == cn) {
        return;
    }
    let p = Role::PdClient.profile();
    let title = p.component.title();
    out.push(pd.finding(
        Code::PdOwnCnNotListed,
        Severity::Critical,
        format!("{title}'s own CN {cn} is missing from its {} {}", p.list.key, pd.shown),
        format!("{why}; {title} applies the list to its own connections to the other PDs too, which then fail with \"client certificate authentication failed\" / \"remote error: tls: bad certificate\""),
        format!(
            "add \"{cn}\" to {} in {} ({}), then restart {title}",
            p.list.dotted(),
            p.config.file,
            pd.place
        ),
    ));
}

/// The callers of PD's client port, in TiUP's section order: `pd, tidb, tikv, ...`.
fn pd_callers() -> String {
    TIUP.iter()
        .map(|t| t.component)
        .filter(|c| profile::needs(*c, Role::PdClient))
        .map(Component::cert_name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `PD_MULTIPLE_CN_BEFORE_V8_4` (an old PD refuses to start) and `PD_SINGLE_CN_CLIENT_PORT`
/// (the client port does not enforce a list of one).
fn pd_list_size(pd: &PdList<'_>, out: &mut Vec<Finding>) {
    let p = Role::PdClient.profile();
    let (title, key, version) = (p.component.title(), p.list.key, &pd.version);
    let n = pd.list.value.len();
    if pd.old && n > 1 {
        out.push(
            pd.finding(
                Code::PdMultipleCnBeforeV84,
                Severity::Critical,
                format!("{title} {version} accepts one CN in {key}, and this list has {n}"),
                format!(
                    "{}: PD before v8.4 refuses to start with several CNs",
                    pd.shown
                ),
                "keep one CN (PD's own, e.g. \"pd\") until PD runs v8.4 or later, or upgrade first"
                    .to_string(),
            ),
        );
    }
    if n == 1 {
        let port = p.default_port;
        out.push(pd.finding(
            Code::PdSingleCnClientPort,
            Severity::Warning,
            format!("{title}'s {key} {} protects only the peer port, not the client port {port}", pd.shown),
            if pd.old {
                format!("{title} {version} applies {key} only to its peer port")
            } else {
                format!("PD v8.4+ enforces {key} on its client port only when it has more than one entry")
            },
            format!("on PD v8.4 or later, list every caller's CN ({} and {}) so that {port} enforces it too", pd_callers(), pd.client),
        ));
    }
}

/// The endpoint role of a component's list that TiUP's own client certificate calls, and
/// what fails when the list refuses it.
fn tiup_calls(component: Component) -> Option<(Role, &'static str)> {
    match component {
        Component::Tidb => Some((
            Role::TidbStatus,
            "`tiup cluster display` shows TiDB as Down and TiUP cannot check or scale it",
        )),
        Component::Pd => Some((
            Role::PdClient,
            "TiUP cannot reach PD to display, scale or upgrade the cluster",
        )),
        _ => None,
    }
}

fn tiup_client(cluster: &Cluster, out: &mut Vec<Finding>) {
    let Some(cn) = cluster.tiup_client_cn() else {
        return;
    };
    let mut done = BTreeSet::new();
    for inst in &cluster.instances {
        let Some((role, what)) = tiup_calls(inst.component) else {
            continue;
        };
        let Some(list) = list_of(inst, role) else {
            continue;
        };
        if list.value.contains(&cn) || !done.insert(list.source.clone()) {
            continue;
        }
        let p = role.profile();
        if !p.policy(&list.value, inst.version, None).list_enforced {
            // Not enforced on PD's client port then (see PD_SINGLE_CN_CLIENT_PORT).
            continue;
        }
        let key = p.list.dotted();
        out.push(
            Finding::new(
                Code::TiupClientNotListed,
                Severity::Warning,
                format!(
                    "{} {key} [{}] lacks TiUP's client CN {cn}",
                    inst.component.title(),
                    list.value.join(", ")
                ),
                format!("TiUP connects with its own certificate (CN {cn}): {what}"),
                format!(
                    "add \"{cn}\" to {key} ({}), then reload",
                    tiup_place(inst, role)
                ),
            )
            .endpoint(inst.endpoint_name(role))
            .source(list.source.clone()),
        );
    }
}

/// The Common Names the cluster's certificates have: those readable here (TiUP's TLS folder,
/// the files the configs name) and, where TiUP issues them, the names it gives (`tidb`,
/// `<cluster>-client`), each with where it comes from.
fn known_cns(cluster: &Cluster) -> Vec<(String, String)> {
    use crate::tiup::tlsdir::cert_cn;
    let mut out: Vec<(String, String)> = Vec::new();
    let mut file = |p: &std::path::Path| {
        if let Some(cn) = cert_cn(p) {
            out.push((cn, format!("the CN of {}", p.display())));
        }
    };
    if let Some(d) = &cluster.tls_dir {
        if let Some((c, _)) = &d.client {
            file(c);
        }
        for r in &d.roles {
            file(&r.cert);
        }
    }
    let blocks = cluster
        .instances
        .iter()
        .flat_map(|i| i.security.iter())
        .chain(cluster.component_configs.iter().map(|f| &f.security));
    let mut managed = Vec::new();
    for s in blocks {
        if s.tiup_managed {
            managed.push(s.kind.cert_name());
        } else if let Some(c) = &s.cert {
            file(&c.value);
        }
    }
    for name in managed {
        out.push((
            name.to_string(),
            format!("TiUP issues the {name} certificate with CN {name}"),
        ));
    }
    if cluster
        .instances
        .iter()
        .any(|i| i.security.iter().any(|s| s.tiup_managed))
    {
        if let Some(cn) = cluster.tiup_client_cn() {
            out.push((
                cn.clone(),
                format!("TiUP's own client certificate has CN {cn}"),
            ));
        }
    }
    out
}

/// An allow-list entry that equals a known CN only when case is ignored: the components
/// compare exactly, so the certificate it was meant for is refused.
fn cn_case(cluster: &Cluster, out: &mut Vec<Finding>) {
    let known = known_cns(cluster);
    let mut done = BTreeSet::new();
    for e in cluster.list_entries() {
        let entry = e.entry;
        if known.iter().any(|(cn, _)| cn == entry) {
            continue;
        }
        let Some((cn, why)) = known.iter().find(|(cn, _)| cn.eq_ignore_ascii_case(entry)) else {
            continue;
        };
        if !done.insert((e.list.source.clone(), entry.clone())) {
            continue;
        }
        let key = e.ep.role.profile().list.dotted();
        out.push(
            Finding::new(
                Code::CnCaseMismatch,
                Severity::Critical,
                format!("{key} lists {entry:?}, but the certificate's CN is {cn:?}: case matters"),
                format!("{why}; {} compares Common Names exactly, so the caller with CN {cn} is refused", e.inst.component.title()),
                format!("write \"{cn}\" in {key}, exactly as the certificate has it"),
            )
            .endpoint(e.inst.endpoint_name(e.ep.role))
            .source(e.list.source.clone()),
        );
    }
}

/// The SHA-256 fingerprints of the certificates of a CA file, when readable here.
fn ca_prints(path: &std::path::Path) -> Option<Vec<String>> {
    let der = crate::pki::load::load_certs(path, crate::pki::CertRole::Ca).ok()?;
    let mut v: Vec<String> = der
        .iter()
        .map(|d| crate::pki::summary::sha256_hex(d.as_ref()))
        .collect();
    v.sort();
    Some(v)
}

/// TiUP's CA file on the control machine: the TLS folder's when it was given, else the
/// cluster's folder under `~/.tiup` (`<name>` when no topology names the cluster).
fn tiup_ca(cluster: &Cluster) -> String {
    if let Some(ca) = cluster.tls_dir.as_ref().and_then(|d| d.ca.as_ref()) {
        return ca.display().to_string();
    }
    let name = if cluster.topology.is_some() {
        cluster.name.clone()
    } else {
        "<name>".to_string()
    };
    format!("~/.tiup/storage/cluster/clusters/{name}/tls/ca.crt")
}

fn ca_mismatch(cluster: &Cluster, out: &mut Vec<Finding>) {
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    if let Some(ca) = &cluster.ca {
        files.push((ca.value.clone(), ca.source.clone()));
    }
    let blocks = cluster
        .instances
        .iter()
        .flat_map(|i| i.security.iter())
        .chain(cluster.component_configs.iter().map(|f| &f.security));
    for s in blocks {
        if s.tiup_managed {
            continue;
        }
        if let Some(ca) = &s.ca {
            if !files.iter().any(|(p, _)| *p == ca.value) {
                files.push((ca.value.clone(), ca.source.clone()));
            }
        }
    }
    let mut groups: BTreeMap<Vec<String>, Vec<(PathBuf, String)>> = BTreeMap::new();
    for (p, src) in files {
        if let Some(prints) = ca_prints(&p) {
            groups.entry(prints).or_default().push((p, src));
        }
    }
    if groups.len() < 2 {
        return;
    }
    let evidence: Vec<String> = groups
        .iter()
        .map(|(prints, files)| {
            let short: Vec<&str> = prints.iter().map(|p| &p[..16.min(p.len())]).collect();
            format!(
                "CA {} in {}",
                short.join("+"),
                files
                    .iter()
                    .map(|(p, _)| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    let first_other = groups
        .values()
        .nth(1)
        .and_then(|f| f.first())
        .map(|(_, s)| s.clone());
    out.push(
        Finding::new(
            Code::CaMismatch,
            Severity::Critical,
            format!("components trust {} different CA files", groups.len()),
            format!(
                "{}; callers then fail with \"x509: certificate signed by unknown authority\"",
                evidence.join("; ")
            ),
            format!("give every component the same ca.crt (TiUP: <deploy_dir>/tls/ca.crt on each host, from {}) and restart them: the CA is read only at start", tiup_ca(cluster)),
        )
        .source(first_other),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pds_callers_come_from_the_table() {
        assert_eq!(pd_callers(), "pd, tidb, tikv, tiflash, cdc, tiproxy");
        assert_eq!(tiup_section(Role::PdClient), "pd");
        assert_eq!(tiup_section(Role::TidbStatus), "tidb");
    }

    #[test]
    fn fails_respects_the_threshold() {
        let f = Finding::new(Code::NoAllowList, Severity::Warning, "", "", "");
        assert!(fails(std::slice::from_ref(&f), Severity::Warning));
        assert!(!fails(&[f], Severity::Critical));
    }
}
