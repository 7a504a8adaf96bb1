//! The table report through the built binary against the demo lab, renamed the way TiUP names
//! instances (long names sharing long prefixes) and with 10 identities: at 80 and 100 columns
//! every line fits, names stay unique, every shortened name is in the key, and the verdicts
//! stay where the lab planted them.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use tlsaudit_testkit::bin;

const HOST: &str = "db-cluster-a.internal";

/// The demo's endpoint names as TiUP would spell them: component, host, port (and role).
fn tiup_name(demo: &str) -> String {
    let (component, rest) = demo.split_once('-').unwrap();
    let (n, status) = match rest.split_once('-') {
        Some((n, s)) => (n, format!("-{s}")),
        None => (rest, String::new()),
    };
    let port = match component {
        "pd" => 2378,
        "tikv" => 20159,
        "tidb" => 3999,
        _ => 3929,
    } + n.parse::<u32>().unwrap();
    format!("{component}-{HOST}-{port}{status}")
}

/// The demo inventory renamed, with two more TiDB identities (named alike but for the port).
fn renamed_inventory(text: &str) -> (String, BTreeMap<String, String>) {
    let mut names = BTreeMap::new();
    let mut out = String::new();
    let mut in_endpoint = false;
    for line in text.lines() {
        if line.starts_with('[') {
            in_endpoint = line == "[[endpoints]]";
        }
        match line.strip_prefix("name = \"") {
            Some(rest) if in_endpoint => {
                let demo = rest.trim_end_matches('"');
                let new = tiup_name(demo);
                out.push_str(&format!("name = \"{new}\"\n"));
                names.insert(new, demo.to_string());
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    let start = text.find("[identities.tidb]").unwrap();
    let block: String = text[start..]
        .lines()
        .skip(1)
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    for port in [4000, 4001] {
        out.push_str(&format!(
            "\n[identities.\"tidb-{HOST}-{port}\"]\ncomponent = \"tidb\"\n{block}\n"
        ));
    }
    (out, names)
}

/// The matrix section: the header line and one line per endpoint.
fn matrix(table: &str) -> Vec<&str> {
    table
        .lines()
        .skip_while(|l| !l.starts_with("ENDPOINT"))
        .take_while(|l| !l.is_empty())
        .collect()
}

/// The key under the table: shown name -> what it stands for.
fn key(table: &str) -> BTreeMap<String, String> {
    table
        .lines()
        .skip_while(|l| !l.starts_with("key: "))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            let (short, full) = l.trim().split_once("  ").unwrap();
            (short.to_string(), full.trim().to_string())
        })
        .collect()
}

fn table_at(config: &std::path::Path, columns: &str) -> String {
    let out = bin()
        .args(["report", "--format", "table", "--config"])
        .arg(config)
        .env("COLUMNS", columns)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_identities_and_tiup_names_fit_80_and_100_columns() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let (text, demo_of) = renamed_inventory(&std::fs::read_to_string(&config).unwrap());
    let renamed = config.with_file_name("tiup-names.toml");
    std::fs::write(&renamed, text).unwrap();

    for (columns, width) in [("80", 80), ("100", 100)] {
        let table = table_at(&renamed, columns);
        assert!(table.contains("15 endpoints x 10 identities"), "{table}");
        let rows = matrix(&table);
        assert_eq!(rows.len(), 16, "{table}");
        for l in table.lines().take_while(|l| !l.starts_with("findings")) {
            assert!(
                l.chars().count() <= width,
                "over {width} columns: {l:?}\n{table}"
            );
        }
        let key = key(&table);
        // Identity columns: unique, each the full name or a key entry for it.
        let header: Vec<&str> = rows[0].split_whitespace().collect();
        let ids: Vec<&str> = header
            .iter()
            .copied()
            .skip_while(|h| *h != "KIND")
            .skip(1)
            .filter(|h| *h != "ADDRESS")
            .collect();
        assert_eq!(ids.len(), 10, "{}", rows[0]);
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 10, "{}", rows[0]);
        let full_id = |shown: &str| -> String {
            key.get(shown).map_or(shown.to_string(), |f| {
                f.strip_suffix(" (identity)").unwrap().to_string()
            })
        };
        let full_ids: BTreeSet<String> = ids.iter().map(|s| full_id(s)).collect();
        for want in [
            "tidb",
            "anonymous",
            "tidb-db-cluster-a.internal-4000",
            "tidb-db-cluster-a.internal-4001",
        ] {
            assert!(
                full_ids.contains(want),
                "{want} missing: {full_ids:?}\n{table}"
            );
        }
        // Endpoint names: unique, each the full name or a key entry for it.
        let shown: Vec<&str> = rows[1..]
            .iter()
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        assert_eq!(shown.iter().collect::<BTreeSet<_>>().len(), 15, "{table}");
        let full_ep = |s: &str| -> String {
            key.get(s)
                .map_or(s.to_string(), |f| f.split("  ").next().unwrap().to_string())
        };
        let full: BTreeSet<String> = shown.iter().map(|s| full_ep(s)).collect();
        assert_eq!(full, demo_of.keys().cloned().collect(), "{table}");
        assert!(
            shown.iter().any(|s| s.contains('~')),
            "these names do not fit whole: {table}"
        );
        // The address is in its column, or in the key when the column is left out.
        let with_addr = rows[0].contains("ADDRESS");
        if width == 100 {
            assert!(
                with_addr,
                "ADDRESS kept at 100 columns with 10 identities:\n{table}"
            );
        }
        for (k, row) in rows[1..].iter().enumerate() {
            let has = row.contains("127.0.0.1:")
                || key.get(shown[k]).is_some_and(|f| f.contains("127.0.0.1:"));
            assert!(has, "no address for {}:\n{table}", shown[k]);
        }
        // The blocked cell is where the lab planted it: tidb -> tikv-2, and the two extra TiDB
        // identities (the same certificate) are blocked there too.
        let tikv2 = rows[1..]
            .iter()
            .zip(&shown)
            .find(|(_, s)| demo_of[&full_ep(s)] == "tikv-2")
            .map(|(r, _)| *r)
            .unwrap();
        let cells: Vec<&str> = tikv2
            .split_whitespace()
            .skip(if with_addr { 4 } else { 3 })
            .collect();
        let verdict_of = |id: &str| cells[ids.iter().position(|s| full_id(s) == id).unwrap()];
        assert_eq!(verdict_of("tidb"), "X", "{tikv2}\n{table}");
        assert_eq!(
            verdict_of("tidb-db-cluster-a.internal-4000"),
            "X",
            "{tikv2}"
        );
        assert_eq!(verdict_of("tikv"), "+", "{tikv2}");
    }
    lab.stop().await;
}

