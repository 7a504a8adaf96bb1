//! `tlsaudit fix --config tlsaudit.toml`: the findings of an audit of an inventory turned into
//! a patch of the inventory's `allowed_cn` lists (the inventory states what each server is
//! configured with), the component setting each list stands for (`[security]
//! cert-allowed-cn` in `tikv.toml`, ...), and the reloads.
//!
//! The same findings as the topology's [`super::fix`] are fixed, from the same rules: a needed
//! caller missing from a list is added to it; a list that is declared but not enforced needs its
//! server restarted. An inventory knows nothing of TiUP, so the commands name the endpoint and its
//! config file rather than `tiup cluster reload`.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::fix::Issue;
use crate::error::InputError;
use crate::inventory::{line_col, Endpoint, Inventory};
use crate::profile::{CertPolicy, ConfigKey};

/// One endpoint's list to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointList {
    pub endpoint: String,
    pub address: String,
    pub component: &'static str,
    /// The component setting the list stands for (`[security] cert-allowed-cn`).
    pub key: ConfigKey,
    /// The component's config file (`tikv.toml`).
    pub config_file: &'static str,
    pub before: Vec<String>,
    pub after: Vec<String>,
}

/// An endpoint whose server must be restarted to apply the list it is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restart {
    pub endpoint: String,
    pub address: String,
    pub component: &'static str,
    pub config_file: &'static str,
    pub why: String,
}

/// What `fix --config` will do.
#[derive(Debug, Clone, Default)]
pub struct InventoryFix {
    pub lists: Vec<EndpointList>,
    pub restarts: Vec<Restart>,
    pub fixed: Vec<Issue>,
    pub not_fixed: Vec<Issue>,
}

/// The CN a list finding asks to add, if it is one.
fn cn_to_add(issue: &Issue) -> Option<String> {
    match issue.code.as_str() {
        "CALLER_NOT_LISTED" | "TIUP_CLIENT_NOT_LISTED" => issue.cn.clone(),
        "PD_OWN_CN_NOT_LISTED" => {
            Some(super::allow::cn_of(crate::profile::Component::Pd).to_string())
        }
        _ => None,
    }
}

/// Whether the finding says the server runs without the list its config declares.
fn unapplied(issue: &Issue, ep: &Endpoint) -> bool {
    issue.code == "CN_NOT_ENFORCED"
        || (matches!(
            issue.code.as_str(),
            "ANONYMOUS_ACCEPTED" | "FOREIGN_CA_ACCEPTED"
        ) && ep.profile.cert_policy == CertPolicy::WithList
            && !ep.allowed_cn.is_empty())
}

/// Plan the fixes of `issues` on the inventory `inv`.
pub fn plan(inv: &Inventory, issues: &[Issue]) -> InventoryFix {
    let mut plan = InventoryFix::default();
    for issue in issues {
        let ep = issue
            .endpoint
            .as_deref()
            .and_then(|n| inv.endpoints.iter().find(|e| e.name == n));
        let Some(ep) = ep else {
            plan.not_fixed.push(issue.clone());
            continue;
        };
        let component = ep.component.as_str();
        let config_file = ep.profile.config.file;
        if unapplied(issue, ep) {
            if !plan.restarts.iter().any(|r| r.endpoint == ep.name) {
                plan.restarts.push(Restart {
                    endpoint: ep.name.clone(),
                    address: ep.address.clone(),
                    component,
                    config_file,
                    why: format!(
                        "{} = [{}] is declared but the running server does not enforce it",
                        ep.profile.list.toml(),
                        ep.allowed_cn.join(", ")
                    ),
                });
            }
            plan.fixed.push(issue.clone());
            continue;
        }
        let Some(cn) = cn_to_add(issue) else {
            plan.not_fixed.push(issue.clone());
            continue;
        };
        let i = match plan.lists.iter().position(|l| l.endpoint == ep.name) {
            Some(i) => i,
            None => {
                plan.lists.push(EndpointList {
                    endpoint: ep.name.clone(),
                    address: ep.address.clone(),
                    component,
                    key: ep.profile.list,
                    config_file,
                    before: ep.allowed_cn.clone(),
                    after: ep.allowed_cn.clone(),
                });
                plan.lists.len() - 1
            }
        };
        let list = &mut plan.lists[i];
        if !list.after.contains(&cn) {
            list.after.push(cn);
        }
        plan.fixed.push(issue.clone());
    }
    plan
}

