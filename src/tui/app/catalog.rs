//! The fixed part of an audit as the dashboard shows it: endpoints, caller identities and what
//! each cell should do, copied out of the plan ([`Catalog::from_plan`]) so that benches and
//! tests can build one without a PKI.

use std::collections::BTreeMap;

use tlsaudit_engine::audit::{EndpointId, Expected, IdentityId, IdentityKind, Matrix, Plan};
use tlsaudit_engine::profile::{Component, Role};

/// What the dashboard shows of an endpoint (copied from the plan, so that benches and tests can
/// build one without a PKI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointInfo {
    pub name: String,
    pub component: Component,
    pub role: Role,
    pub address: String,
    pub allowed_cn: Vec<String>,
    /// Inventory labels (`labels = { rack = "r1" }`), for grouping.
    pub labels: BTreeMap<String, String>,
}

/// What the dashboard shows of a caller identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityInfo {
    pub name: String,
    pub kind: IdentityKind,
    pub cn: Option<String>,
}

impl IdentityInfo {
    /// The name as the matrix shows it: `tidb*` for an identity minted from the CA key.
    pub fn label(&self) -> String {
        if self.kind == IdentityKind::Minted {
            format!("{}*", self.name)
        } else {
            self.name.clone()
        }
    }
}

/// The fixed part of an audit: endpoints, identities and what each cell should do.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub endpoints: Vec<EndpointInfo>,
    pub identities: Vec<IdentityInfo>,
    /// Row-major like the snapshot: `expected[identity * endpoints + endpoint]`.
    pub expected: Matrix<Expected>,
    /// What the audit does not check (the plan's `not_checked`), shown under the findings.
    pub not_checked: Vec<String>,
}

impl Catalog {
    /// Whether any identity was minted from the CA key (the legend then explains `name*`).
    pub fn has_minted(&self) -> bool {
        self.identities
            .iter()
            .any(|i| i.kind == IdentityKind::Minted)
    }

    /// Copy what the dashboard needs out of a plan.
    pub fn from_plan(plan: &Plan) -> Catalog {
        Catalog {
            endpoints: plan
                .endpoints()
                .iter()
                .map(|e| EndpointInfo {
                    name: e.name.clone(),
                    component: e.component,
                    role: e.role,
                    address: e.address.clone(),
                    allowed_cn: e.allowed_cn.clone(),
                    labels: e.labels.clone(),
                })
                .collect(),
            identities: plan
                .identities
                .iter()
                .map(|i| IdentityInfo {
                    name: i.name.clone(),
                    kind: i.kind,
                    cn: i.caller.identity.cn().map(str::to_string),
                })
                .collect(),
            expected: plan.expected.clone(),
            not_checked: plan.not_checked.clone(),
        }
    }

    pub fn expected(&self, identity: usize, endpoint: usize) -> Option<&Expected> {
        self.expected
            .get(IdentityId(identity), EndpointId(endpoint))
    }
}
