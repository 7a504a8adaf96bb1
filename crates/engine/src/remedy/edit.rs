//! Text edits that keep the rest of a file as it is: one list in a TiUP topology (YAML, line
//! based), a unified diff of two texts, and an atomic write with a `.bak`.

use std::path::Path;

use super::render::yaml_str;
use crate::error::InputError;

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

fn flow(values: &[String]) -> String {
    let v: Vec<String> = values.iter().map(|s| yaml_str(s)).collect();
    format!("[{}]", v.join(", "))
}

/// Set `key` to the list `values` in a topology. `line` (1-based) is where the key is set now;
/// without it the key goes under `server_configs.<section>`.
pub fn set_yaml_list(
    text: &str,
    line: Option<usize>,
    section: &str,
    key: &str,
    values: &[String],
) -> Result<String, String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    match line {
        Some(l) => replace_at(&mut lines, l, key, values)?,
        None => insert_under(&mut lines, section, key, values)?,
    }
    let mut out = lines.join("\n");
    out.push('\n');
    Ok(out)
}

fn replace_at(
    lines: &mut Vec<String>,
    l: usize,
    key: &str,
    values: &[String],
) -> Result<(), String> {
    let i = l
        .checked_sub(1)
        .filter(|i| *i < lines.len())
        .ok_or("line out of range")?;
    let indent = indent_of(&lines[i]);
    // The key as the line spells it: dotted (`security.cert-allowed-cn:`), or its last parts
    // under their tables (`cert-allowed-cn:` under `security:`).
    let (written, rest) = key_suffixes(key)
        .find_map(|k| {
            lines[i]
                .trim_start()
                .strip_prefix(k)
                .and_then(|r| r.trim_start().strip_prefix(':'))
                .map(|r| (k, r.trim().to_string()))
        })
        .ok_or_else(|| format!("line {l} does not set {key}"))?;
    let value = rest.split(" #").next().unwrap_or_default().trim();
    let one_line_list = value.starts_with('[') && value.ends_with(']');
    if !(value.is_empty() || one_line_list) {
        return Err(format!(
            "line {l}: {key} is not a one-line [..] list or a block list"
        ));
    }
    lines[i] = format!("{}{written}: {}", " ".repeat(indent), flow(values));
    if value.is_empty() {
        // A block list: its items are indented more, or at the key's indentation with "- ".
        let mut end = i + 1;
        while end < lines.len() {
            let t = &lines[end];
            let item = indent_of(t) > indent
                || (indent_of(t) == indent && t.trim_start().starts_with("- "));
            if !(is_blank_or_comment(t) || item) {
                break;
            }
            end += 1;
        }
        // Keep blank lines and comments that end the block (they belong to what follows).
        while end > i + 1 && is_blank_or_comment(&lines[end - 1]) {
            end -= 1;
        }
        lines.drain(i + 1..end);
    }
    Ok(())
}

/// `a.b.c`, then `b.c`, then `c`.
fn key_suffixes(key: &str) -> impl Iterator<Item = &str> {
    std::iter::once(key).chain(key.match_indices('.').map(move |(i, _)| &key[i + 1..]))
}

fn insert_under(
    lines: &mut Vec<String>,
    section: &str,
    key: &str,
    values: &[String],
) -> Result<(), String> {
    let Some(sc) = lines.iter().position(|l| l.trim_end() == "server_configs:") else {
        lines.push("server_configs:".to_string());
        lines.push(format!("  {section}:"));
        lines.push(format!("    {key}: {}", flow(values)));
        return Ok(());
    };
    let end = (sc + 1..lines.len())
        .find(|&j| !is_blank_or_comment(&lines[j]) && indent_of(&lines[j]) == 0)
        .unwrap_or(lines.len());
    let child = (sc + 1..end)
        .find(|&j| !is_blank_or_comment(&lines[j]))
        .map_or(2, |j| indent_of(&lines[j]));
    let header = (sc + 1..end).find(|&j| {
        indent_of(&lines[j]) == child && lines[j].trim_start().trim_end() == format!("{section}:")
    });
    match header {
        Some(h) => {
            let inner = lines
                .get(h + 1)
                .filter(|l| !is_blank_or_comment(l) && indent_of(l) > child)
                .map_or(child * 2, |l| indent_of(l));
            lines.insert(
                h + 1,
                format!("{}{key}: {}", " ".repeat(inner), flow(values)),
            );
        }
        None if (sc + 1..end)
            .any(|j| lines[j].trim_start().starts_with(&format!("{section}:"))) =>
        {
            return Err(format!("server_configs.{section} is not a block mapping"));
        }
        None => {
            lines.insert(sc + 1, format!("{}{section}:", " ".repeat(child)));
            lines.insert(
                sc + 2,
                format!("{}{key}: {}", " ".repeat(child * 2), flow(values)),
            );
        }
    }
    Ok(())
}

