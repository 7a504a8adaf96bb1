//! The instances of the audited sections (`pd_servers`, ...): each one's host, ports,
//! endpoints, config layers, TLS files and deploy dir, read by its section's spec; two
//! instances on one host and port are an error. Where the monitoring agents run is recorded on
//! the way ([`ExporterHosts`]).

use super::advertise::advertised;
use super::ctx::{field_port, unknown_field, Ctx};
use super::layer::{
    config_layers, emptied_list, layer_allow_list, layer_security, url_settings, Layer,
};
use super::sections::Global;
use super::spec::{self, SectionSpec, INSTANCE_FIELDS};
use crate::error::InputError;
use crate::profile::{Component, Role, Version};
use crate::tiup::tree::{Entry, Node, Value};
use crate::tiup::{
    addr_label, join_host_port, source_at, ConfigKind, Instance, InstanceEndpoint, ListLayer,
    Located, Pos, Security, Spot, UrlSetting,
};

/// What every instance inherits: `global`, the `server_configs` layers and the versions.
pub(super) struct Inherited<'a> {
    pub(super) global: &'a Global,
    pub(super) globals: &'a [(&'static str, Layer)],
    /// `component_versions`.
    pub(super) versions: &'a [(Component, Version)],
    /// The cluster's version (`meta.yaml`'s `tidb_version`).
    pub(super) version: Option<Version>,
}

impl Inherited<'_> {
    /// A component's version: its `component_versions` entry, else the cluster's.
    fn version_of(&self, component: Component) -> Option<Version> {
        self.versions
            .iter()
            .find(|(c, _)| *c == component)
            .map(|(_, v)| *v)
            .or(self.version)
    }
}

/// The hosts TiUP deploys its monitoring agents on (any instance there without
/// `ignore_exporter: true`), and those where every instance opts out.
#[derive(Default)]
pub(super) struct ExporterHosts {
    pub(super) monitored: Vec<String>,
    pub(super) ignored: Vec<String>,
}

impl ExporterHosts {
    /// Record an instance's host by its `ignore_exporter`; a value that is not a boolean is an
    /// error.
    fn record(&mut self, ctx: &Ctx<'_>, label: &str, fields: &[Entry], host: &str) {
        let ignore = fields.iter().find(|e| e.key == "ignore_exporter");
        match ignore.map(|e| (e, e.value.as_bool())) {
            Some((_, Some(true))) => self.ignored.push(host.to_string()),
            Some((e, None)) => ctx.report(ctx.err(
                e.value.pos,
                format!("{label}: ignore_exporter must be true or false"),
                "write ignore_exporter: true",
            )),
            _ => self.monitored.push(host.to_string()),
        }
    }
}

/// The instances of the audited sections, in the component table's order; each takes its
/// component's version from `component_versions`, else the cluster's `version`. An instance
/// that cannot be read is reported and left out; two instances on one host and port are an
/// error.
pub(super) fn read_instances(
    ctx: &Ctx<'_>,
    entries: &[Entry],
    inherited: &Inherited<'_>,
    exporter_hosts: &mut ExporterHosts,
) -> Vec<Instance> {
    let mut instances = Vec::new();
    let mut used = PortsInUse::default();
    for spec in spec::specs() {
        let Some(sec) = entries.iter().find(|e| e.key == spec.section) else {
            continue;
        };
        for (idx, item) in section_items(ctx, &spec, sec).iter().enumerate() {
            let label = format!("{}[{idx}]", spec.section);
            let Some(fields) = item.map() else {
                ctx.report(ctx.err(
                    item.pos,
                    format!(
                        "{label} must be a mapping with at least host, not {}",
                        item.type_name()
                    ),
                    "write each instance as `- host: 10.0.1.1`",
                ));
                continue;
            };
            let read = read_instance(ctx, &spec, (idx, &label, item, fields), inherited);
            match read {
                Ok(inst) => {
                    exporter_hosts.record(ctx, &label, fields, &inst.host);
                    let (field, default) = spec.main_port;
                    let main = field_port(ctx, fields, field, default).unwrap_or(default);
                    used.claim(ctx, &inst, main, &label, item.pos);
                    instances.push(inst);
                }
                Err(e) => ctx.report(e),
            }
        }
    }
    instances
}

/// The instances of a section: a list (empty when null); anything else is an error.
fn section_items<'n>(ctx: &Ctx<'_>, spec: &SectionSpec, sec: &'n Entry) -> &'n [Node] {
    match &sec.value.value {
        Value::Null => &[],
        Value::List(l) => l,
        _ => {
            ctx.report(ctx.err(
                sec.value.pos,
                format!(
                    "{} must be a list of instances, not {}",
                    spec.section,
                    sec.value.type_name()
                ),
                format!(
                    "write each instance as `- host: 10.0.1.1` under {}",
                    spec.section
                ),
            ));
            &[]
        }
    }
}

