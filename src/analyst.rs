//! The analyst's commands: `query`, `sql` and `notebook run`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use utfall_notebooks::RunOptions;
use utfall_queries::Limits;
use utfall_queries::named::{self, NamedQuery};
use utfall_queries::params::{bind, split_assignment};
use utfall_queries::{Format, QueryError, Session, output};

use crate::BadUsage;

/// What one query may take (every statement of a session, shell and
/// notebook cells included).
#[derive(clap::Args, Clone, Debug)]
pub struct LimitArgs {
    /// Stop a query that runs longer than this (90s, 5m, 1h).
    #[arg(long, env = "UTFALL_TIME_LIMIT", default_value = Limits::DEFAULT_TIME, value_parser = Limits::parse_time)]
    pub time_limit: std::time::Duration,
    /// Stop a query whose operators need more memory than this (512MiB, 2GiB); sorts spill to disk first.
    #[arg(long, env = "UTFALL_MEMORY_LIMIT", default_value = Limits::DEFAULT_MEMORY, value_parser = Limits::parse_bytes)]
    pub memory_limit: usize,
}

impl Default for LimitArgs {
    fn default() -> LimitArgs {
        let l = Limits::default();
        LimitArgs { time_limit: l.time, memory_limit: l.memory }
    }
}

impl LimitArgs {
    pub fn open(&self, register: &Path) -> Result<Session, utfall_queries::QueryError> {
        Session::open_with(register, Limits { time: self.time_limit, memory: self.memory_limit })
    }
}

#[derive(clap::Args)]
pub struct QueryArgs {
    /// One read-only SQL statement (SELECT, WITH, EXPLAIN, DESCRIBE, SHOW).
    #[arg(conflicts_with_all = ["named", "file", "list"])]
    sql: Option<String>,
    /// Register path (made by `utfall build` or `utfall demo`).
    #[arg(long, env = "UTFALL_REGISTER")]
    register: Option<PathBuf>,
    #[command(flatten)]
    limits: LimitArgs,
    /// Run a named query (see --list).
    #[arg(long, conflicts_with_all = ["file", "list"])]
    named: Option<String>,
    /// Run the query in a file (a named-query header, if present, declares its parameters).
    #[arg(long, conflicts_with = "list")]
    file: Option<PathBuf>,
    /// A parameter of the named query, NAME=VALUE; bound as a typed value, never pasted into the SQL.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// List the named queries with their parameters.
    #[arg(long)]
    list: bool,
    /// A folder of your own named queries (*.sql), added to the shipped ones.
    #[arg(long)]
    queries: Option<PathBuf>,
    /// table, csv, json, parquet or xlsx; default: from --out's extension, else table.
    #[arg(long)]
    format: Option<Format>,
    /// Write the result to this file (replaced atomically) instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the query's planning and execution time to stderr.
    #[arg(long)]
    timing: bool,
}