/// At 160 columns identity names are whole (`pd-control`, not `pd-contr~`): names are cut only
/// when the width has no room for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_names_are_whole_when_the_terminal_has_room() {
    let (_lab, config) = tlsaudit::demo::start().await.unwrap();
    let text = std::fs::read_to_string(&config).unwrap();
    let start = text.find("[identities.tidb]").unwrap();
    let block: String = text[start..]
        .lines()
        .skip(1)
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    let with = format!(
        "{text}\n[identities.\"pd-control\"]\n{block}\n[identities.\"expired-visitor\"]\n{block}\n"
    );
    let path = config.with_file_name("long-ids.toml");
    std::fs::write(&path, with).unwrap();
    let wide = table_at(&path, "160");
    let header = matrix(&wide)[0];
    assert!(header.contains(" pd-control "), "{header}\n{wide}");
    assert!(header.contains(" expired-visitor"), "{header}\n{wide}");
    assert!(!wide.contains("pd-contr~"), "{wide}");
    for l in wide.lines().take_while(|l| !l.starts_with("findings")) {
        assert!(l.chars().count() <= 160, "over 160 columns: {l:?}");
    }
    // Narrow, they are cut and keyed as before.
    let narrow = table_at(&path, "80");
    assert!(
        key(&narrow).values().any(|f| f == "pd-control (identity)"),
        "{narrow}"
    );
}
