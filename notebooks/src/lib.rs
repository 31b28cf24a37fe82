//! Executable report notebooks: `notebooks/*.md` are Markdown reports with
//! TOML front matter (title, typed parameters) between `+++` lines, fenced
//! ```` ```sql ```` cells run by DataFusion and rendered as tables, and
//! ```` ```chart ```` cells (a TOML spec) rendered by plotters as inline SVG.
//! `run` writes one self-contained HTML file: parameters stamped at the top,
//! the register's manifest and the definition versions at the foot, print CSS
//! for A4.
//!
//! Every cell runs, in order; the first failing cell stops the run with an
//! error naming the notebook, the cell and the line. Small counts are
//! suppressed (see [`suppress`]) unless the analyst asks for an unsuppressed
//! working copy, which is stamped as such on every page.

use std::path::Path;

use utfall_disclosure::Policy;
use utfall_queries::{QueryError, Session};

pub mod chart;
mod html;
mod parse;
pub mod suppress;

pub use parse::{Cell, CellKind, Notebook};

#[derive(Debug, thiserror::Error)]
pub enum NotebookError {
    /// The notebook itself is malformed (front matter, cell options, chart spec).
    #[error("{notebook}:{line}: {message}")]
    Parse { notebook: String, line: usize, message: String },
    /// A cell failed to run.
    #[error("{notebook}: cell {cell} ({what}), line {line}: {message}")]
    Cell { notebook: String, cell: usize, what: String, line: usize, message: String },
    #[error("{0}")]
    Query(#[from] QueryError),
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
}

impl NotebookError {
    /// 2 for a problem in the notebook or its parameters, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            NotebookError::Query(q) => q.exit_code(),
            _ => 2,
        }
    }
}

/// How to run a notebook.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides of front-matter parameters, NAME=VALUE.
    pub params: Vec<(String, String)>,
    /// Show small counts (the analyst's working copy; stamped on the output).
    pub unsuppressed: bool,
    /// Disclosure threshold (default: the one the build's indicators use).
    pub threshold: Option<u32>,
}

/// A rendered report.
#[derive(Debug)]
pub struct Report {
    pub html: String,
    /// Cells run (SQL and chart).
    pub cells: usize,
    /// Values shown as ".." because a count in their row was below the threshold.
    pub suppressed_values: usize,
    pub threshold: u32,
}

/// Run a notebook file against a register session.
pub fn run(path: &Path, session: &Session, options: &RunOptions) -> Result<Report, NotebookError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| NotebookError::Read { path: path.display().to_string(), message: e.to_string() })?;
    let notebook = Notebook::parse(&path.display().to_string(), &text)?;
    let policy = Policy::for_build(session.manifest(), options.threshold)
        .map_err(|e| NotebookError::Read { path: "--threshold".into(), message: e.to_string() })?;
    html::render(&notebook, &text, session, options, &policy)
}
