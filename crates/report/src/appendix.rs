//! The HTML report's evidence appendix: every cell in one or two lines, grouped by endpoint
//! (each with the TLS version and suite it negotiated), saying how the admission or the
//! refusal showed (the alert and its code, the gRPC status and the server's message, the HTTP
//! status, a close without alert) and when. It is always shown, so that a printed or PDF copy
//! proves the refusals as well as the admissions (the cell details print only when failing).

use maud::{html, Markup};
use tlsaudit_engine::probe::ProbeRecord;

use crate::html::{class, symbol, verdict_name};
use crate::sanitize::inert;
use crate::shared::{cell_anchor, Doc};

/// The appendix section.
pub(crate) fn section(doc: &Doc<'_>) -> Markup {
    let r = &doc.report;
    html! {
        section #evidence {
            h2 { "Evidence, every cell" }
            p.hint { "How each identity was admitted or refused at each endpoint, and when." }
            @for g in doc.groups() {
                @for &e in &g.endpoints {
                    @let ep = &r.endpoints[e];
                    div.evidence-endpoint {
                        h3 {
                            (inert(&ep.name)) " "
                            span.mono { (inert(&ep.address_text())) }
                            @if let Some(tls) = encryption(doc, e) {
                                " · " (tls)
                            }
                        }
                        ul.evidence {
                            @for i in 0..r.identities.len() {
                                (line(doc, i, e))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One cell: `IDENTITY at ENDPOINT: verdict`, what showed it, when.
fn line(doc: &Doc<'_>, i: usize, e: usize) -> Markup {
    let c = doc.cell(i, e);
    html! {
        li data-cell=(cell_anchor(&c.identity, &c.endpoint)) {
            span.sym.(class(c.verdict)) { (symbol(c.verdict)) } " "
            span.key { (inert(&c.identity)) " at " (inert(&c.endpoint)) ": " (verdict_name(c.verdict)) }
            @if let Some(intent) = c.expected.intent {
                " (" (intent.as_str()) ")"
            }
            " — "
            @match &c.record {
                Some(rec) => { (inert(&evidence_words(rec))) " " span.when { "at " (inert(&rec.started_at)) } }
                None => { "not probed" }
            }
        }
    }
}

/// The TLS version and suite the endpoint negotiated (from its first cell that has them).
fn encryption(doc: &Doc<'_>, e: usize) -> Option<String> {
    (0..doc.report.identities.len())
        .filter_map(|i| doc.cell(i, e).record.as_deref())
        .find_map(|rec| rec.tls.as_ref())
        .map(|t| format!("{} {}", t.version, t.cipher_suite))
}

/// How a probe's result showed, in a few words: the outcome, then each piece of evidence the
/// record holds.
pub fn evidence_words(rec: &ProbeRecord) -> String {
    let ev = &rec.evidence;
    let mut parts = vec![format!(
        "{} in the {} phase",
        rec.outcome.class.as_str(),
        rec.outcome.phase.as_str()
    )];
    if let Some(a) = &ev.alert {
        parts.push(format!(
            "alert {} ({}) at {}",
            a.name,
            a.code,
            a.received.as_str()
        ));
    }
    if let Some(s) = ev.grpc_status {
        let msg = ev.grpc_message.as_deref().unwrap_or("");
        parts.push(format!("gRPC status {s} {msg}").trim_end().to_string());
    }
    if let Some(s) = ev.http_status {
        parts.push(format!("HTTP {s}"));
    }
    if ev.closed_silently {
        parts.push("closed without alert".into());
    }
    if ev.no_answer {
        parts.push("no answer".into());
    }
    if let Some(e) = ev.tls_error.as_ref().or(ev.io_error.as_ref()) {
        parts.push(e.clone());
    }
    if parts.len() == 1 {
        parts.push(rec.outcome.summary.clone());
    }
    parts.join("; ")
}
