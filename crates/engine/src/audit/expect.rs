//! Expected result of each cell, from the callee's allow-list and its component profile, and the
//! verdict that compares it with what was observed.

use serde::Serialize;

use super::{AuditIdentity, IdentityKind};
use crate::inventory::Endpoint;
use crate::pki::Trust;
use crate::probe::{OutcomeClass, ProbeRecord, Protocol};
use crate::profile::{self, CertPolicy, CnMatch};

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
    let policy = ep
        .profile
        .policy(&ep.allowed_cn, ep.version, ep.path.as_deref());
    let needed = id.component.is_some_and(|c| profile::needs(c, ep.role));
    let title = ep.component.title();
    let list = || format!("[{}]", ep.allowed_cn.join(", "));
    let e = |allow: bool, reason: String| Expected {
        allow,
        needed,
        reason,
        deny_only_if_sent: false,
    };
    // SQL ports (and any MySQL-protocol server) verify a client certificate only when they ask.
    let optional = ep.profile.cert_policy == CertPolicy::Optional || ep.protocol == Protocol::Mysql;
    if optional && id.kind == IdentityKind::Foreign {
        return Expected {
            deny_only_if_sent: true,
            ..e(
                false,
                format!(
                    "{title} {} verifies a client certificate when it asks for one: a certificate from another CA must be refused",
                    ep.role
                ),
            )
        };
    }
    if !policy.requires_cert {
        return e(
            true,
            format!("{title} {} asks for no client certificate", ep.role),
        );
    }
    match id.kind {
        IdentityKind::Anonymous => {
            return e(
                false,
                format!("{title} {} requires a client certificate", ep.role),
            )
        }
        IdentityKind::Foreign => {
            return e(
                false,
                "a certificate from another CA must be refused".to_string(),
            )
        }
        _ => {}
    }
    if let Some(problem) = &id.caller.check.problem {
        return e(false, format!("the certificate {problem}"));
    }
    if !policy.list_enforced {
        let why = policy.not_enforced_because.unwrap_or_else(|| {
            format!(
                "no {} is set: any certificate from the CA is admitted",
                ep.profile.list
            )
        });
        return e(true, why);
    }
    let cns = visible_cns(id, trust, ep.profile.cn_match);
    match cns.iter().find(|cn| ep.allowed_cn.iter().any(|a| a == *cn)) {
        Some(cn) => e(true, format!("CN {cn} is on the allow-list {}", list())),
        None => e(
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
