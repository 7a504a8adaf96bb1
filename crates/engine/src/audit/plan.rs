//! What the audit probes and what it saw: the [`Plan`] (trust, identities, expectations, the
//! probe of each endpoint, what is not checked), loaded once and shared by every round, and the
//! [`Snapshot`] every front end reads.

use std::sync::Arc;

use super::cell::CellState;
use super::drift;
use super::expect::{self, Expected, Verdict};
use super::identity::{extra_identities, AuditIdentity};
use super::matrix::{EndpointId, IdentityId, Matrix};
use crate::error::InputError;
use crate::finding::{Code, Finding, Severity};
use crate::inventory::{Endpoint, Inventory};
use crate::pki::{ChainCache, Identity, Trust};
use crate::probe::{Caller, ProbeSpec};

/// What an audit of `inv` leaves unchecked: the extra identities not tried, and the component
/// versions assumed where a rule depends on them.
pub fn not_checked(inv: &Inventory) -> Vec<String> {
    let o = &inv.options;
    let mut out = o.scope_notes.clone();
    for (on, name, what) in [
        (
            o.anonymous,
            "anonymous",
            "a caller without a client certificate",
        ),
        (o.foreign, "foreign", "a certificate from another CA"),
    ] {
        if !on {
            out.push(format!(
                "{what} was not tried (the {name} identity is switched off)"
            ));
        }
    }
    if !o.unlisted {
        out.push(
            "a CN no allow-list names was not tried (the unlisted identity is switched off)".into(),
        );
    } else if inv.ca_key.is_none() {
        out.push("a CN no allow-list names was not tried: without the CA key (ca_key; TiUP's ca.pem) no unlisted identity can be issued, so a list that is set but not enforced shows only where a configured identity is outside it".into());
    }
    let unversioned: Vec<&str> = inv
        .endpoints
        .iter()
        .filter(|e| e.role == crate::profile::Role::PdClient && e.version.is_none())
        .map(|e| e.name.as_str())
        .collect();
    if !unversioned.is_empty() {
        out.push(format!(
            "no version is known for {}: PD's v8.4+ rule for cert-allowed-cn on the client port was assumed (set tidb_version in the topology, --cluster-version, or version on the endpoint)",
            unversioned.join(", ")
        ));
    }
    let dev: Vec<&str> = inv
        .endpoints
        .iter()
        .filter(|e| {
            e.version
                .is_some_and(crate::profile::Version::is_development)
        })
        .map(|e| e.name.as_str())
        .collect();
    if !dev.is_empty() {
        out.push(format!(
            "{} run a development version (nightly): taken as newer than every release, so the newest rules were applied",
            dev.join(", ")
        ));
    }
    out.extend(drift::not_checked(&inv.endpoints));
    out.extend(drift::not_compared(inv));
    out
}

/// What the audit probes: loaded once, shared by every round.
#[derive(Debug)]
pub struct Plan {
    pub inventory: Inventory,
    pub trust: Trust,
    pub identities: Vec<AuditIdentity>,
    /// What each cell should see.
    pub expected: Matrix<Expected>,
    /// Findings known before any probe (static lint of the configs); part of every round's
    /// findings.
    pub static_findings: Vec<Finding>,
    /// What this audit does not check, in words, for every output to say (identities not
    /// tried, versions assumed; callers add endpoints left out of scope).
    pub not_checked: Vec<String>,
    pub(super) specs: Vec<ProbeSpec>,
    /// The server chains the rounds saw, parsed once and shared by every cell (and round)
    /// that sees the same chain; pruned after each round.
    /// Shared with the plan that renews this one's minted identities ([`Plan::renewed`]).
    pub(super) chains: Arc<ChainCache>,
}

impl Plan {
    /// Load the CA and identities, mint the extra identities, compute expectations.
    pub fn new(inventory: Inventory) -> Result<Plan, InputError> {
        let trust = Trust::load(&inventory.ca)?;
        let (mut identities, static_findings) = configured_identities(&inventory, &trust)?;
        let extra = extra_identities(&inventory, &trust, &identities)?;
        identities.extend(extra);
        let expected = Matrix::from_fn(identities.len(), inventory.endpoints.len(), |i, e| {
            expect::expect(&inventory.endpoints[e.0], &identities[i.0], &trust)
        });
        let specs = inventory
            .endpoints
            .iter()
            .map(|ep| spec_for(ep, &inventory))
            .collect();
        let not_checked = not_checked(&inventory);
        Ok(Plan {
            inventory,
            trust,
            identities,
            expected,
            static_findings,
            not_checked,
            specs,
            chains: Arc::new(ChainCache::new()),
        })
    }

