//! The HTML report: one self-contained file (inline CSS and a little inline JavaScript, no
//! request leaves the page, which its Content-Security-Policy enforces), readable printed and on
//! a phone. The header, the matrix of identities x endpoints grouped by component with each
//! verdict's symbol and colour, a legend, the findings sorted by severity, the TLS hygiene scan
//! of each endpoint that carries one (versions, suites, order, groups, chain), and a detail for every
//! cell, shown when the cell is clicked and reachable by a stable anchor (`#cell-tidb-tikv-1`).
//! The filters (failing only, per component) run in the page.
//!
//! Written with `maud`: the markup is checked at compile time and every value is escaped; peer
//! text additionally goes through [`inert`] so that control characters show as escapes.

use std::borrow::Cow;

use maud::{html, Markup, PreEscaped, DOCTYPE};
use tlsaudit_engine::audit::{Severity, Verdict};
use tlsaudit_engine::probe::ProbeRecord;

use crate::model::{Cell, Endpoint, Finding, Identity, Provenance, Report};
use crate::named::Named;
use crate::shared::{
    cell_anchor, component_title, endpoint_anchor, inert, verdict_meaning, Doc, Group, Kind,
    SEVERITIES,
};

const CSS: &str = r#"
:root{--fg:#1b1f24;--muted:#57606a;--bg:#fff;--line:#d0d7de;--head:#f6f8fa;
--ok:#1a7f37;--ok-bg:#dafbe1;--deny:#0969da;--deny-bg:#ddf4ff;--bad:#cf222e;--bad-bg:#ffebe9;
--warn:#9a6700;--warn-bg:#fff8c5;--plain:#8250df;--plain-bg:#fbefff}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--line:#30363d;
--head:#161b22;--ok:#3fb950;--ok-bg:#12261e;--deny:#58a6ff;--deny-bg:#121d2f;--bad:#ff7b72;
--bad-bg:#2d1214;--warn:#d29922;--warn-bg:#272115;--plain:#d2a8ff;--plain-bg:#231a33}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:78rem;padding:1rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:1.5rem;margin:.2rem 0 .6rem}h2{font-size:1.2rem;margin:1.6rem 0 .6rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
h3{font-size:1rem;margin:.2rem 0 .4rem}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em}
a{color:var(--deny)}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;margin:0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;overflow-wrap:anywhere}
.counts{display:flex;flex-wrap:wrap;gap:.4rem;margin:.6rem 0;padding:0;list-style:none}
.counts li{border:1px solid var(--line);border-radius:1rem;padding:.05rem .6rem}
.sym{display:inline-block;min-width:1.4em;text-align:center;font-weight:700;font-family:ui-monospace,Menlo,Consolas,monospace;border-radius:.25rem}
.v-secure>*,.sym.v-secure{color:var(--ok);background:var(--ok-bg)}.v-enforced>*,.sym.v-enforced{color:var(--deny);background:var(--deny-bg)}
.v-open>*,.v-blocked>*,.v-untrusted>*,.sym.v-open,.sym.v-blocked,.sym.v-untrusted{color:var(--bad);background:var(--bad-bg)}
.v-unencrypted>*,.sym.v-unencrypted{color:var(--plain);background:var(--plain-bg)}
.v-unreachable>*,.v-error>*,.v-bad-identity>*,.sym.v-unreachable,.sym.v-error,.sym.v-bad-identity{color:var(--warn);background:var(--warn-bg)}.v-none{color:var(--muted)}
#filters{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;margin:.4rem 0 .6rem}
.scroll{overflow-x:auto;max-width:100%;width:fit-content;border:1px solid var(--line);border-radius:.4rem}
table{border-collapse:collapse}
.matrix th,.matrix td{border-bottom:1px solid var(--line);padding:.2rem .35rem;text-align:center;white-space:nowrap}
.matrix thead th{min-width:3.2rem}
.matrix thead th{background:var(--head);position:sticky;top:0;font-weight:600}
.matrix th.ep{text-align:left;position:sticky;left:0;background:var(--bg);font-weight:600}
.matrix th.ep small{display:block;font-weight:400;color:var(--muted)}
.matrix tr[data-failing=true] th.ep{box-shadow:inset .25rem 0 var(--bad)}
.matrix tr.group th{text-align:left;background:var(--head);font-weight:700}
.matrix td.cell a{display:block;text-decoration:none;border-radius:.25rem;min-width:2.2rem;font-family:ui-monospace,Menlo,Consolas,monospace;font-weight:700;padding:.1rem 0}
.matrix td.cell a:hover,.matrix td.cell a:focus{outline:2px solid var(--fg)}
.matrix td.cell sup{font-weight:400}
.legend{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:.2rem .8rem;margin:.6rem 0;padding:0;list-style:none;font-size:.92em}
.finding{border:1px solid var(--line);border-left:.35rem solid var(--line);border-radius:.4rem;padding:.5rem .8rem;margin:.5rem 0}
.sev-critical{border-left-color:var(--bad)}.sev-warning{border-left-color:var(--warn)}.sev-info{border-left-color:var(--deny)}
.sev{font-size:.78em;font-weight:700;letter-spacing:.04em;padding:.05rem .35rem;border-radius:.25rem}
.sev-critical .sev{color:var(--bad);background:var(--bad-bg)}.sev-warning .sev{color:var(--warn);background:var(--warn-bg)}.sev-info .sev{color:var(--deny);background:var(--deny-bg)}
.finding dl,.detail dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem;margin:.3rem 0}
.finding dt,.detail dt{color:var(--muted)}.finding dd,.detail dd{margin:0;overflow-wrap:anywhere}
.detail{display:none;border:2px solid var(--fg);border-radius:.4rem;padding:.6rem .9rem;margin:.6rem 0}
.detail:target{display:block}
.detail h4{margin:.7rem 0 .2rem;font-size:.95rem}
.detail ol{margin:.2rem 0;padding-left:1.4rem}
.hint{color:var(--muted)}
pre.inventory{border:1px solid var(--line);border-radius:.4rem;padding:.5rem .8rem;overflow-x:auto;white-space:pre-wrap}
footer{margin-top:2rem;color:var(--muted);font-size:.85em}
@media (max-width:40rem){body{padding:.5rem;font-size:14px}dl.meta,.finding dl,.detail dl{grid-template-columns:1fr}dl.meta dt,.finding dt,.detail dt{margin-top:.3rem}}
ul.evidence{list-style:none;margin:.2rem 0 .6rem;padding:0;font-size:.9em}ul.evidence li{margin:.1rem 0}
ul.evidence .key{white-space:nowrap;font-weight:600}ul.evidence .when{color:var(--muted);white-space:nowrap}
.evidence-endpoint h3{font-size:.95rem;margin:.8rem 0 .2rem}
@page{margin:12mm}
@media print{body{max-width:none;font-size:10pt;padding:0}#filters,.back,.hint{display:none!important}
#evidence{break-before:page}.evidence-endpoint h3{break-after:avoid}ul.evidence li{break-inside:avoid}pre.inventory{white-space:pre-wrap;overflow:visible}
.scroll{overflow:visible;border:none}.matrix thead th,.matrix th.ep{position:static}
.detail.failing{display:block;break-inside:avoid}.finding{break-inside:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}a{color:inherit;text-decoration:none}}
"#;

