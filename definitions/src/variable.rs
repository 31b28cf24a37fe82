//! Variables: one value per client and index date.
//!
//! ```toml
//! [[variable]]
//! name = "months_on_support"
//! table = "payments"
//! aggregate = "months_with"
//! date = "month"
//! window = "[-12m, 0)"
//! where = { reason = ["unemployment", "sickness"] }
//! ```
//!
//! | aggregate | value | with no row in the window |
//! |---|---|---|
//! | `count` | rows in the window | 0 |
//! | `sum` | sum of `column` | 0 |
//! | `any` | whether there is a row | false |
//! | `months_with` | calendar months with a row | 0 |
//! | `days_since` | days from the latest row to the index date | null |
//! | `latest` | `column` of the latest row (ties: the table's key) | null |
//! | `earliest` | `column` of the earliest row | null |
//! | `baseline` | the earliest `score` of one instrument and domain (`assessments`) | null |
//! | `change_from_baseline` | the latest `score` minus the earliest (two assessments or more) | null |
//! | `time_to_event` | days from the index date to the first row (an outcome) | null (censored) |
//! | `attribute` | `column` of the client (`clients`; no window) | |
//!
//! `baseline` and `change_from_baseline` read `assessments` and name the
//! instrument and the domain in `where` (`{ instrument = "stjarna", domain =
//! "skola" }`). As an outcome, a change from baseline spans the index date:
//! its window may start before 0 (the baseline) and must end after it.
//!
//! `date` names the table's date column the window is on; it may be left
//! out where the table has only one. A month column (`payments.month`) is
//! dated by the month's first day. `where` keeps rows whose column has one
//! of the values given (a code, an id, `true`/`false`).

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;
use utfall_register::scan::{one_of, scan};
use utfall_register::schema::{self, Kind, Table};

use crate::DefinitionError;
use crate::window::Window;

/// What a variable computes over its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    Count,
    Sum,
    Any,
    MonthsWith,
    DaysSince,
    Latest,
    Earliest,
    Baseline,
    ChangeFromBaseline,
    TimeToEvent,
    Attribute,
}

impl Aggregate {
    /// The name as written in a spec.
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Sum => "sum",
            Aggregate::Any => "any",
            Aggregate::MonthsWith => "months_with",
            Aggregate::DaysSince => "days_since",
            Aggregate::Latest => "latest",
            Aggregate::Earliest => "earliest",
            Aggregate::Baseline => "baseline",
            Aggregate::ChangeFromBaseline => "change_from_baseline",
            Aggregate::TimeToEvent => "time_to_event",
            Aggregate::Attribute => "attribute",
        }
    }

    /// Whether the value is a number a requirement can bound.
    pub fn numeric(self) -> bool {
        !matches!(self, Aggregate::Any | Aggregate::Latest | Aggregate::Earliest | Aggregate::Attribute)
    }
}

/// The values a filter keeps.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(untagged)]
pub enum FilterValue {
    Bool(bool),
    One(String),
    Many(Vec<String>),
}

/// A variable as written.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableSpec {
    pub name: String,
    pub table: String,
    pub aggregate: Aggregate,
    #[serde(default)]
    pub column: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub window: Option<Window>,
    #[serde(default, rename = "where")]
    pub filter: BTreeMap<String, FilterValue>,
}

/// What a variable is for, which decides where its window may lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A covariate, a model feature or a group: known at the index date.
    Known,
    /// An outcome: observed on or after the index date.
    Outcome,
}

/// A checked variable, ready to compute.
#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    table: &'static Table,
    aggregate: Aggregate,
    column: Option<&'static str>,
    date: Option<&'static str>,
    window: Option<Window>,
    filter: Vec<(&'static str, FilterValue)>,
}

/// A register column's name and kind (`None` for the columns the register
/// derives: a client's birth year and sex).
fn column_of(table: &'static Table, name: &str) -> Option<(&'static str, Option<Kind>)> {
    if let Some(c) = table.columns.iter().find(|c| Table::register_name(c.name, c.kind) == name) {
        return Some((Table::register_name(c.name, c.kind), Some(c.kind)));
    }
    table.register_columns().into_iter().find(|c| c.name == name).map(|c| (c.name, None))
}

