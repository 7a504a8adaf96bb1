//! A located config tree: YAML (TiUP topologies, read with `saphyr`) and TOML (component configs,
//! read with `toml`'s spanned document) turned into one small tree whose every node and key knows
//! its 1-based line and column, so that every error and every finding can name the place.

use std::path::Path;

use crate::error::InputError;

/// 1-based line and column (characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Node>),
    Map(Vec<Entry>),
}

/// A value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// A key of a map, where it is, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

impl Value {
    /// A string, or the strings of a list (non-strings skipped); `None` for other values.
    pub fn strings(&self) -> Option<Vec<String>> {
        match self {
            Value::Str(v) => Some(vec![v.clone()]),
            Value::List(items) => Some(
                items
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_string))
                    .collect(),
            ),
            _ => None,
        }
    }
}

impl Node {
    pub fn map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.map()?.iter().find(|e| e.key == key)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar as text (numbers and booleans too), for values such as versions and hosts.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A boolean, accepting YAML 1.1 spellings (`yes`, `on`) as TiUP's YAML library does.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Bool(b) => Some(*b),
            Value::Str(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "y" => Some(true),
                "false" | "no" | "off" | "n" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// A string, or a list of strings (an allow-list may be written either way).
    pub fn string_list(&self) -> Option<Vec<String>> {
        match &self.value {
            Value::Str(s) if s.trim().is_empty() => Some(Vec::new()),
            Value::Str(s) => Some(vec![s.clone()]),
            Value::Null => Some(Vec::new()),
            Value::List(items) => items
                .iter()
                .map(|n| n.as_str().map(str::to_string))
                .collect(),
            _ => None,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::List(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A leaf of a flattened config: `security.cert-allowed-cn` whether it was written as a dotted
/// key or as nested tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// The dotted key.
    pub key: String,
    /// Where its (last) key part is.
    pub pos: Pos,
    pub value: Node,
}

/// Flatten a map into dotted keys; later entries override earlier ones with the same key.
pub fn flatten(node: &Node) -> Vec<Setting> {
    let mut out: Vec<Setting> = Vec::new();
    walk(node, "", &mut out);
    out
}

fn walk(node: &Node, prefix: &str, out: &mut Vec<Setting>) {
    let Some(map) = node.map() else {
        return;
    };
    for e in map {
        let key = if prefix.is_empty() {
            e.key.clone()
        } else {
            format!("{prefix}.{}", e.key)
        };
        if e.value.map().is_some() {
            walk(&e.value, &key, out);
        } else {
            out.retain(|s| s.key != key);
            out.push(Setting {
                key,
                pos: e.key_pos,
                value: e.value.clone(),
            });
        }
    }
}

fn config_error(path: &Path, pos: Pos, problem: String, fix: &str) -> InputError {
    InputError::Config {
        path: path.to_path_buf(),
        line: pos.line.max(1),
        column: pos.column.max(1),
        problem,
        fix: fix.to_string(),
    }
}

/// Parse YAML text (the first document). Syntax errors carry the file, line and column.
pub fn parse_yaml(text: &str, path: &Path) -> Result<Node, InputError> {
    use saphyr::{LoadableYamlNode, MarkedYaml};
    // Each block level indents by at least one column: bound the indentation before the reader
    // (and the drop of what it built) recurses once per level.
    if let Some((n, _)) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.len() - l.trim_start_matches([' ', '-', '\t']).len() > MAX_INDENT)
    {
        return Err(config_error(
            path,
            Pos {
                line: n + 1,
                column: 1,
            },
            format!("the YAML is indented deeper than {MAX_INDENT} columns"),
            "a TiUP topology nests a few levels: check the indentation and the '-' markers",
        ));
    }
    let docs = MarkedYaml::load_from_str(text).map_err(|e| {
        let m = e.marker();
        let at = Pos {
            line: m.line(),
            column: m.col() + 1,
        };
        if too_deep(e.info()) {
            return config_error(
                path,
                at,
                format!("the YAML nests deeper than the reader allows ({})", e.info()),
                NEST_FIX,
            );
        }
        // An alias expanding past the reader's budget is refused as such: the brackets around
        // it are not the problem.
        if e.info().contains("alias") {
            return config_error(
                path,
                at,
                format!("the YAML's aliases expand too far: {}", e.info()),
                "a TiUP topology needs no aliases that expand to other aliases: write the values out, or remove the anchors (&name) and aliases (*name)",
            );
        }
        match unclosed(text, m.index(), Syntax::Yaml) {
            Some((what, opened)) => config_error(
                path,
                opened,
                format!(
                    "invalid YAML: the {} opened here is not closed (the reader stopped at line {}, column {}: {})",
                    describe(what),
                    at.line,
                    at.column,
                    e.info()
                ),
                close_fix(what),
            ),
            None => config_error(
                path,
                at,
                format!("invalid YAML: {}", e.info()),
                "fix the YAML syntax (indentation, a missing ':' or an unclosed quote)",
            ),
        }
    })?;
    match docs.first() {
        Some(doc) => convert_yaml(doc, path, 0),
        None => Ok(Node {
            pos: Pos { line: 1, column: 1 },
            value: Value::Null,
        }),
    }
}

fn yaml_pos(m: &saphyr::Marker) -> Pos {
    Pos {
        line: m.line(),
        column: m.col() + 1,
    }
}

/// How deep a config may nest; TiUP topologies use about 6 levels.
const MAX_DEPTH: usize = 64;
/// How far a YAML line may be indented (spaces and `-` markers).
const MAX_INDENT: usize = 256;

/// Which text [`unclosed`] scans.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Syntax {
    Yaml,
    Toml,
}

fn describe(what: char) -> &'static str {
    match what {
        '[' => "[",
        '{' => "{",
        '\'' => "quote '",
        _ => "quote \"",
    }
}

fn close_fix(what: char) -> &'static str {
    match what {
        '[' => "close it with ']'",
        '{' => "close it with '}'",
        _ => "close the quote",
    }
}