    /// This plan with the identities it minted renewed, when one of them has reached half its
    /// validity at `now` (Unix seconds); `None` while none has. Every identity minted at run time
    /// is minted again (the same names and CNs: the expectations do not change); the rest of the
    /// plan is shared.
    pub fn renewed(&self, now: i64) -> Result<Option<Plan>, InputError> {
        if !self.identities.iter().any(|id| id.renewal_due(now)) {
            return Ok(None);
        }
        let configured: Vec<AuditIdentity> = self
            .identities
            .iter()
            .filter(|id| !id.kind.is_extra())
            .cloned()
            .collect();
        let mut identities = configured.clone();
        identities.extend(extra_identities(&self.inventory, &self.trust, &configured)?);
        let same = identities.len() == self.identities.len()
            && identities
                .iter()
                .zip(&self.identities)
                .all(|(a, b)| a.name == b.name);
        if !same {
            return Err(InputError::usage(
                "the identities minted again are not the ones minted at start",
                "report this as a bug",
            ));
        }
        Ok(Some(Plan {
            inventory: self.inventory.clone(),
            trust: self.trust.clone(),
            identities,
            expected: self.expected.clone(),
            static_findings: self.static_findings.clone(),
            not_checked: self.not_checked.clone(),
            specs: self.specs.clone(),
            chains: self.chains.clone(),
        }))
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        &self.inventory.endpoints
    }

    /// How the audit probes `endpoint` (for a probe on demand outside a round).
    pub fn spec(&self, endpoint: EndpointId) -> &ProbeSpec {
        &self.specs[endpoint.0]
    }

    pub fn cell_count(&self) -> usize {
        self.identities.len() * self.inventory.endpoints.len()
    }

    /// The interned server chains of this audit's records.
    pub fn chains(&self) -> &ChainCache {
        &self.chains
    }
}

/// The inventory's identities, loaded. One whose key does not belong to its certificate cannot
/// call anything: it is left out of the matrix with a critical finding naming it (every other
/// unusable file is an input error).
fn configured_identities(
    inventory: &Inventory,
    trust: &Trust,
) -> Result<(Vec<AuditIdentity>, Vec<Finding>), InputError> {
    let mut identities = Vec::new();
    let mut findings = Vec::new();
    for entry in &inventory.identities {
        let chain = crate::pki::load::load_certs(&entry.cert, crate::pki::CertRole::Leaf)?;
        let key = crate::pki::load::load_key(&entry.key)?;
        if let Err(crate::pki::IdentityError::Mismatch) =
            Identity::from_der(&entry.name, chain, key)
        {
            findings.push(
                Finding::new(
                    Code::IdentityInvalid,
                    Severity::Critical,
                    format!(
                        "the key of {} does not belong to its certificate: it was not used as a caller",
                        entry.name
                    ),
                    format!("{} and {}", entry.cert.display(), entry.key.display()),
                    "give the key that was issued with that certificate (same basename, .pem or .key), or issue a new pair from the cluster CA",
                )
                .identity(entry.name.clone()),
            );
            continue;
        }
        let identity = Identity::load(&entry.name, &entry.cert, &entry.key)?;
        identities.push(AuditIdentity::configured(
            entry,
            Caller::new(identity, trust),
        ));
    }
    Ok((identities, findings))
}

fn spec_for(ep: &Endpoint, inv: &Inventory) -> ProbeSpec {
    let mut spec = ProbeSpec::new(ep.address.clone(), ep.protocol);
    spec.server_name = ep.server_name.clone();
    spec.path = ep.path.clone();
    spec.timeouts = inv.options.timeouts;
    if ep.protocol == crate::probe::Protocol::Mysql {
        spec.mysql_account = inv.options.mysql_account.clone();
    }
    spec
}

