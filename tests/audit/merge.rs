//! `tlsaudit merge` across vantage points: two `tlsaudit serve` processes over the embedded lab,
//! one whose route to tikv-1 is cut (its inventory points tikv-1 at a port nothing listens on,
//! so the two dialed tikv-1 at different addresses) and which does not try the foreign
//! identity; their /report.json merged by the built binary keep both addresses, raise one
//! VANTAGE_DISAGREE for tikv-1 listing its links, name every address with its vantage point,
//! mark the foreign cells not tried from rack-b and carry tikv-1's inventory labels;
//! `report --from` renders the merge as a table and as HTML, `merge --format markdown` with
//! its `≠` marks; bad inputs are one-line errors naming the file (exit 2).

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use tlsaudit_testkit::eventually_async;
use tlsaudit_testkit::serve::{serve, Serve};

/// `tlsaudit serve --listen 127.0.0.1:0 ARGS`: the process and the address it bound.
fn serve_at(args: &[&str]) -> (Serve, String) {
    let s = serve(args);
    let addr = s.addr.clone();
    (s, addr)
}

/// GET over loopback: (status, body).
async fn get(addr: &str, path: &str) -> (u16, String) {
    let (status, _, body) = tlsaudit_testkit::serve::get(addr, path, None).await;
    (status, body)
}

/// /report.json once the first round has finished (it answers 503 until then).
async fn first_report(addr: &str) -> String {
    let (within, every) = (Duration::from_secs(90), Duration::from_millis(200));
    eventually_async("/report.json to answer 200", within, every, || async move {
        let (status, body) = get(addr, "/report.json").await;
        if status == 200 {
            Ok(body)
        } else {
            Err(format!("{status}"))
        }
    })
    .await
}

