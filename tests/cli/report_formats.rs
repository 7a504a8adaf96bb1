//! The shared report formats (HTML, Markdown, SARIF) over the demo lab, the lint fixtures and
//! hand-built models: the Markdown snapshot and its size bound, SARIF against the 2.1.0 JSON
//! schema with lint findings at their file, line and column and probe findings at their
//! endpoint, hostile peer text shown inert, and the CLI's `--format` words in any case.
//! The browser test of the HTML page is tests/report_browser.rs.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use crate::report_model as model;

use std::path::PathBuf;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use tlsaudit_engine::audit::{Auditor, Code, Finding, Plan, Severity};
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_report::{html, markdown, sarif, Doc};

/// The OASIS schema's `language` pattern has a stray `]`
/// (`^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$`), which is not a valid ECMA-262 regular expression
/// in Unicode mode, so the draft-07 meta-schema check refuses the schema. It only constrains
/// `run.language` and `toolComponent.language`, which tlsaudit never writes; it is dropped from
/// the in-memory copy (the vendored file stays as published).
const BROKEN_LANGUAGE_PATTERN: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";

fn drop_broken_patterns(v: &mut Value) -> usize {
    match v {
        Value::Object(map) => {
            let mut n = 0;
            if map.get("pattern").and_then(Value::as_str) == Some(BROKEN_LANGUAGE_PATTERN) {
                map.remove("pattern");
                n += 1;
            }
            n + map.values_mut().map(drop_broken_patterns).sum::<usize>()
        }
        Value::Array(a) => a.iter_mut().map(drop_broken_patterns).sum(),
        _ => 0,
    }
}

fn sarif_validator() -> jsonschema::Validator {
    let mut schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/sarif-schema-2.1.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        schema["title"],
        "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    );
    assert_eq!(drop_broken_patterns(&mut schema), 2);
    jsonschema::validator_for(&schema).expect("the SARIF schema compiles")
}

