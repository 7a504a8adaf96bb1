//! Unknown keys and wrong types in the TLS tables of a component config: a TiUP topology's
//! `server_configs.<component>` or instance `config` layer, or the component's own TOML file.
//! One rule for YAML and TOML alike: a key of a known table that the component table
//! ([`crate::profile::ConfigFile::known_keys`]) does not have is an `UNKNOWN_KEY` finding with a
//! "did you mean"; a path or an allow-list of the wrong type is an input error.

use std::path::Path;

use super::tree::Setting;
use super::ConfigKind;
use crate::error::InputError;
use crate::finding::{Code, Finding, Severity};
use crate::profile::{ConfigKey, PROFILES};

/// What a typed key holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Ca,
    Cert,
    Key,
    List,
}

/// The typed keys of a config file (paths and allow-lists), each with its slot.
fn typed_keys(kind: &crate::profile::ConfigFile) -> Vec<(ConfigKey, Slot)> {
    let mut out = vec![
        (kind.client.ca, Slot::Ca),
        (kind.client.cert, Slot::Cert),
        (kind.client.key, Slot::Key),
    ];
    for p in PROFILES.iter().filter(|p| p.config == *kind) {
        out.extend([
            (p.server.ca, Slot::Ca),
            (p.server.cert, Slot::Cert),
            (p.server.key, Slot::Key),
        ]);
        if p.has_cn_list() {
            out.push((p.list, Slot::List));
        }
    }
    out.retain(|(k, _)| !k.table.is_empty());
    out
}

/// The known tables of a file: those of its keys and their parents.
fn tables(keys: &[ConfigKey]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for k in keys {
        let mut t = k.table;
        loop {
            if !out.iter().any(|o| o == t) {
                out.push(t.to_string());
            }
            match t.rsplit_once('.') {
                Some((parent, _)) => t = parent,
                None => break,
            }
        }
    }
    out
}

/// The closest known name: the same name in the other spelling (`cert_allowed_cn` for
/// `cert-allowed-cn`), else another component's name for the same setting
/// (`cert-allowed-cn` in tidb.toml is `cluster-verify-cn`), else by edit distance.
fn suggest<'a>(
    name: &str,
    table: &str,
    names: &[&'a str],
    typed: &[(ConfigKey, Slot)],
) -> Option<&'a str> {
    let norm = |s: &str| s.replace('_', "-").to_ascii_lowercase();
    if let Some(n) = names.iter().find(|n| norm(n) == norm(name)) {
        return Some(n);
    }
    let other_slot = PROFILES
        .iter()
        .flat_map(|p| typed_keys(&p.config))
        .find(|(k, _)| norm(k.key) == norm(name))
        .map(|(_, s)| s);
    if let Some(slot) = other_slot {
        if let Some((k, _)) = typed.iter().find(|(k, s)| *s == slot && k.table == table) {
            if let Some(n) = names.iter().find(|n| **n == k.key) {
                return Some(n);
            }
        }
    }
    super::did_you_mean(name, names)
}

/// An `UNKNOWN_KEY` finding.
pub(crate) fn unknown_key(
    what: String,
    evidence: String,
    suggestion: Option<&str>,
    severity: Severity,
    source: String,
) -> Finding {
    let fix = match suggestion {
        Some(s) => format!("did you mean {s}? Rename the key"),
        None => {
            "remove it, or check its name against the component's documentation for your version"
                .to_string()
        }
    };
    Finding::new(Code::UnknownKey, severity, what, evidence, fix).source(source)
}

/// Check a layer's flattened settings (`(setting, source)`) of a `kind` file; `layer` names it
/// in messages (`server_configs.tiflash`, `tiflash.toml`).
pub(crate) fn check(
    kind: ConfigKind,
    settings: &[(Setting, String)],
    path: &Path,
    layer: &str,
    findings: &mut Vec<Finding>,
    errors: &mut Vec<InputError>,
) {
    let file = kind.config();
    let keys = file.known_keys();
    let typed = typed_keys(file);
    let tables = tables(&keys);
    for (s, src) in settings {
        let Some(table) = tables
            .iter()
            .filter(|t| s.key.starts_with(&format!("{t}.")))
            .max_by_key(|t| t.len())
        else {
            continue;
        };
        let rest = &s.key[table.len() + 1..];
        let (name, deeper) = match rest.split_once('.') {
            Some((n, d)) => (n, Some(d)),
            None => (rest, None),
        };
        let mut names: Vec<&str> = keys
            .iter()
            .filter(|k| k.table == table)
            .map(|k| k.key)
            .collect();
        names.extend(
            tables
                .iter()
                .filter_map(|t| t.strip_prefix(&format!("{table}.")))
                .filter(|t| !t.contains('.')),
        );
        if names.contains(&name) {
            let slot = typed
                .iter()
                .find(|(k, _)| k.table == table && k.key == name)
                .map(|(_, s)| *s);
            if let Some(slot) = slot {
                if let Some(e) = type_error(path, s, &format!("{table}.{name}"), slot, deeper) {
                    errors.push(e);
                }
            }
            continue;
        }
        let hint = suggest(name, table, &names, &typed);
        let critical =
            hint.is_some_and(|h| typed.iter().any(|(k, _)| k.table == table && k.key == h));
        findings.push(unknown_key(
            format!(
                "{layer}: {} is not a key {} reads",
                s.key,
                kind.component().title()
            ),
            format!(
                "{}'s [{table}] has {}; the setting has no effect{}",
                file.file,
                names.join(", "),
                if critical {
                    ", so the TLS setting it was meant for is not in force"
                } else {
                    ""
                }
            ),
            hint.map(|h| format!("{table}.{h}")).as_deref(),
            if critical {
                Severity::Critical
            } else {
                Severity::Warning
            },
            src.clone(),
        ));
    }
}

/// A path or allow-list of the wrong type (a mapping shows up flattened as a deeper key).
fn type_error(
    path: &Path,
    s: &Setting,
    key: &str,
    slot: Slot,
    deeper: Option<&str>,
) -> Option<InputError> {
    let want = match slot {
        Slot::List => "a list of CNs",
        _ => "a path string",
    };
    let example = match slot {
        Slot::List => "[\"tidb\", \"pd\"]",
        _ => "\"/path/to/file\"",
    };
    let got = if deeper.is_some() {
        "a mapping"
    } else {
        let ok = match slot {
            Slot::List => s.value.string_list().is_some(),
            _ => s.value.as_str().is_some() || s.value.value == super::tree::Value::Null,
        };
        if ok {
            return None;
        }
        s.value.type_name()
    };
    let pos = if deeper.is_some() { s.pos } else { s.value.pos };
    Some(InputError::Config {
        path: path.to_path_buf(),
        line: pos.line.max(1),
        column: pos.column.max(1),
        problem: format!("{key} must be {want}, not {got}"),
        fix: format!("write {want} such as {example}"),
    })
}
