//! Inputs of fleet size load in well under a second, and in time linear in their size: a TiUP
//! `meta.yaml` of N instances (read, linted, turned into the audit's inventory and plan) and a
//! `tlsaudit.toml` inventory of N endpoints (read, planned), for N = 200 (the baseline) and
//! N = 2,000. Prints the best of several runs and the ratio 2,000 / 200: about 10 is linear,
//! about 100 would be quadratic. The target is under 1 s at N = 2,000.
//!
//! `cargo bench --bench load` (`-- --runs N` to change the repetitions).

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tlsaudit_engine::audit::Plan;
use tlsaudit_engine::inventory::{AuditOptions, Inventory};
use tlsaudit_engine::lint::{lint, LintOptions};
use tlsaudit_engine::tiup::{Cluster, TiupOptions};

/// A meta.yaml with `n` instances: a tenth PD, half TiKV, a fifth TiDB, the rest TiFlash, each
/// PD instance on its own host, the others spread over hosts with distinct ports.
fn meta_yaml(n: usize) -> String {
    let mut t = String::from(
        "user: tidb\ntidb_version: v8.5.0\ntopology:\n  global:\n    user: tidb\n    enable_tls: true\n  \
         server_configs:\n    tikv:\n      security.cert-allowed-cn: [\"tidb\", \"pd\", \"tikv\", \"tiflash\"]\n    \
         pd:\n      security.cert-allowed-cn: [\"pd\", \"tidb\", \"tikv\", \"tiflash\"]\n",
    );
    let host = |i: usize| format!("10.{}.{}.{}", i / 62_500, (i / 250) % 250, i % 250 + 1);
    let pd = n / 10;
    let kv = n / 2;
    let db = n / 5;
    let flash = n - pd - kv - db;
    t.push_str("  pd_servers:\n");
    for i in 0..pd {
        let _ = writeln!(
            t,
            "  - host: {}\n    client_port: 2379\n    peer_port: 2380\n    deploy_dir: /tidb-deploy/pd-2379",
            host(i)
        );
    }
    t.push_str("  tikv_servers:\n");
    for i in 0..kv {
        let _ = writeln!(
            t,
            "  - host: {}\n    port: {}\n    status_port: {}\n    config:\n      server.labels: {{ zone: z{} }}",
            host(1000 + i / 4),
            20160 + i % 4,
            20180 + i % 4,
            i % 3
        );
    }
    t.push_str("  tidb_servers:\n");
    for i in 0..db {
        let _ = writeln!(
            t,
            "  - host: {}\n    port: {}\n    status_port: {}",
            host(5000 + i / 2),
            4000 + i % 2,
            10080 + i % 2
        );
    }
    t.push_str("  tiflash_servers:\n");
    for i in 0..flash {
        let _ = writeln!(t, "  - host: {}", host(9000 + i));
    }
    t
}

/// A tlsaudit.toml with `n` endpoints of every kind.
fn inventory_toml(n: usize, ca: &Path) -> String {
    let mut t = format!(
        "[cluster]\nname = \"fleet\"\nca = {:?}\n\n",
        ca.display().to_string()
    );
    let kinds = [
        ("tikv", "grpc", 20160),
        ("tikv", "status", 20180),
        ("pd", "client", 2379),
        ("tidb", "status", 10080),
        ("tiflash", "grpc", 3930),
    ];
    for i in 0..n {
        let (c, r, p) = kinds[i % kinds.len()];
        let _ = writeln!(
            t,
            "[[endpoints]]\nname = \"{c}-{r}-{i}\"\ncomponent = \"{c}\"\nrole = \"{r}\"\naddress = \"10.{}.{}.{}:{p}\"\nversion = \"v8.5.0\"\nallowed_cn = [\"tidb\", \"pd\", \"tikv\"]\nlabels = {{ rack = \"r{}\" }}\n",
            i / 62_500,
            (i / 250) % 250,
            i % 250 + 1,
            i % 20
        );
    }
    t
}

fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// The topology path, timed by phase: load, lint, inventory, plan.
fn topology_run(meta: &Path, tls: &Path) -> [Duration; 4] {
    let t = Instant::now();
    let cluster = Cluster::load(&TiupOptions {
        topology: Some(meta.to_path_buf()),
        tls_dir: Some(tls.to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let load = t.elapsed();
    let t = Instant::now();
    let findings = lint(&cluster, &LintOptions::default());
    std::hint::black_box(&findings);
    let lint = t.elapsed();
    let t = Instant::now();
    let (inv, _) = cluster.inventory(AuditOptions::default()).unwrap();
    let inventory = t.elapsed();
    let t = Instant::now();
    let plan = Plan::new(inv).unwrap();
    std::hint::black_box(plan.inventory.endpoints.len());
    [load, lint, inventory, t.elapsed()]
}

fn inventory_run(path: &Path) {
    let inv = Inventory::load(path).unwrap();
    let plan = Plan::new(inv).unwrap();
    std::hint::black_box(plan.inventory.endpoints.len());
}

fn main() {
    let runs = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    tlsaudit_testkit::pki::tiup_tls_dir(&tls, "fleet", &[]);
    let write = |name: &str, text: String| -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    println!("inputs of N instances / endpoints, best of {runs} runs");
    println!(
        "{:<44} {:>10} {:>10} {:>8}",
        "input", "N=200", "N=2000", "ratio"
    );
    let mut worst = Duration::ZERO;
    for (label, small, large) in [
        (
            "meta.yaml: load, lint, inventory, plan",
            {
                std::fs::create_dir_all(dir.path().join("s")).unwrap();
                let p = dir.path().join("s/meta.yaml");
                std::fs::write(&p, meta_yaml(200)).unwrap();
                p
            },
            {
                std::fs::create_dir_all(dir.path().join("l")).unwrap();
                let p = dir.path().join("l/meta.yaml");
                std::fs::write(&p, meta_yaml(2000)).unwrap();
                p
            },
        ),
        (
            "tlsaudit.toml: load, plan",
            write("small.toml", inventory_toml(200, &tls.join("ca.crt"))),
            write("large.toml", inventory_toml(2000, &tls.join("ca.crt"))),
        ),
    ] {
        let topology = label.starts_with("meta");
        let run = |p: &Path| {
            if topology {
                let phases = topology_run(p, &tls);
                if std::env::var_os("LOAD_PHASES").is_some() {
                    println!(
                        "  {}: load, lint, inventory, plan = {phases:?}",
                        p.display()
                    );
                }
            } else {
                inventory_run(p);
            }
        };
        let a = best(runs, || run(&small));
        let b = best(runs, || run(&large));
        worst = worst.max(b);
        println!(
            "{label:<44} {:>8.1}ms {:>8.1}ms {:>8.1}",
            a.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            b.as_secs_f64() / a.as_secs_f64().max(1e-9)
        );
    }
    println!(
        "slowest at N=2000: {:.1} ms (target: under 1000 ms)",
        worst.as_secs_f64() * 1e3
    );
}
