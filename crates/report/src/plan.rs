//! The plan of an audit, before any probe (`report --dry-run`, and the `plan` member of
//! `lint --format json`): every endpoint that would be probed, every identity it would probe as,
//! and what each cell is expected to show. Its own versioned serde types (`tlsaudit.plan/v1`),
//! not the engine's structs.

use std::fmt::Write as _;

use serde::Serialize;
use tlsaudit_engine::audit::{IdentityKind, Plan};

use super::sanitize::inert;
use super::text::Style;

pub const SCHEMA: &str = "tlsaudit.plan/v1";

#[derive(Debug, Serialize)]
pub struct PlanDoc {
    pub schema: &'static str,
    pub cluster: String,
    /// Probes one round would make (identities x endpoints).
    pub probes: usize,
    pub endpoints: Vec<PlanEndpoint>,
    pub identities: Vec<PlanIdentity>,
    /// One per (identity, endpoint), identities in order within each endpoint.
    pub cells: Vec<PlanCell>,
    /// What the audit would not check, in words.
    pub not_checked: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PlanEndpoint {
    pub name: String,
    pub component: &'static str,
    pub role: String,
    pub address: String,
    /// The name the server certificate is verified for.
    pub server_name: String,
    pub protocol: &'static str,
    pub path: Option<String>,
    /// The CN allow-list as configured (empty: none).
    pub allowed_cn: Vec<String>,
    pub list_enforced: bool,
    /// `required`, `optional` or `none`: the client-certificate policy in force.
    pub client_auth: &'static str,
    /// Whether `client_auth` was set on the endpoint (else it follows from the profile).
    pub client_auth_configured: bool,
    pub needed_by: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PlanIdentity {
    pub name: String,
    /// `configured`, `anonymous`, `foreign` or `unlisted`.
    pub kind: IdentityKind,
    /// The certificate's CN (none for anonymous).
    pub cn: Option<String>,
    pub component: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct PlanCell {
    pub identity: String,
    pub endpoint: String,
    /// `allow` or `deny`: what the stated configuration does.
    pub expected: &'static str,
    /// What should happen: `must admit`, `must refuse`, `unstated` (docs/judgment.md).
    pub intent: &'static str,
    /// The caller needs this link: a refusal would be `blocked`.
    pub needed: bool,
    pub reason: String,
}

/// The plan's model.
pub fn doc(plan: &Plan) -> PlanDoc {
    let endpoints = plan
        .endpoints()
        .iter()
        .map(|ep| PlanEndpoint {
            name: ep.name.clone(),
            component: ep.component.as_str(),
            role: ep.role.to_string(),
            address: ep.address.clone(),
            server_name: ep.verified_name().to_string(),
            protocol: ep.protocol.as_str(),
            path: ep.path.clone(),
            allowed_cn: ep.allowed_cn.clone(),
            list_enforced: ep.policy().list_enforced,
            client_auth: ep.effective_client_auth().as_str(),
            client_auth_configured: ep.client_auth.is_some(),
            needed_by: ep.needed_by.clone(),
        })
        .collect();
    let identities = plan
        .identities
        .iter()
        .map(|id| PlanIdentity {
            name: id.name.clone(),
            kind: id.kind,
            cn: id.caller.identity.cn().map(str::to_string),
            component: id
                .component
                .map(tlsaudit_engine::profile::Component::as_str),
        })
        .collect();
    let mut cells = Vec::with_capacity(plan.cell_count());
    for (e, ep) in plan.endpoints().iter().enumerate() {
        for (i, id) in plan.identities.iter().enumerate() {
            let x = &plan.expected[(
                tlsaudit_engine::audit::IdentityId(i),
                tlsaudit_engine::audit::EndpointId(e),
            )];
            cells.push(PlanCell {
                identity: id.name.clone(),
                endpoint: ep.name.clone(),
                expected: if x.allow { "allow" } else { "deny" },
                intent: x.label(),
                needed: x.needed,
                reason: x.reason.clone(),
            });
        }
    }
    PlanDoc {
        schema: SCHEMA,
        cluster: plan.inventory.cluster.clone(),
        probes: plan.cell_count(),
        endpoints,
        identities,
        cells,
        not_checked: plan.not_checked.clone(),
    }
}

/// The plan as pretty JSON, with a final newline.
pub fn to_json(plan: &Plan) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&doc(plan)).map(|mut s| {
        s.push('\n');
        s
    })
}

/// Rows under a header, each column as wide as its widest cell; every cell made inert (names,
/// addresses and paths come from the inventory or a topology).
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| inert(c).into_owned()).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (k, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if k + 1 == cells.len() {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c:<w$}  ");
            }
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(header.to_vec()));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r.iter().map(String::as_str).collect()));
    }
}

