//! Expected result of each cell, from the callee's allow-list and its component profile, and the
//! verdict that compares it with what was observed.

use serde::Serialize;

use super::identity::{AuditIdentity, IdentityKind};
use crate::inventory::Endpoint;
use crate::pki::Trust;
use crate::probe::{OutcomeClass, ProbeRecord, Protocol};
use crate::profile::{self, CertPolicy, ClientAuth, CnMatch};

/// What the configuration says should happen to one identity at one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Expected {
    /// The endpoint's configuration admits this identity.
    pub allow: bool,
    /// The identity's component needs this link for the cluster to work.
    pub needed: bool,
    /// Why, in words.
    pub reason: String,
    /// A deny that holds only if the server asks for the certificate (SQL ports ask only with a
    /// client CA): an identity admitted without sending it is not a finding.
    #[serde(skip, default)]
    pub deny_only_if_sent: bool,
}

/// A cell's verdict.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Expected allow, accepted over a verified chain.
    Secure,
    /// Expected deny, rejected.
    Enforced,
    /// Expected deny, accepted: the allow-list is not enforced (security finding).
    Open,
    /// Expected allow (or needed), rejected (outage finding).
    Blocked,
    /// The endpoint speaks plaintext.
    Unencrypted,
    /// The server chain does not verify for the dialed address.
    Untrusted,
    /// Refused or timed out.
    Unreachable,
    /// Reset, protocol error or no common TLS parameters.
    Error,
}

impl Verdict {
    pub const ALL: [Verdict; 8] = [
        Verdict::Secure,
        Verdict::Enforced,
        Verdict::Open,
        Verdict::Blocked,
        Verdict::Unencrypted,
        Verdict::Untrusted,
        Verdict::Unreachable,
        Verdict::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Secure => "secure",
            Verdict::Enforced => "enforced",
            Verdict::Open => "open",
            Verdict::Blocked => "blocked",
            Verdict::Unencrypted => "unencrypted",
            Verdict::Untrusted => "untrusted",
            Verdict::Unreachable => "unreachable",
            Verdict::Error => "error",
        }
    }

    /// A one-character symbol that stays distinct without colour.
    pub fn symbol(self) -> char {
        match self {
            Verdict::Secure => '+',
            Verdict::Enforced => '-',
            Verdict::Open => '!',
            Verdict::Blocked => 'X',
            Verdict::Unencrypted => 'P',
            Verdict::Untrusted => 'U',
            Verdict::Unreachable => '?',
            Verdict::Error => 'E',
        }
    }

    /// Whether the cell is a problem.
    pub fn is_failing(self) -> bool {
        !matches!(self, Verdict::Secure | Verdict::Enforced)
    }

    /// How bad a verdict is (1 to 8), for the worst of several cells (a folded row of the
    /// dashboard, the vantage points of a merged report), by the severity of the finding the
    /// audit makes of it: `open` and `blocked` (critical, about this very caller: a hole, an
    /// outage) beat `untrusted` and `unencrypted` (critical, about the endpoint whoever calls),
    /// which beat `error` and `unreachable` (warnings), then `enforced` and `secure`.
    pub fn badness(self) -> u8 {
        match self {
            Verdict::Secure => 1,
            Verdict::Enforced => 2,
            Verdict::Unreachable => 3,
            Verdict::Error => 4,
            Verdict::Unencrypted => 5,
            Verdict::Untrusted => 6,
            Verdict::Blocked => 7,
            Verdict::Open => 8,
        }
    }
}

/// The CNs an endpoint's allow-list sees for an identity.
fn visible_cns<'a>(id: &'a AuditIdentity, trust: &'a Trust, how: CnMatch) -> Vec<&'a str> {
    let mut v: Vec<&str> = id.caller.identity.cn().into_iter().collect();
    if how == CnMatch::AnyInChain {
        v.extend(
            id.caller
                .identity
                .chain
                .iter()
                .chain(trust.certs.iter())
                .filter_map(|c| c.common_name.as_deref()),
        );
    }
    v
}

