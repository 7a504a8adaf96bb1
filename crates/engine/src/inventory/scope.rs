//! A subset of the inventory for production: some components, some endpoints, some identities.

use super::Inventory;
use crate::error::InputError;
use crate::profile::Component;

/// What to audit of an inventory; empty lists mean "all".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Keep the endpoints of these components.
    pub components: Vec<Component>,
    /// Keep these endpoints, by name.
    pub endpoints: Vec<String>,
    /// Probe as these identities only: inventory names, or `anonymous`, `foreign`, `unlisted`
    /// and the minted ones (`tidb`, `tikv`, ... from a topology).
    pub identities: Vec<String>,
}

impl Scope {
    /// Whether the scope keeps everything.
    pub fn is_all(&self) -> bool {
        self.components.is_empty() && self.endpoints.is_empty() && self.identities.is_empty()
    }
}

fn unknown(kind: &str, name: &str, have: &[&str]) -> InputError {
    InputError::usage(
        format!("no {kind} {name:?} in the inventory"),
        if have.is_empty() {
            format!("the inventory has no {kind}s")
        } else {
            format!("use one of: {}", have.join(", "))
        },
    )
}

pub(super) fn restrict(inv: &mut Inventory, scope: &Scope) -> Result<(), InputError> {
    if scope.is_all() {
        return Ok(());
    }
    let before = inv.endpoints.len();
    let names: Vec<&str> = inv.endpoints.iter().map(|e| e.name.as_str()).collect();
    for name in &scope.endpoints {
        if !names.contains(&name.as_str()) {
            return Err(unknown("endpoint", name, &names));
        }
    }
    let present: Vec<Component> = inv.endpoints.iter().map(|e| e.component).collect();
    for c in &scope.components {
        if !present.contains(c) {
            let mut have: Vec<&str> = present.iter().map(|c| c.as_str()).collect();
            have.dedup();
            return Err(unknown("component", c.as_str(), &have));
        }
    }
    let keep = |e: &super::Endpoint| {
        (scope.components.is_empty() || scope.components.contains(&e.component))
            && (scope.endpoints.is_empty() || scope.endpoints.contains(&e.name))
    };
    inv.endpoints.retain(keep);
    if inv.endpoints.is_empty() {
        return Err(InputError::usage(
            "the scope leaves no endpoint to probe",
            "--component and --endpoint both narrow the audit: give an endpoint of one of the components, or drop one of them",
        ));
    }
    let mut notes = Vec::new();
    if inv.endpoints.len() < before {
        let mut why = Vec::new();
        if !scope.components.is_empty() {
            let c: Vec<&str> = scope.components.iter().map(|c| c.as_str()).collect();
            why.push(format!("--component {}", c.join(",")));
        }
        if !scope.endpoints.is_empty() {
            why.push(format!("--endpoint {}", scope.endpoints.join(",")));
        }
        notes.push(format!(
            "{} of {before} endpoints were left out of the audit ({}): their links were not probed",
            before - inv.endpoints.len(),
            why.join(", ")
        ));
    }
    if !scope.identities.is_empty() {
        restrict_identities(inv, &scope.identities, &mut notes)?;
    }
    inv.options.scope_notes.extend(notes);
    Ok(())
}

fn restrict_identities(
    inv: &mut Inventory,
    wanted: &[String],
    notes: &mut Vec<String>,
) -> Result<(), InputError> {
    let mut have: Vec<&str> = inv.identities.iter().map(|i| i.name.as_str()).collect();
    have.extend(crate::profile::EXTRA_NAMES);
    have.extend(
        inv.options
            .minted
            .iter()
            .map(|c| crate::profile::minted_name(*c)),
    );
    for name in wanted {
        if !have.contains(&name.as_str()) {
            return Err(unknown("identity", name, &have));
        }
    }
    let left_out: Vec<String> = inv
        .identities
        .iter()
        .filter(|i| !wanted.contains(&i.name))
        .map(|i| i.name.clone())
        .collect();
    inv.identities.retain(|i| wanted.contains(&i.name));
    let o = &mut inv.options;
    for (name, flag) in [
        ("anonymous", &mut o.anonymous),
        ("foreign", &mut o.foreign),
        ("unlisted", &mut o.unlisted),
    ] {
        // Said by the plan's "not checked" (the identity is switched off).
        if *flag && !wanted.iter().any(|w| w == name) {
            *flag = false;
        }
    }
    inv.options
        .minted
        .retain(|c| wanted.iter().any(|w| w == crate::profile::minted_name(*c)));
    if !left_out.is_empty() {
        notes.push(format!(
            "identities left out of the audit (--identity): {}",
            left_out.join(", ")
        ));
    }
    Ok(())
}