/// The endpoints of an inventory file with where their name and list are written.
#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    endpoints: Vec<RawEndpoint>,
}

#[derive(Deserialize)]
struct RawEndpoint {
    name: Spanned<String>,
    allowed_cn: Option<Spanned<toml::Value>>,
}

/// The inventory text with the plan's lists applied: an existing `allowed_cn` is replaced where
/// it is written; a missing one goes under the endpoint's `name`. Comments and order are kept.
pub fn patch(text: &str, path: &Path, lists: &[EndpointList]) -> Result<String, InputError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        InputError::file(
            path,
            format!(
                "cannot read the inventory again to patch it: {}",
                e.message()
            ),
            "fix the inventory first (`tlsaudit report --config` names the problem)",
        )
    })?;
    // (line of the list or of the name, whether the list exists, the change), bottom up.
    let mut at: Vec<(usize, bool, &EndpointList)> = Vec::new();
    for l in lists {
        let Some(ep) = raw
            .endpoints
            .iter()
            .find(|e| e.name.get_ref() == &l.endpoint)
        else {
            return Err(InputError::file(
                path,
                format!("no endpoint named {:?} in this file", l.endpoint),
                "pass the inventory the report was made from",
            ));
        };
        at.push(match &ep.allowed_cn {
            Some(v) => (line_col(text, v.span().start).0, true, l),
            None => (line_col(text, ep.name.span().start).0, false, l),
        });
    }
    at.sort_by_key(|a| std::cmp::Reverse(a.0));
    let mut out = text.to_string();
    for (line, exists, l) in at {
        out = if exists {
            super::edit::set_toml_list(&out, Some(line), "", "allowed_cn", &l.after)
        } else {
            insert_after(&out, line, "allowed_cn", &l.after)
        }
        .map_err(|e| {
            InputError::file(
                path,
                format!("line {line}: {e}"),
                "set the lists printed by `tlsaudit fix` by hand",
            )
        })?;
    }
    Ok(out)
}