/// Filters: failing only (hides endpoint rows whose every cell is healthy) and per component
/// (the matrix and the findings). The controls stay hidden where scripts do not run.
const SCRIPT: &str = r#"
(function () {
  var d = document, f = d.getElementById('failing-only'), c = d.getElementById('component');
  if (!f || !c) return;
  d.getElementById('filters').hidden = false;
  function apply() {
    var comp = c.value, only = f.checked, rows = 0;
    d.querySelectorAll('tbody.group').forEach(function (g) {
      var shown = 0;
      g.querySelectorAll('tr.endpoint').forEach(function (r) {
        var show = (!comp || g.dataset.component === comp) && (!only || r.dataset.failing === 'true');
        r.hidden = !show;
        if (show) shown++;
      });
      g.hidden = shown === 0;
      rows += shown;
    });
    d.querySelectorAll('.finding').forEach(function (a) {
      a.hidden = !!comp && !!a.dataset.component && a.dataset.component !== comp;
    });
    var n = d.getElementById('shown');
    if (n) n.textContent = rows + ' endpoint' + (rows === 1 ? '' : 's') + ' shown';
  }
  f.addEventListener('change', apply);
  c.addEventListener('change', apply);
  apply();
})();
"#;

fn t(s: &str) -> Cow<'_, str> {
    inert(s)
}

pub(crate) fn class(v: Option<Verdict>) -> &'static str {
    match v {
        Some(Verdict::Secure) => "v-secure",
        Some(Verdict::Enforced) => "v-enforced",
        Some(Verdict::Open) => "v-open",
        Some(Verdict::Blocked) => "v-blocked",
        Some(Verdict::Unencrypted) => "v-unencrypted",
        Some(Verdict::Untrusted) => "v-untrusted",
        Some(Verdict::Unreachable) => "v-unreachable",
        Some(Verdict::Error) => "v-error",
        Some(Verdict::BadIdentity) => "v-bad-identity",
        None => "v-none",
    }
}

