//! The detail pane beside or under the matrix: the selected cell's subject, expectation,
//! observed outcome, history, findings, drift, TLS session, SQL greeting, chain, timings and
//! evidence.

use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::{changes, hang_wrap, inert_line, kv, more, symbol, Theme, CHANGED, ROTATED};
use crate::tui::app::{App, EndpointInfo, IdentityInfo};
use tlsaudit_engine::audit::{IdentityKind, Verdict};
use tlsaudit_engine::probe::describe;
use tlsaudit_engine::probe::ProbeRecord;
use tlsaudit_report::sanitize::inert;

pub(super) fn draw_detail(frame: &mut Frame, area: Rect, app: &mut App, th: Theme) {
    let wrap_w = usize::from(area.width.saturating_sub(2));
    let lines: Vec<Line> = detail_lines(app, th)
        .into_iter()
        .map(inert_line)
        .flat_map(|l| hang_wrap(l, wrap_w))
        .collect();
    let max = u16::try_from(lines.len().saturating_sub(1)).unwrap_or(u16::MAX);
    app.detail_scroll = app.detail_scroll.min(max);
    let title = match app.selected_cell().and_then(|(i, e)| {
        Some((
            app.catalog.identities.get(i)?,
            app.catalog.endpoints.get(e)?,
        ))
    }) {
        Some((id, ep)) => format!(" {} -> {} ", inert(&id.name), inert(&ep.name)),
        None => " Detail ".to_string(),
    };
    let block = Block::bordered()
        .title(Span::styled(title, th.title()))
        .title_bottom(Span::styled(
            " Enter/Esc close  PgUp/PgDn scroll ",
            th.dim(),
        ));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((app.detail_scroll, 0)),
        area,
    );
}

fn kind_str(k: IdentityKind) -> &'static str {
    match k {
        IdentityKind::Configured => "from the inventory",
        IdentityKind::Anonymous => "no client certificate",
        IdentityKind::Foreign => "certificate from a throwaway CA",
        IdentityKind::Unlisted => "cluster CA, CN on no allow-list",
        IdentityKind::Minted => "minted from the CA key, with the CN TiUP gives the component",
    }
}

fn chain_lines(th: Theme, rec: &ProbeRecord, rotated: bool, out: &mut Vec<Line<'static>>) {
    let verdict = match describe::verification(rec) {
        Some((true, words)) => Span::styled(words, th.verdict(Some(Verdict::Secure))),
        Some((false, words)) => Span::styled(words, th.verdict(Some(Verdict::Untrusted))),
        None => Span::styled("no certificate seen", th.dim()),
    };
    out.push(kv(th, "Chain", vec![verdict]));
    if rotated {
        out.push(more(vec![Span::styled(
            format!("{ROTATED} rotated: the server certificate changed since the previous round"),
            th.title(),
        )]));
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let chain = describe::chain(rec, now);
    for c in &chain {
        let pad = " ".repeat(2 + 3 * c.index);
        out.push(Line::from(vec![
            Span::raw(format!("{pad}`- ")),
            Span::styled(c.subject.clone(), th.title()),
            Span::styled(format!("  [{}]", c.position.as_str()), th.dim()),
        ]));
        let pad = format!("{pad}   ");
        let state_style = if c.validity.is_valid() {
            th.verdict(Some(Verdict::Secure))
        } else {
            th.verdict(Some(Verdict::Untrusted))
                .add_modifier(Modifier::BOLD)
        };
        out.push(Line::from(vec![
            Span::raw(format!("{pad}{}  ", c.period)),
            Span::styled(c.validity.label(), state_style),
        ]));
        out.push(Line::from(format!("{pad}SAN {}", c.sans)));
        out.push(Line::from(vec![
            Span::raw(pad.clone()),
            Span::styled(format!("sha256 {}", c.sha256), th.dim()),
        ]));
    }
    if let Some(issuer) = describe::issuer_not_sent(rec) {
        out.push(Line::from(vec![
            Span::raw(format!("{}`- ", " ".repeat(2 + 3 * chain.len()))),
            Span::raw(issuer.to_string()),
            Span::styled("  [issuer, not sent]", th.dim()),
        ]));
    }
}

fn evidence_lines(th: Theme, rec: &ProbeRecord) -> Vec<Line<'static>> {
    let items = describe::evidence(rec);
    if items.is_empty() {
        return vec![kv(th, "Evidence", vec![Span::styled("none", th.dim())])];
    }
    items
        .into_iter()
        .enumerate()
        .map(|(k, s)| {
            if k == 0 {
                kv(th, "Evidence", vec![Span::raw(s)])
            } else {
                more(vec![Span::raw(s)])
            }
        })
        .collect()
}

