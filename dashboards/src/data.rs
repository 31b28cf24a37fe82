//! The dashboard's figures, read from the register through DataFusion:
//! `indicators_public` and `target_status` (already suppressed), and the
//! baseline/follow-up distributions binned from `baselines` and suppressed
//! here (see `utfall_disclosure::bins`).

use std::collections::BTreeMap;

use chrono::{Months, NaiveDate};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type};
use datafusion::common::ScalarValue;
use utfall_disclosure::Policy;
use utfall_queries::{Answer, Session};
use utfall_register::schema::{self, Measure, PeriodType, Split, SplitOf};

use crate::DashboardError;
use crate::spec::{Distribution, IndicatorRef, Spec};

/// One published cell of `indicators_public`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub indicator: IndicatorRef,
    pub version: i32,
    pub name_sv: String,
    pub name_en: String,
    pub measure: Measure,
    pub higher_is_better: bool,
    pub period_type: PeriodType,
    pub period_start: NaiveDate,
    pub period: String,
    pub split: SplitOf,
    pub split_value: String,
    pub n: Option<i64>,
    pub value: Option<f64>,
    pub sd: Option<f64>,
    pub ci: Option<(f64, f64)>,
    /// 'primary' or 'complementary' when the figures are withheld.
    pub suppression: Option<String>,
}

impl Cell {
    pub fn is_proportion(&self) -> bool {
        self.measure == Measure::Proportion
    }
}

/// One row of `target_status`.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRow {
    pub target_id: String,
    pub unit: String,
    pub indicator: IndicatorRef,
    pub version: i32,
    pub description: String,
    pub period_type: PeriodType,
    pub period_start: NaiveDate,
    pub period: String,
    pub at_least: bool,
    pub target: f64,
    pub n: Option<i64>,
    pub value: Option<f64>,
    pub ci: Option<(f64, f64)>,
    pub status: String,
    pub reason: Option<String>,
    /// For a withheld value: 'primary' or 'complementary'.
    pub suppression: Option<String>,
    /// Whether the indicator is a proportion (shown in per cent).
    pub share: bool,
    pub change: Option<(f64, f64, f64)>,
    pub trend: String,
}

pub use utfall_disclosure::bins::Bins;

/// A distribution's raw counts per unit: unit -> (baseline bins, follow-up bins).
pub type RawBins = BTreeMap<String, (Vec<u64>, Vec<u64>)>;

#[derive(Debug, Clone)]
pub struct DistributionData {
    pub spec: Distribution,
    /// Follow-ups from .. to (inclusive).
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub raw: RawBins,
}

/// A published figure revised since the previous build (`revisions`).
#[derive(Debug, Clone)]
pub struct Revision {
    pub indicator_id: String,
    pub name_sv: String,
    pub name_en: String,
    pub share: bool,
    pub instrument: Option<String>,
    pub domain: Option<String>,
    pub period_type: String,
    pub period: String,
    pub split: String,
    pub split_value: String,
    pub closed: bool,
    pub n_before: Option<i64>,
    pub n: Option<i64>,
    pub value_before: Option<f64>,
    pub value: Option<f64>,
    pub change: Option<f64>,
    pub reasons: Vec<String>,
    pub previous_build: String,
}

/// Everything a dashboard shows, before it is cut to a unit.
#[derive(Debug, Clone)]
pub struct Data {
    /// Published figures revised since the previous build (empty when none, or no previous build).
    pub revisions: Vec<Revision>,
    pub cells: Vec<Cell>,
    pub targets: Vec<TargetRow>,
    pub distributions: Vec<DistributionData>,
    /// Every unit with a published cell or a target, sorted.
    pub units: Vec<String>,
    /// The build's disclosure policy (what `indicators_public` was suppressed under).
    pub policy: Policy,
}

