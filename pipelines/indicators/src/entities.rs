//! What each indicator counts: one row per counted unit of analysis (case,
//! household, assessment pair, goal, client-period), built with polars from
//! the register's tables.
//!
//! Every kind yields rows with the same columns, so one aggregation serves
//! them all: `client_id`, `unit`, `area` (null when unknown), `anchor` (the
//! date that places the row in a period), `instrument` and `domain` (null
//! outside assessment kinds) and `y` (0/1 for proportions, the value for
//! means).

use std::collections::HashMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;

use crate::catalogue::{Catalogue, Indicator, Limit, PeriodType, RcOutcome, Spec, Step};

/// The entity tables the indicators read, as lazy scans of the register.
#[derive(Clone)]
pub struct Tables {
    pub clients: LazyFrame,
    pub cases: LazyFrame,
    pub reports: LazyFrame,
    pub assessments: LazyFrame,
    pub goals: LazyFrame,
    pub payments: LazyFrame,
    pub contacts: LazyFrame,
    pub as_of: NaiveDate,
}

impl Tables {
    pub fn scan(dir: &Path, as_of: NaiveDate) -> PolarsResult<Tables> {
        let scan = |name: &str| {
            let path = dir.join(format!("{name}.parquet"));
            LazyFrame::scan_parquet(PlRefPath::try_from_path(&path)?, ScanArgsParquet::default())
        };
        Ok(Tables {
            clients: scan("clients")?,
            cases: scan("cases")?,
            reports: scan("reports")?,
            assessments: scan("assessments")?,
            goals: scan("goals")?,
            payments: scan("payments")?,
            contacts: scan("contacts")?,
            as_of,
        })
    }
}

/// Which splits a part of an indicator's rows serves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scope {
    /// The total and every split.
    All,
    /// Every split but `unit` (rows are per client; a client may be in several units).
    NotUnit,
    /// Only the `unit` split (rows are per client and unit).
    UnitOnly,
}

/// Rows of one indicator: for all its periods, or for one period type.
pub struct Part {
    pub period: Option<PeriodType>,
    pub scope: Scope,
    pub rows: LazyFrame,
}

fn null_str() -> Expr {
    lit(NULL).cast(DataType::String)
}

/// The standard columns, in order.
fn standard(instrument: Expr, domain: Expr, y: Expr) -> Vec<Expr> {
    vec![
        col("client_id"),
        col("unit"),
        col("area"),
        col("anchor"),
        instrument.alias("instrument"),
        domain.alias("domain"),
        y.cast(DataType::Float64).alias("y"),
    ]
}

fn left() -> JoinArgs {
    JoinArgs::new(JoinType::Left)
}

fn inner() -> JoinArgs {
    JoinArgs::new(JoinType::Inner)
}

fn months(n: u32) -> Expr {
    lit(format!("{n}mo"))
}

/// The last month whose days are all on or before the as-of date, as
/// year * 12 + month - 1.
pub fn last_complete_month(as_of: NaiveDate) -> i32 {
    let idx = as_of.year() * 12 + as_of.month0() as i32;
    let month_ends = as_of.succ_opt().is_none_or(|next| next.month() != as_of.month());
    if month_ends { idx } else { idx - 1 }
}

fn month_index(e: Expr) -> Expr {
    e.clone().dt().year().cast(DataType::Int32) * lit(12) + e.dt().month().cast(DataType::Int32) - lit(1)
}

fn days(e: Expr) -> Expr {
    e.cast(DataType::Int32)
}

