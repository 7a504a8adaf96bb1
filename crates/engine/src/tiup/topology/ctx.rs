//! The reading context of a topology: the input errors and findings collected while the whole
//! file is read (every error is reported in one run), and the readers of single values every
//! section shares: a port, a mapping, an unknown field.

use std::cell::RefCell;
use std::path::Path;

use crate::error::InputError;
use crate::finding::{Finding, Severity};
use crate::tiup::tree::{Entry, Value};
use crate::tiup::{did_you_mean, keys, source_at, Pos};

pub(super) struct Ctx<'a> {
    pub(super) path: &'a Path,
    /// Every input error found so far: the file is read to its end and all are reported.
    pub(super) errors: RefCell<Vec<InputError>>,
    /// Findings about the file (unknown keys, sections not audited, ...).
    pub(super) notes: RefCell<Vec<Finding>>,
}

impl Ctx<'_> {
    pub(super) fn new(path: &Path) -> Ctx<'_> {
        Ctx {
            path,
            errors: RefCell::new(Vec::new()),
            notes: RefCell::new(Vec::new()),
        }
    }

    pub(super) fn report(&self, e: InputError) {
        self.errors.borrow_mut().push(e);
    }

    pub(super) fn note(&self, f: Finding) {
        self.notes.borrow_mut().push(f);
    }

    pub(super) fn err(
        &self,
        pos: Pos,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> InputError {
        InputError::Config {
            path: self.path.to_path_buf(),
            line: pos.line.max(1),
            column: pos.column.max(1),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

fn port(ctx: &Ctx<'_>, e: &Entry) -> Result<u16, InputError> {
    match &e.value.value {
        Value::Int(i) if (1..=65535).contains(i) => Ok(*i as u16),
        Value::Str(s) => s.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            ctx.err(
                e.value.pos,
                format!("{} must be a port number, not {s:?}", e.key),
                "write a number from 1 to 65535",
            )
        }),
        _ => Err(ctx.err(
            e.value.pos,
            format!("{} must be a port number (1-65535)", e.key),
            "write a number from 1 to 65535",
        )),
    }
}

/// The port in `field`, or `default` when the instance does not set it.
pub(super) fn field_port(
    ctx: &Ctx<'_>,
    fields: &[Entry],
    field: &str,
    default: u16,
) -> Result<u16, InputError> {
    match fields.iter().find(|e| e.key == field) {
        Some(e) => port(ctx, e).or_else(|err| {
            ctx.report(err);
            Ok(default)
        }),
        None => Ok(default),
    }
}

pub(super) fn expect_map<'n>(
    ctx: &Ctx<'_>,
    e: &'n Entry,
    fix: &str,
) -> Result<Option<&'n [Entry]>, InputError> {
    match &e.value.value {
        Value::Null => Ok(None),
        Value::Map(m) => Ok(Some(m)),
        _ => Err(ctx.err(
            e.value.pos,
            format!("{} must be a mapping, not {}", e.key, e.value.type_name()),
            fix,
        )),
    }
}

/// An unknown field of `global` or of an instance: a finding naming the closest field
/// (critical when it stands for a TLS setting, such as `enable-tls`).
pub(super) fn unknown_field(ctx: &Ctx<'_>, label: &str, e: &Entry, known: &[&str], tls: bool) {
    let hint = did_you_mean(&e.key, known).or_else(|| {
        known
            .iter()
            .find(|k| k.replace('-', "_") == e.key.replace('-', "_"))
            .copied()
    });
    let tls = tls || hint.is_some_and(|h| h.contains("tls") || h.ends_with("port"));
    ctx.note(keys::unknown_key(
        format!("{label}: {:?} is not a field TiUP knows", e.key),
        format!(
            "the field is ignored by tlsaudit and refused by TiUP{}",
            if tls {
                ", and the setting it was meant for is not in force"
            } else {
                ""
            }
        ),
        hint.map(|h| format!("{h} (TiUP spells its fields with underscores)"))
            .as_deref(),
        if tls {
            Severity::Critical
        } else {
            Severity::Warning
        },
        source_at(ctx.path, e.key_pos, &format!("{label}.{}", e.key)),
    ));
}
