//! The study population, read from the register through the definition
//! language: the target group's entries (a cohort), who took part in the
//! service, the covariates at the index date, the repeated outcome the
//! effect is estimated on, and the outcome metrics' achievement dates.

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use utfall_definitions::variable::{date_expr, filter_expr};
use utfall_definitions::{Variable, compute};
use utfall_disclosure::Policy;
use utfall_register::scan::scan;
use utfall_register::store::CurrentBuild;

use crate::spec::{PerQuarter, QuartersFrom, Spec, SpecError, Window};

/// Months since year 0 (for consecutive-month arithmetic).
pub fn month_no(d: NaiveDate) -> i32 {
    d.year() * 12 + d.month0() as i32
}

pub fn month_start(m: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1).expect("month in range")
}

pub fn quarter_no(d: NaiveDate) -> i32 {
    d.year() * 4 + (d.month0() / 3) as i32
}

/// A covariate's value at the index date.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Category(String),
    Missing,
}

/// One enrolment: an entry of the target group.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub client_id: String,
    pub household_id: String,
    /// The entry's case ("" where the entry's table has none).
    pub case_id: String,
    /// The index date (the target group's condition met).
    pub index: NaiveDate,
    /// The service's start, for a participant.
    pub start: Option<NaiveDate>,
    /// The service's end, for a participant whose service row has one
    /// (`service.until`; none: still in service).
    pub service_end: Option<NaiveDate>,
    /// For a non-participant: when the client later started the service (censors its outcomes).
    pub later_service: Option<NaiveDate>,
    /// The spec's `[[variable]]`s, in its order.
    pub values: Vec<Value>,
}

impl Enrolment {
    pub fn treated(&self) -> bool {
        self.start.is_some()
    }

    /// The date outcomes are counted from: the service's start for a
    /// participant, the index date for a comparison enrolment.
    pub fn enrolled(&self) -> NaiveDate {
        self.start.unwrap_or(self.index)
    }
}

/// The register's events the study reads.
pub struct Study {
    pub dir: PathBuf,
    pub as_of: NaiveDate,
    pub manifest_sha256: String,
    /// The disclosure policy of the build (what the reports may show).
    pub policy: Policy,
    /// The spec's `[[variable]]` names, the order of `Enrolment::values`.
    pub names: Vec<String>,
    /// The target group's steps: (step, entries left after it), over every date.
    pub attrition: Vec<(String, usize)>,
    /// Enrolments in the enrolment window (participants and the comparison pool).
    pub enrolments: Vec<Enrolment>,
    /// Enrolments in the historical window, if the spec has one.
    pub historical: Vec<Enrolment>,
    /// Every enrolment of the target group in the register, whatever its date
    /// (the baseline of `simulate`).
    pub pool: Vec<Enrolment>,
    /// Client -> the validation outcome's rows (date, value, case), in date order.
    pub observations: HashMap<String, Vec<Observation>>,
    /// How the event series reads them (the spec's validation).
    pub series: SeriesRule,
}

/// One row of the validation outcome: its date, value and case ("" where none).
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub date: NaiveDate,
    pub value: f64,
    pub case_id: String,
}

/// How rows make an event series: a quarter's last row or their mean, only
/// the enrolment's case's rows, quarters from the service start.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeriesRule {
    pub mean: bool,
    pub same_case: bool,
    pub from_start: bool,
}

