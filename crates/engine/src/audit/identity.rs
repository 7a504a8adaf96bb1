//! The audit's callers: an identity of the inventory, or one the audit adds (`anonymous`,
//! `foreign`, `unlisted`, and one minted per component of the topology whose certificate is not
//! readable here), with the names they take.

use serde::Serialize;

use crate::error::InputError;
use crate::inventory::{IdentityEntry, Inventory};
use crate::pki::mint::Ca;
use crate::pki::{Identity, Trust};
use crate::probe::Caller;
use crate::profile::{minted_name, Component, EXTRA_NAMES};

/// Where an identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    /// From the inventory.
    Configured,
    /// No client certificate.
    Anonymous,
    /// A throwaway CA minted at run time.
    Foreign,
    /// Issued at run time by the real CA, with a CN no allow-list names.
    Unlisted,
    /// Issued at run time by the real CA for a component of the topology whose own
    /// certificate is not readable here, with the CN TiUP gives it (`tidb`, `tikv`, `cdc`...):
    /// to a callee's CN check it is that component.
    Minted,
}

impl IdentityKind {
    /// Whether the audit made this identity at run time (not from the inventory's files).
    pub fn is_extra(self) -> bool {
        self != IdentityKind::Configured
    }
}

/// The identities the audit of `inv` adds to the inventory's, by name: those its options
/// switch on and can make (`unlisted` and the minted ones need the CA key), and that no
/// inventory identity already names.
pub fn extra_names(inv: &Inventory) -> Vec<&'static str> {
    let o = &inv.options;
    let key = inv.ca_key.is_some();
    [
        (o.anonymous, EXTRA_NAMES[0]),
        (o.foreign, EXTRA_NAMES[1]),
        (o.unlisted && key, EXTRA_NAMES[2]),
    ]
    .into_iter()
    .chain(o.minted.iter().map(|c| (key, minted_name(*c))))
    .filter(|(on, name)| *on && !inv.identities.iter().any(|i| i.name == *name))
    .map(|(_, name)| name)
    .collect()
}

/// How long the certificates minted at run time are valid, in days. They are renewed at half
/// that ([`AuditIdentity::renewal_due`]), so a session never meets one that is about to expire.
pub const MINTED_DAYS: i64 = 7;

/// Who a caller is, for what it should meet (docs/judgment.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "standing", content = "component")]
pub enum Standing {
    /// A component of the cluster (by the inventory's `component`, or its CN).
    Component(Component),
    /// TiUP's client certificate (`<cluster>-client`) used by TiUP and the ctl tools.
    Tool,
    /// Anonymous, foreign, unlisted, or an inventory identity declared one
    /// (`expect = "refuse"`): never needed, to be refused wherever a list could.
    Outsider,
    /// An inventory identity of unknown purpose: a stated list decides.
    Other,
}

/// A caller of the audit.
#[derive(Debug, Clone)]
pub struct AuditIdentity {
    pub name: String,
    pub kind: IdentityKind,
    pub component: Option<Component>,
    pub caller: Caller,
    /// Declared an outsider by the inventory (`expect = "refuse"`).
    pub outsider: bool,
}

impl AuditIdentity {
    /// An identity of the inventory; its component is the entry's, else the one its CN names.
    pub fn configured(entry: &IdentityEntry, caller: Caller) -> AuditIdentity {
        let component = entry
            .component
            .or_else(|| caller.identity.cn().and_then(Component::from_identity_name));
        AuditIdentity {
            name: entry.name.clone(),
            kind: IdentityKind::Configured,
            component: component.filter(|_| !entry.outsider),
            caller,
            outsider: entry.outsider,
        }
    }

    /// A caller the audit makes.
    fn extra(
        name: &str,
        kind: IdentityKind,
        component: Option<Component>,
        caller: Caller,
    ) -> AuditIdentity {
        AuditIdentity {
            name: name.to_string(),
            kind,
            component,
            caller,
            outsider: false,
        }
    }

    /// Whether this identity was minted at run time and has reached half its validity at `now`
    /// (Unix seconds): the auditor then mints it again.
    pub fn renewal_due(&self, now: i64) -> bool {
        if !self.kind.is_extra() {
            return false;
        }
        self.caller.identity.leaf.as_ref().is_some_and(|leaf| {
            let half = leaf.not_before_unix + (leaf.not_after_unix - leaf.not_before_unix) / 2;
            now >= half
        })
    }

    /// A caller from another CA: the run-time `foreign`, or a declared outsider whose
    /// certificate does not chain to the cluster CA (as `tlsaudit mint` issues one).
    pub fn from_other_ca(&self) -> bool {
        let check = &self.caller.check;
        self.kind == IdentityKind::Foreign
            || (self.outsider && check.has_certificate && !check.chains_to_ca)
    }

    /// Whether this caller's certificate cannot show what an endpoint does with a sound one,
    /// so that a refusal of it proves nothing: one of ours that the cluster CA does not accept
    /// (another CA, expired, not yet valid, no clientAuth); an outsider's that is expired, not
    /// yet valid or without clientAuth (another CA is what an outsider may be).
    pub fn faulty(&self) -> bool {
        let check = &self.caller.check;
        if self.standing() != Standing::Outsider {
            return check.problem.is_some();
        }
        check.has_certificate && !(check.within_validity && check.client_auth_eku)
    }

