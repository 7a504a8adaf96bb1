//! Issuing certificates with rcgen: a new CA or an existing one (certificate and key), and
//! leaves signed by it, as PEM (instance certificates: CN = the component name as TiUP uses
//! it, SANs = the instance's addresses plus `localhost` and `127.0.0.1`, serverAuth and
//! clientAuth; TiUP's client certificate) or as an in-memory [`crate::pki::Identity`]. The one
//! signer of the engine: the audit's extra identities (`foreign`, `unlisted`, the minted
//! ones), `remedy::init` and `remedy::rotate`. Keys are ECDSA P-256, PKCS#8 PEM; they are
//! never logged or printed.

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
        let (cert, key) = self.sign(cn, sans, server_auth, days)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
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
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(rcgen_err("sign a certificate"))?;
        Ok((cert, key))
    }
}
