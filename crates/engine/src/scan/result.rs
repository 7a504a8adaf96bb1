//! What a scan found, as the JSON report will carry it (stable field names): the versions with
//! their suites, order and groups, the served chain's keys and signatures, how far the scan
//! got, and a one-line summary (the versions accepted and the weakest suite).

use serde::{Deserialize, Serialize};

use super::enumerate::{SuiteSeen, VersionScan};
use super::hello::Version;
use super::reply::Failure;
use crate::finding::Severity;
use crate::pki::summary::summarize;

/// The smallest RSA key that is not `KEY_WEAK` (NIST SP 800-131A).
pub const MIN_RSA_BITS: u32 = 2048;

/// One certificate of the served chain, as the scan judges it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertSeen {
    pub subject: String,
    /// `RSA 2048`, `ECDSA P-256`.
    pub public_key: String,
    /// `sha256WithRSAEncryption`.
    pub signature_algorithm: String,
    /// Issued by itself (a root): its own signature is not checked by anyone.
    pub self_signed: bool,
}

impl CertSeen {
    /// The chain's certificates that parse, leaf first.
    pub fn chain(der: &[Vec<u8>]) -> Vec<CertSeen> {
        der.iter()
            .filter_map(|d| summarize(d).ok())
            .map(|s| CertSeen {
                self_signed: s.subject == s.issuer,
                subject: s.subject,
                public_key: s.public_key,
                signature_algorithm: s.signature_algorithm,
            })
            .collect()
    }

    /// What is wrong with it, as its findings rate it: an RSA key under [`MIN_RSA_BITS`]
    /// (`KEY_WEAK`, critical), a SHA-1 or MD5 signature by its issuer (`SIGNATURE_SHA1`,
    /// warning); in words.
    pub fn problems(&self) -> Vec<(Severity, &'static str)> {
        let mut p = Vec::new();
        if self.weak_key() {
            p.push((Severity::Critical, "RSA key under 2048 bits"));
        }
        if self.sha1_signed() {
            p.push((Severity::Warning, "signed with SHA-1 or MD5"));
        }
        p
    }

    /// An RSA key under [`MIN_RSA_BITS`].
    pub fn weak_key(&self) -> bool {
        self.rsa_bits().is_some_and(|b| b < MIN_RSA_BITS)
    }

    /// The RSA key size, for an RSA key.
    pub fn rsa_bits(&self) -> Option<u32> {
        self.public_key.strip_prefix("RSA ")?.trim().parse().ok()
    }

    /// Signed with SHA-1 (or MD5), by its issuer.
    pub fn sha1_signed(&self) -> bool {
        let s = self.signature_algorithm.to_ascii_lowercase();
        !self.self_signed && (s.contains("sha1") || s.contains("sha-1") || s.contains("md5"))
    }
}

/// Why a scan could not run at all, with its class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanFailure {
    pub class: Failure,
    pub detail: String,
}

/// The scan of one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanResult {
    /// `HOST:PORT` as dialed.
    pub address: String,
    /// `tls`, or `mysql` (TLS after the MySQL SSLRequest).
    pub protocol: String,
    /// Every version asked about, oldest first.
    pub versions: Vec<VersionScan>,
    /// The served chain, leaf first (from a TLS 1.0-1.2 handshake, or for a TLS 1.3-only
    /// server one rustls handshake stopped at its Certificate; empty when none came).
    pub certificates: Vec<CertSeen>,
    /// Connections made.
    pub connections: usize,
    pub elapsed_ms: u64,
    /// False when the connection budget or the deadline stopped the scan early.
    pub complete: bool,
    /// When the scan ended (RFC 3339): in `serve`, scans run less often than rounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Set when no version could be asked about (refused, reset, timeout, not TLS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<ScanFailure>,
}

impl ScanResult {
    /// The versions accepted, oldest first.
    pub fn accepted(&self) -> Vec<Version> {
        self.versions
            .iter()
            .filter(|v| v.accepted)
            .map(|v| v.version)
            .collect()
    }

    /// The worst suite accepted in any version ([`SuiteSeen::severity`]: insecure before
    /// weak; the last listed of the worst).
    pub fn weakest_suite(&self) -> Option<&str> {
        self.versions
            .iter()
            .flat_map(|v| &v.suites)
            .filter_map(|s| Some((s.severity()?, s)))
            .max_by_key(|(severity, _)| *severity)
            .map(|(_, s)| s.name.as_str())
    }