/// Read the figures the spec names.
pub fn load(session: &Session, spec: &Spec) -> Result<Data, DashboardError> {
    let run = session.manifest().indicators.as_ref().ok_or(DashboardError::NoIndicators)?;
    let policy = Policy::for_build(session.manifest(), None).map_err(|e| DashboardError::Register(e.to_string()))?;
    // Derived tables written by an older utfall lack columns read here.
    for table in [&schema::INDICATORS_PUBLIC, &schema::TARGET_STATUS, &schema::BASELINES] {
        let have: Vec<String> = session.columns(table.name)?.into_iter().map(|(name, _)| name).collect();
        if let Some(missing) = table.columns.iter().find(|c| !have.iter().any(|h| h == c.name)) {
            return Err(DashboardError::Register(format!(
                "the register's {} has no column '{}': its derived tables were written by an older utfall; \
                 run `utfall indicators --register ...` again",
                table.name, missing.name
            )));
        }
    }
    let answer = session.run(
        "SELECT indicator_id, instrument, domain, version, name_sv, name_en, measure, higher_is_better, \
         period_type, period_start, period, split, split_value, n, value, sd, ci_low, ci_high, suppression \
         FROM indicators_public WHERE period_type IN ('year', $trend) \
         ORDER BY indicator_id, instrument, domain, period_type, period_start, split, split_value",
        &[("trend".into(), ScalarValue::Utf8(Some(spec.trend_period.name().to_string())))],
    )?;
    let c = Columns(&answer);
    let ids = c.strings("indicator_id");
    let (instruments, domains) = (c.strings("instrument"), c.strings("domain"));
    let (versions, names_sv, names_en) = (c.i64s("version"), c.strings("name_sv"), c.strings("name_en"));
    let (measures, hib) = (c.strings("measure"), c.bools("higher_is_better"));
    let (ptypes, starts, periods) = (c.strings("period_type"), c.dates("period_start"), c.strings("period"));
    let (splits, values_of_split) = (c.strings("split"), c.strings("split_value"));
    let (ns, values, sds) = (c.i64s("n"), c.f64s("value"), c.f64s("sd"));
    let (lows, highs, suppression) = (c.f64s("ci_low"), c.f64s("ci_high"), c.strings("suppression"));
    let mut cells = Vec::with_capacity(answer.rows());
    let mut known: Vec<IndicatorRef> = Vec::new();
    for r in 0..answer.rows() {
        let indicator = IndicatorRef {
            id: ids[r].clone().unwrap_or_default(),
            instrument: instruments[r].clone(),
            domain: domains[r].clone(),
        };
        if known.last() != Some(&indicator) {
            known.push(indicator.clone());
        }
        if !spec.indicators.contains(&indicator) {
            continue;
        }
        cells.push(Cell {
            indicator,
            version: versions[r].unwrap_or_default() as i32,
            name_sv: names_sv[r].clone().unwrap_or_default(),
            name_en: names_en[r].clone().unwrap_or_default(),
            measure: code("measure", &measures[r], Measure::parse)?,
            higher_is_better: hib[r].unwrap_or(true),
            period_type: code("period_type", &ptypes[r], PeriodType::parse)?,
            period_start: starts[r].unwrap_or_default(),
            period: periods[r].clone().unwrap_or_default(),
            split: code("split", &splits[r], SplitOf::parse)?,
            split_value: values_of_split[r].clone().unwrap_or_default(),
            n: ns[r],
            value: values[r],
            sd: sds[r],
            ci: lows[r].zip(highs[r]),
            suppression: suppression[r].clone(),
        });
    }
    for (i, wanted) in spec.indicators.iter().enumerate() {
        if !known.contains(wanted) {
            let what = match (&wanted.instrument, &wanted.domain) {
                (Some(i), Some(d)) => format!("'{}' on {i}/{d}", wanted.id),
                _ => format!("'{}'", wanted.id),
            };
            return Err(DashboardError::Spec {
                file: spec.source.clone(),
                line: 0,
                message: format!(
                    "indicator[{i}]: {what} has no rows in indicators_public (catalogue {}); \
                     assessment indicators need instrument and domain",
                    run.catalogue_version
                ),
            });
        }
    }

    let targets = load_targets(session)?;
    let mut units: Vec<String> = cells
        .iter()
        .filter(|c| c.split == SplitOf::By(Split::Unit))
        .map(|c| c.split_value.clone())
        .chain(targets.iter().map(|t| t.unit.clone()))
        .collect();
    units.sort();
    units.dedup();

    let to = session
        .manifest()
        .data_to
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| DashboardError::Register("the manifest has no data_to date".into()))?;
    let from = to.checked_sub_months(Months::new(12)).expect("a date 12 months back") + chrono::Days::new(1);
    let mut distributions = Vec::new();
    for d in &spec.distributions {
        distributions.push(DistributionData { spec: d.clone(), from, to, raw: load_bins(session, d, from, to)? });
    }
    let revisions = load_revisions(session)?;
    Ok(Data { revisions, cells, targets, distributions, units, policy })
}

