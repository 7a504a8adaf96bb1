//! Findings of the SQL ports (TiDB 4000, TiProxy 6000, any MySQL-protocol endpoint): TLS not
//! offered, plaintext accepted, and plaintext that could not be judged without an audit account.
//! Server certificate problems and client certificates from another CA are the general findings
//! (`SERVER_UNTRUSTED`, `FOREIGN_CA_ACCEPTED`).

use super::expect::Verdict;
use super::matrix::IdentityId;
use crate::finding::{Code, Finding, Severity};
use crate::inventory::Endpoint;
use crate::probe::mysql::{AccountKind, MysqlReport, PlaintextVerdict};
use crate::probe::ProbeRecord;
use crate::profile::Component;

/// What to set to serve TLS, and to require it.
fn keys(ep: &Endpoint) -> (&'static str, &'static str) {
    match ep.component {
        Component::Tidb => (
            "set ssl-cert and ssl-key (and ssl-ca to verify client certificates) under [security] in tidb.toml (TiUP: server_configs.tidb.security.ssl-cert / ssl-key), or security.auto-tls = true, and restart TiDB; TiDB logs \"secure connection is enabled\" at start",
            "set require-secure-transport = true under [security] in tidb.toml (TiUP: server_configs.tidb.security.require-secure-transport), or SET GLOBAL require_secure_transport = ON; TiDB then answers plaintext logins with 3159 before authentication",
        ),
        Component::Tiproxy => (
            "set cert and key (or auto-certs = true) under [security.server-tls] in tiproxy.toml, and restart TiProxy",
            "make TiProxy's clients require TLS (--ssl-mode=VERIFY_IDENTITY); whether TiProxy itself refuses plaintext clients depends on its version: see its [security] settings",
        ),
        _ => (
            "set ssl_cert and ssl_key (and ssl_ca) in the server's configuration and restart it",
            "SET GLOBAL require_secure_transport = ON (MySQL 5.7+, MariaDB 10.5+), or require SSL per account (ALTER USER ... REQUIRE SSL)",
        ),
    }
}

/// The report that says the most about plaintext: one with an audit account first, then any
/// one that was judged.
fn plaintext_report<'a>(
    records: &[(IdentityId, &'a ProbeRecord, Verdict)],
) -> Option<&'a MysqlReport> {
    let reports: Vec<&MysqlReport> = records
        .iter()
        .filter_map(|(_, r, _)| r.mysql.as_ref())
        .collect();
    let judged = |r: &&MysqlReport| r.plaintext != PlaintextVerdict::NotTested;
    reports
        .iter()
        .copied()
        .filter(judged)
        .find(|r| r.account == AccountKind::Audit)
        .or_else(|| reports.iter().copied().find(judged))
}

/// The findings of one SQL endpoint. `cluster_tls`: other endpoints of the audit speak TLS.
pub fn findings(
    ep: &Endpoint,
    records: &[(IdentityId, &ProbeRecord, Verdict)],
    cluster_tls: bool,
    out: &mut Vec<Finding>,
) {
    if let Some(r) = records
        .iter()
        .filter_map(|(_, r, _)| r.mysql.as_ref())
        .find(|m| !m.tls_offered)
    {
        out.push(tls_not_offered(ep, r, cluster_tls));
        return;
    }
    let Some(r) = plaintext_report(records) else {
        return;
    };
    out.extend(plaintext_finding(ep, r, cluster_tls));
}

/// How bad SQL traffic in plaintext is: critical when the cluster's own links use TLS, with
/// words saying so.
fn exposure(cluster_tls: bool) -> (Severity, &'static str) {
    if cluster_tls {
        (
            Severity::Critical,
            "; the cluster's own links use TLS, but client traffic travels in plaintext",
        )
    } else {
        (Severity::Warning, "")
    }
}

/// `SQL_TLS_NOT_OFFERED`, from a report whose greeting offered no TLS.
fn tls_not_offered(ep: &Endpoint, r: &MysqlReport, cluster_tls: bool) -> Finding {
    let title = ep.component.title();
    let (serve, require) = keys(ep);
    let (severity, where_tls) = exposure(cluster_tls);
    Finding::new(
        Code::SqlTlsNotOffered,
        severity,
        format!(
            "{title} {} ({}) offers no TLS to SQL clients{where_tls}",
            ep.role, ep.address
        ),
        format!(
            "{} ({}): {}",
            r.server_version,
            if r.capabilities & crate::probe::mysql::CLIENT_SSL == 0 {
                "the greeting lacks CLIENT_SSL"
            } else {
                "TLS offered"
            },
            r.plaintext_detail
        ),
        format!("{serve}; then {require}"),
    )
    .endpoint(ep.name.clone())
}

/// The finding of a plaintext login's verdict, if it is one (accepted, or unknown).
fn plaintext_finding(ep: &Endpoint, r: &MysqlReport, cluster_tls: bool) -> Option<Finding> {
    let title = ep.component.title();
    let (_, require) = keys(ep);
    let (severity, where_tls) = exposure(cluster_tls);
    let finding = match r.plaintext {
        PlaintextVerdict::Accepted => Finding::new(
            Code::SqlPlaintextAccepted,
            severity,
            format!(
                "{title} {} ({}) offers TLS but still accepts plaintext logins{where_tls}",
                ep.role, ep.address
            ),
            r.plaintext_detail.clone(),
            format!("{require}; clients should use --ssl-mode=VERIFY_IDENTITY (a client that only prefers TLS can be downgraded)"),
        ),
        PlaintextVerdict::Unknown => Finding::new(
            Code::SqlPlaintextUnknown,
            Severity::Info,
            format!(
                "whether {} refuses plaintext logins is unknown; give an audit account to be sure",
                ep.name
            ),
            r.plaintext_detail.clone(),
            format!(
                "create an account with no privileges (CREATE USER 'tlsaudit'@'%' IDENTIFIED WITH mysql_native_password BY '...') and run again with --mysql-user tlsaudit and the password in TLSAUDIT_MYSQL_PASSWORD or --mysql-password-file; to refuse plaintext: {require}"
            ),
        ),
        PlaintextVerdict::Refused | PlaintextVerdict::NoTls | PlaintextVerdict::NotTested => {
            return None
        }
    };
    Some(finding.endpoint(ep.name.clone()))
}
