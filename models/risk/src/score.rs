//! Scoring the current population (rows whose outcome is not yet known),
//! the drift check, override counts, publication into the register, and
//! one client's explanation.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use utfall_register::scan::conform;
use utfall_register::schema::{self, MODEL_OUTPUTS};
use utfall_register::store::{self, ScoringRun};

use crate::metrics::{Values, psi};
use crate::{Artefact, Build, ModelError, Population, feature_frame};

/// The scored rows: the frame's rows with their score, band, contributions.
pub struct Scored {
    pub frame: DataFrame,
    pub scores: Vec<f64>,
    pub contributions: Vec<Vec<f64>>,
}

/// The rows of the artefact's outcome not yet observable at the register's as-of date.
pub fn score_rows(a: &Artefact, build: &Build) -> Result<Scored, ModelError> {
    let frame = feature_frame(build, a.unit(), &a.labels, &a.features, &a.defined_features, Population::Current)?;
    let x = a.encoding.matrix(&frame)?;
    let scores = a.fitted.predict(&x);
    let contributions = x.rows().into_iter().map(|r| a.fitted.contributions(r)).collect();
    Ok(Scored { frame, scores, contributions })
}

/// "prior_cases +0.42; unit=bou_soder +0.18; planned_end -0.31": the `k`
/// largest contributions by size.
pub fn top_features(a: &Artefact, contributions: &[f64], k: usize) -> String {
    let mut order: Vec<usize> = (0..contributions.len()).collect();
    order.sort_by(|&x, &y| contributions[y].abs().total_cmp(&contributions[x].abs()));
    order
        .into_iter()
        .take(k)
        .map(|j| format!("{} {:+.2}", a.encoding.columns[j].name, contributions[j]))
        .collect::<Vec<_>>()
        .join("; ")
}

/// PSI of every reference variable between training and `frame` (scores for "score").
pub fn drift(a: &Artefact, frame: &DataFrame, scores: &[f64]) -> Result<Vec<(String, f64, &'static str)>, ModelError> {
    let mut out = Vec::new();
    for r in &a.reference {
        let values =
            if r.variable == "score" { Values::scores(scores) } else { Values::of(frame.column(&r.variable)?)? };
        let actual = r.shares_of(&values);
        let value = psi(&r.shares, &actual);
        let status = if value >= a.drift.psi_drifted {
            "drifted"
        } else if value >= a.drift.psi_moderate {
            "moderate"
        } else {
            "stable"
        };
        out.push((r.variable.clone(), value, status));
    }
    Ok(out)
}

