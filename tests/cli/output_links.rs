//! Every command that writes a file (`-o`/`--output`, `--out`, `fix --write`) refuses to write
//! through a symlink, whether it points at an existing file or nowhere: the error names the
//! link, exit code 2, and what the link points to is untouched (not created when dangling). The
//! dashboard's `e` export is walked in `output_files` (it never replaces any name).

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use tlsaudit_testkit::bin;

// The topology `fix` patches: a TiKV whose list has the typo `tibd`.
use super::TYPO_TOPOLOGY as TOPOLOGY;

/// A link named `name` in `dir` to `<name>.target`: an existing file holding "keep", or
/// nothing (dangling). Returns (link, target).
fn link(dir: &Path, name: &str, dangling: bool) -> (PathBuf, PathBuf) {
    let target = dir.join(format!("{name}.target"));
    if !dangling {
        std::fs::write(&target, "keep").unwrap();
    }
    let link = dir.join(name);
    std::os::unix::fs::symlink(&target, &link).unwrap();
    (link, target)
}

/// Run `args`, expect the refusal naming `link`, and the target and the link as they were.
fn assert_refused(args: &[OsString], link: &Path, target: &Path, dangling: bool) {
    let o = bin().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(&format!("{}: it is a symlink", link.display())),
        "{args:?}: {err}"
    );
    if dangling {
        assert!(!target.exists(), "{args:?} wrote through a dangling link");
    } else {
        assert_eq!(std::fs::read_to_string(target).unwrap(), "keep", "{args:?}");
    }
    assert!(std::fs::symlink_metadata(link)
        .unwrap()
        .file_type()
        .is_symlink());
}

fn os(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    args.iter().map(|a| a.as_ref().to_os_string()).collect()
}

/// Two saved reports and an inventory: the inputs of the commands that take `-o`.
fn inputs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let model = crate::report_model::Model::synthetic(2, 2);
    let mut saved = Vec::new();
    for vantage in ["rack-a", "rack-b"] {
        let mut report = model.report();
        report.vantage = Some(vantage.into());
        let path = dir.join(format!("{vantage}.json"));
        std::fs::write(&path, report.to_json().unwrap()).unwrap();
        saved.push(path);
    }
    let ca = tlsaudit_engine::pki::mint::Ca::generate("prod", 1).unwrap();
    std::fs::write(dir.join("ca.crt"), ca.pem).unwrap();
    let inv = dir.join("tlsaudit.toml");
    std::fs::write(
        &inv,
        "[cluster]\nname = \"prod\"\nca = \"ca.crt\"\n\n[[endpoints]]\nname = \"pd-1\"\ncomponent = \"pd\"\naddress = \"127.0.0.1:2379\"\n",
    )
    .unwrap();
    (saved[0].clone(), saved[1].clone(), inv)
}

#[test]
fn every_output_flag_refuses_a_symlink_existing_or_dangling() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b, inv) = inputs(d);
    for dangling in [false, true] {
        for (k, args) in [
            os(&[&"report", &"--from", &a]),
            os(&[&"report", &"--from", &a, &"--format", &"table"]),
            os(&[&"report", &"--dry-run", &"--config", &inv]),
            os(&[
                &"report",
                &"--dry-run",
                &"--config",
                &inv,
                &"--format",
                &"json",
            ]),
            os(&[&"merge", &a, &b]),
            os(&[&"merge", &a, &b, &"--format", &"markdown"]),
            os(&[&"diff", &a, &b]),
        ]
        .into_iter()
        .enumerate()
        {
            for flag in ["-o", "--output"] {
                let (l, target) = link(d, &format!("out-{k}-{flag}-{dangling}"), dangling);
                let mut args = args.clone();
                args.extend([flag.into(), l.clone().into()]);
                assert_refused(&args, &l, &target, dangling);
            }
        }
    }
}

/// A live `report` (against the demo lab) writes as the others do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_report_refuses_a_symlink_existing_or_dangling() {
    let (_lab, config) = tlsaudit::demo::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for dangling in [false, true] {
        for flag in ["-o", "--output"] {
            let (l, target) = link(dir.path(), &format!("live{flag}-{dangling}"), dangling);
            let args = os(&[
                &"report",
                &"--format",
                &"json",
                &"--config",
                &config,
                &flag,
                &l,
            ]);
            assert_refused(&args, &l, &target, dangling);
        }
    }
}

