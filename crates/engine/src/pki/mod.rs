//! PKI: loading PEM files, certificate summaries, the cluster trust store and caller identities,
//! and issuing certificates (`mint`, the one rcgen signer).

pub mod chain;
pub mod load;
pub mod mint;
pub mod summary;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use serde::Serialize;

use crate::error::InputError;
pub use chain::{ChainCache, ServerChain};
pub use load::CertRole;
pub use summary::{summarize, summarize_or_placeholder, CertSummary};

/// The one crypto provider (aws-lc-rs) every connection uses.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

/// Initialise the crypto library's entropy source. AWS-LC collects CPU jitter entropy on the
/// first random bytes a process asks for, which takes tens of milliseconds; done at start-up, it
/// stays out of the first probe's handshake timing.
pub fn warm_up() {
    let mut buf = [0u8; 32];
    let _ = provider().secure_random.fill(&mut buf);
}

/// The CA(s) callers trust, with verifiers built once and shared by every probe.
#[derive(Debug, Clone)]
pub struct Trust {
    pub path: Option<PathBuf>,
    pub certs: Vec<CertSummary>,
    /// Raw DER subjects of the trust anchors, to tell "same name, other key" apart.
    pub anchor_subjects: Vec<Vec<u8>>,
    pub roots: Arc<RootCertStore>,
    pub server_verifier: Arc<WebPkiServerVerifier>,
    pub client_verifier: Arc<dyn ClientCertVerifier>,
}

impl Trust {
    /// Load the CA file (one or more PEM certificates).
    pub fn load(path: &Path) -> Result<Trust, InputError> {
        let der = load::load_certs(path, CertRole::Ca)?;
        let mut t = Trust::from_der(der).map_err(|e| {
            InputError::file(
                path,
                e,
                "it should hold the cluster CA certificate (ca.crt)",
            )
        })?;
        t.path = Some(path.to_path_buf());
        Ok(t)
    }

    /// Build from DER certificates.
    pub fn from_der(der: Vec<CertificateDer<'static>>) -> Result<Trust, String> {
        let mut roots = RootCertStore::empty();
        let mut certs = Vec::new();
        let mut anchor_subjects = Vec::new();
        for (i, c) in der.into_iter().enumerate() {
            certs.push(summarize(c.as_ref())?);
            roots
                .add(c.clone())
                .map_err(|e| format!("certificate #{} cannot be a trust anchor: {e}", i + 1))?;
        }
        for a in &roots.roots {
            anchor_subjects.push(a.subject.as_ref().to_vec());
        }
        if roots.is_empty() {
            return Err("holds no certificate".to_string());
        }
        let roots = Arc::new(roots);
        let server_verifier =
            WebPkiServerVerifier::builder_with_provider(roots.clone(), provider())
                .build()
                .map_err(|e| format!("cannot build a verifier: {e}"))?;
        let client_verifier =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
                .build()
                .map_err(|e| format!("cannot build a verifier: {e}"))?;
        Ok(Trust {
            path: None,
            certs,
            anchor_subjects,
            roots,
            server_verifier,
            client_verifier,
        })
    }
}

/// A caller: a client certificate and key, or nobody (anonymous).
#[derive(Debug, Clone)]
pub struct Identity {
    /// How reports name it: `tidb`, `anonymous`, `foreign`, ...
    pub name: String,
    pub cert_path: Option<PathBuf>,
    pub key: Option<Arc<CertifiedKey>>,
    /// The leaf certificate's summary.
    pub leaf: Option<CertSummary>,
    /// Summaries of the rest of the chain presented with it.
    pub chain: Vec<CertSummary>,
}

impl Identity {
    pub fn anonymous() -> Identity {
        Identity {
            name: "anonymous".to_string(),
            cert_path: None,
            key: None,
            leaf: None,
            chain: Vec::new(),
        }
    }

