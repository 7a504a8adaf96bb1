//! The scan's ClientHello, built by hand: rustls cannot offer TLS 1.0/1.1 or the suites the
//! scan must find, and no full handshake is needed (the ServerHello, a HelloRetryRequest or an
//! alert answers the question). One hello per question: a version, the suites offered, the
//! groups offered.
//!
//! A TLS 1.0-1.2 hello says its version in `legacy_version` and carries no
//! `supported_versions`; a TLS 1.3 hello says 1.2 there and offers only 1.3 in
//! `supported_versions`, with an empty `key_share`: the server answers with a
//! HelloRetryRequest naming the suite and the group it picked (RFC 8446, 4.1.4), so no key is
//! ever computed.

use serde::{Deserialize, Serialize};

/// A protocol version the scan asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Version {
    #[serde(rename = "TLS 1.0")]
    Tls10,
    #[serde(rename = "TLS 1.1")]
    Tls11,
    #[serde(rename = "TLS 1.2")]
    Tls12,
    #[serde(rename = "TLS 1.3")]
    Tls13,
}

impl Version {
    /// Oldest first.
    pub const ALL: [Version; 4] = [
        Version::Tls10,
        Version::Tls11,
        Version::Tls12,
        Version::Tls13,
    ];

    /// The code point on the wire.
    pub fn wire(self) -> u16 {
        match self {
            Version::Tls10 => 0x0301,
            Version::Tls11 => 0x0302,
            Version::Tls12 => 0x0303,
            Version::Tls13 => 0x0304,
        }
    }

    /// `TLS 1.2`.
    pub fn name(self) -> &'static str {
        match self {
            Version::Tls10 => "TLS 1.0",
            Version::Tls11 => "TLS 1.1",
            Version::Tls12 => "TLS 1.2",
            Version::Tls13 => "TLS 1.3",
        }
    }

    /// Obsolete since RFC 8996 (TLS 1.0 and 1.1).
    pub fn is_obsolete(self) -> bool {
        matches!(self, Version::Tls10 | Version::Tls11)
    }
}

/// The groups a TLS 1.0-1.2 hello offers for ECDHE (the curves sslyze and OpenSSL know).
pub const LEGACY_GROUPS: [u16; 9] = [29, 23, 24, 25, 30, 26, 27, 28, 22];

/// The groups a TLS 1.3 hello offers: the ECDHE and finite-field groups of RFC 8446 and the
/// hybrid post-quantum group current servers prefer.
pub const TLS13_GROUPS: [u16; 11] = [
    0x11ec, 29, 23, 24, 25, 30, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104,
];

/// The IANA name of a group (`x25519`, `secp256r1`, `X25519MLKEM768`).
pub fn group_name(g: u16) -> String {
    let known = match g {
        22 => "secp256k1",
        23 => "secp256r1",
        24 => "secp384r1",
        25 => "secp521r1",
        26 => "brainpoolP256r1",
        27 => "brainpoolP384r1",
        28 => "brainpoolP512r1",
        29 => "x25519",
        30 => "x448",
        0x0100 => "ffdhe2048",
        0x0101 => "ffdhe3072",
        0x0102 => "ffdhe4096",
        0x0103 => "ffdhe6144",
        0x0104 => "ffdhe8192",
        0x11ec => "X25519MLKEM768",
        _ => return format!("0x{g:04x}"),
    };
    known.to_string()
}

/// Signature algorithms offered: every common one, SHA-1 included (the scan asks what the
/// server accepts, not what is safe).
const SIGNATURE_ALGORITHMS: [u16; 17] = [
    0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0809, 0x080a, 0x080b, 0x0401,
    0x0501, 0x0601, 0x0201, 0x0203, 0x0202,
];

/// One hello: what it offers.
#[derive(Debug, Clone)]
pub struct Hello<'a> {
    pub version: Version,
    pub suites: &'a [u16],
    pub groups: &'a [u16],
    /// The server name (SNI), for a host name (never an IP address).
    pub server_name: Option<&'a str>,
}

fn push_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// `body` behind a length of `width` bytes (1, 2 or 3), big-endian.
fn with_len(width: usize, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes();
    let mut out = len[4 - width..].to_vec();
    out.extend_from_slice(body);
    out
}