/// The innermost `[`, `{` or quote still open at byte `end` of a YAML or TOML text (a quote at
/// `end` itself counts: readers stop at a quote they cannot close), with where it opened.
/// Comments and the inside of quotes are skipped (with `\` escapes in double quotes); YAML
/// block scalars and TOML multi-line strings are not understood (an approximation for error
/// messages only).
fn unclosed(text: &str, end: usize, syntax: Syntax) -> Option<(char, Pos)> {
    let mut open: Vec<(char, Pos)> = Vec::new();
    let mut quote: Option<(char, Pos)> = None;
    let (mut line, mut column) = (1, 0);
    let mut prev = ' ';
    let mut escaped = false;
    let mut comment = false;
    for (i, c) in text.char_indices() {
        if i > end || (i == end && (quote.is_some() || !"\"'".contains(c))) {
            break;
        }
        if c == '\n' {
            line += 1;
            column = 0;
            comment = false;
            if quote.is_none() {
                prev = c;
                continue;
            }
        } else {
            column += 1;
        }
        if comment {
            continue;
        }
        let here = Pos { line, column };
        match quote {
            Some(_) if escaped => escaped = false,
            Some(('"', _)) if c == '\\' => escaped = true,
            Some((q, _)) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '#' if prev.is_whitespace() || syntax == Syntax::Toml => comment = true,
                '"' | '\''
                    if syntax == Syntax::Toml || prev.is_whitespace() || "[{,:".contains(prev) =>
                {
                    quote = Some((c, here));
                }
                '[' | '{' => open.push((c, here)),
                ']' | '}' => {
                    open.pop();
                }
                _ => {}
            },
        }
        prev = c;
    }
    quote.or_else(|| open.pop())
}