/// Per client, case, instrument and domain: baseline and latest assessment,
/// change and reliable change (the `baselines` table).
pub fn baselines(t: &Tables, cat: &Catalogue) -> PolarsResult<LazyFrame> {
    let order = || [col("assessed"), col("assessment_id")];
    let opts = SortMultipleOptions::default();
    let grouped =
        t.assessments.clone().group_by([col("client_id"), col("case_id"), col("instrument"), col("domain")]).agg([
            len().cast(DataType::UInt32).alias("assessments"),
            col("assessed").min().alias("baseline_date"),
            col("score").sort_by(order(), opts.clone()).first().alias("baseline_score"),
            col("assessed").max().alias("latest_date"),
            col("score").sort_by(order(), opts.clone()).last().alias("latest_score"),
        ]);
    let codes: Vec<&str> = cat.instruments.iter().map(|i| i.code.as_str()).collect();
    let instruments = df!(
        "instrument" => codes,
        "__hib" => cat.instruments.iter().map(|i| i.higher_is_better).collect::<Vec<_>>(),
        "__sdiff" => cat.instruments.iter().map(|i| i.s_diff()).collect::<Vec<_>>(),
        "__cutoff" => cat.instruments.iter().map(|i| i.cutoff).collect::<Vec<_>>(),
    )?;
    let paired = col("latest_date").gt(col("baseline_date"));
    let sign = when(col("__hib")).then(lit(1.0)).otherwise(lit(-1.0));
    let is_case = |score: Expr| {
        when(col("__hib").is_null())
            .then(lit(NULL).cast(DataType::Boolean))
            .when(col("__hib"))
            .then(score.clone().lt(col("__cutoff")))
            .otherwise(score.gt(col("__cutoff")))
    };
    let rci = col("rci");
    Ok(grouped
        .join(t.cases.clone().select([col("case_id"), col("unit")]), [col("case_id")], [col("case_id")], inner())
        .join(instruments.lazy(), [col("instrument")], [col("instrument")], left())
        .with_columns([
            paired.clone().alias("paired"),
            when(paired.clone())
                .then(col("latest_score") - col("baseline_score"))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("change"),
            is_case(col("baseline_score")).alias("case_at_baseline"),
            is_case(col("latest_score")).alias("__case_latest"),
        ])
        .with_columns([(col("change") * sign / col("__sdiff")).alias("rci")])
        .with_columns([
            rci.clone().gt(lit(1.96)).alias("reliable_improvement"),
            rci.lt(lit(-1.96)).alias("reliable_deterioration"),
            when(col("case_at_baseline").and(col("paired")))
                .then(col("__case_latest").not())
                .otherwise(lit(NULL).cast(DataType::Boolean))
                .alias("recovered"),
        ])
        .select(utfall_register::schema::BASELINES.columns.iter().map(|c| col(c.name)).collect::<Vec<_>>())
        .sort(["client_id", "case_id", "instrument", "domain"], SortMultipleOptions::default()))
}

/// Per client and case: the GAS sums over goals scored at follow-up.
fn gas_sums(t: &Tables) -> LazyFrame {
    let w = col("weight").fill_null(lit(1.0));
    let x = col("gas_score").cast(DataType::Float64);
    t.goals
        .clone()
        .filter(col("gas_score").is_not_null().and(col("followed_up").is_not_null()))
        .group_by([col("client_id"), col("case_id")])
        .agg([
            len().cast(DataType::UInt32).alias("goals"),
            col("gas_score").gt_eq(lit(0)).sum().cast(DataType::UInt32).alias("goals_met"),
            col("followed_up").max().alias("followed_up"),
            w.clone().sum().alias("__sw"),
            (w.clone() * x).sum().alias("__swx"),
            (w.clone() * w).sum().alias("__sw2"),
        ])
}

fn t_score(rho: f64) -> Expr {
    let den = (lit(1.0 - rho) * col("__sw2") + lit(rho) * col("__sw") * col("__sw")).sqrt();
    lit(50.0) + lit(10.0) * col("__swx") / den
}

/// The `goal_attainment` table (T-scores with the catalogue's rho).
pub fn goal_attainment(t: &Tables, rho: f64) -> LazyFrame {
    gas_sums(t)
        .filter(col("__sw").gt(lit(0.0)))
        .join(t.cases.clone().select([col("case_id"), col("unit")]), [col("case_id")], [col("case_id")], inner())
        .with_columns([t_score(rho).alias("t_score")])
        .select(utfall_register::schema::GOAL_ATTAINMENT.columns.iter().map(|c| col(c.name)).collect::<Vec<_>>())
        .sort(["client_id", "case_id"], SortMultipleOptions::default())
}

/// Case attributes joined onto rows that carry `case_id`.
fn case_attrs(t: &Tables) -> LazyFrame {
    t.cases.clone().select([col("case_id"), col("unit"), col("area")])
}

