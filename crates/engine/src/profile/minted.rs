//! The names of the identities the audit mints for components, besides the inventory's.

use super::component::Component;

/// The names of the identities the audit can add, in the order it adds them: the fixed ones,
/// then one per component the inventory's options mint (`AuditOptions::minted`,
/// [`minted_name`]). No inventory identity may take these names.
pub const EXTRA_NAMES: [&str; 3] = ["anonymous", "foreign", "unlisted"];

/// The name of the identity minted for a component: the CN TiUP gives its certificate.
pub fn minted_name(component: Component) -> &'static str {
    component.cert_name()
}
