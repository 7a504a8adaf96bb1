//! `tlsaudit fix` through the built binary on a TiUP topology whose TiKV instance sets its
//! own list (with a typo): the fragment and the diff both edit that instance's `config`, never
//! `server_configs.tikv`, and write `tidb` in place of `tibd`; `--write` leaves the file the
//! diff shows.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use tlsaudit_testkit::cli;

use crate::TYPO_TOPOLOGY as TOPOLOGY;

/// The text between `start` and the next blank line.
fn block<'a>(out: &'a str, start: &str) -> &'a str {
    let from = out
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} in {out}"));
    let rest = &out[from..];
    rest[..rest.find("\n\n").unwrap_or(rest.len())].trim_end()
}

#[test]
fn fix_edits_the_instance_override_and_replaces_the_typo() {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("prod.yaml");
    std::fs::write(&topo, TOPOLOGY).unwrap();
    let t = topo.display().to_string();

    // The lint names the typo, where it is and the CN it stands for.
    let (_, lint, _) = cli(&["lint", "--topology", &t]);
    assert!(lint.contains("CN_TYPO tibd: did you mean tidb?"), "{lint}");
    assert!(
        lint.contains(&format!(
            "{t}:16:7: tikv_servers[1].config security.cert-allowed-cn"
        )),
        "{lint}"
    );

    let (code, out, err) = cli(&["fix", "--topology", &t]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("fixes CN_TYPO tibd: did you mean tidb?"),
        "{out}"
    );
    let fragment = block(&out, "tiup cluster edit-config fragment:");
    assert_eq!(
        fragment,
        "tiup cluster edit-config fragment:
tikv_servers:
  - host: 10.0.1.32    # tikv_servers[1]: this instance's own config
    port: 20160
    config:
      security.cert-allowed-cn: [\"tidb\", \"tikv\", \"pd\", \"prod-client\"]"
    );
    let patch = block(&out, &format!("patch of {t}:"));
    assert!(
        patch.ends_with(
            "     config:
-      security.cert-allowed-cn: [\"tibd\", \"tikv\", \"pd\", \"prod-client\"]
+      security.cert-allowed-cn: [\"tidb\", \"tikv\", \"pd\", \"prod-client\"]"
        ),
        "{patch}"
    );
    assert!(!out.contains("server_configs"), "{out}");
    assert!(
        out.contains("tiup cluster reload prod -N 10.0.1.32:20160"),
        "{out}"
    );
    assert!(!out.contains(" -R tikv"), "{out}");

    // --write leaves exactly what the diff shows; a second lint finds no typo.
    let (code, _, err) = cli(&["fix", "--topology", &t, "--write"]);
    assert_eq!(code, 0, "{err}");
    let written = std::fs::read_to_string(&topo).unwrap();
    assert_eq!(written, TOPOLOGY.replace("[\"tibd\",", "[\"tidb\","));
    let (_, lint, _) = cli(&["lint", "--topology", &t]);
    assert!(
        !lint.contains("CN_TYPO") && !lint.contains("LIST_LACKS_NEEDED_CN"),
        "{lint}"
    );
}
