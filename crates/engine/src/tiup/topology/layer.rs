//! Config layers: a component's `server_configs` section and an instance's own `config`, each
//! flattened with the source of every key. Read from them: the TLS files a layer sets (or TiUP
//! manages), its CN allow-list, its address and URL settings, and the finding of an instance
//! that empties the list `server_configs` sets.

use std::path::{Path, PathBuf};

use super::ctx::{expect_map, Ctx};
use super::spec::SectionSpec;
use crate::finding::{Code, Finding, Severity};
use crate::profile::CertPolicy;
use crate::tiup::tree::{self, Entry, Node, Pos, Setting};
use crate::tiup::{keys, source_at, ConfigKind, Located, Security, UrlSetting};

/// A config layer's flattened settings, each with its source.
#[derive(Debug, Clone, Default)]
pub(super) struct Layer {
    pub(super) settings: Vec<(Setting, String)>,
}

impl Layer {
    pub(super) fn from(node: &Node, path: &Path, label: &str) -> Layer {
        Layer {
            settings: tree::flatten(node)
                .into_iter()
                .map(|s| {
                    let src = source_at(path, s.pos, &format!("{label} {}", s.key));
                    (s, src)
                })
                .collect(),
        }
    }

    /// Overlay `top` (instance) on `self` (global).
    pub(super) fn overlay(&self, top: &Layer) -> Layer {
        let mut out = self.clone();
        for (s, src) in &top.settings {
            out.settings.retain(|(o, _)| o.key != s.key);
            out.settings.push((s.clone(), src.clone()));
        }
        out
    }

    fn get(&self, key: &str) -> Option<&(Setting, String)> {
        self.settings.iter().find(|(s, _)| s.key == key)
    }
}

/// Unknown keys (findings) and wrong types (errors) in a layer's TLS tables.
pub(super) fn check_layer(ctx: &Ctx<'_>, kind: ConfigKind, layer: &Layer, label: &str) {
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    keys::check(
        kind,
        &layer.settings,
        ctx.path,
        label,
        &mut findings,
        &mut errors,
    );
    ctx.notes.borrow_mut().extend(findings);
    ctx.errors.borrow_mut().extend(errors);
}

/// Each config layer of the instance: its kind, the `server_configs` layer and its own.
pub(super) fn config_layers(
    ctx: &Ctx<'_>,
    spec: &SectionSpec,
    label: &str,
    fields: &[Entry],
    globals: &[(&str, Layer)],
) -> Vec<(ConfigKind, Layer, Layer)> {
    let mut layers: Vec<(ConfigKind, Layer, Layer)> = Vec::new();
    for (field, kind) in &spec.configs {
        let global_key = kind.config().tiup.unwrap_or(kind.name());
        let global = globals
            .iter()
            .find(|(k, _)| *k == global_key)
            .map(|(_, l)| l.clone())
            .unwrap_or_default();
        let own = match fields.iter().find(|e| e.key == *field) {
            Some(e) => own_layer(ctx, *kind, &format!("{label}.{field}"), e),
            None => Layer::default(),
        };
        layers.push((*kind, global, own));
    }
    layers
}

/// An instance's own config layer (`name`: `pd_servers[0].config`), checked.
fn own_layer(ctx: &Ctx<'_>, kind: ConfigKind, name: &str, e: &Entry) -> Layer {
    match expect_map(ctx, e, "an instance's config is a mapping of keys") {
        Ok(Some(_)) => {
            let layer = Layer::from(&e.value, ctx.path, name);
            check_layer(ctx, kind, &layer, name);
            layer
        }
        Ok(None) => Layer::default(),
        Err(err) => {
            ctx.report(err);
            Layer::default()
        }
    }
}

/// A layer's TLS files: the ones it sets (`eff`, exact when the instance's `own` layer sets the
/// cert), else TiUP's managed files under the deploy dir when `enable_tls` is on.
pub(super) fn layer_security(
    spec: &SectionSpec,
    kind: ConfigKind,
    (eff, own): (&Layer, &Layer),
    deploy_dir: &str,
    (tls_on, tls_source): (bool, &str),
) -> Option<Security> {
    set_files(kind, eff, own)
        .or_else(|| tls_on.then(|| managed_files(spec.role_name, kind, deploy_dir, tls_source)))
}

