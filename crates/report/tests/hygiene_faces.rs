//! The TLS hygiene scan (`endpoints[].scan`) in every face, from one fixture:
//! `tests/fixtures/hygiene-weak.json` is the 0.1.0 audit (`v0.1.0-audit.json`) with scans added
//! to four of its five endpoints: pd-1 sound (TLS 1.3 only), tikv-2 a weak server (TLS 1.0
//! accepted, a 3DES suite, a CBC-SHA1 suite, an RSA 1024 leaf signed with SHA-1 whose subject
//! is a `<script>` element), tikv-3 a scan stopped by its deadline, tikv-3-status a scan that
//! could not run (the port speaks HTTP); tidb-2-status has none. Its findings are the five the
//! engine raises for tikv-2, with the engine's words.
//!
//! The table's and Markdown's sections are snapshots; the HTML section is checked for its parts
//! and for the hostile subject shown as text; a report without scans renders as before (the
//! 0.1.0 audit's table and Markdown are snapshots taken before the section existed).

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use tlsaudit_report::{markdown, render, sarif, Doc, Format, Options, Report};

fn fixture(name: &str) -> Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(path).unwrap().replace(
        "\"version\": \"0.1.0\"",
        &format!("\"version\": \"{}\"", env!("CARGO_PKG_VERSION")),
    );
    Report::parse(&text, name).unwrap()
}

fn weak() -> Report {
    fixture("hygiene-weak.json")
}

fn face(r: &Report, format: Format) -> String {
    render(r, format, &Options::default()).unwrap()
}

/// The part of `text` from the line starting with `head` to the next blank line (or the end).
fn section<'a>(text: &'a str, head: &str) -> &'a str {
    let start = text
        .find(head)
        .unwrap_or_else(|| panic!("no {head:?} in\n{text}"));
    let rest = &text[start..];
    rest.find("\n\n").map_or(rest, |end| &rest[..=end])
}

#[test]
fn the_fixture_is_the_models_own_form() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hygiene-weak.json"),
    )
    .unwrap();
    let r = Report::parse(&text, "hygiene-weak.json").unwrap();
    assert_eq!(r.to_json().unwrap(), text);
    assert_eq!(r.endpoints.iter().filter(|e| e.scan.is_some()).count(), 4);
}

#[test]
fn the_table_lists_one_line_per_scanned_endpoint() {
    let table = face(&weak(), Format::Table);
    let s = section(&table, "TLS versions and suites");
    insta::assert_snapshot!("table_scan_section", s);
    assert!(!s.contains("tidb-2-status"), "{s}");
    // After the findings, before what was not checked.
    let at = table.find("TLS versions and suites").unwrap();
    assert!(table.find("\nfindings (").unwrap() < at);
    assert!(at < table.find("\nnot checked (").unwrap());
}

#[test]
fn the_table_wraps_a_long_line_under_its_text() {
    let opts = Options {
        width: 60,
        ..Options::default()
    };
    let table = render(&weak(), Format::Table, &opts).unwrap();
    let s = section(&table, "TLS versions and suites");
    assert!(s.lines().all(|l| l.chars().count() <= 60), "{s}");
    assert!(
        s.contains("  tikv-2: TLS 1.0, TLS 1.2; weakest\n    TLS_RSA_WITH_3DES_EDE_CBC_SHA\n"),
        "{s}"
    );
}

#[test]
fn markdown_has_a_compact_table_after_the_findings() {
    let md = face(&weak(), Format::Markdown);
    // The last section: to the end.
    let s = &md[md.find("### TLS versions and suites").unwrap()..];
    insta::assert_snapshot!("markdown_scan_section", s);
    assert!(md.find("### Findings").unwrap() < md.find("### TLS versions").unwrap());
    // The findings of the scan are listed with the others.
    for code in ["CIPHER_SUITE_INSECURE", "KEY_WEAK", "TLS_VERSION_OBSOLETE"] {
        assert!(md.contains(&format!("`{code}`")), "{code}");
    }
    // The hostile subject is in the evidence's code spans only: rendered, it is text.
    let mut opts = comrak::Options::default();
    opts.extension.table = true;
    let html = comrak::markdown_to_html(&md, &opts);
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("CN=&lt;script&gt;alert(1)&lt;/script&gt;: RSA 1024"),
        "{html}"
    );
}

