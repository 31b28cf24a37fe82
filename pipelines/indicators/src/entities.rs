//! What each indicator counts: one row per counted unit of analysis (case,
//! household, assessment pair, goal, client-period), built with polars from
//! the register's tables.
//!
//! Every kind yields rows with the same columns, so one aggregation serves
//! them all: `client_id`, `unit`, `area`, the client's `district`, `sex` and
//! `birth_year`, `anchor` (the date that places the row in a period),
//! `instrument` and `domain` (null outside assessment kinds) and `y` (0/1
//! for proportions, the value for means).
//!
//! Every row comes through a case, and the register guarantees that a row's
//! client is its case's client: so the client's attributes are joined onto
//! `cases` once ([`Tables::with_client_attributes`]) and reach every row with
//! the case.

use std::path::Path;

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;

pub(crate) use utfall_register::scan::one_of;
use utfall_register::scan::scan;
use utfall_register::schema;

use crate::catalogue::{Catalogue, Indicator, Limit, RcOutcome, Spec, Step};

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
    pub interventions: LazyFrame,
    /// Contacts per case and channel (what contact indicators need).
    pub contact_counts: LazyFrame,
    pub as_of: NaiveDate,
}

impl Tables {
    /// Read clients and cases into memory, with the client's district, sex
    /// and birth year on every case (what every indicator's rows need).
    pub fn with_client_attributes(mut self) -> PolarsResult<Tables> {
        let clients =
            self.clients.select([col("client_id"), col("district"), col("sex"), col("birth_year")]).collect()?;
        self.cases = self
            .cases
            .join(clients.clone().lazy(), [col("client_id")], [col("client_id")], JoinArgs::new(JoinType::Inner))
            .collect()?
            .lazy();
        self.clients = clients.lazy();
        Ok(self)
    }

    pub fn scan(dir: &Path, as_of: NaiveDate) -> PolarsResult<Tables> {
        Ok(Tables {
            clients: scan(dir, &schema::CLIENTS)?,
            cases: scan(dir, &schema::CASES)?,
            reports: scan(dir, &schema::REPORTS)?,
            assessments: scan(dir, &schema::ASSESSMENTS)?,
            goals: scan(dir, &schema::GOALS)?,
            payments: scan(dir, &schema::PAYMENTS)?,
            contacts: scan(dir, &schema::CONTACTS)?,
            interventions: scan(dir, &schema::INTERVENTIONS)?,
            contact_counts: scan(dir, &schema::CONTACTS)?
                .group_by([col("case_id"), col("channel")])
                .agg([len().cast(DataType::Int64).alias("contacts")]),
            as_of,
        })
    }
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
        col("district"),
        col("sex"),
        col("birth_year"),
        col("anchor"),
        instrument.alias("instrument"),
        domain.alias("domain"),
        y.cast(DataType::Float64).alias("y"),
    ]
}

/// A left join on equal keys.
pub fn left() -> JoinArgs {
    JoinArgs::new(JoinType::Left)
}

/// An inner join on equal keys.
pub fn inner() -> JoinArgs {
    JoinArgs::new(JoinType::Inner)
}