pub(crate) fn symbol(v: Option<Verdict>) -> char {
    v.map_or('.', Verdict::symbol)
}

pub(crate) fn verdict_name(v: Option<Verdict>) -> &'static str {
    v.map_or("not probed", Verdict::as_str)
}

/// The class of a severity; one this version does not know looks critical.
fn sev_class(s: Option<Severity>) -> &'static str {
    match s {
        Some(Severity::Critical) | None => "sev-critical",
        Some(Severity::Warning) => "sev-warning",
        Some(Severity::Info) => "sev-info",
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |m| format!("{m:.1} ms"))
}

/// The `'sha256-...'` CSP source of an inline element's text.
fn csp_hash(text: &str) -> String {
    let hex = tlsaudit_engine::pki::summary::sha256_hex(text.as_bytes());
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect();
    format!("'sha256-{}'", base64(&bytes))
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The report as one HTML page.
pub fn render(doc: &Doc<'_>) -> String {
    let r = &doc.report;
    let csp = format!(
        "default-src 'none'; style-src {}; script-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        csp_hash(CSS),
        csp_hash(SCRIPT)
    );
    let what = match doc.kind {
        Kind::Audit => "report",
        Kind::Lint => "lint",
    };
    let title = format!("tlsaudit {what}: cluster {}", inert(&r.cluster.name));
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(csp);
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content={ "tlsaudit " (r.tool.version) };
                title { (title) }
                link rel="icon" href="data:,";
                style { (PreEscaped(CSS)) }
            }
            body {
                header { (header(doc, &title)) }
                main {
                    @if doc.kind == Kind::Audit {
                        (matrix(doc))
                    }
                    (findings(doc))
                    (drift(doc))
                    (scans(doc))
                    @if !r.not_checked.is_empty() {
                        section id="not-checked" {
                            h2 { "Not checked" }
                            ul {
                                @for n in &r.not_checked {
                                    li { (inert(n)) }
                                }
                            }
                        }
                    }
                    @if doc.kind == Kind::Audit {
                        (details(doc))
                    }
                    @if doc.kind == Kind::Audit {
                        (crate::appendix::section(doc))
                    }
                    (inventory_section(r))
                }
                footer {
                    "Written by " (r.tool.name) " " (r.tool.version) ". "
                    @if doc.kind == Kind::Audit {
                        "The same model as "
                        code { "--format json" }
                        " (" code { (r.schema) } ")."
                    }
                }
                @if doc.kind == Kind::Audit {
                    script { (PreEscaped(SCRIPT)) }
                }
            }
        }
    };
    page.into_string()
}

fn header(doc: &Doc<'_>, title: &str) -> Markup {
    let r = &doc.report;
    let when = match (&r.started_at, &r.finished_at) {
        (Some(s), Some(f)) if s != f => format!("{s} .. {f}"),
        (_, Some(f)) => f.clone(),
        (Some(s), None) => format!("{s} (not finished)"),
        (None, None) => "-".into(),
    };
    html! {
        h1 { (title) }
        dl.meta {
            dt { "cluster" } dd { (t(&r.cluster.name)) }
            dt { "when" } dd.mono { (when) }
            @if let Some(v) = &r.vantage {
                dt { "vantage" } dd { (t(v)) }
            }
            @if let Some(vs) = &r.vantages {
                dt { "merged from" } dd { (vs.len()) " vantage points: " (t(&vs.join(", "))) }
            }
            @for input in &doc.inputs {
                dt { (input.label) } dd.mono { (t(&input.value)) }
            }
            dt { "tool" } dd { (r.tool.name) " " (r.tool.version) }
            @if let Some(p) = &r.provenance {
                (provenance_facts(p))
            }
            @if doc.kind == Kind::Audit {
                dt { "matrix" }
                dd {
                    (r.summary.endpoints) " endpoints x " (r.summary.identities) " identities, "
                    (r.summary.cells) " cells"
                }
            }
        }
        @if doc.kind == Kind::Audit {
            ul.counts aria-label="verdicts" {
                @for v in Verdict::ALL {
                    @let n = doc.verdict_count(v);
                    @if n > 0 {
                        li { span.sym.(class(Some(v))) { (v.symbol()) } " " (v.as_str()) " " strong { (n) } }
                    }
                }
            }
        }
        ul.counts aria-label="findings" {
            @for s in SEVERITIES {
                li.(sev_class(Some(s))) { span.sev { (s.as_str().to_uppercase()) } " " strong { (doc.count(s)) } }
            }
        }
    }
}