fn assert_valid_sarif(v: &Value) {
    let validator = sarif_validator();
    let errors: Vec<String> = validator
        .iter_errors(v)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// Ports, timestamps and the lab's folder change every run.
const FILTERS: &[(&str, &str)] = &[
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[time]"),
    (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
    (r"/tmp/tlsaudit-lab-[A-Za-z0-9]+", "[lab]"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_in_every_shared_format() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let inv = Inventory::load(&config).unwrap();
    let auditor = Auditor::new(Plan::new(inv).unwrap());
    let snap = auditor.run_round(None).await;
    lab.stop().await;
    let doc = Doc::audit(&auditor.plan(), &snap);

    // Markdown: the snapshot.
    let md = markdown::render(&doc);
    insta::with_settings!({ filters => FILTERS.to_vec(), prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("markdown_demo", md);
    });

    // HTML: one cell and one detail per identity x endpoint, with stable anchors, and nothing
    // that would load from elsewhere.
    let page = html::render(&doc);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(page.matches("<td class=\"cell ").count(), 120);
    assert_eq!(page.matches("<article class=\"detail").count(), 120);
    assert!(page.contains("id=\"cell-tidb-tikv-2\""));
    assert!(page.contains("href=\"#cell-tidb-tikv-2\""));
    assert!(page.contains("Content-Security-Policy"));
    for needle in [
        "src=\"http",
        "href=\"http",
        "url(",
        "@import",
        "<link rel=\"stylesheet",
    ] {
        assert!(!page.contains(needle), "{needle} in the page");
    }

    // SARIF: valid, one rule per code, probe findings at their endpoint.
    let log = serde_json::to_value(sarif::log(&doc)).unwrap();
    assert_valid_sarif(&log);
    let run = &log["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let mut codes: Vec<&str> = snap.findings.iter().map(|f| f.code.as_str()).collect();
    codes.dedup();
    codes.sort_unstable();
    codes.dedup();
    let mut sorted_rules = rules.clone();
    sorted_rules.sort_unstable();
    assert_eq!(sorted_rules, codes);
    for rule in run["tool"]["driver"]["rules"].as_array().unwrap() {
        assert!(!rule["help"]["text"].as_str().unwrap().is_empty());
        assert!(rule["help"]["text"].as_str().unwrap().contains("Fix: "));
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), snap.findings.len());
    let blocked = results
        .iter()
        .find(|r| r["ruleId"] == "CALLER_NOT_LISTED")
        .unwrap();
    assert_eq!(blocked["level"], "error");
    let logical = &blocked["locations"][0]["logicalLocations"][0];
    assert_eq!(logical["name"], "tikv-2");
    assert_eq!(logical["fullyQualifiedName"], "demo/tikv-2");
    assert_eq!(logical["kind"], "resource");
    assert!(logical["properties"]["address"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert!(blocked["locations"][0].get("physicalLocation").is_none());
    assert_eq!(
        rules[usize::try_from(blocked["ruleIndex"].as_u64().unwrap()).unwrap()],
        "CALLER_NOT_LISTED"
    );
    // The check can fail: a broken log is refused.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = serde_json::json!("fatal");
    assert!(!sarif_validator().is_valid(&broken));
}

fn fixture(rel: &str) -> String {
    format!("tests/fixtures/{rel}")
}

#[test]
fn lint_sarif_annotates_the_file_line_and_column() {
    // Relative paths, as a CI job in a checkout passes them.
    let flags = tlsaudit::cli::input::TidbInputFlags {
        topology: Some(PathBuf::from(fixture("tiup/prod.yaml"))),
        component_config: vec![fixture("components/tikv.toml")],
        expiry_days: 30,
        ..Default::default()
    };
    let (cluster, findings) = tlsaudit::cli::input::load_tidb(&flags).unwrap();
    let doc = Doc::lint(&cluster, &findings);
    let log = serde_json::to_value(sarif::log(&doc)).unwrap();
    assert_valid_sarif(&log);
    let run = &log["runs"][0];
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    assert!(run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
        .as_str()
        .unwrap()
        .starts_with("file:///"));
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), findings.len());
    let mut located = 0;
    for (r, f) in results.iter().zip(&findings) {
        assert_eq!(r["ruleId"], f.code.as_str());
        let Some(src) = &f.source else { continue };
        let p = tlsaudit_report::shared::parse_source(src);
        let Some(file) = p.file else { continue };
        let phys = &r["locations"][0]["physicalLocation"];
        assert_eq!(phys["artifactLocation"]["uri"], file, "{src}");
        assert_eq!(phys["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        if let Some(line) = p.line {
            assert_eq!(phys["region"]["startLine"], line, "{src}");
            assert_eq!(phys["region"]["startColumn"], p.column.unwrap(), "{src}");
            located += 1;
        }
    }
    assert!(located >= 2, "{results:#?}");
    // The lines the fixtures are known to produce.
    let at = |uri: &str, line: u64| {
        results.iter().any(|r| {
            let p = &r["locations"][0]["physicalLocation"];
            p["artifactLocation"]["uri"] == uri && p["region"]["startLine"] == line
        })
    };
    assert!(
        at("tests/fixtures/components/tikv.toml", 16),
        "{results:#?}"
    );
    assert!(at("tests/fixtures/tiup/prod.yaml", 85), "{results:#?}");
}

#[test]
fn every_code_has_a_rule_and_every_rule_validates() {
    // The codes the docs list are the codes the catalogue knows.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut documented = std::collections::BTreeSet::new();
    for doc in ["docs/report.md", "docs/tidb.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("| `") {
                let code = rest.split('`').next().unwrap();
                if code.len() > 3
                    && code
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                {
                    documented.insert(code.to_string());
                }
            }
        }
    }
    let catalogue: std::collections::BTreeSet<String> =
        Code::ALL.iter().map(|c| c.as_str().to_string()).collect();
    assert_eq!(documented, catalogue);

    // A log with one finding of every code, from every kind of source, is valid SARIF.
    let sources = [
        Some("topology.yaml:12:3: server_configs.tikv.security.cert-allowed-cn".to_string()),
        Some("/abs/path with space/tls/tidb.crt".to_string()),
        Some("topology.yaml: global.enable_tls (not set)".to_string()),
        Some("security.cert-allowed-cn (default)".to_string()),
        Some("--ca".to_string()),
        None,
    ];
    let findings: Vec<Finding> = Code::ALL
        .iter()
        .enumerate()
        .map(|(k, r)| Finding {
            code: *r,
            severity: r.default_severity(),
            endpoint: (k % 3 == 0).then(|| "tikv-1".to_string()),
            identity: (k % 6 == 0).then(|| "tidb".to_string()),
            title: format!("{r} happened"),
            evidence: String::new(),
            fix: "fix it".into(),
            source: sources[k % sources.len()].clone(),
            vantages: Vec::new(),
        })
        .collect();
    let m = model::Model::synthetic(3, 2);
    let mut report = m.report();
    report.findings = findings.iter().map(Into::into).collect();
    let doc = Doc::from_report(report);
    let log = serde_json::to_value(sarif::log(&doc)).unwrap();
    assert_valid_sarif(&log);
    let run = &log["runs"][0];
    assert_eq!(
        run["tool"]["driver"]["rules"].as_array().unwrap().len(),
        Code::ALL.len()
    );
    for r in run["results"].as_array().unwrap() {
        assert!(
            !r["locations"].as_array().unwrap().is_empty(),
            "every result has a place: {r:#}"
        );
    }
    let abs = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .filter(|u| u.starts_with("file:"))
        })
        .unwrap();
    assert_eq!(abs, "file:///abs/path%20with%20space/tls/tidb.crt");
}

