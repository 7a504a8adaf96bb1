//! End to end: the real binary's dashboard (`tlsaudit demo` on a terminal) under tmux, driven
//! with send-keys and read with capture-pane. Skipped only when tmux is not installed.

// A test binary of its own: the dashboard under tmux is waited for with deadlines, and beside
// other suites' audits in the same process it would compete with them for the cores.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]
#![allow(clippy::too_many_lines)]

use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One tmux server on its own socket (so that the test never touches the user's sessions),
/// killed on drop.
struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    fn screen(&self) -> String {
        let out = self.cmd(&["capture-pane", "-p", "-t", &self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        let out = self.cmd(&args);
        assert!(out.status.success(), "send-keys: {out:?}");
    }

    fn alive(&self) -> bool {
        self.cmd(&["has-session", "-t", &self.session])
            .status
            .success()
    }

    /// Wait (bounded) until the screen satisfies `ok`; returns it.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let (within, every) = (Duration::from_secs(30), Duration::from_millis(100));
        tlsaudit_testkit::eventually(what, within, every, || {
            let screen = self.screen();
            if ok(&screen) {
                return Ok(screen);
            }
            assert!(self.alive(), "the session ended while waiting for {what}");
            Err(format!("the screen:\n{screen}"))
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// The line under the matrix that names the selected cell.
fn selection_line(screen: &str) -> &str {
    screen
        .lines()
        .find(|l| {
            l.contains(" -> ")
                && ["must admit", "must refuse", "unstated"]
                    .iter()
                    .any(|x| l.contains(x))
        })
        .unwrap_or("")
}

/// A tmux server of its own for one test.
fn tmux_server(tag: &str) -> Tmux {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Tmux {
        socket: format!("tlsaudit-e2e-{tag}-{}-{nanos}", std::process::id()),
        session: "tui".to_string(),
    }
}

/// `script` run by `sh` in a new 120x40 session.
fn start(tmux: &Tmux, script: &str) {
    let out = tmux.cmd(&[
        "new-session",
        "-d",
        "-x",
        "120",
        "-y",
        "40",
        "-s",
        &tmux.session,
        &format!("sh -c '{script}'"),
    ]);
    assert!(out.status.success(), "tmux new-session: {out:?}");
}

/// Each termination signal ends the dashboard with the terminal restored (the alternate
/// screen left, canonical mode back) and the conventional exit code; `TERM=dumb` is refused
/// with a message instead of a garbled screen.
#[test]
fn signals_restore_the_terminal_and_term_dumb_is_refused() {
    if tlsaudit_testkit::require_tool("tmux").is_none() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_tlsaudit");
    for (signal, code) in [("TERM", 143), ("INT", 130), ("HUP", 129), ("QUIT", 131)] {
        let tmux = tmux_server(&signal.to_lowercase());
        start(
            &tmux,
            &format!("\"{bin}\" demo; echo EXIT=$?; stty -a | grep -o -- \"-*icanon\"; sleep 60"),
        );
        tmux.wait_for("the dashboard", |s| {
            s.contains("Matrix") && s.contains(" last ")
        });
        let pane = tmux.cmd(&["display", "-p", "-t", &tmux.session, "#{pane_pid}"]);
        let shell = String::from_utf8_lossy(&pane.stdout).trim().to_string();
        let child = Command::new("pgrep").args(["-P", &shell]).output().unwrap();
        let pid = String::from_utf8_lossy(&child.stdout).trim().to_string();
        assert!(!pid.is_empty(), "no dashboard process under {shell}");
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let screen = tmux.wait_for(&format!("the exit after SIG{signal}"), |s| {
            s.contains(&format!("EXIT={code}")) && s.lines().any(|l| l.trim() == "icanon")
        });
        assert!(
            !screen.contains("Matrix"),
            "alternate screen still shown:\n{screen}"
        );
    }
    let tmux = tmux_server("dumb");
    start(
        &tmux,
        &format!("TERM=dumb \"{bin}\" demo; echo EXIT=$?; sleep 60"),
    );
    let screen = tmux.wait_for("TERM=dumb refused", |s| s.contains("EXIT=2"));
    assert!(screen.contains("TERM=dumb"), "{screen}");
    assert!(!screen.contains("Matrix"), "{screen}");
}

#[test]
fn dashboard_under_tmux() {
    if tlsaudit_testkit::require_tool("tmux").is_none() {
        return;
    }
    let tmux = tmux_server("tui");
    let bin = env!("CARGO_BIN_EXE_tlsaudit");
    let help = Command::new(bin)
        .args(["demo", "--help"])
        .output()
        .expect("run tlsaudit");
    assert!(
        help.status.success(),
        "`tlsaudit demo` is missing: cli/demo.rs must run tlsaudit::tui::dashboard for it on a terminal ({})",
        String::from_utf8_lossy(&help.stderr).trim()
    );
    let out = tmux.cmd(&[
        "new-session",
        "-d",
        "-x",
        "120",
        "-y",
        "40",
        "-s",
        &tmux.session,
        &format!("'{bin}' demo"),
    ]);
    assert!(out.status.success(), "tmux new-session: {out:?}");

    // The first round finishes and the matrix is drawn. A capture can land in the middle of
    // a frame being written, so every wait asks for all it then checks (a frame drawn in full).
    let screen = tmux.wait_for("the matrix after the first round", |s| {
        s.contains("Matrix")
            && s.contains("cluster demo")
            && s.contains(" last ")
            && s.contains("unlisted")
            && s.contains("TiFlash")
            && s.contains("tiflash-1")
            && selection_line(s).contains("tidb -> pd-1 ")
            && s.contains(" q quit")
    });
    for id in ["client", "tidb", "anonymous", "foreign", "unlisted"] {
        assert!(screen.contains(id), "identity {id} missing:\n{screen}");
    }
    for group in ["PD", "TiKV", "TiDB", "TiFlash"] {
        assert!(screen.contains(group), "group {group} missing:\n{screen}");
    }
    assert!(
        selection_line(&screen).contains("tidb -> pd-1 "),
        "{screen}"
    );
    // 11 endpoints outnumber 8 identities: endpoints are rows, named in full.
    assert!(screen.contains("endpoints x identities"), "{screen}");
    for ep in ["tikv-3-status", "tidb-2-status", "tiflash-1"] {
        assert!(screen.contains(ep), "endpoint row {ep} missing:\n{screen}");
    }

    // `t` transposes: identities as rows again. Right: the next endpoint; down: the next
    // identity.
    tmux.keys(&["t"]);
    tmux.wait_for("the identity rows", |s| {
        s.contains("Matrix ") && !s.contains("endpoints x identities")
    });
    tmux.keys(&["l"]);
    let screen = tmux.wait_for("the selection on pd-1-peer", |s| {
        selection_line(s).contains(" -> pd-1-peer ")
    });
    assert!(screen.contains("[+]"), "selected cell bracketed:\n{screen}");
    tmux.keys(&["j"]);
    tmux.wait_for("the selection on tikv x pd-1-peer", |s| {
        selection_line(s).contains(" tikv -> pd-1-peer ")
    });

    // Enter: the detail pane of that cell.
    tmux.keys(&["Enter"]);
    let parts = [
        "Endpoint  pd-1-peer",
        "Expected  must be admitted",
        "Observed  accepted",
        "TLSv1.3",
        "sha256 ",
        "Timings",
    ];
    let screen = tmux.wait_for("the detail pane", |s| {
        s.contains("tikv -> pd-1-peer ─") && parts.iter().all(|p| s.contains(p))
    });
    for part in parts {
        assert!(
            screen.contains(part),
            "{part} missing from the detail:\n{screen}"
        );
    }

    // f: only rows and columns with a failing cell (the planted faults).
    tmux.keys(&["f"]);
    let screen = tmux.wait_for("the failing filter", |s| {
        s.contains("failing only") && s.lines().any(|l| l.contains("TiKV") && l.contains("TiDB"))
    });
    let header = screen
        .lines()
        .find(|l| l.contains("TiKV"))
        .unwrap_or_default();
    assert!(!header.contains("PD "), "PD has no failing cell:\n{screen}");
    assert!(header.contains("TiDB"), "tidb-2-status fails:\n{screen}");

    // q: the dashboard quits and, the binary having exited, the session ends.
    tmux.keys(&["q"]);
    let (within, every) = (Duration::from_secs(10), Duration::from_millis(100));
    tlsaudit_testkit::eventually("the session to end after q", within, every, || {
        if tmux.alive() {
            Err("still running")
        } else {
            Ok(())
        }
    });
}
