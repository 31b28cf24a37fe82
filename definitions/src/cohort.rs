//! Cohorts, in the manner of OHDSI's cohort definitions: an entry event read
//! from a register table gives each member an index date; criteria on
//! variables known at that date keep or drop the entry; then the study's
//! variables are computed per member and index date.
//!
//! ```toml
//! [entry]
//! table = "payments"          # any register table with a date
//! date = "month"              # its date column (may be left out where it has one)
//! where = { reason = "unemployment" }
//! every = false               # each client's first entry ever (default), or every one
//! spell = { by = "case_id", months = 3 }   # or: a spell reaching its 3rd consecutive month
//! age = [18, 64]              # age at the index date: its year minus the birth year
//! from = "2022-01-01"         # index dates from, to (inclusive; optional)
//! to = "2024-12-31"
//!
//! [[require]]                 # keep an entry only where a variable holds
//! variable = "months_before"
//! at_least = 3                # at_least, at_most, or is = true / false
//!
//! [[variable]]                # known at the index date: covariates, features, groups
//! name = "months_before"
//! table = "payments"
//! aggregate = "months_with"
//! window = "[-12m, 0)"
//!
//! [[outcome]]                 # observed on or after the index date
//! name = "payments_after"
//! table = "payments"
//! aggregate = "count"
//! window = "[0, 12m)"
//! ```
//!
//! [`Cohort::build`] returns the members and the attrition: how many entries
//! each step kept, in order, so that every entry is accounted for.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use polars::prelude::*;
use utfall_register::scan::scan;
use utfall_register::schema::{self, Table};
use utfall_register::store::{write_atomically, write_parquet};

use crate::variable::{
    By, DateSpec, FilterValue, check_filter, date_columns, date_expr, day_number, filter_expr, table_named,
};
use crate::{Aggregate, DefinitionError, Role, Variable, VariableSpec, compute};

/// A spell as the entry: the rows sharing `by` (a case) are one spell,
/// starting at its first row's month; the index date is the first day of
/// the spell's `months`-th month, where its first `months` calendar months
/// all have a row (a spell whose first months have a gap never enters).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpellSpec {
    pub by: String,
    pub months: u32,
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct EntrySpec {
    pub table: String,
    #[serde(default)]
    pub date: Option<DateSpec>,
    #[serde(default, rename = "where")]
    pub filter: BTreeMap<String, FilterValue>,
    #[serde(default)]
    pub every: bool,
    #[serde(default)]
    pub spell: Option<SpellSpec>,
    #[serde(default)]
    pub age: Option<[i32; 2]>,
    #[serde(default, deserialize_with = "utfall_register::specfile::option_date")]
    pub from: Option<chrono::NaiveDate>,
    #[serde(default, deserialize_with = "utfall_register::specfile::option_date")]
    pub to: Option<chrono::NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequireSpec {
    pub variable: String,
    #[serde(default)]
    pub at_least: Option<f64>,
    #[serde(default)]
    pub at_most: Option<f64>,
    #[serde(default)]
    pub is: Option<bool>,
}

/// A cohort as written (a TOML file, or a table of a larger spec).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CohortSpec {
    pub entry: EntrySpec,
    #[serde(default)]
    pub require: Vec<RequireSpec>,
    #[serde(default)]
    pub variable: Vec<VariableSpec>,
    #[serde(default)]
    pub outcome: Vec<VariableSpec>,
}

