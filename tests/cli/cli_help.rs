//! The `--help` of every command, as snapshots: a change to a flag, its wording or a default
//! shows in review.

use tlsaudit_testkit::bin;

fn help(args: &[&str]) -> String {
    let out = bin()
        .args(args)
        .arg("--help")
        .env("COLUMNS", "100")
        .env_remove("NO_COLOR")
        .output()
        .expect("tlsaudit runs");
    assert_eq!(out.status.code(), Some(0), "{args:?} --help exits 0");
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

#[test]
fn top_level_help() {
    insta::assert_snapshot!("help", help(&[]));
}

#[test]
fn every_command_has_its_help() {
    let top = help(&[]);
    let commands: Vec<&str> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 7, "commands: {commands:?}");
    for c in commands {
        insta::assert_snapshot!(format!("help_{c}"), help(&[c]));
    }
}
