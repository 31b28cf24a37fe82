//! Baselines, outcome indicators, disclosure control and targets, computed
//! from the register into derived tables of a new build of it.
//!
//! 1. **Rows** (`entities.rs`, polars): per indicator, one row per counted
//!    case, household, assessment pair, goal or client-period, with the date
//!    that places it in a period and its value `y`.
//! 2. **Cells**: rows joined to the client (district, sex, age band), grouped
//!    per period (month, quarter, year) and split (total, unit, district, sex,
//!    age band) into n, sum and sum of squares.
//! 3. **Estimates** (`stats.rs`): Wilson intervals for proportions, t
//!    intervals for means.
//! 4. **Disclosure control** (`utfall_disclosure`) for `indicators_public`, and
//!    **targets** (`targets.rs`) from the suppressed values.
//! 5. **Publish**: a new build holding the entity tables of the current one
//!    (hard links) and the derived tables, swapped in atomically.

pub mod catalogue;
pub mod entities;
mod protect;
pub mod revisions;
pub mod stats;
pub mod targets;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use polars::prelude::*;
use utfall_register::scan::conform;
use utfall_register::schema;
use utfall_register::store::{self, CurrentBuild, IndicatorRun, Manifest, OpenError};

pub use catalogue::{Catalogue, CatalogueError};
use catalogue::{Indicator, Measure, PeriodType, Spec, Split};
use entities::Tables;
pub use targets::Targets;
use utfall_disclosure::cells::{self as disclosure, CellKey, Suppression};

#[derive(Debug, thiserror::Error)]
pub enum IndicatorError {
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error("no register at {0}: run `utfall build` first")]
    NoRegister(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("computing the indicators: {0}")]
    Polars(#[from] PolarsError),
    /// The attacker's audit could not protect every withheld cell.
    #[error("disclosure control: {} withheld cell(s) could still be narrowed below the threshold after repair; nothing was published. First: {}", .0.len(), .0.iter().take(5).cloned().collect::<Vec<_>>().join("; "))]
    Exposed(Vec<String>),
}

impl From<OpenError> for IndicatorError {
    fn from(e: OpenError) -> IndicatorError {
        match e {
            OpenError::Io { path, source } => IndicatorError::Io { path, source },
            OpenError::NoRegister(p) => IndicatorError::NoRegister(p),
            OpenError::Manifest { path, message } => {
                IndicatorError::Io { path, source: std::io::Error::new(std::io::ErrorKind::InvalidData, message) }
            }
        }
    }
}

impl IndicatorError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IndicatorError + '_ {
        move |source| IndicatorError::Io { path: path.to_path_buf(), source }
    }

    /// Exit code: 2 for a bad catalogue or targets file or a missing register, else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            IndicatorError::Catalogue(_) | IndicatorError::NoRegister(_) => 2,
            _ => 1,
        }
    }
}

/// Split names by index in a `CellKey` (0 is the total).
pub const SPLITS: [&str; 5] = ["total", "unit", "district", "sex", "age_band"];

fn split_index(s: Split) -> usize {
    match s {
        Split::Unit => 1,
        Split::District => 2,
        Split::Sex => 3,
        Split::AgeBand => 4,
    }
}

/// The split of a cell's `split` index (`None` for the total).
fn split_of(index: usize) -> Option<Split> {
    Split::ALL.into_iter().find(|&s| split_index(s) == index)
}