/// The provenance in the header: build, command line, host, inventory hash, CA fingerprints.
fn provenance_facts(p: &Provenance) -> Markup {
    html! {
        @if let Some(b) = &p.build {
            dt { "build" } dd.mono { (t(b)) }
        }
        @if !p.command_line.is_empty() {
            dt { "command" } dd.mono { (t(&p.command_text())) }
        }
        @if let Some(h) = &p.host {
            dt { "probing host" } dd.mono { (t(h)) }
        }
        @if let Some(h) = &p.inventory_sha256 {
            dt { "inventory sha256" } dd.mono { (h) }
        }
        @for ca in &p.ca_certificates {
            dt { "CA sha256" }
            dd.mono { (ca.sha256) " " span.hint { (t(&ca.subject)) ", until " (t(&ca.not_after)) } }
        }
    }
}

/// The inventory as the audit read it (key paths, never keys), when the report carries it.
fn inventory_section(r: &Report) -> Markup {
    html! {
        @if let Some(text) = r.provenance.as_ref().and_then(|p| p.inventory_text.as_ref()) {
            section #inventory {
                h2 { "Inventory" }
                p.hint { "The inventory this audit was made from, as read (its SHA-256 is in the header)." }
                pre.inventory { (t(text)) }
            }
        }
    }
}

fn matrix(doc: &Doc<'_>) -> Markup {
    let r = &doc.report;
    let groups = doc.groups();
    html! {
        section #matrix {
            h2 { "Matrix" }
            p.hint {
                "Rows are endpoints, grouped by component; columns are the identities the audit called as. "
                "Select a cell for its detail."
            }
            (filters(&groups))
            div.scroll {
                table.matrix {
                    (matrix_head(r))
                    @for g in &groups {
                        (group_rows(doc, g))
                    }
                }
            }
            h3 { "Legend" }
            (legend(r))
        }
    }
}

/// The filters (failing only, per component); hidden where scripts do not run.
fn filters(groups: &[Group]) -> Markup {
    html! {
        div #filters hidden {
            label { input #failing-only type="checkbox"; " failing only" }
            label {
                "component "
                select #component {
                    option value="" { "all" }
                    @for g in groups {
                        option value=(t(&g.component)) { (g.title) }
                    }
                }
            }
            span #shown .hint {}
        }
    }
}

/// The identities across the top; one minted from the CA key is marked `*`.
fn matrix_head(r: &Report) -> Markup {
    html! {
        thead {
            tr {
                th.ep scope="col" { "endpoint" }
                @for id in &r.identities {
                    @if id.kind == tlsaudit_engine::audit::IdentityKind::Minted {
                        th scope="col" title=(t(&format!("{}: minted from the CA key", id.cn.as_deref().unwrap_or(&id.name)))) { (t(&id.name)) "*" }
                    } @else {
                        th scope="col" title=(t(id.cn.as_deref().unwrap_or(&id.name))) { (t(&id.name)) }
                    }
                }
            }
        }
    }
}

/// One component's rows: its heading, then each endpoint with its cells.
fn group_rows(doc: &Doc<'_>, g: &Group) -> Markup {
    let r = &doc.report;
    let failing = g
        .endpoints
        .iter()
        .filter(|&&e| doc.endpoint_failing(e))
        .count();
    html! {
        tbody.group data-component=(t(&g.component)) {
            tr.group {
                th colspan=(r.identities.len() + 1) {
                    (g.title) " "
                    span.hint {
                        (g.endpoints.len()) " endpoint" @if g.endpoints.len() != 1 { "s" }
                        @if failing > 0 { ", " (failing) " failing" }
                    }
                }
            }
            @for &e in &g.endpoints {
                @let ep = &r.endpoints[e];
                tr.endpoint id=(endpoint_anchor(&ep.name)) data-endpoint=(t(&ep.name)) data-failing=(doc.endpoint_failing(e)) {
                    th.ep scope="row" {
                        (t(&ep.name))
                        small { (t(&ep.role)) " " (t(&ep.address_text())) }
                    }
                    @for i in 0..r.identities.len() {
                        (cell(doc.cell(i, e)))
                    }
                }
            }
        }
    }
}

