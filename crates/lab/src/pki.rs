//! PKI generation for the lab: a TiUP-like root CA, an intermediate CA, an unrelated
//! "foreign" CA, component instance certificates, client identities and the faulty server
//! certificates that endpoints can plant.
//!
//! Everything is ECDSA P-256 (fast to generate and to handshake with). Files are written as
//! PEM into the lab's temporary directory; private keys are created with mode 0600 and never
//! logged.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

use super::{LabError, ServerCertKind};

/// Paths of the PEM files the lab wrote (all inside [`crate::Lab::dir`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LabPki {
    /// Root CA certificate (`ca.crt`), subject `O=PingCAP, OU=TiUP, CN=tlsaudit lab CA`.
    pub ca_cert: PathBuf,
    /// Root CA private key (`ca.pem`, TiUP's naming: the key lives in the `.pem`).
    pub ca_key: PathBuf,
    /// Intermediate CA certificate (`intermediate-ca.crt`) that issued the
    /// [`ServerCertKind::MissingIntermediate`] leaf; signed by the root CA.
    pub intermediate_ca_cert: PathBuf,
    /// Client identities by name: `pd`, `tikv`, `tidb`, `tiflash`, `cdc`, `client`,
    /// `expired`, `noeku`, `foreign`.
    pub identities: BTreeMap<String, IdentityFiles>,
    /// Certificate of the unrelated CA (`foreign-ca.crt`) that signed the `foreign`
    /// identity and [`ServerCertKind::UnknownCa`] server certificates.
    pub foreign_ca_cert: PathBuf,
}

/// One client identity on disk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IdentityFiles {
    /// Subject common name of the certificate.
    pub cn: String,
    /// Certificate chain (leaf only) as PEM: `<name>.crt`.
    pub cert: PathBuf,
    /// PKCS#8 private key as PEM: `<name>.pem` (mode 0600).
    pub key: PathBuf,
}

/// A certificate chain and its key, in memory.
pub(crate) struct CertAndKey {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    key_der: Vec<u8>,
}

impl CertAndKey {
    pub(crate) fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

impl std::fmt::Debug for CertAndKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("CertAndKey")
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// Everything generated, in memory, plus the file paths.
#[derive(Debug)]
pub(crate) struct Material {
    pub(crate) files: LabPki,
    pub(crate) ca_der: CertificateDer<'static>,
    pub(crate) identities: BTreeMap<String, CertAndKey>,
    /// Server certificates by (component, kind).
    pub(crate) servers: HashMap<(String, ServerCertKind), CertAndKey>,
    /// Server certificates read from PEM files, by certificate path
    /// ([`crate::EndpointSpec::with_server_files`]).
    pub(crate) loaded: HashMap<PathBuf, CertAndKey>,
    /// The CAs, kept to issue server certificates later ([`Material::ensure_server`]).
    cas: Cas,
}

/// The lab's CAs and the validity of the certificates they issue.
struct Cas {
    root: Ca,
    intermediate: Ca,
    foreign: Ca,
    now: OffsetDateTime,
}

impl std::fmt::Debug for Cas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Cas")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// A CA that can sign.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
    pem: String,
}

fn dn(parts: &[(DnType, &str)]) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    for (t, v) in parts {
        d.push(t.clone(), *v);
    }
    d
}

fn make_root_ca(
    dn_parts: &[(DnType, &str)],
    now: OffsetDateTime,
) -> Result<(Ca, String), LabError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = dn(dn_parts);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(365 * 50);
    let cert = params.self_signed(&key)?;
    let key_pem = key.serialize_pem();
    let ca = Ca {
        der: cert.der().clone(),
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    };
    Ok((ca, key_pem))
}