    /// The worst of what the scan found, as its findings rate it (an obsolete version, a weak
    /// suite and a SHA-1 signature a warning; an insecure suite and a weak key critical);
    /// `None` when nothing is wrong or the scan could not run.
    pub fn worst(&self) -> Option<Severity> {
        let versions = self.versions.iter().filter_map(VersionScan::severity);
        let suites = self
            .versions
            .iter()
            .flat_map(|v| &v.suites)
            .filter_map(SuiteSeen::severity);
        let certs = self
            .certificates
            .iter()
            .flat_map(CertSeen::problems)
            .map(|(s, _)| s);
        versions.chain(suites).chain(certs).max()
    }

    /// The versions accepted (`TLS 1.2, TLS 1.3`), `no version accepted`, or why the scan
    /// could not run ([`ScanResult::failure_text`]).
    pub fn versions_text(&self) -> String {
        if let Some(f) = self.failure_text() {
            return f;
        }
        let versions: Vec<&str> = self.accepted().iter().map(|v| v.name()).collect();
        if versions.is_empty() {
            "no version accepted".to_string()
        } else {
            versions.join(", ")
        }
    }

    /// Why no version could be asked about, in words: what a port that does not speak TLS
    /// answered (`the answer is not TLS: ...`), or `not scanned: ` and why; `None` when the scan
    /// ran.
    pub fn failure_text(&self) -> Option<String> {
        let f = self.failure.as_ref()?;
        Some(match f.class {
            Failure::NotTls => f.detail.clone(),
            _ => format!("not scanned: {}", f.detail),
        })
    }

    /// One line: `TLS 1.2, TLS 1.3; weakest TLS_RSA_WITH_3DES_EDE_CBC_SHA`.
    pub fn summary(&self) -> String {
        if let Some(f) = self.failure_text() {
            return f;
        }
        let versions = self.versions_text();
        match self.weakest_suite() {
            Some(w) => format!("{versions}; weakest {w}"),
            None => format!("{versions}; no weak suite"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::enumerate::SuiteSeen;
    use crate::scan::suites::weaknesses;

    fn suite(id: u16) -> SuiteSeen {
        SuiteSeen {
            id: format!("0x{id:04x}"),
            name: crate::scan::suites::name(id),
            weaknesses: weaknesses(id),
        }
    }

    #[test]
    fn the_summary_names_the_versions_and_the_weakest_suite() {
        let mut v12 = VersionScan::new(Version::Tls12);
        v12.accepted = true;
        v12.suites = vec![suite(0xc02f), suite(0xc013), suite(0x000a)];
        let mut v13 = VersionScan::new(Version::Tls13);
        v13.accepted = true;
        v13.suites = vec![suite(0x1301)];
        let r = ScanResult {
            address: "a:1".into(),
            protocol: "tls".into(),
            versions: vec![v12, v13],
            certificates: Vec::new(),
            connections: 3,
            elapsed_ms: 1,
            complete: true,
            finished_at: None,
            failure: None,
        };
        assert_eq!(
            r.summary(),
            "TLS 1.2, TLS 1.3; weakest TLS_RSA_WITH_3DES_EDE_CBC_SHA"
        );
        // A port that does not speak TLS says what it answered; any other failure says that
        // the scan did not run.
        let failed = |class, detail: &str| ScanResult {
            failure: Some(ScanFailure {
                class,
                detail: detail.into(),
            }),
            ..r.clone()
        };
        let plain = failed(Failure::NotTls, "the answer is not TLS: \"HTTP/1.1 400\"");
        assert_eq!(plain.summary(), "the answer is not TLS: \"HTTP/1.1 400\"");
        let refused = failed(Failure::Refused, "connection refused");
        assert_eq!(refused.summary(), "not scanned: connection refused");
        let cert = CertSeen {
            subject: "CN=x".into(),
            public_key: "RSA 1024".into(),
            signature_algorithm: "sha1WithRSAEncryption".into(),
            self_signed: false,
        };
        assert_eq!(cert.rsa_bits(), Some(1024));
        assert!(cert.sha1_signed());
        let root = CertSeen {
            self_signed: true,
            ..cert
        };
        assert!(!root.sha1_signed());
    }
}