/// `key = [values]` on a new line after line `line` (1-based), indented like it.
fn insert_after(text: &str, line: usize, key: &str, values: &[String]) -> Result<String, String> {
    let mut lines: Vec<&str> = text.lines().collect();
    let i = line
        .checked_sub(1)
        .filter(|i| *i < lines.len())
        .ok_or("line out of range")?;
    let indent: String = lines[i].chars().take_while(|c| c.is_whitespace()).collect();
    let items: Vec<String> = values.iter().map(|v| super::render::toml_str(v)).collect();
    let setting = format!("{indent}{key} = [{}]", items.join(", "));
    lines.insert(i + 1, &setting);
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// The commands that apply the plan, in order, and the check after.
pub fn commands(plan: &InventoryFix, inventory: &Path, report: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for l in &plan.lists {
        out.push(format!(
            "{} at {}: set {} = [{}] in {}, then restart it (the list is read at start)",
            l.endpoint,
            l.address,
            l.key.toml(),
            l.after.join(", "),
            l.config_file
        ));
    }
    for r in &plan.restarts {
        out.push(format!(
            "{} at {}: restart it so that it applies {}: {}",
            r.endpoint, r.address, r.config_file, r.why
        ));
    }
    out.push(format!(
        "tlsaudit report --config {} --baseline {}    # the findings fixed above are gone",
        crate::tiup::shell_quote(&inventory.display().to_string()),
        crate::tiup::shell_quote(&report.display().to_string())
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const INV: &str = r#"[cluster]
name = "c"
ca = "ca.crt"

[[endpoints]]
name = "tikv-2"
component = "tikv"
role = "grpc"
address = "127.0.0.1:20160"
allowed_cn = ["pd", "tikv"]

[[endpoints]]
name = "tikv-3"
component = "tikv"
role = "grpc"
address = "127.0.0.1:20161"
allowed_cn = [
  "tidb",
  "pd",
]

[[endpoints]]
name = "pd-1"
component = "pd"
role = "client"
address = "127.0.0.1:2379"
"#;

    fn issue(code: &str, endpoint: &str, cn: Option<&str>) -> Issue {
        Issue {
            code: code.into(),
            endpoint: Some(endpoint.into()),
            cn: cn.map(Into::into),
            title: code.into(),
            fix: "fix".into(),
        }
    }

    fn inventory() -> Inventory {
        Inventory::parse(INV, Path::new("/x/tlsaudit.toml")).unwrap()
    }

    #[test]
    fn a_missing_caller_is_added_and_an_unenforced_list_restarts() {
        let inv = inventory();
        let p = plan(
            &inv,
            &[
                issue("CALLER_NOT_LISTED", "tikv-2", Some("tidb")),
                issue("CN_NOT_ENFORCED", "tikv-3", Some("client")),
                issue("CN_NOT_ENFORCED", "tikv-3", Some("unlisted")),
                issue("SERVER_UNTRUSTED", "pd-1", None),
                issue("CALLER_NOT_LISTED", "gone", Some("tidb")),
            ],
        );
        assert_eq!(p.lists.len(), 1);
        assert_eq!(p.lists[0].after, ["pd", "tikv", "tidb"]);
        assert_eq!(p.lists[0].key.toml(), "[security] cert-allowed-cn");
        assert_eq!(p.lists[0].config_file, "tikv.toml");
        assert_eq!(p.restarts.len(), 1, "one restart per endpoint");
        assert_eq!(p.restarts[0].endpoint, "tikv-3");
        assert_eq!(p.fixed.len(), 3);
        assert_eq!(p.not_fixed.len(), 2);
    }

    #[test]
    fn the_patch_replaces_or_inserts_the_list_and_keeps_the_rest() {
        let inv = inventory();
        let p = plan(
            &inv,
            &[
                issue("CALLER_NOT_LISTED", "tikv-2", Some("tidb")),
                issue("CALLER_NOT_LISTED", "tikv-3", Some("tikv")),
                issue("PD_OWN_CN_NOT_LISTED", "pd-1", None),
            ],
        );
        let out = patch(INV, Path::new("/x/tlsaudit.toml"), &p.lists).unwrap();
        let again = Inventory::parse(&out, Path::new("/x/tlsaudit.toml")).unwrap();
        let list = |n: &str| {
            again
                .endpoints
                .iter()
                .find(|e| e.name == n)
                .unwrap()
                .allowed_cn
                .clone()
        };
        assert_eq!(list("tikv-2"), ["pd", "tikv", "tidb"]);
        assert_eq!(list("tikv-3"), ["tidb", "pd", "tikv"]);
        assert_eq!(list("pd-1"), ["pd"]);
        // Only the three lists changed.
        let diff = super::super::edit::unified_diff("a", "b", INV, &out);
        let changed = diff
            .lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .count();
        assert_eq!(changed, 3, "{diff}");
    }

    #[test]
    fn a_list_for_an_endpoint_not_in_the_file_is_an_error() {
        let lists = vec![EndpointList {
            endpoint: "nope".into(),
            address: "127.0.0.1:1".into(),
            component: "tikv",
            key: crate::profile::Role::TikvGrpc.profile().list,
            config_file: "tikv.toml",
            before: vec![],
            after: vec!["tidb".into()],
        }];
        let e = patch(INV, Path::new("/x/tlsaudit.toml"), &lists).unwrap_err();
        assert!(e.to_string().contains("/x/tlsaudit.toml"), "{e}");
        assert!(e.to_string().contains("nope"), "{e}");
    }
}
