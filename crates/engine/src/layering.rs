//! The engine's layering, checked: every `crate::` and `super::` path of every source file
//! (a `use` line, a multi-line `use crate::{a::.., b::..}` group, or a path inline in the code)
//! is resolved to the module it names, and no module may name one that comes after it in
//! [`LAYERS`]; inside the modules of [`FILE_ORDERS`], no file may name a file after it, nor its
//! own module's `mod.rs`, which is the top of its module (it declares the files and drives
//! them).
//!
//! What is not checked, by decision:
//! - test code: an item under `#[cfg(test)]` (the `mod tests` blocks) may use any module to
//!   set up its fixtures (the drift tests run a real audit round); it is not part of the
//!   library the layers describe;
//! - comments and doc links (a doc may say who uses a module), string and char literals;
//! - paths relative to a child module (`mod.rs` naming its own files: always downwards), and
//!   the files of modules without an order of their own (`tiup`, `pki`, `remedy`, ...), whose
//!   files may use their `mod.rs`.
//!
//! A limit: `super::` inside an inline module other than a test one would be resolved as if it
//! were at the file's level; the engine has none that uses `super::`.
//!
//! The sources are read by the scanner the CLI crate's layering test shares
//! (`tlsaudit_testkit::layering`); this file holds the engine's rule.

use std::collections::BTreeSet;
use std::path::Path;

use tlsaudit_testkit::layering::{
    declared_modules, module_of, modules_of, references, source_files, ModPath,
};

/// The engine's modules, bottom to top: a module may use the ones before it, never one after
/// it. The same order is written at the top of `lib.rs` (a test holds them equal).
const LAYERS: &[&str] = &[
    "error",
    "fsutil",
    "finding",
    "pki",
    "profile",
    "probe",
    "scan",
    "inventory",
    "tiup",
    "k8s",
    "lint",
    "audit",
    "diagnose",
    "explain",
    "remedy",
];

/// The modules whose files are ordered too: their files bottom to top, by path relative to the
/// module (`mysql::report` is `probe/mysql/report.rs`; a nested file comes before its folder's
/// `mod.rs`). The module's own `mod.rs` is the top and is not listed. Every file of these
/// modules must be listed.
const FILE_ORDERS: &[(&str, &[&str])] = &[
    ("finding", &["code"]),
    (
        "profile",
        &[
            "protocol",
            "component",
            "version",
            "role",
            "needs",
            "tiup",
            "minted",
            "config",
            "table",
            "policy",
        ],
    ),
    (
        "probe",
        &[
            "limits",
            "mysql::account",
            "mysql::report",
            "mysql::wire",
            "record",
            "classify",
            "observe",
            "spec",
            "connect",
            "check",
            "mysql",
            "describe",
        ],
    ),
    (
        "scan",
        &[
            "suites",
            "hello",
            "reply",
            "enumerate",
            "chain",
            "result",
            "findings",
        ],
    ),
    (
        "audit",
        &[
            "identity", "expect", "matrix", "cell", "drift", "sql", "plan", "hygiene", "lists",
            "findings",
        ],
    ),
];

// ---- The order -------------------------------------------------------------------------

fn layer(name: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == name)
}

/// The place of module `m` in `order`, the file order of its top module: its listed entry (the
/// deepest that contains it), or, for the top module itself (its `mod.rs`), after every entry.
fn file_rank(order: &[&str], m: &[String]) -> Option<usize> {
    let rel = &m[1..];
    if rel.is_empty() {
        return Some(order.len());
    }
    order
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            let e: Vec<&str> = e.split("::").collect();
            e.len() <= rel.len() && e.iter().zip(rel).all(|(a, b)| *a == b)
        })
        .max_by_key(|(_, e)| e.split("::").count())
        .map(|(i, _)| i)
}

/// Why `from` may not name `to`, if it may not. (A module missing from [`LAYERS`] or a file
/// missing from [`FILE_ORDERS`] is not judged here: the test of the orders fails on it.)
fn upward(from: &[String], to: &[String]) -> Option<String> {
    let (Some(f), Some(t)) = (from.first(), to.first()) else {
        return None;
    };
    if to.starts_with(from) {
        return None;
    }
    if f != t {
        let (lf, lt) = (layer(f)?, layer(t)?);
        return (lf < lt).then(|| format!("{f} may not use {t}, which comes after it in LAYERS"));
    }
    let (_, order) = FILE_ORDERS.iter().find(|(m, _)| m == f)?;
    let (rf, rt) = (file_rank(order, from)?, file_rank(order, to)?);
    let name = |m: &[String]| m.join("::");
    (rf < rt).then(|| {
        if rt == order.len() {
            format!(
                "{} may not use its module's mod.rs ({f}), the top of {f}",
                name(from)
            )
        } else {
            format!(
                "{} may not use {}, which comes after it in the file order of {f}",
                name(from),
                name(to)
            )
        }
    })
}