/// Set `key` to the list `values` in a component's TOML file. `line` (1-based) is where the key
/// is set now; without it the key goes under `[table]`.
pub fn set_toml_list(
    text: &str,
    line: Option<usize>,
    table: &str,
    key: &str,
    values: &[String],
) -> Result<String, String> {
    let items: Vec<String> = values.iter().map(|v| super::render::toml_str(v)).collect();
    let setting = format!("{key} = [{}]", items.join(", "));
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    match line {
        Some(l) => {
            let i = l
                .checked_sub(1)
                .filter(|i| *i < lines.len())
                .ok_or("line out of range")?;
            let t = lines[i].trim_start();
            let value = t
                .strip_prefix(key)
                .or_else(|| t.strip_prefix(&format!("\"{key}\"")))
                .and_then(|r| r.trim_start().strip_prefix('='))
                .ok_or_else(|| format!("line {l} does not set {key}"))?
                .trim()
                .to_string();
            if !value.starts_with('[') {
                return Err(format!("line {l}: {key} is not a list"));
            }
            let indent = " ".repeat(indent_of(&lines[i]));
            let mut end = i + 1;
            if !value.contains(']') {
                // A list over several lines: up to the line that closes it.
                while end < lines.len() && !lines[end].contains(']') {
                    end += 1;
                }
                end = (end + 1).min(lines.len());
            }
            lines.splice(i..end, [format!("{indent}{setting}")]);
        }
        None => match lines.iter().position(|l| l.trim() == format!("[{table}]")) {
            Some(h) => lines.insert(h + 1, setting),
            None => {
                lines.push(String::new());
                lines.push(format!("[{table}]"));
                lines.push(setting);
            }
        },
    }
    let mut out = lines.join("\n");
    out.push('\n');
    Ok(out)
}

/// A unified diff (3 lines of context) of two texts, empty when they are equal.
pub fn unified_diff(old_name: &str, new_name: &str, old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Longest common subsequence table, from the end.
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // The edit script: (' ' | '-' | '+', old index, new index, line).
    let mut ops: Vec<(char, usize, usize, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', i, j, a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', i, j, a[i]));
            i += 1;
        } else {
            ops.push(('+', i, j, b[j]));
            j += 1;
        }
    }
    hunks(old_name, new_name, &ops)
}

fn hunks(old_name: &str, new_name: &str, ops: &[(char, usize, usize, &str)]) -> String {
    const CONTEXT: usize = 3;
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    if changed.is_empty() {
        return String::new();
    }
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CONTEXT);
        let mut end = (changed[k] + CONTEXT + 1).min(ops.len());
        while k + 1 < changed.len() && changed[k + 1] <= end + CONTEXT {
            k += 1;
            end = (changed[k] + CONTEXT + 1).min(ops.len());
        }
        let span = &ops[start..end];
        let old_len = span.iter().filter(|o| o.0 != '+').count();
        let new_len = span.iter().filter(|o| o.0 != '-').count();
        let (o0, n0) = (
            span[0].1 + usize::from(old_len > 0),
            span[0].2 + usize::from(new_len > 0),
        );
        out.push_str(&format!("@@ -{o0},{old_len} +{n0},{new_len} @@\n"));
        for (c, _, _, line) in span {
            out.push(*c);
            out.push_str(line);
            out.push('\n');
        }
        k += 1;
    }
    out
}

