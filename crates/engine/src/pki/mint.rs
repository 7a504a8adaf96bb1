//! Issuing certificates with rcgen: a new CA or an existing one (certificate and key), and
//! leaves signed by it, as PEM (instance certificates: CN = the component name as TiUP uses
//! it, SANs = the instance's addresses plus `localhost` and `127.0.0.1`, serverAuth and
//! clientAuth; TiUP's client certificate) or as an in-memory [`crate::pki::Identity`]. The one
//! signer of the engine: the audit's extra identities (`foreign`, `unlisted`, the minted
//! ones), `remedy::init` and `remedy::rotate`, and `tlsaudit mint` (the outsiders ahead of time:
//! [`foreign`], [`unlisted_cn`], written by [`Issued::write`]). Keys are ECDSA P-256, PKCS#8
//! PEM; they are never logged or printed, and written only 0600.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

use crate::error::InputError;

/// A CA that signs.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub pem: String,
    /// The key, PEM, only for a CA made here (to be written once, 0600).
    pub new_key_pem: Option<String>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

/// An issued certificate and its key, PEM.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    /// The end of its validity.
    pub not_after: OffsetDateTime,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued").finish_non_exhaustive()
    }
}

fn rcgen_err(what: &str) -> impl Fn(rcgen::Error) -> InputError + '_ {
    move |e| InputError::usage(format!("cannot {what}: {e}"), "report this as a bug")
}