/// A SQL port: the greeting, the logins over TLS and in plaintext, what they prove.
fn mysql_lines(th: Theme, rec: &ProbeRecord, out: &mut Vec<Line<'static>>) {
    use tlsaudit_engine::probe::mysql::PlaintextVerdict;
    let Some(m) = &rec.mysql else {
        return;
    };
    out.push(kv(
        th,
        "MySQL",
        vec![
            Span::styled(m.server_version.clone(), th.title()),
            Span::raw(if m.tls_offered {
                "  TLS offered (CLIENT_SSL)"
            } else {
                "  TLS NOT offered (no CLIENT_SSL)"
            }),
        ],
    ));
    if let Some(a) = &m.tls_login {
        out.push(more(vec![Span::raw(format!(
            "login as {} inside TLS: {}",
            m.user,
            a.describe()
        ))]));
    }
    if let Some(a) = &m.plaintext_login {
        out.push(more(vec![Span::raw(format!(
            "login as {} in plaintext: {}",
            m.user,
            a.describe()
        ))]));
    }
    let verdict = match m.plaintext {
        PlaintextVerdict::Refused => {
            Span::styled("plaintext refused", th.verdict(Some(Verdict::Secure)))
        }
        PlaintextVerdict::Accepted => {
            Span::styled("plaintext ACCEPTED", th.verdict(Some(Verdict::Unencrypted)))
        }
        PlaintextVerdict::NoTls => {
            Span::styled("plaintext only", th.verdict(Some(Verdict::Unencrypted)))
        }
        PlaintextVerdict::Unknown => Span::styled("plaintext: unknown", th.title()),
        PlaintextVerdict::NotTested => Span::styled("plaintext not tested", th.dim()),
    };
    out.push(more(vec![
        verdict,
        Span::raw(format!(": {}", m.plaintext_detail)),
    ]));
}

/// A duration in milliseconds, right-aligned so that the line keeps its width.
fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| format!("{:>6}", "-"), |v| format!("{v:>6.2}"))
}

/// The detail pane's lines for the selected cell.
fn detail_lines(app: &App, th: Theme) -> Vec<Line<'static>> {
    let Some((i, e)) = app.selected_cell() else {
        return vec![Line::from(" No cell selected.")];
    };
    let (Some(id), Some(ep)) = (app.catalog.identities.get(i), app.catalog.endpoints.get(e)) else {
        return vec![Line::from(" No cell selected.")];
    };
    let cell = app.cell(i, e);
    let mut out = subject_lines(th, ep, id);
    if let Some(x) = app.catalog.expected(i, e) {
        out.push(kv(
            th,
            "Expected",
            vec![
                Span::styled(x.words(), th.title()),
                Span::raw(format!("; {}", x.reason)),
            ],
        ));
    }
    out.extend(vantage_lines(app, th, i, e));
    let verdict = cell.and_then(|c| c.verdict);
    let rec = cell.and_then(|c| c.record.clone());
    let Some(rec) = rec else {
        out.push(kv(
            th,
            "Observed",
            vec![Span::styled("not probed yet", th.dim())],
        ));
        return out;
    };
    observed_lines(th, &rec, verdict, cell.is_some_and(|c| c.changed), &mut out);
    out.extend(changes::history_lines(app, th, i, e));
    out.extend(cell_findings(app, th, ep, id));
    drift_lines(app, th, e, &mut out);
    tls_lines(th, &rec, scan_span(app, th, e), &mut out);
    mysql_lines(th, &rec, &mut out);
    chain_lines(th, &rec, cell.is_some_and(|c| c.rotated), &mut out);
    out.push(timings_line(th, &rec));
    out.extend(evidence_lines(th, &rec));
    out
}