/// One row per endpoint for the table.
fn endpoint_rows(d: &PlanDoc) -> Vec<Vec<String>> {
    d.endpoints
        .iter()
        .map(|e| {
            vec![
                e.name.clone(),
                e.component.to_string(),
                e.role.clone(),
                e.address.clone(),
                e.server_name.clone(),
                e.protocol.to_string(),
                e.path.clone().unwrap_or_else(|| "-".into()),
                format!(
                    "{}{}",
                    e.client_auth,
                    if e.client_auth_configured {
                        " (set)"
                    } else {
                        ""
                    }
                ),
                if e.allowed_cn.is_empty() {
                    "-".to_string()
                } else {
                    format!(
                        "[{}]{}",
                        e.allowed_cn.join(", "),
                        if e.list_enforced {
                            ""
                        } else {
                            " (not enforced)"
                        }
                    )
                },
            ]
        })
        .collect()
}

/// A section title, bold on a colour terminal.
fn heading(style: Style, s: &str) -> String {
    if style.color {
        format!("\x1b[1m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// The plan for people: the endpoints, the identities, and each endpoint's expectations.
pub fn render_text(plan: &Plan, style: Style) -> String {
    let d = doc(plan);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} cluster {}: {} endpoint(s) x {} identit{} = {} probe(s); nothing was sent",
        heading(style, "tlsaudit dry run:"),
        inert(&d.cluster),
        d.endpoints.len(),
        d.identities.len(),
        if d.identities.len() == 1 { "y" } else { "ies" },
        d.probes
    );
    let _ = writeln!(out, "\n{}", heading(style, "Endpoints"));
    let rows = endpoint_rows(&d);
    table(
        &mut out,
        &[
            "NAME",
            "COMPONENT",
            "ROLE",
            "ADDRESS",
            "SERVER NAME",
            "PROTOCOL",
            "PATH",
            "CLIENT CERT",
            "ALLOW-LIST",
        ],
        &rows,
    );
    let _ = writeln!(out, "\n{}", heading(style, "Identities"));
    table(
        &mut out,
        &["NAME", "KIND", "CN", "COMPONENT"],
        &identity_rows(&d),
    );
    let _ = writeln!(out, "\n{}", heading(style, "Expected"));
    expectations(&d, &mut out);
    if !d.not_checked.is_empty() {
        let _ = writeln!(out, "\n{}", heading(style, "Not checked"));
        for n in &d.not_checked {
            let _ = writeln!(out, "  - {}", inert(n));
        }
    }
    out
}

/// One row per identity for the table.
fn identity_rows(d: &PlanDoc) -> Vec<Vec<String>> {
    d.identities
        .iter()
        .map(|i| {
            vec![
                i.name.clone(),
                serde_json::to_value(i.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                i.cn.clone().unwrap_or_else(|| "(no certificate)".into()),
                i.component.unwrap_or("-").to_string(),
            ]
        })
        .collect()
}

/// Per endpoint, what each identity is expected to meet and why.
fn expectations(d: &PlanDoc, out: &mut String) {
    for e in &d.endpoints {
        let _ = writeln!(out, "{} ({})", inert(&e.name), inert(&e.address));
        let rows: Vec<Vec<String>> = d
            .cells
            .iter()
            .filter(|c| c.endpoint == e.name)
            .map(|c| {
                vec![
                    format!("  {}", c.intent),
                    c.identity.clone(),
                    if c.needed { "needed" } else { "" }.to_string(),
                    c.reason.clone(),
                ]
            })
            .collect();
        let mut block = String::new();
        table(&mut block, &["", "", "", ""], &rows);
        // The rows only: the header of an unlabelled table is blank.
        for l in block.lines().skip(1) {
            let _ = writeln!(out, "{l}");
        }
    }
}