/// One cell of one indicator before disclosure control.
#[derive(Debug, Clone)]
pub struct Cell {
    pub indicator: usize,
    pub instrument: Option<String>,
    pub domain: Option<String>,
    pub key: CellKey,
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

/// Everything `compute` makes.
pub struct Outputs {
    pub baselines: DataFrame,
    pub goal_attainment: DataFrame,
    pub indicators: DataFrame,
    pub indicators_public: DataFrame,
    pub target_status: DataFrame,
    pub suppressed_primary: u64,
    pub suppressed_complementary: u64,
    pub n_withheld: u64,
    pub audit: store::DisclosureAudit,
    pub warnings: Vec<String>,
}

/// Compute every derived table from the register's entity tables.
pub fn compute(t: &Tables, cat: &Catalogue, targets: &Targets) -> Result<Outputs, IndicatorError> {
    let mut warnings = Vec::new();
    let clock = Instant::now();
    let baselines = entities::baselines(t, cat)?.collect()?;
    let known: Vec<&str> = cat.instruments.iter().map(|i| i.code.as_str()).collect();
    let unknown = baselines
        .column("instrument")?
        .as_materialized_series()
        .unique()?
        .str()?
        .iter()
        .flatten()
        .filter(|i| !known.contains(i))
        .map(str::to_string)
        .collect::<Vec<_>>();
    if !unknown.is_empty() {
        warnings.push(format!(
            "instrument(s) {} have no [[instrument]] block in the catalogue: their assessments are in `baselines` but in no indicator",
            unknown.join(", ")
        ));
    }
    let rho = cat
        .indicators
        .iter()
        .find_map(|i| if let Spec::GasTScore { rho } = i.spec { Some(rho) } else { None })
        .unwrap_or(0.3);
    let goal_attainment = entities::goal_attainment(t, rho).collect()?;
    tracing::info!(seconds = clock.elapsed().as_secs_f64(), "baselines and goal attainment");
    let base_lazy = baselines.clone().lazy();
    // Clients and cases are read by every indicator: once, into memory.
    let mut t = t.clone().with_client_attributes()?;
    if cat.indicators.iter().any(|i| matches!(i.spec, Spec::ContactsPerCase { .. })) {
        t.contact_counts = t.contact_counts.collect()?.lazy();
    }
    // Indicators that differ only in their population filters share rows:
    // compute them in groups, keeping one group's rows at a time.
    let key = |ind: &Indicator| format!("{:?}|{:?}", ind.spec, ind.filter.instruments);
    let mut order: Vec<usize> = (0..cat.indicators.len()).collect();
    order.sort_by_key(|&k| (key(&cat.indicators[k]), k));
    let mut cells = Vec::new();
    let mut shared: Option<(String, DataFrame)> = None;
    for k in order {
        let ind = &cat.indicators[k];
        let clock = Instant::now();
        if let Spec::MultiUnitClients { min_units } = ind.spec {
            let spans = entities::multi_unit_spans(ind, &t)?;
            cells.extend(multi_unit_cells(k, ind, &spans, min_units, cat)?);
        } else {
            let kk = key(ind);
            if shared.as_ref().is_none_or(|(s, _)| *s != kk) {
                drop(shared.take());
                shared = Some((kk, entities::rows(ind, &t, &base_lazy, cat)?.collect()?));
            }
            let rows = shared.as_ref().expect("rows computed").1.clone();
            cells.extend(aggregate(k, ind, rows, cat)?);
        }
        tracing::info!(indicator = ind.id, seconds = clock.elapsed().as_secs_f64(), "indicator");
    }
    drop(shared);
    let clock = Instant::now();
    let results = estimate(&cells, cat);
    // The managers' table: every cell but the months of the splits not published per month.
    let (public, public_results): (Vec<Cell>, Vec<Estimate>) = cells
        .iter()
        .zip(&results)
        .filter(|(c, _)| cat.settings.published(c.key.period_type, split_of(c.key.split)))
        .map(|(c, e)| (c.clone(), *e))
        .unzip();
    let withheld =
        protect::protect(&public, &public_results, cat, &cat.settings.policy()).map_err(IndicatorError::Exposed)?;
    let count = |states: &[Suppression], which: Suppression| states.iter().filter(|s| **s == which).count() as u64;
    let primary = count(&withheld.value, Suppression::Primary);
    let complementary = count(&withheld.value, Suppression::Complementary);
    let n_withheld = withheld.n.len() as u64 - count(&withheld.n, Suppression::None);
    tracing::info!(
        seconds = clock.elapsed().as_secs_f64(),
        primary,
        complementary,
        n_withheld,
        programs = withheld.audit.programs,
        "estimates, disclosure control and the attacker's audit"
    );
    let indicators = results_frame(&cells, &results, None, cat)?;
    let indicators_public = results_frame(&public, &public_results, Some(&withheld), cat)?;
    let target_status = target_frame(&public, &public_results, &withheld, cat, targets)?;
    Ok(Outputs {
        baselines: conform(baselines, &schema::BASELINES)?,
        goal_attainment: conform(goal_attainment, &schema::GOAL_ATTAINMENT)?,
        indicators,
        indicators_public,
        target_status,
        suppressed_primary: primary,
        suppressed_complementary: complementary,
        n_withheld,
        audit: withheld.audit,
        warnings,
    })
}

fn every(p: PeriodType) -> &'static str {
    match p {
        PeriodType::Month => "1mo",
        PeriodType::Quarter => "1q",
        PeriodType::Year => "1y",
    }
}

/// Sums of one cell: n, sum of y, sum of y squared.
type Sums = (u64, f64, f64);

/// Cells keyed by instrument, domain and position.
type CellMap = HashMap<(Option<String>, Option<String>, CellKey), Sums>;

