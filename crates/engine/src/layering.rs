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

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The engine's modules, bottom to top: a module may use the ones before it, never one after
/// it. The same order is written at the top of `lib.rs` (a test holds them equal).
const LAYERS: &[&str] = &[
    "error",
    "fsutil",
    "finding",
    "pki",
    "profile",
    "probe",
    "inventory",
    "tiup",
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
        "audit",
        &[
            "identity", "expect", "matrix", "cell", "drift", "sql", "plan", "findings",
        ],
    ),
];

/// A module path from the crate root: `["probe", "mysql", "wire"]`; the root is empty.
type ModPath = Vec<String>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).expect("the source folder is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The module a file (relative to `src`, with `/`) defines: `audit/mod.rs` is `audit`,
/// `audit/drift.rs` is `audit::drift`, `lib.rs` the root.
fn module_of(rel: &str) -> ModPath {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

// ---- Tokens ----------------------------------------------------------------------------

/// A token of Rust source, without comments and literals: an identifier (keywords, numbers),
/// `::`, or one punctuation character.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Path,
    Punct(char),
}

/// The tokens of `src` with their line numbers. Comments, strings (raw and byte ones too) and
/// char literals are dropped; lifetimes keep only their name.
fn tokenize(src: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = src.chars().collect();
    let mut lexer = Lexer {
        chars: &chars,
        i: 0,
        line: 1,
        out: Vec::new(),
    };
    lexer.run();
    lexer.out
}

struct Lexer<'a> {
    chars: &'a [char],
    i: usize,
    line: usize,
    out: Vec<(Tok, usize)>,
}

impl Lexer<'_> {
    fn at(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    /// Step over one character, counting lines.
    fn bump(&mut self) {
        if self.at(0) == Some('\n') {
            self.line += 1;
        }
        self.i += 1;
    }

    fn run(&mut self) {
        while let Some(c) = self.at(0) {
            match c {
                '/' if self.at(1) == Some('/') => {
                    while self.at(0).is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                '/' if self.at(1) == Some('*') => self.block_comment(),
                '"' => self.string(false, 0),
                '\'' => self.quote(),
                ':' if self.at(1) == Some(':') => {
                    self.out.push((Tok::Path, self.line));
                    self.i += 2;
                }
                c if c.is_alphanumeric() || c == '_' => self.word(),
                c if c.is_whitespace() => self.bump(),
                c => {
                    self.out.push((Tok::Punct(c), self.line));
                    self.bump();
                }
            }
        }
    }

    fn block_comment(&mut self) {
        let mut depth = 0;
        while self.at(0).is_some() {
            if self.at(0) == Some('/') && self.at(1) == Some('*') {
                depth += 1;
                self.i += 2;
            } else if self.at(0) == Some('*') && self.at(1) == Some('/') {
                depth -= 1;
                self.i += 2;
                if depth == 0 {
                    return;
                }
            } else {
                self.bump();
            }
        }
    }

    /// A string from its opening quote, closed by a quote and `hashes` `#`; a raw one has no
    /// escapes.
    fn string(&mut self, raw: bool, hashes: usize) {
        self.bump();
        while let Some(c) = self.at(0) {
            if c == '\\' && !raw {
                self.bump();
                self.bump();
                continue;
            }
            self.bump();
            if c == '"' && (0..hashes).all(|k| self.at(k) == Some('#')) {
                self.i += hashes;
                return;
            }
        }
    }

    /// A char literal (`'x'`, `'\n'`, `'\u{..}'`), or a lifetime, whose name lexes as a word.
    fn quote(&mut self) {
        if self.at(1) == Some('\\') {
            // The quote, the backslash and the escaped character (maybe a quote), then up to
            // the closing quote (`\u{..}`).
            self.i += 3;
            while self.at(0).is_some_and(|c| c != '\'') {
                self.bump();
            }
            self.bump();
        } else if self.at(2) == Some('\'') {
            self.i += 3;
        } else {
            self.i += 1;
        }
    }

    /// An identifier or number; `r"`, `r#"`, `b"` and `br"` start strings, `b'` a byte.
    fn word(&mut self) {
        let start = self.i;
        while self.at(0).is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.i += 1;
        }
        let word: String = self.chars[start..self.i].iter().collect();
        let hashes = (0..).take_while(|k| self.at(*k) == Some('#')).count();
        match (word.as_str(), self.at(0), self.at(hashes)) {
            ("r" | "br", _, Some('"')) => {
                self.i += hashes;
                self.string(true, hashes);
            }
            ("b", Some('"'), _) => self.string(false, 0),
            ("b", Some('\''), _) => self.quote(),
            _ => self.out.push((Tok::Ident(word), self.line)),
        }
    }
}

