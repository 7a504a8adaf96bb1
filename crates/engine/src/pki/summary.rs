//! Certificate summaries read with x509-parser: what an operator needs to see of a certificate.

use serde::Serialize;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

/// One certificate as the reports show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    /// The subject Common Name, if any (TiUP's CA has none).
    pub common_name: Option<String>,
    /// Subject alternative names as `DNS:name` / `IP:addr` / `URI:..` / `email:..`.
    pub sans: Vec<String>,
    /// Set when `sans` was cut to [`MAX_SANS`] in a probe record: how many the certificate
    /// names in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sans_total: Option<usize>,
    /// Serial number, colon-separated hex.
    pub serial: String,
    /// RFC 3339 UTC.
    pub not_before: String,
    pub not_after: String,
    /// Seconds since the Unix epoch, for expiry arithmetic.
    pub not_before_unix: i64,
    pub not_after_unix: i64,
    /// Public key type and size, e.g. `ECDSA P-256`, `RSA 2048`.
    pub public_key: String,
    pub signature_algorithm: String,
    /// SHA-256 over the DER, lowercase hex without separators.
    pub sha256: String,
    pub is_ca: bool,
    pub key_usage: Vec<String>,
    /// `serverAuth`, `clientAuth`, ... An empty list means the extension is absent
    /// (no restriction).
    pub extended_key_usage: Vec<String>,
    /// Whether the certificate carries an extended key usage extension at all.
    pub has_eku_extension: bool,
    /// Set when the DER does not parse: the certificate keeps its place in the chain (so the
    /// next one is not taken for it) with only its SHA-256 and this error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
}

/// The most subject alternative names a probe record keeps per certificate: a certificate of
/// thousands would make every cell's record hundreds of kilobytes.
pub const MAX_SANS: usize = 64;

impl CertSummary {
    /// The summary with at most [`MAX_SANS`] names kept, and the count in all when cut.
    #[must_use]
    pub fn with_sans_capped(mut self) -> CertSummary {
        if self.sans.len() > MAX_SANS {
            self.sans_total = Some(self.sans.len());
            self.sans.truncate(MAX_SANS);
            self.sans.shrink_to_fit();
        }
        self
    }

    /// The names for a message: comma-separated, `none` when there are none, and how many in
    /// all when the list was cut.
    pub fn sans_words(&self) -> String {
        if self.sans.is_empty() {
            return "none".to_string();
        }
        let listed = self.sans.join(", ");
        match self.sans_total {
            Some(total) => format!("{listed}, ... ({total} in all)"),
            None => listed,
        }
    }

    /// Whether the certificate may be used as a TLS client certificate.
    pub fn allows_client_auth(&self) -> bool {
        !self.has_eku_extension
            || self
                .extended_key_usage
                .iter()
                .any(|e| e == "clientAuth" || e == "any")
    }

    /// Whether the certificate may be used as a TLS server certificate.
    pub fn allows_server_auth(&self) -> bool {
        !self.has_eku_extension
            || self
                .extended_key_usage
                .iter()
                .any(|e| e == "serverAuth" || e == "any")
    }

    /// A short label for lists: the CN, else the subject.
    pub fn label(&self) -> &str {
        self.common_name.as_deref().unwrap_or(&self.subject)
    }
}

/// Parse a DER certificate into a summary.
pub fn summarize(der: &[u8]) -> Result<CertSummary, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    Ok(summarize_parsed(&cert, der))
}

/// Parse a DER certificate into a summary; one that does not parse becomes a placeholder that
/// carries its SHA-256 and the parse error, so a chain keeps its order.
pub fn summarize_or_placeholder(der: &[u8]) -> CertSummary {
    summarize(der).unwrap_or_else(|error| CertSummary {
        subject: "(unparsable certificate)".to_string(),
        issuer: String::new(),
        common_name: None,
        sans: Vec::new(),
        sans_total: None,
        serial: String::new(),
        not_before: String::new(),
        not_after: String::new(),
        not_before_unix: 0,
        not_after_unix: 0,
        public_key: String::new(),
        signature_algorithm: String::new(),
        sha256: sha256_hex(der),
        is_ca: false,
        key_usage: Vec::new(),
        extended_key_usage: Vec::new(),
        has_eku_extension: false,
        parse_error: Some(error),
    })
}

/// SHA-256 of bytes as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    hex(digest.as_ref(), "")
}

fn hex(bytes: &[u8], sep: &str) -> String {
    let mut out = String::with_capacity(bytes.len() * (2 + sep.len()));
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn rfc3339(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ts.to_string())
}

pub(crate) fn summarize_parsed(cert: &X509Certificate<'_>, der: &[u8]) -> CertSummary {
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    let (has_eku_extension, extended_key_usage) = extended_key_usage(cert);
    let validity = cert.validity();
    CertSummary {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        common_name,
        sans: subject_alt_names(cert),
        sans_total: None,
        serial: hex(cert.raw_serial(), ":"),
        not_before: rfc3339(validity.not_before.timestamp()),
        not_after: rfc3339(validity.not_after.timestamp()),
        not_before_unix: validity.not_before.timestamp(),
        not_after_unix: validity.not_after.timestamp(),
        public_key: public_key_label(cert),
        signature_algorithm: oid_name(&cert.signature_algorithm.algorithm),
        sha256: sha256_hex(der),
        is_ca: cert.is_ca(),
        key_usage: key_usage(cert),
        extended_key_usage,
        has_eku_extension,
        parse_error: None,
    }
}

