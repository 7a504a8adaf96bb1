//! The cipher-suite catalogue of the scan and the judgment of one suite. The catalogue is
//! tls-parser's table (`TlsCipherSuite`, generated from the IANA TLS Cipher Suite Registry,
//! with each suite's key exchange, authentication, cipher, mode and MAC): nothing here lists
//! suites by hand except the five TLS 1.3 ones the scan offers.
//!
//! A suite is judged by its parts, not by its name (the export suites aside, which the table
//! marks in the name only):
//! - insecure (critical): anonymous key exchange (no authentication of the server), NULL
//!   encryption, export grade, RC4, single DES and 3DES (Sweet32);
//! - weak (warning): CBC with a SHA-1 or MD5 MAC (Lucky13 and the padding-oracle family), and
//!   static RSA key exchange (no forward secrecy, ROBOT).

use serde::{Deserialize, Serialize};
use tls_parser::{TlsCipherAu, TlsCipherEnc, TlsCipherEncMode, TlsCipherKx, TlsCipherMac};
use tls_parser::{TlsCipherSuite, CIPHERS};

/// The TLS 1.3 suites of RFC 8446 (section B.4), in its order: the ones a TLS 1.3 server can
/// pick (the later AEGIS and integrity-only drafts are left out, as sslyze does).
pub const TLS13_SUITES: [u16; 5] = [0x1301, 0x1302, 0x1303, 0x1304, 0x1305];

/// Signalling values, not suites: the renegotiation SCSV and the fallback SCSV.
const SIGNALS: [u16; 2] = [0x00ff, 0x5600];

/// Why a suite is unsafe, one part at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weakness {
    /// No server authentication (`anon`): anyone in the path can take the server's place.
    Anonymous,
    /// No encryption at all.
    NullCipher,
    /// Export grade (40- or 56-bit keys, FREAK and Logjam).
    Export,
    /// RC4 (RFC 7465 prohibits it).
    Rc4,
    /// Single DES (56-bit keys).
    Des,
    /// 3DES, a 64-bit block (Sweet32).
    TripleDes,
    /// CBC mode with an HMAC of SHA-1 or MD5 (MAC-then-encrypt: Lucky13, padding oracles).
    CbcSha1,
    /// RSA key transport: no forward secrecy (a stolen key decrypts recorded traffic; ROBOT).
    StaticRsa,
    /// A weakness a later version of tlsaudit named, read back from its report.
    #[serde(other)]
    Other,
}

impl Weakness {
    /// Critical (the suite must go) or only a warning (it should).
    pub fn is_insecure(self) -> bool {
        !matches!(
            self,
            Weakness::CbcSha1 | Weakness::StaticRsa | Weakness::Other
        )
    }

    /// In words, for findings.
    pub fn words(self) -> &'static str {
        match self {
            Weakness::Anonymous => "anonymous key exchange",
            Weakness::NullCipher => "NULL encryption",
            Weakness::Export => "export grade",
            Weakness::Rc4 => "RC4",
            Weakness::Des => "single DES",
            Weakness::TripleDes => "3DES (64-bit block, Sweet32)",
            Weakness::CbcSha1 => "CBC with a SHA-1/MD5 MAC",
            Weakness::StaticRsa => "static RSA key exchange (no forward secrecy)",
            Weakness::Other => "a weakness this version does not know",
        }
    }
}

/// The table's entry for `id`, if IANA assigned it.
fn entry(id: u16) -> Option<&'static TlsCipherSuite> {
    TlsCipherSuite::from_id(id)
}

/// The IANA name of a suite (`TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`), or its code point in
/// hex when IANA has none (`0x1234`).
pub fn name(id: u16) -> String {
    entry(id).map_or_else(|| format!("0x{id:04x}"), |s| s.name.to_string())
}