#[test]
fn markdown_of_200_by_10_stays_under_the_github_limit() {
    let m = model::Model::synthetic(200, 10);
    let doc = Doc::from_report(m.report());
    let md = markdown::render(&doc);
    let n = md.chars().count();
    assert!(n < markdown::GITHUB_LIMIT, "{n} characters");
    // Folded by component, and what did not fit is counted, not dropped silently.
    assert!(md.contains("| component |"), "{md}");
    for c in [
        "PD (40)",
        "TiKV (40)",
        "TiDB (40)",
        "TiFlash (40)",
        "TiCDC (40)",
    ] {
        assert!(md.contains(c), "{c}");
    }
    assert!(md.contains("not listed") && md.contains("see the HTML or JSON report"));
    // No critical finding is dropped for room: those without room in full are listed in short.
    let report = m.report();
    let critical = report
        .findings
        .iter()
        .filter(|f| f.severity == tlsaudit_engine::audit::Severity::Critical)
        .count();
    let listed = md.matches("- **CRITICAL**").count();
    assert_eq!(listed, critical, "{md}");
    assert!(md.contains("**Findings:** "));
    // The same model small enough is not folded and lists every finding.
    let m = model::Model::synthetic(12, 3);
    let doc = Doc::from_report(m.report());
    let md = markdown::render(&doc);
    assert!(md.contains("| endpoint |") && !md.contains("| component |"));
    assert_eq!(
        md.matches("- **CRITICAL**").count() + md.matches("- **WARNING**").count(),
        m.findings.len()
    );
    // And the HTML of 200 x 10 has every cell.
    let m = model::Model::synthetic(200, 10);
    let page = html::render(&Doc::from_report(m.report()));
    assert_eq!(page.matches("<td class=\"cell ").count(), 2000);
}

