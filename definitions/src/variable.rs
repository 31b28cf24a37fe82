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
//! | `improved` | days from the index date to the first assessment after it whose score has moved `at_least` from the baseline (the earliest in the window; a negative `at_least` is a fall) | null |
//! | `without` | days from the index date to the window's end, where the window (over by the export date) holds no row (an outcome) | null |
//! | `days_in` | days of the rows' spans (`date` to `until`) inside the window | 0 |
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
use crate::window::{Offset, Window};

/// What a variable computes over its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    Count,
    CountDistinct,
    Sum,
    Any,
    None,
    MonthsWith,
    DaysSince,
    Latest,
    Earliest,
    Baseline,
    ChangeFromBaseline,
    Improved,
    TimeToEvent,
    MonthsWithout,
    Without,
    DaysIn,
    Attribute,
}

impl Aggregate {
    /// The name as written in a spec.
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::CountDistinct => "count_distinct",
            Aggregate::Sum => "sum",
            Aggregate::Any => "any",
            Aggregate::None => "none",
            Aggregate::MonthsWith => "months_with",
            Aggregate::DaysSince => "days_since",
            Aggregate::Latest => "latest",
            Aggregate::Earliest => "earliest",
            Aggregate::Baseline => "baseline",
            Aggregate::ChangeFromBaseline => "change_from_baseline",
            Aggregate::Improved => "improved",
            Aggregate::TimeToEvent => "time_to_event",
            Aggregate::MonthsWithout => "months_without",
            Aggregate::Without => "without",
            Aggregate::DaysIn => "days_in",
            Aggregate::Attribute => "attribute",
        }
    }

    /// Whether the value is a number a requirement can bound.
    pub fn numeric(self) -> bool {
        !matches!(
            self,
            Aggregate::Any | Aggregate::None | Aggregate::Latest | Aggregate::Earliest | Aggregate::Attribute
        )
    }

    /// Whether the value is the days from the index date to an event (an
    /// outcome only: null while it has not happened).
    pub fn is_event(self) -> bool {
        matches!(self, Aggregate::TimeToEvent | Aggregate::MonthsWithout | Aggregate::Without | Aggregate::Improved)
    }

    /// Whether the value is a change from a baseline in the window (whose
    /// window as an outcome may start at or before the index date).
    pub fn is_change(self) -> bool {
        matches!(self, Aggregate::ChangeFromBaseline | Aggregate::Improved)
    }
}

/// The values a filter keeps.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum FilterValue {
    Bool(bool),
    One(String),
    Many(Vec<String>),
}

/// The values as a report shows them: `true`, `residential_care`, `a or b`.
impl std::fmt::Display for FilterValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FilterValue::Bool(b) => write!(f, "{b}"),
            FilterValue::One(s) => f.write_str(s),
            FilterValue::Many(vs) => f.write_str(&vs.join(" or ")),
        }
    }
}

/// A date column, or several: the first of them that is present
/// (`["started", "decided"]`: the start, or the decision where no start is recorded).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum DateSpec {
    One(String),
    Many(Vec<String>),
}

/// Whose rows a variable reads, matched on the member's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    /// The client's rows (default).
    #[default]
    Client,
    /// The rows of the member's household (`household_id`).
    Household,
    /// The rows of the member's case (the entry's `case_id`).
    Case,
    /// The client's rows in cases other than the member's.
    OtherCases,
    /// The rows of the household's other members (the household as the
    /// clients table has it at the export).
    OtherMembers,
}

impl By {
    pub fn name(self) -> &'static str {
        match self {
            By::Client => "client",
            By::Household => "household",
            By::Case => "case",
            By::OtherCases => "other_cases",
            By::OtherMembers => "other_members",
        }
    }

    /// The member's column the rows are matched on.
    pub fn member_column(self) -> &'static str {
        match self {
            By::Client | By::OtherCases => "client_id",
            By::Household | By::OtherMembers => "household_id",
            By::Case => "case_id",
        }
    }
}

/// A variable as written (and as a model's artefact keeps it, to compute
/// it again when scoring).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct VariableSpec {
    pub name: String,
    pub table: String,
    pub aggregate: Aggregate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    #[serde(default, rename = "where", skip_serializing_if = "BTreeMap::is_empty")]
    pub filter: BTreeMap<String, FilterValue>,
    #[serde(default)]
    pub by: By,
    /// Rows count only where `column` is at least this (for `time_to_event`
    /// with `for`: the rows that hold the run; the others break it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<f64>,
    /// `time_to_event`: the event is a run of rows lasting this long (from
    /// its first row to the row that completes it); `months_without`: how
    /// many consecutive calendar months without a row.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub lasting: Option<Offset>,
    /// `days_in`: the date column a row's span ends on (the day it ended,
    /// not counted); a row without one lasts to the export date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// The value where the window holds no row (`days_since`, `latest`, a
    /// `baseline`): a number instead of none, so that a model needs no
    /// missing-value column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<f64>,
    /// The largest value counted: a larger one counts as it (`cap = 3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<f64>,
    /// A transform of the (filled, capped) value: `log1p` is ln(1 + x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<Transform>,
    /// Columns whose value in a row must equal the member's own
    /// (`same = ["area"]`: the rows in the member's area). A column of the
    /// row's referenced row is written through the reference:
    /// `"case_id.area"` is the area of a report's case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub same: Vec<String>,
    /// With `same`: a row whose column is missing counts as the same (a
    /// report on no case counts in every area).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub missing_is_same: bool,
    /// Yes or no: whether the (filled, capped, transformed) number reaches
    /// this value (`reaches = 10`: ten months or more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaches: Option<f64>,
    /// The member's own date the window is relative to, instead of the
    /// index date (`anchor = "opened"`: before the case was opened). A date
    /// after the index date counts as the index date, so nothing after it is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
    /// `latest` / `earliest`: yes or no, whether the row's column has one of
    /// these values (no row: no).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is: Option<FilterValue>,
    /// `attribute` of a number (`age`): the lower bounds of its bands,
    /// ascending; `[0, 18, 25]` gives the levels "0-17", "18-24" and "25+"
    /// (a value below the first bound is in the first band).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bands: Vec<i64>,
    /// `baseline` over every instrument and domain: each pair's baseline
    /// standardised by its instrument's norm, `(score - cutoff) / sd`, signed
    /// so that positive is worse; the value is their mean. An instrument
    /// without a norm counts for nothing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub severity: BTreeMap<String, Norm>,
}