fn add(cells: &mut CellMap, key: (Option<String>, Option<String>, CellKey), s: Sums) {
    let e = cells.entry(key).or_insert((0, 0.0, 0.0));
    e.0 += s.0;
    e.1 += s.1;
    e.2 += s.2;
}

fn into_cells(k: usize, map: CellMap) -> Vec<Cell> {
    map.into_iter()
        .map(|((instrument, domain, key), (n, sum, sum_sq))| Cell {
            indicator: k,
            instrument,
            domain,
            key,
            n,
            sum,
            sum_sq,
        })
        .collect()
}

/// Group an indicator's rows into cells: one polars group-by at the finest
/// period over every split column, then the totals, splits and coarser
/// periods summed from it (n, sum and sum of squares all add up).
fn aggregate(k: usize, ind: &Indicator, rows: DataFrame, cat: &Catalogue) -> PolarsResult<Vec<Cell>> {
    let mut rows = rows.lazy();
    if let Some(areas) = &ind.filter.areas {
        rows = rows.filter(entities::one_of(col("area"), areas));
    }
    let age = col("anchor").dt().year().cast(DataType::Int32) - col("birth_year");
    let band = age_band(cat, col("__age"));
    let mut rows = rows.with_columns([age.alias("__age")]);
    if let Some((lo, hi)) = ind.filter.age {
        rows = rows.filter(col("__age").gt_eq(lit(lo)).and(col("__age").lt_eq(lit(hi))));
    }
    let finest = ind.periods[0];
    let mut rows = rows.with_columns([band.alias("age_band")]);
    if ind.measure() == Measure::Mean {
        // Floating-point sums depend on the order of their terms; joins do not
        // keep row order. Summing each group's values in ascending order makes
        // the results identical from run to run (0/1 sums are exact anyway).
        rows = rows.sort(["y"], SortMultipleOptions::default());
    }
    let keys = ["instrument", "domain", "period_start", "unit", "district", "sex", "age_band"];
    let df = rows
        .group_by([
            col("instrument"),
            col("domain"),
            col("anchor").dt().truncate(lit(every(finest))).cast(DataType::Int32).alias("period_start"),
            col("unit"),
            col("district"),
            col("sex"),
            col("age_band"),
        ])
        .agg([
            len().cast(DataType::UInt64).alias("n"),
            col("y").sum().alias("sum"),
            (col("y") * col("y")).sum().alias("sum_sq"),
        ])
        // The roll-up below adds these in order: a fixed one.
        .sort(keys, SortMultipleOptions::default().with_nulls_last(true))
        .collect()?;
    let instrument = df.column("instrument")?.str()?;
    let domain = df.column("domain")?.str()?;
    let start = df.column("period_start")?.i32()?;
    let split_cols = [
        df.column("unit")?.str()?,
        df.column("district")?.str()?,
        df.column("sex")?.str()?,
        df.column("age_band")?.str()?,
    ];
    let (n, sum, sum_sq) = (df.column("n")?.u64()?, df.column("sum")?.f64()?, df.column("sum_sq")?.f64()?);
    let splits: Vec<usize> = cat.settings.splits.iter().map(|s| split_index(*s)).collect();
    let mut map = CellMap::new();
    for i in 0..df.height() {
        let sums = (n.get(i).unwrap(), sum.get(i).unwrap_or(0.0), sum_sq.get(i).unwrap_or(0.0));
        let first = disclosure::date_of(start.get(i).unwrap());
        for &p in &ind.periods {
            let period_start = disclosure::days_of(disclosure::period_start(p, first));
            let (inst, dom) = (instrument.get(i).map(str::to_string), domain.get(i).map(str::to_string));
            let key = |split: usize, value: &str| {
                (
                    inst.clone(),
                    dom.clone(),
                    CellKey { period_type: p, period_start, split, split_value: value.to_string() },
                )
            };
            add(&mut map, key(0, "all"), sums);
            for &s in &splits {
                add(&mut map, key(s, split_cols[s - 1].get(i).unwrap_or("")), sums);
            }
        }
    }
    Ok(into_cells(k, map))
}

/// Strings as small integers, in order of first appearance.
#[derive(Default)]
struct Interner<'a> {
    index: HashMap<&'a str, u32>,
    names: Vec<&'a str>,
}

impl<'a> Interner<'a> {
    fn code(&mut self, v: &'a str) -> u32 {
        *self.index.entry(v).or_insert_with(|| {
            self.names.push(v);
            self.names.len() as u32 - 1
        })
    }
}