fn load_revisions(session: &Session) -> Result<Vec<Revision>, DashboardError> {
    if !session.tables().iter().any(|t| t.name == schema::REVISIONS.name) {
        return Ok(Vec::new());
    }
    let answer = session.run(
        "SELECT indicator_id, name_sv, name_en, measure, instrument, domain, period_type, period, split, split_value, \
         closed, n_before, n, value_before, value, change, reasons, previous_build FROM revisions \
         ORDER BY closed DESC, period_start, period_type, indicator_id, instrument, domain, split, split_value",
        &[],
    )?;
    let c = Columns(&answer);
    let (ids, sv, en, measure) =
        (c.strings("indicator_id"), c.strings("name_sv"), c.strings("name_en"), c.strings("measure"));
    let (instruments, domains, ptypes, periods) =
        (c.strings("instrument"), c.strings("domain"), c.strings("period_type"), c.strings("period"));
    let (splits, split_values, closed) = (c.strings("split"), c.strings("split_value"), c.bools("closed"));
    let (n_before, n, value_before, value) = (c.i64s("n_before"), c.i64s("n"), c.f64s("value_before"), c.f64s("value"));
    let (change, reasons, previous) = (c.f64s("change"), c.strings("reasons"), c.strings("previous_build"));
    let text = |v: &[Option<String>], r: usize| v[r].clone().unwrap_or_default();
    Ok((0..answer.rows())
        .map(|r| Revision {
            indicator_id: text(&ids, r),
            name_sv: text(&sv, r),
            name_en: text(&en, r),
            share: measure[r].as_deref() == Some("proportion"),
            instrument: instruments[r].clone(),
            domain: domains[r].clone(),
            period_type: text(&ptypes, r),
            period: text(&periods, r),
            split: text(&splits, r),
            split_value: text(&split_values, r),
            closed: closed[r].unwrap_or(false),
            n_before: n_before[r],
            n: n[r],
            value_before: value_before[r],
            value: value[r],
            change: change[r],
            reasons: text(&reasons, r).split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            previous_build: text(&previous, r),
        })
        .collect())
}

fn load_targets(session: &Session) -> Result<Vec<TargetRow>, DashboardError> {
    let answer = session.run(
        "SELECT target_id, unit, indicator_id, instrument, domain, version, description, measure, period_type, \
         period_start, period, direction, target, n, value, ci_low, ci_high, status, reason, suppression, change, \
         change_low, change_high, trend FROM target_status ORDER BY target_id, unit, period_type, period_start",
        &[],
    )?;
    let c = Columns(&answer);
    let (ids, units, indicator) = (c.strings("target_id"), c.strings("unit"), c.strings("indicator_id"));
    let (instruments, domains, versions) = (c.strings("instrument"), c.strings("domain"), c.i64s("version"));
    let (descriptions, ptypes, starts) = (c.strings("description"), c.strings("period_type"), c.dates("period_start"));
    let (periods, directions, target) = (c.strings("period"), c.strings("direction"), c.f64s("target"));
    let (ns, values, lows, highs) = (c.i64s("n"), c.f64s("value"), c.f64s("ci_low"), c.f64s("ci_high"));
    let (status, reason, trend) = (c.strings("status"), c.strings("reason"), c.strings("trend"));
    let (suppression, measure) = (c.strings("suppression"), c.strings("measure"));
    let (change, change_low, change_high) = (c.f64s("change"), c.f64s("change_low"), c.f64s("change_high"));
    (0..answer.rows())
        .map(|r| {
            Ok(TargetRow {
                target_id: ids[r].clone().unwrap_or_default(),
                unit: units[r].clone().unwrap_or_default(),
                indicator: IndicatorRef {
                    id: indicator[r].clone().unwrap_or_default(),
                    instrument: instruments[r].clone(),
                    domain: domains[r].clone(),
                },
                version: versions[r].unwrap_or_default() as i32,
                description: descriptions[r].clone().unwrap_or_default(),
                period_type: code("period_type", &ptypes[r], PeriodType::parse)?,
                period_start: starts[r].unwrap_or_default(),
                period: periods[r].clone().unwrap_or_default(),
                at_least: directions[r].as_deref() == Some("at_least"),
                target: target[r].unwrap_or_default(),
                n: ns[r],
                value: values[r],
                ci: lows[r].zip(highs[r]),
                status: status[r].clone().unwrap_or_default(),
                reason: reason[r].clone(),
                suppression: suppression[r].clone(),
                share: code("measure", &measure[r], Measure::parse)? == Measure::Proportion,
                change: change[r].zip(change_low[r]).zip(change_high[r]).map(|((c, l), h)| (c, l, h)),
                trend: trend[r].clone().unwrap_or_default(),
            })
        })
        .collect()
}

