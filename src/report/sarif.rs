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
use tlsaudit_engine::audit::{Finding, Severity};

use super::shared::{parse_source, Doc, Kind};

/// The URI of the SARIF 2.1.0 JSON schema, as the log names it.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The base id relative file URIs are resolved against (the directory tlsaudit ran in).
pub const SRCROOT: &str = "%SRCROOT%";

/// A finding code, what it means and how it is fixed: the rule's help.
pub struct RuleInfo {
    pub code: &'static str,
    pub severity: Severity,
    pub meaning: &'static str,
    pub fix: &'static str,
}

const fn rule(
    code: &'static str,
    severity: Severity,
    meaning: &'static str,
    fix: &'static str,
) -> RuleInfo {
    RuleInfo {
        code,
        severity,
        meaning,
        fix,
    }
}

use Severity::{Critical as C, Info as I, Warning as W};

/// Every finding code the audit and the lint emit (docs/report.md and docs/tidb.md list the
/// same codes; a test keeps them in step).
pub const RULES: &[RuleInfo] = &[
    // The audit (probes).
    rule("CN_NOT_ENFORCED", C, "An endpoint admitted a certificate whose Common Name its allow-list does not name: the list is configured but not enforced.", "Apply the allow-list on the running server (restart it after editing the config) and check the key name for the component."),
    rule("ANONYMOUS_ACCEPTED", C, "An endpoint admitted a caller without a client certificate where one is required.", "Require client certificates on the endpoint (the component's CA, cert and key settings, and its allow-list)."),
    rule("FOREIGN_CA_ACCEPTED", C, "An endpoint admitted a certificate issued by another CA.", "Point the component's CA setting at the cluster CA only."),
    rule("BAD_CERT_ACCEPTED", C, "An endpoint admitted an expired or wrong-usage certificate.", "Make the component verify client certificates (validity and extended key usage)."),
    rule("CALLER_NOT_LISTED", C, "A component that needs the link is missing from the callee's allow-list: an outage.", "Add the caller's Common Name to the callee's allow-list, then reload the callee."),
    rule("CALLER_BLOCKED", C, "A caller the allow-list admits was refused: the running config differs from the file, or the CAs differ.", "Reload the component with its config, or give every component the same CA."),
    rule("SERVER_UNTRUSTED", C, "The server's certificate chain does not verify for the address callers dial.", "Reissue the server certificate from the cluster CA with the address in its SANs, within its validity."),
    rule("PLAINTEXT_ENDPOINT", C, "The endpoint speaks plaintext.", "Enable TLS on the component (TiUP: global.enable_tls)."),
    rule("PARTIAL_TLS", C, "Some endpoints speak plaintext while others use TLS, which TiDB does not support.", "Enable TLS on every component."),
    rule("CERT_EXPIRED", C, "An identity's certificate has expired.", "Reissue the certificate and replace it."),
    rule("CERT_EXPIRING", W, "A server or identity certificate expires within the warning window.", "Renew the certificate in time."),
    rule("LIST_NOT_ENFORCED_BY_DESIGN", W, "An allow-list has no effect where it is set (PD's client port with one entry, PD before v8.4).", "List every caller (PD v8.4 and later), or rely on another control."),
    rule("UNREACHABLE", W, "No probe reached the endpoint.", "Check the address, the port and the firewall, and that the component runs."),
    rule("PROTOCOL_ERROR", W, "The endpoint broke the TLS or the application protocol.", "Check what listens on the port and its TLS settings."),
    rule("NO_ALLOW_LIST", I, "The endpoint admits every certificate the CA issued.", "Set the component's allow-list to the callers that need it."),
    // The lint (static) and the TiDB import.
    rule("TLS_DISABLED", C, "global.enable_tls is off: every link is plaintext.", "tiup cluster tls <name> enable, or enable_tls: true before deploying."),
    rule("HTTP_URL_WITH_TLS", C, "An address or URL key says http:// on a TLS instance: \"first record does not look like a TLS handshake\".", "Use https://."),
    rule("CA_MISMATCH", C, "The CA files readable here hold different certificates: \"x509: certificate signed by unknown authority\".", "One ca.crt everywhere; restart the components (the CA is read only at start)."),
    rule("PD_OWN_CN_NOT_LISTED", C, "PD's cert-allowed-cn lacks PD's own Common Name; PD applies the list to its own peer connections too.", "Add PD's Common Name to the list."),
    rule("PD_MULTIPLE_CN_BEFORE_V8_4", C, "PD before v8.4 with several Common Names in cert-allowed-cn refuses to start.", "Keep one Common Name until v8.4."),
    rule("PD_SINGLE_CN_CLIENT_PORT", W, "With one Common Name, PD v8.4 and later enforces the list on its client port only with more than one entry; before v8.4 never.", "List every caller on v8.4 and later."),
    rule("TIUP_CLIENT_NOT_LISTED", W, "TiDB's cluster-verify-cn (or an enforced PD list) lacks <cluster>-client: TiUP cannot manage the cluster.", "Add <cluster>-client to the list."),
    rule("CERT_EKU", C, "A component certificate lacks serverAuth or clientAuth (a client certificate lacks clientAuth): \"incompatible key usage\".", "Reissue the certificate with both usages."),
    rule("CERT_NO_SANS", C, "A component certificate has a Common Name and no SANs: Go callers ignore the Common Name.", "Reissue it with IP and DNS SANs."),
    rule("CERT_SAN_MISMATCH", C, "The certificate's SANs do not cover the host callers dial.", "Reissue it with the address in its SANs."),
    rule("CERT_FILE_EXPIRED", C, "A certificate file (component, client, CA) has expired.", "Reissue and replace it."),
    rule("CERT_FILE_EXPIRING", W, "A certificate file expires within --expiry-days.", "Renew it in time."),
    rule("CERT_FILE_INVALID", C, "A certificate path holds no usable PEM certificate.", "Point the setting at the certificate."),
    rule("CERT_FILE_UNREADABLE", I, "A path named in a config cannot be read here (it is the server's path).", "Copy the file here, or lint on that host."),
    rule("KEY_CERT_MISMATCH", C, "The key file is not the certificate's key (also ca.pem against ca.crt).", "Use the matching key."),
    rule("KEY_UNUSABLE", C, "The key file holds no usable unencrypted key.", "Give an unencrypted PEM key."),
    rule("KEY_FILE_PERMISSIONS", W, "A private key is readable by its group or by everyone.", "chmod 600 the key file."),
    rule("TOPOLOGY_SECTION_NOT_AUDITED", I, "A topology section is not audited (monitoring, TiSpark, binlog, ...).", "Audit it with a tlsaudit.toml if it serves mutual TLS."),
    rule("ADDRESS_NOT_DIALABLE", I, "A component config listens on every interface and advertises no address.", "Set the advertise address, or give the topology."),
    rule("CONFIG_APPLIED_TO_ALL", I, "A component config matched no instance address, so it applies to every instance of its component.", "Set advertise addresses, one file per instance."),
    rule("CONFIG_NOT_MATCHED", W, "A component config is for a component the topology does not have.", "Give the right file or topology."),
    rule("IDENTITY_SKIPPED", W, "A certificate and key pair cannot be used as a caller of the audit.", "See its lint findings."),
    rule("CA_KEY_SKIPPED", W, "ca.pem is not the CA's key: the audit has no unlisted identity.", "Put the CA's key there."),
];

