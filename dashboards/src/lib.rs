//! Managers' dashboards: static, self-contained HTML pages (no scripts, no
//! requests) that show where each unit stands against its client-centred
//! targets, each indicator's trend with its 95% band and target line, funnel
//! plots comparing units with the municipality (95% and 99.8% control
//! limits), splits by sex, age band and district, and baseline/follow-up
//! distributions per instrument.
//!
//! Figures come from the register through DataFusion: `indicators_public`
//! and `target_status` (suppressed by the indicator pipeline) and the
//! distributions binned from `baselines` and suppressed here
//! (`utfall_disclosure::bins`). `--per-unit` writes one page per unit with only
//! that unit's figures and the municipality's aggregates.

use std::path::{Path, PathBuf};

use utfall_queries::{QueryError, Session};

pub mod chart;
pub mod data;
pub mod funnel;
mod html;
pub mod spec;

pub use data::Data;
pub use html::render;
pub use spec::Spec;

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// A problem in the dashboard specification (line 0: not tied to a line).
    #[error("{file}{}: {message}", if *line > 0 { format!(":{line}") } else { String::new() })]
    Spec { file: String, line: usize, message: String },
    #[error("the register has no indicators: run `utfall indicators` (or build without --no-indicators) first")]
    NoIndicators,
    #[error("{0}")]
    Register(String),
    #[error("{0}")]
    Query(#[from] QueryError),
    #[error("drawing a chart: {0}")]
    Chart(String),
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
}

impl DashboardError {
    /// 2 for a problem in the specification or the register given, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            DashboardError::Query(q) => q.exit_code(),
            DashboardError::Chart(_) | DashboardError::Write { .. } => 1,
            _ => 2,
        }
    }
}

/// The language of the labels (the report kit's). Swedish is the users'
/// language and the default.
pub use utfall_report::Lang;

/// Whose figures a page holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every unit and the municipality.
    All,
    /// One unit and the municipality's aggregates.
    Unit(String),
}

impl Scope {
    /// Whether a unit's figures belong on this page.
    pub fn shows(&self, unit: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Unit(u) => u == unit,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub spec: Spec,
    pub lang: Lang,
    pub per_unit: bool,
}

/// What was written.
#[derive(Debug)]
pub struct Written {
    /// The whole municipality's dashboard.
    pub index: PathBuf,
    /// One per unit, with `--per-unit`.
    pub units: Vec<(String, PathBuf)>,
}

/// The file name of a unit's page (the unit code, with anything but letters,
/// digits, '-' and '_' replaced).
pub fn unit_file(unit: &str) -> String {
    let safe: String =
        unit.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    format!("{safe}.html")
}

/// Render every page first, then write each atomically (a failure leaves the
/// previous pages as they were).
pub fn write(session: &Session, out: &Path, options: &Options) -> Result<Written, DashboardError> {
    let data = data::load(session, &options.spec)?;
    let manifest = session.manifest();
    let mut pages = vec![(out.join("index.html"), render(&data, &options.spec, &Scope::All, options.lang, manifest)?)];
    let mut units = Vec::new();
    if options.per_unit {
        for unit in &data.units {
            let path = out.join(options.lang.pick("enheter", "units")).join(unit_file(unit));
            pages.push((
                path.clone(),
                render(&data, &options.spec, &Scope::Unit(unit.clone()), options.lang, manifest)?,
            ));
            units.push((unit.clone(), path));
        }
    }
    if !data.revisions.is_empty() {
        pages.push((
            out.join(html::revisions_file(options.lang)),
            html::render_revisions(&data, options.lang, manifest),
        ));
    }
    for (path, html) in &pages {
        utfall_register::store::write_bytes_atomically(path, html.as_bytes())
            .map_err(|e| DashboardError::Write { path: path.display().to_string(), message: e.to_string() })?;
    }
    Ok(Written { index: pages.swap_remove(0).0, units })
}
