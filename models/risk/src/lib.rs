//! The optional risk model (`utfall model train | score | explain`).
//!
//! Advisory only: a score ranks clients to help prioritise support and
//! explains itself; a person decides. The rules it follows come from the
//! field (domain brief §5): split by household and by time, calibration and
//! error rates by group as a standing output, labels produced by the system
//! itself flagged as such, overrides counted, and no claim that a score says
//! what an intervention would do.
//!
//! - [`spec`]: the model specification (`models/risk/specs/NAME.toml`);
//! - [`features`]: the rows and their labels, and the feature catalogue (polars, as of each row's prediction moment);
//! - [`split`]: the time split grouped by household;
//! - [`model`]: encoding, standardisation, linfa's logistic regression and tree;
//! - [`metrics`]: AUC (household-clustered interval), Brier, calibration, error rates, PSI;
//! - [`report`]: the evaluation tables and the model card (HTML, plotters);
//! - [`score`]: scores, drift and overrides written into the register; explanations.

pub mod features;
pub mod metrics;
pub mod model;
pub mod report;
pub mod score;
pub mod spec;
pub mod split;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use utfall_disclosure::Policy;

use crate::features::Register;
use crate::metrics::{Reference, Values};
use crate::model::{Encoding, Fitted};
use crate::spec::{Algorithm, Bands, Drift, Outcome, Spec};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("no register at {0} (run `utfall build` or `utfall demo` first)")]
    NoRegister(PathBuf),
    #[error("{0}")]
    Data(String),
    #[error(transparent)]
    Polars(#[from] PolarsError),
    #[error(transparent)]
    Fit(#[from] model::FitError),
    #[error("{path}: not a model artefact of this utfall: {message}")]
    Artefact { path: PathBuf, message: String },
    #[error("client {0} has no row to score (no closed case or year of support in the current population)")]
    UnknownClient(String),
}

impl ModelError {
    pub fn io(path: &Path) -> impl Fn(std::io::Error) -> ModelError + '_ {
        move |source| ModelError::Io { path: path.to_path_buf(), source }
    }

    /// 2 for bad input (spec, artefact, unknown client), 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            ModelError::Spec(_) | ModelError::Artefact { .. } | ModelError::UnknownClient(_) => 2,
            ModelError::NoRegister(_) => 2,
            _ => 1,
        }
    }
}

/// The artefact's format; bumped when its fields change meaning.
pub const ARTEFACT_FORMAT: u32 = 1;

/// Where the training and test rows came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SplitSummary {
    pub test_from: NaiveDate,
    pub seed: u64,
    pub train_rows: u64,
    pub test_rows: u64,
    pub train_households: u64,
    pub test_households: u64,
    /// Households with rows on both sides of the time split, each kept on one side.
    pub households_assigned: u64,
    pub train_first: Option<NaiveDate>,
    pub train_last: Option<NaiveDate>,
    pub test_first: Option<NaiveDate>,
    pub test_last: Option<NaiveDate>,
}

/// Test-set headline figures, stored in the artefact.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Headline {
    pub auc: f64,
    pub auc_low: f64,
    pub auc_high: f64,
    pub brier: f64,
    pub calibration_slope: Option<f64>,
    pub calibration_intercept: Option<f64>,
    pub ece: f64,
    pub test_positive_rate: f64,
}

/// A trained model: everything `score` and `explain` need, and where it came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Artefact {
    pub format: u32,
    /// `NAME-vVERSION-HASH`: HASH is the first 12 hex digits of the SHA-256
    /// of this artefact with `version` and `trained_at` empty (the same spec
    /// on the same register gives the same version).
    pub version: String,
    pub name: String,
    pub spec_version: u32,
    pub title_sv: String,
    pub title_en: String,
    /// The compiled outcome whose rows the model predicts for, or none where
    /// the rows are a cohort's entries (`rows`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The cohort whose entries are the rows (a spec's `[rows]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<utfall_definitions::CohortSpec>,
    /// The label written in the definition language, where the spec has one
    /// (on the outcome's rows, in place of its own label).
    #[serde(default, rename = "label", skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<utfall_definitions::VariableSpec>,
    pub algorithm: Algorithm,
    pub spec_sha256: String,
    /// SHA-256 of the training build's `manifest.json`, and that build.
    pub register_manifest_sha256: String,
    pub register_build: String,
    pub register_as_of: NaiveDate,
    pub tool_version: String,
    pub trained_at: String,
    pub features: Vec<String>,
    /// The `[[feature]]`s, as written, to compute them again when scoring.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defined_features: Vec<utfall_definitions::VariableSpec>,
    pub excluded: Vec<String>,
    pub encoding: Encoding,
    pub fitted: Fitted,
    pub alpha: f64,
    pub bands: Bands,
    pub thresholds: Vec<f64>,
    pub drift: Drift,
    pub split: SplitSummary,
    pub headline: Headline,
    /// Training distributions of every raw feature column and of the score.
    pub reference: Vec<Reference>,
}