/// The subject alternative names, each with its kind (`DNS:`, `IP:`, `URI:`, `email:`).
fn subject_alt_names(cert: &X509Certificate<'_>) -> Vec<String> {
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            sans.push(match name {
                GeneralName::DNSName(d) => format!("DNS:{d}"),
                GeneralName::IPAddress(ip) => format!("IP:{}", ip_to_string(ip)),
                GeneralName::URI(u) => format!("URI:{u}"),
                GeneralName::RFC822Name(m) => format!("email:{m}"),
                other => format!("{other}"),
            });
        }
    }
    sans
}

/// The key usage bits by name; empty without the extension.
fn key_usage(cert: &X509Certificate<'_>) -> Vec<String> {
    match cert.key_usage() {
        Ok(Some(ku)) => ku
            .value
            .to_string()
            .split(", ")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether the extended key usage extension is present, and its purposes by name (unknown
/// ones as dotted OIDs).
fn extended_key_usage(cert: &X509Certificate<'_>) -> (bool, Vec<String>) {
    match cert.extended_key_usage() {
        Ok(Some(eku)) => {
            let v = eku.value;
            let mut out = Vec::new();
            for (flag, name) in [
                (v.any, "any"),
                (v.server_auth, "serverAuth"),
                (v.client_auth, "clientAuth"),
                (v.code_signing, "codeSigning"),
                (v.email_protection, "emailProtection"),
                (v.time_stamping, "timeStamping"),
                (v.ocsp_signing, "OCSPSigning"),
            ] {
                if flag {
                    out.push(name.to_string());
                }
            }
            out.extend(v.other.iter().map(x509_parser::asn1_rs::Oid::to_id_string));
            (true, out)
        }
        _ => (false, Vec::new()),
    }
}

/// The public key's algorithm and size, e.g. `RSA 2048` or `ECDSA P-256`.
fn public_key_label(cert: &X509Certificate<'_>) -> String {
    let spki = cert.public_key();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
        Ok(PublicKey::EC(ec)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok());
            match curve {
                Some(c) if c == OID_EC_P256 => "ECDSA P-256".to_string(),
                Some(c) if c == OID_NIST_EC_P384 => "ECDSA P-384".to_string(),
                _ if spki.algorithm.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY => {
                    format!("ECDSA {} bits", ec.key_size())
                }
                _ => format!("EC {} bits", ec.key_size()),
            }
        }
        Ok(other) => match other {
            PublicKey::Unknown(_) => oid_name(&spki.algorithm.algorithm),
            _ => format!(
                "{} {} bits",
                oid_name(&spki.algorithm.algorithm),
                other.key_size()
            ),
        },
        Err(_) => oid_name(&spki.algorithm.algorithm),
    }
}

fn oid_name(oid: &x509_parser::der_parser::oid::Oid<'_>) -> String {
    x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry())
        .map_or_else(|_| oid.to_id_string(), str::to_string)
}

fn ip_to_string(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => hex(bytes, ":"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, SanType};

    #[test]
    fn summary_reads_cn_sans_eku_and_key() {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        params.distinguished_name.push(DnType::CommonName, "tikv");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.self_signed(&key).unwrap();
        let s = summarize(cert.der()).unwrap();
        assert_eq!(s.common_name.as_deref(), Some("tikv"));
        assert_eq!(s.sans, vec!["DNS:localhost", "IP:127.0.0.1"]);
        assert_eq!(s.public_key, "ECDSA P-256");
        assert_eq!(s.extended_key_usage, vec!["serverAuth"]);
        assert!(s.allows_server_auth());
        assert!(!s.allows_client_auth());
        assert_eq!(s.sha256.len(), 64);
        assert!(s.not_after_unix > s.not_before_unix);
    }

    #[test]
    fn a_record_keeps_at_most_64_sans_and_the_count() {
        let names: Vec<String> = (0..3000)
            .map(|i| format!("host-{i}.tidb.example"))
            .collect();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .self_signed(&key)
            .unwrap();
        // Every name where the certificate is read for itself (lint, drift).
        assert_eq!(summarize(cert.der()).unwrap().sans.len(), 3000);
        // A probe record's chain: 64 kept, and the count.
        let chain = crate::pki::ChainCache::new().intern(&[cert.der().clone()]);
        let leaf = &chain[0];
        assert_eq!(leaf.sans.len(), MAX_SANS);
        assert_eq!(leaf.sans_total, Some(3000));
        assert!(leaf.sans_words().ends_with(", ... (3000 in all)"));
        let json = serde_json::to_string(leaf).unwrap();
        assert!(json.len() < 4 * 1024, "{} bytes", json.len());
        assert!(json.contains("\"sans_total\":3000"));
        // A certificate under the cap serializes as before: no `sans_total`.
        let small = summarize(cert.der()).unwrap();
        let mut small = CertSummary {
            sans: small.sans[..2].to_vec(),
            ..small
        }
        .with_sans_capped();
        assert!(small.sans_total.is_none());
        small.sans.clear();
        assert!(!serde_json::to_string(&small)
            .unwrap()
            .contains("sans_total"));
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(summarize(b"\x30\x03\x02\x01\x01").is_err());
        let kept = summarize_or_placeholder(b"\x30\x03\x02\x01\x01");
        assert!(kept
            .parse_error
            .as_deref()
            .is_some_and(|e| e.contains("X.509")));
        assert_eq!(kept.sha256, sha256_hex(b"\x30\x03\x02\x01\x01"));
        assert!(!kept.is_ca && kept.common_name.is_none());
    }
}