/// Cells of `multi_unit_clients`, counted directly: per period, the clients
/// with an open case in it (unit split: per unit they are open in), counted
/// when open in `min_units` or more units. Not additive over periods or
/// units, so each period type is counted on its own.
fn multi_unit_cells(
    k: usize,
    ind: &Indicator,
    spans: &DataFrame,
    min_units: u32,
    cat: &Catalogue,
) -> PolarsResult<Vec<Cell>> {
    let str_col = |name: &str| spans.column(name).and_then(|c| c.str());
    let (clients, units, districts, sexes) =
        (str_col("client_id")?, str_col("unit")?, str_col("district")?, str_col("sex")?);
    let birth_years = spans.column("birth_year")?.i32()?;
    let from = spans.column("from")?.i32()?;
    let to = spans.column("to")?.i32()?;
    let (mut client_ix, mut unit_ix, mut district_ix, mut sex_ix) =
        (Interner::default(), Interner::default(), Interner::default(), Interner::default());
    // Per client (by code): district, sex and birth year.
    let mut person: Vec<(u32, u32, i32)> = Vec::new();
    // (client, unit, first month, last month)
    let mut open = Vec::with_capacity(spans.height());
    for i in 0..spans.height() {
        let (Some(c), Some(u), Some(d), Some(x), Some(b), Some(f), Some(e)) =
            (clients.get(i), units.get(i), districts.get(i), sexes.get(i), birth_years.get(i), from.get(i), to.get(i))
        else {
            continue;
        };
        let ci = client_ix.code(c);
        if ci as usize == person.len() {
            person.push((district_ix.code(d), sex_ix.code(x), b));
        }
        open.push((ci, unit_ix.code(u), f, e.max(f)));
    }
    let labels = cat.age_band_labels();
    let band = |age: i32| labels.iter().rposition(|(lo, _)| age >= *lo).unwrap_or(0) as u32;
    let splits: Vec<usize> = cat.settings.splits.iter().map(|s| split_index(*s)).collect();
    // Dense counters per period: [total, units.., districts.., sexes.., bands..] -> (n, counted).
    let widths = [1, unit_ix.names.len(), district_ix.names.len(), sex_ix.names.len(), labels.len()];
    let offset: Vec<usize> = widths
        .iter()
        .scan(0, |acc, w| {
            let o = *acc;
            *acc += w;
            Some(o)
        })
        .collect();
    let width: usize = widths.iter().sum();
    let mut map = CellMap::new();
    for &p in &ind.periods {
        let step = p.months();
        // (period, client, unit), one per case and period, deduplicated.
        let mut cp: Vec<(i32, u32, u32)> = Vec::new();
        for &(c, u, f, e) in &open {
            for q in f.div_euclid(step)..=e.div_euclid(step) {
                cp.push((q, c, u));
            }
        }
        cp.sort_unstable();
        cp.dedup();
        let Some(first) = cp.first().map(|x| x.0) else { continue };
        let periods = (cp.last().unwrap().0 - first + 1) as usize;
        let mut acc = vec![(0u64, 0u64); periods * width];
        let mut i = 0;
        while i < cp.len() {
            let (q, c, _) = cp[i];
            let mut j = i;
            while j < cp.len() && cp[j].0 == q && cp[j].1 == c {
                j += 1;
            }
            let (district, sex, birth_year) = person[c as usize];
            let age = (q * step).div_euclid(12) - birth_year;
            if ind.filter.age.is_none_or(|(lo, hi)| (lo..=hi).contains(&age)) {
                let y = u64::from((j - i) as u32 >= min_units);
                let base = (q - first) as usize * width;
                let mut add = |slot: usize| {
                    let e = &mut acc[base + slot];
                    e.0 += 1;
                    e.1 += y;
                };
                add(0);
                for &s in &splits {
                    match s {
                        1 => cp[i..j].iter().for_each(|cell| add(offset[1] + cell.2 as usize)),
                        2 => add(offset[2] + district as usize),
                        3 => add(offset[3] + sex as usize),
                        _ => add(offset[4] + band(age) as usize),
                    }
                }
            }
            i = j;
        }
        for (slot, &(n, k)) in acc.iter().enumerate().filter(|(_, a)| a.0 > 0) {
            let (q, within) = (first + (slot / width) as i32, slot % width);
            let split = offset.iter().rposition(|&o| o <= within).unwrap();
            let v = within - offset[split];
            let m = q * step;
            let start = NaiveDate::from_ymd_opt(m.div_euclid(12), (m.rem_euclid(12) + 1) as u32, 1).expect("month");
            let value = match split {
                0 => "all".to_string(),
                1 => unit_ix.names[v].to_string(),
                2 => district_ix.names[v].to_string(),
                3 => sex_ix.names[v].to_string(),
                _ => labels[v].1.clone(),
            };
            let key = CellKey { period_type: p, period_start: disclosure::days_of(start), split, split_value: value };
            map.insert((None, None, key), (n, k as f64, k as f64));
        }
    }
    Ok(into_cells(k, map))
}