/// The weak fixture's endpoints copied `times` times (names `NAME-k`), with their cells.
fn fleet(times: usize) -> Report {
    let mut r = weak();
    let base = r.endpoints.clone();
    let cells = r.cells.clone();
    let n = base.len();
    r.endpoints = (0..times)
        .flat_map(|k| {
            base.iter().map(move |e| tlsaudit_report::model::Endpoint {
                name: format!("{}-{k}", e.name),
                ..e.clone()
            })
        })
        .collect();
    r.cells = (0..r.identities.len())
        .flat_map(|i| {
            let cells = &cells;
            (0..times * n).map(move |e| tlsaudit_report::model::Cell {
                endpoint: format!("{}-{}", cells[i * n + e % n].endpoint, e / n),
                ..cells[i * n + e % n].clone()
            })
        })
        .collect();
    r.summary = tlsaudit_report::model::Summary::of(&r);
    r
}

#[test]
fn markdown_folds_the_scan_to_its_room_with_concerns_first() {
    let r = fleet(400);
    let md = markdown::render(&Doc::from_report(&r));
    assert!(md.chars().count() < markdown::GITHUB_LIMIT, "{}", md.len());
    let s = &md[md
        .find("### TLS versions and suites (1600 endpoints)")
        .unwrap()..];
    assert!(s.contains("\n… and "), "{s}");
    assert!(s.contains("see the HTML or JSON report"), "{s}");
    // Shown first: the weak, partial and failed scans; the sound pd-1 copies come last.
    let rows: Vec<&str> = s
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| endpoint"))
        .collect();
    let first_sound = rows
        .iter()
        .position(|l| l.starts_with("| pd-1-"))
        .unwrap_or(rows.len());
    assert!(rows[..first_sound]
        .iter()
        .all(|l| !l.starts_with("| pd-1-")));
    assert!(
        first_sound >= 100,
        "{first_sound} rows before the first sound one"
    );
    // The findings kept their room: the critical ones are all there, in full or in short.
    assert!(md.contains("`KEY_WEAK`"), "{md}");
}

#[test]
fn the_html_section_shows_versions_suites_order_groups_and_the_chain() {
    let page = face(&weak(), Format::Html);
    let start = page.find("<section id=\"scan\">").expect("the section");
    let s = &page[start..start + page[start..].find("</section>").unwrap()];
    assert!(s.contains("TLS versions and cipher suites (4)"), "{s}");
    for anchor in [
        "scan-pd-1",
        "scan-tikv-2",
        "scan-tikv-3",
        "scan-tikv-3-status",
    ] {
        assert!(s.contains(&format!("id=\"{anchor}\"")), "{anchor}");
    }
    assert!(!s.contains("tidb-2-status"), "{s}");
    let tikv2 = &s[s.find("id=\"scan-tikv-2\"").unwrap()..s.find("id=\"scan-tikv-3\"").unwrap()];
    // Versions accepted and refused, TLS 1.0 marked obsolete.
    assert!(tikv2.contains("<dt>TLS 1.0</dt><dd><strong>accepted</strong> <span class=\"sev-warning\"><span class=\"sev\">OBSOLETE</span></span>"), "{tikv2}");
    assert!(
        tikv2.contains("<dt>TLS 1.1</dt><dd>refused with alert 70 (protocol_version)</dd>"),
        "{tikv2}"
    );
    // Suites by IANA name, the 3DES one insecure, the CBC-SHA1 one weak, the GCM one unmarked.
    assert!(tikv2.contains("<code>TLS_RSA_WITH_3DES_EDE_CBC_SHA</code> <span class=\"when\">0x000a</span> <span class=\"sev-critical\"><span class=\"sev\">INSECURE</span></span> 3DES (64-bit block, Sweet32)"), "{tikv2}");
    assert!(tikv2.contains("<code>TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA</code> <span class=\"when\">0xc013</span> <span class=\"sev-warning\"><span class=\"sev\">WEAK</span></span> CBC with a SHA-1/MD5 MAC"), "{tikv2}");
    assert!(tikv2.contains("<code>TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256</code> <span class=\"when\">0xc02f</span></li>"), "{tikv2}");
    assert!(
        tikv2.contains(
            "server order enforced; groups: <span class=\"mono\">x25519, secp256r1</span>"
        ),
        "{tikv2}"
    );
    // The chain: the weak key and the SHA-1 signature marked, the root's own signature not.
    assert!(tikv2.contains("RSA 1024, sha1WithRSAEncryption <span class=\"sev-critical\"><span class=\"sev\">INSECURE</span></span> RSA key under 2048 bits <span class=\"sev-warning\"><span class=\"sev\">WEAK</span></span> signed with SHA-1 or MD5</li>"), "{tikv2}");
    assert!(
        tikv2.contains("RSA 2048, sha1WithRSAEncryption (self-signed)</li>"),
        "{tikv2}"
    );
    // A partial scan and a failed one say so.
    assert!(
        s.contains(
            "The scan stopped early (its connection budget or deadline): 9 connections in 60000 ms"
        ),
        "{s}"
    );
    let failed = &s[s.find("id=\"scan-tikv-3-status\"").unwrap()..];
    assert!(
        failed.contains(
            "The scan could not run: the answer is not TLS: &quot;HTTP/1.1 400 Bad Request&quot;."
        ),
        "{failed}"
    );
    assert_eq!(
        failed.matches("the answer is not TLS").count(),
        1,
        "{failed}"
    );
    assert!(
        failed.contains("<dt>served chain</dt><dd>not seen</dd>"),
        "{failed}"
    );
}

