//! Local measures (issue 17): columns a municipality declares in its
//! mapping file on top of the national schema (a school's merit points, the
//! language a client was met in, a case's priority). A declared column is
//! read, validated and quarantined like a national one, lands in the
//! register as a column of its table, is listed in the build's manifest and
//! data dictionary, and can be used in definitions.
//!
//! Every stage works with `&'static Table`s, so a table with local columns
//! is built once per process and leaked (a few hundred bytes), then
//! installed: [`crate::schema::table`] returns it from then on. The build
//! installs its mapping's tables; every stage that opens a register installs
//! the ones its manifest records.

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::schema::{self, CodeList, Codes, Column, Kind, Table};

/// A local column as the mapping declares it:
///
/// ```toml
/// [[tables.clients.local]]
/// name = "language"
/// type = "code"
/// codes = ["sv", "ar", "so", "other"]
/// description = "Language the client was met in (tolk)"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: LocalKind,
    /// Bounds of an `int` or `decimal` (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The codes of a `code` column (its own closed list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<String>,
    /// Longest `text` (default 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<usize>,
    /// A row without a value is quarantined (default: the value may be empty).
    #[serde(default)]
    pub required: bool,
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalKind {
    Int,
    Decimal,
    Text,
    Date,
    Month,
    Bool,
    Code,
}

impl LocalKind {
    pub fn name(self) -> &'static str {
        match self {
            LocalKind::Int => "int",
            LocalKind::Decimal => "decimal",
            LocalKind::Text => "text",
            LocalKind::Date => "date",
            LocalKind::Month => "month",
            LocalKind::Bool => "bool",
            LocalKind::Code => "code",
        }
    }
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// What is wrong with a declaration, in words (the caller names the field).
pub fn check(table: &Table, c: &LocalColumn) -> Result<(), String> {
    let name_ok = !c.name.is_empty()
        && c.name.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
        && c.name.starts_with(|ch: char| ch.is_ascii_lowercase());
    if !name_ok {
        return Err(format!("'{}': a local column's name is lower-case letters, digits and _", c.name));
    }
    let register = table.register_columns();
    if table.columns.iter().map(|x| x.name).chain(register.iter().map(|x| x.name)).any(|x| x == c.name) {
        return Err(format!("'{}' is already a column of {}", c.name, table.name));
    }
    let bounded = matches!(c.kind, LocalKind::Int | LocalKind::Decimal);
    match (c.min, c.max) {
        (Some(lo), Some(hi)) if bounded && lo.is_finite() && hi.is_finite() && lo <= hi => {}
        (None, None) if !bounded => {}
        _ if bounded => return Err(format!("an {} needs min and max, min <= max", c.kind.name())),
        _ => return Err(format!("a {} has no min or max", c.kind.name())),
    }
    if c.kind == LocalKind::Int && (c.min.unwrap().fract() != 0.0 || c.max.unwrap().fract() != 0.0) {
        return Err("an int's min and max are whole numbers".into());
    }
    match (c.kind, c.codes.is_empty()) {
        (LocalKind::Code, true) => return Err("a code column lists its codes: codes = [\"a\", \"b\"]".into()),
        (LocalKind::Code, false) => {
            let mut seen = std::collections::BTreeSet::new();
            if let Some(dup) = c.codes.iter().find(|x| !seen.insert(x.as_str())) {
                return Err(format!("code '{dup}' is listed twice"));
            }
        }
        (_, false) => return Err(format!("a {} has no codes", c.kind.name())),
        _ => {}
    }
    if c.max_chars.is_some() && c.kind != LocalKind::Text {
        return Err(format!("a {} has no max_chars", c.kind.name()));
    }
    Ok(())
}

/// The column as the schema describes it (its code list leaked with it).
fn column(table: &Table, c: &LocalColumn) -> Column {
    let kind = match c.kind {
        LocalKind::Int => Kind::Int { min: c.min.unwrap_or(0.0) as i64, max: c.max.unwrap_or(0.0) as i64 },
        LocalKind::Decimal => Kind::Decimal { min: c.min.unwrap_or(0.0), max: c.max.unwrap_or(0.0) },
        LocalKind::Text => Kind::Text { max_chars: c.max_chars.unwrap_or(200) },
        LocalKind::Date => Kind::Date,
        LocalKind::Month => Kind::Month,
        LocalKind::Bool => Kind::Bool,
        LocalKind::Code => {
            let codes: Vec<(&'static str, &'static str, &'static str)> = c
                .codes
                .iter()
                .map(|x| {
                    let x = leak(x);
                    (x, x, x)
                })
                .collect();
            Kind::Code(Box::leak(Box::new(CodeList {
                name: leak(&format!("{}.{}", table.name, c.name)),
                codes: Codes::Fixed(Box::leak(codes.into_boxed_slice())),
                description: leak(&c.description),
            })))
        }
    };
    Column { name: leak(&c.name), kind, required: c.required, description: leak(&format!("{} (local)", c.description)) }
}

/// `base` with `local` columns after its own (checked by [`check`]).
pub fn extend(base: &'static Table, local: &[LocalColumn]) -> &'static Table {
    if local.is_empty() {
        return base;
    }
    let mut columns: Vec<Column> = base.columns.iter().map(copy).collect();
    columns.extend(local.iter().map(|c| column(base, c)));
    Box::leak(Box::new(Table {
        name: base.name,
        swedish: base.swedish,
        description: base.description,
        columns: Box::leak(columns.into_boxed_slice()),
        key: base.key,
        order: base.order,
        value_domain: base.value_domain,
        references: base.references,
        sort: base.sort,
        sort_rationale: base.sort_rationale,
    }))
}

fn copy(c: &Column) -> Column {
    Column { name: c.name, kind: c.kind, required: c.required, description: c.description }
}

/// The tables with local columns this process knows, by name, and what they were built from.
type Installed = BTreeMap<&'static str, (&'static Table, Vec<LocalColumn>)>;
static INSTALLED: RwLock<Installed> = RwLock::new(BTreeMap::new());

/// Make `schema::table` return each table with its local columns
/// (`local`: table name -> its declarations), and every other table as the
/// national schema has it. A table installed before with the same
/// declarations is kept (a process that reads two registers reads each
/// with its own columns).
pub fn install(local: &BTreeMap<String, Vec<LocalColumn>>) {
    let mut installed = INSTALLED.write().unwrap_or_else(|e| e.into_inner());
    installed.retain(|name, (_, c)| local.get(*name) == Some(c));
    for (name, columns) in local {
        let Some(base) = schema::TABLES.iter().copied().find(|t| t.name == name) else { continue };
        if columns.is_empty() || installed.contains_key(base.name) {
            continue;
        }
        installed.insert(base.name, (extend(base, columns), columns.clone()));
    }
}

/// The installed table named `name`, if it has local columns.
pub fn installed(name: &str) -> Option<&'static Table> {
    INSTALLED.read().unwrap_or_else(|e| e.into_inner()).get(name).map(|(t, _)| *t)
}