/// The rows an indicator counts.
pub fn rows(ind: &Indicator, t: &Tables, baselines: &LazyFrame, cat: &Catalogue) -> PolarsResult<Vec<Part>> {
    let as_of = t.as_of;
    let one = |rows: LazyFrame| Ok(vec![Part { period: None, scope: Scope::All, rows }]);
    let known_instruments: Vec<String> = match &ind.filter.instruments {
        Some(list) => list.clone(),
        None => cat.instruments.iter().map(|i| i.code.clone()).collect(),
    };
    let assessment_rows = || {
        baselines
            .clone()
            .filter(
                col("instrument").is_in(lit(Series::new("i".into(), known_instruments.clone())).implode(false), false),
            )
            .join(case_attrs(t).select([col("case_id"), col("area")]), [col("case_id")], [col("case_id")], inner())
    };
    match &ind.spec {
        Spec::NotRereferred { window_months, same_area } => {
            let closed = t
                .cases
                .clone()
                .filter(col("closed").is_not_null())
                .select([
                    col("case_id"),
                    col("client_id"),
                    col("unit"),
                    col("area"),
                    col("closed").alias("anchor"),
                    col("closed").dt().offset_by(months(*window_months)).alias("__window_end"),
                ])
                .filter(col("__window_end").lt_eq(lit(as_of)));
            let events = concat(
                [
                    t.cases.clone().select([
                        col("client_id"),
                        col("area").alias("__ev_area"),
                        col("opened").alias("__ev_date"),
                    ]),
                    t.reports
                        .clone()
                        .select([col("client_id"), col("case_id"), col("received").alias("__ev_date")])
                        .join(case_attrs(t), [col("case_id")], [col("case_id")], left())
                        .select([col("client_id"), col("area").alias("__ev_area"), col("__ev_date")]),
                ],
                UnionArgs::default(),
            )?;
            let mut back = col("__ev_date").gt(col("anchor")).and(col("__ev_date").lt_eq(col("__window_end")));
            if *same_area {
                back = back.and(col("__ev_area").is_null().or(col("__ev_area").eq(col("area"))));
            }
            let returned = closed
                .clone()
                .select([col("case_id"), col("client_id"), col("area"), col("anchor"), col("__window_end")])
                .join(events, [col("client_id")], [col("client_id")], inner())
                .filter(back)
                .select([col("case_id")])
                .unique(None, UniqueKeepStrategy::Any)
                .with_columns([lit(true).alias("__back")]);
            one(closed.join(returned, [col("case_id")], [col("case_id")], left()).select(standard(
                null_str(),
                null_str(),
                col("__back").is_null(),
            )))
        }
        Spec::LongTermAssistance { min_months } => {
            let last_year = (last_complete_month(as_of) + 1).div_euclid(12) - 1;
            let by = [col("month"), col("payment_id")];
            let opts = SortMultipleOptions::default();
            one(t
                .payments
                .clone()
                .with_columns([col("month").dt().year().cast(DataType::Int32).alias("__year")])
                .filter(col("__year").lt_eq(lit(last_year)))
                .group_by([col("household_id"), col("__year")])
                .agg([
                    col("month").n_unique().alias("__months"),
                    col("client_id").sort_by(by.clone(), opts.clone()).last(),
                    col("case_id").sort_by(by, opts).last(),
                    col("month").min().dt().truncate(lit("1y")).alias("anchor"),
                ])
                .join(case_attrs(t), [col("case_id")], [col("case_id")], inner())
                .select(standard(null_str(), null_str(), col("__months").gt_eq(lit(*min_months)))))
        }
        Spec::SelfSufficiency { months: n } => {
            let by = [col("payment_id")];
            let opts = SortMultipleOptions::default();
            let n = *n as i32;
            one(t
                .payments
                .clone()
                .group_by([col("household_id"), col("month")])
                .agg([
                    col("client_id").sort_by(by.clone(), opts.clone()).last(),
                    col("case_id").sort_by(by, opts).last(),
                ])
                .with_columns([month_index(col("month")).alias("__m")])
                .sort(["household_id", "month"], SortMultipleOptions::default())
                .with_columns([col("__m").shift(lit(-1)).over([col("household_id")])?.alias("__next")])
                // An exit: the month after a paid month is unpaid.
                .filter(col("__next").is_null().or(col("__next").gt(col("__m") + lit(1))))
                .filter((col("__m") + lit(n)).lt_eq(lit(last_complete_month(as_of))))
                .with_columns([col("month").dt().offset_by(lit("1mo")).alias("anchor")])
                .join(case_attrs(t), [col("case_id")], [col("case_id")], inner())
                .select(standard(
                    null_str(),
                    null_str(),
                    col("__next").is_null().or(col("__next").gt(col("__m") + lit(n))),
                )))
        }
        Spec::BaselineMean => one(assessment_rows()
            .with_columns([col("baseline_date").alias("anchor")])
            .select(standard(col("instrument"), col("domain"), col("baseline_score")))),
        Spec::MeanChange => one(assessment_rows()
            .filter(col("paired"))
            .with_columns([col("latest_date").alias("anchor")])
            .select(standard(col("instrument"), col("domain"), col("change")))),
        Spec::ReliableChange { outcome } => {
            let (keep, y) = match outcome {
                RcOutcome::Improvement => (col("paired"), col("reliable_improvement")),
                RcOutcome::Deterioration => (col("paired"), col("reliable_deterioration")),
                RcOutcome::Recovery => (col("paired").and(col("case_at_baseline")), col("recovered")),
            };
            one(assessment_rows()
                .filter(keep.and(col("rci").is_not_null()))
                .with_columns([col("latest_date").alias("anchor")])
                .select(standard(col("instrument"), col("domain"), y)))
        }
        Spec::GasTScore { rho } => one(gas_sums(t)
            .filter(col("__sw").gt(lit(0.0)))
            .join(case_attrs(t), [col("case_id")], [col("case_id")], inner())
            .with_columns([col("followed_up").alias("anchor")])
            .select(standard(null_str(), null_str(), t_score(*rho)))),
        Spec::GoalsMet => one(t
            .goals
            .clone()
            .filter(col("gas_score").is_not_null().and(col("followed_up").is_not_null()))
            .join(case_attrs(t), [col("case_id")], [col("case_id")], inner())
            .with_columns([col("followed_up").alias("anchor")])
            .select(standard(null_str(), null_str(), col("gas_score").gt_eq(lit(0))))),
        Spec::DaysToDecision => {
            let first = t.reports.clone().filter(col("case_id").is_not_null()).group_by([col("case_id")]).agg([col(
                "received",
            )
            .min()
            .alias("__first")]);
            one(t
                .cases
                .clone()
                .filter(col("decided").is_not_null())
                .join(first, [col("case_id")], [col("case_id")], left())
                .with_columns([
                    col("decided").alias("anchor"),
                    polars::lazy::dsl::min_horizontal([col("__first"), col("opened")])?.alias("__start"),
                ])
                .select(standard(null_str(), null_str(), days(col("decided")) - days(col("__start")))))
        }
        Spec::Timeliness { step, limit } => {
            let deadline = |start: Expr| match limit {
                Limit::Days(d) => (days(start) + lit(*d as i32)).cast(DataType::Date),
                Limit::Months(m) => start.dt().offset_by(months(*m)),
            };
            let rows = match step {
                Step::PreliminaryAssessment => t
                    .reports
                    .clone()
                    .filter(col("kind").eq(lit("report")).and(col("case_id").is_not_null()))
                    .join(
                        t.cases.clone().select([col("case_id"), col("unit"), col("area"), col("opened")]),
                        [col("case_id")],
                        [col("case_id")],
                        inner(),
                    )
                    // The report that opened the case (later reports join the ongoing case).
                    .filter(col("received").lt_eq(col("opened")))
                    .with_columns([col("received").alias("anchor"), deadline(col("received")).alias("__deadline")])
                    .filter(col("prelim_decided").is_not_null().or(col("__deadline").lt_eq(lit(as_of))))
                    .select(standard(
                        null_str(),
                        null_str(),
                        col("prelim_decided").is_not_null().and(col("prelim_decided").lt_eq(col("__deadline"))),
                    )),
                Step::Investigation => t
                    .cases
                    .clone()
                    .filter(col("investigation_started").is_not_null())
                    .with_columns([
                        col("investigation_started").alias("anchor"),
                        deadline(col("investigation_started")).alias("__deadline"),
                    ])
                    .filter(col("decided").is_not_null().or(col("__deadline").lt_eq(lit(as_of))))
                    .select(standard(
                        null_str(),
                        null_str(),
                        col("decided").is_not_null().and(col("decided").lt_eq(col("__deadline"))),
                    )),
            };
            one(rows)
        }
        Spec::ContactsPerCase { channels } => {
            let per_case = t
                .contacts
                .clone()
                .filter(col("channel").is_in(lit(Series::new("c".into(), channels.clone())).implode(false), false))
                .group_by([col("case_id")])
                .agg([len().alias("__contacts")]);
            one(t
                .cases
                .clone()
                .filter(col("closed").is_not_null())
                .join(per_case, [col("case_id")], [col("case_id")], left())
                .with_columns([col("closed").alias("anchor")])
                .select(standard(null_str(), null_str(), col("__contacts").fill_null(lit(0)))))
        }
        Spec::MultiUnitClients { min_units } => multi_unit(ind, t, *min_units),
    }
}

