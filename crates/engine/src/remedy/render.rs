//! The text of what `init`, `fix` and `rotate` write: a component's `[security]` section
//! (TOML) and a TiUP `server_configs` fragment (YAML), with a comment on every CN saying why it
//! is there.

use std::fmt::Write;

use super::allow::AllowList;

/// A TOML string (quoted and escaped).
pub fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A YAML double-quoted scalar (JSON's escaping is valid YAML).
pub fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// A comment that cannot end the line early or start a new one.
pub fn comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// One setting of a TOML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// `security`, `security.server-http-tls`.
    pub table: String,
    pub key: String,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Bool(bool),
    /// A list of strings, each with a comment.
    List(Vec<(String, String)>),
}

impl Value {
    /// The value as TOML, one line.
    pub fn toml(&self) -> String {
        match self {
            Value::Str(s) => toml_str(s),
            Value::Bool(b) => b.to_string(),
            Value::List(items) => {
                let v: Vec<String> = items.iter().map(|(s, _)| toml_str(s)).collect();
                format!("[{}]", v.join(", "))
            }
        }
    }
}

/// Settings grouped by table, in first-seen order, as TOML text after `header` comment lines.
pub fn toml_file(header: &[String], settings: &[Setting]) -> String {
    let mut out = String::new();
    for h in header {
        let _ = writeln!(out, "# {}", comment(h));
    }
    let mut tables: Vec<&str> = Vec::new();
    for s in settings {
        if !tables.contains(&s.table.as_str()) {
            tables.push(&s.table);
        }
    }
    for t in tables {
        let _ = writeln!(out, "\n[{t}]");
        for s in settings.iter().filter(|s| s.table == t) {
            if let Value::List(items) = &s.value {
                for (cn, why) in items {
                    let _ = writeln!(out, "# {}: {}", comment(cn), comment(why));
                }
            }
            let _ = writeln!(out, "{} = {}", s.key, s.value.toml());
        }
    }
    out
}

/// The TiUP `server_configs` fragment that sets every list (`tiup cluster edit-config`).
pub fn tiup_fragment(header: &[String], lists: &[AllowList]) -> String {
    let mut out = String::new();
    for h in header {
        let _ = writeln!(out, "# {}", comment(h));
    }
    out.push_str("server_configs:\n");
    for l in lists {
        let Some(section) = l.kind.config().tiup else {
            continue;
        };
        let _ = writeln!(out, "  {section}:");
        if let Some(n) = &l.note {
            let _ = writeln!(out, "    # {}", comment(n));
        }
        if l.entries.is_empty() {
            let _ = writeln!(out, "    {}: []", l.key.dotted());
        } else {
            let _ = writeln!(out, "    {}:", l.key.dotted());
        }
        for e in &l.entries {
            let _ = writeln!(out, "      # {}", comment(&e.why));
            let _ = writeln!(out, "      - {}", yaml_str(&e.cn));
        }
    }
    out
}