impl Ca {
    /// A new CA for `cluster`, valid `years`.
    pub fn generate(cluster: &str, years: i64) -> Result<Ca, InputError> {
        let key = KeyPair::generate().map_err(rcgen_err("generate the CA key"))?;
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(rcgen_err("make the CA"))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "tlsaudit init");
        dn.push(DnType::OrganizationalUnitName, cluster);
        // Never a component name: TiCDC matches every CN of the chain against its list.
        dn.push(DnType::CommonName, format!("{cluster} cluster CA"));
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(365 * years);
        let cert = params.self_signed(&key).map_err(rcgen_err("sign the CA"))?;
        let key_pem = key.serialize_pem();
        Ok(Ca {
            pem: cert.pem(),
            new_key_pem: Some(key_pem),
            issuer: Issuer::new(params, key),
        })
    }

    /// An existing CA: its certificate and its key (PKCS#8, SEC1 or PKCS#1 PEM; TiUP's `ca.pem`).
    pub fn load(cert: &Path, key: &Path) -> Result<Ca, InputError> {
        let chain = crate::pki::load::load_certs(cert, crate::pki::load::CertRole::Ca)?;
        let Some(der) = chain.first() else {
            return Err(InputError::file(
                cert,
                "holds no certificate",
                "give the CA certificate (ca.crt)",
            ));
        };
        let key_der = crate::pki::load::load_key(key)?;
        let pair = KeyPair::try_from(&key_der).map_err(|e| {
            InputError::file(
                key,
                format!("is not a key rcgen can sign with ({e})"),
                "give the CA's private key as PEM (openssl pkcs8 -topk8 -nocrypt converts it)",
            )
        })?;
        let (_, parsed) = x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| {
            InputError::file(
                cert,
                format!("cannot be parsed: {e}"),
                "give the CA certificate",
            )
        })?;
        if !parsed.is_ca() {
            return Err(InputError::file(
                cert,
                "is not a CA certificate (no basicConstraints CA:TRUE)",
                "give the cluster CA's certificate, not a leaf",
            ));
        }
        if parsed.public_key().subject_public_key.data.as_ref() != pair.public_key_raw() {
            return Err(InputError::file(
                key,
                format!("is not the key of {}", cert.display()),
                "give the key that belongs to the CA certificate (TiUP keeps it in ca.pem)",
            ));
        }
        let issuer = Issuer::from_ca_cert_der(der, pair).map_err(|e| {
            InputError::file(
                cert,
                format!("cannot be used to sign: {e}"),
                "give the CA certificate",
            )
        })?;
        let pem = crate::fsutil::read_text_capped(cert, crate::fsutil::MAX_PEM)?;
        Ok(Ca {
            issuer,
            pem,
            new_key_pem: None,
        })
    }

    /// A leaf: `cn`, `sans` (IP addresses become IP SANs), server and/or client auth, valid
    /// `days` from an hour ago.
    pub fn issue(
        &self,
        cn: &str,
        sans: &[String],
        server_auth: bool,
        days: i64,
    ) -> Result<Issued, InputError> {
        let (cert, key, not_after) = self.sign_until(cn, sans, server_auth, days)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            not_after,
        })
    }

    /// The same leaf as [`Ca::issue`], kept in memory as an identity the audit calls with
    /// (`name`): nothing is written, the key never leaves the process.
    pub fn identity(
        &self,
        name: &str,
        cn: &str,
        sans: &[String],
        server_auth: bool,
        days: i64,
    ) -> Result<crate::pki::Identity, InputError> {
        let (cert, key) = self.sign(cn, sans, server_auth, days)?;
        let bug = |e: String| {
            InputError::usage(
                format!("cannot use the certificate issued for {name}: {e}"),
                "report this as a bug",
            )
        };
        let key_der = rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der())
            .map_err(|e| bug(e.to_string()))?;
        crate::pki::Identity::from_der(name, vec![cert.der().clone()], key_der)
            .map_err(|e| bug(e.to_string()))
    }

    fn sign(
        &self,
        cn: &str,
        sans: &[String],
        server_auth: bool,
        days: i64,
    ) -> Result<(rcgen::Certificate, KeyPair), InputError> {
        self.sign_until(cn, sans, server_auth, days)
            .map(|(cert, key, _)| (cert, key))
    }

    /// [`Ca::sign`], with the end of the leaf's validity.
    fn sign_until(
        &self,
        cn: &str,
        sans: &[String],
        server_auth: bool,
        days: i64,
    ) -> Result<(rcgen::Certificate, KeyPair, OffsetDateTime), InputError> {
        let key = KeyPair::generate().map_err(rcgen_err("generate a key"))?;
        let mut params = CertificateParams::new(sans.to_vec()).map_err(|e| {
            InputError::usage(
                format!("cannot put {sans:?} in a certificate: {e}"),
                "give the instance a host name or IP address",
            )
        })?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = if server_auth {
            vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ]
        } else {
            vec![ExtendedKeyUsagePurpose::ClientAuth]
        };
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(days);
        let not_after = params.not_after;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(rcgen_err("sign a certificate"))?;
        Ok((cert, key, not_after))
    }
}

/// The `foreign` identity: a client certificate with CN `cn` (one the lists name, so that only
/// the CA check can refuse it) from a throwaway CA made here and dropped: nobody can issue from
/// that CA again, and no server of the cluster trusts it.
pub fn foreign(cn: &str, days: i64) -> Result<Issued, InputError> {
    // The throwaway CA outlives the leaf, so that the leaf is refused for its CA only.
    Ca::generate("tlsaudit throwaway", days / 365 + 1)?.issue(cn, &[], false, days)
}

/// The CN of the `unlisted` identity: `tlsaudit-unlisted`, lengthened with `x` until no entry
/// of `listed` (the allow-lists) names it.
pub fn unlisted_cn<'a>(listed: impl IntoIterator<Item = &'a str>) -> String {
    let listed: Vec<&str> = listed.into_iter().collect();
    let mut cn = "tlsaudit-unlisted".to_string();
    while listed.contains(&cn.as_str()) {
        cn.push('x');
    }
    cn
}

impl Issued {
    /// Write the certificate to `cert` (0644) and the key to `key` (created 0600, never wider,
    /// even for a moment). Each appears complete or not at all (a temporary file beside it,
    /// then a link or a rename). An existing file is replaced only with `force`; a symlink or a
    /// folder never is. Check every target with [`check_target`] before writing the first.
    pub fn write(&self, cert: &Path, key: &Path, force: bool) -> Result<(), InputError> {
        write_file(cert, &self.cert_pem, 0o644, force)?;
        write_file(key, &self.key_pem, 0o600, force)
    }
}