/// A transform of a variable's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// ln(1 + x): counts and durations on a scale where doubling matters.
    Log1p,
}

/// An instrument's norm, to put its scores on one scale of severity.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Norm {
    /// The caseness cut-off.
    pub cutoff: f64,
    /// The scale's standard deviation.
    pub sd: f64,
    /// Whether a higher score is better (then a score below the cut-off is worse).
    pub higher_is_better: bool,
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
    date: Vec<&'static str>,
    window: Option<Window>,
    filter: Vec<(&'static str, FilterValue)>,
    by: By,
    at_least: Option<f64>,
    lasting: Option<Offset>,
    until: Option<&'static str>,
    fill: Option<f64>,
    cap: Option<f64>,
    transform: Option<Transform>,
    same: Vec<Same>,
    missing_is_same: bool,
    reaches: Option<f64>,
    anchor: Option<String>,
    is: Option<FilterValue>,
    bands: Vec<i64>,
    severity: Vec<(String, Norm)>,
}

impl Variable {
    pub fn aggregate(&self) -> Aggregate {
        self.aggregate
    }

    /// Whose rows it reads: the member's column it needs besides client_id.
    pub fn by(&self) -> By {
        self.by
    }

    /// Whether it may have no value (no row in the window; a client
    /// without the attribute): a model gives it a missing-value column.
    pub fn nullable(&self) -> bool {
        matches!(
            self.aggregate,
            Aggregate::DaysSince
                | Aggregate::Latest
                | Aggregate::Earliest
                | Aggregate::Baseline
                | Aggregate::ChangeFromBaseline
                | Aggregate::Attribute
        ) && self.fill.is_none()
            && self.is.is_none()
            && self.reaches.is_none()
    }

    /// The member's columns it needs besides `client_id`, `index_date` and
    /// its `by` column: the `same` columns and the `anchor`.
    pub fn member_columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.same.iter().map(|s| s.column).collect();
        out.extend(self.anchor.as_deref());
        out
    }

    /// The register table it reads, its column and its filter's columns:
    /// what a model's `excluded` attributes are checked against.
    pub fn reads(&self) -> (&'static str, Vec<&'static str>) {
        let same = self.same.iter().map(|s| s.via.map_or(s.column, |v| v.0));
        let mut columns: Vec<&'static str> = self.filter.iter().map(|(c, _)| *c).chain(same).collect();
        if let Some(c) = self.column {
            columns.push(if c == AGE { "birth_year" } else { c });
        }
        (self.table.name, columns)
    }

    /// Whether it is a yes/no value.
    pub fn is_bool(&self) -> bool {
        matches!(self.aggregate, Aggregate::Any | Aggregate::None) || self.is.is_some() || self.reaches.is_some()
    }

    /// Whether it is a category (a code or a text): a model or a matching
    /// encodes it as one indicator per value.
    pub fn is_category(&self) -> bool {
        if self.is.is_some() || self.reaches.is_some() {
            return false;
        }
        !self.bands.is_empty()
            || matches!(self.aggregate, Aggregate::Latest | Aggregate::Earliest | Aggregate::Attribute)
                && !self.column.is_some_and(|c| c == "age" || c == "birth_year")
                && !matches!(self.column_kind(), Some(Kind::Int { .. } | Kind::Decimal { .. } | Kind::Bool))
    }

    fn column_kind(&self) -> Option<Kind> {
        self.column.and_then(|c| column_of(self.table, c)).and_then(|c| c.1)
    }
}

/// The client attribute the register does not store but every study needs:
/// the age in years at the index date (its year minus the birth year).
const AGE: &str = "age";

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

fn has_column(table: &Table, name: &str) -> bool {
    table.register_columns().iter().any(|c| c.name == name)
}

/// Whether a table has a date a window can be on (`clients` has none: its
/// one row per client is read without a window).
fn dated(table: &Table) -> bool {
    table.columns.iter().any(|c| is_date(Some(c.kind)))
}

impl VariableSpec {
    /// A variable of `aggregate` over `table` with no other field given.
    pub fn new(name: &str, table: &str, aggregate: Aggregate) -> VariableSpec {
        VariableSpec {
            name: name.to_string(),
            table: table.to_string(),
            aggregate,
            column: None,
            date: None,
            window: None,
            filter: BTreeMap::new(),
            by: By::Client,
            at_least: None,
            lasting: None,
            until: None,
            fill: None,
            cap: None,
            transform: None,
            same: Vec::new(),
            missing_is_same: false,
            reaches: None,
            anchor: None,
            is: None,
            bands: Vec::new(),
            severity: BTreeMap::new(),
        }
    }