/// `init --out` and `rotate --out`: the folder, or a file to be written in it, as a link.
#[test]
fn init_and_rotate_refuse_a_symlinked_out_or_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let topo = d.join("prod.yaml");
    std::fs::write(&topo, TOPOLOGY).unwrap();
    // The CA rotate reuses, from an init into a plain folder.
    let first = d.join("first");
    let o = bin()
        .args(os(&[&"init", &"--topology", &topo, &"--out", &first]))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let (ca, ca_key) = (first.join("tls/ca.crt"), first.join("tls/ca.pem"));
    let init = |out: &Path| os(&[&"init", &"--topology", &topo, &"--out", &out, &"--force"]);
    let rotate = |out: &Path| {
        os(&[
            &"rotate",
            &"--topology",
            &topo,
            &"--out",
            &out,
            &"--ca-cert",
            &ca,
            &"--ca-key",
            &ca_key,
            &"--force",
        ])
    };
    for dangling in [false, true] {
        for (name, cmd) in [
            ("init", &init as &dyn Fn(&Path) -> Vec<OsString>),
            ("rotate", &rotate),
        ] {
            // The --out folder itself is a link.
            let (l, target) = link(d, &format!("{name}-out-{dangling}"), dangling);
            assert_refused(&cmd(&l), &l, &target, dangling);
            // A file the command writes is a link (replaced only with --force, never followed).
            let out = d.join(format!("{name}-{dangling}"));
            std::fs::create_dir_all(out.join("tls")).unwrap();
            let file = out.join("tls/client.crt");
            let target = d.join(format!("{name}-client-{dangling}.target"));
            if !dangling {
                std::fs::write(&target, "keep").unwrap();
            }
            std::os::unix::fs::symlink(&target, &file).unwrap();
            assert_refused(&cmd(&out), &file, &target, dangling);
        }
    }
}

/// `fix --write`: a topology that is a link, or whose `.bak` is, is refused before anything is
/// written; a topology in a symlinked folder is patched where it is, its `.bak` beside it.
#[test]
fn fix_write_refuses_links_and_writes_into_a_symlinked_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for dangling in [false, true] {
        let (l, target) = link(d, &format!("topo-{dangling}.yaml"), dangling);
        if !dangling {
            std::fs::write(&target, TOPOLOGY).unwrap();
        }
        let o = bin()
            .args(os(&[&"fix", &"--topology", &l, &"--write"]))
            .output()
            .unwrap();
        assert_ne!(o.status.code(), Some(0), "{o:?}");
        if dangling {
            assert!(!target.exists());
        } else {
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("it is a symlink"), "{err}");
            assert_eq!(std::fs::read_to_string(&target).unwrap(), TOPOLOGY);
        }
    }

    // The backup's name is a link: refused, the topology unchanged, the target untouched.
    let topo = d.join("prod.yaml");
    std::fs::write(&topo, TOPOLOGY).unwrap();
    let (bak, target) = link(d, "prod.yaml.bak", false);
    assert_refused(
        &os(&[&"fix", &"--topology", &topo, &"--write"]),
        &bak,
        &target,
        false,
    );
    assert_eq!(std::fs::read_to_string(&topo).unwrap(), TOPOLOGY);

    // Into a symlinked folder: the real file is patched, the link stays a link.
    let real = d.join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::write(real.join("prod.yaml"), TOPOLOGY).unwrap();
    let folder = d.join("linked");
    std::os::unix::fs::symlink(&real, &folder).unwrap();
    let o = bin()
        .args(os(&[
            &"fix",
            &"--topology",
            &folder.join("prod.yaml"),
            &"--write",
        ]))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let patched = std::fs::read_to_string(real.join("prod.yaml")).unwrap();
    assert!(
        patched.contains("\"tidb\", \"tikv\", \"pd\", \"prod-client\"]\n"),
        "{patched}"
    );
    assert!(!patched.contains("tibd"), "{patched}");
    assert_eq!(
        std::fs::read_to_string(real.join("prod.yaml.bak")).unwrap(),
        TOPOLOGY
    );
    assert!(std::fs::symlink_metadata(&folder)
        .unwrap()
        .file_type()
        .is_symlink());
    let names: Vec<String> = std::fs::read_dir(&real)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("tmp")), "{names:?}");
}