fn make_intermediate(root: &Ca, now: OffsetDateTime) -> Result<Ca, LabError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = dn(&[
        (DnType::OrganizationName, "PingCAP"),
        (DnType::OrganizationalUnitName, "TiUP"),
        (DnType::CommonName, "tlsaudit lab intermediate CA"),
    ]);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(365 * 20);
    let cert = params.signed_by(&key, &root.issuer)?;
    Ok(Ca {
        der: cert.der().clone(),
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    })
}

/// What a leaf certificate looks like.
struct LeafSpec<'a> {
    cn: &'a str,
    sans: &'a [&'a str],
    server_auth: bool,
    client_auth: bool,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

struct Leaf {
    der: CertificateDer<'static>,
    pem: String,
    key_der: Vec<u8>,
    key_pem: String,
}

fn make_leaf(spec: &LeafSpec<'_>, ca: &Ca) -> Result<Leaf, LabError> {
    let key = KeyPair::generate()?;
    let sans: Vec<String> = spec.sans.iter().map(|s| (*s).to_owned()).collect();
    let mut params = CertificateParams::new(sans)?;
    params.distinguished_name = dn(&[(DnType::CommonName, spec.cn)]);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let mut ekus = Vec::new();
    if spec.server_auth {
        ekus.push(ExtendedKeyUsagePurpose::ServerAuth);
    }
    if spec.client_auth {
        ekus.push(ExtendedKeyUsagePurpose::ClientAuth);
    }
    params.extended_key_usages = ekus;
    params.use_authority_key_identifier_extension = true;
    params.not_before = spec.not_before;
    params.not_after = spec.not_after;
    let cert = params.signed_by(&key, &ca.issuer)?;
    Ok(Leaf {
        der: cert.der().clone(),
        pem: cert.pem(),
        key_der: key.serialize_der(),
        key_pem: key.serialize_pem(),
    })
}

fn write_public(path: &Path, pem: &str) -> Result<(), LabError> {
    std::fs::write(path, pem.as_bytes()).map_err(|e| LabError::io(path, e))
}

fn write_private(path: &Path, pem: &str) -> Result<(), LabError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| LabError::io(path, e))?;
    f.write_all(pem.as_bytes())
        .and_then(|()| f.flush())
        .map_err(|e| LabError::io(path, e))
}

const STANDARD_SANS: &[&str] = &["localhost", "127.0.0.1"];
const WRONG_SANS: &[&str] = &["10.255.0.1", "other.example"];

/// Write the root, intermediate and foreign CA files under `dir`; the returned file list has
/// no identities yet.
fn write_ca_files(
    dir: &Path,
    root: &Ca,
    root_key_pem: &str,
    intermediate: &Ca,
    foreign: &Ca,
) -> Result<LabPki, LabError> {
    let files = LabPki {
        ca_cert: dir.join("ca.crt"),
        ca_key: dir.join("ca.pem"),
        intermediate_ca_cert: dir.join("intermediate-ca.crt"),
        identities: BTreeMap::new(),
        foreign_ca_cert: dir.join("foreign-ca.crt"),
    };
    write_public(&files.ca_cert, &root.pem)?;
    write_private(&files.ca_key, root_key_pem)?;
    write_public(&files.intermediate_ca_cert, &intermediate.pem)?;
    write_public(&files.foreign_ca_cert, &foreign.pem)?;
    Ok(files)
}

/// The client identities to issue, in order: name, leaf and issuing CA.
fn identity_specs<'a>(
    client_cn: &'a str,
    now: OffsetDateTime,
    valid_from: OffsetDateTime,
    valid_to: OffsetDateTime,
    root: &'a Ca,
    foreign: &'a Ca,
) -> Vec<(&'static str, LeafSpec<'a>, &'a Ca)> {
    vec![
        ("pd", instance("pd", valid_from, valid_to), root),
        ("tikv", instance("tikv", valid_from, valid_to), root),
        ("tidb", instance("tidb", valid_from, valid_to), root),
        ("tiflash", instance("tiflash", valid_from, valid_to), root),
        ("cdc", instance("cdc", valid_from, valid_to), root),
        (
            "client",
            LeafSpec {
                cn: client_cn,
                sans: &[],
                server_auth: false,
                client_auth: true,
                not_before: valid_from,
                not_after: valid_to,
            },
            root,
        ),
        (
            "expired",
            LeafSpec {
                not_before: now - Duration::days(365),
                not_after: now - Duration::days(1),
                ..instance("tidb", valid_from, valid_to)
            },
            root,
        ),
        (
            "noeku",
            LeafSpec {
                client_auth: false,
                ..instance("tidb", valid_from, valid_to)
            },
            root,
        ),
        ("foreign", instance("tidb", valid_from, valid_to), foreign),
    ]
}