fn is_date(kind: Option<Kind>) -> bool {
    matches!(kind, Some(Kind::Date | Kind::Month))
}

impl VariableSpec {
    /// Check the variable against the register schema for its `role`.
    pub fn check(&self, role: Role) -> Result<Variable, DefinitionError> {
        let field = |f: &str| format!("variable '{}'.{f}", self.name);
        let bad = |f: &str, m: String| DefinitionError { field: field(f), message: m };
        let table = table_named(&self.table, &field("table"))?;
        let scored = matches!(self.aggregate, Aggregate::Baseline | Aggregate::ChangeFromBaseline);
        if scored {
            if table.name != "assessments" {
                return Err(bad(
                    "table",
                    format!("{} reads assessments: table = \"assessments\"", self.aggregate.name()),
                ));
            }
            for c in ["instrument", "domain"] {
                if !matches!(self.filter.get(c), Some(FilterValue::One(_))) {
                    return Err(bad(
                        &format!("where.{c}"),
                        format!("{} is of one instrument and domain: give where.{c} one value", self.aggregate.name()),
                    ));
                }
            }
            if self.column.is_some() {
                return Err(bad("column", format!("{} is of the score: give no column", self.aggregate.name())));
            }
        }
        if self.aggregate == Aggregate::TimeToEvent && role == Role::Known {
            return Err(bad("aggregate", "time_to_event is an outcome: write it as an [[outcome]]".into()));
        }
        let needs_column =
            matches!(self.aggregate, Aggregate::Sum | Aggregate::Latest | Aggregate::Earliest | Aggregate::Attribute);
        let column = match (&self.column, needs_column) {
            (None, false) if scored => column_of(table, "score"),
            (Some(c), true) => Some(column_named(table, c, &field("column"))?),
            (None, true) => return Err(bad("column", format!("{} needs a column", self.aggregate.name()))),
            (Some(_), false) => {
                return Err(bad("column", format!("{} counts rows and takes no column", self.aggregate.name())));
            }
            (None, false) => None,
        };
        if self.aggregate == Aggregate::Sum
            && !matches!(column.and_then(|c| c.1), Some(Kind::Int { .. } | Kind::Decimal { .. }))
        {
            return Err(bad("column", format!("sum needs a number column; '{}' is not one", column.unwrap().0)));
        }
        let filter = check_filter(table, &self.filter, &field("where"))?;
        let (date, window) = if self.aggregate == Aggregate::Attribute {
            if table.name != "clients" {
                return Err(bad("table", "an attribute is a client's: table = \"clients\"".into()));
            }
            if self.window.is_some() || self.date.is_some() || !self.filter.is_empty() {
                return Err(bad("window", "an attribute has no window, date or filter".into()));
            }
            (None, None)
        } else {
            let date = date_column(table, self.date.as_deref(), &field("date"))?;
            let window = self.window.ok_or_else(|| bad("window", "give the window, e.g. \"[-12m, 0)\"".into()))?;
            window_rule(&window, role, self.aggregate).map_err(|m| bad("window", m))?;
            (Some(date), Some(window))
        };
        Ok(Variable {
            name: self.name.clone(),
            table,
            aggregate: self.aggregate,
            column: column.map(|c| c.0),
            date,
            window,
            filter,
        })
    }
}

/// Where a window may lie for a role: what is known at the index date ends
/// at 0 at the latest; an outcome starts at 0 or later, but a change from
/// baseline as an outcome spans the index date and ends after it.
fn window_rule(window: &Window, role: Role, aggregate: Aggregate) -> Result<(), String> {
    let change = aggregate == Aggregate::ChangeFromBaseline;
    match role {
        Role::Known if !window.known_at_index() => {
            Err(format!("{window} reaches past the index date: what is known at the index ends at 0 at the latest"))
        }
        Role::Outcome if change && window.end.sign() <= 0 => {
            Err(format!("{window} ends by the index date: a change from baseline as an outcome ends after 0"))
        }
        Role::Outcome if !change && !window.after_index() => {
            Err(format!("{window} starts before the index date: an outcome starts at 0 or later"))
        }
        _ => Ok(()),
    }
}