/// What the symbols and marks mean.
fn legend(r: &Report) -> Markup {
    html! {
        ul.legend {
            @for v in crate::shared::legend_verdicts(r) {
                li { span.sym.(class(Some(v))) { (v.symbol()) } " " strong { (v.as_str()) } ": " (verdict_meaning(v)) }
            }
            li { span.sym { "*" } " changed since the previous round; " span.sym { "~" } " server certificate rotated" }
            @if r.vantages.is_some() {
                li { span.sym { "≠" } " vantage points disagree (the cell shows the worst; its detail lists each)" }
            }
        }
    }
}

fn cell(c: &Cell) -> Markup {
    let label = format!(
        "{} at {}: {}",
        inert(&c.identity),
        inert(&c.endpoint),
        verdict_name(c.verdict)
    );
    html! {
        td.cell.(class(c.verdict))
            data-identity=(t(&c.identity)) data-endpoint=(t(&c.endpoint))
            data-verdict=(c.verdict.map_or("none", Verdict::as_str)) {
            a href={ "#" (cell_anchor(&c.identity, &c.endpoint)) } title=(label) aria-label=(label) {
                (symbol(c.verdict))
                @if c.changed { sup { "*" } }
                @if c.rotated { sup { "~" } }
                @if c.disagrees() { sup { "≠" } }
            }
        }
    }
}

fn findings(doc: &Doc<'_>) -> Markup {
    let list = doc.findings_by_severity();
    html! {
        section #findings {
            h2 { "Findings (" (list.len()) ")" }
            @if list.is_empty() {
                p { "No findings." }
            }
            @for (n, f) in list.iter().enumerate() {
                (finding(doc, n, f))
            }
        }
    }
}

/// Rotation drift of the endpoints whose certificate or CA files are known (nothing when
/// none is): the same lines as the table's section.
fn drift(doc: &Doc<'_>) -> Markup {
    let with: Vec<_> = doc
        .report
        .endpoints
        .iter()
        .filter_map(|e| Some((e, e.drift.as_ref()?)))
        .collect();
    html! {
        @if !with.is_empty() {
            section #drift {
                h2 { "Rotation drift (" (with.len()) ")" }
                @for (e, d) in &with {
                    h3 { code { (inert(&e.name)) } }
                    ul {
                        @for line in d.describe() {
                            li { (inert(&line)) }
                        }
                    }
                }
            }
        }
    }
}

/// The TLS hygiene scan of every endpoint that carries one (nothing when none does): the
/// versions accepted and refused, each accepted version's suites by IANA name (insecure and
/// weak ones marked with the severity of their finding), the server's order, the groups, the
/// served chain's keys and signatures, and a note when the scan stopped early or could not run.
fn scans(doc: &Doc<'_>) -> Markup {
    let scanned = crate::hygiene::scanned(&doc.report);
    html! {
        @if !scanned.is_empty() {
            section #scan {
                h2 { "TLS versions and cipher suites (" (scanned.len()) ")" }
                p.hint {
                    "What each endpoint accepts, asked with hand-built ClientHellos (no handshake is completed and no identity is needed). "
                    "Marks: " span.sev-critical { span.sev { "INSECURE" } } " and " span.sev-warning { span.sev { "WEAK" } }
                    ", as the findings rate them."
                }
                @for s in &scanned {
                    (scan(s))
                }
            }
        }
    }
}

/// A mark in the colour of a severity (`INSECURE`, `WEAK`, `OBSOLETE`).
fn mark(s: Option<Severity>, word: &str) -> Markup {
    html! {
        @if s.is_some() {
            " " span.(sev_class(s)) { span.sev { (word) } }
        }
    }
}

/// One endpoint's scan.
fn scan(s: &crate::hygiene::Scanned<'_>) -> Markup {
    let ep = s.endpoint;
    let r = s.scan;
    html! {
        article.scan id=(crate::shared::scan_anchor(&ep.name)) {
            h3 {
                code { (t(&ep.name)) } " "
                span.hint {
                    (crate::shared::endpoint_kind(ep)) ", " (t(&r.address))
                    @if r.protocol == "mysql" { ", TLS after the MySQL SSLRequest" }
                }
            }
            @if r.failure.is_none() {
                p { (t(&s.line())) }
            }
            @if let Some(note) = s.note() {
                p { strong { "Note: " } (t(&note)) }
            }
            dl.meta {
                @if r.failure.is_none() {
                    @for v in &r.versions {
                        dt { (v.version.name()) }
                        dd { (scan_version(v)) }
                    }
                }
                dt { "served chain" }
                dd { (scan_chain(&r.certificates)) }
                dt { "scan" }
                dd {
                    (r.connections) " connections, " (r.elapsed_ms) " ms"
                    @if let Some(at) = &r.finished_at { ", ended " span.mono { (t(at)) } }
                }
            }
        }
    }
}

