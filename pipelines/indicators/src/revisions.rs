//! The revision report (`revisions`): every published figure that changed
//! since the previous build, by how much, and why.
//!
//! A figure is a cell of `indicators_public` present in both builds; it is
//! revised when its published `n` or `value` (or its definition version)
//! differs. Its reasons come from what changed between the builds:
//! `row_changes` (rows added, changed, removed per month, written by the
//! build) over the cell's period give `late_rows`, `corrections` and
//! `withdrawals`; changes only before or after the period give
//! `earlier_events` / `later_events` (windows reaching outside the period,
//! such as re-referral within 12 months); a new definition version gives
//! `definition`; a value withheld in one build and not the other
//! `disclosure_control`; another export date `as_of`. A revision nothing
//! explains is `unexplained` (and warned about when its period was closed).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Months, NaiveDate};
use polars::prelude::*;
use utfall_register::scan::{conform, scan_derived};
use utfall_register::schema::{INDICATORS_PUBLIC, REVISIONS};
use utfall_register::store::Manifest;

use crate::catalogue::KindName;

/// Row changes per table and month: (added, changed, removed); month `None`
/// is a client (no date of its own).
type ByMonth = BTreeMap<(String, Option<i32>), (u64, u64, u64)>;

/// What the previous build published and what changed since, for [`revisions`].
pub struct Previous<'a> {
    pub dir: &'a Path,
    pub manifest: &'a Manifest,
    /// The build's `row_changes` against `dir` (none when the entity tables are the same).
    pub changes: Option<DataFrame>,
}

