//! The split: by time (train on rows whose label was known by `test_from`,
//! test on rows predicted from `test_from` on) and by household (a household
//! with rows on both sides is kept on one side only, chosen by a seeded
//! hash), so no household is in both the training and the test set: the
//! sibling leakage that first inflated the Allegheny tool's accuracy.

use std::collections::HashSet;

use chrono::{Months, NaiveDate};
use polars::prelude::*;
use sha2::{Digest, Sha256};

use crate::SplitSummary;
use crate::spec::Spec;

pub struct Split {
    pub train: DataFrame,
    pub test: DataFrame,
    pub summary: SplitSummary,
}

/// The side a household on both sides is kept on: the first bit of
/// SHA-256(seed, household).
pub fn keep_in_test(seed: u64, household: &str) -> bool {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(household.as_bytes());
    h.finalize()[0] & 1 == 1
}

/// Default `test_from`: two horizons before the as-of date, so the test
/// rows are the last horizon of rows whose outcome is known.
pub fn default_test_from(as_of: NaiveDate, horizon_months: u32) -> NaiveDate {
    as_of - Months::new(2 * horizon_months)
}

fn households(df: &DataFrame) -> PolarsResult<HashSet<String>> {
    Ok(df.column("household_id")?.str()?.iter().flatten().map(str::to_string).collect())
}

fn dates(df: &DataFrame) -> PolarsResult<(Option<NaiveDate>, Option<NaiveDate>)> {
    let at = df.column("at")?.cast(&DataType::Int32)?;
    let at = at.i32()?;
    let day = |d: Option<i32>| d.map(|d| NaiveDate::from_num_days_from_ce_opt(d + 719_163).expect("date in range"));
    Ok((day(at.min()), day(at.max())))
}

pub fn split(df: &DataFrame, spec: &Spec, as_of: NaiveDate) -> PolarsResult<Split> {
    let h = spec.horizon_months();
    let test_from = spec.split.test_from.unwrap_or_else(|| default_test_from(as_of, h));
    let known_by = test_from - Months::new(h);
    let observable = df.clone().lazy().filter(col("observable"));
    let train = observable.clone().filter(col("at").lt_eq(lit(known_by))).collect()?;
    let test = observable.filter(col("at").gt_eq(lit(test_from))).collect()?;
    let both: Vec<String> = households(&train)?.intersection(&households(&test)?).cloned().collect();
    let seed = spec.split.seed;
    let to_test: Vec<String> = both.iter().filter(|h| keep_in_test(seed, h)).cloned().collect();
    let to_train: Vec<String> = both.iter().filter(|h| !keep_in_test(seed, h)).cloned().collect();
    let drop = |df: DataFrame, away: &[String]| -> PolarsResult<DataFrame> {
        let away = Series::new("away".into(), away);
        df.lazy()
            .filter(col("household_id").is_in(lit(away).implode(false), false).not())
            .sort(["row_id"], SortMultipleOptions::default())
            .collect()
    };
    let train = drop(train, &to_test)?;
    let test = drop(test, &to_train)?;
    let (train_first, train_last) = dates(&train)?;
    let (test_first, test_last) = dates(&test)?;
    let summary = SplitSummary {
        test_from,
        seed,
        train_rows: train.height() as u64,
        test_rows: test.height() as u64,
        train_households: households(&train)?.len() as u64,
        test_households: households(&test)?.len() as u64,
        households_assigned: both.len() as u64,
        train_first,
        train_last,
        test_first,
        test_last,
    };
    Ok(Split { train, test, summary })
}
