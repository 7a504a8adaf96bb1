//! Reports written by tlsaudit 0.1.0 before the report model was one (`tests/fixtures/`: one
//! audit from each of two vantage points, their merge, and a round with a baseline), read back
//! through the model: written again they are the same bytes, the baseline is computed again to
//! the same bytes, the merge to this version's merge of them (`merge-of-v0.1.0.json`), and every
//! format renders them.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use tlsaudit_report::{diff, merge, render, Format, Options, Report};

/// A fixture's text, with the tool version of this build (the fixtures were written by 0.1.0).
fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(path).unwrap().replace(
        "\"version\": \"0.1.0\"",
        &format!("\"version\": \"{}\"", env!("CARGO_PKG_VERSION")),
    )
}

fn read(name: &str) -> Report {
    Report::parse(&fixture(name), name).unwrap()
}

const FIXTURES: [&str; 4] = [
    "v0.1.0-audit.json",
    "v0.1.0-audit-rack-b.json",
    "v0.1.0-merged.json",
    "v0.1.0-baseline.json",
];

#[test]
fn a_report_of_the_previous_version_is_written_back_byte_for_byte() {
    for name in FIXTURES {
        let text = fixture(name);
        let written = Report::parse(&text, name).unwrap().to_json().unwrap();
        assert!(written == text, "{name} changed when written back");
        let mut streamed = Vec::new();
        read(name).write_json(&mut streamed).unwrap();
        assert_eq!(
            String::from_utf8(streamed).unwrap(),
            text,
            "{name} streamed"
        );
    }
}

#[test]
fn write_read_write_is_the_same_bytes() {
    for name in FIXTURES {
        let once = read(name).to_json().unwrap();
        let twice = Report::parse(&once, name).unwrap().to_json().unwrap();
        assert!(once == twice, "{name}");
    }
}

#[test]
fn the_merge_is_computed_again_to_the_same_bytes() {
    let inputs = vec![
        merge::input(Path::new("a.json"), read("v0.1.0-audit.json")).unwrap(),
        merge::input(Path::new("b.json"), read("v0.1.0-audit-rack-b.json")).unwrap(),
    ];
    merge::check(&inputs).unwrap();
    let merged = merge::merge(&inputs).to_json().unwrap();
    if let Ok(p) = std::env::var("DUMP_MERGE") {
        std::fs::write(p, &merged).unwrap();
    }
    // 0.1.0's merge hid that rack-b dialed tikv-2 at another address and raised a
    // VANTAGE_DISAGREE per link; this version's says so, once for the endpoint.
    assert!(merged == fixture("merge-of-v0.1.0.json"));
}

#[test]
fn the_baseline_is_computed_again_to_the_same_bytes() {
    let saved = read("v0.1.0-baseline.json");
    let mut round = saved.clone();
    round.baseline = None;
    for c in &mut round.cells {
        c.baseline = None;
    }
    round.set_baseline(&read("v0.1.0-audit.json"), "a.json");
    assert!(round.to_json().unwrap() == fixture("v0.1.0-baseline.json"));
    let d = diff::diff(&read("v0.1.0-audit.json"), &saved, ("a.json", "this audit"));
    assert_eq!(
        diff::render_json(&d).unwrap(),
        diff::render_json(saved.baseline.as_ref().unwrap()).unwrap()
    );
}

#[test]
fn every_format_renders_a_saved_report() {
    for name in FIXTURES {
        let r = read(name);
        let opts = Options::default();
        let table = render(&r, Format::Table, &opts).unwrap();
        assert!(
            table.starts_with("tlsaudit report: cluster demo"),
            "{table}"
        );
        let html = render(&r, Format::Html, &opts).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"), "{name}");
        let md = render(&r, Format::Markdown, &opts).unwrap();
        assert!(md.starts_with("## tlsaudit report: cluster demo"), "{md}");
        let sarif: serde_json::Value =
            serde_json::from_str(&render(&r, Format::Sarif, &opts).unwrap()).unwrap();
        assert_eq!(sarif["version"], "2.1.0");
        assert_eq!(render(&r, Format::Json, &opts).unwrap(), fixture(name));
    }
    // The marks of a baseline and of a merge show in the table.
    let table = render(
        &read("v0.1.0-baseline.json"),
        Format::Table,
        &Options::default(),
    )
    .unwrap();
    assert!(
        table.contains("*: verdict changed since the baseline"),
        "{table}"
    );
    let table = render(
        &read("v0.1.0-merged.json"),
        Format::Table,
        &Options::default(),
    )
    .unwrap();
    assert!(table.contains("vantage points disagree ("), "{table}");
}