/// `tokens` without the items under `#[cfg(test)]` (and the attributes that follow it): test
/// code may use any layer.
fn without_tests(tokens: &[(Tok, usize)]) -> Vec<(Tok, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if is_cfg_test(&tokens[i..]) {
            i = skip_item(tokens, i);
        } else {
            out.push(tokens[i].clone());
            i += 1;
        }
    }
    out
}

fn is_cfg_test(t: &[(Tok, usize)]) -> bool {
    let want = [
        Tok::Punct('#'),
        Tok::Punct('['),
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
        Tok::Punct(']'),
    ];
    t.len() >= want.len() && t.iter().zip(&want).all(|((a, _), b)| a == b)
}

/// The index after the item whose attributes start at `i`: its attributes, then up to a `;`
/// outside brackets, or through the `{ .. }` block that ends it.
fn skip_item(t: &[(Tok, usize)], mut i: usize) -> usize {
    while t.get(i).is_some_and(|(k, _)| *k == Tok::Punct('#')) {
        i = after_group(t, i + 1);
    }
    let mut depth = 0usize;
    while let Some((tok, _)) = t.get(i) {
        match tok {
            Tok::Punct('(' | '[') => depth += 1,
            Tok::Punct(')' | ']') => depth = depth.saturating_sub(1),
            Tok::Punct(';') if depth == 0 => return i + 1,
            Tok::Punct('{') if depth == 0 => return after_group(t, i),
            _ => {}
        }
        i += 1;
    }
    i
}

/// The index after the bracketed group that opens at `i`.
fn after_group(t: &[(Tok, usize)], mut i: usize) -> usize {
    let mut depth = 0usize;
    while let Some((tok, _)) = t.get(i) {
        match tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

// ---- Paths -----------------------------------------------------------------------------

/// One path as written (`crate::audit::Plan`, one leaf of a group), and the line of its last
/// segment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PathRef {
    segments: Vec<String>,
    line: usize,
}

/// Every path starting with `crate::`, `super::` or `self::` in `t`, groups expanded.
fn paths(t: &[(Tok, usize)]) -> Vec<PathRef> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let starts = matches!(&t[i].0, Tok::Ident(w) if w == "crate" || w == "super" || w == "self")
            && t.get(i + 1).is_some_and(|(k, _)| *k == Tok::Path)
            && (i == 0 || t[i - 1].0 != Tok::Path);
        if starts {
            i = tree(t, i, &[], &mut out);
        } else {
            i += 1;
        }
    }
    out
}

/// Read the path (tree) at `i` under `prefix` into `out`; the index after it.
fn tree(t: &[(Tok, usize)], mut i: usize, prefix: &[String], out: &mut Vec<PathRef>) -> usize {
    let mut segments = prefix.to_vec();
    loop {
        let Some((Tok::Ident(w), line)) = t.get(i) else {
            return i;
        };
        segments.push(w.clone());
        let line = *line;
        i += 1;
        if t.get(i).map(|(k, _)| k) != Some(&Tok::Path) {
            out.push(PathRef { segments, line });
            return i;
        }
        i += 1;
        match t.get(i).map(|(k, _)| k) {
            Some(Tok::Punct('{')) => return group(t, i + 1, &segments, out),
            Some(Tok::Punct('*')) => {
                out.push(PathRef { segments, line });
                return i + 1;
            }
            Some(Tok::Ident(_)) => {}
            _ => {
                out.push(PathRef { segments, line });
                return i;
            }
        }
    }
}

