//! Build errors. Bad input names its file, and line and column where it has them.

use std::fmt;
use std::path::PathBuf;

/// Input the build cannot use at all (as opposed to single bad rows, which
/// are quarantined). Maps to exit code 2.
#[derive(Debug, Clone, PartialEq)]
pub struct BadInput {
    pub file: PathBuf,
    pub line: Option<u64>,
    /// 1-based column number and the column's name, where known.
    pub column: Option<(usize, String)>,
    pub message: String,
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some((n, _)) = &self.column {
                write!(f, ":{n}")?;
            }
        }
        write!(f, ": ")?;
        if let Some((_, name)) = &self.column {
            write!(f, "column '{name}': ")?;
        }
        write!(f, "{}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("bad input: {0}")]
    BadInput(BadInput),
    #[error("{0}")]
    Key(#[from] crate::key::KeyError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("data processing failed: {0}")]
    Polars(#[from] polars::error::PolarsError),
}

impl BuildError {
    /// Exit code for the command line: 2 for bad input, 1 for anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            BuildError::BadInput(_)
            | BuildError::Key(crate::key::KeyError::Format { .. } | crate::key::KeyError::Read { .. }) => 2,
            _ => 1,
        }
    }

    pub fn bad(
        file: impl Into<PathBuf>,
        line: Option<u64>,
        column: Option<(usize, String)>,
        message: impl Into<String>,
    ) -> BuildError {
        BuildError::BadInput(BadInput { file: file.into(), line, column, message: message.into() })
    }

    /// A file the mapping names that is not there.
    pub fn missing_file(path: impl Into<PathBuf>, table: &str) -> BuildError {
        BuildError::bad(path, None, None, format!("file not found (the mapping names it for the table '{table}')"))
    }

    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BuildError {
        let path = path.into();
        move |source| BuildError::Io { path, source }
    }
}
