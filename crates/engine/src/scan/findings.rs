//! The findings of a scan, with fixes that name the right setting for the component serving
//! the endpoint: one finding per code and endpoint (the suites of a code listed in its
//! evidence). TLS_VERSION_OBSOLETE (TLS 1.0 or 1.1 accepted), CIPHER_SUITE_INSECURE (anonymous,
//! NULL, export, RC4, DES, 3DES), CIPHER_SUITE_WEAK (CBC with SHA-1, static RSA), KEY_WEAK (an
//! RSA key under 2048 bits in the served chain), SIGNATURE_SHA1 (a certificate of the chain
//! signed with SHA-1 or MD5; a root's own signature aside).
//!
//! Where the facts come from (each fix says it):
//! - TiDB's SQL port: `[security] tls-version` sets the minimum (the setting in the TiDB
//!   configuration file docs, pingcap/docs#7899, 2022); the TiDB guide "Enable TLS between
//!   TiDB clients and servers" lists TLS 1.0 to 1.3 up to v7.5 and TLS 1.2 and 1.3 from v8.x.
//!   No cipher-suite setting: Go `crypto/tls`'s defaults apply.
//! - PD, TiCDC and TiDB's status port are Go `crypto/tls` servers with no version or suite
//!   setting among their `[security]` keys (../shared docs: tidb-tls-facts.md, sections 1 and
//!   9): the Go release they are built with decides. Go 1.22 raised the servers' default
//!   minimum to TLS 1.2 and dropped static-RSA suites from the defaults; Go 1.23 dropped 3DES
//!   (the Go 1.22 and 1.23 release notes).
//! - TiKV and TiFlash (gRPC C-core over OpenSSL): TLS 1.2 and 1.3, no setting (the same
//!   facts, section 9).
//! - TiProxy: `min-tls-version` in its `[security.*-tls]` sections (the same facts, section 1).
//! - etcd: `--tls-min-version` and `--cipher-suites` (etcd's configuration flags).

use super::enumerate::SuiteSeen;
use super::hello::Version;
use super::result::{CertSeen, ScanResult};
use crate::finding::{Code, Finding, Severity};
use crate::probe::Protocol;
use crate::profile::Component;

/// Where the endpoint's TLS is set, for the fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    pub component: Option<Component>,
    /// The MySQL protocol port (TiDB 4000, TiProxy 6000), not a status or gRPC port.
    pub sql: bool,
}

impl Served {
    /// An endpoint of `component` that the probes speak `protocol` to.
    pub fn of(component: Option<Component>, protocol: Protocol) -> Served {
        Served {
            component,
            sql: protocol == Protocol::Mysql,
        }
    }
}

const GENERIC_VERSIONS: &str = "Usual servers: nginx `ssl_protocols TLSv1.2 TLSv1.3;`, etcd `--tls-min-version=TLS1.2`, OpenSSL `MinProtocol = TLSv1.2` (openssl.cnf) or `-no_tls1 -no_tls1_1`, Go `tls.Config{MinVersion: tls.VersionTLS12}`.";

const GENERIC_SUITES: &str = "Usual servers: nginx `ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20;` (with `ssl_prefer_server_ciphers on;`), etcd `--cipher-suites` with ECDHE AEAD suites only, OpenSSL `CipherString = ECDHE+AESGCM:ECDHE+CHACHA20` (openssl.cnf) or `-cipher`, Go `tls.Config.CipherSuites`.";