impl SeriesRule {
    pub fn of(spec: &Spec) -> SeriesRule {
        let v = &spec.validation;
        SeriesRule {
            mean: v.outcome.per_quarter == PerQuarter::Mean,
            same_case: v.outcome.same_case,
            from_start: v.quarters_from == QuartersFrom::ServiceStart,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    #[error("{0}")]
    Polars(#[from] PolarsError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("{0}")]
    Data(String),
}

fn strs(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    Ok(df.column(name)?.cast(&DataType::String)?.str()?.iter().map(|v| v.unwrap_or("").to_string()).collect())
}

fn dates(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<NaiveDate>>> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let c = df.column(name)?.cast(&DataType::Date)?.cast(&DataType::Int32)?;
    Ok(c.i32()?.iter().map(|v| v.map(|d| epoch + chrono::Duration::days(i64::from(d)))).collect())
}

/// One column of covariate values: a category for a code or text, a number otherwise.
fn values(df: &DataFrame, name: &str, category: bool) -> PolarsResult<Vec<Value>> {
    let c = df.column(name)?;
    if category {
        let s = c.cast(&DataType::String)?;
        return Ok(s.str()?.iter().map(|v| v.map_or(Value::Missing, |v| Value::Category(v.to_string()))).collect());
    }
    let f = c.cast(&DataType::Float64)?;
    Ok(f.f64()?.iter().map(|v| v.map_or(Value::Missing, Value::Number)).collect())
}

/// Service rows' (start, end) (sorted) by case and by client.
type Starts = HashMap<String, Vec<(NaiveDate, Option<NaiveDate>)>>;

fn service_starts(spec: &Spec, dir: &Path) -> Result<(Starts, Starts), StudyError> {
    let crate::spec::Rows { table, filter, date, until } = spec.service_rows()?;
    let has_case = table.register_columns().iter().any(|c| c.name == "case_id");
    let mut pick = vec![col("client_id"), date_expr(&date).alias("start")];
    pick.push(until.map_or(lit(NULL).cast(DataType::Date), |u| col(u).cast(DataType::Date)).alias("end"));
    if has_case {
        pick.push(col("case_id"));
    }
    let df = scan(dir, table)?.filter(filter_expr(&filter)).select(pick).collect()?;
    let (mut by_case, mut by_client) = (Starts::new(), Starts::new());
    let client = strs(&df, "client_id")?;
    let case = if has_case { strs(&df, "case_id")? } else { vec![String::new(); df.height()] };
    let ends = dates(&df, "end")?;
    for (i, s) in dates(&df, "start")?.into_iter().enumerate() {
        if let Some(s) = s {
            by_case.entry(case[i].clone()).or_default().push((s, ends[i]));
            by_client.entry(client[i].clone()).or_default().push((s, ends[i]));
        }
    }
    for v in by_case.values_mut().chain(by_client.values_mut()) {
        v.sort();
    }
    Ok((by_case, by_client))
}

/// The validation outcome's rows by client, in date order (then the table's key).
fn observations(spec: &Spec, dir: &Path, as_of: NaiveDate) -> Result<HashMap<String, Vec<Observation>>, StudyError> {
    let r = spec.repeated()?;
    let d = date_expr(&r.date);
    let has_case = r.table.register_columns().iter().any(|c| c.name == "case_id");
    let case = if has_case { col("case_id").cast(DataType::String) } else { lit("") };
    let df = scan(dir, r.table)?
        .filter(filter_expr(&r.filter).and(d.clone().lt_eq(lit(as_of))))
        .select([
            col("client_id"),
            d.alias("__date"),
            col(r.column).cast(DataType::Float64).alias("__value"),
            case.alias("__case"),
            col(r.table.register_key()).alias("__key"),
        ])
        .sort(["client_id", "__date", "__key"], SortMultipleOptions::default())
        .collect()?;
    let client = strs(&df, "client_id")?;
    let date = dates(&df, "__date")?;
    let case = strs(&df, "__case")?;
    let value: Vec<Option<f64>> = df.column("__value")?.f64()?.iter().collect();
    let mut out: HashMap<String, Vec<Observation>> = HashMap::new();
    for (i, c) in client.into_iter().enumerate() {
        if let (Some(date), Some(value)) = (date[i], value[i]) {
            out.entry(c).or_default().push(Observation { date, value, case_id: case[i].clone() });
        }
    }
    Ok(out)
}

impl Study {
    /// Read the study population of `spec` from the register build.
    pub fn read(spec: &Spec, build: &CurrentBuild, policy: Policy) -> Result<Study, StudyError> {
        let (dir, as_of) = (build.dir.as_path(), build.as_of);
        let cohort = spec.cohort()?;
        let variables = spec.variables()?;
        let members = cohort.build(dir, as_of)?;
        let f = &members.frame;
        let client = strs(f, "client_id")?;
        let household = strs(f, "household_id")?;
        let case = if f.schema().contains("case_id") { strs(f, "case_id")? } else { vec![String::new(); f.height()] };
        let index = dates(f, "index_date")?;
        let columns: Vec<Vec<Value>> =
            variables.iter().map(|v| values(f, &v.name, v.is_category())).collect::<PolarsResult<_>>()?;
        let (by_case, by_client) = service_starts(spec, dir)?;
        let within = &spec.service.within;
        let mut all = Vec::with_capacity(f.height());
        for i in 0..f.height() {
            let Some(index) = index[i] else { continue };
            let starts = if spec.service.same_case { by_case.get(&case[i]) } else { by_client.get(&client[i]) };
            let row = starts.and_then(|v| v.iter().find(|s| within.contains(index, s.0)).copied());
            let start = row.map(|r| r.0);
            let later_service = match start {
                None => by_client.get(&client[i]).and_then(|v| v.iter().map(|s| s.0).find(|s| *s >= index)),
                Some(_) => None,
            };
            all.push(Enrolment {
                client_id: client[i].clone(),
                household_id: household[i].clone(),
                case_id: case[i].clone(),
                index,
                start,
                service_end: row.and_then(|r| r.1),
                later_service,
                values: columns.iter().map(|c| c[i].clone()).collect(),
            });
        }
        let sorted = |w: &Window| {
            let mut v: Vec<Enrolment> = all.iter().filter(|e| e.index >= w.from && e.index <= w.to).cloned().collect();
            v.sort_by(|a, b| (a.index, &a.case_id, &a.client_id).cmp(&(b.index, &b.case_id, &b.client_id)));
            v
        };
        let enrolments = sorted(&spec.enrolment);
        let pool = sorted(&Window { from: NaiveDate::MIN, to: NaiveDate::MAX });
        let historical = spec.validation.historical.as_ref().map(&sorted).unwrap_or_default();
        Ok(Study {
            dir: dir.to_path_buf(),
            as_of,
            manifest_sha256: build.manifest_sha256.clone(),
            policy,
            names: variables.iter().map(|v| v.name.clone()).collect(),
            attrition: members.attrition,
            enrolments,
            historical,
            pool,
            observations: observations(spec, dir, as_of)?,
            series: SeriesRule::of(spec),
        })
    }

    /// When each of `metrics` is achieved by each enrolment counted from its
    /// date (`from`): `(enrolment, from)` -> one date per metric.
    pub fn achieved(
        &self,
        metrics: &[Variable],
        who: &[(&Enrolment, NaiveDate)],
    ) -> PolarsResult<Vec<Vec<Option<NaiveDate>>>> {
        achieved(&self.dir, self.as_of, metrics, who)
    }

    pub fn observations(&self, client: &str) -> &[Observation] {
        self.observations.get(client).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The validation outcome by event quarter (`first..=last` relative to the
    /// index quarter, or a participant's service start's): the last row in
    /// each quarter, or the mean of its rows. A comparison enrolment's
    /// quarters from a later start of the service are censored.
    pub fn event_series(&self, e: &Enrolment, first: i32, last: i32) -> Vec<Option<f64>> {
        let rule = self.series;
        let q0 = quarter_no(if rule.from_start { e.enrolled() } else { e.index });
        let censor = e.later_service.map(quarter_no);
        let len = (last - first + 1) as usize;
        let (mut sum, mut n, mut latest) = (vec![0.0; len], vec![0usize; len], vec![None; len]);
        for o in self.observations(&e.client_id) {
            let q = quarter_no(o.date);
            let k = q - q0;
            if k < first || k > last || censor.is_some_and(|c| q >= c) || (rule.same_case && o.case_id != e.case_id) {
                continue;
            }
            let at = (k - first) as usize;
            sum[at] += o.value;
            n[at] += 1;
            latest[at] = Some(o.value);
        }
        if !rule.mean {
            return latest;
        }
        sum.iter().zip(&n).map(|(s, n)| (*n > 0).then(|| s / *n as f64)).collect()
    }
}

/// When each of `metrics` is achieved by each enrolment counted from its
/// date (`from`), in the register build in `dir` exported on `as_of`.
pub fn achieved(
    dir: &Path,
    as_of: NaiveDate,
    metrics: &[Variable],
    who: &[(&Enrolment, NaiveDate)],
) -> PolarsResult<Vec<Vec<Option<NaiveDate>>>> {
    if who.is_empty() {
        return Ok(Vec::new());
    }
    let out = compute(dir, as_of, index_frame(who)?, metrics)?.collect()?;
    let days: Vec<Vec<Option<i64>>> = metrics
        .iter()
        .map(|m| Ok(out.column(&m.name)?.cast(&DataType::Int64)?.i64()?.iter().collect()))
        .collect::<PolarsResult<_>>()?;
    Ok((0..who.len())
        .map(|i| days.iter().map(|d| d[i].map(|n| who[i].1 + chrono::Duration::days(n))).collect())
        .collect())
}

/// Each enrolment's cost over the follow-up from its date (`from`): the sum
/// of each cost variable's value times its price.
pub fn costs(
    dir: &Path,
    as_of: NaiveDate,
    items: &[(Variable, f64)],
    who: &[(&Enrolment, NaiveDate)],
) -> PolarsResult<Vec<f64>> {
    if who.is_empty() {
        return Ok(Vec::new());
    }
    let variables: Vec<Variable> = items.iter().map(|(v, _)| v.clone()).collect();
    let out = compute(dir, as_of, index_frame(who)?, &variables)?.collect()?;
    let mut total = vec![0.0; who.len()];
    for (v, price) in items {
        let c = out.column(&v.name)?.cast(&DataType::Float64)?;
        for (t, x) in total.iter_mut().zip(c.f64()?.iter()) {
            *t += x.unwrap_or(0.0) * price;
        }
    }
    Ok(total)
}

/// The members' frame `compute` reads: each enrolment's keys, dated `from`.
fn index_frame(who: &[(&Enrolment, NaiveDate)]) -> PolarsResult<LazyFrame> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    Ok(df!(
        "client_id" => who.iter().map(|(e, _)| e.client_id.as_str()).collect::<Vec<_>>(),
        "case_id" => who.iter().map(|(e, _)| e.case_id.as_str()).collect::<Vec<_>>(),
        "household_id" => who.iter().map(|(e, _)| e.household_id.as_str()).collect::<Vec<_>>(),
        "index_date" => who.iter().map(|(_, d)| (*d - epoch).num_days() as i32).collect::<Vec<_>>(),
    )?
    .lazy()
    .with_column(col("index_date").cast(DataType::Date)))
}

/// How many enrolments have each value of a category covariate.
pub fn levels(enrolments: &[Enrolment], j: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for e in enrolments {
        if let Value::Category(c) = &e.values[j] {
            *counts.entry(c.clone()).or_default() += 1;
        }
    }
    counts
}

/// The mean of the present values in `series[a..=b]` (indices into the series).
pub fn window_mean(series: &[Option<f64>], a: usize, b: usize) -> Option<f64> {
    let v: Vec<f64> = series[a..=b].iter().flatten().copied().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// A participant reported on 20 March 2023 (quarter 0 from the index)
    /// whose service starts on 10 April (quarter 0 from the start): two
    /// domains at the start (4 and 6), two in July (7 and 5) and one in
    /// July in another case (1).
    #[test]
    fn event_series_take_the_last_row_or_the_mean_from_the_index_or_the_start() {
        let o = |date, value, case: &str| Observation { date, value, case_id: case.into() };
        let rows = vec![
            o(d(2023, 4, 10), 4.0, "K1"),
            o(d(2023, 4, 10), 6.0, "K1"),
            o(d(2023, 7, 10), 7.0, "K1"),
            o(d(2023, 7, 10), 5.0, "K1"),
            o(d(2023, 7, 11), 1.0, "K2"),
        ];
        let e = Enrolment {
            client_id: "A".into(),
            household_id: "H".into(),
            case_id: "K1".into(),
            index: d(2023, 3, 20),
            start: Some(d(2023, 4, 10)),
            service_end: None,
            later_service: None,
            values: Vec::new(),
        };
        let mut study = Study {
            dir: PathBuf::new(),
            as_of: d(2025, 12, 31),
            manifest_sha256: String::new(),
            policy: Policy::new(5, utfall_disclosure::Source::Default).unwrap(),
            names: Vec::new(),
            attrition: Vec::new(),
            enrolments: Vec::new(),
            historical: Vec::new(),
            pool: Vec::new(),
            observations: HashMap::from([("A".to_string(), rows)]),
            series: SeriesRule::default(),
        };
        // From the index: the start falls in quarter 1; the last row of each quarter.
        assert_eq!(study.event_series(&e, -1, 2), vec![None, None, Some(6.0), Some(1.0)]);
        study.series = SeriesRule { mean: true, same_case: false, from_start: true };
        assert_eq!(study.event_series(&e, 0, 1), vec![Some(5.0), Some(13.0 / 3.0)]);
        study.series.same_case = true;
        assert_eq!(study.event_series(&e, 0, 1), vec![Some(5.0), Some(6.0)]);
    }
}