/// The expectation for one identity at one endpoint.
pub fn expect(ep: &Endpoint, id: &AuditIdentity, trust: &Trust) -> Expected {
    let needed = id.component.is_some_and(|c| profile::needs(c, ep.role))
        || (id.kind == IdentityKind::Configured && ep.needed_by.contains(&id.name));
    let e = |allow: bool, reason: String| Expected {
        allow,
        needed,
        reason,
        deny_only_if_sent: false,
    };
    // SQL ports (and any MySQL-protocol server) verify a client certificate only when they ask.
    let optional = ep.cert_policy() == CertPolicy::Optional || ep.protocol == Protocol::Mysql;
    if optional && id.kind == IdentityKind::Foreign {
        return Expected {
            deny_only_if_sent: true,
            ..e(
                false,
                format!(
                    "{} {} verifies a client certificate when it asks for one: a certificate from another CA must be refused",
                    ep.component.title(),
                    ep.role
                ),
            )
        };
    }
    let (allow, reason) = judge(ep, id, trust);
    e(allow, reason)
}

/// Whether the endpoint should admit the identity, and why: no certificate asked for, the
/// identity's kind, its certificate's problem, then the allow-list.
fn judge(ep: &Endpoint, id: &AuditIdentity, trust: &Trust) -> (bool, String) {
    let policy = ep.policy();
    // `client_auth = "optional"` with a list: callers without a certificate are admitted, the
    // list judges those that send one.
    let optional_with_list = ep.client_auth == Some(ClientAuth::Optional) && policy.list_enforced;
    let judged_by_list = optional_with_list && id.kind != IdentityKind::Anonymous;
    if !policy.requires_cert && !judged_by_list {
        return (true, no_cert_asked(ep));
    }
    if let Some(why) = refused_kind(ep, id.kind) {
        return (false, why);
    }
    if let Some(problem) = &id.caller.check.problem {
        return (false, format!("the certificate {problem}"));
    }
    if !policy.list_enforced {
        let why = policy.not_enforced_because.unwrap_or_else(|| {
            if ep.component == profile::Component::Generic {
                "no allowed_cn is set: any certificate from the CA is admitted".to_string()
            } else {
                format!(
                    "no {} is set: any certificate from the CA is admitted",
                    ep.profile.list
                )
            }
        });
        return (true, why);
    }
    allow_list(ep, id, trust)
}

/// Why an endpoint that asks for no certificate (or does not require one) admits a caller.
fn no_cert_asked(ep: &Endpoint) -> String {
    match ep.client_auth {
        Some(ClientAuth::Optional) => {
            "client_auth = \"optional\": a caller without a certificate is admitted".to_string()
        }
        Some(ClientAuth::None) => {
            "client_auth = \"none\": no client certificate is asked for".to_string()
        }
        _ => format!(
            "{} {} asks for no client certificate",
            ep.component.title(),
            ep.role
        ),
    }
}

/// Why an endpoint that requires a certificate refuses this kind of identity (none, or one
/// from another CA), if it does whatever the certificate.
fn refused_kind(ep: &Endpoint, kind: IdentityKind) -> Option<String> {
    match kind {
        IdentityKind::Anonymous => Some(if ep.client_auth == Some(ClientAuth::Required) {
            "client_auth = \"required\": a caller without a certificate must be refused".to_string()
        } else {
            format!(
                "{} {} requires a client certificate",
                ep.component.title(),
                ep.role
            )
        }),
        IdentityKind::Foreign => Some("a certificate from another CA must be refused".to_string()),
        _ => None,
    }
}

/// The allow-list's judgement of the CNs the endpoint sees for the identity.
fn allow_list(ep: &Endpoint, id: &AuditIdentity, trust: &Trust) -> (bool, String) {
    let list = || format!("[{}]", ep.allowed_cn.join(", "));
    let cns = visible_cns(id, trust, ep.profile.cn_match);
    match cns.iter().find(|cn| ep.allowed_cn.iter().any(|a| a == *cn)) {
        Some(cn) => (true, format!("CN {cn} is on the allow-list {}", list())),
        None => (
            false,
            format!(
                "CN {} is not on the allow-list {}",
                id.caller.identity.cn().unwrap_or("(none)"),
                list()
            ),
        ),
    }
}