/// What `score` did.
pub struct ScoreReport {
    pub build_dir: PathBuf,
    pub rows: usize,
    pub bands: [usize; 3],
    pub drift: Vec<(String, f64, &'static str)>,
    pub warnings: Vec<String>,
}

/// Score the current population and publish `scores`, `score_drift` and
/// `score_overrides` in a new build of the register (every other file
/// hard-linked). A failure leaves the current register as it was.
pub fn score(a: &Artefact, register: &Path) -> Result<ScoreReport, ModelError> {
    let build = Build::open(register)?;
    let s = score_rows(a, &build)?;
    let n = s.frame.height();
    let bands: Vec<&str> = s.scores.iter().map(|p| a.band(*p)).collect();
    let support: Vec<bool> = s.frame.column(crate::SUPPORT)?.bool()?.iter().map(|v| v == Some(true)).collect();
    let top: Vec<String> = s.contributions.iter().map(|c| top_features(a, c, 3)).collect();
    let mut scores = s.frame.select(["row_id", "client_id", "case_id", "unit", "at"])?;
    scores.with_column(Column::new("model_version".into(), vec![a.version.clone(); n]))?;
    scores.with_column(Column::new("score".into(), s.scores.clone()))?;
    scores.with_column(Column::new("band".into(), bands.clone()))?;
    scores.with_column(Column::new("top_features".into(), top))?;
    scores.with_column(Column::new("support".into(), support.clone()))?;
    let mut scores = conform(scores, &schema::SCORES)?;

    let drift = drift(a, &s.frame, &s.scores)?;
    let mut drift_df = conform(
        DataFrame::new_infer_height(vec![
            Column::new("model_version".into(), vec![a.version.clone(); drift.len()]),
            Column::new("variable".into(), drift.iter().map(|d| d.0.clone()).collect::<Vec<_>>()),
            Column::new("psi".into(), drift.iter().map(|d| d.1).collect::<Vec<_>>()),
            Column::new("status".into(), drift.iter().map(|d| d.2).collect::<Vec<_>>()),
        ])?,
        &schema::SCORE_DRIFT,
    )?;

    let high = bands.iter().map(|b| *b == "high").collect::<Vec<_>>();
    let low = bands.iter().map(|b| *b == "low").collect::<Vec<_>>();
    let flags = DataFrame::new_infer_height(vec![
        s.frame.column("unit")?.clone(),
        Column::new("__high".into(), high.clone()),
        Column::new("__high_without".into(), high.iter().zip(&support).map(|(h, s)| *h && !*s).collect::<Vec<_>>()),
        Column::new("__low".into(), low.clone()),
        Column::new("__low_with".into(), low.iter().zip(&support).map(|(l, s)| *l && *s).collect::<Vec<_>>()),
    ])?;
    let count = |c: &str| col(c).cast(DataType::UInt32).sum();
    let overrides = flags
        .lazy()
        .group_by([col("unit")])
        .agg([
            len().cast(DataType::UInt32).alias("scored"),
            count("__high").alias("high"),
            count("__high_without").alias("high_without_support"),
            count("__low").alias("low"),
            count("__low_with").alias("low_with_support"),
        ])
        .with_columns([lit(a.version.clone()).alias("model_version")])
        .sort(["unit"], SortMultipleOptions::default())
        .collect()?;
    let mut overrides = conform(overrides, &schema::SCORE_OVERRIDES)?;

    let mut warnings = Vec::new();
    let drifted: Vec<String> = drift.iter().filter(|d| d.2 == "drifted").map(|d| d.0.clone()).collect();
    for d in drift.iter().filter(|d| d.2 == "drifted") {
        warnings.push(format!(
            "drift: '{}' has PSI {:.3} (>= {}) between training and the scored population: the model may no longer fit; retrain and review its card",
            d.0, d.1, a.drift.psi_drifted
        ));
    }

    // Publish: a new build with every file of the current one hard-linked.
    let outputs: Vec<String> = MODEL_OUTPUTS.iter().map(|t| t.file_name()).collect();
    let published = store::derive(register, &build, &outputs, |dir, manifest| {
        for (table, df) in [
            (&schema::SCORES, &mut scores),
            (&schema::SCORE_DRIFT, &mut drift_df),
            (&schema::SCORE_OVERRIDES, &mut overrides),
        ] {
            let path = dir.join(table.file_name());
            let file = std::fs::File::create(&path).map_err(ModelError::io(&path))?;
            store::write_parquet(df, file)?;
        }
        manifest.scoring = Some(ScoringRun {
            model_version: a.version.clone(),
            scored_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            rows: n as u64,
            drifted,
        });
        Ok::<_, ModelError>(())
    })?;
    let build_dir = published.build_dir;
    let count_band = |b: &str| bands.iter().filter(|x| **x == b).count();
    Ok(ScoreReport {
        build_dir,
        rows: n,
        bands: [count_band("low"), count_band("medium"), count_band("high")],
        drift,
        warnings,
    })
}

/// One scored row of a client, explained.
pub struct Explanation {
    pub row_id: String,
    pub case_id: String,
    pub unit: String,
    pub at: String,
    pub score: f64,
    pub band: &'static str,
    /// (design column, raw value or None when missing (the fill was used), contribution),
    /// largest contribution first.
    pub contributions: Vec<(String, Option<f64>, f64)>,
    pub baseline: f64,
    pub unit_name: &'static str,
}

/// Every current row of `client` (pseudonymous id), explained.
pub fn explain(a: &Artefact, register: &Path, client: &str) -> Result<Vec<Explanation>, ModelError> {
    let build = Build::open(register)?;
    let s = score_rows(a, &build)?;
    let ids = s.frame.column("client_id")?.str()?.clone();
    let idx: Vec<usize> = (0..s.frame.height()).filter(|&i| ids.get(i) == Some(client)).collect();
    if idx.is_empty() {
        return Err(ModelError::UnknownClient(client.to_string()));
    }
    let raw = a.encoding.raw(&s.frame)?;
    let text = |name: &str, i: usize| -> Result<String, ModelError> {
        Ok(s.frame.column(name)?.get(i)?.to_string().trim_matches('"').to_string())
    };
    let baseline = match &a.fitted {
        crate::model::Fitted::Logistic { intercept, .. } => *intercept,
        crate::model::Fitted::Tree { nodes } => nodes[0].p,
    };
    let mut out = Vec::new();
    for i in idx {
        let c = &s.contributions[i];
        // A value column whose missing-indicator column is 1 was filled.
        let missing = |source: &str| {
            a.encoding.columns.iter().enumerate().any(|(j, col)| {
                col.source == source && col.encode == crate::model::Encode::Missing && raw[[i, j]] == 1.0
            })
        };
        let mut rows: Vec<(String, Option<f64>, f64)> = a
            .encoding
            .columns
            .iter()
            .enumerate()
            .map(|(j, col)| {
                let filled = matches!(col.encode, crate::model::Encode::Value { .. }) && missing(&col.source);
                (col.name.clone(), (!filled).then_some(raw[[i, j]]), c[j])
            })
            .collect();
        rows.sort_by(|x, y| y.2.abs().total_cmp(&x.2.abs()));
        out.push(Explanation {
            row_id: text("row_id", i)?,
            case_id: text("case_id", i)?,
            unit: text("unit", i)?,
            at: text("at", i)?,
            score: s.scores[i],
            band: a.band(s.scores[i]),
            contributions: rows,
            baseline,
            unit_name: a.fitted.contribution_unit(),
        });
    }
    Ok(out)
}