/// One version: refused (how), or accepted with its order, groups and suites.
fn scan_version(v: &tlsaudit_engine::scan::VersionScan) -> Markup {
    use crate::hygiene::order_words;
    html! {
        @if v.accepted {
            strong { "accepted" } (mark(v.severity(), "OBSOLETE"))
            "; " (order_words(v))
            "; groups: "
            @if v.groups.is_empty() { "none seen" } @else { span.mono { (t(&v.groups.join(", "))) } }
            @if let Some(n) = &v.note { " (" (t(n)) ")" }
            ul.evidence {
                @for suite in &v.suites {
                    @let sev = suite.severity();
                    @let words: Vec<&str> = suite.weaknesses.iter().map(|w| w.words()).collect();
                    li {
                        code { (t(&suite.name)) } " " span.when { (t(&suite.id)) }
                        (mark(sev, if sev == Some(Severity::Critical) { "INSECURE" } else { "WEAK" }))
                        @if !words.is_empty() { " " (words.join(", ")) }
                    }
                }
            }
        } @else if v.failure.is_some() {
            "not known: " (t(v.note.as_deref().unwrap_or("the scan of this version failed")))
        } @else {
            @match v.note.as_deref() {
                Some(n) if n.starts_with("refused") => { (t(n)) }
                Some(n) => { "refused: " (t(n)) }
                None => { "refused" }
            }
        }
    }
}

/// The served chain, leaf first: each certificate's subject, key and signature, marked as
/// `KEY_WEAK` and `SIGNATURE_SHA1` judge them.
fn scan_chain(certs: &[tlsaudit_engine::scan::CertSeen]) -> Markup {
    html! {
        @if certs.is_empty() {
            "not seen"
        } @else {
            ol start="0" {
                @for c in certs {
                    li {
                        span.mono { (t(&c.subject)) } ": " (t(&c.public_key)) ", " (t(&c.signature_algorithm))
                        @if c.self_signed { " (self-signed)" }
                        @for (sev, words) in c.problems() {
                            (mark(Some(sev), if sev == Severity::Critical { "INSECURE" } else { "WEAK" })) " " (words)
                        }
                    }
                }
            }
        }
    }
}

fn finding(doc: &Doc<'_>, n: usize, f: &Finding) -> Markup {
    let component = f
        .endpoint
        .as_deref()
        .and_then(|e| doc.endpoint_component(e))
        .filter(|c| !c.as_str().is_empty());
    let has_cell = doc.kind == Kind::Audit
        && f.endpoint
            .as_deref()
            .zip(f.identity.as_deref())
            .is_some_and(|(e, i)| {
                doc.report
                    .cells
                    .iter()
                    .any(|c| c.endpoint == e && c.identity == i)
            });
    html! {
        article.finding.(sev_class(f.severity.known())) id={ "finding-" (n + 1) } data-component=(component.map_or("", Named::as_str)) {
            h3 {
                span.sev { (f.severity.as_str().to_uppercase()) } " "
                code { (f.code) } " " (t(&f.title))
            }
            dl {
                @if let Some(e) = &f.endpoint {
                    dt { "where" }
                    dd {
                        @match (&f.identity, has_cell) {
                            (Some(i), true) => {
                                a href={ "#" (cell_anchor(i, e)) } { (t(i)) " at " (t(e)) }
                            }
                            (Some(i), false) => { (t(i)) " at " (t(e)) }
                            (None, _) if doc.kind == Kind::Audit => {
                                a href={ "#" (endpoint_anchor(e)) } { (t(e)) }
                            }
                            (None, _) => { (t(e)) }
                        }
                        @if let Some(c) = component { " (" (component_title(c)) ")" }
                    }
                }
                @if !f.evidence.is_empty() {
                    dt { "seen" } dd { (t(&f.evidence)) }
                }
                dt { "fix" } dd { (t(&f.fix)) }
                @if let Some(s) = &f.source {
                    dt { "source" } dd.mono { (t(s)) }
                }
                @if !f.vantages.is_empty() {
                    dt { "seen from" } dd { (t(&f.vantages.join(", "))) }
                }
            }
        }
    }
}