/// A register table by name, or an error for `field` listing the tables.
pub(crate) fn table_named(name: &str, field: &str) -> Result<&'static Table, DefinitionError> {
    schema::table(name).ok_or_else(|| {
        let names: Vec<&str> = schema::TABLES.iter().map(|t| t.name).collect();
        DefinitionError {
            field: field.to_string(),
            message: format!("no table '{name}' in the register (tables: {})", names.join(", ")),
        }
    })
}

/// A table's column by its register name, or an error for `field` listing the columns.
fn column_named(
    table: &'static Table,
    name: &str,
    field: &str,
) -> Result<(&'static str, Option<Kind>), DefinitionError> {
    column_of(table, name).ok_or_else(|| {
        let have: Vec<&str> = table.register_columns().iter().map(|c| c.name).collect();
        DefinitionError {
            field: field.to_string(),
            message: format!("no column '{name}' in {} (columns: {})", table.name, have.join(", ")),
        }
    })
}

/// A `where` table checked against `table`: each column exists, a yes/no
/// column is given true or false, a code column only codes of its list.
pub(crate) fn check_filter(
    table: &'static Table,
    filter: &BTreeMap<String, FilterValue>,
    field: &str,
) -> Result<Vec<(&'static str, FilterValue)>, DefinitionError> {
    let mut out = Vec::new();
    for (name, value) in filter {
        let f = format!("{field}.{name}");
        let bad = |m: String| DefinitionError { field: f.clone(), message: m };
        let (c, kind) = column_named(table, name, &f)?;
        match (kind, value) {
            (Some(Kind::Bool), FilterValue::Bool(_)) => {}
            (Some(Kind::Bool), _) => return Err(bad(format!("'{c}' is true or false"))),
            (_, FilterValue::Bool(_)) => return Err(bad(format!("'{c}' is not true/false: give its values"))),
            (Some(Kind::Code(list)), FilterValue::One(v)) if !list.contains(v) => {
                return Err(bad(unknown_code(list, v)));
            }
            (Some(Kind::Code(list)), FilterValue::Many(vs)) => {
                if let Some(v) = vs.iter().find(|v| !list.contains(v)) {
                    return Err(bad(unknown_code(list, v)));
                }
            }
            _ => {}
        }
        out.push((c, value.clone()));
    }
    Ok(out)
}

/// The date column a window or an entry is on: the one named, or the
/// table's only date column.
pub(crate) fn date_column(
    table: &'static Table,
    named: Option<&str>,
    field: &str,
) -> Result<&'static str, DefinitionError> {
    let bad = |m: String| DefinitionError { field: field.to_string(), message: m };
    let dates: Vec<&'static str> =
        table.columns.iter().filter(|c| is_date(Some(c.kind))).map(|c| Table::register_name(c.name, c.kind)).collect();
    match named {
        Some(d) => {
            let (d, kind) = column_named(table, d, field)?;
            if !is_date(kind) {
                return Err(bad(format!("'{d}' is not a date column (dates: {})", dates.join(", "))));
            }
            Ok(d)
        }
        None if dates.len() == 1 => Ok(dates[0]),
        None => Err(bad(format!("{} has several date columns: name one ({})", table.name, dates.join(", ")))),
    }
}

fn unknown_code(list: &schema::CodeList, v: &str) -> String {
    format!("'{v}' is not in the code list {} ({})", list.name, list.codes_list().join(", "))
}

/// Whether `date` lies in `w` around `index`.
fn in_window(date: Expr, index: Expr, w: &Window) -> Expr {
    let lo = index.clone().dt().offset_by(lit(w.start.duration()));
    let hi = index.dt().offset_by(lit(w.end.duration()));
    let a = if w.start_closed { date.clone().gt_eq(lo) } else { date.clone().gt(lo) };
    let b = if w.end_closed { date.lt_eq(hi) } else { date.lt(hi) };
    a.and(b)
}