/// The audit state as every front end sees it. Cheap to clone (records are shared).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub cluster: String,
    /// Rounds started so far (1-based while the first runs).
    pub round: u64,
    pub running: bool,
    /// Probes in the round in flight, and how many are done.
    pub total: usize,
    pub done: usize,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub identity_names: Vec<String>,
    pub endpoint_names: Vec<String>,
    pub cells: Matrix<CellState>,
    pub findings: Vec<Finding>,
    /// Per endpoint (by index), its rotation drift after the last round: `None` where no
    /// certificate or CA file is known (see [`drift`]).
    pub drift: Vec<Option<drift::Drift>>,
    /// Per endpoint (by index), its last hygiene scan: `None` until one ran (or with the scan
    /// off). Endpoints at one address share one result.
    pub scans: Vec<Option<Arc<crate::scan::ScanResult>>>,
}

impl Snapshot {
    pub fn cell(&self, identity: IdentityId, endpoint: EndpointId) -> &CellState {
        &self.cells[(identity, endpoint)]
    }

    /// The cell of the identity and endpoint so named, if this snapshot has them.
    pub fn cell_named(&self, identity: &str, endpoint: &str) -> Option<&CellState> {
        let i = self.identity_names.iter().position(|n| n == identity)?;
        let e = self.endpoint_names.iter().position(|n| n == endpoint)?;
        Some(&self.cells[(IdentityId(i), EndpointId(e))])
    }

    /// Count of each verdict.
    pub fn counts(&self) -> Vec<(Verdict, usize)> {
        Verdict::ALL
            .iter()
            .map(|v| {
                (
                    *v,
                    self.cells.iter().filter(|c| c.verdict == Some(*v)).count(),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::IdentityKind;
    use crate::pki::mint::Ca;

    /// A plan with a CA key: it mints `foreign`, `unlisted` and a `tikv` identity.
    fn minting_plan(dir: &std::path::Path) -> Plan {
        let ca = Ca::generate("t", 1).unwrap();
        std::fs::write(dir.join("ca.crt"), &ca.pem).unwrap();
        std::fs::write(dir.join("ca.key"), ca.new_key_pem.as_deref().unwrap()).unwrap();
        let text = "[cluster]\nname = \"t\"\nca = \"ca.crt\"\nca_key = \"ca.key\"\n[[endpoints]]\nname = \"pd-1\"\ncomponent = \"pd\"\naddress = \"127.0.0.1:1\"\nallowed_cn = [\"tidb\"]\n";
        let mut inv = Inventory::parse(text, &dir.join("t.toml")).unwrap();
        // As a topology whose TiKV certificate is not readable here asks.
        inv.options.minted = vec![crate::profile::Component::Tikv];
        Plan::new(inv).unwrap()
    }

    fn fingerprints(plan: &Plan) -> Vec<(String, Option<String>)> {
        plan.identities
            .iter()
            .map(|id| {
                let leaf = id.caller.identity.leaf.as_ref();
                (id.name.clone(), leaf.map(|l| l.sha256.clone()))
            })
            .collect()
    }

    #[test]
    fn minted_identities_are_renewed_at_half_their_validity_and_nothing_else_changes() {
        let dir = tempfile::tempdir().unwrap();
        let plan = minting_plan(dir.path());
        let extra: Vec<&AuditIdentity> = plan
            .identities
            .iter()
            .filter(|i| i.kind.is_extra())
            .collect();
        let names: Vec<&str> = extra.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["anonymous", "foreign", "unlisted", "tikv"]);
        let leaf = extra[1].caller.identity.leaf.as_ref().unwrap();
        let days = (leaf.not_after_unix - leaf.not_before_unix) / 86_400;
        assert_eq!(days, super::super::identity::MINTED_DAYS, "{leaf:?}");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        assert!(
            plan.renewed(now).unwrap().is_none(),
            "nothing is due at start"
        );
        let later = now + 4 * 86_400;
        let renewed = plan.renewed(later).unwrap().expect("due after 4 days");
        let (before, after) = (fingerprints(&plan), fingerprints(&renewed));
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(a.0, b.0);
            let kind = plan.identities.iter().find(|i| i.name == a.0).unwrap().kind;
            let minted = matches!(
                kind,
                IdentityKind::Foreign | IdentityKind::Unlisted | IdentityKind::Minted
            );
            assert_eq!(a.1 != b.1, minted, "{} renewed only when minted", a.0);
        }
        assert_eq!(renewed.expected, plan.expected);
        assert!(
            renewed.renewed(now).unwrap().is_none(),
            "the renewed ones are fresh"
        );
    }
}