    /// Load a certificate (chain) and its key. The key must match the certificate.
    pub fn load(name: &str, cert: &Path, key: &Path) -> Result<Identity, InputError> {
        let chain = load::load_certs(cert, CertRole::Leaf)?;
        let key_der = load::load_key(key)?;
        let mut id = Identity::from_der(name, chain, key_der).map_err(|e| match e {
            IdentityError::Mismatch => InputError::file(
                key,
                format!(
                    "this key does not belong to the certificate {}",
                    cert.display()
                ),
                "pass the key that was issued with that certificate (same basename, .pem or .key)",
            ),
            IdentityError::Key(e) => InputError::file(
                key,
                format!("unusable private key ({e})"),
                "use an RSA, ECDSA or Ed25519 key in PEM",
            ),
            IdentityError::Cert(e) => InputError::file(cert, e, "re-export the certificate"),
        })?;
        id.cert_path = Some(cert.to_path_buf());
        Ok(id)
    }

    /// Build from DER (for identities minted at run time).
    pub fn from_der(
        name: &str,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Identity, IdentityError> {
        let mut summaries = Vec::new();
        for c in &chain {
            summaries.push(summarize(c.as_ref()).map_err(IdentityError::Cert)?);
        }
        if summaries.is_empty() {
            return Err(IdentityError::Cert("holds no certificate".into()));
        }
        let leaf = summaries.remove(0);
        let certified = CertifiedKey::from_der(chain, key, &provider()).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => IdentityError::Mismatch,
            other => IdentityError::Key(other.to_string()),
        })?;
        Ok(Identity {
            name: name.to_string(),
            cert_path: None,
            key: Some(Arc::new(certified)),
            leaf: Some(leaf),
            chain: summaries,
        })
    }

    /// The Common Name the callee's allow-list sees.
    pub fn cn(&self) -> Option<&str> {
        self.leaf.as_ref().and_then(|l| l.common_name.as_deref())
    }

    /// Check this identity's certificate the way a server of the cluster would, before probing,
    /// so that a rejection can be attributed.
    pub fn check(&self, trust: &Trust) -> IdentityCheck {
        let (Some(key), Some(leaf)) = (&self.key, &self.leaf) else {
            return IdentityCheck {
                has_certificate: false,
                ..IdentityCheck::default()
            };
        };
        let now = UnixTime::now().as_secs() as i64;
        let within_validity = leaf.not_before_unix <= now && now <= leaf.not_after_unix;
        let client_auth_eku = leaf.allows_client_auth();
        let ee = &key.cert[0];
        let verdict = trust
            .client_verifier
            .verify_client_cert(ee, &key.cert[1..], UnixTime::now());
        let (chains_to_ca, problem) = match verdict {
            Ok(_) => (true, None),
            Err(rustls::Error::InvalidCertificate(e)) => {
                use rustls::CertificateError as C;
                // The dates are checked before the issuer: an expired certificate (or one not
                // valid yet) chains to the CA if it verifies at an instant of its validity.
                let at = match e {
                    C::Expired | C::ExpiredContext { .. } => Some(leaf.not_after_unix),
                    C::NotValidYet | C::NotValidYetContext { .. } => Some(leaf.not_before_unix),
                    _ => None,
                };
                let chains = match at {
                    Some(t) => issued_by(trust, key, t),
                    None => !matches!(e, C::UnknownIssuer | C::BadSignature),
                };
                let words = match e {
                    C::UnknownIssuer => "is not issued by the cluster CA".to_string(),
                    C::BadSignature => "is not issued by the cluster CA (its issuer has the CA's name but another key: a CA from another cluster; TiUP names every CA O=PingCAP, OU=TiUP)".to_string(),
                    C::Expired | C::ExpiredContext { .. } => {
                        format!("expired on {}", leaf.not_after)
                    }
                    C::NotValidYet | C::NotValidYetContext { .. } => {
                        format!("is not valid before {}", leaf.not_before)
                    }
                    C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                        "lacks the clientAuth extended key usage".to_string()
                    }
                    other => format!("is not acceptable to the cluster CA ({other})"),
                };
                (chains, Some(words))
            }
            Err(other) => (false, Some(format!("cannot be verified ({other})"))),
        };
        IdentityCheck {
            has_certificate: true,
            chains_to_ca,
            within_validity,
            client_auth_eku,
            problem,
        }
    }
}