/// The host and port pairs the instances read so far use, with the instance and its line
/// (a map: a topology of thousands of instances is checked in linear time).
#[derive(Default)]
struct PortsInUse(std::collections::HashMap<(String, u16), (String, usize)>);

impl PortsInUse {
    /// Claim an instance's ports; one already claimed is an error at the instance.
    fn claim(&mut self, ctx: &Ctx<'_>, inst: &Instance, main: u16, label: &str, pos: Pos) {
        let host = inst.host.to_ascii_lowercase();
        let mut ports: Vec<u16> = inst
            .endpoints
            .iter()
            .filter_map(|e| e.address.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
            .collect();
        ports.insert(0, main);
        ports.dedup();
        let clash = ports.iter().find_map(|p| {
            self.0
                .get(&(host.clone(), *p))
                .map(|(other, line)| (*p, other.clone(), *line))
        });
        if let Some((port, other, line)) = clash {
            ctx.report(ctx.err(
                pos,
                format!(
                    "{label} duplicates {other} (line {line}): both use {}",
                    join_host_port(&inst.host, port)
                ),
                "remove the duplicate instance or give it other ports (TiUP refuses the conflict too)",
            ));
            return;
        }
        for p in ports {
            self.0
                .insert((host.clone(), p), (label.to_string(), pos.line));
        }
    }
}

/// Where an instance is: its index in its section, host, main port and deploy dir.
struct Place<'a> {
    index: usize,
    host: &'a str,
    main_port: u16,
    deploy_dir: &'a str,
}

impl Place<'_> {
    /// The layer of a list set at `pos`: this instance's own `config`, or `server_configs`.
    fn list_layer(
        &self,
        ctx: &Ctx<'_>,
        spec: &SectionSpec,
        kind: ConfigKind,
        (pos, own): (Pos, bool),
    ) -> ListLayer {
        let at = Spot {
            file: ctx.path.to_path_buf(),
            line: pos.line,
            column: pos.column,
        };
        if own {
            ListLayer::Instance {
                at,
                section: spec.section,
                index: self.index,
                host: self.host.to_string(),
                port: (spec.main_port.0, self.main_port),
            }
        } else {
            ListLayer::ServerConfigs {
                at,
                section: kind.config().tiup.unwrap_or(kind.name()),
            }
        }
    }
}

/// One instance (`index` and `label`: `pd_servers[0]`, its node and its fields) of a section.
fn read_instance(
    ctx: &Ctx<'_>,
    spec: &SectionSpec,
    (index, label, item, fields): (usize, &str, &Node, &[Entry]),
    inherited: &Inherited<'_>,
) -> Result<Instance, InputError> {
    check_fields(ctx, spec, label, fields);
    let host = instance_host(ctx, label, item, fields)?;
    let (main_field, main_default) = spec.main_port;
    let main_port = field_port(ctx, fields, main_field, main_default)?;
    let global = inherited.global;
    let deploy_dir =
        instance_deploy_dir(spec, fields, (&global.deploy_dir, &global.user), main_port);
    let place = Place {
        index,
        host: &host,
        main_port,
        deploy_dir: &deploy_dir,
    };
    let read = configure(ctx, spec, (label, fields), &place, inherited)?;
    Ok(Instance {
        component: spec.component,
        name: format!(
            "{}-{}",
            spec.role_name,
            addr_label(&join_host_port(&host, main_port))
        ),
        host,
        origin: source_at(ctx.path, item.pos, label),
        version: inherited.version_of(spec.component),
        endpoints: read.endpoints,
        security: read.security,
        urls: read.urls,
        deploy_dir: Some(deploy_dir),
    })
}

