//! `monitored`: TiUP runs its monitoring agents, node_exporter and blackbox_exporter, on every
//! host of the cluster (their ports: the `exporter` roles' fields and defaults in the component
//! table), as plaintext HTTP even with `enable_tls`. They are not cluster links: a note says
//! where they answer plaintext, not an error; hosts whose instances all set `ignore_exporter`
//! have none.

use super::ctx::{field_port, Ctx};
use super::instance::ExporterHosts;
use crate::finding::{Code, Finding, Severity};
use crate::profile::{roles, Component, Role};
use crate::tiup::tree::{Entry, Value};
use crate::tiup::{join_host_port, source_at, Instance, InstanceEndpoint, ListLayer};

/// The agents' roles and the section's field of each one's port, with its default.
fn agents() -> impl Iterator<Item = (Role, &'static str, u16)> {
    roles(Component::Exporter).iter().map(|r| {
        let p = r.profile();
        (*r, p.tiup_port.unwrap_or_default(), p.default_port)
    })
}

/// The agents of the hosts that run them (an `ignore_exporter` that is not a boolean is an
/// input error where the instances are read), and the note where they answer plaintext on a
/// TLS cluster.
///
/// Returns one instance per host running the agents, so that the audit probes them too: their
/// verdicts show what they really answer (plaintext, or TLS where someone added it).
pub(super) fn monitored(
    ctx: &Ctx<'_>,
    entries: &[Entry],
    hosts: &ExporterHosts,
    tls_on: bool,
) -> Vec<Instance> {
    let section = Component::Exporter.tiup().map_or("", |t| t.section);
    // Only with a `monitored` section (TiUP writes one into every meta.yaml): a hand-written
    // topology without it says nothing about the agents.
    let Some(sec) = entries.iter().find(|e| e.key == section) else {
        return Vec::new();
    };
    let Some(ports) = agent_ports(ctx, sec) else {
        return Vec::new();
    };
    let (on, off) = agent_hosts(hosts);
    let origin = source_at(ctx.path, sec.key_pos, section);
    let instances: Vec<Instance> = on
        .iter()
        .map(|h| agent_instance(section, h, &ports, &origin))
        .collect();
    if !on.is_empty() && tls_on {
        ctx.note(plaintext_note(&on, &off, &ports, origin));
    }
    instances
}

/// The agents' ports, by role (`None` when the section is not a mapping: an error).
fn agent_ports(ctx: &Ctx<'_>, sec: &Entry) -> Option<Vec<(Role, u16)>> {
    let fields: &[Entry] = match &sec.value.value {
        Value::Map(m) => m,
        Value::Null => &[],
        _ => {
            let example: Vec<String> = agents()
                .map(|(_, field, port)| format!("{field}: {port}"))
                .collect();
            ctx.report(ctx.err(
                sec.value.pos,
                format!("{} must be a mapping", sec.key),
                format!("write {}: {{{}}}", sec.key, example.join(", ")),
            ));
            return None;
        }
    };
    Some(
        agents()
            .map(|(role, field, default)| {
                let port = field_port(ctx, fields, field, default).unwrap_or(default);
                (role, port)
            })
            .collect(),
    )
}

/// The hosts running the agents, and those where every instance opts out; each sorted, once.
fn agent_hosts(hosts: &ExporterHosts) -> (Vec<&str>, Vec<&str>) {
    let mut on: Vec<&str> = hosts.monitored.iter().map(String::as_str).collect();
    on.sort_unstable();
    on.dedup();
    let mut off: Vec<&str> = hosts
        .ignored
        .iter()
        .map(String::as_str)
        .filter(|h| !on.contains(h))
        .collect();
    off.sort_unstable();
    off.dedup();
    (on, off)
}

/// The agents of one host: an `exporter` instance `monitored-<host>`.
fn agent_instance(section: &str, host: &str, ports: &[(Role, u16)], origin: &str) -> Instance {
    Instance {
        component: Component::Exporter,
        name: format!("{section}-{host}"),
        host: host.to_string(),
        origin: origin.to_string(),
        version: None,
        endpoints: ports
            .iter()
            .map(|(role, port)| InstanceEndpoint {
                role: *role,
                address: join_host_port(host, *port),
                list: None,
                layer: ListLayer::Unset,
            })
            .collect(),
        security: Vec::new(),
        urls: Vec::new(),
        deploy_dir: None,
    }
}

/// `EXPORTER_PLAINTEXT`: where the agents answer plaintext on a TLS cluster.
fn plaintext_note(on: &[&str], off: &[&str], ports: &[(Role, u16)], origin: String) -> Finding {
    let port = |role: Role| {
        ports
            .iter()
            .find(|(r, _)| *r == role)
            .map_or(0, |(_, p)| *p)
    };
    let (node, blackbox) = (port(Role::NodeExporter), port(Role::BlackboxExporter));
    let addrs: Vec<String> = on
        .iter()
        .flat_map(|h| ports.iter().map(|(_, p)| join_host_port(h, *p)))
        .collect();
    Finding::new(
        Code::ExporterPlaintext,
        Severity::Info,
        format!(
            "TiUP's monitoring agents answer plaintext HTTP on {} host(s): node_exporter :{node}, blackbox_exporter :{blackbox}",
            on.len()
        ),
        format!(
            "{}{}; they serve metrics, not cluster traffic, and TiUP does not put them under TLS",
            addrs.join(", "),
            if off.is_empty() {
                String::new()
            } else {
                format!(
                    "; none on {} (every instance there sets ignore_exporter)",
                    off.join(", ")
                )
            }
        ),
        "firewall the exporter ports to the monitoring hosts, or set ignore_exporter: true on the instances of a host that must not run them",
    )
    .source(origin)
}