fn u16_list(items: &[u16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.len() * 2);
    for i in items {
        push_u16(&mut out, *i);
    }
    out
}

fn extension(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    push_u16(out, kind);
    out.extend_from_slice(&with_len(2, body));
}

/// The extensions of a hello.
fn extensions(h: &Hello<'_>) -> Vec<u8> {
    let mut ext = Vec::new();
    if let Some(name) = h.server_name {
        let mut entry = vec![0u8];
        entry.extend_from_slice(&with_len(2, name.as_bytes()));
        extension(&mut ext, 0, &with_len(2, &entry));
    }
    extension(&mut ext, 10, &with_len(2, &u16_list(h.groups)));
    extension(&mut ext, 11, &with_len(1, &[0]));
    extension(&mut ext, 13, &with_len(2, &u16_list(&SIGNATURE_ALGORITHMS)));
    // extended_master_secret and renegotiation_info (empty): what every current client sends.
    extension(&mut ext, 23, &[]);
    extension(&mut ext, 0xff01, &[0]);
    if h.version == Version::Tls13 {
        extension(&mut ext, 43, &with_len(1, &u16_list(&[0x0304])));
        // psk_key_exchange_modes (psk_dhe_ke): some servers want it with every 1.3 hello.
        extension(&mut ext, 45, &with_len(1, &[1]));
        // key_share with no share: the server must ask again (HelloRetryRequest).
        extension(&mut ext, 51, &with_len(2, &[]));
    }
    ext
}

/// The ClientHello record for `h`, with `random` as its random and (TLS 1.3) session id.
pub fn client_hello(h: &Hello<'_>, random: &[u8; 32]) -> Vec<u8> {
    let legacy = if h.version == Version::Tls13 {
        Version::Tls12
    } else {
        h.version
    };
    let mut body = Vec::with_capacity(64 + h.suites.len() * 2);
    push_u16(&mut body, legacy.wire());
    body.extend_from_slice(random);
    // TLS 1.3 middlebox compatibility: a 32-byte legacy session id (RFC 8446, D.4).
    let session: &[u8] = if h.version == Version::Tls13 {
        random
    } else {
        &[]
    };
    body.extend_from_slice(&with_len(1, session));
    body.extend_from_slice(&with_len(2, &u16_list(h.suites)));
    body.extend_from_slice(&with_len(1, &[0]));
    body.extend_from_slice(&with_len(2, &extensions(h)));
    let mut handshake = vec![1u8];
    handshake.extend_from_slice(&with_len(3, &body));
    // The record says TLS 1.0: what clients send for compatibility with old servers.
    let mut record = vec![22u8, 0x03, 0x01];
    record.extend_from_slice(&with_len(2, &handshake));
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use tls_parser::{parse_tls_plaintext, TlsMessage, TlsMessageHandshake};

    /// The hello parses with tls-parser as a ClientHello offering what was asked.
    #[test]
    fn the_hello_is_a_well_formed_client_hello() {
        for version in Version::ALL {
            let h = Hello {
                version,
                suites: &[0x1301, 0xc02b, 0x000a],
                groups: &[29, 23],
                server_name: Some("pd.example"),
            };
            let bytes = client_hello(&h, &[7; 32]);
            let (rest, rec) = parse_tls_plaintext(&bytes).unwrap();
            assert!(rest.is_empty());
            let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) = &rec.msg[0] else {
                panic!("{:?}", rec.msg);
            };
            let legacy = if version == Version::Tls13 {
                0x0303
            } else {
                version.wire()
            };
            assert_eq!(ch.version.0, legacy);
            let offered: Vec<u16> = ch.ciphers.iter().map(|c| c.0).collect();
            assert_eq!(offered, [0x1301, 0xc02b, 0x000a]);
            let (_, exts) = tls_parser::parse_tls_client_hello_extensions(ch.ext.unwrap()).unwrap();
            let has_versions = exts
                .iter()
                .any(|e| matches!(e, tls_parser::TlsExtension::SupportedVersions(_)));
            assert_eq!(has_versions, version == Version::Tls13);
        }
        assert_eq!(group_name(29), "x25519");
        assert_eq!(group_name(0xabcd), "0xabcd");
    }
}
