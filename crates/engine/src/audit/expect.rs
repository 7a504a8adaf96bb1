//! What should happen to each caller at each endpoint (its [`Intent`], from who-needs-whom, the
//! stated allow-list and what the caller is), what the stated configuration does with it, and
//! the verdict that compares both with what was observed. The table is in `docs/judgment.md`.

use serde::Serialize;

use super::identity::{AuditIdentity, IdentityKind, Standing};
use crate::inventory::Endpoint;
use crate::pki::Trust;
use crate::probe::{OutcomeClass, ProbeRecord, Protocol};
use crate::profile::{self, CertPolicy, ClientAuth, CnMatch, Component, Role};

/// What should happen to one caller at one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Intent {
    /// The caller is needed here (who-needs-whom, or `needed_by`), or on a stated list.
    MustAdmit,
    /// An outsider, or a caller a stated list leaves out.
    MustRefuse,
    /// No list is stated and nothing says the caller is needed: either answer is as configured.
    #[default]
    Unstated,
}

impl Intent {
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::MustAdmit => "must-admit",
            Intent::MustRefuse => "must-refuse",
            Intent::Unstated => "unstated",
        }
    }
}

/// Why a caller must be admitted: what breaks without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    /// The cluster's own traffic (docs/tidb.md, who connects to whom): an outage.
    Cluster,
    /// The endpoint's `needed_by` names the identity.
    Declared,
    /// TiDB Dashboard, inside PD, with PD's certificate: Dashboard pages break.
    Dashboard,
    /// The ctl tools and TiUP's client certificate: operations break.
    Tool,
}

impl Need {
    /// Whether a refusal stops the cluster (critical), not only a tool or page (warning).
    pub fn is_outage(self) -> bool {
        matches!(self, Need::Cluster | Need::Declared)
    }
}

/// What the configuration says should happen to one identity at one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Expected {
    /// The endpoint's stated configuration admits this identity (a caller the inventory states
    /// no list for is admitted by it).
    pub allow: bool,
    /// The identity's component needs this link (any [`Need`]).
    pub needed: bool,
    /// What should happen, whatever the configuration says ([`Expected::intent`]; absent in
    /// reports written before it was computed, which are written back as they were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Intent>,
    /// Why the caller is needed, if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub need: Option<Need>,
    /// The caller's own certificate is faulty (another CA, expired, no clientAuth): a refusal
    /// is its fault, not the endpoint's doing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub faulty: bool,
    /// Why, in words.
    pub reason: String,
    /// A deny that holds only if the server asks for the certificate (SQL ports ask only with a
    /// client CA): an identity admitted without sending it is not a finding.
    #[serde(skip, default)]
    pub deny_only_if_sent: bool,
}

impl Expected {
    /// An expectation that says nothing (a cell of a report that has none).
    pub fn none(reason: impl Into<String>) -> Expected {
        Expected {
            allow: false,
            needed: false,
            intent: None,
            need: None,
            faulty: false,
            reason: reason.into(),
            deny_only_if_sent: false,
        }
    }

    /// What should happen; a report written before intents were computed says it by `allow`.
    pub fn intent(&self) -> Intent {
        self.intent.unwrap_or(if self.allow {
            Intent::MustAdmit
        } else {
            Intent::MustRefuse
        })
    }

    /// The intent in a few words, the same in every face: `must admit`, `must refuse`,
    /// `unstated`.
    pub fn label(&self) -> &'static str {
        match self.intent() {
            Intent::MustAdmit => "must admit",
            Intent::MustRefuse => "must refuse",
            Intent::Unstated => "unstated",
        }
    }

    /// What should happen and on what grounds, in words, the same in every face (the reason
    /// says what the stated configuration does).
    pub fn words(&self) -> &'static str {
        match (self.intent(), self.need, self.allow) {
            (Intent::MustAdmit, Some(Need::Cluster), true) => {
                "must be admitted: the cluster needs this link"
            }
            (Intent::MustAdmit, Some(Need::Cluster | Need::Declared), false) => {
                "must be admitted (the cluster needs this link), yet the stated list leaves it out"
            }
            (Intent::MustAdmit, Some(Need::Dashboard), _) => {
                "must be admitted: TiDB Dashboard (inside PD) calls it with PD's certificate"
            }
            (Intent::MustAdmit, Some(Need::Tool), _) => {
                "must be admitted: TiUP and the ctl tools call it with this certificate"
            }
            (Intent::MustAdmit, Some(Need::Declared), true) => {
                "must be admitted: needed_by names this caller"
            }
            (Intent::MustAdmit, None, _) => "must be admitted: the stated list names it",
            (Intent::MustRefuse, _, false) => "must be refused",
            (Intent::MustRefuse, _, true) => {
                "must be refused (an outsider), yet no stated list refuses it"
            }
            (Intent::Unstated, _, _) => {
                "unstated: no list is stated and nothing needs this caller here; either answer is as configured"
            }
        }
    }

    /// An outsider the stated configuration admits (no list stated): a finding of the list's
    /// absence, not of an unenforced list.
    pub fn admitted_unstated(&self) -> bool {
        self.allow && self.intent() == Intent::MustRefuse
    }
}