fn details(doc: &Doc<'_>) -> Markup {
    let r = &doc.report;
    html! {
        section #details {
            h2 { "Cell details" }
            p.hint {
                "Select a cell in the matrix to show its detail here. Every cell has a stable anchor: "
                code { "#cell-IDENTITY-ENDPOINT" } "."
            }
            @for g in doc.groups() {
                @for &e in &g.endpoints {
                    @for i in 0..r.identities.len() {
                        (detail(doc, i, e))
                    }
                }
            }
        }
    }
}

fn detail(doc: &Doc<'_>, i: usize, e: usize) -> Markup {
    let r = &doc.report;
    let c = doc.cell(i, e);
    let failing = c.verdict.is_some_and(Verdict::is_failing);
    let expected = c.expected.words();
    html! {
        article.detail.failing[failing] id=(cell_anchor(&c.identity, &c.endpoint)) data-verdict=(c.verdict.map_or("none", Verdict::as_str)) {
            h3 {
                span.sym.(class(c.verdict)) { (symbol(c.verdict)) } " "
                (verdict_name(c.verdict)) ": " (t(&c.identity)) " at " (t(&c.endpoint))
            }
            p.back { a href="#matrix" { "back to the matrix" } }
            dl {
                dt { "expected" } dd { (expected) ": " (t(&c.expected.reason)) }
                (observed(c))
                (link(&r.endpoints[e], &r.identities[i]))
                @if let Some(cmd) = &c.reproduce {
                    dt { "reproduce" } dd { code.reproduce { (t(cmd)) } }
                }
            }
            @if let Some(rec) = &c.record {
                (record(rec))
            }
        }
    }
}