/// The TLS files a layer sets, if it sets any.
fn set_files(kind: ConfigKind, eff: &Layer, own: &Layer) -> Option<Security> {
    let located_path = |key: &str| -> Option<Located<PathBuf>> {
        eff.get(key).and_then(|(s, src)| {
            s.value.as_str().filter(|v| !v.is_empty()).map(|v| Located {
                value: PathBuf::from(v),
                source: src.clone(),
            })
        })
    };
    let [ca_key, cert_key, key_key] = kind.security_keys();
    let (ca, cert, key) = (
        located_path(&ca_key),
        located_path(&cert_key),
        located_path(&key_key),
    );
    if ca.is_none() && cert.is_none() && key.is_none() {
        return None;
    }
    Some(Security {
        kind,
        exact: own.get(&cert_key).is_some(),
        ca,
        cert,
        key,
        tiup_managed: false,
    })
}

/// The files TiUP puts under `<deploy_dir>/tls` with `enable_tls`: `ca.crt`, `<name>.crt` and
/// `<name>.pem`.
fn managed_files(name: &str, kind: ConfigKind, deploy_dir: &str, tls_source: &str) -> Security {
    let tls = format!("{deploy_dir}/tls");
    let managed = |file: String| {
        Some(Located {
            value: PathBuf::from(format!("{tls}/{file}")),
            source: tls_source.to_string(),
        })
    };
    Security {
        kind,
        ca: managed("ca.crt".into()),
        cert: managed(format!("{name}.crt")),
        key: managed(format!("{name}.pem")),
        tiup_managed: true,
        exact: true,
    }
}

/// The layer's CN allow-list, if set (a value of the wrong type is reported by the layer's
/// check and left out here), with where its key is and whether the instance's `own` layer
/// sets it.
pub(super) fn layer_allow_list(
    kind: ConfigKind,
    eff: &Layer,
    own: &Layer,
) -> Option<(Located<Vec<String>>, Pos, bool)> {
    let key = kind.list_key();
    let (s, src) = eff.get(&key)?;
    let list = Located {
        value: s.value.string_list()?,
        source: src.clone(),
    };
    Some((list, s.pos, own.get(&key).is_some()))
}

/// An instance's own config that empties the allow-list switches the check off there.
pub(super) fn emptied_list(
    ctx: &Ctx<'_>,
    label: &str,
    kind: ConfigKind,
    global: &Layer,
    own: &Layer,
) {
    let key = kind.list_key();
    let Some((s, src)) = own.get(&key) else {
        return;
    };
    if s.value.string_list().is_none_or(|l| !l.is_empty()) {
        return;
    }
    let global_list = global
        .get(&key)
        .and_then(|(g, _)| g.value.string_list())
        .filter(|l| !l.is_empty());
    let title = kind.component().title();
    let (severity, title_text, fix) = match &global_list {
        Some(g) => (
            Severity::Critical,
            format!(
                "{label}: {key} is empty, switching off on this {title} the list that server_configs sets for the others [{}]",
                g.join(", ")
            ),
            format!("remove {key} from {label}'s config so that it inherits server_configs, or list its callers there"),
        ),
        None => (
            Severity::Warning,
            format!("{label}: {key} is set to an empty list: no Common Name check on this {title}"),
            format!("list the callers in {key}, or remove the empty setting"),
        ),
    };
    ctx.note(
        Finding::new(
            Code::AllowListEmptied,
            severity,
            title_text,
            emptied_evidence(kind),
            fix,
        )
        .source(src.clone()),
    );
}

/// What an empty list does: it admits every certificate, and the ports that ask for one only
/// with a list ask for none.
fn emptied_evidence(kind: ConfigKind) -> String {
    let title = kind.component().title();
    let open = kind
        .roles()
        .iter()
        .filter(|r| r.profile().cert_policy == CertPolicy::WithList)
        .map(|r| format!("{title} {r} port {}", r.profile().default_port))
        .collect::<Vec<_>>();
    format!(
        "an empty list admits every certificate the CA issued{}",
        if open.is_empty() {
            String::new()
        } else {
            format!(
                "; the {} then asks for no client certificate at all",
                open.join(" and ")
            )
        }
    )
}

/// Keys whose values are addresses or URLs (checked for `http://` while TLS is on).
pub(crate) fn is_url_key(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    let last = last.replace('_', "-");
    last == "pd"
        || last.ends_with("url")
        || last.ends_with("urls")
        || last.ends_with("addr")
        || last.ends_with("addrs")
        || last.ends_with("address")
        || last.ends_with("endpoints")
        || last.ends_with("endpoint")
}

/// The settings of a layer whose values are addresses or URLs, one per value.
pub(super) fn url_settings(layer: &[(Setting, String)]) -> Vec<UrlSetting> {
    let mut out = Vec::new();
    for (s, src) in layer {
        if !is_url_key(&s.key) {
            continue;
        }
        let Some(values) = s.value.value.strings() else {
            continue;
        };
        for v in values {
            out.push(UrlSetting {
                key: s.key.clone(),
                value: v,
                source: src.clone(),
            });
        }
    }
    out
}