/// Bin counts per unit of the paired clients whose latest assessment falls in [from, to].
fn load_bins(session: &Session, d: &Distribution, from: NaiveDate, to: NaiveDate) -> Result<RawBins, DashboardError> {
    let date = |d: NaiveDate| ScalarValue::Date32(Some((d - NaiveDate::default()).num_days() as i32));
    let answer = session.run(
        "SELECT unit, CAST(floor((baseline_score - $min) / $width) AS BIGINT) AS b0, \
         CAST(floor((latest_score - $min) / $width) AS BIGINT) AS b1, count(*) AS n \
         FROM baselines WHERE paired AND instrument = $instrument AND domain = $domain \
         AND latest_date BETWEEN $from AND $to GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        &[
            ("min".into(), ScalarValue::Float64(Some(d.min))),
            ("width".into(), ScalarValue::Float64(Some(d.bin_width))),
            ("instrument".into(), ScalarValue::Utf8(Some(d.instrument.clone()))),
            ("domain".into(), ScalarValue::Utf8(Some(d.domain.clone()))),
            ("from".into(), date(from)),
            ("to".into(), date(to)),
        ],
    )?;
    let c = Columns(&answer);
    let (units, b0, b1, n) = (c.strings("unit"), c.i64s("b0"), c.i64s("b1"), c.i64s("n"));
    let bins = d.bins();
    // A score on `max` goes into the last bin; scores outside [min, max] into the nearest.
    let clamp = |b: Option<i64>| b.unwrap_or(0).clamp(0, bins as i64 - 1) as usize;
    let mut raw = RawBins::new();
    for r in 0..answer.rows() {
        let entry = raw.entry(units[r].clone().unwrap_or_default()).or_insert_with(|| (vec![0; bins], vec![0; bins]));
        let count = n[r].unwrap_or(0) as u64;
        entry.0[clamp(b0[r])] += count;
        entry.1[clamp(b1[r])] += count;
    }
    Ok(raw)
}

/// Counts over every unit (the municipality).
pub fn municipality(raw: &RawBins, bins: usize) -> (Vec<u64>, Vec<u64>) {
    let mut total = (vec![0; bins], vec![0; bins]);
    for (b, f) in raw.values() {
        for i in 0..bins {
            total.0[i] += b[i];
            total.1[i] += f[i];
        }
    }
    total
}

/// A code from a column of the register, as its closed type.
fn code<T>(column: &str, value: &Option<String>, parse: fn(&str) -> Option<T>) -> Result<T, DashboardError> {
    let text = value.as_deref().unwrap_or("");
    parse(text).ok_or_else(|| DashboardError::Register(format!("{column} '{text}' is not a code utfall writes")))
}

/// Typed columns of an answer (one batch or many).
struct Columns<'a>(&'a Answer);

impl Columns<'_> {
    fn column(&self, name: &str, to: &DataType) -> Vec<std::sync::Arc<dyn Array>> {
        let index = self.0.schema.index_of(name).expect("the dashboard's own query names its columns");
        self.0.batches.iter().map(|b| cast(b.column(index), to).expect("a castable column")).collect()
    }

    fn strings(&self, name: &str) -> Vec<Option<String>> {
        let mut out = Vec::new();
        for a in self.column(name, &DataType::Utf8) {
            let a = a.as_string::<i32>();
            out.extend((0..a.len()).map(|r| a.is_valid(r).then(|| a.value(r).to_string())));
        }
        out
    }

    fn f64s(&self, name: &str) -> Vec<Option<f64>> {
        let mut out = Vec::new();
        for a in self.column(name, &DataType::Float64) {
            out.extend(a.as_primitive::<Float64Type>().iter());
        }
        out
    }

    fn i64s(&self, name: &str) -> Vec<Option<i64>> {
        let mut out = Vec::new();
        for a in self.column(name, &DataType::Int64) {
            out.extend(a.as_primitive::<Int64Type>().iter());
        }
        out
    }

    fn bools(&self, name: &str) -> Vec<Option<bool>> {
        let mut out = Vec::new();
        for a in self.column(name, &DataType::Boolean) {
            out.extend(a.as_boolean().iter());
        }
        out
    }

    fn dates(&self, name: &str) -> Vec<Option<NaiveDate>> {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid");
        let mut out = Vec::new();
        for a in self.column(name, &DataType::Date32) {
            out.extend(a.as_primitive::<Date32Type>().iter().map(|d| d.map(|d| epoch + chrono::Days::new(d as u64))));
        }
        out
    }
}