#[test]
fn hostile_text_is_inert_in_html_and_markdown() {
    let m = model::Model::hostile();
    let doc = Doc::from_report(m.report());

    let page = html::render(&doc);
    // Our one script, and no other element the peer text could have opened.
    assert_eq!(page.matches("<script").count(), 1, "{page}");
    assert_eq!(page.matches("</script>").count(), 1);
    assert!(!page.contains("<img"));
    assert!(!page.contains("onerror=\""));
    assert!(!page.contains("onmouseover=\""));
    assert!(page.contains("&lt;script&gt;window.__pwned=true&lt;/script&gt;"));
    assert!(page.contains("&lt;img src=x onerror=&quot;window.__pwned=true&quot;&gt;"));
    // Control characters and bidi overrides show as escapes.
    assert!(!page.chars().any(|c| c.is_control() && c != '\n'));
    assert!(!page.contains('\u{202e}'));
    assert!(page.contains("\\x1b[31mred\\x07\\u{202e}txt.exe"));
    // Anchors stay plain.
    assert!(page.contains("id=\"cell-x___script_window.__pwned_true__script_-tikv-1\""));

    let md = markdown::render(&doc);
    assert!(!md.chars().any(|c| c.is_control() && c != '\n'));
    assert!(!md.contains('\u{202e}'));
    assert!(md.contains("\\\\x1b"));
    // Outside code spans (where Markdown shows text as text): no markup but our `<sub>`, no
    // mention, no link, no math.
    let prose = outside_code_spans(&md);
    assert!(
        !prose
            .replace("<sub>", "")
            .replace("</sub>", "")
            .contains('<'),
        "{prose}"
    );
    assert!(!prose.contains("@team"), "{prose}");
    assert!(!prose.contains("https://"), "{prose}");
    assert!(md.contains("\\$x\\$"));
    // The evidence is a code span whose fence outlasts the backticks inside it.
    assert!(
        md.contains("``grpc-message: <img src=x onerror=\"window.__pwned=true\"> `code` | pipe``"),
        "{md}"
    );

    // SARIF is JSON: serde escapes it; it stays valid.
    let log = serde_json::to_value(sarif::log(&doc)).unwrap();
    assert_valid_sarif(&log);
}

/// The Markdown text outside code spans; panics on a span that is never closed (peer text that
/// broke out of its fence).
fn outside_code_spans(md: &str) -> String {
    let mut out = String::new();
    let mut rest = md;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let run = rest[start..].bytes().take_while(|&b| b == b'`').count();
        let after = &rest[start + run..];
        // The closing fence: a run of exactly `run` backticks.
        let mut k = 0;
        let close = loop {
            let Some(i) = after[k..].find('`') else {
                panic!("unclosed code span at {:?}", &rest[start..]);
            };
            let at = k + i;
            let n = after[at..].bytes().take_while(|&b| b == b'`').count();
            if n == run {
                break at;
            }
            k = at + n;
        };
        rest = &after[close + run..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_cli_writes_every_format_in_any_case() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lint = |format: &str| {
        Command::cargo_bin("tlsaudit")
            .unwrap()
            .current_dir(&root)
            .args([
                "lint",
                "--topology",
                "tests/fixtures/tiup/prod.yaml",
                "--component-config",
                "tests/fixtures/components/tikv.toml",
                "--format",
                format,
            ])
            .output()
            .unwrap()
    };
    let out = lint("SARIF");
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{out:?}"
    );
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid_sarif(&log);
    assert_eq!(
        log["runs"][0]["automationDetails"]["id"],
        "tlsaudit/lint/prod/"
    );
    let out = lint("Html");
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("tlsaudit lint: cluster prod"));
    assert!(!page.contains("<td class=\"cell"));
    let out = lint("markdown");
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.starts_with("## tlsaudit lint: cluster prod"), "{md}");
    let out = lint("TEXT");
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("tlsaudit lint: cluster prod"));
    let out = lint("pdf");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    for word in ["html", "markdown", "sarif"] {
        assert!(err.contains(word), "{err}");
    }

    // `report --help` names the new formats.
    let out = Command::cargo_bin("tlsaudit")
        .unwrap()
        .args(["report", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for word in ["html", "markdown", "sarif"] {
        assert!(help.contains(word), "{help}");
    }
}

#[test]
fn markdown_lint_lists_warnings_and_counts_info() {
    let flags = tlsaudit::cli::input::TidbInputFlags {
        topology: Some(PathBuf::from(fixture("tiup/prod.yaml"))),
        component_config: vec![fixture("components/tikv.toml")],
        expiry_days: 30,
        ..Default::default()
    };
    let (cluster, findings) = tlsaudit::cli::input::load_tidb(&flags).unwrap();
    let doc = Doc::lint(&cluster, &findings);
    let md = markdown::render(&doc);
    let shown = findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .count();
    assert_eq!(
        md.matches("- **CRITICAL**").count() + md.matches("- **WARNING**").count(),
        shown
    );
    let info = findings
        .iter()
        .filter(|f| f.severity == Severity::Info)
        .count();
    if info > 0 {
        assert!(md.contains(&format!("{info} info finding")), "{md}");
    }
    assert!(!md.contains("### Matrix"));
}