/// The endpoint's rotation drift (where its certificate or CA file is known): what it serves
/// against the files, the CA, the days left.
fn drift_lines(app: &App, th: Theme, e: usize, out: &mut Vec<Line<'static>>) {
    use tlsaudit_engine::audit::drift::{CaDrift, CertDrift};
    let Some(Some(d)) = app.snapshot.drift.get(e) else {
        return;
    };
    let bad = d.cert == CertDrift::NotReloaded || d.ca == CaDrift::RestartRequired;
    let style = if bad {
        th.verdict(Some(Verdict::Blocked))
            .add_modifier(Modifier::BOLD)
    } else {
        th.dim()
    };
    for (k, line) in d.describe().into_iter().enumerate() {
        let value = vec![Span::styled(line, style)];
        out.push(if k == 0 {
            kv(th, "Drift", value)
        } else {
            more(value)
        });
    }
}

/// A merged report's cell: what each vantage point saw (the cell shows the worst).
fn vantage_lines(app: &App, th: Theme, i: usize, e: usize) -> Vec<Line<'static>> {
    let n_ep = app.catalog.endpoints.len();
    let Some(Some(by)) = app.by_vantage.get(i * n_ep + e) else {
        return Vec::new();
    };
    // The report's rule: a vantage point that did not try the cell does not disagree.
    let differ = tlsaudit_report::model::vantages_disagree(by);
    let (identity, endpoint) = (
        &app.catalog.identities[i].name,
        &app.catalog.endpoints[e].name,
    );
    let mut out = Vec::new();
    for (k, (v, c)) in by.iter().enumerate() {
        let value = match c.not_tried {
            Some(why) => vec![Span::raw(format!(
                "{v}: {}",
                why.describe(v, identity, endpoint)
            ))],
            None => vec![
                Span::raw(format!("{v}: ")),
                Span::styled(
                    format!(
                        "{} {}",
                        symbol(c.verdict),
                        c.verdict.map_or("not probed", Verdict::as_str)
                    ),
                    th.verdict(c.verdict),
                ),
                Span::raw(c.outcome.map(|o| format!(" ({o})")).unwrap_or_default()),
            ],
        };
        out.push(if k == 0 {
            kv(th, if differ { "Vantage ≠" } else { "Vantage" }, value)
        } else {
            more(value)
        });
    }
    out
}

/// The endpoint (with its allow-list) and the identity of a cell.
fn subject_lines(th: Theme, ep: &EndpointInfo, id: &IdentityInfo) -> Vec<Line<'static>> {
    vec![
        kv(
            th,
            "Endpoint",
            vec![
                Span::styled(ep.name.clone(), th.title()),
                Span::raw(format!(
                    "  {} {}  {}",
                    ep.component.title(),
                    ep.role,
                    ep.address
                )),
            ],
        ),
        more(vec![Span::styled(
            if ep.allowed_cn.is_empty() {
                "allow-list: none set".to_string()
            } else {
                format!("allow-list: {}", ep.allowed_cn.join(", "))
            },
            th.dim(),
        )]),
        kv(
            th,
            "Identity",
            vec![
                Span::styled(id.name.clone(), th.title()),
                Span::raw(format!(
                    "  {}{}",
                    kind_str(id.kind),
                    id.cn
                        .as_deref()
                        .map(|cn| format!(", CN {cn}"))
                        .unwrap_or_default()
                )),
            ],
        ),
    ]
}