/// The revised figures of `public` (this build's `indicators_public`) against `previous`.
pub fn revisions(public: &DataFrame, previous: &Previous, as_of: &str) -> PolarsResult<(DataFrame, Vec<String>)> {
    let empty = || DataFrame::empty_with_schema(&REVISIONS.schema());
    if !previous.dir.join(INDICATORS_PUBLIC.file_name()).exists() {
        return Ok((empty(), Vec::new()));
    }
    let key = ["indicator_id", "instrument", "domain", "period_type", "period", "split", "split_value"];
    let old = scan_derived(previous.dir, &INDICATORS_PUBLIC)?.select(
        key.iter()
            .map(|c| col(*c))
            .chain([
                col("version").alias("version_before"),
                col("n").alias("n_before"),
                col("value").alias("value_before"),
            ])
            .collect::<Vec<_>>(),
    );
    let mut args = JoinArgs::new(JoinType::Inner);
    args.nulls_equal = true;
    let keys: Vec<Expr> = key.iter().map(|c| col(*c)).collect();
    let joined = public
        .clone()
        .lazy()
        .join(old, keys.clone(), keys, args)
        .filter(
            col("n")
                .eq_missing(col("n_before"))
                .not()
                .or(col("value").eq_missing(col("value_before")).not())
                .or(col("version").neq(col("version_before"))),
        )
        .sort(["indicator_id", "period_type", "period_start", "split", "split_value"], SortMultipleOptions::default())
        .collect()?;
    if joined.height() == 0 {
        return Ok((empty(), Vec::new()));
    }
    let by_month = by_month(previous.changes.as_ref())?;
    let closed_by = previous
        .manifest
        .data_to
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map(|d| d + chrono::Days::new(1));
    let other_as_of = previous.manifest.as_of != as_of;
    let i32s = |c: &str| -> PolarsResult<Vec<Option<i32>>> {
        Ok(joined.column(c)?.cast(&DataType::Int32)?.i32()?.iter().collect())
    };
    let i64s = |c: &str| -> PolarsResult<Vec<Option<i64>>> { Ok(joined.column(c)?.i64()?.iter().collect()) };
    let f64s = |c: &str| -> PolarsResult<Vec<Option<f64>>> { Ok(joined.column(c)?.f64()?.iter().collect()) };
    let strs = |c: &str| -> PolarsResult<Vec<String>> {
        Ok(joined.column(c)?.str()?.iter().map(|v| v.unwrap_or("").to_string()).collect())
    };
    let (starts, types, ids, periods) =
        (i32s("period_start")?, strs("period_type")?, strs("indicator_id")?, strs("period")?);
    let kinds = strs("kind")?;
    let (version, version_before) = (i32s("version")?, i32s("version_before")?);
    let (n, n_before, value, value_before) = (i64s("n")?, i64s("n_before")?, f64s("value")?, f64s("value_before")?);
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    let mut reasons = Vec::new();
    let mut closed = Vec::new();
    let mut change = Vec::new();
    let mut warnings = Vec::new();
    for i in 0..joined.height() {
        let start = epoch + chrono::Days::new(starts[i].unwrap_or(0) as u64);
        let months = match types[i].as_str() {
            "month" => 1,
            "quarter" => 3,
            _ => 12,
        };
        let end = start + Months::new(months);
        let (s, e) = ((start - epoch).num_days() as i32, (end - epoch).num_days() as i32);
        let mut r: Vec<&str> = Vec::new();
        if version[i] != version_before[i] {
            r.push("definition");
        }
        let (mut inside, mut before, mut after) = ((0, 0, 0), false, false);
        // The tables the indicator's kind reads (all, for a kind not known here).
        let tables = KindName::named(&kinds[i]).map(KindName::tables);
        for ((table, m), (a, c, d)) in &by_month {
            if tables.is_some_and(|t| !t.contains(&table.as_str())) {
                continue;
            }
            match m {
                Some(m) if *m < s => before = true,
                Some(m) if *m >= e => after = true,
                Some(_) => {
                    inside.0 += a;
                    inside.1 += c;
                    inside.2 += d;
                }
                // A client's attributes (district, birth year) count in every
                // period; a new client counts through its events.
                None => {
                    inside.1 += c;
                    inside.2 += d;
                }
            }
        }
        if inside.0 > 0 {
            r.push("late_rows");
        }
        if inside.1 > 0 {
            r.push("corrections");
        }
        if inside.2 > 0 {
            r.push("withdrawals");
        }
        if inside == (0, 0, 0) {
            if before {
                r.push("earlier_events");
            }
            if after {
                r.push("later_events");
            }
        }
        if n[i].is_none() != n_before[i].is_none() || value[i].is_none() != value_before[i].is_none() {
            r.push("disclosure_control");
        }
        if other_as_of {
            r.push("as_of");
        }
        let is_closed = closed_by.is_some_and(|c| end <= c);
        if r.is_empty() {
            r.push("unexplained");
            if is_closed {
                warnings.push(format!(
                    "{} {}: a published figure of a closed period changed and nothing recorded explains it",
                    ids[i], periods[i]
                ));
            }
        }
        reasons.push(r.join(","));
        closed.push(is_closed);
        change.push(match (value[i], value_before[i]) {
            (Some(a), Some(b)) => Some(a - b),
            _ => None,
        });
    }
    let with = joined
        .lazy()
        .with_columns([
            lit(Series::new("reasons".into(), reasons)).alias("reasons"),
            lit(Series::new("closed".into(), closed)).alias("closed"),
            lit(Series::new("change".into(), change)).alias("change"),
            lit(previous.manifest.build_id.clone()).alias("previous_build"),
        ])
        .collect()?;
    Ok((conform(with, &REVISIONS)?, warnings))
}

/// `row_changes` summed per month over tables and sources.
fn by_month(changes: Option<&DataFrame>) -> PolarsResult<ByMonth> {
    let mut out = ByMonth::new();
    let Some(df) = changes else { return Ok(out) };
    let g =
        df.clone().lazy().group_by([col("table"), col("period"), col("change")]).agg([col("rows").sum()]).collect()?;
    let table = g.column("table")?.str()?.clone();
    let period = g.column("period")?.cast(&DataType::Int32)?;
    let period = period.i32()?;
    let change = g.column("change")?.str()?.clone();
    let rows = g.column("rows")?.cast(&DataType::UInt64)?;
    let rows = rows.u64()?;
    for i in 0..g.height() {
        let e = out.entry((table.get(i).unwrap_or("").to_string(), period.get(i))).or_default();
        let r = rows.get(i).unwrap_or(0);
        match change.get(i) {
            Some("added") => e.0 += r,
            Some("changed") => e.1 += r,
            _ => e.2 += r,
        }
    }
    Ok(out)
}