    /// Check the variable against the register schema for its `role`.
    pub fn check(&self, role: Role) -> Result<Variable, DefinitionError> {
        let field = |f: &str| format!("variable '{}'.{f}", self.name);
        let bad = |f: &str, m: String| DefinitionError { field: field(f), message: m };
        let table = table_named(&self.table, &field("table"))?;
        let agg = self.aggregate;
        let scored = matches!(agg, Aggregate::Baseline | Aggregate::ChangeFromBaseline | Aggregate::Improved);
        let severity = agg == Aggregate::Baseline && !self.severity.is_empty();
        if !self.severity.is_empty() && agg != Aggregate::Baseline {
            return Err(bad("severity", format!("a baseline is standardised, not {}", agg.name())));
        }
        if scored {
            if table.name != "assessments" {
                return Err(bad("table", format!("{} reads assessments: table = \"assessments\"", agg.name())));
            }
            for c in ["instrument", "domain"] {
                if !severity && !matches!(self.filter.get(c), Some(FilterValue::One(_))) {
                    return Err(bad(
                        &format!("where.{c}"),
                        format!("{} is of one instrument and domain: give where.{c} one value", agg.name()),
                    ));
                }
            }
            if self.column.is_some() {
                return Err(bad("column", format!("{} is of the score: give no column", agg.name())));
            }
        }
        if agg.is_event() && role == Role::Known {
            return Err(bad("aggregate", format!("{} is an outcome: write it as an [[outcome]]", agg.name())));
        }
        if agg == Aggregate::Improved && !self.at_least.is_some_and(|a| a != 0.0 && a.is_finite()) {
            return Err(bad(
                "at_least",
                "improved needs the change that counts: at_least = 2 (a rise of 2 points), or -2 (a fall)".into(),
            ));
        }
        let needs_column = matches!(
            agg,
            Aggregate::Sum | Aggregate::CountDistinct | Aggregate::Latest | Aggregate::Earliest | Aggregate::Attribute
        ) || (self.at_least.is_some() && agg != Aggregate::Improved);
        let column = match (&self.column, needs_column) {
            (Some(c), true) if agg == Aggregate::Attribute && c == AGE && table.name == "clients" => {
                Some((AGE, Some(Kind::Int { min: 0, max: 150 })))
            }
            (None, false) if scored => column_of(table, "score"),
            (Some(c), true) => Some(column_named(table, c, &field("column"))?),
            (None, true) if self.at_least.is_some() => {
                return Err(bad("column", "at_least bounds a column: name it".into()));
            }
            (None, true) => return Err(bad("column", format!("{} needs a column", agg.name()))),
            (Some(_), false) => {
                return Err(bad("column", format!("{} counts rows and takes no column", agg.name())));
            }
            (None, false) => None,
        };
        let number = |c: Option<(&str, Option<Kind>)>| {
            matches!(c.and_then(|c| c.1), Some(Kind::Int { .. } | Kind::Decimal { .. }))
        };
        if agg == Aggregate::Sum && !number(column) {
            return Err(bad("column", format!("sum needs a number column; '{}' is not one", column.unwrap().0)));
        }
        if self.at_least.is_some() && agg != Aggregate::Improved && !number(column) {
            return Err(bad("at_least", format!("'{}' is not a number column", column.unwrap().0)));
        }
        match (agg, self.lasting) {
            (Aggregate::MonthsWithout, Some(Offset::Months(n))) if n > 0 => {}
            (Aggregate::MonthsWithout, _) => {
                return Err(bad("for", "months_without counts calendar months: write for = \"12m\"".into()));
            }
            (Aggregate::TimeToEvent, Some(Offset::Ever)) => {
                return Err(bad("for", "a run lasts a number of days, months or years (\"6m\", \"91d\")".into()));
            }
            (Aggregate::TimeToEvent, Some(o)) if o.sign() < 0 => {
                return Err(bad("for", "a run lasts zero or more days (\"6m\", \"91d\")".into()));
            }
            (Aggregate::TimeToEvent, _) | (_, None) => {}
            (_, Some(_)) => {
                return Err(bad("for", format!("{} takes no `for` (time_to_event and months_without do)", agg.name())));
            }
        }
        let until = match (agg, &self.until) {
            (Aggregate::DaysIn, Some(u)) => {
                let (u, kind) = column_named(table, u, &field("until"))?;
                if !is_date(kind) {
                    return Err(bad("until", format!("'{u}' is not a date column of {}", table.name)));
                }
                Some(u)
            }
            (Aggregate::DaysIn, None) => {
                return Err(bad("until", "days_in counts the days of spans: name the column they end on".into()));
            }
            (_, Some(_)) => return Err(bad("until", format!("{} takes no `until` (days_in does)", agg.name()))),
            (_, None) => None,
        };
        if agg == Aggregate::MonthsWithout && self.at_least.is_some() {
            return Err(bad("at_least", "months_without counts months with no row at all: give no at_least".into()));
        }
        let filter = check_filter(table, &self.filter, &field("where"))?;
        match self.by {
            By::Household if !has_column(table, "household_id") && !has_column(table, "client_id") => {
                return Err(bad("by", format!("{} has no household_id or client_id", table.name)));
            }
            By::OtherMembers if !has_column(table, "client_id") => {
                return Err(bad("by", format!("{} has no client_id", table.name)));
            }
            By::Case | By::OtherCases if !has_column(table, "case_id") => {
                return Err(bad("by", format!("{} has no case_id", table.name)));
            }
            _ => {}
        }
        let (date, window) = if agg == Aggregate::Attribute || !dated(table) {
            if agg == Aggregate::Attribute && table.name == "cases" {
                if self.by != By::Case {
                    return Err(bad("by", "an attribute of a case is of the member's own case: by = \"case\"".into()));
                }
            } else if table.name != "clients" {
                return Err(bad(
                    "table",
                    "an attribute is a client's or the member's case's: table = \"clients\" or \"cases\"".into(),
                ));
            } else if !matches!(agg, Aggregate::Attribute | Aggregate::Any | Aggregate::Count) {
                return Err(bad(
                    "aggregate",
                    format!(
                        "clients has one row per client and no date: use attribute, any or count, not {}",
                        agg.name()
                    ),
                ));
            }
            if self.window.is_some() || self.date.is_some() {
                return Err(bad("window", "an attribute of the member's own row has no window or date".into()));
            }
            if agg == Aggregate::Attribute && !self.filter.is_empty() {
                return Err(bad("where", "an attribute has no filter (use any with where for a yes/no)".into()));
            }
            (Vec::new(), None)
        } else {
            let date = date_columns(table, self.date.as_ref(), &field("date"))?;
            let window = self.window.ok_or_else(|| bad("window", "give the window, e.g. \"[-12m, 0)\"".into()))?;
            window_rule(&window, role, agg).map_err(|m| bad("window", m))?;
            (date, Some(window))
        };
        let options = self.check_options(table, column, role)?;
        Ok(Variable {
            name: self.name.clone(),
            table,
            aggregate: agg,
            column: column.map(|c| c.0),
            date,
            window,
            filter,
            by: self.by,
            at_least: self.at_least,
            lasting: self.lasting,
            until,
            fill: self.fill,
            cap: self.cap,
            transform: self.transform,
            same: options.same,
            missing_is_same: self.missing_is_same,
            reaches: self.reaches,
            anchor: self.anchor.clone(),
            is: self.is.clone(),
            bands: self.bands.clone(),
            severity: self.severity.iter().map(|(k, n)| (k.clone(), *n)).collect(),
        })
    }