/// What is wrong with a suite, worst first; empty for a sound suite (or one the table lacks).
pub fn weaknesses(id: u16) -> Vec<Weakness> {
    let Some(s) = entry(id) else {
        return Vec::new();
    };
    let mut w = Vec::new();
    let anonymous = s.au == TlsCipherAu::Null && !matches!(s.kx, TlsCipherKx::Null);
    let checks = [
        (anonymous, Weakness::Anonymous),
        (s.enc == TlsCipherEnc::Null, Weakness::NullCipher),
        (s.name.contains("EXPORT"), Weakness::Export),
        (s.enc == TlsCipherEnc::Rc4, Weakness::Rc4),
        (s.enc == TlsCipherEnc::Des, Weakness::Des),
        (s.enc == TlsCipherEnc::TripleDes, Weakness::TripleDes),
        (
            s.enc_mode == TlsCipherEncMode::Cbc
                && matches!(s.mac, TlsCipherMac::HmacSha1 | TlsCipherMac::HmacMd5),
            Weakness::CbcSha1,
        ),
        (s.kx == TlsCipherKx::Rsa, Weakness::StaticRsa),
    ];
    w.extend(checks.iter().filter(|(c, _)| *c).map(|(_, k)| *k));
    w
}

/// Whether a suite needs TLS 1.2 (an AEAD, or a SHA-2 MAC or PRF): a TLS 1.0/1.1 hello
/// does not offer it, as no such client would.
fn needs_tls12(s: &TlsCipherSuite) -> bool {
    matches!(
        s.mac,
        TlsCipherMac::Aead
            | TlsCipherMac::HmacSha256
            | TlsCipherMac::HmacSha384
            | TlsCipherMac::HmacSha512
    ) || matches!(s.enc_mode, TlsCipherEncMode::Gcm | TlsCipherEncMode::Ccm)
}

/// The suites a TLS 1.0-1.2 hello offers (`tls12`: with the TLS 1.2-only ones), by code
/// point: every suite of the table but the TLS 1.3 ones and the signalling values.
pub fn legacy_catalogue(tls12: bool) -> Vec<u16> {
    let mut ids: Vec<u16> = CIPHERS
        .values()
        .filter(|s| s.kx != TlsCipherKx::Tls13 && !SIGNALS.contains(&s.id.0))
        .filter(|s| tls12 || !needs_tls12(s))
        .map(|s| s.id.0)
        .collect();
    ids.sort_unstable();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> u16 {
        TlsCipherSuite::from_name(name).unwrap().id.0
    }

    #[test]
    fn suites_are_judged_by_their_parts() {
        let w = |n: &str| weaknesses(id(n));
        assert_eq!(w("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"), []);
        assert_eq!(w("TLS_AES_128_GCM_SHA256"), []);
        assert_eq!(
            w("TLS_ECDH_anon_WITH_AES_128_CBC_SHA"),
            [Weakness::Anonymous, Weakness::CbcSha1]
        );
        assert_eq!(
            w("TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
            [Weakness::TripleDes, Weakness::CbcSha1, Weakness::StaticRsa]
        );
        assert_eq!(
            w("TLS_RSA_EXPORT_WITH_RC4_40_MD5"),
            [Weakness::Export, Weakness::Rc4, Weakness::StaticRsa]
        );
        assert_eq!(
            w("TLS_RSA_WITH_NULL_SHA256"),
            [Weakness::NullCipher, Weakness::StaticRsa]
        );
        assert_eq!(w("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"), [Weakness::CbcSha1]);
        assert_eq!(w("TLS_RSA_WITH_AES_128_GCM_SHA256"), [Weakness::StaticRsa]);
        assert_eq!(w("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"), []);
        assert!(Weakness::Rc4.is_insecure() && !Weakness::CbcSha1.is_insecure());
    }

    #[test]
    fn the_catalogue_is_the_iana_table_by_version() {
        let all = legacy_catalogue(true);
        let old = legacy_catalogue(false);
        assert!(all.len() > 300, "{}", all.len());
        assert!(old.len() < all.len() && old.len() > 100);
        let gcm = id("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert!(all.contains(&gcm) && !old.contains(&gcm));
        assert!(old.contains(&id("TLS_RSA_WITH_AES_128_CBC_SHA")));
        assert!(!all.contains(&0x00ff) && !all.contains(&0x1301));
        assert_eq!(name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(name(0xfefe), "0xfefe");
    }
}