/// The component's own way to raise the minimum version, or that it has none (the fix of
/// `TLS_VERSION_OBSOLETE`, and of diagnose's version mismatch with such a server).
pub fn version_fix(s: Served) -> String {
    let own = match s.component {
        Some(Component::Tidb) if s.sql => "Set `[security] tls-version = \"TLSv1.2\"` in tidb.toml (TiUP: server_configs.tidb.security.tls-version) and restart TiDB; up to v7.5 TiDB's SQL port accepts TLS 1.0 and 1.1 unless it is set, from v8.0 it does not.",
        Some(Component::Tidb) => "TiDB's status port has no version setting: its Go build's default applies (minimum TLS 1.2 from Go 1.22; `tidb-server -V` prints the Go version): upgrade TiDB.",
        Some(Component::Pd | Component::Ticdc) => "PD and TiCDC have no version setting: the Go release they are built with decides (minimum TLS 1.2 from Go 1.22): upgrade the component, or filter the port.",
        Some(Component::Tikv | Component::Tiflash) => "TiKV and TiFlash have no version setting and offer TLS 1.2 and 1.3 only: an older version here means something else serves the port (a proxy, another build); check what listens.",
        Some(Component::Tiproxy) => "Set `min-tls-version = \"1.2\"` in the `[security.server-tls]` (SQL) or `[security.server-http-tls]` section of tiproxy.toml and restart TiProxy.",
        Some(Component::Etcd) => "Start etcd with `--tls-min-version=TLS1.2`.",
        _ => "Raise the server's minimum TLS version to 1.2.",
    };
    format!("{own} {GENERIC_VERSIONS}")
}

/// The component's own way to drop suites, or that it has none.
fn suite_fix(s: Served) -> String {
    let own = match s.component {
        Some(Component::Tidb | Component::Pd | Component::Ticdc) => "TiDB, PD and TiCDC have no cipher-suite setting: the Go build's defaults apply (Go 1.22 dropped static RSA, Go 1.23 3DES, none has RC4 or anonymous suites): upgrade the component.",
        Some(Component::Tikv | Component::Tiflash) => "TiKV and TiFlash have no cipher-suite setting (gRPC over OpenSSL, its defaults): such a suite means something else serves the port; check what listens.",
        Some(Component::Tiproxy) => "TiProxy has no cipher-suite setting: its Go build's defaults apply; upgrade it.",
        Some(Component::Etcd) => "Start etcd with `--cipher-suites` listing ECDHE AEAD suites only (TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, ...).",
        _ => "Remove the suite from the server's cipher list.",
    };
    format!("{own} {GENERIC_SUITES}")
}

fn names(suites: &[&SuiteSeen]) -> String {
    let mut n: Vec<&str> = suites.iter().map(|s| s.name.as_str()).collect();
    n.sort_unstable();
    n.dedup();
    n.join(", ")
}

fn obsolete_versions(r: &ScanResult, s: Served) -> Option<Finding> {
    let old: Vec<Version> = r
        .accepted()
        .into_iter()
        .filter(|v| v.is_obsolete())
        .collect();
    let words: Vec<&str> = old.iter().map(|v| v.name()).collect();
    (!old.is_empty()).then(|| {
        Finding::new(
            Code::TlsVersionObsolete,
            Severity::Warning,
            format!(
                "{} accepts {} (obsolete since RFC 8996)",
                r.address,
                words.join(" and ")
            ),
            format!("versions accepted: {}", r.summary()),
            version_fix(s),
        )
    })
}

/// The suites of any version with a weakness of the kind (`insecure` or only weak), each once.
fn suite_finding(r: &ScanResult, s: Served, insecure: bool) -> Option<Finding> {
    let mut hit: Vec<&SuiteSeen> = r
        .versions
        .iter()
        .flat_map(|v| &v.suites)
        .filter(|x| {
            let bad = x.weaknesses.iter().any(|w| w.is_insecure());
            bad == insecure && !x.weaknesses.is_empty()
        })
        .collect();
    hit.sort_by(|a, b| a.name.cmp(&b.name));
    hit.dedup_by(|a, b| a.name == b.name);
    if hit.is_empty() {
        return None;
    }
    let (code, severity, kind) = if insecure {
        (Code::CipherSuiteInsecure, Severity::Critical, "insecure")
    } else {
        (Code::CipherSuiteWeak, Severity::Warning, "weak")
    };
    let mut why: Vec<&str> = hit
        .iter()
        .flat_map(|x| &x.weaknesses)
        .filter(|w| w.is_insecure() == insecure)
        .map(|w| w.words())
        .collect();
    why.sort_unstable();
    why.dedup();
    Some(Finding::new(
        code,
        severity,
        format!(
            "{} accepts {} {kind} cipher suite(s): {}",
            r.address,
            hit.len(),
            why.join(", ")
        ),
        names(&hit),
        suite_fix(s),
    ))
}