/// The estimate of one cell.
#[derive(Debug, Clone, Copy)]
pub struct Estimate {
    pub numerator: Option<u64>,
    pub value: f64,
    pub sd: Option<f64>,
    pub ci: Option<(f64, f64)>,
    pub higher_is_better: bool,
}

fn estimate(cells: &[Cell], cat: &Catalogue) -> Vec<Estimate> {
    let conf = cat.settings.confidence;
    cells
        .iter()
        .map(|c| {
            let ind = &cat.indicators[c.indicator];
            let higher_is_better = ind.higher_is_better.unwrap_or_else(|| {
                c.instrument.as_deref().and_then(|i| cat.instrument(i)).is_none_or(|i| i.higher_is_better)
            });
            match ind.measure() {
                Measure::Proportion => {
                    let k = c.sum.round() as u64;
                    let value = k as f64 / c.n as f64;
                    Estimate {
                        numerator: Some(k),
                        value,
                        sd: None,
                        ci: Some(stats::wilson(k, c.n, conf)),
                        higher_is_better,
                    }
                }
                Measure::Mean => {
                    let (value, sd, ci) = stats::mean_t(c.n, c.sum, c.sum_sq, conf);
                    Estimate { numerator: None, value, sd, ci, higher_is_better }
                }
            }
        })
        .collect()
}

/// An indicator with its instrument and domain (one system of cells).
type Stratum<'a> = (usize, Option<&'a str>, Option<&'a str>);

fn period_label(p: PeriodType, start: NaiveDate) -> String {
    use chrono::Datelike;
    match p {
        PeriodType::Month => start.format("%Y-%m").to_string(),
        PeriodType::Quarter => format!("{}-Q{}", start.year(), start.month0() / 3 + 1),
        PeriodType::Year => start.year().to_string(),
    }
}

/// Output order: catalogue order, instrument, domain, period type, start, split, value.
fn order(cells: &[Cell]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..cells.len()).collect();
    idx.sort_by(|&a, &b| {
        let (x, y) = (&cells[a], &cells[b]);
        (x.indicator, &x.instrument, &x.domain, &x.key).cmp(&(y.indicator, &y.instrument, &y.domain, &y.key))
    });
    idx
}

fn date_column(name: &str, days: Vec<i32>) -> PolarsResult<Column> {
    Column::new(name.into(), days).cast(&DataType::Date)
}