fn convert_yaml(
    node: &saphyr::MarkedYaml<'_>,
    path: &Path,
    depth: usize,
) -> Result<Node, InputError> {
    use saphyr::{Scalar, YamlData};
    let pos = yaml_pos(&node.span.start);
    if depth > MAX_DEPTH {
        return Err(config_error(
            path,
            pos,
            format!("the YAML nests deeper than {MAX_DEPTH} levels"),
            "a TiUP topology nests a few levels: check the indentation and the '-' markers",
        ));
    }
    let value = match &node.data {
        YamlData::Value(s) => match s {
            Scalar::Null => Value::Null,
            Scalar::Boolean(b) => Value::Bool(*b),
            Scalar::Integer(i) => Value::Int(*i),
            Scalar::FloatingPoint(f) => Value::Float(f.into_inner()),
            Scalar::String(s) => Value::Str(s.to_string()),
        },
        YamlData::Representation(s, _, _) => Value::Str(s.to_string()),
        YamlData::Sequence(items) => Value::List(
            items
                .iter()
                .map(|n| convert_yaml(n, path, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        YamlData::Mapping(map) => {
            let mut entries = Vec::new();
            for (k, v) in map {
                let key = match &k.data {
                    YamlData::Value(Scalar::String(s)) => s.to_string(),
                    YamlData::Value(Scalar::Integer(i)) => i.to_string(),
                    YamlData::Value(Scalar::Boolean(b)) => b.to_string(),
                    YamlData::Representation(s, _, _) => s.to_string(),
                    _ => {
                        return Err(config_error(
                            path,
                            yaml_pos(&k.span.start),
                            "a mapping key must be a plain string".to_string(),
                            "write the key as a string",
                        ))
                    }
                };
                entries.push(Entry {
                    key,
                    key_pos: yaml_pos(&k.span.start),
                    value: convert_yaml(v, path, depth + 1)?,
                });
            }
            Value::Map(entries)
        }
        YamlData::Tagged(_, inner) => return convert_yaml(inner, path, depth + 1),
        YamlData::Alias(_) | YamlData::BadValue => {
            return Err(config_error(
                path,
                pos,
                "a value the YAML reader cannot use (an unresolved alias or a bad scalar)"
                    .to_string(),
                "write the value out in full",
            ))
        }
    };
    Ok(Node { pos, value })
}

/// The fix of a file nested deeper than a reader recurses.
const NEST_FIX: &str =
    "a topology or component config nests a few levels: check for runaway brackets";

/// Whether a reader's message says it stopped at its recursion limit (saphyr: "recursion limit
/// exceeded"; toml: "cannot recurse further"), not at a syntax error.
fn too_deep(message: &str) -> bool {
    message.contains("recursion limit") || message.contains("recurse further")
}

/// Parse TOML text. Syntax errors carry the file, line and column.
pub fn parse_toml(text: &str, path: &Path) -> Result<Node, InputError> {
    let table = toml::de::DeTable::parse(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let (line, column) = crate::inventory::line_col(text, span.start);
        let message = e.message().trim().to_string();
        if too_deep(&message) {
            return config_error(
                path,
                Pos { line, column },
                format!("the TOML nests deeper than the reader allows ({message})"),
                NEST_FIX,
            );
        }
        match unclosed(text, span.start, Syntax::Toml) {
            Some((what, opened)) => config_error(
                path,
                opened,
                format!(
                    "invalid TOML: the {} opened here is not closed (the reader stopped at line {line}, column {column}: {message})",
                    describe(what)
                ),
                close_fix(what),
            ),
            None => config_error(
                path,
                Pos { line, column },
                format!("invalid TOML: {message}"),
                "fix the TOML syntax (quotes, brackets, one key per line)",
            ),
        }
    })?;
    let pos = |span: std::ops::Range<usize>| {
        let (line, column) = crate::inventory::line_col(text, span.start);
        Pos { line, column }
    };
    Ok(Node {
        pos: Pos { line: 1, column: 1 },
        value: convert_table(table.get_ref(), &pos),
    })
}

fn convert_table(t: &toml::de::DeTable<'_>, pos: &dyn Fn(std::ops::Range<usize>) -> Pos) -> Value {
    Value::Map(
        t.iter()
            .map(|(k, v)| Entry {
                key: k.get_ref().to_string(),
                key_pos: pos(k.span()),
                value: convert_toml(v, pos),
            })
            .collect(),
    )
}

fn convert_toml(
    v: &toml::Spanned<toml::de::DeValue<'_>>,
    pos: &dyn Fn(std::ops::Range<usize>) -> Pos,
) -> Node {
    use toml::de::DeValue;
    let value = match v.get_ref() {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .map_or_else(|_| Value::Str(i.as_str().to_string()), Value::Int),
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .map_or_else(|_| Value::Str(f.as_str().to_string()), Value::Float),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::Str(d.to_string()),
        DeValue::Array(items) => Value::List(items.iter().map(|i| convert_toml(i, pos)).collect()),
        DeValue::Table(t) => convert_table(t, pos),
    };
    Node {
        pos: pos(v.span()),
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_nodes_know_their_place() {
        let text = "global:\n  enable_tls: true\nserver_configs:\n  pd:\n    security.cert-allowed-cn: [pd, tidb]\n    security:\n      cert-path: /x\n";
        let root = parse_yaml(text, Path::new("t.yaml")).unwrap();
        let g = root.get("global").unwrap();
        assert_eq!(g.key_pos, Pos { line: 1, column: 1 });
        let tls = g.value.get("enable_tls").unwrap();
        assert_eq!(tls.key_pos, Pos { line: 2, column: 3 });
        assert_eq!(tls.value.as_bool(), Some(true));
        let pd = &root
            .get("server_configs")
            .unwrap()
            .value
            .get("pd")
            .unwrap()
            .value;
        let flat = flatten(pd);
        let keys: Vec<&str> = flat.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["security.cert-allowed-cn", "security.cert-path"]);
        assert_eq!(flat[0].pos, Pos { line: 5, column: 5 });
        assert_eq!(
            flat[0].value.string_list().unwrap(),
            vec!["pd".to_string(), "tidb".to_string()]
        );
    }

    #[test]
    fn yaml_syntax_error_is_located() {
        let e = parse_yaml("a:\n  b: [1, 2\nc: 3\n", Path::new("t.yaml")).unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("t.yaml:"), "{s}");
        assert!(s.contains("invalid YAML"), "{s}");
        let InputError::Config { line, .. } = e else {
            panic!("{s}")
        };
        assert!(line >= 2, "{s}");
    }

    #[test]
    fn toml_nodes_know_their_place() {
        let text = "[security]\nca-path = \"/a/ca.crt\"\ncert-allowed-cn = [\"tidb\"]\n";
        let root = parse_toml(text, Path::new("tikv.toml")).unwrap();
        let flat = flatten(&root);
        assert_eq!(flat[0].key, "security.ca-path");
        assert_eq!(flat[0].pos, Pos { line: 2, column: 1 });
        assert_eq!(
            flat[1].value.pos,
            Pos {
                line: 3,
                column: 19
            }
        );
        let e = parse_toml("[security\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.toml:1:"), "{e}");
    }

    #[test]
    fn deep_yaml_is_an_error_not_a_crash() {
        let mut block = String::from("x:\n");
        for i in 1..5000 {
            block.push_str(&" ".repeat(i));
            block.push_str("-\n");
        }
        let e = parse_yaml(&block, Path::new("/t/deep.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/t/deep.yaml:257:1: the YAML is indented deeper"),
            "{e}"
        );
        let flow = format!("x: {}", "[".repeat(100_000));
        assert!(parse_yaml(&flow, Path::new("/t/flow.yaml")).is_err());
        let balanced = format!("x: {}{}", "[".repeat(100_000), "]".repeat(100_000));
        let e = parse_yaml(&balanced, Path::new("/t/b.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/t/b.yaml:1:") && e.contains("nests deeper than the reader allows"),
            "{e}"
        );
        let nested = format!("x: {}1{}", "[".repeat(100), "]".repeat(100));
        let e = parse_yaml(&nested, Path::new("/t/n.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nests deeper than 64"), "{e}");
    }

    #[test]
    fn deep_toml_is_an_error_not_a_crash() {
        for text in [
            format!("a = {}{}", "[".repeat(200_000), "]".repeat(200_000)),
            format!("a = {}1{}", "{b = ".repeat(100_000), "}".repeat(100_000)),
        ] {
            let e = parse_toml(&text, Path::new("/t/deep.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("/t/deep.toml:1:") && e.contains("nests deeper than the reader"),
                "{e}"
            );
        }
    }

    #[test]
    fn an_unclosed_bracket_is_named_where_it_opened() {
        let text = "pd_servers:\n  - host: [10.0.1.1\n    client_port: 2379\n# a [ in a comment\ntikv_servers:\n  - host: 10.0.1.2\n";
        let e = parse_yaml(text, Path::new("/t/u.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/t/u.yaml:2:11: invalid YAML: the [ opened here is not closed"),
            "{e}"
        );
        assert!(e.contains("close it with ']'"), "{e}");
        let quote = "a: \"open\nb: 1\n";
        let e = parse_yaml(quote, Path::new("/t/q.yaml"))
            .unwrap_err()
            .to_string();
        // The reader itself stops at the quote: the error points at where it opened.
        assert!(e.starts_with("/t/q.yaml:1:4: invalid YAML"), "{e}");
    }

    #[test]
    fn an_alias_bomb_is_named_as_such_not_as_an_unclosed_bracket() {
        let mut text = String::from(
            "a0: &a0 [\"x\", \"x\", \"x\", \"x\", \"x\", \"x\", \"x\", \"x\", \"x\"]\n",
        );
        for i in 1..10 {
            let prev = vec![format!("*a{}", i - 1); 9].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{prev}]\n"));
        }
        let e = parse_yaml(&text, Path::new("bomb.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("aliases expand too far"), "{e}");
        assert!(!e.contains("close it with"), "{e}");
    }
}
