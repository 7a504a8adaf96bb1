//! Finding codes: one enum shared by the audit (probe findings) and the lint (static findings).
//! A code serialises as its stable SCREAMING_SNAKE name, which the JSON report, the SARIF rules
//! and the docs use.

use serde::{Serialize, Serializer};

macro_rules! codes {
    ($($variant:ident = $name:literal: $help:literal,)*) => {
        /// A finding's stable code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable name: `CN_NOT_ENFORCED`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }

            /// One sentence on what the code means (rule help in SARIF, the docs' list).
            pub fn help(self) -> &'static str {
                match self {
                    $(Code::$variant => $help,)*
                }
            }
        }
    };
}

codes! {
    // Probe findings (audit).
    CallerNotListed = "CALLER_NOT_LISTED": "A component that needs this link is missing from the endpoint's CN allow-list, so the server refuses it: an outage by configuration.",
    CallerBlocked = "CALLER_BLOCKED": "A caller that should be admitted was refused for another reason than its CN (certificate, CA or protocol).",
    CnNotEnforced = "CN_NOT_ENFORCED": "The endpoint admits a certificate from the cluster CA whose CN its allow-list does not name: the list is not enforced.",
    AnonymousAccepted = "ANONYMOUS_ACCEPTED": "The endpoint admits a caller that sends no client certificate although it should require one.",
    ForeignCaAccepted = "FOREIGN_CA_ACCEPTED": "The endpoint admits a certificate issued by a CA other than the cluster CA.",
    BadCertAccepted = "BAD_CERT_ACCEPTED": "The endpoint admits a client certificate that fails verification (expired, wrong EKU).",
    ListNotEnforcedByDesign = "LIST_NOT_ENFORCED_BY_DESIGN": "An allow-list is configured where the component does not apply it (PD's client port with one entry, exempt status paths).",
    NoAllowList = "NO_ALLOW_LIST": "No CN allow-list is set: any certificate from the cluster CA is admitted.",
    PlaintextEndpoint = "PLAINTEXT_ENDPOINT": "The endpoint speaks plaintext, not TLS.",
    PartialTls = "PARTIAL_TLS": "Some endpoints speak plaintext while others use TLS: TLS is enabled for part of the cluster only, which TiDB does not support.",
    ServerUntrusted = "SERVER_UNTRUSTED": "The server's certificate chain does not verify against the cluster CA for the dialed name (unknown CA, expired, name mismatch, missing intermediate, EKU).",
    CertExpired = "CERT_EXPIRED": "The certificate an endpoint serves has expired.",
    CertExpiring = "CERT_EXPIRING": "The certificate an endpoint serves expires within the warning window.",
    Unreachable = "UNREACHABLE": "The endpoint could not be reached (refused, timed out, unresolvable), so nothing about it was verified.",
    ProtocolError = "PROTOCOL_ERROR": "The endpoint broke the TLS or application protocol.",
    // Static findings (lint and input notes).
    TlsDisabled = "TLS_DISABLED": "The topology does not enable TLS between components.",
    HttpUrlWithTls = "HTTP_URL_WITH_TLS": "A URL setting uses http:// while TLS is enabled: callers will speak plaintext to a TLS port.",
    PdOwnCnNotListed = "PD_OWN_CN_NOT_LISTED": "PD's own certificate CN is missing from its allow-list; PD applies the list to itself as a client and cannot reach its peers.",
    PdSingleCnClientPort = "PD_SINGLE_CN_CLIENT_PORT": "PD's list has a single entry, which PD (v8.4+) does not enforce on its client port 2379.",
    PdMultipleCnBeforeV84 = "PD_MULTIPLE_CN_BEFORE_V8_4": "PD before v8.4 accepts a single CN in cert-allowed-cn and refuses to start with several.",
    TiupClientNotListed = "TIUP_CLIENT_NOT_LISTED": "TiUP's client certificate CN is missing from a list that TiUP needs (TiDB's cluster-verify-cn, PD's list).",
    CaMismatch = "CA_MISMATCH": "Components are configured with different CA files.",
    CertEku = "CERT_EKU": "A component certificate lacks the serverAuth or clientAuth extended key usage it needs.",
    CertNoSans = "CERT_NO_SANS": "A component certificate has no subject alternative names; Go callers ignore the CN and refuse it.",
    CertSanMismatch = "CERT_SAN_MISMATCH": "A component certificate's SANs do not include the address callers dial.",
    CertFileExpired = "CERT_FILE_EXPIRED": "A certificate file on disk has expired.",
    CertFileExpiring = "CERT_FILE_EXPIRING": "A certificate file on disk expires within the warning window.",
    CertFileInvalid = "CERT_FILE_INVALID": "A configured certificate file is not a usable PEM certificate.",
    CertFileUnreadable = "CERT_FILE_UNREADABLE": "A configured certificate file cannot be read on this host.",
    KeyCertMismatch = "KEY_CERT_MISMATCH": "A key file does not match its certificate.",
    KeyUnusable = "KEY_UNUSABLE": "A key file cannot be used (encrypted, unsupported or malformed).",
    KeyFilePermissions = "KEY_FILE_PERMISSIONS": "A private key file is readable by other users.",
    IdentitySkipped = "IDENTITY_SKIPPED": "A certificate was not used as a caller identity because it or its key is unusable.",
    CaKeySkipped = "CA_KEY_SKIPPED": "The CA key was not used to mint the unlisted identity because it is not the CA's key.",
    AddressNotDialable = "ADDRESS_NOT_DIALABLE": "An endpoint has no address callers can dial (it listens on every interface and advertises none).",
    ConfigNotMatched = "CONFIG_NOT_MATCHED": "A component config file matches no instance of the topology.",
    ConfigAppliedToAll = "CONFIG_APPLIED_TO_ALL": "A component config file names no instance address, so it was applied to every instance of its component.",
    TopologySectionNotAudited = "TOPOLOGY_SECTION_NOT_AUDITED": "A topology section names components tlsaudit does not probe.",
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::str::FromStr for Code {
    type Err = String;
    fn from_str(s: &str) -> Result<Code, String> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown finding code {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{c:?} twice");
            assert_eq!(c.as_str().parse::<Code>(), Ok(*c));
            assert!(c.help().ends_with('.'), "{c:?}");
        }
        assert_eq!(
            serde_json::to_string(&Code::CnNotEnforced).unwrap(),
            "\"CN_NOT_ENFORCED\""
        );
    }
}
