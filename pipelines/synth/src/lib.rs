//! `utfall synth`: a seeded, deterministic synthetic municipality.
//!
//! Households of clients pass through child and youth welfare (report ->
//! preliminary assessment -> investigation -> decision -> intervention ->
//! closure), adult substance use, social psychiatry and financial assistance
//! (monthly applications and payments per household). The generator plants
//! known effects: unit and risk-factor effects on re-referral, intervention
//! effects on assessment change, goals and outcomes, and writes that ground
//! truth to `truth/`, apart from the exports in `exports/`. With a dirty rate
//! it injects realistic faults and logs each one's file and line.
//!
//! Output is streamed household by household from one ChaCha8 stream seeded
//! by `--seed`, so the same seed and size give byte-identical files, and
//! memory stays flat at any size.

mod caseworkers;
pub mod deliveries;
mod model;
mod sink;
pub mod source;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
pub use sink::Fault;

/// First day of the synthetic period.
pub fn period_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2021, 1, 1).unwrap()
}

/// The export date: the last day of the five synthetic years.
pub fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()
}

#[derive(Debug, Clone)]
pub struct Config {
    pub clients: usize,
    pub seed: u64,
    /// Probability that a written row carries one injected fault.
    pub dirty_rate: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config { clients: 20_000, seed: 2021, dirty_rate: 0.0 }
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Summary {
    pub clients: u64,
    /// (table, file, data rows)
    pub files: Vec<(String, String, u64)>,
    pub faults: u64,
    pub exports: PathBuf,
    pub truth: PathBuf,
    pub mapping: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("invalid synth setting: {0}")]
    Config(String),
}

/// Generate the municipality into `out/exports` and `out/truth`.
/// `progress` is called with the number of clients written so far.
pub fn generate(cfg: &Config, out: &Path, progress: &mut dyn FnMut(u64)) -> Result<Summary, SynthError> {
    if cfg.clients == 0 {
        return Err(SynthError::Config("--clients must be at least 1".into()));
    }
    if !(0.0..=0.5).contains(&cfg.dirty_rate) {
        return Err(SynthError::Config("--dirty-rate must be between 0 and 0.5".into()));
    }
    let exports = out.join("exports");
    let truth = out.join("truth");
    for dir in [&exports, &truth] {
        fs::create_dir_all(dir).map_err(|source| SynthError::Io { path: dir.clone(), source })?;
    }
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SynthError::Io { path: path.clone(), source }
    };
    let mut generator = model::Generator::new(cfg, &exports, &truth).map_err(io_err(&exports))?;
    generator.run(progress).map_err(io_err(&exports))?;
    let summary = generator.finish().map_err(io_err(&truth))?;
    let mapping = exports.join("mapping.toml");
    fs::write(&mapping, source::mapping().to_toml()).map_err(io_err(&mapping))?;
    Ok(Summary { exports, truth, mapping, ..summary })
}

/// Write the municipality in `out/exports` (see [`generate`]) as three
/// source systems' monthly deliveries into `out/sources` ([`deliveries`]).
pub fn generate_deliveries(summary: &Summary, seed: u64) -> Result<deliveries::DeliveriesSummary, SynthError> {
    let out = summary.exports.parent().unwrap_or(Path::new(".")).join("sources");
    if out.exists() {
        fs::remove_dir_all(&out).map_err(|source| SynthError::Io { path: out.clone(), source })?;
    }
    fs::create_dir_all(&out).map_err(|source| SynthError::Io { path: out.clone(), source })?;
    deliveries::split(&summary.exports, &out, seed).map_err(|source| SynthError::Io { path: out.clone(), source })
}