/// The upward references of one file (`rel`: its path under `src`, with `/`), as
/// `file:line: path: why`.
fn violations(rel: &str, src: &str, modules: &BTreeSet<ModPath>) -> Vec<String> {
    let from = module_of(rel);
    references(rel, src, modules)
        .into_iter()
        .filter_map(|r| {
            let why = upward(&from, &r.module)?;
            Some(format!("src/{rel}:{}: {}: {why}", r.line, r.text))
        })
        .collect()
}

/// The engine's files (relative to `src`) and their text, without this test-only one.
fn engine_files() -> Vec<(String, String)> {
    source_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
        .into_iter()
        .filter(|(rel, _)| rel != "layering.rs")
        .collect()
}

#[test]
fn no_module_uses_one_above_it() {
    let files = engine_files();
    let modules = modules_of(files.iter().map(|(r, _)| r));
    let found: Vec<String> = files
        .iter()
        .flat_map(|(rel, text)| violations(rel, text, &modules))
        .collect();
    assert!(
        found.is_empty(),
        "{} reference(s) against the layering (LAYERS and FILE_ORDERS in layering.rs, the order in lib.rs):\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_orders_name_every_module_and_file() {
    let files = engine_files();
    // The modules lib.rs declares (test-only ones aside) are LAYERS, and lib.rs says the order.
    let lib = &files.iter().find(|(r, _)| r == "lib.rs").expect("lib.rs").1;
    let declared: BTreeSet<String> = declared_modules(lib).into_iter().map(|m| m.name).collect();
    let listed: BTreeSet<String> = LAYERS.iter().map(|s| (*s).to_string()).collect();
    assert_eq!(declared, listed, "lib.rs's modules against LAYERS");
    let doc: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .flat_map(str::split_whitespace)
        .collect();
    let said = format!("Layers, bottom to top: {}.", LAYERS.join(", "));
    assert!(
        doc.join(" ").contains(&said),
        "lib.rs's module doc must say {said:?}"
    );
    // Every file of an ordered module is in its order, a nested file before its folder.
    for (top, order) in FILE_ORDERS {
        for (rel, _) in files
            .iter()
            .filter(|(r, _)| module_of(r).first() == Some(&top.to_string()))
        {
            let m = module_of(rel);
            let name = m[1..].join("::");
            assert!(
                name.is_empty() || order.contains(&name.as_str()),
                "src/{rel} ({name}) is not in the file order of {top} (FILE_ORDERS)"
            );
        }
        for (i, e) in order.iter().enumerate() {
            if let Some((parent, _)) = e.rsplit_once("::") {
                let p = order.iter().position(|o| *o == parent);
                assert!(
                    p.is_none_or(|p| p > i),
                    "{e} must come before {parent} in {top}'s order"
                );
            }
        }
    }
}

#[test]
fn an_upward_reference_is_reported_with_file_and_line() {
    let modules = modules_of([
        "lib.rs",
        "pki/mod.rs",
        "pki/load.rs",
        "error.rs",
        "audit/mod.rs",
        "audit/drift.rs",
        "audit/findings.rs",
        "remedy/mod.rs",
        "probe/mod.rs",
        "probe/record.rs",
        "probe/classify.rs",
    ]);
    let check = |rel: &str, src: &str| violations(rel, src, &modules);

    // A use line, a multi-line group, an inline path, each upward.
    let v = check(
        "pki/load.rs",
        "use crate::error::InputError;\nuse crate::audit::Plan;\n",
    );
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].starts_with("src/pki/load.rs:2: crate::audit::Plan: pki may not use audit"),
        "{v:?}"
    );
    let v = check(
        "pki/load.rs",
        "use crate::{\n    error::InputError,\n    audit::{Plan, Snapshot},\n};\n",
    );
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].starts_with("src/pki/load.rs:3: crate::audit::Plan: "),
        "{v:?}"
    );
    let v = check(
        "audit/mod.rs",
        "fn f() {\n    let ca = crate::remedy::certs::Ca::generate(\"t\", 1);\n}\n",
    );
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].contains(":2: crate::remedy::certs::Ca::generate: audit may not use remedy"),
        "{v:?}"
    );

    // Inside an ordered module: a file above, and the module's mod.rs.
    let v = check("probe/record.rs", "use super::classify::sniff;\n");
    assert!(
        v[0].contains("probe::record may not use probe::classify"),
        "{v:?}"
    );
    let v = check("audit/drift.rs", "use super::{findings::compute, Plan};\n");
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(
        v[1].contains("may not use its module's mod.rs (audit)"),
        "{v:?}"
    );

    // Downwards: nothing. (Test code, comments and literals name nothing: the scanner's tests.)
    let quiet = "use crate::pki::load;\nuse super::record::Phase;\n";
    assert_eq!(check("probe/classify.rs", quiet), Vec::<String>::new());
}
