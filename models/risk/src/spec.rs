//! The model specification (`models/risk/specs/NAME.toml`): outcome, features,
//! excluded attributes, split, algorithm, thresholds, bands and drift limits.

use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::features::{FEATURES, GROUPS};

pub use crate::features::Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Logistic regression on standardised features with an L2 penalty (linfa-logistic).
    Logistic,
    /// A classification tree (linfa-trees); a leaf's probability is the
    /// training share of positives in it (Laplace-smoothed).
    Tree,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    /// Rows predicted on or after this date (with a known label) are the test
    /// set; rows whose label was known by this date are the training set.
    /// Default: two horizons before the register's as-of date. A TOML date
    /// or a quoted one.
    #[serde(default, deserialize_with = "utfall_register::specfile::option_date")]
    pub test_from: Option<NaiveDate>,
    /// Seed of the household assignment: a household with rows on both
    /// sides of the time split goes to one side, chosen by a keyed hash.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Each of the training and test sets needs at least this many rows...
    #[serde(default = "default_min_rows")]
    pub min_rows: usize,
    /// ...and this many positives and this many negatives,
    #[serde(default = "default_min_class")]
    pub min_class: usize,
    /// and their shares of positives may differ by at most this much (a test
    /// set of a different population measures another model).
    #[serde(default = "default_max_prevalence_gap")]
    pub max_prevalence_gap: f64,
}

fn default_seed() -> u64 {
    1
}
fn default_min_rows() -> usize {
    200
}
fn default_min_class() -> usize {
    30
}
fn default_max_prevalence_gap() -> f64 {
    0.2
}