const REISSUE: &str = "Reissue the certificate from the cluster CA (`tlsaudit rotate` or `tiup cluster tls`), then reload the component";

fn weak_key(r: &ScanResult) -> Option<Finding> {
    let weak: Vec<&CertSeen> = r.certificates.iter().filter(|c| c.weak_key()).collect();
    let first = weak.first()?;
    Some(Finding::new(
        Code::KeyWeak,
        Severity::Critical,
        format!(
            "{} serves a certificate with a {} key",
            r.address, first.public_key
        ),
        weak.iter()
            .map(|c| format!("{}: {}", c.subject, c.public_key))
            .collect::<Vec<_>>()
            .join("; "),
        format!("{REISSUE}, with an RSA key of 2048 bits or more or an ECDSA P-256 key."),
    ))
}

fn sha1_signature(r: &ScanResult) -> Option<Finding> {
    let sha1: Vec<&CertSeen> = r.certificates.iter().filter(|c| c.sha1_signed()).collect();
    let first = sha1.first()?;
    Some(Finding::new(
        Code::SignatureSha1,
        Severity::Warning,
        format!(
            "{} serves a certificate signed with {}",
            r.address, first.signature_algorithm
        ),
        sha1.iter()
            .map(|c| format!("{}: {}", c.subject, c.signature_algorithm))
            .collect::<Vec<_>>()
            .join("; "),
        format!(
            "{REISSUE}, signed with SHA-256 (Go clients refuse SHA-1 signatures since Go 1.18)."
        ),
    ))
}

/// The scan's findings for an endpoint served by `served`.
pub fn findings(r: &ScanResult, served: Served) -> Vec<Finding> {
    [
        obsolete_versions(r, served),
        suite_finding(r, served, true),
        suite_finding(r, served, false),
        weak_key(r),
        sha1_signature(r),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::enumerate::VersionScan;
    use crate::scan::suites::weaknesses;

    fn version(v: Version, suites: &[u16]) -> VersionScan {
        let mut s = VersionScan::new(v);
        s.accepted = !suites.is_empty();
        s.suites = suites
            .iter()
            .map(|id| SuiteSeen {
                id: format!("0x{id:04x}"),
                name: crate::scan::suites::name(*id),
                weaknesses: weaknesses(*id),
            })
            .collect();
        s
    }

    fn result(versions: Vec<VersionScan>, certs: Vec<CertSeen>) -> ScanResult {
        ScanResult {
            finished_at: None,
            address: "127.0.0.1:4000".into(),
            protocol: "mysql".into(),
            versions,
            certificates: certs,
            connections: 1,
            elapsed_ms: 1,
            complete: true,
            failure: None,
        }
    }

    #[test]
    fn each_weakness_gives_its_finding_with_the_components_fix() {
        let r = result(
            vec![
                version(Version::Tls10, &[0x000a, 0xc013]),
                version(Version::Tls12, &[0xc02f]),
            ],
            vec![CertSeen {
                subject: "CN=tidb".into(),
                public_key: "RSA 1024".into(),
                signature_algorithm: "sha1WithRSAEncryption".into(),
                self_signed: false,
            }],
        );
        let tidb = Served {
            component: Some(Component::Tidb),
            sql: true,
        };
        let f = findings(&r, tidb);
        let codes: Vec<Code> = f.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            [
                Code::TlsVersionObsolete,
                Code::CipherSuiteInsecure,
                Code::CipherSuiteWeak,
                Code::KeyWeak,
                Code::SignatureSha1
            ]
        );
        assert!(f[0].fix.contains("[security] tls-version"), "{}", f[0].fix);
        assert!(f[0].fix.contains("ssl_protocols"), "{}", f[0].fix);
        assert_eq!(f[1].evidence, "TLS_RSA_WITH_3DES_EDE_CBC_SHA");
        assert_eq!(f[2].evidence, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");
        let pd = findings(
            &r,
            Served {
                component: Some(Component::Pd),
                sql: false,
            },
        );
        assert!(pd[0].fix.contains("no version setting"), "{}", pd[0].fix);
        // A sound endpoint: nothing.
        let good = result(vec![version(Version::Tls13, &[0x1301])], Vec::new());
        assert!(findings(&good, tidb).is_empty());
    }
}