/// Compare what was expected with what a probe observed.
pub fn verdict(expected: &Expected, rec: &ProbeRecord) -> Verdict {
    use OutcomeClass as O;
    // A chain callers refuse makes the link unusable whatever happened to the identity after it.
    if rec.server_verification.as_ref().is_some_and(|v| !v.trusted) {
        return Verdict::Untrusted;
    }
    match rec.outcome.class {
        O::Plaintext => Verdict::Unencrypted,
        O::ServerUntrusted => Verdict::Untrusted,
        O::Refused | O::Timeout | O::ResolveFailed => Verdict::Unreachable,
        O::Reset | O::ProtocolError | O::TlsMismatch | O::Error => Verdict::Error,
        O::Accepted if expected.allow => Verdict::Secure,
        O::Accepted
            if expected.deny_only_if_sent
                && rec.tls.as_ref().is_some_and(|t| !t.client_cert_sent) =>
        {
            Verdict::Secure
        }
        O::Accepted => Verdict::Open,
        O::CnRejected | O::CertRejected | O::CertRequired => {
            if expected.allow || (expected.needed && rec.outcome.class == O::CnRejected) {
                Verdict::Blocked
            } else {
                Verdict::Enforced
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;
    use crate::pki::Identity;
    use crate::probe::Caller;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    };
    use rustls_pki_types::PrivateKeyDer;

    /// A CA, an identity `cn` it issued, and the anonymous and foreign callers.
    struct Fixture {
        trust: Trust,
        ids: Vec<AuditIdentity>,
    }

    fn fixture(cns: &[&str]) -> Fixture {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, "test CA");
        let ca = p.self_signed(&key).unwrap();
        let issuer = rcgen::Issuer::new(p, key);
        let trust = Trust::from_der(vec![ca.der().clone()]).unwrap();
        let mut ids = Vec::new();
        for cn in cns {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name.push(DnType::CommonName, *cn);
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            let c = p.signed_by(&key, &issuer).unwrap();
            let k = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
            let identity = Identity::from_der(cn, vec![c.der().clone()], k).unwrap();
            ids.push(AuditIdentity {
                name: (*cn).to_string(),
                kind: IdentityKind::Configured,
                component: None,
                caller: Caller::new(identity, &trust),
            });
        }
        ids.push(AuditIdentity {
            name: "anonymous".into(),
            kind: IdentityKind::Anonymous,
            component: None,
            caller: Caller::new(Identity::anonymous(), &trust),
        });
        ids.push(AuditIdentity {
            name: "foreign".into(),
            kind: IdentityKind::Foreign,
            component: None,
            caller: Caller::new(
                crate::pki::mint::Ca::generate("tlsaudit throwaway", 1)
                    .unwrap()
                    .identity("foreign", cns[0], &[], false, 1)
                    .unwrap(),
                &trust,
            ),
        });
        Fixture { trust, ids }
    }

    /// A generic endpoint with the given extra inventory lines.
    fn generic(extra: &str) -> Endpoint {
        let text = format!(
            "[cluster]\nname = \"t\"\nca = \"ca.crt\"\n[identities.web]\ncert = \"a\"\nkey = \"b\"\n[identities.batch]\ncert = \"a\"\nkey = \"b\"\n[[endpoints]]\nname = \"nginx\"\ncomponent = \"generic\"\naddress = \"127.0.0.1:8443\"\n{extra}\n"
        );
        Inventory::parse(&text, std::path::Path::new("t.toml"))
            .unwrap()
            .endpoints
            .remove(0)
    }

    fn allows(ep: &Endpoint, f: &Fixture) -> Vec<(String, bool, bool)> {
        f.ids
            .iter()
            .map(|id| {
                let x = expect(ep, id, &f.trust);
                (id.name.clone(), x.allow, x.needed)
            })
            .collect()
    }

    fn row(name: &str, allow: bool, needed: bool) -> (String, bool, bool) {
        (name.to_string(), allow, needed)
    }

    #[test]
    fn a_generic_endpoint_without_client_auth_asks_for_nothing() {
        let f = fixture(&["web"]);
        let ep = generic("");
        assert_eq!(
            allows(&ep, &f),
            [
                row("web", true, false),
                row("anonymous", true, false),
                row("foreign", true, false)
            ]
        );
    }

    #[test]
    fn client_auth_required_without_a_list_refuses_anonymous_and_foreign() {
        let f = fixture(&["web", "batch"]);
        let ep = generic("client_auth = \"required\"");
        assert_eq!(
            allows(&ep, &f),
            [
                row("web", true, false),
                row("batch", true, false),
                row("anonymous", false, false),
                row("foreign", false, false)
            ]
        );
        let anon = expect(&ep, &f.ids[2], &f.trust);
        assert!(anon.reason.contains("client_auth"), "{}", anon.reason);
        // With a list, the list decides among the CA's certificates.
        let ep = generic("client_auth = \"required\"\nallowed_cn = [\"web\"]");
        assert_eq!(
            allows(&ep, &f),
            [
                row("web", true, false),
                row("batch", false, false),
                row("anonymous", false, false),
                row("foreign", false, false)
            ]
        );
    }

    #[test]
    fn client_auth_optional_admits_anonymous_and_refuses_foreign() {
        let f = fixture(&["web", "batch"]);
        let ep = generic("client_auth = \"optional\"");
        assert_eq!(
            allows(&ep, &f),
            [
                row("web", true, false),
                row("batch", true, false),
                row("anonymous", true, false),
                row("foreign", false, false)
            ]
        );
        assert!(expect(&ep, &f.ids[3], &f.trust).deny_only_if_sent);
        // With a list: no certificate is admitted, a certificate must be on the list.
        let ep = generic("client_auth = \"optional\"\nallowed_cn = [\"web\"]");
        assert_eq!(
            allows(&ep, &f),
            [
                row("web", true, false),
                row("batch", false, false),
                row("anonymous", true, false),
                row("foreign", false, false)
            ]
        );
    }

    #[test]
    fn client_auth_none_admits_everyone_even_over_the_profile() {
        let f = fixture(&["web"]);
        let mut ep = generic("client_auth = \"none\"");
        // Over a profile that always requires a certificate (etcd's peer port).
        ep.role = crate::profile::Role::EtcdPeer;
        ep.profile = ep.role.profile();
        assert_eq!(
            allows(&ep, &f),
            [
                row("web", true, false),
                row("anonymous", true, false),
                row("foreign", true, false)
            ]
        );
        assert!(!ep.policy().requires_cert);
    }

    #[tokio::test]
    async fn needed_by_marks_the_needed_links_and_a_refused_one_is_blocked() {
        use crate::probe::{probe, OutcomeClass, ProbeSpec, Protocol};
        let f = fixture(&["web", "batch"]);
        let ep =
            generic("client_auth = \"required\"\nallowed_cn = [\"web\"]\nneeded_by = [\"batch\"]");
        assert_eq!(
            allows(&ep, &f),
            [
                row("web", true, false),
                row("batch", false, true),
                row("anonymous", false, false),
                row("foreign", false, false)
            ]
        );
        // A real record (a closed loopback port), its outcome set to each refusal.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let spec = ProbeSpec::new(format!("127.0.0.1:{port}"), Protocol::Tls);
        let mut rec = probe(&spec, &f.ids[1].caller, &f.trust).await;
        assert_eq!(
            verdict(&expect(&ep, &f.ids[1], &f.trust), &rec),
            Verdict::Unreachable
        );
        rec.outcome.class = OutcomeClass::CnRejected;
        assert_eq!(
            verdict(&expect(&ep, &f.ids[1], &f.trust), &rec),
            Verdict::Blocked
        );
        rec.outcome.class = OutcomeClass::CertRequired;
        assert_eq!(
            verdict(&expect(&ep, &f.ids[2], &f.trust), &rec),
            Verdict::Enforced
        );
        // Without needed_by the same refusal of batch is enforcement.
        let ep = generic("client_auth = \"required\"\nallowed_cn = [\"web\"]");
        rec.outcome.class = OutcomeClass::CnRejected;
        assert_eq!(
            verdict(&expect(&ep, &f.ids[1], &f.trust), &rec),
            Verdict::Enforced
        );
    }
}