/// A checked cohort.
#[derive(Debug, Clone)]
pub struct Cohort {
    table: &'static Table,
    date: Vec<&'static str>,
    spell: Option<(&'static str, u32)>,
    filter: Vec<(&'static str, FilterValue)>,
    every: bool,
    age: Option<[i32; 2]>,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    require: Vec<(RequireSpec, Aggregate)>,
    variables: Vec<Variable>,
}

/// The members (client_id, index_date, then every variable and outcome) and
/// the attrition: (step, entries left after it).
pub struct Members {
    pub frame: DataFrame,
    pub attrition: Vec<(String, usize)>,
}

impl Members {
    /// Write the members as Parquet (zstd), atomically.
    pub fn write(&mut self, path: &Path) -> PolarsResult<()> {
        write_atomically(path, |f| write_parquet(&mut self.frame, f.try_clone()?))
    }
}

impl CohortSpec {
    pub fn parse(text: &str) -> Result<CohortSpec, DefinitionError> {
        toml::from_str(text).map_err(|e| match e.span() {
            Some(s) => {
                let before = &text[..s.start];
                let column = before.chars().rev().take_while(|c| *c != '\n').count() + 1;
                DefinitionError {
                    field: format!("line {}", before.matches('\n').count() + 1),
                    message: format!("column {column}: {}", e.message()),
                }
            }
            None => DefinitionError { field: "spec".into(), message: e.message().to_string() },
        })
    }

    pub fn check(&self) -> Result<Cohort, DefinitionError> {
        let e = &self.entry;
        let table = table_named(&e.table, "entry.table")?;
        let date = date_columns(table, e.date.as_ref(), "entry.date")?;
        let filter = check_filter(table, &e.filter, "entry.where")?;
        let has = |c: &str| table.register_columns().iter().any(|x| x.name == c);
        let spell = match &e.spell {
            None => None,
            Some(sp) => {
                let by = table.register_columns().into_iter().find(|c| c.name == sp.by).map(|c| c.name).ok_or_else(
                    || DefinitionError {
                        field: "entry.spell.by".into(),
                        message: format!("no column '{}' in {}", sp.by, table.name),
                    },
                )?;
                if sp.months == 0 {
                    return Err(DefinitionError { field: "entry.spell.months".into(), message: "at least 1".into() });
                }
                Some((by, sp.months))
            }
        };
        if let Some([lo, hi]) = e.age
            && lo > hi
        {
            return Err(DefinitionError { field: "entry.age".into(), message: format!("[{lo}, {hi}] is empty") });
        }
        if let (Some(a), Some(b)) = (e.from, e.to)
            && a > b
        {
            return Err(DefinitionError { field: "entry.from".into(), message: format!("{a} is after to = {b}") });
        }
        let mut names = HashSet::from(["client_id".to_string(), "index_date".to_string()]);
        let mut variables = Vec::new();
        for (specs, role) in [(&self.variable, Role::Known), (&self.outcome, Role::Outcome)] {
            for v in specs.iter() {
                if !names.insert(v.name.clone()) {
                    return Err(DefinitionError {
                        field: format!("variable '{}'.name", v.name),
                        message: "used twice (or a column of the cohort: client_id, index_date)".into(),
                    });
                }
                let checked = v.check(role)?;
                if matches!(checked.by(), By::Case | By::OtherCases) && !has("case_id") {
                    return Err(DefinitionError {
                        field: format!("variable '{}'.by", v.name),
                        message: format!("the entries ({}) have no case to match on", table.name),
                    });
                }
                variables.push(checked);
            }
        }
        let mut require = Vec::new();
        for (i, r) in self.require.iter().enumerate() {
            let field = format!("require[{i}]");
            let bad = |m: String| DefinitionError { field: field.clone(), message: m };
            let Some(v) = self.variable.iter().find(|v| v.name == r.variable) else {
                return Err(bad(if self.outcome.iter().any(|o| o.name == r.variable) {
                    format!(
                        "'{}' is an outcome: an entry can only be kept on what is known at its index date",
                        r.variable
                    )
                } else {
                    format!("no [[variable]] named '{}'", r.variable)
                }));
            };
            let numeric = v.aggregate.numeric();
            match (r.at_least.is_some() || r.at_most.is_some(), r.is) {
                (true, None) if numeric => {}
                (false, Some(_)) if v.aggregate == Aggregate::Any => {}
                (false, None) => return Err(bad("give at_least, at_most or is".into())),
                _ => {
                    return Err(bad(format!(
                        "'{}' ({}) takes {}",
                        r.variable,
                        v.aggregate.name(),
                        if numeric { "at_least or at_most" } else { "is = true or false" }
                    )));
                }
            }
            require.push((r.clone(), v.aggregate));
        }
        Ok(Cohort {
            table,
            date,
            spell,
            filter,
            every: e.every,
            age: e.age,
            from: e.from,
            to: e.to,
            require,
            variables,
        })
    }
}

/// Spells of `rows` by `by`: those whose first `months` calendar months all
/// have a row, entering on the first day of the last of them; the carried
/// columns are the spell's first row's (in date order, then the table's key).
fn spells(
    rows: LazyFrame,
    date: &[&'static str],
    by: &'static str,
    months: u32,
    carry: &[Expr],
    key: &'static str,
) -> PolarsResult<LazyFrame> {
    let d = date_expr(date);
    let month = d.clone().dt().year() * lit(12) + d.clone().dt().month().cast(DataType::Int32) - lit(1);
    let mut pick = carry.to_vec();
    if !carry.iter().any(|c| matches!(c, Expr::Column(n) if n.as_str() == by)) {
        pick.push(col(by));
    }
    pick.extend([d.alias("__date"), month.alias("__m"), col(key).alias("__key")]);
    let n = months as i32;
    let is_by = |c: &Expr| matches!(c, Expr::Column(n) if n.as_str() == by);
    let firsts: Vec<Expr> = carry
        .iter()
        .filter(|c| !is_by(c))
        .map(|c| c.clone().sort_by([col("__date"), col("__key")], Default::default()).first())
        .collect();
    let mut aggs = firsts;
    aggs.push(col("__m").min().alias("__m0"));
    aggs.push(col("__date").min().alias("__d0"));
    let within = col("__m").lt(col("__m").min() + lit(n));
    aggs.push(col("__m").filter(within).n_unique().alias("__months"));
    let day = col("__d0").dt().day().cast(DataType::Int32);
    let first_day = (col("__d0").cast(DataType::Int32) - day + lit(1)).cast(DataType::Date);
    Ok(rows
        .select(pick)
        .group_by([col(by)])
        .agg(aggs)
        .filter(col("__months").eq(lit(n as u32)))
        .with_column(first_day.dt().offset_by(lit(format!("{}mo", n - 1))).alias("index_date"))
        .select(carry.iter().cloned().chain([col("index_date")]).collect::<Vec<_>>()))
}

impl Cohort {
    /// The cohort's members in the register build in `dir`, exported on
    /// `as_of`: client_id, index_date, the entry's case_id (where its table
    /// has one) and household_id (the entry's, else the client's, else the
    /// client as a household of one), then every variable and outcome.
    pub fn build(&self, dir: &Path, as_of: chrono::NaiveDate) -> PolarsResult<Members> {
        let mut attrition = Vec::new();
        let mut step = |name: String, lf: LazyFrame| -> PolarsResult<LazyFrame> {
            let df = lf.collect()?;
            attrition.push((name, df.height()));
            Ok(df.lazy())
        };
        let has = |c: &str| self.table.register_columns().iter().any(|x| x.name == c);
        let mut carry = vec![col("client_id")];
        let mut keys = vec!["client_id", "index_date"];
        if has("case_id") {
            carry.push(col("case_id"));
            keys.push("case_id");
        }
        if has("household_id") {
            carry.push(col("household_id"));
        }
        let rows = scan(dir, self.table)?.filter(filter_expr(&self.filter).and(date_expr(&self.date).is_not_null()));
        let date = self.date.join(" or ");
        let (entries, what) = match self.spell {
            None => {
                let mut pick = carry.clone();
                pick.push(date_expr(&self.date).alias("index_date"));
                (rows.select(pick), format!("entries: rows of {} with {date}", self.table.name))
            }
            Some((by, months)) => (
                spells(rows, &self.date, by, months, &carry, self.table.register_key())?,
                format!("entries: spells of {} by {by} reaching their month {months} ({date})", self.table.name),
            ),
        };
        let mut lf = step(what, entries)?;
        lf = if self.every {
            let names: Vec<PlSmallStr> = keys.iter().map(|k| PlSmallStr::from(*k)).collect();
            lf.unique_stable(Some(Selector::ByName { names: names.into(), strict: true }), UniqueKeepStrategy::First)
        } else {
            let first = col("index_date").min();
            let mut aggs = vec![first];
            aggs.extend(
                carry.iter().skip(1).map(|c| c.clone().sort_by([col("index_date")], Default::default()).first()),
            );
            lf.group_by([col("client_id")]).agg(aggs)
        };
        let kept = if self.every { "one entry per client, day and case" } else { "each client's first entry (ever)" };
        lf = step(kept.into(), lf.sort(keys.clone(), Default::default()))?;
        if !has("household_id") {
            let clients =
                scan(dir, schema::table("clients").expect("clients"))?.select([col("client_id"), col("household_id")]);
            let mut args = JoinArgs::new(JoinType::Left);
            args.maintain_order = MaintainOrderJoin::Left;
            lf = lf.join(clients, [col("client_id")], [col("client_id")], args);
        }
        let alone = concat_str([lit("client:"), col("client_id")], "", false);
        lf = lf.with_column(col("household_id").fill_null(alone));
        if self.from.is_some() || self.to.is_some() {
            let d = col("index_date").cast(DataType::Int32);
            let lo = self.from.map_or(lit(true), |f| d.clone().gt_eq(lit(day_number(f))));
            let hi = self.to.map_or(lit(true), |t| d.lt_eq(lit(day_number(t))));
            lf = step("index date in the enrolment period".into(), lf.filter(lo.and(hi)))?;
        }
        if let Some([lo, hi]) = self.age {
            let clients =
                scan(dir, schema::table("clients").expect("clients"))?.select([col("client_id"), col("birth_year")]);
            let age = col("index_date").dt().year() - col("birth_year");
            let mut args = JoinArgs::new(JoinType::Inner);
            args.maintain_order = MaintainOrderJoin::Left;
            lf = lf
                .join(clients, [col("client_id")], [col("client_id")], args)
                .filter(age.clone().gt_eq(lit(lo)).and(age.lt_eq(lit(hi))))
                .drop(Selector::ByName { names: ["birth_year".into()].into(), strict: true })
                .sort(keys.clone(), Default::default());
            lf = step(format!("aged {lo} to {hi} at the index date"), lf)?;
        }
        lf = compute(dir, as_of, lf, &self.variables)?;
        for (r, _) in &self.require {
            let v = col(r.variable.as_str());
            let keep = match (r.at_least, r.at_most, r.is) {
                (lo, hi, None) => {
                    let v = v.cast(DataType::Float64);
                    let a = lo.map_or(lit(true), |lo| v.clone().gt_eq(lit(lo)));
                    let b = hi.map_or(lit(true), |hi| v.lt_eq(lit(hi)));
                    a.and(b)
                }
                (_, _, Some(is)) => v.eq(lit(is)),
            };
            let what = match (r.at_least, r.at_most, r.is) {
                (Some(a), Some(b), _) => format!("{} from {a} to {b}", r.variable),
                (Some(a), None, _) => format!("{} at least {a}", r.variable),
                (None, Some(b), _) => format!("{} at most {b}", r.variable),
                (_, _, Some(is)) => format!("{} is {is}", r.variable),
                _ => unreachable!("checked"),
            };
            lf = step(what, lf.filter(keep.fill_null(lit(false))))?;
        }
        let frame = lf.collect()?;
        Ok(Members { frame, attrition })
    }
}