/// The `indicators` table, or with what is `withheld` the `indicators_public` one.
fn results_frame(
    cells: &[Cell],
    est: &[Estimate],
    withheld: Option<&protect::Withheld>,
    cat: &Catalogue,
) -> PolarsResult<DataFrame> {
    let idx = order(cells);
    let h = idx.len();
    let ind = |i: usize| &cat.indicators[cells[i].indicator];
    let shown = |i: usize| withheld.is_none_or(|w| w.value[i] == Suppression::None);
    let shown_n = |i: usize| withheld.is_none_or(|w| w.n[i] == Suppression::None);
    let str_col = |name: &str, f: &dyn Fn(usize) -> String| {
        Column::new(name.into(), idx.iter().map(|&i| f(i)).collect::<Vec<_>>())
    };
    let mut cols = vec![
        str_col("indicator_id", &|i| ind(i).id.clone()),
        Column::new("version".into(), idx.iter().map(|&i| ind(i).version).collect::<Vec<_>>()),
        Column::new_scalar("catalogue_version".into(), Scalar::from(PlSmallStr::from(cat.version.as_str())), h),
        str_col("kind", &|i| ind(i).kind.name().to_string()),
        str_col("name_sv", &|i| ind(i).name_sv.clone()),
        str_col("name_en", &|i| ind(i).name_en.clone()),
        str_col("measure", &|i| ind(i).measure().name().to_string()),
        Column::new("higher_is_better".into(), idx.iter().map(|&i| est[i].higher_is_better).collect::<Vec<_>>()),
        Column::new("instrument".into(), idx.iter().map(|&i| cells[i].instrument.clone()).collect::<Vec<_>>()),
        Column::new("domain".into(), idx.iter().map(|&i| cells[i].domain.clone()).collect::<Vec<_>>()),
        str_col("period_type", &|i| cells[i].key.period_type.name().to_string()),
        date_column("period_start", idx.iter().map(|&i| cells[i].key.period_start).collect())?,
        str_col("period", &|i| period_label(cells[i].key.period_type, disclosure::date_of(cells[i].key.period_start))),
        str_col("split", &|i| SPLITS[cells[i].key.split].to_string()),
        str_col("split_value", &|i| cells[i].key.split_value.clone()),
        Column::new("n".into(), idx.iter().map(|&i| shown_n(i).then_some(cells[i].n as i64)).collect::<Vec<_>>()),
        Column::new(
            "numerator".into(),
            idx.iter().map(|&i| est[i].numerator.filter(|_| shown(i)).map(|k| k as i64)).collect::<Vec<_>>(),
        ),
        Column::new("value".into(), idx.iter().map(|&i| shown(i).then_some(est[i].value)).collect::<Vec<_>>()),
        Column::new("sd".into(), idx.iter().map(|&i| est[i].sd.filter(|_| shown(i))).collect::<Vec<_>>()),
        Column::new(
            "ci_low".into(),
            idx.iter().map(|&i| est[i].ci.filter(|_| shown(i)).map(|c| c.0)).collect::<Vec<_>>(),
        ),
        Column::new(
            "ci_high".into(),
            idx.iter().map(|&i| est[i].ci.filter(|_| shown(i)).map(|c| c.1)).collect::<Vec<_>>(),
        ),
        str_col("ci_method", &|i| if ind(i).measure() == Measure::Proportion { "wilson" } else { "t" }.to_string()),
    ];
    let table = match withheld {
        None => &schema::INDICATORS,
        Some(w) => {
            let (v, n) = (&w.value, &w.n);
            cols.push(Column::new(
                "suppressed".into(),
                idx.iter().map(|&i| v[i] != Suppression::None).collect::<Vec<_>>(),
            ));
            cols.push(Column::new("suppression".into(), idx.iter().map(|&i| v[i].name()).collect::<Vec<_>>()));
            cols.push(Column::new("n_suppression".into(), idx.iter().map(|&i| n[i].name()).collect::<Vec<_>>()));
            &schema::INDICATORS_PUBLIC
        }
    };
    conform(DataFrame::new(h, cols)?, table)
}

struct TargetRow<'a> {
    target: &'a targets::Target,
    unit: &'a str,
    indicator: &'a Indicator,
    period: PeriodType,
    start: i32,
    now: Option<targets::Published>,
    /// How the unit's cell for the period is withheld, if it is.
    suppression: Option<&'static str>,
    status: targets::Status,
}