impl Artefact {
    pub const FILE: &'static str = "model.json";

    pub fn read(path: &Path) -> Result<Artefact, ModelError> {
        let file = if path.is_dir() { path.join(Artefact::FILE) } else { path.to_path_buf() };
        let text = std::fs::read_to_string(&file).map_err(ModelError::io(&file))?;
        let a: Artefact = serde_json::from_str(&text)
            .map_err(|e| ModelError::Artefact { path: file.clone(), message: e.to_string() })?;
        if a.format != ARTEFACT_FORMAT {
            return Err(ModelError::Artefact {
                path: file,
                message: format!("format {} (this utfall reads {ARTEFACT_FORMAT}); train it again", a.format),
            });
        }
        if Unit::of(a.outcome, a.rows.as_ref()).is_none() {
            return Err(ModelError::Artefact {
                path: file,
                message: "it names neither an outcome nor its rows; train it again".into(),
            });
        }
        let value: serde_json::Value = serde_json::from_str(&text).expect("parsed above");
        if a.version != Artefact::version_of(&value) {
            return Err(ModelError::Artefact {
                path: file,
                message: "its content does not match its version hash (edited by hand?)".into(),
            });
        }
        Ok(a)
    }

    fn computed_version(&self) -> String {
        Self::version_of(&serde_json::to_value(self).expect("artefact serialises"))
    }

    /// The version an artefact's JSON should carry. Hashed from a parsed
    /// `Value` (as read back from the file), so that a float's last digit
    /// parsed one way at training and another at reading cannot differ.
    fn version_of(value: &serde_json::Value) -> String {
        let text = serde_json::to_string(value).expect("JSON value serialises");
        let mut value: serde_json::Value = serde_json::from_str(&text).expect("own JSON parses");
        value["version"] = serde_json::Value::String(String::new());
        value["trained_at"] = serde_json::Value::String(String::new());
        let hash = hex::encode(Sha256::digest(serde_json::to_vec(&value).expect("JSON value serialises")));
        format!(
            "{}-v{}-{}",
            value["name"].as_str().unwrap_or_default(),
            value["spec_version"].as_u64().unwrap_or_default(),
            &hash[..12]
        )
    }

    /// What the model's rows are (checked when the artefact was read).
    pub fn unit(&self) -> Unit<'_> {
        Unit::of(self.outcome, self.rows.as_ref()).expect("checked: an outcome or rows")
    }

    pub fn band(&self, p: f64) -> &'static str {
        if p >= self.bands.high {
            "high"
        } else if p >= self.bands.medium {
            "medium"
        } else {
            "low"
        }
    }
}

/// The register build a model trains on or scores (opened once).
pub use utfall_register::store::CurrentBuild as Build;

impl From<utfall_register::store::OpenError> for ModelError {
    fn from(e: utfall_register::store::OpenError) -> ModelError {
        use utfall_register::store::OpenError;
        match e {
            OpenError::Io { path, source } => ModelError::Io { path, source },
            OpenError::NoRegister(p) => ModelError::NoRegister(p),
            e @ OpenError::Manifest { .. } => ModelError::Data(e.to_string()),
        }
    }
}

/// Which rows of an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Population {
    /// The rows whose outcome is known: the ones trained and evaluated on.
    Known,
    /// The rows whose outcome is not yet known: the ones scored.
    Current,
}

/// What a model's rows are: the unit and moment of prediction.
#[derive(Debug, Clone, Copy)]
pub enum Unit<'a> {
    /// One of the compiled outcomes' rows (a closed case at its closure, a
    /// household on 31 December of a year with support).
    Outcome(Outcome),
    /// A cohort's entries into a case, at each entry's index date (`[rows]`).
    Entry(&'a utfall_definitions::CohortSpec),
}