/// Whether the trust's CA issued `key`'s certificate, verified as of `at` (Unix seconds).
fn issued_by(trust: &Trust, key: &CertifiedKey, at: i64) -> bool {
    let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(at.max(0).unsigned_abs()));
    !matches!(
        trust
            .client_verifier
            .verify_client_cert(&key.cert[0], &key.cert[1..], at),
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer | rustls::CertificateError::BadSignature
        ))
    )
}

/// Why a certificate and key could not form an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityError {
    Mismatch,
    Key(String),
    Cert(String),
}

impl std::fmt::Display for IdentityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdentityError::Mismatch => f.write_str("the key does not match the certificate"),
            IdentityError::Key(e) => write!(f, "unusable key: {e}"),
            IdentityError::Cert(e) => write!(f, "unusable certificate: {e}"),
        }
    }
}

/// What a server of the cluster would think of an identity's certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct IdentityCheck {
    pub has_certificate: bool,
    pub chains_to_ca: bool,
    pub within_validity: bool,
    pub client_auth_eku: bool,
    /// The first problem, in words (`expired on ...`, `is not issued by the cluster CA`).
    pub problem: Option<String>,
}

impl IdentityCheck {
    /// A certificate any server trusting the cluster CA accepts at the handshake
    /// (before any CN check).
    pub fn is_valid(&self) -> bool {
        self.has_certificate && self.problem.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    };

    fn ca() -> (rcgen::Certificate, rcgen::Issuer<'static, KeyPair>) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(DnType::OrganizationName, "PingCAP");
        let cert = p.self_signed(&key).unwrap();
        (cert, rcgen::Issuer::new(p, key))
    }

    fn leaf(
        issuer: &rcgen::Issuer<'static, KeyPair>,
        eku: Vec<ExtendedKeyUsagePurpose>,
    ) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["localhost".into()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, "tidb");
        p.extended_key_usages = eku;
        let c = p.signed_by(&key, issuer).unwrap();
        (
            c.der().clone(),
            PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
    }

    #[test]
    fn identity_check_tells_problems_apart() {
        let (ca_cert, issuer) = ca();
        let trust = Trust::from_der(vec![ca_cert.der().clone()]).unwrap();
        let (c, k) = leaf(&issuer, vec![ExtendedKeyUsagePurpose::ClientAuth]);
        let id = Identity::from_der("tidb", vec![c], k).unwrap();
        assert_eq!(id.cn(), Some("tidb"));
        let check = id.check(&trust);
        assert!(check.is_valid(), "{check:?}");

        let (c, k) = leaf(&issuer, vec![ExtendedKeyUsagePurpose::ServerAuth]);
        let check = Identity::from_der("noeku", vec![c], k)
            .unwrap()
            .check(&trust);
        assert!(!check.client_auth_eku);
        assert!(check.problem.unwrap().contains("clientAuth"));

        let (_, other) = ca();
        let (c, k) = leaf(&other, vec![ExtendedKeyUsagePurpose::ClientAuth]);
        let check = Identity::from_der("foreign", vec![c], k)
            .unwrap()
            .check(&trust);
        assert!(!check.chains_to_ca);
        let p = check.problem.unwrap();
        assert!(p.contains("not issued by the cluster CA"), "{p}");

        assert!(!Identity::anonymous().check(&trust).has_certificate);
    }

    #[test]
    fn mismatched_key_is_refused() {
        let (_, issuer) = ca();
        let (c, _) = leaf(&issuer, vec![]);
        let (_, k2) = leaf(&issuer, vec![]);
        assert_eq!(
            Identity::from_der("x", vec![c], k2).unwrap_err(),
            IdentityError::Mismatch
        );
    }
}