#[test]
fn a_hostile_certificate_subject_is_text_in_the_html() {
    let page = face(&weak(), Format::Html);
    assert!(
        !page.contains("<script>alert(1)"),
        "a subject became markup"
    );
    assert!(page.contains("CN=&lt;script&gt;alert(1)&lt;/script&gt;: RSA 1024"));
    // The page's only script is its own (pinned by the CSP).
    assert_eq!(page.matches("<script").count(), 1);
}

#[test]
fn sarif_carries_the_scan_findings_with_their_rules() {
    let log = serde_json::to_value(sarif::log(&Doc::from_report(weak()))).unwrap();
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for code in [
        "TLS_VERSION_OBSOLETE",
        "CIPHER_SUITE_INSECURE",
        "CIPHER_SUITE_WEAK",
        "KEY_WEAK",
        "SIGNATURE_SHA1",
    ] {
        let rule = rules.iter().find(|r| r["id"] == code).unwrap();
        let help = rule["help"]["text"].as_str().unwrap();
        assert!(help.contains("\n\nFix: "), "{code}: {help}");
        assert!(
            !help.starts_with("A finding code of a newer tlsaudit"),
            "{code}"
        );
        let result = run["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["ruleId"] == code)
            .unwrap();
        assert_eq!(
            rules[result["ruleIndex"].as_u64().unwrap() as usize]["id"],
            code
        );
        let logical = &result["locations"][0]["logicalLocations"][0];
        assert_eq!(logical["name"], "tikv-2", "{code}");
        let level = if matches!(code, "CIPHER_SUITE_INSECURE" | "KEY_WEAK") {
            "error"
        } else {
            "warning"
        };
        assert_eq!(result["level"], level, "{code}");
    }
}

#[test]
fn without_scans_no_face_has_the_section() {
    let mut r = weak();
    for e in &mut r.endpoints {
        e.scan = None;
    }
    assert!(!face(&r, Format::Table).contains("TLS versions and suites"));
    assert!(!face(&r, Format::Markdown).contains("TLS versions and suites"));
    assert!(!face(&r, Format::Html).contains("id=\"scan\""));
}

#[test]
fn a_report_of_the_previous_version_renders_as_before() {
    let r = fixture("v0.1.0-audit.json");
    insta::assert_snapshot!("v0_1_0_audit_table", face(&r, Format::Table));
    insta::assert_snapshot!("v0_1_0_audit_markdown", face(&r, Format::Markdown));
}