impl<'a> Unit<'a> {
    /// The rows of a spec or an artefact: its `[rows]`, else its outcome;
    /// none where it has neither.
    pub fn of(outcome: Option<Outcome>, rows: Option<&'a utfall_definitions::CohortSpec>) -> Option<Unit<'a>> {
        match (rows, outcome) {
            (Some(c), _) => Some(Unit::Entry(c)),
            (None, o) => o.map(Unit::Outcome),
        }
    }

    /// The rows in words, for the model card.
    pub fn describe(&self) -> String {
        match self {
            Unit::Outcome(o) => o.describe().to_string(),
            Unit::Entry(c) => {
                let e = &c.entry;
                let filter: Vec<String> = e.filter.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                let filter = if filter.is_empty() { String::new() } else { format!(" where {}", filter.join(", ")) };
                format!(
                    "one row per {}entry of {}{filter} into a case, predicted at the entry's date{}",
                    if e.every { "" } else { "client's first " },
                    e.table,
                    if c.require.is_empty() { String::new() } else { format!(" ({} requirements)", c.require.len()) }
                )
            }
        }
    }
}

/// Rows with their raw features, for an outcome and feature list, and the
/// `[[feature]]`s written in the definition language.
pub fn feature_frame(
    build: &Build,
    unit: Unit,
    labels: &[utfall_definitions::VariableSpec],
    features: &[String],
    defined: &[utfall_definitions::VariableSpec],
    population: Population,
) -> Result<DataFrame, ModelError> {
    let r = Register::scan(&build.dir, build.as_of)?;
    let rows = match unit {
        Unit::Outcome(outcome) if labels.is_empty() => {
            let rows = features::rows(outcome, &r, population, true)?;
            let known = col("observable");
            rows.lazy().filter(if population == Population::Known { known } else { known.not() }).collect()?
        }
        Unit::Outcome(outcome) => {
            relabelled(build, features::rows(outcome, &r, population, false)?, labels, population)?
        }
        Unit::Entry(_) if labels.is_empty() => {
            return Err(ModelError::Data("rows from a cohort's entry need a [[label]]".into()));
        }
        Unit::Entry(cohort) => relabelled(build, features::entry_rows(cohort, &build.dir, &r)?, labels, population)?,
    };
    let frame = features::compute(&rows, features, &r)?;
    // The overrides' `__support` is always computed, beside the features.
    let vars: Vec<utfall_definitions::Variable> = defined
        .iter()
        .chain([&support()])
        .map(|f| f.check(utfall_definitions::Role::Known).map_err(|e| ModelError::Data(e.to_string())))
        .collect::<Result<_, _>>()?;
    with_variables(&build.dir, build.as_of, &vars, &frame)
}

/// A label written in the definition language (`[[label]]`, one or more:
/// the label holds where any of them holds), checked: each observed after
/// the prediction moment, yes or no (`any`, `none`, `is`, `reaches`, or an
/// event that happened), its window ending a whole number of months after
/// the moment, the same for all (the horizon, returned beside them). Errors
/// name the field `label[k].*`.
pub fn label_variables(
    labels: &[utfall_definitions::VariableSpec],
) -> Result<(Vec<utfall_definitions::Variable>, u32), utfall_definitions::DefinitionError> {
    let mut out = Vec::new();
    let mut horizon = None;
    for (k, label) in labels.iter().enumerate() {
        let mut l = label.clone();
        l.name = format!("{LABEL}{k}");
        let field = format!("label[{k}]");
        let bad =
            |f: &str, message: String| utfall_definitions::DefinitionError { field: format!("{field}.{f}"), message };
        let v = l.check(utfall_definitions::Role::Outcome).map_err(|e| utfall_definitions::DefinitionError {
            field: e.field.replace(&format!("variable '{}'", l.name), &field),
            message: e.message,
        })?;
        if !(v.is_bool() || v.aggregate().is_event()) {
            return Err(bad(
                "aggregate",
                format!(
                    "a label is yes or no: any, none, latest with `is`, a number with `reaches`, or an event that happened (time_to_event, without, months_without, improved), not {}",
                    v.aggregate().name()
                ),
            ));
        }
        let months = match l.window.map(|w| w.end) {
            Some(utfall_definitions::Offset::Months(n)) if n > 0 => n as u32,
            _ => {
                return Err(bad(
                    "window",
                    "a label's window ends a whole number of months after the prediction moment, its horizon (\"(0, 12m]\")".into(),
                ));
            }
        };
        if horizon.is_some_and(|h| h != months) {
            return Err(bad("window", "every [[label]] ends at the same horizon".into()));
        }
        horizon = Some(months);
        out.push(v);
    }
    Ok((out, horizon.unwrap_or(0)))
}

/// The prefix of the columns a label written in the language is computed into.
const LABEL: &str = "__label";

/// The outcome's rows of `population` labelled by the `[[label]]`s written
/// in the language: observable where the moment plus the horizon is on or
/// before the register's date; the label (computed for observable rows
/// only) true where any of the variables holds (an event: happened).
fn relabelled(
    build: &Build,
    rows: DataFrame,
    labels: &[utfall_definitions::VariableSpec],
    population: Population,
) -> Result<DataFrame, ModelError> {
    let (vars, months) = label_variables(labels).map_err(|e| ModelError::Data(e.to_string()))?;
    let observable = col("at").dt().offset_by(lit(format!("{months}mo"))).lt_eq(lit(build.as_of));
    let rows = rows
        .lazy()
        .with_column(observable.alias("observable"))
        .filter(if population == Population::Known { col("observable") } else { col("observable").not() })
        .collect()?;
    if population == Population::Current {
        return Ok(rows);
    }
    let holds =
        vars.iter()
            .map(|v| {
                if v.is_bool() {
                    col(v.name.as_str()).fill_null(lit(false))
                } else {
                    col(v.name.as_str()).is_not_null()
                }
            })
            .reduce(|a, b| a.or(b))
            .expect("at least one label");
    let names: Vec<PlSmallStr> = vars.iter().map(|v| v.name.as_str().into()).collect();
    Ok(with_variables(&build.dir, build.as_of, &vars, &rows.drop("label")?)?
        .lazy()
        .with_column(holds.alias("label"))
        .drop(Selector::ByName { names: names.into(), strict: true })
        .collect()?)
}

/// Whether the case has a granted intervention by the prediction moment:
/// what the override monitoring compares a score's band with (`__support`).
fn support() -> utfall_definitions::VariableSpec {
    use utfall_definitions::variable::{By, DateSpec, FilterValue};
    let mut v = utfall_definitions::VariableSpec::new(SUPPORT, "interventions", utfall_definitions::Aggregate::Any);
    v.by = By::Case;
    v.date = Some(DateSpec::One("decided".into()));
    v.window = Some(utfall_definitions::Window::parse("[-inf, 0]").expect("a window"));
    v.filter.insert("granted".into(), FilterValue::Bool(true));
    v
}

/// The column of the rows that says whether the case has support ([`support`]).
pub const SUPPORT: &str = "__support";

pub fn bools(df: &DataFrame, name: &str) -> PolarsResult<Vec<bool>> {
    Ok(df.column(name)?.bool()?.iter().map(|v| v.unwrap_or(false)).collect())
}

/// Household ids as cluster numbers.
pub fn clusters(df: &DataFrame) -> PolarsResult<Vec<u64>> {
    let mut ids = std::collections::HashMap::new();
    let col = df.column("household_id")?.str()?.clone();
    Ok(col
        .iter()
        .map(|h| {
            let next = ids.len() as u64;
            *ids.entry(h.unwrap_or("").to_string()).or_insert(next)
        })
        .collect())
}

/// Reference distributions of every raw feature column and of the score.
fn references(shapes: &[features::Shape], df: &DataFrame, scores: &[f64]) -> PolarsResult<Vec<Reference>> {
    let mut out = Vec::new();
    for shape in shapes {
        for c in &shape.columns {
            out.push(Reference::fit(c, &Values::of(df.column(c.as_str())?)?));
        }
    }
    out.push(Reference::fit("score", &Values::scores(scores)));
    Ok(out)
}

/// What `train` produced.
pub struct Trained {
    pub dir: PathBuf,
    pub artefact: Artefact,
    pub evaluation: metrics::Evaluation,
}

pub struct TrainOptions {
    /// Also write `design.parquet`: the standardised design matrix of the
    /// training and test rows with their labels (for an independent refit).
    pub export_design: bool,
    /// Disclosure threshold for the model card (default: the build's).
    pub threshold: Option<u32>,
    /// Train although the split is below the spec's minimums (the card warns).
    pub allow_weak_split: bool,
}

/// What makes a split too weak to evaluate on: sizes and class counts below
/// the spec's minimums, or training and test populations whose shares of
/// positives differ by more than the spec allows.
pub fn split_problems(spec: &Spec, train: &[bool], test: &[bool]) -> Vec<String> {
    let s = &spec.split;
    let mut out = Vec::new();
    let share = |y: &[bool]| y.iter().filter(|v| **v).count() as f64 / y.len().max(1) as f64;
    for (side, y) in [("training", train), ("test", test)] {
        let positives = y.iter().filter(|v| **v).count();
        let negatives = y.len() - positives;
        if y.len() < s.min_rows {
            out.push(format!("the {side} set has {} rows (split.min_rows {})", y.len(), s.min_rows));
        }
        if positives.min(negatives) < s.min_class {
            out.push(format!(
                "the {side} set has {positives} positives and {negatives} negatives (split.min_class {} of each)",
                s.min_class
            ));
        }
    }
    let gap = (share(train) - share(test)).abs();
    if gap > s.max_prevalence_gap {
        out.push(format!(
            "positives are {:.1}% of the training set and {:.1}% of the test set (split.max_prevalence_gap {:.0} points)",
            share(train) * 100.0,
            share(test) * 100.0,
            s.max_prevalence_gap * 100.0
        ));
    }
    out
}

/// Train the spec's model on the current register and write its artefact
/// folder `OUT/VERSION/` (model.json, model_card.html, evaluation tables).
/// The rows with the spec's `[[group]]` variables beside them, each as of
/// the row's prediction moment (`at`), in the rows' order.
fn with_defined_groups(dir: &Path, as_of: NaiveDate, spec: &Spec, rows: &DataFrame) -> Result<DataFrame, ModelError> {
    let vars = spec.group_variables().map_err(|e| ModelError::Data(e.to_string()))?;
    with_variables(dir, as_of, &vars, rows)
}

/// `rows` with one column per variable, each computed as of the row's `at`.
fn with_variables(
    dir: &Path,
    as_of: NaiveDate,
    vars: &[utfall_definitions::Variable],
    rows: &DataFrame,
) -> Result<DataFrame, ModelError> {
    if vars.is_empty() {
        return Ok(rows.clone());
    }
    // The rows' own columns are the members' (`same = ["area"]`, `anchor = "opened"`).
    let mut keys = vec![col("client_id"), col("at").cast(DataType::Date).alias("index_date")];
    for c in ["case_id", "household_id", "area", "unit", "opened"] {
        if rows.schema().contains(c) {
            keys.push(col(c));
        }
    }
    let index = rows.clone().lazy().select(keys);
    let names: Vec<Expr> = vars.iter().map(|v| col(v.name.as_str())).collect();
    let values = utfall_definitions::compute(dir, as_of, index, vars)?.select(names).collect()?;
    assert_eq!(values.height(), rows.height(), "one value per row");
    Ok(rows.hstack(values.columns())?)
}

pub fn train(spec: &Spec, register: &Path, out: &Path, options: &TrainOptions) -> Result<Trained, ModelError> {
    let build = Build::open(register)?;
    let policy = Policy::for_build(&build.manifest, options.threshold).map_err(|e| ModelError::Data(e.to_string()))?;
    let df =
        feature_frame(&build, spec.unit(), &spec.labels, &spec.features, &spec.defined_features, Population::Known)?;
    let sp = split::split(&df, spec, build.as_of)?;
    if sp.train.height() == 0 || sp.test.height() == 0 {
        return Err(ModelError::Data(format!(
            "the split leaves {} training and {} test rows (test from {}): the register needs rows whose outcome is known on both sides; set split.test_from in {}",
            sp.train.height(),
            sp.test.height(),
            sp.summary.test_from,
            spec.file
        )));
    }
    let (y_train, y_test) = (bools(&sp.train, "label")?, bools(&sp.test, "label")?);
    for (side, y) in [("training", &y_train), ("test", &y_test)] {
        if y.iter().all(|v| *v) || !y.iter().any(|v| *v) {
            return Err(ModelError::Data(format!(
                "the {side} set's {} rows all have the same outcome: nothing to learn or evaluate",
                y.len()
            )));
        }
    }
    let weak = split_problems(spec, &y_train, &y_test);
    if !weak.is_empty() && !options.allow_weak_split {
        return Err(ModelError::Data(format!(
            "{}: the split cannot support an honest evaluation: {}. Move split.test_from (now {}) so both sides hold enough of each outcome, shorten the outcome's horizon or wait for more data; or, knowing the figures are weak, train with --allow-weak-split (the model card then says so at its top)",
            spec.file,
            weak.join("; "),
            sp.summary.test_from
        )));
    }
    let encoding = Encoding::fit(spec, &sp.train)?;
    let x_train = encoding.matrix(&sp.train)?;
    let fitted = Fitted::fit(spec, &x_train, &y_train)?;
    let x_test = encoding.matrix(&sp.test)?;
    let p_test = fitted.predict(&x_test);
    let p_train = fitted.predict(&x_train);
    let evaluation = metrics::evaluate(&y_test, &p_test, &clusters(&sp.test)?, &spec.thresholds, spec.calibration_bins);
    let auc = evaluation.auc.expect("test set has both classes (checked by the split)");
    let mut artefact = Artefact {
        format: ARTEFACT_FORMAT,
        version: String::new(),
        name: spec.name.clone(),
        spec_version: spec.version,
        title_sv: spec.title_sv.clone(),
        title_en: spec.title_en.clone(),
        outcome: spec.outcome,
        rows: spec.rows.clone(),
        labels: spec.labels.clone(),
        algorithm: spec.algorithm,
        spec_sha256: spec.sha256.clone(),
        register_manifest_sha256: build.manifest_sha256.clone(),
        register_build: build.manifest.build_id.clone(),
        register_as_of: build.as_of,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        trained_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        features: spec.features.clone(),
        defined_features: spec.defined_features.clone(),
        excluded: spec.excluded.clone(),
        encoding,
        fitted,
        alpha: spec.logistic.alpha,
        bands: spec.bands.clone(),
        thresholds: spec.thresholds.clone(),
        drift: spec.drift.clone(),
        split: sp.summary.clone(),
        headline: Headline {
            auc: auc.value,
            auc_low: auc.low,
            auc_high: auc.high,
            brier: evaluation.brier.value,
            calibration_slope: evaluation.slope.map(|e| e.value),
            calibration_intercept: evaluation.intercept.map(|e| e.value),
            ece: evaluation.ece,
            test_positive_rate: evaluation.observed,
        },
        reference: references(&features::shapes(&spec.features, &spec.defined_features), &sp.train, &p_train)?,
    };
    artefact.version = artefact.computed_version();

    // Write into a staging folder, then rename: a failed run leaves no half artefact.
    std::fs::create_dir_all(out).map_err(ModelError::io(out))?;
    let dir = out.join(&artefact.version);
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{}.", artefact.version))
        .tempdir_in(out)
        .map_err(ModelError::io(out))?;
    let model_path = staging.path().join(Artefact::FILE);
    std::fs::write(&model_path, serde_json::to_string_pretty(&artefact).expect("artefact serialises"))
        .map_err(ModelError::io(&model_path))?;
    let groups =
        report::group_evaluations(spec, &with_defined_groups(&build.dir, build.as_of, spec, &sp.test)?, &p_test)?;
    let train_eval =
        metrics::evaluate(&y_train, &p_train, &clusters(&sp.train)?, &spec.thresholds, spec.calibration_bins);
    report::write_tables(staging.path(), &artefact, &evaluation, &train_eval, &groups)?;
    let card = report::model_card(spec, &artefact, &evaluation, &train_eval, &groups, &policy, &weak);
    let card_path = staging.path().join("model_card.html");
    std::fs::write(&card_path, card).map_err(ModelError::io(&card_path))?;
    if options.export_design {
        report::write_design(staging.path(), &artefact, &sp.train, &x_train, &sp.test, &x_test)?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(ModelError::io(&dir))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, &dir).map_err(ModelError::io(&dir))?;
    Ok(Trained { dir, artefact, evaluation })
}