/// The trees of a `{ a::b, c, self }` group opened before `i`; the index after its `}`.
fn group(t: &[(Tok, usize)], mut i: usize, prefix: &[String], out: &mut Vec<PathRef>) -> usize {
    while let Some((tok, _)) = t.get(i) {
        match tok {
            Tok::Punct('}') => return i + 1,
            Tok::Punct(',') => i += 1,
            Tok::Ident(_) => {
                let next = tree(t, i, prefix, out);
                // `a as b`: the alias is no path.
                i = if next == i { i + 1 } else { next };
                while t
                    .get(i)
                    .is_some_and(|(k, _)| !matches!(k, Tok::Punct(',' | '}')))
                {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    i
}

/// The absolute module path `p` names, written in the file of module `from`: leading
/// `crate`, `super` and `self` resolved, inner `self` dropped.
fn absolute(p: &[String], from: &[String]) -> ModPath {
    let mut base: ModPath = from.to_vec();
    let mut rest = p;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        _ => {}
    }
    while rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    base.extend(rest.iter().filter(|s| *s != "self").cloned());
    base
}

/// The longest prefix of `p` that is a module of the crate.
fn module_named(p: &[String], modules: &BTreeSet<ModPath>) -> ModPath {
    (0..=p.len())
        .rev()
        .map(|n| p[..n].to_vec())
        .find(|m| modules.contains(m))
        .unwrap_or_default()
}

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
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for p in paths(&without_tests(&tokenize(src))) {
        let to = module_named(&absolute(&p.segments, &from), modules);
        if let Some(why) = upward(&from, &to) {
            if seen.insert((p.line, to.clone())) {
                out.push(format!(
                    "src/{rel}:{}: {}: {why}",
                    p.line,
                    p.segments.join("::")
                ));
            }
        }
    }
    out
}

/// Every module of the crate (the files' and their parents').
fn modules_of(files: &[String]) -> BTreeSet<ModPath> {
    let mut out = BTreeSet::new();
    for f in files {
        let m = module_of(f);
        for n in 0..=m.len() {
            out.insert(m[..n].to_vec());
        }
    }
    out
}

/// The engine's files (relative to `src`) and their text, without this test-only one.
fn engine_files() -> Vec<(String, String)> {
    let src = src_dir();
    rust_files(&src)
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).expect("a readable source file");
            (rel, text)
        })
        .filter(|(rel, _)| rel != "layering.rs")
        .collect()
}

#[test]
fn no_module_uses_one_above_it() {
    let files = engine_files();
    let modules = modules_of(&files.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>());
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
    let declared: BTreeSet<String> = without_tests(&tokenize(lib))
        .windows(2)
        .filter_map(|w| match w {
            [(Tok::Ident(m), _), (Tok::Ident(name), _)] if m == "mod" => Some(name.clone()),
            _ => None,
        })
        .collect();
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
    let modules = modules_of(
        &[
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
        ]
        .map(String::from),
    );
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

    // Downwards, in test code, comments, strings: nothing.
    let quiet = "use crate::pki::load;\nuse super::record::Phase;\n\
        // crate::audit::Plan\n/* crate::audit::Plan */\nconst S: &str = \"crate::audit::Plan\";\n\
        const R: &str = r#\"crate::audit::Plan\"#;\nconst C: char = '\"';\n\
        fn f<'a>(x: &'a str) -> &'a str { x }\n\
        #[cfg(test)]\nmod tests {\n    use crate::audit::Plan;\n    fn g() { crate::remedy::x(); }\n}\n";
    assert_eq!(check("probe/classify.rs", quiet), Vec::<String>::new());
}
