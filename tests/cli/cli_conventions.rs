//! The conventions of a command-line tool: shell completions, a man page, `-v`/`-vv` tracing
//! on stderr (RUST_LOG wins), and no progress bytes on stderr when it is not a terminal.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use tlsaudit_testkit::pki::{self, Leaf};
use tlsaudit_testkit::{bin, cli, free_port};

/// Run with extra environment: (exit code, stdout, stderr).
fn run_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = bin();
    cmd.args(args).env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let (code, out, err) = cli(&["completions", "bash"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("_tlsaudit()"), "{out}");
    assert!(out.contains("report"), "bash completion lists report");
    assert!(out.contains("--dry-run"), "and report's flags");
    let (code, out, _) = cli(&["completions", "zsh"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("#compdef tlsaudit"), "{out}");
    let (code, out, _) = cli(&["completions", "fish"]);
    assert_eq!(code, 0);
    assert!(out.contains("complete -c tlsaudit"), "{out}");
    let (code, _, err) = cli(&["completions", "tcsh"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn man_page_is_roff_from_the_clap_definitions() {
    let (code, out, err) = cli(&["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(".TH tlsaudit 1"), "{out}");
    assert!(out.contains(".SH NAME"), "{out}");
    assert!(out.contains("report"), "{out}");
    assert!(out.contains("Audit mutual\\-TLS clusters"), "{out}");
}

#[test]
fn verbose_logs_each_probe_on_stderr_and_rust_log_wins() {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki::ca();
    let ca_path = dir.path().join("ca.crt");
    std::fs::write(&ca_path, &ca.cert_pem).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let ca_s = ca_path.to_str().unwrap();
    let probe = ["probe", addr.as_str(), "--ca", ca_s];

    let (code, out, err) = run_env(&[&["-vv"][..], &probe].concat(), &[]);
    assert_eq!(code, 1, "a closed port is not accepted: {out}{err}");
    let line = err
        .lines()
        .find(|l| l.contains("DEBUG") && l.contains("probe finished"))
        .unwrap_or_else(|| panic!("no debug line for the probe: {err}"));
    assert!(line.contains(&addr) && line.contains("refused"), "{line}");
    // -v is info: the probe's debug line is not shown.
    let (_, _, err) = run_env(&[&["-v"][..], &probe].concat(), &[]);
    assert!(!err.contains("probe finished"), "{err}");
    // Without -v nothing is logged; RUST_LOG decides over -vv.
    let (_, _, err) = run_env(&probe, &[]);
    assert_eq!(err, "");
    let (_, _, err) = run_env(&[&["-vv"][..], &probe].concat(), &[("RUST_LOG", "off")]);
    assert_eq!(err, "");
    let (_, _, err) = run_env(&probe, &[("RUST_LOG", "tlsaudit_engine=debug")]);
    assert!(err.contains("probe finished"), "{err}");
}

fn inventory(dir: &Path) -> String {
    let ca = pki::ca();
    std::fs::write(dir.join("ca.crt"), &ca.cert_pem).unwrap();
    pki::write_pair(dir, "tidb", &ca, &Leaf::component("tidb", &[]));
    let text = format!(
        "[cluster]\nname = \"t\"\nca = \"ca.crt\"\n\n[identities.tidb]\ncert = \"tidb.crt\"\nkey = \"tidb.pem\"\n\n[[endpoints]]\nname = \"pd-1\"\ncomponent = \"pd\"\naddress = \"127.0.0.1:{}\"\n\n[[endpoints]]\nname = \"pd-2\"\ncomponent = \"pd\"\naddress = \"127.0.0.1:{}\"\n",
        free_port(),
        free_port()
    );
    let path = dir.join("tlsaudit.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn no_progress_on_stderr_when_it_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let config = inventory(dir.path());
    for quiet in [&[][..], &["--quiet"][..], &["-q"][..]] {
        let args = [
            &["report", "--config", config.as_str(), "--format", "json"][..],
            quiet,
        ]
        .concat();
        let (code, out, err) = run_env(&args, &[]);
        // Two closed ports: unreachable is critical.
        assert_eq!(code, 1, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["summary"]["cells"], 6);
        assert_eq!(err, "", "stderr is a pipe: no progress bytes");
    }
}