    /// The options that shape the value: `fill`, `cap`, `transform`, `is`,
    /// `bands`, `severity`, `same` and `anchor`.
    fn check_options(
        &self,
        table: &'static Table,
        column: Option<(&'static str, Option<Kind>)>,
        role: Role,
    ) -> Result<CheckedOptions, DefinitionError> {
        let bad = |f: &str, m: String| DefinitionError { field: format!("variable '{}'.{f}", self.name), message: m };
        let agg = self.aggregate;
        let number_column = matches!(column.and_then(|c| c.1), Some(Kind::Int { .. } | Kind::Decimal { .. }));
        let number = match agg {
            Aggregate::Count
            | Aggregate::CountDistinct
            | Aggregate::Sum
            | Aggregate::MonthsWith
            | Aggregate::DaysSince
            | Aggregate::Baseline
            | Aggregate::ChangeFromBaseline
            | Aggregate::DaysIn => true,
            Aggregate::Latest | Aggregate::Earliest | Aggregate::Attribute => {
                number_column && self.is.is_none() && self.bands.is_empty()
            }
            _ => false,
        };
        let may_be_none = matches!(
            agg,
            Aggregate::DaysSince
                | Aggregate::Latest
                | Aggregate::Earliest
                | Aggregate::Baseline
                | Aggregate::ChangeFromBaseline
                | Aggregate::Attribute
        );
        if self.fill.is_some_and(|f| !(number && may_be_none && f.is_finite())) {
            return Err(bad(
                "fill",
                format!("fill gives a number where a value may be missing; {} of this column is not one", agg.name()),
            ));
        }
        if self.cap.is_some_and(|c| !(number && c.is_finite())) {
            return Err(bad("cap", format!("cap bounds a number; {} of this column is not one", agg.name())));
        }
        if self.reaches.is_some_and(|r| !(number && r.is_finite())) {
            return Err(bad(
                "reaches",
                format!("reaches asks whether a number reaches a value; {} of this column is not one", agg.name()),
            ));
        }
        if self.transform.is_some() && !number {
            return Err(bad(
                "transform",
                format!("a transform is of a number; {} of this column is not one", agg.name()),
            ));
        }
        if let Some(is) = &self.is {
            let Some((c, _)) = column.filter(|_| matches!(agg, Aggregate::Latest | Aggregate::Earliest)) else {
                return Err(bad("is", "is asks whether the latest or earliest row's column has a value".into()));
            };
            let one = BTreeMap::from([(c.to_string(), is.clone())]);
            check_filter(table, &one, &format!("variable '{}'.is", self.name))?;
        }
        if !self.bands.is_empty() {
            if !(agg == Aggregate::Attribute && (number_column || column.is_some_and(|c| c.0 == AGE))) {
                return Err(bad("bands", "bands group a number attribute (age) into levels".into()));
            }
            if self.bands.windows(2).any(|w| w[0] >= w[1]) {
                return Err(bad("bands", "give the bands' lower bounds in ascending order".into()));
            }
        }
        for (code, norm) in &self.severity {
            if let Some((_, Some(Kind::Code(list)))) = column_of(table, "instrument")
                && !list.contains(code)
            {
                return Err(bad(&format!("severity.{code}"), unknown_code(list, code)));
            }
            if !(norm.cutoff.is_finite() && norm.sd.is_finite() && norm.sd > 0.0) {
                return Err(bad(&format!("severity.{code}"), "a finite cutoff and an sd above 0".into()));
            }
        }
        let mut same = Vec::new();
        for (k, c) in self.same.iter().enumerate() {
            if agg == Aggregate::Attribute {
                return Err(bad("same", "an attribute is the member's own: it has no same".into()));
            }
            same.push(same_column(table, c, &format!("variable '{}'.same[{k}]", self.name))?);
        }
        if self.missing_is_same && self.same.is_empty() {
            return Err(bad("missing_is_same", "it says how `same` treats a missing value: give same".into()));
        }
        if let Some(a) = &self.anchor
            && (agg == Aggregate::Attribute || role == Role::Outcome || a.is_empty())
        {
            return Err(bad(
                "anchor",
                "an anchor moves the window of a variable known at the index date to another of the member's dates"
                    .into(),
            ));
        }
        Ok(CheckedOptions { same })
    }
}

struct CheckedOptions {
    same: Vec<Same>,
}

/// A `same` column: the member's `column`, against the row's own or, through
/// a reference, its referenced row's (`via`: the row's column and the table
/// it references).
#[derive(Debug, Clone, Copy)]
struct Same {
    column: &'static str,
    via: Option<(&'static str, &'static Table)>,
}

/// A `same` column as written, `area` or `case_id.area`, checked.
fn same_column(table: &'static Table, written: &str, field: &str) -> Result<Same, DefinitionError> {
    let Some((through, column)) = written.split_once('.') else {
        return Ok(Same { column: column_named(table, written, field)?.0, via: None });
    };
    let (through, _) = column_named(table, through, field)?;
    let Some(target) = table.references.iter().find(|r| r.column == through).and_then(|r| schema::table(r.table))
    else {
        return Err(DefinitionError {
            field: field.to_string(),
            message: format!(
                "'{through}' of {} refers to no table: write a column of {} itself",
                table.name, table.name
            ),
        });
    };
    Ok(Same { column: column_named(target, column, field)?.0, via: Some((through, target)) })
}

/// Where a window may lie for a role: what is known at the index date ends
/// at 0 at the latest; an outcome starts at 0 or later, but a change from
/// baseline as an outcome spans the index date and ends after it.
pub fn window_rule(window: &Window, role: Role, aggregate: Aggregate) -> Result<(), String> {
    let change = aggregate.is_change();
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
pub fn table_named(name: &str, field: &str) -> Result<&'static Table, DefinitionError> {
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
pub fn check_filter(
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

/// The date columns a window or an entry is on: the ones named (the first
/// present counts), or the table's only date column.
pub fn date_columns(
    table: &'static Table,
    named: Option<&DateSpec>,
    field: &str,
) -> Result<Vec<&'static str>, DefinitionError> {
    let bad = |m: String| DefinitionError { field: field.to_string(), message: m };
    let dates: Vec<&'static str> =
        table.columns.iter().filter(|c| is_date(Some(c.kind))).map(|c| Table::register_name(c.name, c.kind)).collect();
    let names: Vec<&str> = match named {
        Some(DateSpec::One(d)) => vec![d.as_str()],
        Some(DateSpec::Many(ds)) if ds.is_empty() => return Err(bad("name at least one date column".into())),
        Some(DateSpec::Many(ds)) => ds.iter().map(String::as_str).collect(),
        None if dates.len() == 1 => return Ok(vec![dates[0]]),
        None if dates.is_empty() => return Err(bad(format!("{} has no date column", table.name))),
        None => return Err(bad(format!("{} has several date columns: name one ({})", table.name, dates.join(", ")))),
    };
    names
        .into_iter()
        .map(|d| {
            let (d, kind) = column_named(table, d, field)?;
            if !is_date(kind) {
                return Err(bad(format!("'{d}' is not a date column (dates: {})", dates.join(", "))));
            }
            Ok(d)
        })
        .collect()
}

/// The date of a row: the first of `columns` that is present.
pub fn date_expr(columns: &[&'static str]) -> Expr {
    let exprs: Vec<Expr> = columns.iter().map(|c| col(*c).cast(DataType::Date)).collect();
    if exprs.len() == 1 { exprs[0].clone() } else { coalesce(&exprs) }
}

fn unknown_code(list: &schema::CodeList, v: &str) -> String {
    format!("'{v}' is not in the code list {} ({})", list.name, list.codes_list().join(", "))
}

/// Whether `date` lies in `w` around `index`.
fn in_window(date: Expr, index: Expr, w: &Window) -> Expr {
    let a = match w.start.duration() {
        None => lit(true),
        Some(d) => {
            let lo = index.clone().dt().offset_by(lit(d));
            if w.start_closed { date.clone().gt_eq(lo) } else { date.clone().gt(lo) }
        }
    };
    let b = window_end_test(date, index, w);
    a.and(b)
}

fn window_end_test(date: Expr, index: Expr, w: &Window) -> Expr {
    let hi = index.dt().offset_by(lit(w.end.duration().expect("a window's end is bounded")));
    if w.end_closed { date.lt_eq(hi) } else { date.lt(hi) }
}

pub fn filter_expr(filter: &[(&'static str, FilterValue)]) -> Expr {
    filter.iter().fold(lit(true), |acc, (c, v)| acc.and(has_value(col(*c), v)))
}

/// Whether `x` has one of the values (a code, an id, true or false).
fn has_value(x: Expr, v: &FilterValue) -> Expr {
    match v {
        FilterValue::Bool(b) => x.eq(lit(*b)),
        FilterValue::One(s) => x.cast(DataType::String).eq(lit(s.clone())),
        FilterValue::Many(vs) => one_of(x.cast(DataType::String), vs),
    }
}

/// A date as a literal of polars' Date type.
pub fn date_lit(d: chrono::NaiveDate) -> Expr {
    lit(day_number(d)).cast(DataType::Date)
}

/// A date expression moved by whole days.
fn add_days(date: Expr, days: i32) -> Expr {
    (date.cast(DataType::Int32) + lit(days)).cast(DataType::Date)
}

/// Months since year 0 of a date expression.
fn month_number(date: Expr) -> Expr {
    date.clone().dt().year() * lit(12) + date.dt().month().cast(DataType::Int32) - lit(1)
}

/// The variables for every row of `index` (its `client_id` and
/// `index_date`, and the `case_id` or `household_id` a variable `by` case or
/// household needs), read from the register build in `dir` exported on
/// `as_of` (an event cannot be seen after it): `index`'s rows in their order
/// and its columns, then one column per variable.
pub fn compute(
    dir: &Path,
    as_of: chrono::NaiveDate,
    index: LazyFrame,
    variables: &[Variable],
) -> PolarsResult<LazyFrame> {
    let have = index.clone().collect_schema()?;
    let mut member_cols = vec![col("__member"), col("client_id"), col("index_date").cast(DataType::Date)];
    let mut taken: Vec<&str> = vec!["client_id", "index_date"];
    for c in ["case_id", "household_id"] {
        if have.contains(c) {
            member_cols.push(col(c));
            taken.push(c);
        }
    }
    for v in variables {
        let need = v.by.member_column();
        if !have.contains(need) {
            return Err(PolarsError::ColumnNotFound(
                format!("variable '{}' is by {}, but the members have no {need}", v.name, v.by.name()).into(),
            ));
        }
        for c in v.member_columns() {
            if !have.contains(c) {
                return Err(PolarsError::ColumnNotFound(
                    format!("variable '{}' needs the members' {c}, which they do not have", v.name).into(),
                ));
            }
            if !taken.contains(&c) {
                member_cols.push(col(c));
                taken.push(c);
            }
        }
    }
    // The members once, and each variable's values joined onto a
    // materialised frame: never one plan as deep as the list (polars'
    // optimiser recurses through a plan, and a long chain of joins overflows
    // the stack).
    let index = index.with_row_index("__member", None).collect()?.lazy();
    let people = index.clone().select(member_cols).collect()?.lazy();
    let mut out = index;
    // Every variable's values planned apart (shallow plans) and run together.
    let plans: Vec<LazyFrame> =
        variables.iter().map(|v| value_of(dir, as_of, &people, v)).collect::<PolarsResult<_>>()?;
    let flags = plans.first().map(LazyFrame::get_current_optimizations).unwrap_or_default();
    let values =
        LazyFrame::collect_all_with_engine(plans.into_iter().map(|p| p.logical_plan).collect(), Engine::Auto, flags)?;
    for (v, value) in variables.iter().zip(values) {
        let value = value.lazy();
        let mut args = JoinArgs::new(JoinType::Left).with_coalesce(JoinCoalesce::CoalesceColumns);
        args.maintain_order = MaintainOrderJoin::Left;
        out = out.join(value, [col("__member")], [col("__member")], args);
        let name = v.name.as_str();
        let empty = match v.aggregate {
            _ if v.is.is_some() => Some(lit(false)),
            Aggregate::Count | Aggregate::CountDistinct | Aggregate::MonthsWith | Aggregate::DaysIn => Some(lit(0i64)),
            Aggregate::Sum => Some(lit(0.0f64)),
            Aggregate::Any => Some(lit(false)),
            Aggregate::None => Some(lit(true)),
            _ => None,
        };
        if let Some(e) = empty {
            out = out.with_column(col(name).fill_null(e));
        }
        if v.fill.is_some() || v.cap.is_some() || v.transform.is_some() || v.reaches.is_some() {
            out = out.with_column(shaped(col(name).cast(DataType::Float64), v).alias(name));
        }
        out = out.collect()?.lazy();
    }
    Ok(out.drop(Selector::ByName { names: ["__member".into()].into(), strict: true }))
}

/// A number variable's value filled where missing, capped, transformed,
/// then, with `reaches`, whether it reaches the value.
fn shaped(mut x: Expr, v: &Variable) -> Expr {
    if let Some(f) = v.fill {
        x = x.fill_null(lit(f));
    }
    if let Some(c) = v.cap {
        x = when(x.clone().gt(lit(c))).then(lit(c)).otherwise(x);
    }
    if let Some(Transform::Log1p) = v.transform {
        x = x.map(
            |c: Column| Ok(c.f64()?.apply_values(f64::ln_1p).into_column()),
            |_, f| Ok(Field::new(f.name().clone(), DataType::Float64)),
        );
    }
    match v.reaches {
        // A missing value reaches nothing.
        Some(r) => x.gt_eq(lit(r)).fill_null(lit(false)),
        None => x,
    }
}

/// The levels of `bands` for a number expression: "0-17", "18-24", "25+".
fn banded(x: Expr, bands: &[i64]) -> Expr {
    let label = |k: usize| match bands.get(k + 1) {
        Some(next) => format!("{}-{}", bands[k], next - 1),
        None => format!("{}+", bands[k]),
    };
    let x = x.cast(DataType::Float64);
    let null = || lit(NULL).cast(DataType::String);
    let mut band = when(lit(false)).then(null()).when(lit(false)).then(null());
    for k in (0..bands.len()).rev() {
        band = band.when(x.clone().gt_eq(lit(bands[k] as f64))).then(lit(label(k)));
    }
    when(x.is_null()).then(null()).otherwise(band.otherwise(lit(label(0))))
}

/// One variable per member (`__member`, the value), members without a value left out.
fn value_of(dir: &Path, as_of: chrono::NaiveDate, people: &LazyFrame, v: &Variable) -> PolarsResult<LazyFrame> {
    if v.aggregate == Aggregate::Attribute {
        return attribute(dir, people, v);
    }
    // A window anchored on another of the member's dates: never after the index.
    let people = match &v.anchor {
        Some(a) => {
            let anchor = col(a.as_str()).cast(DataType::Date);
            people.clone().with_column(
                when(anchor.clone().lt(col("index_date")))
                    .then(anchor)
                    .otherwise(col("index_date"))
                    .alias("index_date"),
            )
        }
        None => people.clone(),
    };
    let joined = rows_in_window(dir, as_of, &people, v)?;
    let name = v.name.as_str();
    if v.aggregate.is_event() {
        return event(&people, joined, v, as_of);
    }
    if v.aggregate == Aggregate::DaysIn {
        let w = v.window.as_ref().expect("checked: days_in has a window");
        return Ok(joined
            .with_column(days_in(w, as_of).alias("__in"))
            .filter(col("__in").gt(lit(0)))
            .group_by([col("__member")])
            .agg([col("__in").sum().cast(DataType::Int64).alias(name)]));
    }
    if !v.severity.is_empty() {
        return Ok(severity(joined, v));
    }
    let sorted = |c: Expr| c.sort_by([col("__date"), col("__key")], SortMultipleOptions::default());
    let agg = match v.aggregate {
        Aggregate::Count => len().cast(DataType::Int64),
        Aggregate::CountDistinct => col("__value").drop_nulls().n_unique().cast(DataType::Int64),
        Aggregate::Sum => col("__value").cast(DataType::Float64).sum(),
        Aggregate::Any => len().gt(lit(0)),
        Aggregate::None => len().eq(lit(0)),
        Aggregate::MonthsWith => month_number(col("__date")).n_unique().cast(DataType::Int64),
        Aggregate::DaysSince => col("__days").min().cast(DataType::Int64),
        Aggregate::Latest | Aggregate::Earliest => {
            let s = sorted(col("__value"));
            let value = if v.aggregate == Aggregate::Latest { s.last() } else { s.first() };
            match &v.is {
                Some(is) => has_value(value, is),
                None => value,
            }
        }
        Aggregate::Baseline => sorted(col("__value")).first(),
        Aggregate::ChangeFromBaseline => {
            let s = sorted(col("__value").cast(DataType::Float64));
            when(len().gt(lit(1))).then(s.clone().last() - s.first()).otherwise(lit(NULL).cast(DataType::Float64))
        }
        Aggregate::Attribute
        | Aggregate::DaysIn
        | Aggregate::TimeToEvent
        | Aggregate::MonthsWithout
        | Aggregate::Without
        | Aggregate::Improved => unreachable!("handled above"),
    };
    Ok(joined.group_by([col("__member")]).agg([agg.alias(name)]))
}

/// An attribute of the member's client (`clients`) or case (`cases`, by case).
fn attribute(dir: &Path, people: &LazyFrame, v: &Variable) -> PolarsResult<LazyFrame> {
    let column = v.column.expect("checked: an attribute has a column");
    let mut value = if column == AGE { col("index_date").dt().year() - col("birth_year") } else { col(column) };
    if !v.bands.is_empty() {
        value = banded(value, &v.bands);
    }
    let key = if v.table.name == "cases" { "case_id" } else { "client_id" };
    let mut rows = scan(dir, v.table)?;
    if key == "case_id" {
        // The case's own columns only: the member's client_id stays the member's.
        rows = rows.select([col("case_id"), col(column)]);
    }
    Ok(people
        .clone()
        .join(rows, [col(key)], [col(key)], JoinArgs::new(JoinType::Inner))
        .select([col("__member"), value.alias(v.name.as_str())]))
}

/// The members joined with the variable's rows: `__key`, `__value` (its
/// column), `__date`, `__days` (index date minus the row's date) and
/// `__until`, `__instrument`, `__domain` where it needs them; only rows in
/// its window, by the export date, passing its filters.
fn rows_in_window(dir: &Path, as_of: chrono::NaiveDate, people: &LazyFrame, v: &Variable) -> PolarsResult<LazyFrame> {
    let key = v.by.member_column();
    let mut pick = vec![col(key).alias("__by"), col(v.table.register_key()).alias("__key")];
    if let Some(c) = v.column {
        pick.push(col(c).alias("__value"));
    }
    if v.by == By::OtherCases {
        pick.push(col("case_id").alias("__case"));
    }
    if v.by == By::OtherMembers {
        pick.push(col("client_id").alias("__client"));
    }
    for (k, c) in v.same.iter().enumerate() {
        match c.via {
            None => pick.push(col(c.column).alias(format!("__same{k}"))),
            Some((through, _)) => pick.push(col(through).alias(format!("__via{k}"))),
        }
    }
    if !v.severity.is_empty() {
        pick.extend([col("instrument").alias("__instrument"), col("domain").alias("__domain")]);
    }
    let dated = v.window.is_some();
    if dated {
        pick.push(date_expr(&v.date).alias("__date"));
    }
    if let Some(u) = v.until {
        pick.push(col(u).cast(DataType::Date).alias("__until"));
    }
    let mut rows = scan(dir, v.table)?.filter(filter_expr(&v.filter));
    if key == "household_id" && !has_column(v.table, "household_id") {
        // A client's rows are the household's through the client's household.
        let households = scan(dir, &schema::CLIENTS)?.select([col("client_id"), col("household_id")]);
        rows = rows.join(households, [col("client_id")], [col("client_id")], JoinArgs::new(JoinType::Inner));
    }
    if dated {
        // A row dated after the export cannot have been seen.
        rows = rows.filter(date_expr(&v.date).is_not_null().and(date_expr(&v.date).lt_eq(date_lit(as_of))));
    }
    let run = v.aggregate == Aggregate::TimeToEvent && v.lasting.is_some();
    if let (Some(a), false) = (v.at_least, run || v.aggregate == Aggregate::Improved) {
        rows = rows.filter(col(v.column.expect("checked")).cast(DataType::Float64).gt_eq(lit(a)));
    }
    let mut rows = rows.select(pick);
    for (k, c) in v.same.iter().enumerate() {
        if let Some((_, target)) = c.via {
            // The referenced row's column (missing where the row refers to none).
            let referenced = scan(dir, target)?.select([
                col(target.register_key()).alias(format!("__via{k}")),
                col(c.column).alias(format!("__same{k}")),
            ]);
            let mut args = JoinArgs::new(JoinType::Left);
            args.maintain_order = MaintainOrderJoin::Left;
            rows = rows.join(referenced, [col(format!("__via{k}"))], [col(format!("__via{k}"))], args);
        }
    }
    let mut joined = people.clone().join(rows, [col(key)], [col("__by")], JoinArgs::new(JoinType::Inner));
    if v.by == By::OtherCases {
        joined = joined.filter(col("__case").neq_missing(col("case_id")));
    }
    if v.by == By::OtherMembers {
        joined = joined.filter(col("__client").neq_missing(col("client_id")));
    }
    for (k, c) in v.same.iter().enumerate() {
        let same = col(format!("__same{k}")).cast(DataType::String).eq(col(c.column).cast(DataType::String));
        joined = joined.filter(if v.missing_is_same { col(format!("__same{k}")).is_null().or(same) } else { same });
    }
    if let (Some(w), false) = (&v.window, v.aggregate == Aggregate::DaysIn) {
        joined = joined.filter(in_window(col("__date"), col("index_date"), w)).with_column(
            (col("index_date").cast(DataType::Int32) - col("__date").cast(DataType::Int32)).alias("__days"),
        );
    }
    Ok(joined)
}

/// The outcomes that are the days from the index date to an event (null
/// while it has not happened).
fn event(people: &LazyFrame, joined: LazyFrame, v: &Variable, as_of: chrono::NaiveDate) -> PolarsResult<LazyFrame> {
    let name = v.name.as_str();
    let by_member = [col("__member")];
    let days_to_first = || (-col("__days")).min().cast(DataType::Int64).alias(name);
    match v.aggregate {
        Aggregate::TimeToEvent if v.lasting.is_some() => {
            Ok(sustained(joined, v)?.group_by(by_member).agg([days_to_first()]))
        }
        Aggregate::TimeToEvent => Ok(joined.group_by(by_member).agg([days_to_first()])),
        Aggregate::MonthsWithout => months_without(people, joined, v, as_of),
        Aggregate::Without => without(people, joined, v, as_of),
        Aggregate::Improved => {
            // The baseline is the window's earliest score; the event the
            // first later score, after the index date, moved at_least from it.
            let a = v.at_least.expect("checked: improved has at_least");
            let sorted =
                col("__value").cast(DataType::Float64).sort_by([col("__date"), col("__key")], Default::default());
            let change = col("__value").cast(DataType::Float64) - sorted.first().over([col("__member")])?;
            let reached = if a > 0.0 { change.gt_eq(lit(a)) } else { change.lt_eq(lit(a)) };
            Ok(joined.filter(reached.and(col("__days").lt(lit(0)))).group_by(by_member).agg([days_to_first()]))
        }
        other => unreachable!("{} is not an event", other.name()),
    }
}

/// The mean over instruments and domains of each one's baseline (its
/// earliest score in the window) standardised by its instrument's norm:
/// positive is worse. Summed in a fixed order, so every run gives the same mean.
fn severity(joined: LazyFrame, v: &Variable) -> LazyFrame {
    let null = || lit(NULL).cast(DataType::Float64);
    let start = || when(lit(false)).then(null()).when(lit(false)).then(null());
    let (mut sign, mut cutoff, mut sd) = (start(), start(), start());
    for (code, n) in &v.severity {
        let this = || col("__instrument").cast(DataType::String).eq(lit(code.clone()));
        sign = sign.when(this()).then(lit(if n.higher_is_better { -1.0 } else { 1.0 }));
        cutoff = cutoff.when(this()).then(lit(n.cutoff));
        sd = sd.when(this()).then(lit(n.sd));
    }
    let standardised = sign.otherwise(null()) * (col("__value").cast(DataType::Float64) - cutoff.otherwise(null()))
        / sd.otherwise(null());
    joined
        .group_by([col("__member"), col("__instrument"), col("__domain")])
        .agg([col("__value").sort_by([col("__date"), col("__key")], SortMultipleOptions::default()).first()])
        .with_column(standardised.alias("__severity"))
        .sort(["__member", "__severity"], SortMultipleOptions::default())
        .group_by([col("__member")])
        .agg([col("__severity").mean().alias(v.name.as_str())])
}

/// The days a row's span, from `__date` up to `__until` (not counted; to
/// the export date, counted, where it has none), shares with the window
/// around `index_date`: days as whole days, never negative.
fn days_in(w: &Window, as_of: chrono::NaiveDate) -> Expr {
    let day = |e: Expr| e.cast(DataType::Int32);
    let index = col("index_date");
    // The window as days [lo, hi): a closed start counts its day, an open end does not.
    let lo = w.start.duration().map(|d| {
        let lo = day(index.clone().dt().offset_by(lit(d)));
        if w.start_closed { lo } else { lo + lit(1) }
    });
    let hi = day(index.dt().offset_by(lit(w.end.duration().expect("a window's end is bounded"))));
    let hi = if w.end_closed { hi + lit(1) } else { hi };
    let export = lit(day_number(as_of) + 1);
    let end = day(col("__until")).fill_null(export.clone());
    let end = min_expr(min_expr(end, hi), export);
    let start = match lo {
        Some(lo) => max_expr(day(col("__date")), lo),
        None => day(col("__date")),
    };
    when((end.clone() - start.clone()).gt(lit(0))).then(end - start).otherwise(lit(0))
}

fn min_expr(a: Expr, b: Expr) -> Expr {
    when(a.clone().lt(b.clone())).then(a).otherwise(b)
}

fn max_expr(a: Expr, b: Expr) -> Expr {
    when(a.clone().gt(b.clone())).then(a).otherwise(b)
}

/// Days since 1970-01-01 (polars' Date).
pub(crate) fn day_number(d: chrono::NaiveDate) -> i32 {
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

/// The rows that complete a run: rows in date order, the run held by rows
/// whose column is at least `at_least` (every row without one) and broken by
/// any other row; a row completes it when it lies `for` or more after the
/// run's first row.
fn sustained(joined: LazyFrame, v: &Variable) -> PolarsResult<LazyFrame> {
    let lasting = v.lasting.and_then(Offset::duration).expect("checked: a run has a length");
    let holds = match v.at_least {
        Some(a) => col("__value").cast(DataType::Float64).gt_eq(lit(a)).fill_null(lit(false)),
        None => lit(true),
    };
    // Each row's run: the position of the latest breaking row before it.
    let broke =
        when(col("__holds").not()).then(col("__i").cast(DataType::Int64)).otherwise(lit(NULL).cast(DataType::Int64));
    let run =
        broke.fill_null_with_strategy(FillNullStrategy::Forward(None)).over([col("__member")])?.fill_null(lit(-1i64));
    Ok(joined
        .sort(["__member", "__date", "__key"], SortMultipleOptions::default())
        .with_row_index("__i", None)
        .with_column(holds.alias("__holds"))
        .with_column(run.alias("__run"))
        .filter(col("__holds"))
        .with_column(col("__date").min().over([col("__member"), col("__run")])?.alias("__start"))
        .filter(col("__date").gt_eq(col("__start").dt().offset_by(lit(lasting)))))
}

/// The days from the index date to the window's last day, for the members
/// with no row in the window (`joined` holds the rows in it), where that day
/// is on or before the export date (else the outcome is not known yet).
fn without(people: &LazyFrame, joined: LazyFrame, v: &Variable, as_of: chrono::NaiveDate) -> PolarsResult<LazyFrame> {
    let w = v.window.expect("checked: without has a window");
    let end = col("index_date").dt().offset_by(lit(w.end.duration().expect("bounded")));
    let end = if w.end_closed { end } else { add_days(end, -1) };
    let hit = joined.select([col("__member")]).unique(None, UniqueKeepStrategy::Any);
    Ok(people
        .clone()
        .select([col("__member"), col("index_date"), end.alias("__end")])
        .filter(col("__end").lt_eq(date_lit(as_of)))
        .join(hit, [col("__member")], [col("__member")], JoinArgs::new(JoinType::Anti))
        .select([
            col("__member"),
            (col("__end").cast(DataType::Int32) - col("index_date").cast(DataType::Int32))
                .cast(DataType::Int64)
                .alias(v.name.as_str()),
        ]))
}

/// The days from the index date to the end of the first `for` consecutive
/// calendar months without a row, counting from the month after the index
/// month; only months complete by the window's end and the export date count.
fn months_without(
    people: &LazyFrame,
    joined: LazyFrame,
    v: &Variable,
    as_of: chrono::NaiveDate,
) -> PolarsResult<LazyFrame> {
    let Some(Offset::Months(n)) = v.lasting else { unreachable!("checked") };
    let w = v.window.expect("checked: months_without has a window");
    let end = col("index_date").dt().offset_by(lit(w.end.duration().expect("bounded")));
    let end = if w.end_closed { end } else { add_days(end, -1) };
    let until = when(end.clone().gt(date_lit(as_of))).then(date_lit(as_of)).otherwise(end);
    let bounds = people.clone().select([
        col("__member"),
        col("index_date"),
        (month_number(col("index_date")) + lit(1)).alias("__first"),
        (month_number(add_days(until, 1)) - lit(1)).alias("__last"),
    ]);
    let months = joined
        .select([col("__member"), month_number(col("__date")).alias("__m")])
        .join(bounds.clone(), [col("__member")], [col("__member")], JoinArgs::new(JoinType::Inner))
        .filter(col("__m").gt_eq(col("__first")).and(col("__m").lt_eq(col("__last"))))
        .select([col("__member"), col("__m")]);
    let before = bounds.clone().select([col("__member"), (col("__first") - lit(1)).alias("__m")]);
    let after = bounds.clone().select([col("__member"), (col("__last") + lit(1)).alias("__m")]);
    let marks = concat([before, months, after], UnionArgs::default())?
        .unique(None, UniqueKeepStrategy::Any)
        .sort(["__member", "__m"], SortMultipleOptions::default())
        .with_column(col("__m").shift(lit(1)).over([col("__member")])?.alias("__prev"))
        .filter((col("__m") - col("__prev") - lit(1)).gt_eq(lit(n)))
        .group_by([col("__member")])
        .agg([(col("__prev").min() + lit(n)).alias("__done")]);
    // The last day of month __done: the first day of the index month moved on
    // (__done + 1 - index month) months, less one day.
    let ahead = col("__done") + lit(1) - month_number(col("index_date"));
    let day = col("index_date").dt().day().cast(DataType::Int32);
    let month_start = (col("index_date").cast(DataType::Int32) - day + lit(1)).cast(DataType::Date);
    let last_day =
        add_days(month_start.dt().offset_by(concat_str([ahead.cast(DataType::String), lit("mo")], "", false)), -1);
    Ok(marks.join(bounds, [col("__member")], [col("__member")], JoinArgs::new(JoinType::Inner)).select([
        col("__member"),
        (last_day.cast(DataType::Int32) - col("index_date").cast(DataType::Int32))
            .cast(DataType::Int64)
            .alias(v.name.as_str()),
    ]))
}
