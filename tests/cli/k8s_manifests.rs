//! The Kubernetes manifests of docs/deploy/kubernetes/ (the Job and the CronJob that audit a
//! TiDB Operator cluster from its namespace), checked: every document parses, the flags the
//! container passes exist in `tlsaudit report --help`, every path it passes lies under a mount,
//! every mount has its volume, each Secret is mounted under `--k8s-secrets` by its own name, and
//! the pod runs as a non-root user on a read-only root filesystem.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use tlsaudit_engine::tiup::tree::{parse_yaml, Node, Value};
use tlsaudit_testkit::cli;

fn manifests() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn at<'a>(n: &'a Node, keys: &[&str]) -> &'a Node {
    keys.iter().fold(n, |n, k| {
        &n.get(k)
            .unwrap_or_else(|| panic!("no {k} in {keys:?}"))
            .value
    })
}

fn list(n: &Node) -> &[Node] {
    match &n.value {
        Value::List(items) => items,
        other => panic!("not a list: {other:?}"),
    }
}

fn text(n: &Node, key: &str) -> String {
    at(n, &[key]).scalar_text().unwrap()
}

/// The pod spec of a Job or a CronJob.
fn pod_spec(doc: &Node) -> &Node {
    match text(doc, "kind").as_str() {
        "Job" => at(doc, &["spec", "template", "spec"]),
        "CronJob" => at(doc, &["spec", "jobTemplate", "spec", "template", "spec"]),
        k => panic!("unexpected kind {k}"),
    }
}

#[test]
fn the_job_and_the_cronjob_parse_pass_known_flags_and_mount_what_they_name() {
    let (code, help, _) = cli(&["report", "--help"]);
    assert_eq!(code, 0);
    let files = manifests();
    let kinds: Vec<String> = files
        .iter()
        .map(|f| {
            let doc = parse_yaml(&std::fs::read_to_string(f).unwrap(), f).unwrap();
            check_pod(f, pod_spec(&doc), &help);
            text(&doc, "kind")
        })
        .collect();
    assert_eq!(kinds, ["CronJob", "Job"], "{files:?}");
}

fn check_pod(file: &Path, pod: &Node, help: &str) {
    let f = file.display();
    let sc = at(pod, &["securityContext"]);
    assert_eq!(at(sc, &["runAsNonRoot"]).as_bool(), Some(true), "{f}");
    assert_eq!(text(sc, "runAsUser"), "65532", "{f}");
    let container = &list(at(pod, &["containers"]))[0];
    let csc = at(container, &["securityContext"]);
    assert_eq!(
        at(csc, &["readOnlyRootFilesystem"]).as_bool(),
        Some(true),
        "{f}"
    );
    let args: Vec<String> = list(at(container, &["args"]))
        .iter()
        .map(|a| a.scalar_text().unwrap())
        .collect();
    assert_eq!(args[0], "report", "{f}");
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        assert!(
            help.contains(&format!("{flag} ")),
            "{f}: {flag} is not a flag of report"
        );
    }
    let arg = |flag: &str| {
        let i = args.iter().position(|a| a == flag).unwrap();
        args[i + 1].clone()
    };
    let volumes: Vec<(String, &Node)> = list(at(pod, &["volumes"]))
        .iter()
        .map(|v| (text(v, "name"), v))
        .collect();
    let mounts: Vec<(String, String)> = list(at(container, &["volumeMounts"]))
        .iter()
        .map(|m| (text(m, "name"), text(m, "mountPath")))
        .collect();
    for (name, _) in &mounts {
        assert!(
            volumes.iter().any(|(v, _)| v == name),
            "{f}: {name} has no volume"
        );
    }
    let tc = arg("--tidbcluster");
    assert!(
        mounts.iter().any(|(_, p)| tc.starts_with(&format!("{p}/"))),
        "{f}: {tc} is under no mount"
    );
    // Each Secret sits under --k8s-secrets by its own name, as the tool looks it up.
    let secrets = arg("--k8s-secrets");
    let mut names = Vec::new();
    for (name, path) in &mounts {
        let v = volumes.iter().find(|(v, _)| v == name).unwrap().1;
        if let Some(s) = v.get("secret") {
            let secret = text(&s.value, "secretName");
            assert_eq!(path, &format!("{secrets}/{secret}"), "{f}");
            names.push(secret);
        }
    }
    for want in ["pd", "tikv", "tidb"] {
        let s = format!("basic-tls-{want}-cluster-secret");
        assert!(names.contains(&s), "{f}: {s} not mounted");
    }
    assert!(
        names.contains(&"basic-tls-cluster-client-secret".to_string()),
        "{f}"
    );
}