fn schema_errors(doc: &Value) -> Vec<String> {
    tlsaudit_testkit::report_schema_errors(doc)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_flags_the_endpoint_one_vantage_point_cannot_reach() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    // rack-b's route to tikv-1 is cut: from there its address refuses connections.
    let tikv1 = lab
        .endpoints()
        .iter()
        .find(|e| e.name == "tikv-1")
        .unwrap()
        .addr
        .to_string();
    // A port held (bound, never listening) for the whole test: connections to it are refused,
    // and no other test's server can take it meanwhile (a port only looked up free could be).
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let dead = held.local_addr().unwrap().to_string();
    // tikv-1 carries labels in the inventory (both vantage points').
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "name = \"tikv-1\"\n",
        "name = \"tikv-1\"\nlabels = { rack = \"r1\", zone = \"az1\" }\n",
    );
    assert!(text.contains(&tikv1) && text.contains("labels ="));
    let labelled = config.with_file_name("rack-a.toml");
    std::fs::write(&labelled, &text).unwrap();
    let cut = config.with_file_name("rack-b.toml");
    std::fs::write(&cut, text.replace(&tikv1, &dead)).unwrap();
    let (_a, a_addr) = serve_at(&["--config", s(&labelled), "--vantage", "rack-a"]);
    // rack-b does not try the foreign identity: an identity only rack-a's report has.
    let (_b, b_addr) = serve_at(&[
        "--config",
        s(&cut),
        "--vantage",
        "rack-b",
        "--allow-unreachable",
        "--no-foreign",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let a_json = dir.path().join("a.json");
    let b_json = dir.path().join("b.json");
    let a_body = first_report(&a_addr).await;
    let b_body = first_report(&b_addr).await;
    let a_doc: Value = serde_json::from_str(&a_body).unwrap();
    assert_eq!(a_doc["vantage"], "rack-a");
    assert!(
        schema_errors(&a_doc).is_empty(),
        "{:#?}",
        schema_errors(&a_doc)
    );
    std::fs::write(&a_json, &a_body).unwrap();
    std::fs::write(&b_json, &b_body).unwrap();

    labels_are_in_the_json(&a_doc);
    let merged = dir.path().join("merged.json");
    let addrs = Dialed {
        a: tikv1.clone(),
        b: dead.clone(),
    };
    let differing = merged_json_flags_tikv_1(&a_json, &b_json, &merged, &a_doc);
    the_address_mismatch_is_said(&merged, &addrs);
    the_one_sided_identity_is_said(&merged);
    report_from_shows_it(&merged, &a_json, &differing, &addrs);
    markdown_keeps_the_marks(&a_json, &b_json);
    bad_inputs_name_the_file(dir.path(), &a_json, &b_json, &merged, &a_doc);
    lab.stop().await;
}

/// The addresses rack-a and rack-b dialed tikv-1 at.
struct Dialed {
    a: String,
    b: String,
}

/// Whether `text` names `addr` (not as the prefix of a longer port).
fn names(text: &str, addr: &str) -> bool {
    text.match_indices(addr)
        .any(|(k, _)| !text[k + addr.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// The inventory's labels of tikv-1 are in the JSON report; an endpoint without any has none.
fn labels_are_in_the_json(a_doc: &Value) {
    let eps = a_doc["endpoints"].as_array().unwrap();
    let tikv = eps.iter().find(|e| e["name"] == "tikv-1").unwrap();
    assert_eq!(
        tikv["labels"],
        serde_json::json!({"rack": "r1", "zone": "az1"})
    );
    let pd = eps.iter().find(|e| e["name"] == "pd-1").unwrap();
    assert!(pd.get("labels").is_none(), "{pd}");
    assert!(eps.iter().all(|e| e.get("addresses").is_none()));
}

/// `tlsaudit merge A B --format json -o MERGED` and what the merged report says; the cells
/// whose vantage points (both of which tried them) differ.
fn merged_json_flags_tikv_1(
    a_json: &Path,
    b_json: &Path,
    merged: &Path,
    a_doc: &Value,
) -> BTreeSet<(String, String)> {
    // The merge, by the built binary: exit 1 (the lab's planted faults are critical).
    let (code, _, err) = tlsaudit_testkit::cli(&[
        "merge",
        s(a_json),
        s(b_json),
        "--format",
        "json",
        "-o",
        s(merged),
    ]);
    assert_eq!(code, 1, "{err}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(merged).unwrap()).unwrap();
    let errors = schema_errors(&doc);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(doc["schema"], "tlsaudit.report/v1");
    assert_eq!(doc["vantages"], serde_json::json!(["rack-a", "rack-b"]));
    assert!(doc["vantage"].is_null());
    let cells = doc["cells"].as_array().unwrap();
    assert_eq!(cells.len(), a_doc["cells"].as_array().unwrap().len());
    // The cells whose vantage points differ are all at tikv-1, and every tikv-1 cell that
    // both tried differs (rack-b saw it unreachable).
    let differing: BTreeSet<(String, String)> = cells
        .iter()
        .filter(|c| {
            let by = c["by_vantage"].as_object().unwrap();
            by["rack-b"].get("not_tried").is_none()
                && by["rack-a"]["verdict"] != by["rack-b"]["verdict"]
        })
        .map(|c| {
            (
                c["identity"].as_str().unwrap().to_string(),
                c["endpoint"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(!differing.is_empty());
    assert!(
        differing.iter().all(|(_, e)| e == "tikv-1"),
        "{differing:?}"
    );
    for c in cells
        .iter()
        .filter(|c| c["endpoint"] == "tikv-1" && c["identity"] != "foreign")
    {
        assert_eq!(c["by_vantage"]["rack-b"]["verdict"], "unreachable", "{c}");
        assert_eq!(c["verdict"], "unreachable", "the worst is shown: {c}");
    }
    let tidb = cells
        .iter()
        .find(|c| c["identity"] == "tidb" && c["endpoint"] == "tikv-1")
        .unwrap();
    assert_eq!(tidb["by_vantage"]["rack-a"]["verdict"], "secure");
    assert_eq!(tidb["by_vantage"]["rack-a"]["outcome"], "accepted");
    assert_eq!(tidb["by_vantage"]["rack-b"]["outcome"], "refused");
    one_finding_lists_the_links(&doc, &differing);
    // The union of the findings keeps what only one vantage point raised, tagged with it.
    let unreachable = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "UNREACHABLE" && f["endpoint"] == "tikv-1")
        .unwrap();
    assert_eq!(unreachable["vantages"], serde_json::json!(["rack-b"]));

    differing
}

/// One VANTAGE_DISAGREE, for tikv-1, listing exactly the `differing` cells and who saw what.
fn one_finding_lists_the_links(doc: &Value, differing: &BTreeSet<(String, String)>) {
    // One VANTAGE_DISAGREE, for tikv-1, listing exactly those cells and who saw what.
    let flagged: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "VANTAGE_DISAGREE")
        .collect();
    assert_eq!(flagged.len(), 1, "{flagged:#?}");
    let f = flagged[0];
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["endpoint"], "tikv-1");
    assert!(f.get("identity").is_none(), "{f}");
    assert_eq!(f["vantages"], serde_json::json!(["rack-a", "rack-b"]));
    let title = f["title"].as_str().unwrap();
    let ids: Vec<&str> = differing.iter().map(|(i, _)| i.as_str()).collect();
    assert!(
        title.contains(&format!(
            "disagree on {} links at tikv-1 (",
            differing.len()
        )) && title.contains(&format!("unreachable {} from rack-b", differing.len())),
        "{title}"
    );
    let evidence = f["evidence"].as_str().unwrap();
    for id in &ids {
        assert!(
            title.contains(id) && evidence.contains(&format!("{id}: rack-a: ")),
            "{id}: {title} / {evidence}"
        );
    }
    assert!(
        evidence.contains("tidb: rack-a: secure (accepted")
            && evidence.contains("rack-b: unreachable (refused"),
        "{evidence}"
    );
}

/// The merged report keeps tikv-1's labels and both addresses, says the vantage points dialed
/// it at different addresses, and no fix names either address without the vantage point that
/// dialed it.
fn the_address_mismatch_is_said(merged: &Path, addrs: &Dialed) {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(merged).unwrap()).unwrap();
    let merged_tikv = doc["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "tikv-1")
        .unwrap();
    assert_eq!(
        merged_tikv["labels"],
        serde_json::json!({"rack": "r1", "zone": "az1"})
    );
    assert_eq!(
        merged_tikv["addresses"],
        serde_json::json!({"rack-a": addrs.a, "rack-b": addrs.b})
    );
    assert_eq!(merged_tikv["address"], addrs.a.as_str());
    let f = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "VANTAGE_DISAGREE")
        .unwrap();
    let title = f["title"].as_str().unwrap();
    assert!(
        title.starts_with(&format!(
            "Vantage points dialed tikv-1 at different addresses ({} from rack-a; {} from rack-b) and disagree on",
            addrs.a, addrs.b
        )),
        "{title}"
    );
    let fix = f["fix"].as_str().unwrap();
    assert!(
        fix.contains("same address in every vantage point's inventory")
            && fix.contains(&format!(
                "check the network path from rack-b to tikv-1 ({})",
                addrs.b
            ))
            && !fix.contains("from rack-a to"),
        "{fix}"
    );
    // Every fix (of a finding or a cell) naming an address of tikv-1 names the vantage point
    // that dialed it.
    let fixes = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .chain(doc["cells"].as_array().unwrap())
        .filter_map(|x| x["fix"].as_str());
    let mut seen = 0;
    for fix in fixes {
        if names(fix, &addrs.b) {
            assert!(fix.contains("rack-b"), "{fix}");
            seen += 1;
        }
        if names(fix, &addrs.a) {
            assert!(
                fix.contains(&format!("{} from rack-a", addrs.a))
                    || fix.contains(&format!("from rack-a (dialing tikv-1 at {})", addrs.a)),
                "{fix}"
            );
        }
    }
    assert!(
        seen >= 2,
        "the UNREACHABLE finding and the VANTAGE_DISAGREE name rack-b's"
    );
    // rack-b's UNREACHABLE: its fix says whose address it is about.
    let unreachable = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "UNREACHABLE" && f["endpoint"] == "tikv-1")
        .unwrap();
    let fix = unreachable["fix"].as_str().unwrap();
    assert!(
        fix.starts_with(&format!("from rack-b (dialing tikv-1 at {}): ", addrs.b)),
        "{fix}"
    );
    // A tikv-1 cell's fix (where it has one) is one vantage point's, said so.
    for c in doc["cells"].as_array().unwrap() {
        if let (true, Some(fix)) = (c["endpoint"] == "tikv-1", c["fix"].as_str()) {
            assert!(fix.starts_with("from rack-"), "{c}");
        }
    }
}

/// The foreign identity, tried only from rack-a: its cells say rack-b did not try it, raise
/// no disagreement, and `not_checked` names it.
fn the_one_sided_identity_is_said(merged: &Path) {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(merged).unwrap()).unwrap();
    let foreign: Vec<&Value> = doc["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["identity"] == "foreign")
        .collect();
    assert!(!foreign.is_empty(), "rack-a tried foreign");
    for c in &foreign {
        let by = &c["by_vantage"];
        assert_eq!(by["rack-b"]["not_tried"], "identity", "{c}");
        assert!(by["rack-b"]["verdict"].is_null(), "{c}");
        assert!(by["rack-a"]["verdict"].is_string(), "{c}");
        assert!(by["rack-a"].get("not_tried").is_none(), "{c}");
        assert_eq!(c["verdict"], by["rack-a"]["verdict"], "{c}");
    }
    let not_checked = doc["not_checked"].as_array().unwrap();
    assert!(
        not_checked.iter().any(|n| n
            == "identity foreign was tried only from rack-a, not from rack-b (its report does not have it)"),
        "{not_checked:#?}"
    );
}

/// `merge --format markdown`: the disagreeing cells keep their `≠`, the legend says what it
/// means, the findings name the vantage points that saw them and the one-sided identity.
fn markdown_keeps_the_marks(a_json: &Path, b_json: &Path) {
    let (code, md, err) =
        tlsaudit_testkit::cli(&["merge", s(a_json), s(b_json), "--format", "markdown"]);
    assert_eq!(code, 1, "{err}");
    let tikv_row = md
        .lines()
        .find(|l| l.starts_with("| tikv-1 "))
        .unwrap_or_else(|| panic!("{md}"));
    assert!(tikv_row.contains('≠'), "{tikv_row}");
    let pd_row = md.lines().find(|l| l.starts_with("| pd-1 ")).unwrap();
    assert!(!pd_row.contains('≠'), "{pd_row}");
    assert!(md.contains("`≠` vantage points disagree"), "{md}");
    assert!(md.contains("  - seen from: rack-b\n"), "{md}");
    assert!(
        md.contains("identity foreign was tried only from rack-a"),
        "{md}"
    );
}

/// (b) `report --from MERGED` as a table and as HTML.
fn report_from_shows_it(
    merged: &Path,
    a_json: &Path,
    differing: &BTreeSet<(String, String)>,
    addrs: &Dialed,
) {
    // (b) The merge read back: the table marks the disagreeing cells and lists each.
    let (code, table, err) =
        tlsaudit_testkit::cli(&["report", "--from", s(merged), "--format", "table"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        table.contains("merged from 2 vantage points: rack-a, rack-b"),
        "{table}"
    );
    let tikv_row = table
        .lines()
        .find(|l| l.starts_with("tikv-1 "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(tikv_row.contains('≠'), "{tikv_row}");
    let pd_row = table.lines().find(|l| l.starts_with("pd-1 ")).unwrap();
    assert!(!pd_row.contains('≠'), "{pd_row}");
    assert!(
        table.contains(&format!(
            "vantage points disagree ({} cells):",
            differing.len()
        )),
        "{table}"
    );
    assert!(
        table.contains("≠ tidb at tikv-1: rack-a secure, rack-b unreachable"),
        "{table}"
    );
    assert!(table.contains("VANTAGE_DISAGREE"), "{table}");
    assert!(
        table.contains(&format!(
            "vantage points dialed different addresses (1 endpoint):\n  ≠ tikv-1: {} from rack-a, {} from rack-b\n",
            addrs.a, addrs.b
        )),
        "{table}"
    );
    // And the HTML page: the finding, and the cell's detail with each vantage point's verdict.
    let (code, html, err) = tlsaudit_testkit::cli(&[
        "report",
        "--from",
        s(merged),
        "--format",
        "html",
        "--fail-on",
        "info",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(html.contains("VANTAGE_DISAGREE"));
    assert!(html.contains("merged from"));
    let detail = &html[html.find("id=\"cell-tidb-tikv-1\"").unwrap()..];
    let detail = &detail[..detail.find("</article>").unwrap()];
    assert!(detail.contains("by vantage"), "{detail}");
    assert!(detail.contains("data-vantage=\"rack-a\""), "{detail}");
    assert!(detail.contains("data-vantage=\"rack-b\""), "{detail}");
    assert!(
        detail.contains(&format!("{} from rack-a, {} from rack-b", addrs.a, addrs.b)),
        "{detail}"
    );
    let detail = &html[html.find("id=\"cell-foreign-pd-1\"").unwrap()..];
    let detail = &detail[..detail.find("</article>").unwrap()];
    assert!(
        detail.contains("report has no identity foreign"),
        "{detail}"
    );
    // A single report read back keeps its vantage and has no merge marks.
    let (code, table, _) =
        tlsaudit_testkit::cli(&["report", "--from", s(a_json), "--format", "table"]);
    assert_eq!(code, 0);
    assert!(
        table.contains("vantage: rack-a") && !table.contains('≠'),
        "{table}"
    );
    // `tui --from` off a terminal prints the saved report as JSON, merged fields included.
    let (code, out, err) = tlsaudit_testkit::cli(&["tui", "--from", s(merged)]);
    assert_eq!(code, 1, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["vantages"], serde_json::json!(["rack-a", "rack-b"]));
    assert!(doc["cells"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["by_vantage"]["rack-b"]["verdict"] == "unreachable"));
}

/// (c) Bad inputs: exit 2, one line naming the file.
fn bad_inputs_name_the_file(
    dir: &Path,
    a_json: &Path,
    b_json: &Path,
    merged: &Path,
    a_doc: &Value,
) {
    let a_body = std::fs::read_to_string(a_json).unwrap();
    // (c) Bad inputs: exit 2, one line naming the file.
    let not_report = dir.join("prometheus.json");
    std::fs::write(&not_report, r#"{"status":"success","data":{}}"#).unwrap();
    let (code, _, err) = tlsaudit_testkit::cli(&["merge", s(a_json), s(&not_report)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("prometheus.json") && err.contains("not a tlsaudit report"),
        "{err}"
    );
    let mut other = a_doc.clone();
    other["cluster"]["name"] = "prod-2".into();
    other["vantage"] = "rack-c".into();
    let other_json = dir.join("other-cluster.json");
    std::fs::write(&other_json, other.to_string()).unwrap();
    let (code, _, err) = tlsaudit_testkit::cli(&["merge", s(a_json), s(&other_json)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("other-cluster.json") && err.contains("prod-2"),
        "{err}"
    );
    let copy = dir.join("copy.json");
    std::fs::write(&copy, &a_body).unwrap();
    let (code, _, err) = tlsaudit_testkit::cli(&["merge", s(a_json), s(&copy)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("copy.json") && err.contains("\"rack-a\""),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (code, _, err) = tlsaudit_testkit::cli(&["merge", s(merged), s(b_json)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("merged.json") && err.contains("already a merged report"),
        "{err}"
    );
    let missing = dir.join("missing.json");
    for cmd in ["report", "tui"] {
        let (code, _, err) = tlsaudit_testkit::cli(&[cmd, "--from", s(&missing)]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("missing.json"), "{err}");
    }
    let (code, _, err) = tlsaudit_testkit::cli(&["report", "--from", s(&not_report)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("prometheus.json"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_vantage_labels_the_json_and_agreeing_reports_merge_without_findings() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.json");
    let two = dir.path().join("two.json");
    for (file, vantage) in [(&one, "host-1"), (&two, "host-2")] {
        let (code, _, err) = tlsaudit_testkit::cli(&[
            "report",
            "--config",
            s(&config),
            "--vantage",
            vantage,
            "--format",
            "json",
            "-o",
            s(file),
        ]);
        assert!(code <= 1, "{err}");
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        assert_eq!(doc["vantage"], vantage);
    }
    let (code, out, err) = tlsaudit_testkit::cli(&["merge", s(&one), s(&two), "--format", "json"]);
    assert_eq!(code, 1, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert!(schema_errors(&doc).is_empty(), "{:#?}", schema_errors(&doc));
    assert_eq!(doc["vantages"], serde_json::json!(["host-1", "host-2"]));
    let disagree = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "VANTAGE_DISAGREE")
        .count();
    assert_eq!(disagree, 0, "{out}");
    // A bad vantage name is refused before any probe.
    let (code, _, err) =
        tlsaudit_testkit::cli(&["report", "--config", s(&config), "--vantage", "a b"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--vantage"), "{err}");
    lab.stop().await;
}
