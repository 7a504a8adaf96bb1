//! SARIF 2.1.0, the format code-scanning dashboards ingest, for `report` and `lint`: one rule
//! per finding code with its help text; a finding with a source in a file (the TiUP topology, a
//! component TOML, a certificate file) carries it as a physical location, with the line and
//! column when known, so that a code-scanning UI annotates that line; a probe finding carries
//! its endpoint as a logical location. Typed with `serde-sarif`.

use std::collections::BTreeMap;

use serde_json::json;
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, LogicalLocation, Message, MultiformatMessageString,
    PhysicalLocation, PropertyBag, Region, ReportingConfiguration, ReportingDescriptor,
    Result as SarifResult, ResultLevel, Run, RunAutomationDetails, Sarif, Tool, ToolComponent,
};
use tlsaudit_engine::audit::{Code, Severity};

use crate::model::Finding;
use crate::named::Named;
use crate::shared::{inert, parse_source, Doc, Kind};

/// The URI of the SARIF 2.1.0 JSON schema, as the log names it.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The base id relative file URIs are resolved against (the directory tlsaudit ran in).
pub const SRCROOT: &str = "%SRCROOT%";

/// The level of a severity; one this version does not know is an error.
fn level(s: &Named<Severity>) -> ResultLevel {
    match s.known() {
        Some(Severity::Critical) | None => ResultLevel::Error,
        Some(Severity::Warning) => ResultLevel::Warning,
        Some(Severity::Info) => ResultLevel::Note,
    }
}