/// Issue every identity, write its certificate and key under `dir` and record them in
/// `files`; returns the certificates and keys by name.
fn issue_identities(
    dir: &Path,
    identities: Vec<(&str, LeafSpec<'_>, &Ca)>,
    files: &mut LabPki,
) -> Result<BTreeMap<String, CertAndKey>, LabError> {
    let mut held: BTreeMap<String, CertAndKey> = BTreeMap::new();
    for (name, spec, ca) in identities {
        let leaf = make_leaf(&spec, ca)?;
        let cert_path = dir.join(format!("{name}.crt"));
        let key_path = dir.join(format!("{name}.pem"));
        write_public(&cert_path, &leaf.pem)?;
        write_private(&key_path, &leaf.key_pem)?;
        files.identities.insert(
            name.to_owned(),
            IdentityFiles {
                cn: spec.cn.to_owned(),
                cert: cert_path,
                key: key_path,
            },
        );
        held.insert(
            name.to_owned(),
            CertAndKey {
                chain: vec![leaf.der],
                key_der: leaf.key_der,
            },
        );
    }
    Ok(held)
}

/// Generate the whole PKI and write it under `dir`. Blocking (CPU and small file writes):
/// call from `spawn_blocking`.
pub(crate) fn generate(
    dir: &Path,
    cluster: &str,
    server_certs: &[(String, ServerCertKind)],
) -> Result<Material, LabError> {
    let now = OffsetDateTime::now_utc();
    let valid_from = now - Duration::days(1);
    let valid_to = now + Duration::days(365 * 10);

    let (root, root_key_pem) = make_root_ca(
        &[
            (DnType::OrganizationName, "PingCAP"),
            (DnType::OrganizationalUnitName, "TiUP"),
            (DnType::CommonName, "tlsaudit lab CA"),
        ],
        now,
    )?;
    let (foreign, _foreign_key_pem) = make_root_ca(
        &[
            (DnType::OrganizationName, "Elsewhere Inc"),
            (DnType::OrganizationalUnitName, "Unrelated"),
            (DnType::CommonName, "tlsaudit foreign CA"),
        ],
        now,
    )?;
    let intermediate = make_intermediate(&root, now)?;

    let mut files = write_ca_files(dir, &root, &root_key_pem, &intermediate, &foreign)?;
    // Instance certificates double as client identities (as with TiUP).
    let client_cn = format!("{cluster}-client");
    let identities = identity_specs(&client_cn, now, valid_from, valid_to, &root, &foreign);
    let held = issue_identities(dir, identities, &mut files)?;

    let mut material = Material {
        files,
        ca_der: root.der.clone(),
        identities: held,
        servers: HashMap::new(),
        loaded: HashMap::new(),
        cas: Cas {
            root,
            intermediate,
            foreign,
            now,
        },
    };
    for (component, kind) in server_certs {
        material.ensure_server(component, *kind)?;
    }
    Ok(material)
}

impl Material {
    /// Read a server certificate chain and its PKCS#8 key from PEM files (again on every call:
    /// a reload picks up a rotated file).
    pub(crate) fn load_server_files(&mut self, cert: &Path, key: &Path) -> Result<(), LabError> {
        use rustls_pki_types::pem::PemObject;
        let read = |e: rustls_pki_types::pem::Error, p: &Path| LabError::Io {
            context: format!("reading {}", p.display()),
            source: std::io::Error::other(e.to_string()),
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| read(e, cert))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| read(e, cert))?;
        if chain.is_empty() {
            return Err(LabError::Spec(format!(
                "{} holds no certificate",
                cert.display()
            )));
        }
        let PrivateKeyDer::Pkcs8(k) =
            PrivateKeyDer::from_pem_file(key).map_err(|e| read(e, key))?
        else {
            return Err(LabError::Spec(format!(
                "{} is not a PKCS#8 key",
                key.display()
            )));
        };
        let entry = CertAndKey {
            chain,
            key_der: k.secret_pkcs8_der().to_vec(),
        };
        self.loaded.insert(cert.to_path_buf(), entry);
        Ok(())
    }

    /// Issue the server certificate `kind` for `component` unless it exists. Blocking (key
    /// generation).
    pub(crate) fn ensure_server(
        &mut self,
        component: &str,
        kind: ServerCertKind,
    ) -> Result<(), LabError> {
        let key = (component.to_owned(), kind);
        if self.servers.contains_key(&key) {
            return Ok(());
        }
        let cas = &self.cas;
        let now = cas.now;
        let cn = instance_cn(component);
        let base = instance(cn, now - Duration::days(1), now + Duration::days(365 * 10));
        let entry = match kind {
            ServerCertKind::Good => match self.identities.get(cn) {
                Some(id) => CertAndKey {
                    chain: id.chain.clone(),
                    key_der: id.key_der.clone(),
                },
                None => leaf_only(make_leaf(&base, &cas.root)?),
            },
            // Same CA, CN and SANs as the instance certificate, a new key and serial.
            // Valid a year longer than the instance certificate, so that notAfter changes too.
            ServerCertKind::Reissued => leaf_only(make_leaf(
                &LeafSpec {
                    not_after: now + Duration::days(365 * 11),
                    ..base
                },
                &cas.root,
            )?),
            ServerCertKind::Expired => leaf_only(make_leaf(
                &LeafSpec {
                    not_before: now - Duration::days(365),
                    not_after: now - Duration::days(1),
                    ..base
                },
                &cas.root,
            )?),
            ServerCertKind::WrongSan => leaf_only(make_leaf(
                &LeafSpec {
                    sans: WRONG_SANS,
                    ..base
                },
                &cas.root,
            )?),
            ServerCertKind::UnknownCa => leaf_only(make_leaf(&base, &cas.foreign)?),
            // The leaf is issued by the intermediate, but the server sends only the leaf.
            ServerCertKind::MissingIntermediate => leaf_only(make_leaf(&base, &cas.intermediate)?),
            ServerCertKind::CnOnly => leaf_only(make_leaf(
                &LeafSpec {
                    cn: "localhost",
                    sans: &[],
                    ..base
                },
                &cas.root,
            )?),
            ServerCertKind::NoServerEku => leaf_only(make_leaf(
                &LeafSpec {
                    server_auth: false,
                    ..base
                },
                &cas.root,
            )?),
        };
        self.servers.insert(key, entry);
        Ok(())
    }
}

fn leaf_only(leaf: Leaf) -> CertAndKey {
    CertAndKey {
        chain: vec![leaf.der],
        key_der: leaf.key_der,
    }
}

/// The CN TiUP gives an instance certificate of `component`.
pub(crate) fn instance_cn(component: &str) -> &str {
    match component {
        "ticdc" => "cdc",
        other => other,
    }
}

fn instance(cn: &str, not_before: OffsetDateTime, not_after: OffsetDateTime) -> LeafSpec<'_> {
    LeafSpec {
        cn,
        sans: STANDARD_SANS,
        server_auth: true,
        client_auth: true,
        not_before,
        not_after,
    }
}