/// A duration of `n` calendar months, for `dt().offset_by`.
pub fn months(n: u32) -> Expr {
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
    // Sorted by date (then id) within each group; group-by keeps the order
    // of rows within a group, so first and last are the baseline and latest.
    let grouped = t
        .assessments
        .clone()
        .sort(
            ["client_id", "case_id", "instrument", "domain", "assessed", "assessment_id"],
            SortMultipleOptions::default(),
        )
        .group_by([col("client_id"), col("case_id"), col("instrument"), col("domain")])
        .agg([
            len().cast(DataType::UInt32).alias("assessments"),
            col("assessed").first().alias("baseline_date"),
            col("score").first().alias("baseline_score"),
            col("assessed").last().alias("latest_date"),
            col("score").last().alias("latest_score"),
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

/// Months with income support per household and calendar year, for the
/// years that have ended by the as-of date: `household_id`, `year`,
/// `months`, `client_id` and `case_id` of the year's latest payment (the
/// household is counted under them), `anchor` (1 January). Sorted by month
/// (then id) before grouping, so "latest" is well defined. The rows behind
/// the `long_term_assistance` indicators and the risk model's household-years.
pub fn assistance_years(t: &Tables) -> LazyFrame {
    let last_year = (last_complete_month(t.as_of) + 1).div_euclid(12) - 1;
    t.payments
        .clone()
        .select([col("household_id"), col("month"), col("payment_id"), col("client_id"), col("case_id")])
        .with_columns([col("month").dt().year().cast(DataType::Int32).alias("year")])
        .filter(col("year").lt_eq(lit(last_year)))
        .sort(["household_id", "month", "payment_id"], SortMultipleOptions::default())
        .group_by([col("household_id"), col("year")])
        .agg([
            col("month").n_unique().alias("months"),
            col("client_id").last(),
            col("case_id").last(),
            col("month").first().dt().truncate(lit("1y")).alias("anchor"),
        ])
}

/// Long-term financial assistance (Socialstyrelsen): support in at least
/// `min_months` of a year's 12 months (the catalogue's `min_months`, 10).
pub fn long_term(months: Expr, min_months: u32) -> Expr {
    months.gt_eq(lit(min_months))
}

/// Case attributes joined onto rows that carry `case_id`.
/// The cases of `closed` (columns `case_id`, `client_id`, `area`, `closed`)
/// whose client came back within `window_months` of closure: a new case
/// opened, or a report received, after the closure date and within the
/// window (in the same area when `same_area`; a report on no case counts in
/// any area). One row per such case: `case_id`, `__back` (true). The
/// definition behind `not_rereferred` indicators and the risk model's label.
pub fn rereferred(t: &Tables, closed: LazyFrame, window_months: u32, same_area: bool) -> PolarsResult<LazyFrame> {
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
    let window_end = col("closed").dt().offset_by(months(window_months));
    let mut back = col("__ev_date").gt(col("closed")).and(col("__ev_date").lt_eq(window_end));
    if same_area {
        back = back.and(col("__ev_area").is_null().or(col("__ev_area").eq(col("area"))));
    }
    Ok(closed
        .select([col("case_id"), col("client_id"), col("area"), col("closed")])
        .join(events, [col("client_id")], [col("client_id")], inner())
        .filter(back)
        .select([col("case_id")])
        .unique(None, UniqueKeepStrategy::Any)
        .with_columns([lit(true).alias("__back")]))
}

fn case_attrs(t: &Tables) -> LazyFrame {
    t.cases.clone().select([col("case_id"), col("unit"), col("area"), col("district"), col("sex"), col("birth_year")])
}

/// The rows an indicator counts. They depend on its kind and parameters
/// (and instruments), not on its area and age filters, which the
/// aggregation applies: indicators that differ only in population share them.
/// `multi_unit_clients` has no row per anchor date: see [`multi_unit_spans`].
pub fn rows(ind: &Indicator, t: &Tables, baselines: &LazyFrame, cat: &Catalogue) -> PolarsResult<LazyFrame> {
    let as_of = t.as_of;
    let known_instruments: Vec<String> = match &ind.filter.instruments {
        Some(list) => list.clone(),
        None => cat.instruments.iter().map(|i| i.code.clone()).collect(),
    };
    let assessment_rows = || {
        baselines.clone().filter(one_of(col("instrument"), &known_instruments)).join(
            case_attrs(t).drop(Selector::ByName { names: Arc::new(["unit".into()]), strict: true }),
            [col("case_id")],
            [col("case_id")],
            inner(),
        )
    };
    match &ind.spec {
        Spec::NotRereferred { window_months, same_area } => {
            let closed = t
                .cases
                .clone()
                .filter(col("closed").is_not_null())
                .with_columns([col("closed").alias("anchor")])
                .filter(col("closed").dt().offset_by(months(*window_months)).lt_eq(lit(as_of)));
            let returned = rereferred(t, closed.clone(), *window_months, *same_area)?;
            Ok(closed.join(returned, [col("case_id")], [col("case_id")], left()).select(standard(
                null_str(),
                null_str(),
                col("__back").is_null(),
            )))
        }
        Spec::LongTermAssistance { min_months } => Ok(assistance_years(t)
            .join(case_attrs(t), [col("case_id")], [col("case_id")], inner())
            .select(standard(null_str(), null_str(), long_term(col("months"), *min_months)))),
        Spec::SelfSufficiency { months: n } => Ok(self_sufficiency(t, *n)),
        Spec::BaselineMean => Ok(assessment_rows()
            .with_columns([col("baseline_date").alias("anchor")])
            .select(standard(col("instrument"), col("domain"), col("baseline_score")))),
        Spec::MeanChange => Ok(assessment_rows()
            .filter(col("paired"))
            .with_columns([col("latest_date").alias("anchor")])
            .select(standard(col("instrument"), col("domain"), col("change")))),
        Spec::ReliableChange { outcome } => {
            let (keep, y) = match outcome {
                RcOutcome::Improvement => (col("paired"), col("reliable_improvement")),
                RcOutcome::Deterioration => (col("paired"), col("reliable_deterioration")),
                RcOutcome::Recovery => (col("paired").and(col("case_at_baseline")), col("recovered")),
            };
            Ok(assessment_rows()
                .filter(keep.and(col("rci").is_not_null()))
                .with_columns([col("latest_date").alias("anchor")])
                .select(standard(col("instrument"), col("domain"), y)))
        }
        Spec::GasTScore { rho } => Ok(gas_sums(t)
            .filter(col("__sw").gt(lit(0.0)))
            .join(case_attrs(t), [col("case_id")], [col("case_id")], inner())
            .with_columns([col("followed_up").alias("anchor")])
            .select(standard(null_str(), null_str(), t_score(*rho)))),
        Spec::GoalsMet => Ok(t
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
            Ok(t.cases
                .clone()
                .filter(col("decided").is_not_null())
                .join(first, [col("case_id")], [col("case_id")], left())
                .with_columns([
                    col("decided").alias("anchor"),
                    polars::lazy::dsl::min_horizontal([col("__first"), col("opened")])?.alias("__start"),
                ])
                .select(standard(null_str(), null_str(), days(col("decided")) - days(col("__start")))))
        }
        Spec::Timeliness { step, limit } => Ok(timeliness(t, step, limit)),
        Spec::ContactsPerCase { channels } => {
            let per_case = t
                .contact_counts
                .clone()
                .filter(one_of(col("channel"), channels))
                .group_by([col("case_id")])
                .agg([col("contacts").sum().alias("__contacts")]);
            Ok(t.cases
                .clone()
                .filter(col("closed").is_not_null())
                .join(per_case, [col("case_id")], [col("case_id")], left())
                .with_columns([col("closed").alias("anchor")])
                .select(standard(null_str(), null_str(), col("__contacts").fill_null(lit(0)))))
        }
        Spec::ChannelShare { report_kind, channels } => Ok(t
            .reports
            .clone()
            .filter(col("kind").eq(lit(report_kind.as_str())).and(col("channel").is_not_null()))
            .join(case_attrs(t), [col("case_id")], [col("case_id")], inner())
            .with_columns([col("received").alias("anchor")])
            .select(standard(null_str(), null_str(), one_of(col("channel"), channels)))),
        Spec::MultiUnitClients { .. } => {
            Err(PolarsError::ComputeError("multi_unit_clients rows come from multi_unit_spans".into()))
        }
        Spec::CaseworkersPerCase { months: n } => {
            let opened = t
                .cases
                .clone()
                .filter(col("opened").dt().offset_by(months(*n)).lt_eq(lit(as_of)))
                .select([col("case_id"), col("opened")]);
            let records = concat(
                [
                    t.contacts.clone().select([col("case_id"), col("caseworker_id"), col("date").alias("__d")]),
                    t.assessments.clone().select([col("case_id"), col("caseworker_id"), col("assessed").alias("__d")]),
                    t.interventions.clone().select([col("case_id"), col("caseworker_id"), col("decided").alias("__d")]),
                ],
                UnionArgs::default(),
            )?;
            let per_case = records
                .filter(col("caseworker_id").is_not_null())
                .join(opened, [col("case_id")], [col("case_id")], inner())
                .filter(col("__d").gt_eq(col("opened")).and(col("__d").lt(col("opened").dt().offset_by(months(*n)))))
                .group_by([col("case_id")])
                .agg([col("caseworker_id").n_unique().cast(DataType::Float64).alias("__workers")]);
            Ok(t.cases
                .clone()
                .join(per_case, [col("case_id")], [col("case_id")], inner())
                .with_columns([col("opened").alias("anchor")])
                .select(standard(null_str(), null_str(), col("__workers"))))
        }
        Spec::RepeatInvestigation { window_months } => {
            let started = t.cases.clone().filter(col("investigation_started").is_not_null()).select([
                col("case_id"),
                col("client_id"),
                col("area"),
                col("investigation_started"),
            ]);
            let earlier = started
                .clone()
                .join(
                    started.clone().select([
                        col("case_id").alias("__other"),
                        col("client_id"),
                        col("area"),
                        col("investigation_started").alias("__before"),
                    ]),
                    [col("client_id"), col("area")],
                    [col("client_id"), col("area")],
                    inner(),
                )
                .filter(
                    col("__other").neq(col("case_id")).and(col("__before").lt(col("investigation_started"))).and(
                        col("__before")
                            .gt_eq(col("investigation_started").dt().offset_by(lit(format!("-{window_months}mo")))),
                    ),
                )
                .select([col("case_id")])
                .unique(None, UniqueKeepStrategy::Any)
                .with_columns([lit(true).alias("__again")]);
            Ok(t.cases
                .clone()
                .filter(col("investigation_started").is_not_null())
                .join(earlier, [col("case_id")], [col("case_id")], left())
                .with_columns([col("investigation_started").alias("anchor")])
                .select(standard(null_str(), null_str(), col("__again").is_not_null())))
        }
    }
}

/// Self-sufficiency: households leaving assistance (a paid month followed by
/// an unpaid one), counted when no month is paid in the next `n`.
fn self_sufficiency(t: &Tables, n: u32) -> LazyFrame {
    let as_of = t.as_of;
    let n = n as i32;
    let same_household = col("household_id").eq(col("household_id").shift(lit(-1)));
    t.payments
        .clone()
        .select([col("household_id"), col("month"), col("payment_id"), col("client_id"), col("case_id")])
        .sort(["household_id", "month", "payment_id"], SortMultipleOptions::default())
        .with_columns([month_index(col("month")).alias("__m")])
        // The last payment of each household and month (its client and case).
        .filter(same_household.clone().not().or(col("__m").neq(col("__m").shift(lit(-1)))).fill_null(lit(true)))
        .with_columns([when(same_household.fill_null(lit(false)))
            .then(col("__m").shift(lit(-1)))
            .otherwise(lit(NULL).cast(DataType::Int32))
            .alias("__next")])
        // An exit: the month after a paid month is unpaid.
        .filter(col("__next").is_null().or(col("__next").gt(col("__m") + lit(1))))
        .filter((col("__m") + lit(n)).lt_eq(lit(last_complete_month(as_of))))
        .with_columns([col("month").dt().offset_by(lit("1mo")).alias("anchor")])
        .join(case_attrs(t), [col("case_id")], [col("case_id")], inner())
        .select(standard(null_str(), null_str(), col("__next").is_null().or(col("__next").gt(col("__m") + lit(n)))))
}

/// Timeliness: the step done within its limit, counted once the deadline
/// has passed or the step is done.
fn timeliness(t: &Tables, step: &Step, limit: &Limit) -> LazyFrame {
    let as_of = t.as_of;
    let deadline = |start: Expr| match limit {
        Limit::Days(d) => (days(start) + lit(*d as i32)).cast(DataType::Date),
        Limit::Months(m) => start.dt().offset_by(months(*m)),
    };
    match step {
        Step::PreliminaryAssessment => t
            .reports
            .clone()
            .filter(col("kind").eq(lit("report")).and(col("case_id").is_not_null()))
            .join(
                case_attrs(t).join(
                    t.cases.clone().select([col("case_id"), col("opened")]),
                    [col("case_id")],
                    [col("case_id")],
                    inner(),
                ),
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
    }
}

/// Open spans of cases for `multi_unit_clients`: (client id, unit, the
/// client's district, sex and birth year, first month, last month), months as year * 12 + month - 1; open cases run to
/// the as-of date.
pub fn multi_unit_spans(ind: &Indicator, t: &Tables) -> PolarsResult<DataFrame> {
    let mut cases = t.cases.clone();
    if let Some(areas) = &ind.filter.areas {
        cases = cases.filter(one_of(col("area"), areas));
    }
    cases
        .select([
            col("client_id"),
            col("unit"),
            col("district"),
            col("sex"),
            col("birth_year"),
            month_index(col("opened")).alias("from"),
            month_index(col("closed").fill_null(lit(t.as_of))).alias("to"),
        ])
        .collect()
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