pub(crate) fn filter_expr(filter: &[(&'static str, FilterValue)]) -> Expr {
    filter.iter().fold(lit(true), |acc, (c, v)| {
        let keep = match v {
            FilterValue::Bool(b) => col(*c).eq(lit(*b)),
            FilterValue::One(s) => col(*c).cast(DataType::String).eq(lit(s.clone())),
            FilterValue::Many(vs) => one_of(col(*c).cast(DataType::String), vs),
        };
        acc.and(keep)
    })
}

/// The variables for every (client_id, index_date) of `index`, read from
/// the register build in `dir`: `index`'s rows in their order and its
/// columns, then one column per variable.
pub fn compute(dir: &Path, index: LazyFrame, variables: &[Variable]) -> PolarsResult<LazyFrame> {
    let keys = [col("client_id"), col("index_date")];
    let people = index.clone().select(keys.clone()).unique_stable(None, UniqueKeepStrategy::First);
    let mut out = index;
    for v in variables {
        let value = if v.aggregate == Aggregate::Attribute {
            let column = v.column.expect("checked: an attribute has a column");
            let clients = scan(dir, v.table)?.select([col("client_id"), col(column).alias(v.name.as_str())]);
            people.clone().join(clients, [col("client_id")], [col("client_id")], JoinArgs::new(JoinType::Inner))
        } else {
            let (date, w) = (v.date.expect("checked"), v.window.expect("checked"));
            let mut pick =
                vec![col("client_id"), col(date).cast(DataType::Date).alias("__date"), col(v.table.key).alias("__key")];
            if let Some(c) = v.column {
                pick.push(col(c).alias("__value"));
            }
            let rows = scan(dir, v.table)?.filter(filter_expr(&v.filter)).select(pick);
            let joined = people
                .clone()
                .join(rows, [col("client_id")], [col("client_id")], JoinArgs::new(JoinType::Inner))
                .filter(in_window(col("__date"), col("index_date"), &w))
                .with_column(
                    (col("index_date").cast(DataType::Int32) - col("__date").cast(DataType::Int32)).alias("__days"),
                );
            let agg = match v.aggregate {
                Aggregate::Count => len().cast(DataType::Int64),
                Aggregate::Sum => col("__value").cast(DataType::Float64).sum(),
                Aggregate::Any => len().gt(lit(0)),
                Aggregate::MonthsWith => (col("__date").dt().year() * lit(12)
                    + col("__date").dt().month().cast(DataType::Int32))
                .n_unique()
                .cast(DataType::Int64),
                Aggregate::DaysSince => col("__days").min().cast(DataType::Int64),
                Aggregate::Latest => {
                    col("__value").sort_by([col("__date"), col("__key")], SortMultipleOptions::default()).last()
                }
                Aggregate::Earliest | Aggregate::Baseline => {
                    col("__value").sort_by([col("__date"), col("__key")], SortMultipleOptions::default()).first()
                }
                Aggregate::ChangeFromBaseline => {
                    let sorted = col("__value")
                        .cast(DataType::Float64)
                        .sort_by([col("__date"), col("__key")], SortMultipleOptions::default());
                    when(len().gt(lit(1)))
                        .then(sorted.clone().last() - sorted.first())
                        .otherwise(lit(NULL).cast(DataType::Float64))
                }
                Aggregate::TimeToEvent => (-col("__days")).min().cast(DataType::Int64),
                Aggregate::Attribute => unreachable!("handled above"),
            };
            joined.group_by(keys.clone()).agg([agg.alias(v.name.as_str())])
        };
        let mut args = JoinArgs::new(JoinType::Left).with_coalesce(JoinCoalesce::CoalesceColumns);
        args.maintain_order = MaintainOrderJoin::Left;
        out = out.join(value, keys.clone(), keys.clone(), args);
        let empty = match v.aggregate {
            Aggregate::Count | Aggregate::MonthsWith => Some(lit(0i64)),
            Aggregate::Sum => Some(lit(0.0f64)),
            Aggregate::Any => Some(lit(false)),
            _ => None,
        };
        if let Some(e) = empty {
            out = out.with_column(col(v.name.as_str()).fill_null(e));
        }
    }
    Ok(out)
}