/// An instance's endpoints, TLS files and URLs: from each config layer (its allow-list governs
/// the endpoints of its roles), then the ports no list governs, then the `advertise_*` fields.
fn configure(
    ctx: &Ctx<'_>,
    spec: &SectionSpec,
    (label, fields): (&str, &[Entry]),
    place: &Place<'_>,
    inherited: &Inherited<'_>,
) -> Result<Configured, InputError> {
    let (host, deploy_dir) = (place.host, place.deploy_dir);
    let tls = &inherited.global.tls;
    let mut read = Configured::default();
    for (kind, global, own) in &config_layers(ctx, spec, label, fields, inherited.globals) {
        emptied_list(ctx, label, *kind, global, own);
        let eff = global.overlay(own);
        read.urls.extend(url_settings(&eff.settings));
        read.security.extend(layer_security(
            spec,
            *kind,
            (&eff, own),
            deploy_dir,
            (tls.value, &tls.source),
        ));
        let list = layer_allow_list(*kind, &eff, own).map(|(list, pos, own)| {
            let layer = place.list_layer(ctx, spec, *kind, (pos, own));
            (list, layer)
        });
        for role in kind.roles() {
            if let Some((field, _)) = spec.ports.iter().find(|p| p.1 == role) {
                read.endpoint(ctx, fields, host, (field, role), list.clone())?;
            }
        }
    }
    // Ports no allow-list governs (the SQL ports): endpoints without a list.
    for (field, role) in &spec.ports {
        if !read.endpoints.iter().any(|e| e.role == *role) {
            read.endpoint(ctx, fields, host, (field, *role), None)?;
        }
    }
    // Endpoints in the order of the section's ports.
    read.endpoints
        .sort_by_key(|e| spec.ports.iter().position(|p| p.1 == e.role));
    advertised(
        ctx,
        spec,
        label,
        fields,
        &mut read.endpoints,
        &mut read.urls,
    );
    Ok(read)
}

/// What an instance's config layers and port fields give it.
#[derive(Default)]
struct Configured {
    endpoints: Vec<InstanceEndpoint>,
    security: Vec<Security>,
    urls: Vec<UrlSetting>,
}

impl Configured {
    /// The endpoint of a role at the instance's host and the port in `field` (else the role's
    /// default), governed by `list`.
    fn endpoint(
        &mut self,
        ctx: &Ctx<'_>,
        fields: &[Entry],
        host: &str,
        (field, role): (&str, Role),
        list: Option<(Located<Vec<String>>, ListLayer)>,
    ) -> Result<(), InputError> {
        let port = field_port(ctx, fields, field, role.profile().default_port)?;
        let (list, layer) = list.map_or((None, ListLayer::Unset), |(l, at)| (Some(l), at));
        self.endpoints.push(InstanceEndpoint {
            role,
            address: join_host_port(host, port),
            list,
            layer,
        });
        Ok(())
    }
}

/// An instance field TiUP does not know (`clientport`, `client-port`) is a finding.
fn check_fields(ctx: &Ctx<'_>, spec: &SectionSpec, label: &str, fields: &[Entry]) {
    let mut known: Vec<&str> = INSTANCE_FIELDS.to_vec();
    known.extend(spec.ports.iter().map(|p| p.0));
    known.push(spec.main_port.0);
    known.extend(spec.configs.iter().map(|c| c.0));
    known.extend(spec.fields);
    known.sort_unstable();
    known.dedup();
    for e in fields {
        if !known.contains(&e.key.as_str()) {
            unknown_field(ctx, label, e, &known, false);
        }
    }
}

/// The instance's `host`, required, non-empty and free of control and bidi characters,
/// without IPv6 brackets.
fn instance_host(
    ctx: &Ctx<'_>,
    label: &str,
    item: &Node,
    fields: &[Entry],
) -> Result<String, InputError> {
    let host = match fields.iter().find(|e| e.key == "host") {
        Some(h) => h
            .value
            .scalar_text()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                ctx.err(
                    h.value.pos,
                    format!("{label}: host must be a host name or IP"),
                    "write host: 10.0.1.1",
                )
            })?,
        None => {
            return Err(ctx.err(
                item.pos,
                format!("{label} has no host"),
                "every instance needs `host:`",
            ))
        }
    };
    if let (Err(m), Some(h)) = (
        crate::inventory::names::check(&format!("{label}: host"), &host),
        fields.iter().find(|e| e.key == "host"),
    ) {
        return Err(ctx.err(h.value.pos, m, crate::inventory::names::FIX));
    }
    Ok(host
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string())
}

/// The instance's deploy dir: its own `deploy_dir` or TiUP's default under the global one,
/// relative paths under the user's home.
fn instance_deploy_dir(
    spec: &SectionSpec,
    fields: &[Entry],
    (deploy_root, user): (&str, &str),
    main_port: u16,
) -> String {
    let deploy_dir = match fields.iter().find(|e| e.key == "deploy_dir") {
        Some(d) => d.value.scalar_text().unwrap_or_default(),
        None => format!(
            "{}/{}-{main_port}",
            deploy_root.trim_end_matches('/'),
            spec.role_name
        ),
    };
    if deploy_dir.starts_with('/') {
        deploy_dir
    } else {
        format!("/home/{user}/{deploy_dir}")
    }
}