/// Whether `path` may be written: nothing there, or (with `force`) a regular file; never a
/// symlink (even dangling) or a folder.
pub fn check_target(path: &Path, force: bool) -> Result<(), InputError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            Err(crate::fsutil::WriteError::Symlink(path.to_path_buf()).into())
        }
        Ok(m) if !m.is_file() => Err(crate::fsutil::WriteError::Directory(path.to_path_buf()).into()),
        Ok(_) if !force => Err(InputError::file(
            path,
            "already exists",
            "pass --force to replace it (re-minting before it expires), or choose another --out folder",
        )),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(InputError::io(path, &e)),
    }
}

/// Write `text` to `path` with `mode`, through the one atomic write ([`crate::fsutil`]): a new
/// file appears complete or not at all (and fails if the name was taken meanwhile); with
/// `force`, an existing regular file is replaced.
fn write_file(path: &Path, text: &str, mode: u32, force: bool) -> Result<(), InputError> {
    use crate::fsutil::{write_atomic_mode, write_new_mode, WriteError};
    check_target(path, force)?;
    let written = if path.exists() {
        write_atomic_mode(path, text.as_bytes(), mode)
    } else {
        write_new_mode(path, text.as_bytes(), mode)
    };
    written.map_err(|e| match e {
        WriteError::Exists(_) => {
            InputError::file(path, "appeared while it was written", "run again")
        }
        other => other.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_unlisted_cn_is_on_no_list() {
        assert_eq!(unlisted_cn([]), "tlsaudit-unlisted");
        let listed = ["tidb", "tlsaudit-unlisted", "tlsaudit-unlistedx"];
        assert_eq!(unlisted_cn(listed), "tlsaudit-unlistedxx");
    }

    #[test]
    fn a_foreign_leaf_is_refused_by_the_cluster_ca() {
        let cluster = Ca::generate("c", 1).unwrap();
        let issued = foreign("tidb", 30).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (c, k, ca) = (
            dir.path().join("f.crt"),
            dir.path().join("f.key"),
            dir.path().join("ca.crt"),
        );
        issued.write(&c, &k, false).unwrap();
        std::fs::write(&ca, &cluster.pem).unwrap();
        let id = crate::pki::Identity::load("foreign", &c, &k).unwrap();
        assert_eq!(id.cn(), Some("tidb"));
        let check = id.check(&crate::pki::Trust::load(&ca).unwrap());
        assert!(!check.chains_to_ca, "{check:?}");
        let days = (issued.not_after - OffsetDateTime::now_utc()).whole_days();
        assert!((29..=30).contains(&days), "{days}");
    }

    #[test]
    fn keys_are_written_0600_and_never_over_a_file_without_force() {
        let ca = Ca::generate("c", 1).unwrap();
        let issued = ca.issue("tikv", &[], true, 7).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = (dir.path().join("tikv.crt"), dir.path().join("tikv.key"));
        issued.write(&c, &k, false).unwrap();
        assert_eq!(mode(&k), 0o600);
        assert_eq!(mode(&c) & 0o600, 0o600);
        let e = issued.write(&c, &k, false).unwrap_err().to_string();
        assert!(e.contains("already exists") && e.contains("--force"), "{e}");
        let again = ca.issue("tikv", &[], true, 7).unwrap();
        again.write(&c, &k, true).unwrap();
        assert_eq!(std::fs::read_to_string(&k).unwrap(), again.key_pem);
        assert_eq!(mode(&k), 0o600);
        // Nothing is left behind but the two files.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_symlink_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("x.key");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(check_target(&link, true).is_err());
        let issued = Ca::generate("c", 1)
            .unwrap()
            .issue("x", &[], false, 1)
            .unwrap();
        assert!(issued
            .write(&dir.path().join("x.crt"), &link, true)
            .is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }
}
