//! Finding codes and severities: one enum of codes shared by the audit (probe findings), the lint
//! (static findings) and the TiUP import (its notes), each with its meaning, usual fix and
//! default severity. A code serialises as its stable SCREAMING_SNAKE name, which the JSON
//! report, the SARIF rules and the docs use.

use serde::{Serialize, Serializer};

/// How bad a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

macro_rules! codes {
    ($($variant:ident = $name:literal, $severity:ident: $help:literal fix $fix:literal,)*) => {
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

            /// What the code means (rule help in SARIF, the docs' list).
            pub fn help(self) -> &'static str {
                match self {
                    $(Code::$variant => $help,)*
                }
            }

            /// The usual fix, in general terms (a finding's own fix names the file and key).
            pub fn fix(self) -> &'static str {
                match self {
                    $(Code::$variant => $fix,)*
                }
            }

            /// The severity a finding of this code usually has (some depend on the case).
            pub fn default_severity(self) -> Severity {
                match self {
                    $(Code::$variant => Severity::$severity,)*
                }
            }
        }
    };
}

codes! {
    // Probe findings (audit).
    CnNotEnforced = "CN_NOT_ENFORCED", Critical: "An endpoint admitted a certificate whose Common Name its allow-list does not name: the list is configured but not enforced." fix "Apply the allow-list on the running server (restart it after editing the config) and check the key name for the component.",
    AnonymousAccepted = "ANONYMOUS_ACCEPTED", Critical: "An endpoint admitted a caller without a client certificate where one is required." fix "Require client certificates on the endpoint (the component's CA, cert and key settings, and its allow-list).",
    ForeignCaAccepted = "FOREIGN_CA_ACCEPTED", Critical: "An endpoint admitted a certificate issued by another CA." fix "Point the component's CA setting at the cluster CA only.",
    BadCertAccepted = "BAD_CERT_ACCEPTED", Critical: "An endpoint admitted an expired or wrong-usage certificate." fix "Make the component verify client certificates (validity and extended key usage).",
    CallerNotListed = "CALLER_NOT_LISTED", Critical: "A component that needs the link is missing from the callee's allow-list: an outage." fix "Add the caller's Common Name to the callee's allow-list, then reload the callee.",
    CallerBlocked = "CALLER_BLOCKED", Critical: "A caller the allow-list admits was refused: the running config differs from the file, or the CAs differ." fix "Reload the component with its config, or give every component the same CA.",
    ServerUntrusted = "SERVER_UNTRUSTED", Critical: "The server's certificate chain does not verify for the address callers dial." fix "Reissue the server certificate from the cluster CA with the address in its SANs, within its validity.",
    PlaintextEndpoint = "PLAINTEXT_ENDPOINT", Critical: "The endpoint speaks plaintext." fix "Enable TLS on the component (TiUP: global.enable_tls).",
    PartialTls = "PARTIAL_TLS", Critical: "Some endpoints speak plaintext while others use TLS, which TiDB does not support." fix "Enable TLS on every component.",
    CertExpired = "CERT_EXPIRED", Critical: "An identity's certificate has expired." fix "Reissue the certificate and replace it.",
    CertExpiring = "CERT_EXPIRING", Warning: "A server or identity certificate expires within the warning window." fix "Renew the certificate in time.",
    ListNotEnforcedByDesign = "LIST_NOT_ENFORCED_BY_DESIGN", Warning: "An allow-list has no effect where it is set (PD's client port with one entry, PD before v8.4)." fix "List every caller (PD v8.4 and later), or rely on another control.",
    Unreachable = "UNREACHABLE", Critical: "No probe reached the endpoint: nothing about it was checked, so an audit that lists it does not pass (a warning with --allow-unreachable)." fix "Check the address, the port and the firewall, and that the component runs; or pass --allow-unreachable (allow_unreachable = true under [probe]) where an endpoint is known to be down.",
    ProtocolError = "PROTOCOL_ERROR", Warning: "The endpoint broke the TLS or the application protocol." fix "Check what listens on the port and its TLS settings.",
    NoAllowList = "NO_ALLOW_LIST", Info: "No allow-list is stated for the endpoint and it admits every certificate the CA issued: a warning on TiDB's components when an outsider (unlisted, or an identity declared expect = \"refuse\") got in, info elsewhere." fix "Set the component's allow-list to the callers that need it.",
    ListUnstated = "LIST_UNSTATED", Warning: "The endpoint enforces an allow-list the input does not state: it refused callers of the cluster CA while no list is given. The list as observed (the CNs it admitted) is in the evidence; no caller is blamed." fix "State the list in the inventory (allowed_cn) or the topology, so that every caller is judged against it.",
    IdentityInvalid = "IDENTITY_INVALID", Critical: "One of the audit's own identities (a component's or a tool's certificate) is faulty: not issued by the cluster CA, not yet valid, or without the clientAuth usage. Its refusals are its own fault (verdict bad_identity), not the endpoints' doing." fix "Issue the identity's certificate from the cluster CA with clientAuth, or remove it from the inventory.",
    SqlTlsNotOffered = "SQL_TLS_NOT_OFFERED", Critical: "A SQL port (TiDB 4000, TiProxy 6000) does not offer TLS: its greeting lacks CLIENT_SSL, so clients can only connect in plaintext." fix "Load a server certificate: [security] ssl-cert and ssl-key in tidb.toml (or auto-tls), [security.server-tls] in tiproxy.toml.",
    SqlPlaintextAccepted = "SQL_PLAINTEXT_ACCEPTED", Critical: "A SQL port accepts plaintext logins: the audit account logged in without TLS." fix "Set require-secure-transport = true in tidb.toml's [security] (or the require_secure_transport variable).",
    SqlPlaintextUnknown = "SQL_PLAINTEXT_UNKNOWN", Warning: "Whether a SQL port refuses plaintext is unknown: it checks secure transport after authentication, so a made-up user cannot tell." fix "Give an audit account (--mysql-user and TLSAUDIT_MYSQL_PASSWORD) to compare a TLS and a plaintext login.",
    VantageDisagree = "VANTAGE_DISAGREE", Warning: "Vantage points disagree at an endpoint (a merged report; one finding per endpoint): the same callers got different verdicts depending on where the audit ran, or the vantage points dialed the endpoint at different addresses." fix "A firewall, route or DNS difference between the vantage points: check the network path from the vantage point that fared worse to the endpoint; give the endpoint the same address in every vantage point's inventory.",
    GrpcNoAlpn = "GRPC_NO_ALPN", Critical: "A gRPC endpoint negotiated no ALPN h2: gRPC callers (grpc-go since 1.67, gRPC C-core) refuse the connection with \"missing selected ALPN property\", although a probe by prior knowledge gets through." fix "Serve gRPC with ALPN h2: upgrade the component, or configure the TLS proxy in front of it to negotiate h2.",
    CertNotReloaded = "CERT_NOT_RELOADED", Warning: "An endpoint serves another certificate than the file its component is configured with (cert_file, the cert path of its config, TiUP's <role>.crt): the file was replaced and not reloaded yet, or the server runs with another file." fix "Make the configured file the one the server serves: TiKV re-reads it on a new connection once its mtime changed, the Go components at every handshake; else restart the component.",
    CaRestartRequired = "CA_RESTART_REQUIRED", Warning: "The CA file a component is configured with (ca_file, the CA path of its config) does not hold the CA the running server uses: its chain, the CA names it asks callers for, or callers of the file's CA it refuses show the old CA; components read the CA only at start (critical when a caller of the file's CA is refused)." fix "Restart the component so that it loads the CA file; during a CA rotation keep the old and the new CA in the file until every component serves the new one.",
    RotationNotApplied = "ROTATION_NOT_APPLIED", Warning: "After a rotation (--expect-rotation: the manifest `tlsaudit rotate` wrote), an endpoint serves another certificate than the one the rotation issued for its instance: the new files are not on its host yet, or the instance was not reloaded." fix "Copy the instance's new certificate and key to its host (tiup cluster push, or scp), then reload that instance (tiup cluster reload <cluster> -N <host:port>).",
    // TLS hygiene findings (the scan of an endpoint's versions, suites and certificate).
    TlsVersionObsolete = "TLS_VERSION_OBSOLETE", Warning: "An endpoint accepts TLS 1.0 or 1.1, obsolete since RFC 8996 (TiDB's SQL port does up to v7.5 unless [security] tls-version is set; Go servers built before Go 1.22 do by default)." fix "Raise the minimum version to TLS 1.2: TiDB [security] tls-version = \"TLSv1.2\"; PD, TiCDC and TiDB's status port have no setting (upgrade to a build with Go 1.22 or later); nginx ssl_protocols, etcd --tls-min-version.",
    CipherSuiteInsecure = "CIPHER_SUITE_INSECURE", Critical: "An endpoint accepts an anonymous, NULL, export, RC4, DES or 3DES cipher suite: no server authentication, no encryption, or a cipher broken in practice." fix "Remove the suites from the server's cipher list (nginx ssl_ciphers, etcd --cipher-suites, OpenSSL CipherString); TiDB, PD and TiCDC have no suite setting: upgrade them.",
    CipherSuiteWeak = "CIPHER_SUITE_WEAK", Warning: "An endpoint accepts a CBC suite with a SHA-1 MAC or a static RSA key exchange (no forward secrecy)." fix "Keep ECDHE suites with AES-GCM or ChaCha20-Poly1305 only (nginx ssl_ciphers, etcd --cipher-suites, OpenSSL CipherString).",
    KeyWeak = "KEY_WEAK", Critical: "The served certificate chain holds an RSA key under 2048 bits." fix "Reissue the certificate with an RSA key of 2048 bits or more, or an ECDSA P-256 key.",
    SignatureSha1 = "SIGNATURE_SHA1", Warning: "A certificate of the served chain is signed with SHA-1 or MD5 (a root's own signature aside); Go clients refuse it since Go 1.18." fix "Reissue the certificate signed with SHA-256.",
    // Static findings (lint and the TiDB import).
    TlsDisabled = "TLS_DISABLED", Critical: "global.enable_tls is off: every link is plaintext." fix "tiup cluster tls <name> enable, or enable_tls: true before deploying.",
    HttpUrlWithTls = "HTTP_URL_WITH_TLS", Critical: "An address or URL key says http:// on a TLS instance: \"first record does not look like a TLS handshake\"." fix "Use https://.",
    CaMismatch = "CA_MISMATCH", Critical: "The CA files readable here hold different certificates: \"x509: certificate signed by unknown authority\"." fix "One ca.crt everywhere; restart the components (the CA is read only at start).",
    PdOwnCnNotListed = "PD_OWN_CN_NOT_LISTED", Critical: "PD's cert-allowed-cn lacks PD's own Common Name; PD applies the list to its own peer connections too." fix "Add PD's Common Name to the list.",
    PdMultipleCnBeforeV84 = "PD_MULTIPLE_CN_BEFORE_V8_4", Critical: "PD before v8.4 with several Common Names in cert-allowed-cn refuses to start." fix "Keep one Common Name until v8.4.",
    PdSingleCnClientPort = "PD_SINGLE_CN_CLIENT_PORT", Warning: "With one Common Name, PD v8.4 and later enforces the list on its client port only with more than one entry; before v8.4 never." fix "List every caller on v8.4 and later.",
    ListLacksNeededCn = "LIST_LACKS_NEEDED_CN", Critical: "An allow-list lacks the Common Name of a component present in the cluster that needs the endpoint (raft between TiKV stores, the TiFlash learner's raft, calls to PD, ...): that link fails once the list is applied." fix "Add the component's Common Name to the list, then restart the callee.",
    DashboardNotListed = "DASHBOARD_NOT_LISTED", Warning: "An allow-list lacks PD's Common Name where TiDB Dashboard, which runs inside PD and calls with PD's certificate, needs the endpoint (TiKV and TiFlash gRPC for Search Logs, the status ports for Instance Profiling): the cluster works, those Dashboard pages fail once the list is applied." fix "Add PD's Common Name to the list, then restart the callee (or leave it out where TiDB Dashboard is not used).",
    TiupClientNotListed = "TIUP_CLIENT_NOT_LISTED", Warning: "TiDB's cluster-verify-cn (or an enforced PD list) lacks <cluster>-client: TiUP cannot manage the cluster." fix "Add <cluster>-client to the list.",
    CertEku = "CERT_EKU", Critical: "A component certificate lacks serverAuth or clientAuth (a client certificate lacks clientAuth): \"incompatible key usage\"." fix "Reissue the certificate with both usages.",
    CertNoSans = "CERT_NO_SANS", Critical: "A component certificate has a Common Name and no SANs: Go callers ignore the Common Name." fix "Reissue it with IP and DNS SANs.",
    CertSanMismatch = "CERT_SAN_MISMATCH", Critical: "The certificate's SANs do not cover the host callers dial." fix "Reissue it with the address in its SANs.",
    CertFileExpired = "CERT_FILE_EXPIRED", Critical: "A certificate file (component, client, CA) has expired." fix "Reissue and replace it.",
    CertFileExpiring = "CERT_FILE_EXPIRING", Warning: "A certificate file expires within --expiry-days." fix "Renew it in time.",
    CertFileInvalid = "CERT_FILE_INVALID", Critical: "A certificate path holds no usable PEM certificate." fix "Point the setting at the certificate.",
    CertFileUnreadable = "CERT_FILE_UNREADABLE", Info: "A path named in a config cannot be read here (it is the server's path)." fix "Copy the file here, or lint on that host.",
    KeyCertMismatch = "KEY_CERT_MISMATCH", Critical: "The key file is not the certificate's key (also ca.pem against ca.crt)." fix "Use the matching key.",
    KeyUnusable = "KEY_UNUSABLE", Critical: "The key file holds no usable unencrypted key." fix "Give an unencrypted PEM key.",
    KeyFilePermissions = "KEY_FILE_PERMISSIONS", Warning: "A private key is readable by its group or by everyone." fix "chmod 600 the key file.",
    ExporterPlaintext = "EXPORTER_PLAINTEXT", Info: "TiUP's monitoring agents (node_exporter, blackbox_exporter) answer plaintext HTTP on the cluster's hosts: metrics, not cluster traffic." fix "Firewall the exporter ports to the monitoring hosts, or set ignore_exporter on the instances of a host.",
    TopologySectionNotAudited = "TOPOLOGY_SECTION_NOT_AUDITED", Info: "A topology section is not audited (monitoring, TiSpark, binlog, ...)." fix "Audit it with a tlsaudit.toml if it serves mutual TLS.",
    AddressNotDialable = "ADDRESS_NOT_DIALABLE", Info: "A component config listens on every interface and advertises no address." fix "Set the advertise address, or give the topology.",
    ConfigAppliedToAll = "CONFIG_APPLIED_TO_ALL", Info: "A component config matched no instance address, so it applies to every instance of its component." fix "Set advertise addresses, one file per instance.",
    ConfigNotMatched = "CONFIG_NOT_MATCHED", Warning: "A component config is for a component the topology does not have." fix "Give the right file or topology.",
    UnknownKey = "UNKNOWN_KEY", Critical: "A key the component (or TiUP) does not know, in a section tlsaudit knows (a TLS key with another component's spelling, a misspelled instance field): the setting has no effect." fix "Rename it to the key the finding suggests, or remove it.",
    CnCaseMismatch = "CN_CASE_MISMATCH", Critical: "An allow-list entry matches a certificate's Common Name only when case is ignored; the components compare exactly, so the caller is refused." fix "Write the Common Name exactly as the certificate has it.",
    CnTypo = "CN_TYPO", Warning: "An allow-list entry that no certificate of the cluster has is within two edits (case ignored) of a component's Common Name (tibd for tidb): the list refuses the component it was meant for." fix "Write the component's Common Name in place of the typo, in the layer that sets the list.",
    AllowListEmptied = "ALLOW_LIST_EMPTIED", Critical: "An instance's own config sets an empty allow-list, switching the Common Name check off on that instance." fix "Remove the per-instance empty list, or list the callers there.",
    IdentitySkipped = "IDENTITY_SKIPPED", Warning: "A certificate and key pair cannot be used as a caller of the audit." fix "See its lint findings.",
    K8sSharedCn = "K8S_SHARED_CN", Critical: "Every component certificate of a TiDB Operator cluster (and the shared client one) has the same Common Name, as the operator's documentation issues them (commonName: TiDB): no cert-allowed-cn can tell TiDB from TiKV, PD or the client, so an allow-list admits every certificate of the CA or none." fix "Issue each component's Certificate with its own commonName (pd, tikv, tidb, ...) and the client's with another, then list in spec.<component>.config the Common Names of the components that call it.",
    K8sSecretMissing = "K8S_SECRET_MISSING", Warning: "A Secret the TiDB Operator cluster needs (<cluster>-<component>-cluster-secret, <cluster>-cluster-client-secret) was not found where the Secrets were given: that component is not a caller of the audit." fix "Create the Secret (a cert-manager Certificate with that secretName), or mount it into the audit's pod.",
    K8sCertUsages = "K8S_CERT_USAGES", Critical: "A cert-manager Certificate of a TiDB Operator cluster (--manifest) lacks the usages its Secret needs: a component's both server auth and client auth (it serves and calls with one certificate), the shared client's client auth." fix "Set spec.usages to [server auth, client auth] (the client: [client auth]) and let cert-manager reissue the Secret.",
    K8sCertDnsNames = "K8S_CERT_DNS_NAMES", Warning: "A component's cert-manager Certificate (--manifest) does not cover the pod names callers dial (<pod>.<cluster>-<component>-peer.<namespace>.svc): they refuse its certificate." fix "Add the peer service's wildcard (*.<cluster>-<component>-peer.<namespace>.svc) to spec.dnsNames.",
    K8sCertRenewal = "K8S_CERT_RENEWAL", Warning: "A cert-manager Certificate's renewBefore (--manifest) is not shorter than its duration: cert-manager reissues it at every reconcile." fix "Make spec.renewBefore shorter than spec.duration (the operator's examples: 8760h and 360h).",
    CaKeySkipped = "CA_KEY_SKIPPED", Warning: "ca.pem is not the CA's key: the audit has no unlisted identity." fix "Put the CA's key there.",
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

impl<'de> serde::Deserialize<'de> for Code {
    /// By the stable name (a saved or merged report); an unknown name is an error.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
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
            assert!(c.fix().ends_with('.'), "{c:?}");
        }
        assert_eq!(
            serde_json::to_string(&Code::CnNotEnforced).unwrap(),
            "\"CN_NOT_ENFORCED\""
        );
        assert_eq!(
            serde_json::from_str::<Code>("\"VANTAGE_DISAGREE\"").unwrap(),
            Code::VantageDisagree
        );
        assert!(serde_json::from_str::<Code>("\"NO_SUCH_CODE\"").is_err());
    }
}