impl Default for Split {
    fn default() -> Split {
        Split {
            test_from: None,
            seed: default_seed(),
            min_rows: default_min_rows(),
            min_class: default_min_class(),
            max_prevalence_gap: default_max_prevalence_gap(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticParams {
    /// L2 penalty: the loss is -sum log-likelihood + alpha/2 |w|^2 over the
    /// standardised coefficients (not the intercept); scikit-learn's C = 1/alpha.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    #[serde(default = "default_iterations")]
    pub max_iterations: u64,
}

fn default_alpha() -> f64 {
    1.0
}
fn default_iterations() -> u64 {
    500
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams { alpha: default_alpha(), max_iterations: default_iterations() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeParams {
    #[serde(default = "default_depth")]
    pub max_depth: usize,
    /// Fewest training rows in a leaf.
    #[serde(default = "default_min_leaf")]
    pub min_leaf: usize,
}

fn default_depth() -> usize {
    6
}
fn default_min_leaf() -> usize {
    200
}

impl Default for TreeParams {
    fn default() -> Self {
        TreeParams { max_depth: default_depth(), min_leaf: default_min_leaf() }
    }
}

/// Risk bands by predicted probability: low below `medium`, high from `high`.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Bands {
    pub medium: f64,
    pub high: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Drift {
    /// A population stability index at or above this is reported as moderate drift.
    #[serde(default = "default_psi_moderate")]
    pub psi_moderate: f64,
    /// At or above this: drifted (a warning on every scoring run).
    #[serde(default = "default_psi_drifted")]
    pub psi_drifted: f64,
}

fn default_psi_moderate() -> f64 {
    0.1
}
fn default_psi_drifted() -> f64 {
    0.25
}

impl Default for Drift {
    fn default() -> Self {
        Drift { psi_moderate: default_psi_moderate(), psi_drifted: default_psi_drifted() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub name: String,
    pub version: u32,
    pub title_sv: String,
    pub title_en: String,
    /// The compiled outcome whose rows (the unit and moment of prediction)
    /// and label the model has; or `[rows]`.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// The rows as a cohort's entries into a case, each at its index date
    /// (`[rows]`: an `entry`, and `require`s with their `variable`s), in
    /// place of `outcome`; the label is then the spec's `[[label]]`.
    #[serde(default)]
    pub rows: Option<utfall_definitions::CohortSpec>,
    /// The label written in the definition language (`[[label]]`, one or
    /// more: the label holds where any holds): yes or no, observed after the
    /// prediction moment, on the outcome's rows (its unit and moment) in
    /// place of its own label; their windows' end is the horizon.
    #[serde(default, rename = "label")]
    pub labels: Vec<utfall_definitions::VariableSpec>,
    #[serde(default = "default_algorithm")]
    pub algorithm: Algorithm,
    /// Feature names from the feature catalogue (`features::FEATURES`).
    #[serde(default)]
    pub features: Vec<String>,
    /// More features, written in the definition language (`docs/definitions.md`):
    /// each a variable known at the prediction moment (its window ends at 0
    /// at the latest), computed as of each row's `at`.
    #[serde(default, rename = "feature")]
    pub defined_features: Vec<utfall_definitions::VariableSpec>,
    /// Attributes that must never be features (audited, and used only to
    /// evaluate by group).
    #[serde(default)]
    pub excluded: Vec<String>,
    /// Groups the evaluation is broken down by.
    #[serde(default = "default_groups")]
    pub groups: Vec<String>,
    /// More groups, written in the definition language (`docs/definitions.md`):
    /// each a variable known at the prediction moment (a client attribute,
    /// `any` payment in the year before, ...), its values the group's levels.
    #[serde(default, rename = "group")]
    pub defined_groups: Vec<utfall_definitions::VariableSpec>,
    /// Probability thresholds for precision, recall and error rates.
    pub thresholds: Vec<f64>,
    pub bands: Bands,
    /// Bins of the calibration curve (equal-frequency) and of the ECE.
    #[serde(default = "default_bins")]
    pub calibration_bins: usize,
    #[serde(default)]
    pub split: Split,
    #[serde(default)]
    pub logistic: LogisticParams,
    #[serde(default)]
    pub tree: TreeParams,
    #[serde(default)]
    pub drift: Drift,
    /// Known caveats of the label, shown on the model card.
    #[serde(default)]
    pub label_caveats: Vec<String>,
    /// Known limits, shown on the model card.
    #[serde(default)]
    pub limits: Vec<String>,
    #[serde(skip)]
    pub sha256: String,
    #[serde(skip)]
    pub file: String,
}

/// The columns of a model's rows besides the features (`features::rows`).
const ROW_COLUMNS: &[&str] = &[
    "row_id",
    "label",
    "client_id",
    "household_id",
    "case_id",
    "area",
    "unit",
    "opened",
    "at",
    "observable",
    "sex",
    "district",
    "age_band",
    "index_date",
];

fn default_algorithm() -> Algorithm {
    Algorithm::Logistic
}
fn default_groups() -> Vec<String> {
    GROUPS.iter().map(|g| g.to_string()).collect()
}
fn default_bins() -> usize {
    10
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{file}: {source}")]
    Io { file: String, source: std::io::Error },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: {field}: {message}")]
    Invalid { file: String, field: String, message: String },
}

impl Spec {
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Io { file: file.clone(), source })?;
        Spec::parse(&text, &file)
    }

    pub fn parse(text: &str, file: &str) -> Result<Spec, SpecError> {
        let mut spec: Spec =
            toml::from_str(text).map_err(|e| SpecError::Parse { file: file.to_string(), message: e.to_string() })?;
        spec.sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        spec.file = file.to_string();
        spec.check()?;
        Ok(spec)
    }

    /// The `[[group]]` variables, checked: known at the prediction moment,
    /// named apart from the built-in groups and the features.
    pub fn group_variables(&self) -> Result<Vec<utfall_definitions::Variable>, SpecError> {
        let mut out = Vec::new();
        for g in &self.defined_groups {
            let taken = GROUPS.contains(&g.name.as_str())
                || g.name.starts_with("__")
                || self.features.contains(&g.name)
                || ROW_COLUMNS.contains(&g.name.as_str())
                || self.defined_features.iter().any(|f| f.name == g.name)
                || out.iter().any(|v: &utfall_definitions::Variable| v.name == g.name);
            if taken {
                return Err(self.invalid(
                    format!("group '{}'.name", g.name),
                    "already the name of a group, a feature or a column of the rows",
                ));
            }
            out.push(g.check(utfall_definitions::Role::Known).map_err(|e| self.invalid(e.field, e.message))?);
        }
        Ok(out)
    }

    /// The `[[feature]]` variables, checked: known at the prediction moment,
    /// named apart from the catalogue's features, the groups and the rows'
    /// columns, and reading no attribute `excluded` rules out.
    pub fn feature_variables(&self) -> Result<Vec<utfall_definitions::Variable>, SpecError> {
        let mut out = Vec::new();
        for f in &self.defined_features {
            let field = format!("feature '{}'", f.name);
            let listed = |d: &&crate::features::FeatureDef| self.features.iter().any(|n| n == d.name);
            let taken = GROUPS.contains(&f.name.as_str())
                || f.name.starts_with("__")
                || self.features.contains(&f.name)
                || FEATURES.iter().filter(listed).any(|d| d.name == f.name || d.columns.contains(&f.name.as_str()))
                || self.defined_groups.iter().any(|g| g.name == f.name)
                || ROW_COLUMNS.contains(&f.name.as_str())
                || out.iter().any(|v: &utfall_definitions::Variable| v.name == f.name);
            if taken {
                return Err(self.invalid(
                    format!("{field}.name"),
                    "already the name of a feature, a feature's column, a group or a column of the rows (or starts with __)",
                ));
            }
            let v = f
                .check(utfall_definitions::Role::Known)
                .map_err(|e| self.invalid(e.field.replacen("variable", "feature", 1), e.message))?;
            let (table, columns) = v.reads();
            if table == "clients" {
                for x in &self.excluded {
                    if columns.contains(&x.as_str()) {
                        return Err(self.invalid(
                            field.clone(),
                            format!("it reads the client's '{x}', which `excluded` rules out"),
                        ));
                    }
                }
            }
            out.push(v);
        }
        Ok(out)
    }

    fn invalid(&self, field: impl Into<String>, message: impl Into<String>) -> SpecError {
        SpecError::Invalid { file: self.file.clone(), field: field.into(), message: message.into() }
    }

    fn check(&self) -> Result<(), SpecError> {
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(self.invalid("name", "use letters, digits, '_' and '-' only (it names the artefact's folder)"));
        }
        match (&self.rows, self.outcome) {
            (Some(_), Some(_)) => {
                return Err(self.invalid("rows", "give the rows as `outcome` or as [rows], not both"));
            }
            (None, None) => {
                return Err(self.invalid(
                    "outcome",
                    "name the outcome (\"rereferral_12m\", \"long_term_assistance_next_year\"), or give [rows] and a [[label]]",
                ));
            }
            (Some(c), None) => {
                if self.labels.is_empty() {
                    return Err(self.invalid("label", "rows from a cohort's entry need a [[label]]: what is predicted"));
                }
                if !c.outcome.is_empty() {
                    return Err(self.invalid("rows.outcome", "a model's outcome is its [[label]]"));
                }
                c.check().map_err(|e| self.invalid(format!("rows.{}", e.field), e.message))?;
                let table = utfall_register::schema::table(&c.entry.table).expect("checked");
                if !table.register_columns().iter().any(|c| c.name == "case_id") {
                    return Err(self.invalid(
                        "rows.entry.table",
                        format!(
                            "{} has no case_id: a score is about a case, so the rows are entries into one",
                            table.name
                        ),
                    ));
                }
                if let Some(f) = self.features.first() {
                    return Err(self.invalid(
                        "features[0]",
                        format!("'{f}' is compiled for the two outcomes' rows; write it as a [[feature]]"),
                    ));
                }
            }
            (None, Some(_)) => {}
        }
        if self.features.is_empty() && self.defined_features.is_empty() {
            return Err(self.invalid("features", "name at least one feature (or write one as a [[feature]])"));
        }
        for (k, f) in self.features.iter().enumerate() {
            let Some(def) = FEATURES.iter().find(|d| d.name == f) else {
                let known: Vec<&str> = FEATURES.iter().map(|d| d.name).collect();
                return Err(self
                    .invalid(format!("features[{k}]"), format!("unknown feature '{f}'; known: {}", known.join(", "))));
            };
            if let Some(o) = self.outcome.filter(|o| !def.outcomes.contains(o)) {
                return Err(self.invalid(
                    format!("features[{k}]"),
                    format!("'{f}' is not defined for the outcome '{}'", o.name()),
                ));
            }
            if self.features[..k].contains(f) {
                return Err(self.invalid(format!("features[{k}]"), format!("'{f}' is listed twice")));
            }
            for x in &self.excluded {
                if def.uses.contains(&x.as_str()) || f == x {
                    return Err(self.invalid(
                        format!("features[{k}]"),
                        format!("'{f}' is computed from '{x}', which `excluded` rules out"),
                    ));
                }
            }
        }
        // Excluded names are attributes a feature could be computed from, or features.
        let mut excludable: Vec<&str> = FEATURES.iter().flat_map(|d| d.uses.iter().copied().chain([d.name])).collect();
        excludable.extend(GROUPS);
        excludable.sort_unstable();
        excludable.dedup();
        for (k, x) in self.excluded.iter().enumerate() {
            if !excludable.contains(&x.as_str()) {
                return Err(self.invalid(
                    format!("excluded[{k}]"),
                    format!("unknown attribute or feature '{x}'; known: {}", excludable.join(", ")),
                ));
            }
        }
        for (k, g) in self.groups.iter().enumerate() {
            if !GROUPS.contains(&g.as_str()) {
                return Err(
                    self.invalid(format!("groups[{k}]"), format!("unknown group '{g}'; known: {}", GROUPS.join(", ")))
                );
            }
        }
        self.group_variables()?;
        self.feature_variables()?;
        crate::label_variables(&self.labels).map_err(|e| self.invalid(e.field, e.message))?;
        if self.thresholds.is_empty() {
            return Err(self.invalid("thresholds", "name at least one probability threshold"));
        }
        for (k, t) in self.thresholds.iter().enumerate() {
            if !(*t > 0.0 && *t < 1.0) {
                return Err(self.invalid(format!("thresholds[{k}]"), "a probability strictly between 0 and 1"));
            }
        }
        let b = &self.bands;
        if !(b.medium > 0.0 && b.medium < b.high && b.high < 1.0) {
            return Err(self.invalid("bands", "need 0 < medium < high < 1"));
        }
        if self.calibration_bins < 2 {
            return Err(self.invalid("calibration_bins", "at least 2"));
        }
        if !(self.logistic.alpha.is_finite() && self.logistic.alpha >= 0.0) {
            return Err(self.invalid("logistic.alpha", "a non-negative number"));
        }
        if self.tree.max_depth == 0 || self.tree.min_leaf == 0 {
            return Err(self.invalid("tree", "max_depth and min_leaf must be at least 1"));
        }
        if !(self.drift.psi_moderate > 0.0 && self.drift.psi_moderate < self.drift.psi_drifted) {
            return Err(self.invalid("drift", "need 0 < psi_moderate < psi_drifted"));
        }
        Ok(())
    }

    /// Months after the prediction moment until the label is known: the
    /// `[[label]]`s' window end, or the outcome's horizon.
    pub fn horizon_months(&self) -> u32 {
        if self.labels.is_empty() {
            self.outcome.map_or(12, Outcome::horizon_months)
        } else {
            crate::label_variables(&self.labels).expect("checked when the spec was read").1
        }
    }

    /// What the model's rows are (checked when the spec was read: an
    /// outcome, or `[rows]`).
    pub fn unit(&self) -> crate::Unit<'_> {
        crate::Unit::of(self.outcome, self.rows.as_ref()).expect("checked: an outcome or [rows]")
    }

    /// `NAME-vVERSION`, the prefix of every artefact's version string.
    pub fn label(&self) -> String {
        format!("{}-v{}", self.name, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../specs/rereferral_12m.toml");

    #[test]
    fn shipped_specs_parse() {
        let s = Spec::parse(SHIPPED, "rereferral_12m.toml").unwrap();
        assert_eq!(s.outcome, Some(Outcome::Rereferral12m));
        Spec::parse(include_str!("../specs/long_term_assistance.toml"), "long_term_assistance.toml").unwrap();
    }

    /// The shipped specs' severity norms are the indicator catalogue's
    /// instruments (cut-off, SD, direction), every one of them.
    #[test]
    fn shipped_severity_norms_are_the_catalogues() {
        let cat = utfall_indicators::catalogue::Catalogue::builtin();
        let s = Spec::parse(SHIPPED, "rereferral_12m.toml").unwrap();
        let f = s.defined_features.iter().find(|f| f.name == "baseline_severity").unwrap();
        assert_eq!(f.severity.len(), cat.instruments.len());
        for i in &cat.instruments {
            let n = f.severity.get(&i.code).unwrap_or_else(|| panic!("no norm for {}", i.code));
            assert_eq!((n.cutoff, n.sd, n.higher_is_better), (i.cutoff, i.sd, i.higher_is_better), "{}", i.code);
        }
    }

    fn err(text: &str) -> String {
        Spec::parse(text, "m.toml").unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_field() {
        let e = err(&SHIPPED.replace("excluded = [", "features = [\"priors\"]\nexcluded = ["));
        assert!(e.starts_with("m.toml: features[") && e.contains("unknown feature 'priors'"), "{e}");
        let e = err(&SHIPPED.replace("excluded = [", "excluded = [\"gender\", "));
        assert!(
            e.contains("excluded[0]") && e.contains("unknown attribute or feature 'gender'") && e.contains("district"),
            "{e}"
        );
        // Dates: a TOML date and a quoted one alike.
        for written in ["test_from = 2024-01-01", "test_from = \"2024-01-01\""] {
            let s = Spec::parse(&SHIPPED.replace("# test_from = 2024-01-01", written), "t.toml").unwrap();
            assert_eq!(s.split.test_from, NaiveDate::from_ymd_opt(2024, 1, 1));
        }
        let e = err(&SHIPPED.replace("excluded = [", "features = [\"unit\"]\nexcluded = [\"unit\", "));
        assert!(e.contains("features[") && e.contains("'unit'"), "{e}");
        // A feature written in the language may not read an excluded attribute.
        let e = err(&SHIPPED.replace("excluded = [", "excluded = [\"birth_year\", "));
        assert!(e.contains("feature 'age'") && e.contains("birth_year"), "{e}");
        let e = err(&SHIPPED.replace("name = \"prior_cases\"", "name = \"__prior\""));
        assert!(e.contains("feature '__prior'.name"), "{e}");
        let e = err(&SHIPPED.replace("window = \"[-inf, 0)\"", "window = \"[-inf, 1d)\""));
        assert!(e.contains("feature 'prior_cases'.window") && e.contains("past the index date"), "{e}");
        let e = err(&SHIPPED.replace("high = 0.5", "high = 0.1"));
        assert!(e.contains("m.toml: bands:"), "{e}");
        let e = err(&SHIPPED.replace("thresholds = [", "thresholds = [1.5, "));
        assert!(e.contains("thresholds[0]"), "{e}");
        let e = err(&format!("{SHIPPED}\nunknown_key = 1\n"));
        assert!(e.contains("unknown field") && e.contains("unknown_key"), "{e}");
        let e = err(&SHIPPED
            .replace("excluded = [", "features = [\"school_attendance\"]\nexcluded = [")
            .replace("name = \"school_attendance\"", "name = \"attendance\"")
            .replace("\"rereferral_12m\"\n", "\"long_term_assistance_next_year\"\n"));
        assert!(e.contains("is not defined for the outcome"), "{e}");
        // A label written in the language: yes or no, after the moment, a horizon in months.
        let (a, b) = (
            SHIPPED.find("# --------------------------------------------------------------- the label").unwrap(),
            SHIPPED.find("\n[split]").unwrap(),
        );
        let unlabelled = format!("{}{}", &SHIPPED[..a], &SHIPPED[b..]);
        let label = |body: &str| {
            format!("{unlabelled}\n[[label]]\nname = \"back\"\ntable = \"reports\"\ndate = \"received\"\n{body}\n")
        };
        let e = err(&format!(
            "{SHIPPED}\n[[label]]\nname = \"back\"\ntable = \"reports\"\naggregate = \"any\"\ndate = \"received\"\nwindow = \"(0, 6m]\"\n"
        ));
        assert!(e.contains("m.toml: label[2].window") && e.contains("the same horizon"), "{e}");
        let s = Spec::parse(&label("aggregate = \"any\"\nwindow = \"(0, 6m]\""), "l.toml").unwrap();
        assert_eq!(s.horizon_months(), 6);
        let e = err(&label("aggregate = \"count\"\nwindow = \"(0, 6m]\""));
        assert!(e.contains("m.toml: label[0].aggregate") && e.contains("yes or no"), "{e}");
        let e = err(&label("aggregate = \"any\"\nwindow = \"(0, 90d]\""));
        assert!(e.contains("m.toml: label[0].window") && e.contains("whole number of months"), "{e}");
        // Rows from a cohort's entry: instead of the outcome, with a label.
        let rows = "\n[rows]\nentry = { table = \"reports\", date = \"received\", every = true }\n";
        let entry = format!(
            "{rows}\n[[label]]\nname = \"again\"\ntable = \"reports\"\naggregate = \"any\"\ndate = \"received\"\nwindow = \"(0, 6m]\"\n"
        );
        let bare = unlabelled.replace("outcome = \"rereferral_12m\"\n", "");
        let s = Spec::parse(&format!("{bare}{entry}"), "r.toml").unwrap();
        assert!(matches!(s.unit(), crate::Unit::Entry(_)) && s.horizon_months() == 6);
        let e = err(&format!("{unlabelled}{entry}"));
        assert!(e.contains("m.toml: rows:") && e.contains("not both"), "{e}");
        let e = err(&format!("{bare}{rows}"));
        assert!(e.contains("m.toml: label:") && e.contains("need a [[label]]"), "{e}");
        let e = err(&bare);
        assert!(e.contains("m.toml: outcome:"), "{e}");
        let e = err(&format!("{bare}{}", entry.replace("\"reports\", date", "\"rapporter\", date")));
        assert!(e.contains("m.toml: rows.entry.table") && e.contains("no table 'rapporter'"), "{e}");
        let e = err(&label("aggregate = \"any\"\nwindow = \"[-1m, 6m]\""));
        assert!(e.contains("m.toml: label[0].window") && e.contains("starts before the index date"), "{e}");
    }
}
