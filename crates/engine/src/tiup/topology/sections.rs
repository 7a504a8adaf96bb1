//! The top level of a topology: a `meta.yaml`'s wrapper (`user`, `tidb_version`, `topology`),
//! the section names (unknown ones are errors, known ones with instances tlsaudit does not
//! audit a note), and the sections every instance inherits from: `global`, `server_configs`
//! and `component_versions`.

use super::ctx::{expect_map, unknown_field, Ctx};
use super::layer::{check_layer, Layer};
use super::spec::{self, GLOBAL_FIELDS};
use crate::error::InputError;
use crate::finding::{Code, Finding, Severity};
use crate::profile::{Component, Version};
use crate::tiup::tree::{Entry, Node, Value};
use crate::tiup::{did_you_mean, source_at, ConfigKind, Located};

/// The keys of a `meta.yaml`.
const META_KEYS: [&str; 5] = ["user", "group", "tidb_version", "last_ops_ver", "topology"];

/// Tell a `meta.yaml` (it has `topology:`) from a plain topology: whether it is one, the
/// topology body and the `tidb_version` it names.
pub(super) fn split_meta<'n>(
    ctx: &Ctx<'_>,
    root: &'n Node,
) -> Result<(bool, &'n Node, Option<Version>), InputError> {
    let Some(top) = root.map() else {
        return Err(ctx.err(
            root.pos,
            format!("a topology must be a mapping, not {}", root.type_name()),
            "start from `tiup cluster template` or the cluster's meta.yaml",
        ));
    };
    let Some(t) = top.iter().find(|e| e.key == "topology") else {
        return Ok((false, root, None));
    };
    for e in top {
        if !META_KEYS.contains(&e.key.as_str()) {
            ctx.report(ctx.err(
                e.key_pos,
                format!("unknown key {:?} in a meta.yaml", e.key),
                "a meta.yaml has user, tidb_version, last_ops_ver and topology",
            ));
        }
    }
    let version = top
        .iter()
        .find(|e| e.key == "tidb_version")
        .and_then(|v| meta_version(ctx, v));
    Ok((true, &t.value, version))
}

/// `tidb_version`, parsed; one that does not parse is an error.
fn meta_version(ctx: &Ctx<'_>, v: &Entry) -> Option<Version> {
    let text = v.value.scalar_text().unwrap_or_default();
    let parsed = Version::parse(&text);
    if parsed.is_none() {
        ctx.report(ctx.err(
            v.value.pos,
            format!("tidb_version {text:?} is not a version"),
            "write it as v8.5.0",
        ));
    }
    parsed
}

/// Refuse unknown top-level sections (like TiUP); a note lists the known sections with
/// instances that are not audited.
pub(super) fn check_sections(ctx: &Ctx<'_>, entries: &[Entry]) {
    let audited = spec::audited();
    let all_known = spec::known();
    let mut skipped = Vec::new();
    for e in entries {
        if audited.contains(&e.key.as_str()) {
            continue;
        }
        if all_known.contains(&e.key.as_str()) {
            let lists = e.key.ends_with("_servers") || e.key.starts_with("tispark");
            if lists && matches!(&e.value.value, Value::List(l) if !l.is_empty()) {
                skipped.push((
                    format!("{} (line {})", e.key, e.key_pos.line),
                    source_at(ctx.path, e.key_pos, &e.key),
                ));
            }
            continue;
        }
        let fix = match did_you_mean(&e.key, &all_known) {
            Some(s) => format!("did you mean {s}? (TiUP refuses unknown sections too)"),
            None => format!(
                "tlsaudit reads {}; remove or rename the section",
                audited.join(", ")
            ),
        };
        ctx.report(ctx.err(
            e.key_pos,
            format!("unknown topology section {:?}", e.key),
            fix,
        ));
    }
    if !skipped.is_empty() {
        ctx.note(not_audited(&skipped));
    }
}