/// The catalogue entry of a code.
pub fn rule_info(code: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.code == code)
}

fn level(s: Severity) -> ResultLevel {
    match s {
        Severity::Critical => ResultLevel::Error,
        Severity::Warning => ResultLevel::Warning,
        Severity::Info => ResultLevel::Note,
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

fn descriptor(code: &str, f: &Finding) -> ReportingDescriptor {
    let info = rule_info(code);
    let meaning = info.map_or(f.title.as_str(), |i| i.meaning);
    let severity = info.map_or(f.severity, |i| i.severity);
    let help = match info {
        Some(i) => format!("{}\n\nFix: {}", i.meaning, i.fix),
        None => format!("{}\n\nFix: {}", f.title, f.fix),
    };
    let help_md = match info {
        Some(i) => format!("{}\n\n**Fix:** {}", i.meaning, i.fix),
        None => help.clone(),
    };
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

fn locations(doc: &Doc<'_>, f: &Finding) -> (Vec<Location>, bool) {
    let mut locs = Vec::new();
    let mut relative = false;
    if let Some(src) = &f.source {
        let s = parse_source(src);
        let logical = s.key.map(|k| {
            vec![LogicalLocation::builder()
                .name(k)
                .fully_qualified_name(k)
                .kind("property")
                .build()]
        });
        if let Some(file) = s.file {
            let (uri, absolute) = path_uri(file);
            relative |= !absolute;
            let artifact = if absolute {
                ArtifactLocation::builder().uri(uri).build()
            } else {
                ArtifactLocation::builder()
                    .uri(uri)
                    .uri_base_id(SRCROOT)
                    .build()
            };
            let physical = match (s.line, s.column) {
                (Some(line), column) => {
                    let region = match column {
                        Some(c) => Region::builder()
                            .start_line(i64::try_from(line).unwrap_or(1))
                            .start_column(i64::try_from(c).unwrap_or(1))
                            .build(),
                        None => Region::builder()
                            .start_line(i64::try_from(line).unwrap_or(1))
                            .build(),
                    };
                    PhysicalLocation::builder()
                        .artifact_location(artifact)
                        .region(region)
                        .build()
                }
                // A finding about a whole file (a certificate, a key): its first line, so that
                // code-scanning UIs, which need a region, show the file.
                _ => PhysicalLocation::builder()
                    .artifact_location(artifact)
                    .region(Region::builder().start_line(1).build())
                    .build(),
            };
            let loc = match logical {
                Some(l) => Location::builder()
                    .physical_location(physical)
                    .logical_locations(l)
                    .build(),
                None => Location::builder().physical_location(physical).build(),
            };
            locs.push(loc);
        } else if let Some(l) = logical {
            locs.push(Location::builder().logical_locations(l).build());
        }
    }
    if let Some(ep) = &f.endpoint {
        let cluster = &doc.report.cluster.name;
        let mut props = BTreeMap::new();
        if let Some(e) = doc.report.endpoints.iter().find(|e| &e.name == ep) {
            props.insert("address".to_string(), json!(e.address));
            props.insert("component".to_string(), json!(e.component));
            props.insert("role".to_string(), json!(e.role));
        }
        let logical = LogicalLocation::builder()
            .name(ep.as_str())
            .fully_qualified_name(format!("{cluster}/{ep}"))
            .kind("resource")
            .properties(PropertyBag::builder().additional_properties(props).build())
            .build();
        let loc = Location::builder()
            .logical_locations(vec![logical])
            .message(
                Message::builder()
                    .text(match &f.identity {
                        Some(i) => format!("endpoint {ep}, called as {i}"),
                        None => format!("endpoint {ep}"),
                    })
                    .build(),
            )
            .build();
        locs.push(loc);
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

/// One finding as a SARIF result, at `locs`.
fn result(f: &Finding, codes: &[&str], locs: Vec<Location>) -> SarifResult {
    let index = codes.iter().position(|c| *c == f.code).unwrap_or(0);
    let mut msg = f.title.clone();
    if !msg.ends_with('.') {
        msg.push('.');
    }
    if !f.evidence.is_empty() {
        msg.push_str(&format!("\nSeen: {}", f.evidence));
    }
    msg.push_str(&format!("\nFix: {}", f.fix));
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
        .rule_id(f.code)
        .rule_index(i64::try_from(index).unwrap_or(0))
        .level(level(f.severity))
        .message(Message::builder().text(msg).build())
        .locations(locs)
        .partial_fingerprints(fingerprint)
        .properties(PropertyBag::builder().additional_properties(props).build())
        .build()
}

/// The SARIF log as a value (tests inspect it; [`render`] prints it).
pub fn log(doc: &Doc<'_>) -> Sarif {
    let r = &doc.report;
    let mut codes: Vec<&str> = Vec::new();
    for f in r.findings {
        if !codes.contains(&f.code) {
            codes.push(f.code);
        }
    }
    let rules: Vec<ReportingDescriptor> = codes
        .iter()
        .filter_map(|c| {
            r.findings
                .iter()
                .find(|f| f.code == *c)
                .map(|f| descriptor(c, f))
        })
        .collect();
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
        .name(r.tool.name)
        .version(r.tool.version)
        .semantic_version(r.tool.version)
        .full_name(format!("{} {}", r.tool.name, r.tool.version))
        .rules(rules)
        .build();
    let invocation = {
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
    };
    let what = match doc.kind {
        Kind::Audit => "report",
        Kind::Lint => "lint",
    };
    let mut run_props = BTreeMap::new();
    run_props.insert("cluster".to_string(), json!(r.cluster.name));
    if doc.kind == Kind::Audit {
        run_props.insert("verdicts".to_string(), json!(r.summary.verdicts));
    }
    run_props.insert("findings".to_string(), json!(r.summary.findings));
    let automation = RunAutomationDetails::builder()
        .id(format!("tlsaudit/{what}/{}/", r.cluster.name))
        .build();
    let base = if any_relative {
        std::env::current_dir().ok().map(|d| {
            let (mut uri, _) = path_uri(&d.display().to_string());
            if !uri.ends_with('/') {
                uri.push('/');
            }
            let mut m = BTreeMap::new();
            m.insert(
                SRCROOT.to_string(),
                ArtifactLocation::builder().uri(uri).build(),
            );
            m
        })
    } else {
        None
    };
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .invocations(vec![invocation])
        .results(results)
        .column_kind(json!("unicodeCodePoints"))
        .automation_details(automation)
        .properties(
            PropertyBag::builder()
                .additional_properties(run_props)
                .build(),
        );
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
    fn rule_names_are_pascal_case() {
        assert_eq!(pascal("CN_NOT_ENFORCED"), "CnNotEnforced");
        assert_eq!(
            pascal("PD_MULTIPLE_CN_BEFORE_V8_4"),
            "PdMultipleCnBeforeV84"
        );
    }

    #[test]
    fn the_catalogue_has_each_code_once() {
        let mut seen = std::collections::BTreeSet::new();
        for r in RULES {
            assert!(seen.insert(r.code), "{} twice", r.code);
        }
    }
}