/// Replace `path` with `text` atomically ([`crate::fsutil::write_atomic`]: a temporary file
/// renamed over it, never through a symlink), keeping the previous content in `<path>.bak`.
pub fn write_with_backup(path: &Path, text: &str) -> Result<std::path::PathBuf, InputError> {
    let bak = path.with_file_name(format!(
        "{}.bak",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(crate::fsutil::WriteError::Symlink(path.to_path_buf()).into());
    }
    let old = crate::fsutil::read_capped(path, crate::fsutil::MAX_CONFIG)?;
    crate::fsutil::write_atomic(&bak, &old)?;
    crate::fsutil::write_atomic(path, text.as_bytes())?;
    Ok(bak)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| (*x).to_string()).collect()
    }

    #[test]
    fn lists_are_replaced_or_inserted() {
        let t = "server_configs:\n  tikv:\n    security.cert-allowed-cn: [\"pd\"]  # old\n  pd:\n    security.cert-allowed-cn:\n      - tidb\n      # why\n      - tikv\n\npd_servers:\n  - host: a\n";
        let one = set_yaml_list(
            t,
            Some(3),
            "tikv",
            "security.cert-allowed-cn",
            &v(&["pd", "tidb"]),
        )
        .unwrap();
        assert!(
            one.contains("    security.cert-allowed-cn: [\"pd\", \"tidb\"]\n  pd:"),
            "{one}"
        );
        let two = set_yaml_list(
            &one,
            Some(5),
            "pd",
            "security.cert-allowed-cn",
            &v(&["pd", "tidb"]),
        )
        .unwrap();
        assert!(
            two.contains("  pd:\n    security.cert-allowed-cn: [\"pd\", \"tidb\"]\n\npd_servers:"),
            "{two}"
        );
        let three = set_yaml_list(
            &two,
            None,
            "tidb",
            "security.cluster-verify-cn",
            &v(&["x-client"]),
        )
        .unwrap();
        assert!(
            three.starts_with(
                "server_configs:\n  tidb:\n    security.cluster-verify-cn: [\"x-client\"]\n  tikv:"
            ),
            "{three}"
        );
        let four =
            set_yaml_list("pd_servers:\n  - host: a\n", None, "pd", "k", &v(&["a\"b"])).unwrap();
        assert!(
            four.ends_with("server_configs:\n  pd:\n    k: [\"a\\\"b\"]\n"),
            "{four}"
        );
        assert!(set_yaml_list(t, Some(1), "tikv", "security.cert-allowed-cn", &[]).is_err());
        // A key under its table, as TiUP's own templates write it.
        let nested =
            "server_configs:\n  tidb:\n    security:\n      cluster-verify-cn:\n        - tibd\n";
        let five = set_yaml_list(
            nested,
            Some(4),
            "tidb",
            "security.cluster-verify-cn",
            &v(&["tidb"]),
        )
        .unwrap();
        assert_eq!(
            five,
            "server_configs:\n  tidb:\n    security:\n      cluster-verify-cn: [\"tidb\"]\n"
        );
    }

    #[test]
    fn toml_lists_are_replaced_or_inserted() {
        let t =
            "[security]\nca-path = \"ca.crt\"\ncert-allowed-cn = [\n  \"tidb\",\n]\n\n[server]\n";
        let one = set_toml_list(
            t,
            Some(3),
            "security",
            "cert-allowed-cn",
            &v(&["tidb", "pd"]),
        )
        .unwrap();
        assert_eq!(
            one,
            "[security]\nca-path = \"ca.crt\"\ncert-allowed-cn = [\"tidb\", \"pd\"]\n\n[server]\n"
        );
        let two = set_toml_list("[server]\n", None, "security", "k", &v(&["a"])).unwrap();
        assert_eq!(two, "[server]\n\n[security]\nk = [\"a\"]\n");
        let three =
            set_toml_list("[security]\nx = 1\n", None, "security", "k", &v(&["a"])).unwrap();
        assert_eq!(three, "[security]\nk = [\"a\"]\nx = 1\n");
        assert!(set_toml_list(t, Some(2), "security", "cert-allowed-cn", &[]).is_err());
    }

    #[test]
    fn unified_diff_of_a_change() {
        let d = unified_diff(
            "a",
            "b",
            "1\n2\n3\n4\n5\n6\n7\n8\n",
            "1\n2\n3\n4\nfive\n6\n7\n8\n",
        );
        assert_eq!(
            d,
            "--- a\n+++ b\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
        assert_eq!(unified_diff("a", "b", "x\n", "x\n"), "");
    }
}