/// Target status per target, unit and period, from the suppressed values.
fn target_frame(
    cells: &[Cell],
    est: &[Estimate],
    withheld: &protect::Withheld,
    cat: &Catalogue,
    targets: &Targets,
) -> PolarsResult<DataFrame> {
    let mut units: Vec<&str> = cells.iter().filter(|c| c.key.split == 1).map(|c| c.key.split_value.as_str()).collect();
    units.sort();
    units.dedup();
    // (indicator, instrument, domain, period type, unit) -> [(start, cell)]
    // Per stratum, period type and unit: (period start, cell).
    type Series<'a> = HashMap<(Stratum<'a>, PeriodType, &'a str), Vec<(i32, usize)>>;
    let mut series: Series = HashMap::new();
    let mut starts: HashMap<(usize, PeriodType), Vec<i32>> = HashMap::new();
    for (i, c) in cells.iter().enumerate() {
        starts.entry((c.indicator, c.key.period_type)).or_default().push(c.key.period_start);
        if c.key.split == 1 {
            series
                .entry((
                    (c.indicator, c.instrument.as_deref(), c.domain.as_deref()),
                    c.key.period_type,
                    c.key.split_value.as_str(),
                ))
                .or_default()
                .push((c.key.period_start, i));
        }
    }
    for v in starts.values_mut() {
        v.sort();
        v.dedup();
    }
    let mut rows: Vec<TargetRow> = Vec::new();
    for t in &targets.targets {
        let Some(k) = cat.indicators.iter().position(|i| i.id == t.indicator) else { continue };
        let ind = &cat.indicators[k];
        let target_units: Vec<&str> =
            if t.units.is_empty() { units.clone() } else { t.units.iter().map(String::as_str).collect() };
        for &p in &t.periods {
            let Some(all_starts) = starts.get(&(k, p)) else { continue };
            for &u in &target_units {
                let cells_of = series.get(&((k, t.instrument.as_deref(), t.domain.as_deref()), p, u));
                let cell = |start: i32| cells_of?.iter().find(|(s, _)| *s == start).map(|&(_, i)| i);
                let published = |start: i32| -> Option<targets::Published> {
                    let i = cell(start)?;
                    let shown = withheld.value[i] == Suppression::None;
                    Some(targets::Published {
                        n: (withheld.n[i] == Suppression::None).then_some(cells[i].n as i64),
                        value: shown.then_some(est[i].value),
                        ci: est[i].ci.filter(|_| shown),
                    })
                };
                let hib = ind.higher_is_better.unwrap_or_else(|| {
                    t.instrument.as_deref().and_then(|i| cat.instrument(i)).is_none_or(|i| i.higher_is_better)
                });
                for (j, &start) in all_starts.iter().enumerate() {
                    let now = published(start);
                    let before = if j > 0 { published(all_starts[j - 1]) } else { None };
                    let st = targets::status(t.direction, t.value, hib, now, before);
                    let suppression = cell(start).and_then(|i| withheld.value[i].name());
                    rows.push(TargetRow {
                        target: t,
                        unit: u,
                        indicator: ind,
                        period: p,
                        start,
                        now,
                        suppression,
                        status: st,
                    });
                }
            }
        }
    }
    let h = rows.len();
    let cols = vec![
        Column::new("target_id".into(), rows.iter().map(|r| r.target.id.clone()).collect::<Vec<_>>()),
        Column::new("unit".into(), rows.iter().map(|r| r.unit.to_string()).collect::<Vec<_>>()),
        Column::new("indicator_id".into(), rows.iter().map(|r| r.indicator.id.clone()).collect::<Vec<_>>()),
        Column::new("version".into(), rows.iter().map(|r| r.indicator.version).collect::<Vec<_>>()),
        Column::new("instrument".into(), rows.iter().map(|r| r.target.instrument.clone()).collect::<Vec<_>>()),
        Column::new("domain".into(), rows.iter().map(|r| r.target.domain.clone()).collect::<Vec<_>>()),
        Column::new("description".into(), rows.iter().map(|r| r.target.description.clone()).collect::<Vec<_>>()),
        Column::new("measure".into(), rows.iter().map(|r| r.indicator.measure().name()).collect::<Vec<_>>()),
        Column::new("period_type".into(), rows.iter().map(|r| r.period.name()).collect::<Vec<_>>()),
        date_column("period_start", rows.iter().map(|r| r.start).collect())?,
        Column::new(
            "period".into(),
            rows.iter().map(|r| period_label(r.period, disclosure::date_of(r.start))).collect::<Vec<_>>(),
        ),
        Column::new("direction".into(), rows.iter().map(|r| r.target.direction.name()).collect::<Vec<_>>()),
        Column::new("target".into(), rows.iter().map(|r| r.target.value).collect::<Vec<_>>()),
        Column::new("n".into(), rows.iter().map(|r| r.now.and_then(|p| p.n)).collect::<Vec<_>>()),
        Column::new("value".into(), rows.iter().map(|r| r.now.and_then(|p| p.value)).collect::<Vec<_>>()),
        Column::new("ci_low".into(), rows.iter().map(|r| r.now.and_then(|p| p.ci).map(|c| c.0)).collect::<Vec<_>>()),
        Column::new("ci_high".into(), rows.iter().map(|r| r.now.and_then(|p| p.ci).map(|c| c.1)).collect::<Vec<_>>()),
        Column::new("status".into(), rows.iter().map(|r| r.status.status).collect::<Vec<_>>()),
        Column::new("reason".into(), rows.iter().map(|r| r.status.reason).collect::<Vec<_>>()),
        Column::new("suppression".into(), rows.iter().map(|r| r.suppression).collect::<Vec<_>>()),
        Column::new("change".into(), rows.iter().map(|r| r.status.change.map(|c| c.0)).collect::<Vec<_>>()),
        Column::new("change_low".into(), rows.iter().map(|r| r.status.change.map(|c| c.1)).collect::<Vec<_>>()),
        Column::new("change_high".into(), rows.iter().map(|r| r.status.change.map(|c| c.2)).collect::<Vec<_>>()),
        Column::new("trend".into(), rows.iter().map(|r| r.status.trend).collect::<Vec<_>>()),
    ];
    conform(DataFrame::new(h, cols)?, &schema::TARGET_STATUS)
}

/// The catalogue's age band ("13-17", "65+") of an age in years; ages
/// below the first band's lower limit fall in the first band.
pub fn age_band(cat: &Catalogue, age: Expr) -> Expr {
    let labels = cat.age_band_labels();
    let mut band =
        when(lit(false)).then(lit(NULL).cast(DataType::String)).when(lit(false)).then(lit(NULL).cast(DataType::String));
    for (lo, label) in labels.iter().rev() {
        band = band.when(age.clone().gt_eq(lit(*lo))).then(lit(label.clone()));
    }
    band.otherwise(lit(labels[0].1.clone()))
}