/// Clients with an open case in a period, and whether they had open cases in
/// `min_units` or more units in it. Expanded per period type in plain Rust:
/// a case spans many periods.
fn multi_unit(ind: &Indicator, t: &Tables, min_units: u32) -> PolarsResult<Vec<Part>> {
    let mut cases = t.cases.clone();
    if let Some(areas) = &ind.filter.areas {
        cases = cases.filter(col("area").is_in(lit(Series::new("a".into(), areas.clone())).implode(false), false));
    }
    let df = cases
        .select([
            col("client_id"),
            col("unit"),
            month_index(col("opened")).alias("from"),
            month_index(col("closed").fill_null(lit(t.as_of))).alias("to"),
        ])
        .collect()?;
    let clients = df.column("client_id")?.str()?;
    let units = df.column("unit")?.str()?;
    let from = df.column("from")?.i32()?;
    let to = df.column("to")?.i32()?;
    let mut client_ix: HashMap<&str, u32> = HashMap::new();
    let mut client_names: Vec<&str> = Vec::new();
    let mut unit_ix: HashMap<&str, u32> = HashMap::new();
    let mut unit_names: Vec<&str> = Vec::new();
    let mut spans = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let (Some(c), Some(u), Some(f), Some(e)) = (clients.get(i), units.get(i), from.get(i), to.get(i)) else {
            continue;
        };
        let ci = *client_ix.entry(c).or_insert_with(|| {
            client_names.push(c);
            client_names.len() as u32 - 1
        });
        let ui = *unit_ix.entry(u).or_insert_with(|| {
            unit_names.push(u);
            unit_names.len() as u32 - 1
        });
        spans.push((ci, ui, f, e.max(f)));
    }
    let mut parts = Vec::new();
    for &p in &ind.periods {
        let step = p.months();
        // (period index, client, unit), one per case-period, deduplicated.
        let mut cells: Vec<(i32, u32, u32)> = Vec::new();
        for &(c, u, f, e) in &spans {
            let mut k = f.div_euclid(step);
            while k <= e.div_euclid(step) {
                cells.push((k, c, u));
                k += 1;
            }
        }
        cells.sort_unstable();
        cells.dedup();
        let (mut c_client, mut c_anchor, mut c_y) = (Vec::new(), Vec::new(), Vec::new());
        let (mut u_client, mut u_unit, mut u_anchor, mut u_y) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut i = 0;
        while i < cells.len() {
            let (k, c, _) = cells[i];
            let mut j = i;
            while j < cells.len() && cells[j].0 == k && cells[j].1 == c {
                j += 1;
            }
            let y = if (j - i) as u32 >= min_units { 1.0 } else { 0.0 };
            let m = k * step;
            let anchor = NaiveDate::from_ymd_opt(m.div_euclid(12), (m.rem_euclid(12) + 1) as u32, 1).unwrap();
            c_client.push(client_names[c as usize]);
            c_anchor.push(anchor);
            c_y.push(y);
            for cell in &cells[i..j] {
                u_client.push(client_names[c as usize]);
                u_unit.push(unit_names[cell.2 as usize]);
                u_anchor.push(anchor);
                u_y.push(y);
            }
            i = j;
        }
        let n = c_client.len();
        let by_client = df!(
            "client_id" => c_client,
            "unit" => vec![""; n],
            "anchor" => c_anchor,
            "y" => c_y,
        )?;
        let by_unit = df!("client_id" => u_client, "unit" => u_unit, "anchor" => u_anchor, "y" => u_y)?;
        let shape = |f: DataFrame| {
            f.lazy().with_columns([null_str().alias("area")]).select(standard(null_str(), null_str(), col("y")))
        };
        parts.push(Part { period: Some(p), scope: Scope::NotUnit, rows: shape(by_client) });
        parts.push(Part { period: Some(p), scope: Scope::UnitOnly, rows: shape(by_unit) });
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_complete_month_is_the_as_of_month_only_at_its_end() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(last_complete_month(d(2025, 12, 31)), 2025 * 12 + 11);
        assert_eq!(last_complete_month(d(2025, 12, 30)), 2025 * 12 + 10);
        assert_eq!(last_complete_month(d(2024, 2, 29)), 2024 * 12 + 1);
        assert_eq!(last_complete_month(d(2025, 1, 15)), 2024 * 12 + 11);
    }
}