/// `TOPOLOGY_SECTION_NOT_AUDITED`: the sections with instances tlsaudit does not probe, each
/// as `name (line n)` with its source.
fn not_audited(skipped: &[(String, String)]) -> Finding {
    Finding::new(
        Code::TopologySectionNotAudited,
        Severity::Info,
        format!(
            "{} section(s) of the topology are not audited",
            skipped.len()
        ),
        skipped
            .iter()
            .map(|(what, _)| what.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        "these components are not probed; audit their TLS ports with a tlsaudit.toml (--config) if they serve mTLS",
    )
    .source(skipped.first().map(|(_, src)| src.clone()))
}

/// The `global` section's settings that instances inherit.
pub(super) struct Global {
    /// `enable_tls`, or false (not set).
    pub(super) tls: Located<bool>,
    pub(super) deploy_dir: String,
    pub(super) user: String,
}

/// The `global` section: `enable_tls` (false when not set), `deploy_dir` and `user`; an unknown
/// field is a finding.
pub(super) fn read_global(ctx: &Ctx<'_>, entries: &[Entry]) -> Global {
    let mut tls = None;
    let mut deploy_dir = "deploy".to_string();
    let mut user = "tidb".to_string();
    let g = entries.iter().find(|e| e.key == "global");
    let fields = g.and_then(|g| {
        expect_map(ctx, g, "global takes user, deploy_dir, enable_tls, ...")
            .map_err(|e| ctx.report(e))
            .ok()
            .flatten()
    });
    for e in fields.unwrap_or(&[]) {
        match e.key.as_str() {
            "enable_tls" => tls = enable_tls(ctx, e).or(tls),
            "deploy_dir" => deploy_dir = e.value.scalar_text().unwrap_or(deploy_dir),
            "user" => user = e.value.scalar_text().unwrap_or(user),
            k if GLOBAL_FIELDS.contains(&k) => {}
            k => unknown_field(ctx, "global", e, &GLOBAL_FIELDS, k.contains("tls")),
        }
    }
    let tls = tls.unwrap_or_else(|| Located {
        value: false,
        source: format!("{}: global.enable_tls (not set)", ctx.path.display()),
    });
    Global {
        tls,
        deploy_dir,
        user,
    }
}

/// `global.enable_tls`; a value that is not a boolean is an error.
fn enable_tls(ctx: &Ctx<'_>, e: &Entry) -> Option<Located<bool>> {
    match e.value.as_bool() {
        Some(v) => Some(Located {
            value: v,
            source: source_at(ctx.path, e.key_pos, "global.enable_tls"),
        }),
        None => {
            ctx.report(ctx.err(
                e.value.pos,
                format!(
                    "enable_tls must be true or false, not {}",
                    e.value.type_name()
                ),
                "write enable_tls: true",
            ));
            None
        }
    }
}

/// The `server_configs` section: each component's global config layer (its TLS tables checked
/// for unknown keys and types).
pub(super) fn read_server_configs(ctx: &Ctx<'_>, entries: &[Entry]) -> Vec<(&'static str, Layer)> {
    let mut globals: Vec<(&str, Layer)> = Vec::new();
    let Some(sc) = entries.iter().find(|e| e.key == "server_configs") else {
        return globals;
    };
    let sc = match expect_map(ctx, sc, "server_configs maps a component to its config") {
        Ok(m) => m.unwrap_or(&[]),
        Err(e) => {
            ctx.report(e);
            &[]
        }
    };
    let sections = spec::server_configs();
    for e in sc {
        let Some(name) = sections.iter().find(|s| **s == e.key).copied() else {
            let fix = match did_you_mean(&e.key, &sections) {
                Some(s) => format!("did you mean {s}?"),
                None => format!("use one of {}", sections.join(", ")),
            };
            ctx.report(ctx.err(
                e.key_pos,
                format!("unknown server_configs section {:?}", e.key),
                fix,
            ));
            continue;
        };
        match expect_map(ctx, e, "a component's config is a mapping of keys") {
            Ok(Some(_)) => globals.push((name, server_config(ctx, name, e))),
            Ok(None) => {}
            Err(err) => ctx.report(err),
        }
    }
    globals
}

/// One section of `server_configs`, checked when its file is audited.
fn server_config(ctx: &Ctx<'_>, name: &str, e: &Entry) -> Layer {
    let label = format!("server_configs.{name}");
    let layer = Layer::from(&e.value, ctx.path, &label);
    if let Ok(kind) = ConfigKind::from_name(name) {
        check_layer(ctx, kind, &layer, &label);
    }
    layer
}

/// The `component_versions` section: the versions it names that parse (others are ignored),
/// by TiUP's name of the component (`cdc`) or its own.
pub(super) fn read_component_versions(entries: &[Entry]) -> Vec<(Component, Version)> {
    let mut versions: Vec<(Component, Version)> = Vec::new();
    if let Some(cv) = entries.iter().find(|e| e.key == "component_versions") {
        for e in cv.value.map().unwrap_or(&[]) {
            let text = e.value.scalar_text().unwrap_or_default();
            let comp = Component::from_identity_name(&e.key).or_else(|| e.key.parse().ok());
            if let (Some(c), Some(v)) = (comp, Version::parse(&text)) {
                versions.push((c, v));
            }
        }
    }
    versions
}