/// What `run` did.
pub struct Report {
    pub build_dir: PathBuf,
    pub manifest: Manifest,
    pub warnings: Vec<String>,
}

/// Compute the derived tables from the entity tables in a build folder that
/// is being staged, write them into it and record the run in its manifest
/// (`based_on_build`: the build whose entity tables these are). `previous`
/// is the build this one replaces: its published figures are compared with
/// the new ones (`revisions`). Returns the warnings.
pub fn compute_into(
    dir: &Path,
    manifest: &mut Manifest,
    based_on_build: String,
    cat: &Catalogue,
    targets: &Targets,
    previous: Option<&Path>,
) -> Result<Vec<String>, IndicatorError> {
    let started = Instant::now();
    let as_of = NaiveDate::parse_from_str(&manifest.as_of, "%Y-%m-%d").map_err(|e| IndicatorError::Io {
        path: dir.join(Manifest::FILE),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, format!("as_of: {e}")),
    })?;
    let mut out = compute(&Tables::scan(dir, as_of)?, cat, targets)?;
    let mut revised = DataFrame::empty_with_schema(&schema::REVISIONS.schema());
    if let Some(prev) = previous
        && let Ok(prev_manifest) = Manifest::read(prev)
    {
        // The build's row changes explain the figures when they were counted
        // against that same build (a new build of the entity tables; `utfall
        // indicators` on the same tables has none).
        let path = dir.join(schema::ROW_CHANGES.file_name());
        let changes = if manifest.previous_build.as_deref() == Some(prev_manifest.build_id.as_str()) && path.exists() {
            Some(utfall_register::scan::scan_derived(dir, &schema::ROW_CHANGES)?.collect()?)
        } else {
            None
        };
        let previous = revisions::Previous { dir: prev, manifest: &prev_manifest, changes };
        let (r, w) = revisions::revisions(&out.indicators_public, &previous, &manifest.as_of)?;
        revised = r;
        out.warnings.extend(w);
    }
    let mut table_rows = Vec::new();
    for (table, df) in [
        (&schema::BASELINES, &mut out.baselines),
        (&schema::GOAL_ATTAINMENT, &mut out.goal_attainment),
        (&schema::INDICATORS, &mut out.indicators),
        (&schema::INDICATORS_PUBLIC, &mut out.indicators_public),
        (&schema::TARGET_STATUS, &mut out.target_status),
        (&schema::REVISIONS, &mut revised),
    ] {
        let path = dir.join(table.file_name());
        let file = std::fs::File::create(&path).map_err(IndicatorError::io(&path))?;
        utfall_register::store::write_parquet(df, file)?;
        table_rows.push((table.name.to_string(), df.height() as u64));
    }
    manifest.indicators = Some(IndicatorRun {
        based_on_build,
        computed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        seconds: started.elapsed().as_secs_f64(),
        catalogue_version: cat.version.clone(),
        catalogue_sha256: cat.sha256.clone(),
        definitions: cat.indicators.iter().map(|i| (i.id.clone(), i.version)).collect(),
        targets_sha256: targets.sha256.clone(),
        threshold: cat.settings.threshold,
        threshold_overridden: cat.settings.threshold_overridden,
        tables: table_rows,
        suppressed_primary: out.suppressed_primary,
        suppressed_complementary: out.suppressed_complementary,
        n_withheld: out.n_withheld,
        audit: out.audit,
    });
    Ok(out.warnings)
}

/// Compute the derived tables of the current register and publish them in a
/// new build (the entity tables are hard-linked, not copied). A failure
/// leaves the current register as it was.
pub fn run(register: &Path, cat: &Catalogue, targets: &Targets) -> Result<Report, IndicatorError> {
    let derived: Vec<String> = schema::DERIVED.iter().map(|t| t.file_name()).collect();
    let mut warnings = Vec::new();
    let current = CurrentBuild::open(register)?;
    let m = &current.manifest;
    let published = store::derive(register, &current, &derived, |dir, manifest| {
        let based_on = m.indicators.as_ref().map_or_else(|| m.build_id.clone(), |r| r.based_on_build.clone());
        warnings = compute_into(dir, manifest, based_on, cat, targets, Some(&current.dir))?;
        Ok::<_, IndicatorError>(())
    })?;
    Ok(Report { build_dir: published.build_dir, manifest: published.manifest, warnings })
}

#[cfg(test)]
mod hand_tests;