    /// Who the caller is: an outsider by kind or declaration, else a component, TiUP's client
    /// (a CN ending in `-client`), or unknown.
    pub fn standing(&self) -> Standing {
        let outsider_kind = matches!(
            self.kind,
            IdentityKind::Anonymous | IdentityKind::Foreign | IdentityKind::Unlisted
        );
        if outsider_kind || self.outsider {
            return Standing::Outsider;
        }
        if let Some(c) = self.component {
            return Standing::Component(c);
        }
        if self
            .caller
            .identity
            .cn()
            .is_some_and(|cn| cn.ends_with("-client"))
        {
            return Standing::Tool;
        }
        Standing::Other
    }
}

/// The identities the audit adds to the inventory's, as its options ask: `anonymous` (no
/// certificate), `foreign` (another CA, a listed CN) and `unlisted` (the cluster CA, a CN no list
/// names; only with the CA key). `configured` are the inventory's, loaded (the foreign identity
/// takes the first CN among them).
pub fn extra_identities(
    inventory: &Inventory,
    trust: &Trust,
    configured: &[AuditIdentity],
) -> Result<Vec<AuditIdentity>, InputError> {
    let mut identities = Vec::new();
    let opts = &inventory.options;
    if opts.anonymous {
        identities.push(AuditIdentity::extra(
            "anonymous",
            IdentityKind::Anonymous,
            None,
            Caller::new(Identity::anonymous(), trust),
        ));
    }
    if opts.foreign {
        // The foreign identity carries a CN that is on the lists, so that only the CA check
        // can refuse it.
        let cn = configured
            .iter()
            .find_map(|i| i.caller.identity.cn().map(str::to_string))
            .unwrap_or_else(|| "tidb".to_string());
        let identity = Ca::generate("tlsaudit throwaway", 1)?.identity(
            "foreign",
            &cn,
            &[],
            false,
            MINTED_DAYS,
        )?;
        identities.push(AuditIdentity::extra(
            "foreign",
            IdentityKind::Foreign,
            None,
            Caller::new(identity, trust),
        ));
    }
    let Some(ca_key) = &inventory.ca_key else {
        return Ok(identities);
    };
    let taken = |name: &str| configured.iter().any(|i| i.name == name);
    let minted: Vec<Component> = opts
        .minted
        .iter()
        .copied()
        .filter(|c| !taken(minted_name(*c)))
        .collect();
    if !opts.unlisted && minted.is_empty() {
        return Ok(identities);
    }
    // One signer for every identity issued from the cluster CA (the same one `init` uses).
    let ca = Ca::load(&inventory.ca, ca_key)?;
    if opts.unlisted {
        let listed: Vec<&str> = inventory
            .endpoints
            .iter()
            .flat_map(|e| e.allowed_cn.iter().map(String::as_str))
            .collect();
        let mut cn = "tlsaudit-unlisted".to_string();
        while listed.contains(&cn.as_str()) {
            cn.push('x');
        }
        identities.push(AuditIdentity::extra(
            "unlisted",
            IdentityKind::Unlisted,
            None,
            Caller::new(
                ca.identity("unlisted", &cn, &[], false, MINTED_DAYS)?,
                trust,
            ),
        ));
    }
    for c in minted {
        // The CN and both usages TiUP gives the component's certificate; no SANs, so that
        // etcd's peer port (which matches a client certificate's SANs against the source
        // address when it has any) sees a caller from this host as it would the component.
        let name = minted_name(c);
        identities.push(AuditIdentity::extra(
            name,
            IdentityKind::Minted,
            Some(c),
            Caller::new(ca.identity(name, name, &[], true, MINTED_DAYS)?, trust),
        ));
    }
    Ok(identities)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A declared outsider (`expect = "refuse"`) with `identity`.
    fn outsider(identity: Identity, trust: &Trust) -> AuditIdentity {
        AuditIdentity {
            name: identity.name.clone(),
            kind: IdentityKind::Configured,
            component: None,
            caller: Caller::new(identity, trust),
            outsider: true,
        }
    }

    #[test]
    fn an_outsider_from_another_ca_is_foreign_and_an_expired_one_proves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::generate("cluster", 1).unwrap();
        std::fs::write(dir.path().join("ca.crt"), &ca.pem).unwrap();
        let trust = Trust::load(&dir.path().join("ca.crt")).unwrap();
        // As `tlsaudit mint` issues them: another CA's, and the cluster CA's with an unlisted CN.
        let other = Ca::generate("throwaway", 1).unwrap();
        let foreign = outsider(
            other
                .identity("foreign-ca", "tidb", &[], false, 30)
                .unwrap(),
            &trust,
        );
        assert!(foreign.from_other_ca() && !foreign.faulty());
        let unlisted = outsider(
            ca.identity("unlisted-cn", "x", &[], false, 30).unwrap(),
            &trust,
        );
        assert!(!unlisted.from_other_ca() && !unlisted.faulty());
        // Expired (valid until now, a second ago): a refusal of it says nothing of the endpoint's
        // list, and it still tells which CA issued it.
        let expired = ca.identity("old", "x", &[], false, 0).unwrap();
        let expired_foreign = other.identity("old-ca", "tidb", &[], false, 0).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let expired = outsider(expired, &trust);
        assert!(
            expired.faulty() && !expired.from_other_ca(),
            "{:?}",
            expired.caller.check
        );
        let expired_foreign = outsider(expired_foreign, &trust);
        assert!(
            expired_foreign.faulty() && expired_foreign.from_other_ca(),
            "{:?}",
            expired_foreign.caller.check
        );
        // The same certificate not declared an outsider is simply one of ours from another CA.
        let mut ours = foreign.clone();
        ours.outsider = false;
        assert!(!ours.from_other_ca() && ours.faulty());
    }
}