/// A cell's verdict.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Admitted over a verified chain, as intended (or as configured where nothing is stated).
    Secure,
    /// Refused, as intended (or as configured where nothing is stated).
    Enforced,
    /// Admitted although it must be refused: a hole (critical where a list or the CA says so).
    Open,
    /// Refused although it must be admitted: an outage (of a page or tool for a weaker need).
    Blocked,
    /// The endpoint does not speak TLS (plaintext HTTP, MySQL without TLS, other bytes).
    Unencrypted,
    /// The server chain does not verify for the dialed address.
    Untrusted,
    /// Refused or timed out.
    Unreachable,
    /// Reset, protocol error or no common TLS parameters.
    Error,
    /// Refused because our own certificate is faulty (another CA, expired, no clientAuth):
    /// nothing is known of the endpoint's list for this caller until the identity is fixed.
    BadIdentity,
}

impl Verdict {
    pub const ALL: [Verdict; 9] = [
        Verdict::Secure,
        Verdict::Enforced,
        Verdict::Open,
        Verdict::Blocked,
        Verdict::Unencrypted,
        Verdict::Untrusted,
        Verdict::Unreachable,
        Verdict::Error,
        Verdict::BadIdentity,
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
            Verdict::BadIdentity => "bad_identity",
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
            Verdict::BadIdentity => 'I',
        }
    }

    /// Whether legends and counts name this verdict even when no cell has it: every one but
    /// `bad_identity` (rare, and added after the report's first schema, whose saved reports
    /// read back unchanged).
    pub fn always_listed(self) -> bool {
        self != Verdict::BadIdentity
    }

    /// Whether the cell is a problem.
    pub fn is_failing(self) -> bool {
        !matches!(self, Verdict::Secure | Verdict::Enforced)
    }

    /// How bad a verdict is (1 to 9), for the worst of several cells (a folded row of the
    /// dashboard, the vantage points of a merged report), by the severity of the finding the
    /// audit makes of it: `open` and `blocked` (critical, about this very caller: a hole, an
    /// outage) beat `untrusted` and `unencrypted` (critical, about the endpoint whoever calls),
    /// which beat `bad_identity` (critical, about our own certificate), `error` and
    /// `unreachable` (warnings), then `enforced` and `secure`.
    pub fn badness(self) -> u8 {
        match self {
            Verdict::Secure => 1,
            Verdict::Enforced => 2,
            Verdict::Unreachable => 3,
            Verdict::Error => 4,
            Verdict::BadIdentity => 5,
            Verdict::Unencrypted => 6,
            Verdict::Untrusted => 7,
            Verdict::Blocked => 8,
            Verdict::Open => 9,
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

/// Where TiUP calls with its client certificate for the cluster to be managed at all: PD's API
/// (pd-ctl, `tiup cluster display`) and TiDB's status port (`display` shows a TiDB it cannot
/// reach as Down). The other ctl tools are run with whichever certificate a list admits.
fn tools_call(role: Role) -> bool {
    matches!(role, Role::PdClient | Role::TidbStatus)
}

/// Why `id` must be admitted at `ep`, if it must: never an outsider.
pub fn need(ep: &Endpoint, id: &AuditIdentity) -> Option<Need> {
    let by_role = match id.standing() {
        Standing::Outsider => return None,
        Standing::Component(c) => profile::need(c, ep.role).map(|n| match n {
            profile::Need::Cluster => Need::Cluster,
            profile::Need::Dashboard => Need::Dashboard,
        }),
        Standing::Tool => tools_call(ep.role).then_some(Need::Tool),
        Standing::Other => None,
    };
    let declared = id.kind == IdentityKind::Configured && ep.needed_by.contains(&id.name);
    if declared && by_role.is_none_or(|n| !n.is_outage()) {
        return Some(Need::Declared);
    }
    by_role
}

/// The expectation for one identity at one endpoint.
pub fn expect(ep: &Endpoint, id: &AuditIdentity, trust: &Trust) -> Expected {
    let need = need(ep, id);
    let outsider = id.standing() == Standing::Outsider;
    let faulty = id.faulty();
    // The stated configuration's answer, and the one it would give a sound certificate.
    let stated = judge(ep, id, trust, true);
    let sound = if faulty {
        judge(ep, id, trust, false)
    } else {
        stated.clone()
    };
    // SQL ports (and any MySQL-protocol server) verify a client certificate only when they ask.
    let optional = ep.cert_policy() == CertPolicy::Optional || ep.protocol == Protocol::Mysql;
    let deny_only_if_sent = optional && id.from_other_ca();
    let intent = if need.is_some() {
        Intent::MustAdmit
    } else if deny_only_if_sent {
        Intent::MustRefuse
    } else if outsider {
        outsider_intent(ep, &stated)
    } else {
        match sound.basis {
            Basis::Listed => Intent::MustAdmit,
            Basis::NotListed | Basis::RefusedKind => Intent::MustRefuse,
            _ => Intent::Unstated,
        }
    };
    Expected {
        allow: stated.allow() && !deny_only_if_sent,
        needed: need.is_some(),
        intent: Some(intent),
        need,
        faulty,
        reason: if deny_only_if_sent {
            format!(
                "{} {} verifies a client certificate when it asks for one: a certificate from another CA must be refused",
                ep.component.title(),
                ep.role
            )
        } else {
            stated.reason
        },
        deny_only_if_sent,
    }
}

/// What an outsider should meet: refused wherever the stated configuration refuses it, and
/// where it admits it because no list is stated, refused too on a TiDB component's endpoint
/// that could enforce a list (TiDB's guide sets `cert-allowed-cn` so that "other visitors are
/// blocked even though they have legitimate certificates") and on any endpoint that requires
/// certificates. A port that asks for no certificate by design (the SQL ports, a generic
/// server without `client_auth`) leaves it unstated.
fn outsider_intent(ep: &Endpoint, stated: &Stated) -> Intent {
    match stated.basis {
        Basis::NoCertAsked => {
            let could_list = ep.component.is_tidb()
                && ep.protocol != Protocol::Mysql
                && ep.cert_policy() == CertPolicy::WithList;
            if could_list {
                Intent::MustRefuse
            } else {
                Intent::Unstated
            }
        }
        // A path every certificate may read by design (TiKV's `/metrics`).
        Basis::ExemptPath => Intent::Unstated,
        _ => Intent::MustRefuse,
    }
}

/// On what grounds the stated configuration admits or refuses a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Basis {
    /// No client certificate is asked for (or required).
    NoCertAsked,
    /// A certificate is required and this caller has none, or one from another CA.
    RefusedKind,
    /// The caller's certificate is faulty.
    CertProblem,
    /// A list is stated but not enforced here by design (PD's client port with one entry).
    ListNotEnforced,
    /// The path probed is one the list does not cover by design (TiKV's `/metrics`).
    ExemptPath,
    /// No list is stated: any certificate from the CA is admitted.
    NoList,
    /// On the stated list.
    Listed,
    /// Not on the stated list.
    NotListed,
}

/// The stated configuration's answer for a caller, and why in words.
#[derive(Debug, Clone)]
struct Stated {
    basis: Basis,
    reason: String,
}

impl Stated {
    fn new(basis: Basis, reason: String) -> Stated {
        Stated { basis, reason }
    }

    fn allow(&self) -> bool {
        !matches!(
            self.basis,
            Basis::RefusedKind | Basis::CertProblem | Basis::NotListed
        )
    }
}

/// Whether the endpoint's stated configuration admits the identity, and why: no certificate
/// asked for, the identity's kind, its certificate's problem (if `check_cert`), then the list.
fn judge(ep: &Endpoint, id: &AuditIdentity, trust: &Trust, check_cert: bool) -> Stated {
    let policy = ep.policy();
    // `client_auth = "optional"` with a list: callers without a certificate are admitted, the
    // list judges those that send one.
    let optional_with_list = ep.client_auth == Some(ClientAuth::Optional) && policy.list_enforced;
    let judged_by_list = optional_with_list && id.kind != IdentityKind::Anonymous;
    if !policy.requires_cert && !judged_by_list {
        return Stated::new(Basis::NoCertAsked, no_cert_asked(ep));
    }
    if let Some(why) = refused_kind(ep, id) {
        return Stated::new(Basis::RefusedKind, why);
    }
    if let Some(problem) = id.caller.check.problem.as_ref().filter(|_| check_cert) {
        return Stated::new(Basis::CertProblem, format!("the certificate {problem}"));
    }
    if let Some(why) = policy.not_enforced_because {
        let path = ep.path.as_deref().map(|p| p.split('?').next().unwrap_or(p));
        let exempt = path.is_some_and(|p| ep.profile.exempt_paths.contains(&p));
        let basis = if exempt {
            Basis::ExemptPath
        } else {
            Basis::ListNotEnforced
        };
        return Stated::new(basis, why);
    }
    if !policy.list_enforced {
        let key = if ep.component == Component::Generic {
            "allowed_cn".to_string()
        } else {
            ep.profile.list.to_string()
        };
        return Stated::new(
            Basis::NoList,
            format!("no {key} is set: any certificate from the CA is admitted"),
        );
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
fn refused_kind(ep: &Endpoint, id: &AuditIdentity) -> Option<String> {
    if id.from_other_ca() {
        return Some("a certificate from another CA must be refused".to_string());
    }
    match id.kind {
        IdentityKind::Anonymous => Some(if ep.client_auth == Some(ClientAuth::Required) {
            "client_auth = \"required\": a caller without a certificate must be refused".to_string()
        } else {
            format!(
                "{} {} requires a client certificate",
                ep.component.title(),
                ep.role
            )
        }),
        _ => None,
    }
}

/// The allow-list's judgement of the CNs the endpoint sees for the identity.
fn allow_list(ep: &Endpoint, id: &AuditIdentity, trust: &Trust) -> Stated {
    let list = || format!("[{}]", ep.allowed_cn.join(", "));
    let cns = visible_cns(id, trust, ep.profile.cn_match);
    match cns.iter().find(|cn| ep.allowed_cn.iter().any(|a| a == *cn)) {
        Some(cn) => Stated::new(
            Basis::Listed,
            format!("CN {cn} is on the allow-list {}", list()),
        ),
        None => Stated::new(
            Basis::NotListed,
            format!(
                "CN {} is not on the allow-list {}",
                id.caller.identity.cn().unwrap_or("(none)"),
                list()
            ),
        ),
    }
}

/// Compare what was expected with what a probe observed (the table in `docs/judgment.md`).
pub fn verdict(expected: &Expected, rec: &ProbeRecord) -> Verdict {
    use OutcomeClass as O;
    // A chain callers refuse makes the link unusable whatever happened to the identity after it.
    if rec.server_verification.as_ref().is_some_and(|v| !v.trusted) {
        return Verdict::Untrusted;
    }
    let sent = rec.tls.as_ref().is_some_and(|t| t.client_cert_sent);
    match rec.outcome.class {
        O::Plaintext => Verdict::Unencrypted,
        O::ServerUntrusted => Verdict::Untrusted,
        O::Refused | O::Timeout | O::ResolveFailed => Verdict::Unreachable,
        O::Reset | O::ProtocolError | O::TlsMismatch | O::Error => Verdict::Error,
        // A faulty certificate the server took: it does not verify client certificates.
        O::Accepted if expected.faulty && sent => Verdict::Open,
        O::Accepted if expected.intent() != Intent::MustRefuse => Verdict::Secure,
        O::Accepted if expected.deny_only_if_sent && !sent => Verdict::Secure,
        O::Accepted => Verdict::Open,
        O::CnRejected | O::CertRejected | O::CertRequired => {
            if expected.faulty {
                Verdict::BadIdentity
            } else if expected.intent() == Intent::MustAdmit {
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
                outsider: false,
            });
        }
        ids.push(AuditIdentity {
            name: "anonymous".into(),
            kind: IdentityKind::Anonymous,
            component: None,
            caller: Caller::new(Identity::anonymous(), &trust),
            outsider: false,
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
            outsider: false,
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