fn level_str(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// `CN_NOT_ENFORCED` → `CnNotEnforced`.
fn pascal(code: &str) -> String {
    code.split('_')
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &cs.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect()
}

/// A file path as a SARIF URI: absolute paths as `file:///...`, relative ones as a relative
/// reference (resolved against [`SRCROOT`]). Everything but unreserved characters and `/` is
/// percent-encoded.
pub fn path_uri(path: &str) -> (String, bool) {
    let path = path.replace('\\', "/");
    let mut enc = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            enc.push(char::from(b));
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    if path.starts_with('/') {
        (format!("file://{enc}"), true)
    } else {
        (enc.trim_start_matches("./").to_string(), false)
    }
}

fn text(s: &str) -> MultiformatMessageString {
    MultiformatMessageString::builder().text(s).build()
}

/// The rule of a code: its meaning and fix from the engine's one catalogue ([`Code`]).
/// The rule of a code; one this version does not know is described as such.
fn descriptor(code: &Named<Code>) -> ReportingDescriptor {
    match code.known() {
        Some(c) => known_descriptor(c),
        None => {
            let meaning = "A finding code of a newer tlsaudit: see its documentation.";
            ReportingDescriptor::builder()
                .id(code.as_str())
                .name(pascal(code.as_str()))
                .short_description(text(meaning))
                .full_description(text(meaning))
                .properties(
                    PropertyBag::builder()
                        .tags(vec!["security".to_string(), "tls".to_string()])
                        .build(),
                )
                .build()
        }
    }
}

fn known_descriptor(code: Code) -> ReportingDescriptor {
    let meaning = code.help();
    let help = format!("{meaning}\n\nFix: {}", code.fix());
    let help_md = format!("{meaning}\n\n**Fix:** {}", code.fix());
    let severity = code.default_severity();
    let code = code.as_str();
    ReportingDescriptor::builder()
        .id(code)
        .name(pascal(code))
        .short_description(text(meaning))
        .full_description(text(meaning))
        .help(
            MultiformatMessageString::builder()
                .text(help)
                .markdown(help_md)
                .build(),
        )
        .default_configuration(
            ReportingConfiguration::builder()
                .level(json!(level_str(severity)))
                .build(),
        )
        .properties(
            PropertyBag::builder()
                .tags(vec!["security".to_string(), "tls".to_string()])
                .build(),
        )
        .build()
}

/// Where a finding's `source` points: a file (relative or absolute, with its line and column
/// when known) and the key, as a location; `None` when there is no source. The flag says the
/// file is relative (to `%SRCROOT%`).
fn source_location(src: &str) -> Option<(Location, bool)> {
    let s = parse_source(src);
    let logical = s.key.map(|k| {
        vec![LogicalLocation::builder()
            .name(k)
            .fully_qualified_name(k)
            .kind("property")
            .build()]
    });
    let Some(file) = s.file else {
        return logical.map(|l| (Location::builder().logical_locations(l).build(), false));
    };
    let (uri, absolute) = path_uri(file);
    let artifact = if absolute {
        ArtifactLocation::builder().uri(uri).build()
    } else {
        ArtifactLocation::builder()
            .uri(uri)
            .uri_base_id(SRCROOT)
            .build()
    };
    // A finding about a whole file (a certificate, a key): its first line, so that
    // code-scanning UIs, which need a region, show the file.
    let line = i64::try_from(s.line.unwrap_or(1)).unwrap_or(1);
    let region = match (s.line, s.column) {
        (Some(_), Some(c)) => Region::builder()
            .start_line(line)
            .start_column(i64::try_from(c).unwrap_or(1))
            .build(),
        _ => Region::builder().start_line(line).build(),
    };
    let physical = PhysicalLocation::builder()
        .artifact_location(artifact)
        .region(region)
        .build();
    let loc = match logical {
        Some(l) => Location::builder()
            .physical_location(physical)
            .logical_locations(l)
            .build(),
        None => Location::builder().physical_location(physical).build(),
    };
    Some((loc, !absolute))
}

/// The endpoint a finding is about, as a resource of the cluster with its address,
/// component and role.
fn endpoint_location(doc: &Doc<'_>, ep: &str, identity: Option<&str>) -> Location {
    let cluster = &doc.report.cluster.name;
    let mut props = BTreeMap::new();
    if let Some(e) = doc.report.endpoints.iter().find(|e| e.name == ep) {
        props.insert("address".to_string(), json!(e.address));
        if let Some(by) = &e.addresses {
            props.insert("addresses".to_string(), json!(by));
        }
        props.insert("component".to_string(), json!(e.component));
        props.insert("role".to_string(), json!(e.role));
    }
    let logical = LogicalLocation::builder()
        .name(ep)
        .fully_qualified_name(format!("{cluster}/{ep}"))
        .kind("resource")
        .properties(PropertyBag::builder().additional_properties(props).build())
        .build();
    let text = match identity {
        Some(i) => format!("endpoint {}, called as {}", inert(ep), inert(i)),
        None => format!("endpoint {}", inert(ep)),
    };
    Location::builder()
        .logical_locations(vec![logical])
        .message(Message::builder().text(text).build())
        .build()
}

/// The places of a finding: its source, its endpoint, else the cluster; and whether a source
/// file is relative.
fn locations(doc: &Doc<'_>, f: &Finding) -> (Vec<Location>, bool) {
    let mut locs = Vec::new();
    let mut relative = false;
    if let Some((loc, rel)) = f.source.as_deref().and_then(source_location) {
        locs.push(loc);
        relative = rel;
    }
    if let Some(ep) = &f.endpoint {
        locs.push(endpoint_location(doc, ep, f.identity.as_deref()));
    }
    if locs.is_empty() {
        // A cluster-wide finding: the cluster is its place.
        let cluster = &doc.report.cluster.name;
        locs.push(
            Location::builder()
                .logical_locations(vec![LogicalLocation::builder()
                    .name(cluster.as_str())
                    .fully_qualified_name(cluster.as_str())
                    .kind("resource")
                    .build()])
                .build(),
        );
    }
    (locs, relative)
}

fn result(f: &Finding, codes: &[&Named<Code>], locs: Vec<Location>) -> SarifResult {
    let index = codes.iter().position(|c| **c == f.code).unwrap_or(0);
    // Each field inert (as the HTML and Markdown writers show them): a viewer of the log gets
    // no control or bidi character, and a field stays on its line.
    let mut msg = inert(&f.title).into_owned();
    if !msg.ends_with('.') {
        msg.push('.');
    }
    if !f.evidence.is_empty() {
        msg.push_str(&format!("\nSeen: {}", inert(&f.evidence)));
    }
    msg.push_str(&format!("\nFix: {}", inert(&f.fix)));
    let mut props = BTreeMap::new();
    props.insert("severity".to_string(), json!(f.severity.as_str()));
    props.insert("fix".to_string(), json!(f.fix));
    if let Some(i) = &f.identity {
        props.insert("identity".to_string(), json!(i));
    }
    if let Some(e) = &f.endpoint {
        props.insert("endpoint".to_string(), json!(e));
    }
    if let Some(s) = &f.source {
        props.insert("source".to_string(), json!(s));
    }
    let mut fingerprint = BTreeMap::new();
    fingerprint.insert(
        "tlsauditFinding/v1".to_string(),
        format!(
            "{}|{}|{}|{}",
            f.code,
            f.endpoint.as_deref().unwrap_or(""),
            f.identity.as_deref().unwrap_or(""),
            f.source
                .as_deref()
                .map(|s| {
                    let p = parse_source(s);
                    format!("{}:{}", p.file.unwrap_or(""), p.key.unwrap_or(""))
                })
                .unwrap_or_default()
        ),
    );
    SarifResult::builder()
        .rule_id(f.code.as_str())
        .rule_index(i64::try_from(index).unwrap_or(0))
        .level(level(&f.severity))
        .message(Message::builder().text(msg).build())
        .locations(locs)
        .partial_fingerprints(fingerprint)
        .properties(PropertyBag::builder().additional_properties(props).build())
        .build()
}

/// The SARIF log as a value (tests inspect it; [`render`] prints it).
pub fn log(doc: &Doc<'_>) -> Sarif {
    let r = &doc.report;
    let mut codes: Vec<&Named<Code>> = Vec::new();
    for f in &r.findings {
        if !codes.contains(&&f.code) {
            codes.push(&f.code);
        }
    }
    let rules: Vec<ReportingDescriptor> = codes.iter().map(|c| descriptor(c)).collect();
    let mut any_relative = false;
    let results: Vec<SarifResult> = r
        .findings
        .iter()
        .map(|f| {
            let (locs, relative) = locations(doc, f);
            any_relative |= relative;
            result(f, &codes, locs)
        })
        .collect();
    let driver = ToolComponent::builder()
        .name(r.tool.name.as_str())
        .version(r.tool.version.as_str())
        .semantic_version(r.tool.version.as_str())
        .full_name(format!("{} {}", r.tool.name, r.tool.version))
        .rules(rules)
        .build();
    let what = match doc.kind {
        Kind::Audit => "report",
        Kind::Lint => "lint",
    };
    let automation = RunAutomationDetails::builder()
        .id(format!("tlsaudit/{what}/{}/", r.cluster.name))
        .build();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .invocations(vec![invocation(r)])
        .results(results)
        .column_kind(json!("unicodeCodePoints"))
        .automation_details(automation)
        .properties(
            PropertyBag::builder()
                .additional_properties(run_properties(doc))
                .build(),
        );
    let base = if any_relative { source_root() } else { None };
    let run = match base {
        Some(b) => run.original_uri_base_ids(b).build(),
        None => run.build(),
    };
    Sarif::builder()
        .schema(SCHEMA_URI)
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build()
}

/// The run's start and end, as the report has them, and its provenance: the command line
/// (secrets removed) and its arguments, the host as `machine`, the rest (build, inventory
/// hash, CA fingerprints, vantage) as the invocation's properties.
fn invocation(r: &crate::model::Report) -> Invocation {
    let mut inv = times(r);
    if let Some(p) = &r.provenance {
        if !p.command_line.is_empty() {
            inv.command_line = Some(p.command_text());
            inv.arguments = Some(p.command_line.iter().skip(1).cloned().collect());
        }
        inv.machine.clone_from(&p.host);
        let mut props = BTreeMap::new();
        props.insert("provenance".to_string(), json!(p));
        if let Some(v) = &r.vantage {
            props.insert("vantage".to_string(), json!(v));
        }
        inv.properties = Some(PropertyBag::builder().additional_properties(props).build());
    }
    inv
}

/// An invocation with the run's start and end, as the report has them.
fn times(r: &crate::model::Report) -> Invocation {
    let b = Invocation::builder().execution_successful(true);
    match (&r.started_at, &r.finished_at) {
        (Some(s), Some(f)) => b
            .start_time_utc(s.as_str())
            .end_time_utc(f.as_str())
            .build(),
        (None, Some(f)) => b.end_time_utc(f.as_str()).build(),
        (Some(s), None) => b.start_time_utc(s.as_str()).build(),
        (None, None) => b.build(),
    }
}

/// The run's properties: the cluster, the verdict counts (an audit) and the finding counts.
fn run_properties(doc: &Doc<'_>) -> BTreeMap<String, serde_json::Value> {
    let r = &doc.report;
    let mut props = BTreeMap::new();
    props.insert("cluster".to_string(), json!(r.cluster.name));
    if doc.kind == Kind::Audit {
        props.insert("verdicts".to_string(), json!(r.summary.verdicts));
    }
    props.insert("findings".to_string(), json!(r.summary.findings));
    props
}

/// `%SRCROOT%` as the current directory, which relative source files are relative to.
fn source_root() -> Option<BTreeMap<String, ArtifactLocation>> {
    let d = std::env::current_dir().ok()?;
    let (mut uri, _) = path_uri(&d.display().to_string());
    if !uri.ends_with('/') {
        uri.push('/');
    }
    let mut m = BTreeMap::new();
    m.insert(
        SRCROOT.to_string(),
        ArtifactLocation::builder().uri(uri).build(),
    );
    Some(m)
}

/// The SARIF log as pretty JSON.
pub fn render(doc: &Doc<'_>) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&log(doc)).map(|mut s| {
        s.push('\n');
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_encoded() {
        assert_eq!(
            path_uri("tests/fixtures/a b.toml"),
            ("tests/fixtures/a%20b.toml".to_string(), false)
        );
        assert_eq!(
            path_uri("/tmp/x#y/prod.yaml"),
            ("file:///tmp/x%23y/prod.yaml".to_string(), true)
        );
        assert_eq!(path_uri("./tls/ca.crt").0, "tls/ca.crt");
    }

    #[test]
    fn message_text_carries_no_control_or_bidi_character() {
        let hostile = "CN=a\x1b]2;PWNED\x07\u{202e}gpj.exe\r\nforged line\u{9b}";
        let f: Finding = serde_json::from_value(json!({
            "code": "ANONYMOUS_ACCEPTED",
            "severity": "critical",
            "title": format!("title {hostile}"),
            "evidence": format!("seen {hostile}"),
            "fix": format!("fix {hostile}"),
        }))
        .unwrap();
        let r = result(&f, &[&f.code], Vec::new());
        let text = r.message.text.unwrap_or_default();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(
            !text
                .chars()
                .any(|c| c != '\n' && crate::sanitize::needs_escape(c)),
            "{text:?}"
        );
        assert!(
            text.contains("\\x1b]2;PWNED\\x07\\u{202e}gpj.exe\\r\\nforged"),
            "{text}"
        );
    }

    #[test]
    fn rule_names_are_pascal_case() {
        assert_eq!(pascal("CN_NOT_ENFORCED"), "CnNotEnforced");
        assert_eq!(
            pascal("PD_MULTIPLE_CN_BEFORE_V8_4"),
            "PdMultipleCnBeforeV84"
        );
    }
}
