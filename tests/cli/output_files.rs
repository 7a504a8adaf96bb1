//! Output files are written atomically (a temporary file in the same folder renamed over the
//! target), never through a symlink, and a failed write says "cannot write" with exit code 2
//! and leaves nothing behind. The dashboard's export never replaces a file.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use tlsaudit_engine::audit::{Auditor, Plan};
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_testkit::bin;

/// Names in `dir` that look like a temporary file of ours.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect()
}

/// `report --format json -o <out>` against the demo: (exit code, stderr).
fn report_to(config: &Path, out: &Path) -> (i32, String) {
    let o = bin()
        .args(["report", "--format", "json", "--config"])
        .arg(config)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_output_is_atomic_and_refuses_symlinks_and_missing_folders() {
    let (_lab, config) = tlsaudit::demo::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Written, and again over the first (replaced whole), nothing left beside it.
    let out = dir.path().join("report.json");
    for _ in 0..2 {
        let (code, err) = report_to(&config, &out);
        assert_eq!(code, 1, "the demo has findings: {err}");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(v["schema"], "tlsaudit.report/v1");
    }
    assert!(leftovers(dir.path()).is_empty());

    // A symlink is refused; the file it points to is untouched and the link stays a link.
    #[cfg(unix)]
    {
        let target = dir.path().join("precious.txt");
        std::fs::write(&target, "do not touch\n").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let (code, err) = report_to(&config, &link);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(&format!("cannot write {}: it is a symlink", link.display())),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "do not touch\n");
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(leftovers(dir.path()).is_empty());
    }

    // A folder that does not exist, and a "folder" that is a file.
    let missing = dir.path().join("no-such-folder").join("r.json");
    let (code, err) = report_to(&config, &missing);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("cannot write {}", missing.display()))
            && err.contains("does not exist"),
        "{err}"
    );
    let under_file = dir.path().join("report.json").join("r.json");
    let (code, err) = report_to(&config, &under_file);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("cannot write {}", under_file.display())),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // A read-only folder (root writes anyway: then there is nothing to show).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        let probe = ro.join("probe");
        if std::fs::write(&probe, "").is_err() {
            let (code, err) = report_to(&config, &ro.join("r.json"));
            assert_eq!(code, 2, "{err}");
            assert!(
                err.contains("cannot write") && err.contains("permission denied"),
                "{err}"
            );
        } else {
            std::fs::remove_file(&probe).unwrap();
        }
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(leftovers(&ro).is_empty());
    }
    assert!(leftovers(dir.path()).is_empty());
}

#[cfg(unix)]
#[test]
fn diff_output_refuses_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let model = crate::report_model::Model::synthetic(2, 2);
    std::fs::write(&report, serde_json::to_string(&model.report()).unwrap()).unwrap();
    let target = dir.path().join("precious.txt");
    std::fs::write(&target, "keep").unwrap();
    let link = dir.path().join("diff.txt");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = bin()
        .arg("diff")
        .arg(&report)
        .arg(&report)
        .arg("-o")
        .arg(&link)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("it is a symlink"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    // Into a plain file it works.
    let plain = dir.path().join("diff-ok.txt");
    let o = bin()
        .arg("diff")
        .arg(&report)
        .arg(&report)
        .arg("-o")
        .arg(&plain)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(!std::fs::read_to_string(&plain).unwrap().is_empty());
    assert!(leftovers(dir.path()).is_empty());
}

/// A full disk (`/dev/full`) is a failure to write, said as such, exit 2.
#[test]
fn a_full_disk_is_a_write_error_not_a_read_error() {
    if !std::path::Path::new("/dev/full").exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let model = crate::report_model::Model::synthetic(2, 2);
    std::fs::write(&report, serde_json::to_string(&model.report()).unwrap()).unwrap();
    let o = bin()
        .args(["report", "--from"])
        .arg(&report)
        .args(["-o", "/dev/full"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot write /dev/full"), "{err}");
    assert!(!err.contains("cannot read"), "{err}");
}

/// `report --from`, `report --dry-run` and `merge` write as `report` does: through a symlink,
/// dangling or not, they refuse, and what it points to stays as it was (they wrote with
/// `std::fs::write`, through the link).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_plan_and_merged_outputs_refuse_symlinks() {
    let (_lab, config) = tlsaudit::demo::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = crate::report_model::Model::synthetic(2, 2);
    let mut saved = Vec::new();
    for vantage in ["rack-a", "rack-b"] {
        let mut report = model.report();
        report.vantage = Some(vantage.into());
        let path = dir.path().join(format!("{vantage}.json"));
        std::fs::write(&path, report.to_json().unwrap()).unwrap();
        saved.push(path);
    }
    let (a, b, cfg) = (
        saved[0].as_os_str(),
        saved[1].as_os_str(),
        config.as_os_str(),
    );
    let commands: [Vec<&std::ffi::OsStr>; 3] = [
        vec!["report".as_ref(), "--from".as_ref(), a],
        vec![
            "report".as_ref(),
            "--dry-run".as_ref(),
            "--config".as_ref(),
            cfg,
        ],
        vec!["merge".as_ref(), a, b],
    ];
    for (k, args) in commands.iter().enumerate() {
        for dangling in [false, true] {
            let target = dir.path().join(format!("precious-{k}-{dangling}.txt"));
            if !dangling {
                std::fs::write(&target, "keep").unwrap();
            }
            let link = dir.path().join(format!("out-{k}-{dangling}"));
            std::os::unix::fs::symlink(&target, &link).unwrap();
            let o = bin().args(args).arg("-o").arg(&link).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
            assert!(err.contains("it is a symlink"), "{args:?}: {err}");
            if dangling {
                assert!(!target.exists(), "{args:?} wrote through a dangling link");
            } else {
                assert_eq!(
                    std::fs::read_to_string(&target).unwrap(),
                    "keep",
                    "{args:?}"
                );
            }
            assert!(std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink());
        }
    }
    assert!(leftovers(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_export_never_replaces_a_file() {
    let (_lab, config) = tlsaudit::demo::start().await.unwrap();
    let auditor = Auditor::new(Plan::new(Inventory::load(&config).unwrap()).unwrap());
    auditor.run_round(None).await;
    let plan = Arc::clone(&auditor.plan());
    let snap = auditor.snapshot();
    let dir = tempfile::tempdir().unwrap();

    // The name the export would pick is taken: by a file, then by a symlink.
    let taken = dir.path().join("tlsaudit-report-42.json");
    std::fs::write(&taken, "mine").unwrap();
    let first = tlsaudit::tui::export_json(&plan, &snap, dir.path(), 42).unwrap();
    assert_eq!(first, dir.path().join("tlsaudit-report-42-2.json"));
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "mine");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&first).unwrap()).unwrap();
    assert_eq!(v["schema"], "tlsaudit.report/v1");
    // Twice in the same second: a third name, the first two unchanged.
    let second = tlsaudit::tui::export_json(&plan, &snap, dir.path(), 42).unwrap();
    assert_eq!(second, dir.path().join("tlsaudit-report-42-3.json"));
    #[cfg(unix)]
    {
        let target = dir.path().join("elsewhere");
        std::os::unix::fs::symlink(&target, dir.path().join("tlsaudit-report-7.json")).unwrap();
        let p = tlsaudit::tui::export_json(&plan, &snap, dir.path(), 7).unwrap();
        assert_eq!(p, dir.path().join("tlsaudit-report-7-2.json"));
        assert!(!target.exists(), "nothing written through the link");
    }
    assert!(leftovers(dir.path()).is_empty());
}
