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

/// A code a municipality adds to a national list (outcome types and
/// intervention types):
///
/// ```toml
/// [[local_codes.outcome_type]]
/// code = "merit_points"
/// sv = "Meritvärde"
/// en = "School merit points in year 9 (0-340)"
/// domain = "count"        # outcome types: binary, share, count or amount
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalCode {
    pub code: String,
    pub sv: String,
    pub en: String,
    /// An outcome type's value domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<schema::ValueDomain>,
}

/// The national lists a municipality may add codes to.
pub const EXTENSIBLE: [&str; 2] = ["outcome_type", "intervention_type"];

/// What is wrong with a local code of `list`, in words.
pub fn check_code(list: &str, c: &LocalCode) -> Result<(), String> {
    let national = schema::CODE_LISTS.iter().find(|l| l.name == list).filter(|_| EXTENSIBLE.contains(&list));
    let Some(national) = national else {
        return Err(format!("local codes extend {}, not {list}", EXTENSIBLE.join(" and ")));
    };
    if c.code.is_empty() || !c.code.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_') {
        return Err(format!("'{}': a code is lower-case letters, digits and _", c.code));
    }
    if national.contains(&c.code) {
        return Err(format!("'{}' is already a code of {list}", c.code));
    }
    match (list, c.domain) {
        ("outcome_type", None) => Err(format!(
            "outcome type '{}' needs its value domain: domain = \"binary\", \"share\", \"count\" or \"amount\"",
            c.code
        )),
        ("outcome_type", Some(_)) | (_, None) => Ok(()),
        (_, Some(_)) => Err(format!("a code of {list} has no domain")),
    }
}

/// `base` with `codes` after its own.
fn extend_list(base: &'static CodeList, codes: &[LocalCode]) -> &'static CodeList {
    let mut all: Vec<(&'static str, &'static str, &'static str)> = match base.codes {
        Codes::Fixed(list) => list.to_vec(),
        Codes::Local => Vec::new(),
    };
    all.extend(codes.iter().map(|c| (leak(&c.code), leak(&c.sv), leak(&format!("{} (local)", c.en)))));
    Box::leak(Box::new(CodeList {
        name: base.name,
        codes: Codes::Fixed(Box::leak(all.into_boxed_slice())),
        description: base.description,
    }))
}

/// A municipality's additions to the schema: columns per table, codes per national list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalSchema {
    pub columns: BTreeMap<String, Vec<LocalColumn>>,
    pub codes: BTreeMap<String, Vec<LocalCode>>,
}

impl LocalSchema {
    pub fn is_empty(&self) -> bool {
        self.columns.values().all(Vec::is_empty) && self.codes.values().all(Vec::is_empty)
    }

    /// Every entity table with these additions, in [`schema::TABLES`]' order
    /// (a table they do not touch is the national one).
    pub fn tables(&self) -> Vec<&'static Table> {
        let lists: Vec<&'static CodeList> = self
            .codes
            .iter()
            .filter(|(_, c)| !c.is_empty())
            .filter_map(|(name, c)| schema::CODE_LISTS.iter().find(|l| l.name == name).map(|l| extend_list(l, c)))
            .collect();
        schema::TABLES
            .iter()
            .map(|t| {
                let columns = self.columns.get(t.name).map(Vec::as_slice).unwrap_or(&[]);
                let swaps =
                    t.columns.iter().any(|c| matches!(c.kind, Kind::Code(l) if lists.iter().any(|x| x.name == l.name)));
                if columns.is_empty() && !swaps { *t } else { extend_with(t, columns, &lists) }
            })
            .collect()
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
    extend_with(base, local, &[])
}

/// `base` with `local` columns after its own and its code columns' lists
/// replaced by the same-named ones of `lists`.
fn extend_with(base: &'static Table, local: &[LocalColumn], lists: &[&'static CodeList]) -> &'static Table {
    let mut columns: Vec<Column> = base
        .columns
        .iter()
        .map(|c| {
            let mut c = copy(c);
            if let Kind::Code(l) = c.kind
                && let Some(x) = lists.iter().find(|x| x.name == l.name)
            {
                c.kind = Kind::Code(x);
            }
            c
        })
        .collect();
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

/// The tables with local additions this process reads, by name, and the additions.
static INSTALLED: RwLock<(BTreeMap<&'static str, &'static Table>, Option<LocalSchema>)> =
    RwLock::new((BTreeMap::new(), None));

/// Make `schema::table` return each table with the additions of `local` (a
/// register's, as its manifest records them), and every other table as the
/// national schema has it. The same additions installed again are kept (a
/// process that reads two registers reads each with its own).
pub fn install(local: &LocalSchema) {
    let mut installed = INSTALLED.write().unwrap_or_else(|e| e.into_inner());
    if installed.1.as_ref() == Some(local) || (installed.1.is_none() && local.is_empty()) {
        return;
    }
    installed.0 = if local.is_empty() {
        BTreeMap::new()
    } else {
        local
            .tables()
            .into_iter()
            .filter(|t| !schema::TABLES.iter().any(|n| std::ptr::eq(*n, *t)))
            .map(|t| (t.name, t))
            .collect()
    };
    installed.1 = (!local.is_empty()).then(|| local.clone());
}

/// The installed table named `name`, if it has local additions.
pub fn installed(name: &str) -> Option<&'static Table> {
    INSTALLED.read().unwrap_or_else(|e| e.into_inner()).0.get(name).copied()
}