/// The observed outcome of a probed cell, and its verdict (`changed`: since the previous
/// round).
fn observed_lines(
    th: Theme,
    rec: &ProbeRecord,
    verdict: Option<Verdict>,
    changed: bool,
    out: &mut Vec<Line<'static>>,
) {
    out.push(kv(
        th,
        "Observed",
        vec![
            Span::styled(rec.outcome.class.as_str(), th.title()),
            Span::raw(format!(
                " in {}: {}",
                rec.outcome.phase.as_str(),
                rec.outcome.summary
            )),
        ],
    ));
    if let Some(a) = rec.outcome.authorization {
        out.push(more(vec![Span::raw(format!("authorization: {a}"))]));
    }
    let mut v = vec![Span::styled(
        format!(
            "{} {}",
            symbol(verdict),
            verdict.map_or("pending", Verdict::as_str)
        ),
        th.verdict(verdict),
    )];
    if changed {
        v.push(Span::styled(
            format!("  {CHANGED} changed since the previous round"),
            th.title(),
        ));
    }
    out.push(kv(th, "Verdict", v));
}

/// The negotiated TLS session, or that there was none.
/// The negotiated session, and (`scan`) what the endpoint accepts besides.
fn tls_lines(
    th: Theme,
    rec: &ProbeRecord,
    scan: Option<Span<'static>>,
    out: &mut Vec<Line<'static>>,
) {
    match &rec.tls {
        Some(t) => {
            out.push(kv(
                th,
                "TLS",
                vec![Span::raw(format!(
                    "{}  {}  ALPN {}",
                    t.version,
                    t.cipher_suite,
                    t.alpn.as_deref().unwrap_or("none")
                ))],
            ));
            let yes = |b: bool| if b { "yes" } else { "no" };
            let session = Span::styled(
                format!(
                    "key exchange {}  client cert requested {}, sent {}",
                    t.key_exchange.as_deref().unwrap_or("-"),
                    yes(t.client_cert_requested),
                    yes(t.client_cert_sent)
                ),
                th.dim(),
            );
            out.push(more([Some(session), scan].into_iter().flatten().collect()));
        }
        None => out.push(kv(
            th,
            "TLS",
            vec![Span::styled("no TLS session", th.dim())],
        )),
    }
}

/// What the endpoint accepts, from its last hygiene scan (the report's one line, `accepts TLS
/// 1.2, TLS 1.3; no weak suite`): marked when the scan found something its findings rate
/// (`ScanResult::worst`: an obsolete version, a weak suite, key or signature).
fn scan_span(app: &App, th: Theme, e: usize) -> Option<Span<'static>> {
    let scan = app.snapshot.scans.get(e)?.as_deref()?;
    let style = if scan.worst().is_some() {
        th.verdict(Some(Verdict::Blocked))
    } else {
        th.dim()
    };
    Some(Span::styled(format!("  accepts {}", scan.summary()), style))
}

/// The timings of the probe's phases.
fn timings_line(th: Theme, rec: &ProbeRecord) -> Line<'static> {
    let t = &rec.timings;
    kv(
        th,
        "Timings",
        vec![Span::raw(format!(
            "connect {}  handshake {}  check {}  total {} ms",
            ms(t.connect_ms),
            ms(t.handshake_ms),
            ms(t.check_ms),
            ms(Some(t.total_ms))
        ))],
    )
}

/// The findings about a cell: its own, and its endpoint's.
fn cell_findings(app: &App, th: Theme, ep: &EndpointInfo, id: &IdentityInfo) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let findings: Vec<_> = app
        .snapshot
        .findings
        .iter()
        .filter(|f| {
            f.endpoint.as_deref() == Some(ep.name.as_str())
                && f.identity.as_deref().is_none_or(|n| n == id.name)
        })
        .collect();
    if findings.is_empty() {
        out.push(kv(th, "Finding", vec![Span::styled("none", th.dim())]));
    }
    for f in findings {
        out.push(kv(
            th,
            "Finding",
            vec![
                Span::styled(format!("{} ", f.code), th.severity(f.severity)),
                Span::raw(format!(
                    "({}{}) {}",
                    f.severity.as_str(),
                    if f.identity.is_none() {
                        ", endpoint"
                    } else {
                        ""
                    },
                    f.title
                )),
            ],
        ));
        out.push(kv(th, "Fix", vec![Span::raw(f.fix.clone())]));
    }
    out
}