/// What a cell's probe saw (or that there was none), its fix, and what each vantage point
/// saw: the `dt`/`dd` pairs of its detail.
fn observed(c: &Cell) -> Markup {
    html! {
        @if let Some(rec) = &c.record {
            dt { "observed" }
            dd {
                code { (rec.outcome.class.as_str()) } " in the " (rec.outcome.phase.as_str())
                " phase: " (t(&rec.outcome.summary))
                @if let Some(a) = rec.outcome.authorization {
                    " (past the untrusted chain, the check saw " code { (a.as_str()) } ")"
                }
            }
        } @else {
            dt { "observed" } dd { "not probed" }
        }
        @if let Some(fix) = &c.fix {
            dt { "fix" } dd { (t(fix)) }
        }
        @if let Some(by) = &c.by_vantage {
            dt { "by vantage" }
            dd {
                ol.by-vantage {
                    @for (v, seen) in by {
                        li data-vantage=(t(v)) {
                            @if let Some(why) = seen.not_tried {
                                (t(v)) ": " (t(&why.describe(v, &c.identity, &c.endpoint)))
                            } @else {
                                (t(v)) ": " span.sym.(class(seen.verdict)) { (symbol(seen.verdict)) } " "
                                (verdict_name(seen.verdict))
                                @if let Some(o) = seen.outcome { " (" code { (o.as_str()) } ")" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The endpoint, its allow-list and the identity of a cell: the `dt`/`dd` pairs of its
/// detail.
fn link(ep: &Endpoint, id: &Identity) -> Markup {
    html! {
        dt { "endpoint" }
        dd {
            (crate::shared::endpoint_kind(ep)) ", " span.mono { (t(&ep.address_text())) }
            ", server name " span.mono { (t(&ep.server_name)) } ", " (t(ep.protocol.as_str()))
            @if let Some(p) = &ep.path { " " span.mono { (t(p)) } }
        }
        dt { "allow-list" }
        dd {
            @if ep.allowed_cn.is_empty() { "none" } @else { span.mono { (t(&ep.allowed_cn.join(", "))) } }
            " (" span.mono { (t(&ep.list_key)) } " in " (t(&ep.config_file))
            @if !ep.list_enforced { "; not enforced here" }
            ")"
        }
        dt { "identity" }
        dd {
            (t(&id.name))
            @if let Some(cn) = &id.cn { ", CN " span.mono { (t(cn)) } }
            @if let Some(f) = &id.cert_file { ", " span.mono { (t(f)) } }
            @if let Some(p) = &id.check.problem { "; our certificate " (t(p)) }
        }
    }
}

/// The evidence of a probe, one line per fact, as the text report words it.
fn evidence_lines(rec: &ProbeRecord) -> Vec<String> {
    let ev = &rec.evidence;
    let mut lines: Vec<String> = Vec::new();
    if let Some(a) = &ev.alert {
        lines.push(format!(
            "alert {} ({}) in the {} phase",
            a.name,
            a.code,
            a.received.as_str()
        ));
    }
    if let Some(s) = ev.grpc_status {
        lines.push(format!("grpc-status {s}"));
    }
    if let Some(m) = &ev.grpc_message {
        lines.push(format!("grpc-message: {m}"));
    }
    if let Some(s) = ev.http_status {
        lines.push(format!("HTTP {s}"));
    }
    if let Some(b) = &ev.http_body {
        lines.push(format!("http body: {b}"));
    }
    if let Some(p) = &ev.peer_protocol {
        lines.push(format!("peer speaks: {p}"));
    }
    if let Some(b) = &ev.peer_bytes {
        lines.push(format!("peer sent: {b}"));
    }
    if ev.closed_silently {
        lines.push("peer closed without an alert".into());
    }
    if ev.session_ticket {
        lines.push("session ticket received".into());
    }
    if let Some(e) = &ev.tls_error {
        lines.push(format!("tls error: {e}"));
    }
    if let Some(e) = &ev.io_error {
        lines.push(format!("io error: {e}"));
    }
    lines
}

fn record(rec: &ProbeRecord) -> Markup {
    let lines = evidence_lines(rec);
    html! {
        h4 { "TLS" }
        (tls(rec))
        @if !rec.server_chain.is_empty() {
            h4 { "Server chain" }
            (server_chain(rec))
        }
        h4 { "Timings" }
        p.mono {
            "connect " (ms(rec.timings.connect_ms)) ", handshake " (ms(rec.timings.handshake_ms))
            ", check " (ms(rec.timings.check_ms)) ", total " (ms(Some(rec.timings.total_ms)))
        }
        @if !lines.is_empty() {
            h4 { "Evidence" }
            ul {
                @for l in &lines { li.mono { (t(l)) } }
            }
        }
    }
}

/// The TLS session of a probe: version, suite, ALPN, key exchange, the client certificate.
fn tls(rec: &ProbeRecord) -> Markup {
    html! {
        @if let Some(tls) = &rec.tls {
            dl {
                dt { "version" } dd { (t(&tls.version)) ", " span.mono { (t(&tls.cipher_suite)) } }
                dt { "ALPN" } dd { (t(tls.alpn.as_deref().unwrap_or("none"))) }
                @if let Some(k) = &tls.key_exchange { dt { "key exchange" } dd { (t(k)) } }
                dt { "client certificate" }
                dd {
                    @match (tls.client_cert_requested, tls.client_cert_sent) {
                        (false, _) => { "not requested by the server" }
                        (true, true) => { "requested, sent" }
                        (true, false) => { "requested, none sent" }
                    }
                }
                @if !tls.ca_hints.is_empty() {
                    dt { "acceptable CAs" } dd { (t(&tls.ca_hints.join("; "))) }
                }
            }
        } @else {
            p { "no TLS session" }
        }
    }
}

/// The server's chain: whether it verified, then each certificate.
fn server_chain(rec: &ProbeRecord) -> Markup {
    html! {
        p {
            @match &rec.server_verification {
                Some(v) if v.trusted => { "verified for " span.mono { (t(&v.server_name)) } }
                Some(v) => {
                    strong { "not verified" } " for " span.mono { (t(&v.server_name)) } ": "
                    (v.reason.map_or("other", tlsaudit_engine::probe::UntrustedReason::as_str))
                    @if let Some(d) = &v.detail { " (" (t(d)) ")" }
                }
                None => { "not verified" }
            }
        }
        ol start="0" {
            @for cert in rec.server_chain.iter() {
                li {
                    dl {
                        dt { "subject" } dd.mono { (t(&cert.subject)) }
                        dt { "issuer" } dd.mono { (t(&cert.issuer)) }
                        dt { "valid" } dd.mono { (t(&cert.not_before)) " .. " (t(&cert.not_after)) }
                        @if !cert.sans.is_empty() { dt { "SAN" } dd.mono { (t(&cert.sans.join(", "))) } }
                        dt { "key" }
                        dd {
                            (t(&cert.public_key)) ", " (t(&cert.signature_algorithm))
                            @if cert.is_ca { ", CA" }
                            ", EKU "
                            @if cert.has_eku_extension { (t(&cert.extended_key_usage.join(", "))) } @else { "(no extension)" }
                        }
                        dt { "serial" } dd.mono { (t(&cert.serial)) }
                        dt { "sha256" } dd.mono { (t(&cert.sha256)) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_values() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        // sha256("") in base64, as browsers compute CSP hashes.
        assert_eq!(
            csp_hash(""),
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
        );
    }
}
