//! Names from every input are untrusted. An inventory or topology whose names hold a control,
//! bidi or invisible character (or an HTTP path a CR/LF) is refused with its file, line and
//! column; a saved report whose names hold them (one fetched from another exporter and merged)
//! renders inert in every text a terminal shows; a printed command quotes every value a shell
//! would read.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use tlsaudit_testkit::cli;

/// Characters a terminal or a reader would act on: none may reach stdout or stderr raw.
fn raw_controls(s: &str) -> Vec<char> {
    s.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
        })
        .collect()
}

const INVENTORY: &str = "[cluster]
name = \"prod\"
ca = \"ca.crt\"

[[endpoints]]
name = \"pd-1\"
component = \"pd\"
address = \"127.0.0.1:2379\"
";

#[test]
fn an_inventory_with_an_escape_sequence_in_a_name_is_refused_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("tlsaudit.toml");
    for (hostile, what) in [
        ("\"pd\\u001b]2;PWNED\\u0007-1\"", "U+001B"),
        ("\"pd\u{202e}1\"", "U+202E"),
        ("\"pd\\u009b31m\"", "U+009B"),
    ] {
        std::fs::write(&inv, INVENTORY.replace("\"pd-1\"", hostile)).unwrap();
        let p = inv.display().to_string();
        for args in [
            vec!["report", "--dry-run", "--config", &p],
            vec!["report", "--config", &p],
        ] {
            let (code, out, err) = cli(&args);
            assert_eq!(code, 2, "{args:?}: {out}{err}");
            assert!(
                err.contains(&format!("{p}:6:8: the endpoint name holds the")),
                "{args:?}: {err}"
            );
            assert!(err.contains(what), "{err}");
            assert!(raw_controls(&err).is_empty(), "{err:?}");
        }
    }
}

#[test]
fn an_http_path_with_cr_lf_is_refused_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("tlsaudit.toml");
    std::fs::write(
        &inv,
        format!(
            "{INVENTORY}\n[[endpoints]]\nname = \"tikv-1-status\"\ncomponent = \"tikv\"\nrole = \"status\"\naddress = \"127.0.0.1:20180\"\npath = \"/metrics\\r\\nX-Evil: 1\"\n"
        ),
    )
    .unwrap();
    let p = inv.display().to_string();
    let (code, _, err) = cli(&["report", "--dry-run", "--config", &p]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "{p}:15:8: the HTTP path holds the control character U+000D"
        )),
        "{err}"
    );
}

#[test]
fn a_tiup_host_with_an_escape_sequence_is_refused_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("prod.yaml");
    std::fs::write(
        &topo,
        "global:\n  user: tidb\npd_servers:\n  - host: \"127.0.0.1\\e]2;PWNED\\a\"\n",
    )
    .unwrap();
    let p = topo.display().to_string();
    let (code, _, err) = cli(&["lint", "--topology", &p]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "{p}:4:11: pd_servers[0]: host holds the control character U+001B"
        )),
        "{err}"
    );
    assert!(raw_controls(&err).is_empty(), "{err:?}");
}

/// A saved report (one fetched from another exporter's /report.json) whose cluster, endpoint
/// and identity names carry OSC, CSI, C1 and bidi characters.
fn hostile_report(vantage: &str) -> String {
    let model = crate::report_model::Model::synthetic(3, 2);
    let mut report = model.report();
    report.vantage = Some(vantage.into());
    report.cluster.name = "prod\x1b]2;PWNED\x07".into();
    for (k, e) in report.endpoints.iter_mut().enumerate() {
        let old = e.name.clone();
        e.name = format!("{old}\x1b]0;title\x07\u{202e}{k}");
        for c in &mut report.cells {
            if c.endpoint == old {
                c.endpoint.clone_from(&e.name);
            }
        }
        for f in &mut report.findings {
            if f.endpoint.as_deref() == Some(old.as_str()) {
                f.endpoint = Some(e.name.clone());
            }
        }
    }
    report.to_json().unwrap()
}

#[test]
fn a_saved_report_with_hostile_names_renders_inert_in_table_format() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    std::fs::write(&a, hostile_report("rack-a")).unwrap();
    std::fs::write(&b, hostile_report("rack-b")).unwrap();
    let (a, b) = (a.display().to_string(), b.display().to_string());
    for args in [
        vec!["report", "--from", &a, "--format", "table"],
        vec!["merge", &a, &b, "--format", "table"],
    ] {
        let (code, out, err) = cli(&args);
        assert!(code == 0 || code == 1, "{args:?}: {err}");
        assert!(out.contains("\\x1b]0;title\\x07"), "{args:?}: {out}");
        assert!(out.contains("\\u{202e}"), "{args:?}: {out}");
        assert!(raw_controls(&out).is_empty(), "{args:?}: {out:?}");
        assert!(raw_controls(&err).is_empty(), "{args:?}: {err:?}");
    }
}

use crate::TYPO_TOPOLOGY as TOPOLOGY;

#[test]
fn printed_commands_shell_quote_the_cluster_name() {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("prod.yaml");
    std::fs::write(&topo, TOPOLOGY).unwrap();
    let t = topo.display().to_string();
    let name = "prod$(touch X)";

    let (code, out, err) = cli(&["fix", "--topology", &t, "--cluster-name", name]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("tiup cluster reload 'prod$(touch X)' -N "),
        "{out}"
    );
    assert!(!out.contains("reload prod$("), "{out}");

    // Every command the lint prints quotes it too.
    let (_, lint, _) = cli(&["lint", "--topology", &t, "--cluster-name", name]);
    for l in lint.lines().filter(|l| l.contains("tiup cluster")) {
        assert!(!l.contains(" prod$("), "{l}");
    }

    let into = dir.path().join("certs");
    let (code, out, err) = cli(&[
        "init",
        "--topology",
        &t,
        "--out",
        &into.display().to_string(),
        "--cluster-name",
        name,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("`tiup cluster edit-config 'prod$(touch X)'`, then `tiup cluster reload 'prod$(touch X)'`"),
        "{out}"
    );
    let fragment = std::fs::read_to_string(into.join("tiup-server-configs.yaml")).unwrap();
    assert!(
        fragment.contains("`tiup cluster reload 'prod$(touch X)'`"),
        "{fragment}"
    );
}