#[derive(clap::Args)]
pub struct ShellArgs {
    /// Register path (made by `utfall build` or `utfall demo`).
    #[arg(long, env = "UTFALL_REGISTER")]
    register: Option<PathBuf>,
    #[command(flatten)]
    limits: LimitArgs,
    /// A folder of your own named queries (*.sql), added to the shipped ones.
    #[arg(long)]
    queries: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
pub enum NotebookCommand {
    /// Run a notebook into one self-contained HTML file.
    Run {
        /// The notebook (Markdown with ```sql and ```chart cells).
        notebook: PathBuf,
        /// Register path (made by `utfall build` or `utfall demo`).
        #[arg(long, env = "UTFALL_REGISTER")]
        register: Option<PathBuf>,
        #[command(flatten)]
        limits: LimitArgs,
        /// Override a front-matter parameter, NAME=VALUE.
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// The HTML report to write (replaced atomically); default: the notebook's name with .html.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Analyst's working copy: show small counts unsuppressed. The report is stamped
        /// "UNSUPPRESSED - not for distribution" on every page.
        #[arg(long)]
        unsuppressed: bool,
        /// Disclosure threshold (default: the one the register's indicators were
        /// published under; it can be raised, not lowered).
        #[arg(long)]
        threshold: Option<u32>,
    },
}

fn register_path(register: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    register.ok_or_else(|| BadUsage("give the register with --register PATH (or set UTFALL_REGISTER)".into()).into())
}

fn named_queries(dir: Option<&Path>) -> anyhow::Result<Vec<NamedQuery>> {
    Ok(named::load_named(dir)?)
}

pub fn query(args: QueryArgs) -> anyhow::Result<()> {
    let named = named_queries(args.queries.as_deref())?;
    if args.list {
        print_list(&named);
        return Ok(());
    }
    let given = args.params.iter().map(|p| split_assignment(p)).collect::<Result<Vec<_>, _>>()?;
    // The SQL and its parameters, from the argument, a named query or a file.
    let (sql, bound) = if let Some(name) = &args.named {
        let q = named::find(&named, name)?;
        (q.sql.clone(), bind(&q.params, &given, &format!("named query '{name}'"))?.values)
    } else if let Some(path) = &args.file {
        let text =
            std::fs::read_to_string(path).map_err(|e| BadUsage(format!("cannot read {}: {e}", path.display())))?;
        if text.starts_with("---") {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("query");
            let q = NamedQuery::parse(stem, &text, &path.display().to_string())?;
            (q.sql.clone(), bind(&q.params, &given, &path.display().to_string())?.values)
        } else {
            no_params(&given)?;
            (text, Vec::new())
        }
    } else if let Some(sql) = args.sql.clone() {
        no_params(&given)?;
        (sql, Vec::new())
    } else {
        return Err(BadUsage("give SQL, --named NAME, --file F.sql or --list".into()).into());
    };
    let format = args.format.or_else(|| args.out.as_deref().and_then(Format::from_path)).unwrap_or(Format::Table);
    if args.out.is_none() && format.is_binary() && std::io::stdout().is_terminal() {
        return Err(BadUsage(format!("{format:?} is binary: give --out FILE or redirect stdout")).into());
    }
    let session = args.limits.open(&register_path(args.register)?)?;
    let start = std::time::Instant::now();
    // CSV, JSON and Parquet are written batch by batch as they are computed;
    // an aligned table and a workbook need the whole result.
    let write = |w: &mut (dyn Write + Send)| -> Result<usize, QueryError> {
        if format.streams() {
            let batches = session.stream(&sql, &bound)?;
            output::write_rows(batches.schema.clone(), batches, format, w)
        } else {
            let answer = session.run(&sql, &bound)?;
            output::write(&answer, format, w)?;
            Ok(answer.rows())
        }
    };
    let rows = match &args.out {
        Some(path) => write_atomically(path, |w| Ok(write(w)?))?,
        None => {
            let mut out = std::io::BufWriter::new(QuietOnClose(std::io::stdout()));
            let rows = write(&mut out)?;
            out.flush()?;
            rows
        }
    };
    if args.timing {
        eprintln!("time: {:.1} ms ({rows} rows)", start.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(())
}

/// Stdout that treats a reader who stops early (`| head`) as the end, not an error.
struct QuietOnClose<W>(W);

impl<W: Write> Write for QuietOnClose<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(buf.len()),
            other => other,
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }
}

fn no_params(given: &[(String, String)]) -> Result<(), QueryError> {
    if given.is_empty() {
        Ok(())
    } else {
        Err(QueryError::Param(
            "--param applies to named queries (--named, or --file with a `---` header that declares parameters)".into(),
        ))
    }
}

fn print_list(named: &[NamedQuery]) {
    for q in named {
        println!("{}  ({})\n  {}", q.name, q.title, q.purpose.replace('\n', "\n  "));
        for (name, spec) in &q.params {
            let default = match (&spec.default, spec.optional) {
                (Some(d), _) => format!(", default {}", utfall_queries::params::toml_text(d)),
                (None, true) => ", optional".to_string(),
                (None, false) => String::new(),
            };
            println!("    --param {name}=<{}{default}>  {}", spec.kind.name(), spec.doc);
        }
        println!();
    }
}

pub fn shell(args: ShellArgs) -> anyhow::Result<()> {
    let named = named_queries(args.queries.as_deref())?;
    let session = args.limits.open(&register_path(args.register)?)?;
    Ok(utfall_queries::shell::run(&session, named)?)
}

pub fn notebook(command: NotebookCommand, quiet: bool) -> anyhow::Result<()> {
    let NotebookCommand::Run { notebook, register, limits, params, out, unsuppressed, threshold } = command;
    let given = params.iter().map(|p| split_assignment(p)).collect::<Result<Vec<_>, _>>()?;
    let session = limits.open(&register_path(register)?)?;
    let options = RunOptions { params: given, unsuppressed, threshold };
    let report = utfall_notebooks::run(&notebook, &session, &options)?;
    let out = out.unwrap_or_else(|| notebook.with_extension("html"));
    write_atomically(&out, |w| Ok(w.write_all(report.html.as_bytes())?))?;
    if !quiet {
        println!(
            "notebook: {} -> {} ({} cells{})",
            notebook.display(),
            out.display(),
            report.cells,
            if unsuppressed {
                ", UNSUPPRESSED".to_string()
            } else {
                format!(", {} values suppressed (counts below {})", report.suppressed_values, report.threshold)
            }
        );
    }
    Ok(())
}

/// Write a file through a temporary beside it and a rename (the register's
/// one atomic write): a failed run leaves the previous file as it was.
fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut (dyn Write + Send)) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    utfall_register::store::write_atomically(path, |file| {
        let mut buffered = std::io::BufWriter::new(file);
        let value = write(&mut buffered)?;
        buffered.flush()?;
        Ok::<_, anyhow::Error>(value)
    })
    .with_context(|| format!("writing {}", path.display()))
}
