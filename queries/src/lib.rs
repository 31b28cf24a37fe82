//! The analyst's SQL surface over the register, through DataFusion.
//!
//! A [`Session`] opens one published build of the register (the symlink is
//! resolved once, so a build published meanwhile never mixes into a running
//! session) and registers every table it holds under the stable names of
//! [`utfall_register::schema::query_tables`]. Sessions are read-only: only
//! queries run ([`guard`]); DDL, DML, `COPY` and anything that writes files is
//! refused before planning, and DataFusion's own plan check refuses them again.
//!
//! - [`params`]: typed parameters, bound as values (never pasted into SQL);
//! - [`named`]: the named queries (`queries/*.sql`, a TOML header each);
//! - [`output`]: aligned table, CSV, JSON, Parquet and `.xlsx`;
//! - [`shell`]: the interactive `utfall sql` shell.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::common::utils::datafusion_strsim::levenshtein;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::prelude::ParquetReadOptions;
use utfall_register::schema::{QueryTable, TableFamily, query_tables};
use utfall_register::store::Manifest;

pub mod guard;
pub mod named;
pub mod output;
pub mod params;
pub mod shell;

pub use named::{NamedQuery, builtin_queries, load_named};
pub use output::Format;
pub use params::{Bound, ParamSpec, ParamType};

/// Rows per record batch in query execution.
const BATCH_ROWS: usize = 32 * 1024;

/// Everything that can go wrong on the SQL surface. `is_bad_input` tells the
/// command's exit code (2 for the user's SQL, parameters or files, 1 otherwise).
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Register(String),
    #[error("{0}")]
    ReadOnly(String),
    #[error("{0}")]
    Sql(String),
    #[error("{0}")]
    Param(String),
    #[error("{file}:{line}: {message}")]
    Definition { file: String, line: usize, message: String },
    #[error("{0}")]
    Output(String),
    /// A query reached its time or memory limit.
    #[error("{0}")]
    Limit(String),
}

impl QueryError {
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, QueryError::Output(_) | QueryError::Limit(_))
    }

    /// The command's exit code: 2 for bad input, 1 for a failure.
    pub fn exit_code(&self) -> i32 {
        if self.is_bad_input() { 2 } else { 1 }
    }
}

/// The result of one query.
pub struct Answer {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    /// Planning and execution, up to the last batch in memory (not output).
    pub elapsed: Duration,
}

impl Answer {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

/// A result as it is computed, one record batch at a time.
pub struct Batches<'a> {
    session: &'a Session,
    pub schema: SchemaRef,
    stream: datafusion::execution::SendableRecordBatchStream,
    deadline: Deadline,
}

impl Iterator for Batches<'_> {
    type Item = Result<RecordBatch, QueryError>;
    fn next(&mut self) -> Option<Self::Item> {
        use futures::StreamExt;
        let stream = &mut self.stream;
        self.session.within_limits(async { stream.next().await.transpose() }, &self.deadline).transpose()
    }
}

/// What one query may take on a shared machine: wall time and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub time: Duration,
    /// Bytes DataFusion's operators may hold (sorts spill to disk beyond it;
    /// what cannot spill, such as a hash join's build side, stops).
    pub memory: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            time: Limits::parse_time(Limits::DEFAULT_TIME).expect("a time"),
            memory: Limits::parse_bytes(Limits::DEFAULT_MEMORY).expect("a size"),
        }
    }
}

impl Limits {
    /// Five minutes and 2 GiB a query: enough for the register's questions
    /// at a million clients (BENCHMARKS.md), little enough for a shared machine.
    pub const DEFAULT_TIME: &str = "5m";
    pub const DEFAULT_MEMORY: &str = "2GiB";

    /// A time written `90`, `90s`, `5m` or `1h`.
    pub fn parse_time(text: &str) -> Result<Duration, String> {
        let t = text.trim();
        let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len()));
        let n: f64 = number.parse().map_err(|_| format!("'{text}' is not a time: write e.g. 90s, 5m or 1h"))?;
        let seconds = match unit.trim() {
            "" | "s" => n,
            "m" | "min" => n * 60.0,
            "h" => n * 3600.0,
            _ => return Err(format!("'{text}' is not a time: write e.g. 90s, 5m or 1h")),
        };
        if seconds <= 0.0 {
            Err(format!("'{text}': a time limit must be above 0"))
        } else {
            Ok(Duration::from_secs_f64(seconds))
        }
    }

    /// A size written `512MiB`, `2GiB`, `2G`, `500M` or in bytes.
    pub fn parse_bytes(text: &str) -> Result<usize, String> {
        let t = text.trim();
        let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len()));
        let n: f64 = number.parse().map_err(|_| format!("'{text}' is not a size: write e.g. 512MiB or 2GiB"))?;
        let factor = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1.0,
            "k" | "kb" | "kib" => 1024.0,
            "m" | "mb" | "mib" => 1024.0 * 1024.0,
            "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
            _ => return Err(format!("'{text}' is not a size: write e.g. 512MiB or 2GiB")),
        };
        let bytes = (n * factor) as usize;
        if bytes == 0 { Err(format!("'{text}': a memory limit must be above 0")) } else { Ok(bytes) }
    }
}

/// A size for messages ("2.0 GiB", "512 MiB").
fn size(bytes: usize) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else if bytes >= 1 << 20 {
        format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    }
}

/// A query's deadline: one watchdog thread per query (not per batch of a
/// stream) that rings at the deadline unless the query ends first. A thread,
/// not the runtime's timer: a query that keeps every worker busy cannot delay
/// its own stop.
struct Deadline {
    rings: futures::future::Shared<futures::channel::oneshot::Receiver<()>>,
    done: Arc<std::sync::atomic::AtomicBool>,
    watchdog: std::thread::JoinHandle<()>,
}

impl Deadline {
    fn start(at: Instant) -> Deadline {
        use futures::FutureExt;
        use std::sync::atomic::Ordering;
        let (alarm, rings) = futures::channel::oneshot::channel::<()>();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watchdog = {
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                loop {
                    let now = Instant::now();
                    if done.load(Ordering::Acquire) {
                        return;
                    }
                    if now >= at {
                        let _ = alarm.send(());
                        return;
                    }
                    std::thread::park_timeout(at - now);
                }
            })
        };
        Deadline { rings: rings.shared(), done, watchdog }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Release);
        self.watchdog.thread().unpark();
    }
}

/// A read-only DataFusion session over one build of the register.
pub struct Session {
    /// Always present; taken on drop to shut down without waiting (see `Drop`).
    rt: Option<tokio::runtime::Runtime>,
    limits: Limits,
    ctx: SessionContext,
    build: PathBuf,
    tables: Vec<QueryTable>,
    manifest: Manifest,
}

impl Session {
    fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt.as_ref().expect("the runtime lives as long as the session")
    }
}

/// A query stopped at its time limit may leave an operator in the middle of
/// a long computation on a worker thread; dropping the runtime normally would
/// wait for it to yield (a nested-loop join on 2 busy cores took 90 s to
/// stop at a 2 s limit). Shut down without waiting: the work is abandoned.
impl Drop for Session {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session").field("build", &self.build).finish_non_exhaustive()
    }
}

impl Session {
    /// Open the register's current build (a register path is a symlink to it;
    /// a build folder itself is accepted too).
    pub fn open(register: &Path) -> Result<Session, QueryError> {
        Session::open_with(register, Limits::default())
    }

    /// [`Session::open`] with the limits every query of the session runs under.
    pub fn open_with(register: &Path, limits: Limits) -> Result<Session, QueryError> {
        let build = std::fs::canonicalize(register).map_err(|e| {
            QueryError::Register(format!(
                "no register at {} ({e}); build one with `utfall build` or `utfall demo`",
                register.display()
            ))
        })?;
        let manifest = Manifest::read(&build).map_err(|e| {
            QueryError::Register(format!(
                "{} is not a build of the register: cannot read its {} ({e})",
                register.display(),
                Manifest::FILE
            ))
        })?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .build()
            .map_err(|e| QueryError::Output(format!("cannot start the query runtime: {e}")))?;
        // DataFusion's own settings may be tuned from the environment
        // (`DATAFUSION_EXECUTION_TARGET_PARTITIONS=4`, ...); SQL `SET` is refused.
        let mut config = SessionConfig::from_env()
            .map_err(|e| QueryError::Register(format!("a DATAFUSION_* environment setting: {e}")))?
            .with_information_schema(true);
        if std::env::var_os("DATAFUSION_EXECUTION_BATCH_SIZE").is_none() {
            // Larger batches than DataFusion's 8192: fewer per-batch overheads in
            // window functions and joins over the register's million-row tables
            // (see BENCHMARKS.md).
            config = config.with_batch_size(BATCH_ROWS);
        }
        let runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
            .with_memory_limit(limits.memory, 1.0)
            .build_arc()
            .map_err(|e| QueryError::Output(format!("cannot start the query runtime: {e}")))?;
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        let mut tables = Vec::new();
        for table in query_tables() {
            if table.family == TableFamily::Manifest {
                let batch = load_counts(&manifest).map_err(|e| QueryError::Register(e.to_string()))?;
                ctx.register_batch(table.name, batch).map_err(|e| QueryError::Register(e.to_string()))?;
                tables.push(table);
                continue;
            }
            let path = build.join(table.file_name());
            if !path.exists() {
                continue;
            }
            let path_text = path
                .to_str()
                .ok_or_else(|| QueryError::Register(format!("register path is not UTF-8: {}", path.display())))?;
            rt.block_on(ctx.register_parquet(table.name, path_text, ParquetReadOptions::default()))
                .map_err(|e| QueryError::Register(format!("cannot open {}: {e}", path.display())))?;
            tables.push(table);
        }
        Ok(Session { rt: Some(rt), limits, ctx, build, tables, manifest })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The tables this build holds (derived tables are absent from a build
    /// made with `--no-indicators`).
    pub fn tables(&self) -> &[QueryTable] {
        &self.tables
    }

    /// Column names and types of a table, for `\d` and completion.
    pub fn columns(&self, table: &str) -> Result<Vec<(String, String)>, QueryError> {
        if !self.tables.iter().any(|t| t.name == table) {
            return Err(self.unknown_table(table));
        }
        let provider =
            self.rt().block_on(self.ctx.table_provider(table)).map_err(|e| QueryError::Sql(e.to_string()))?;
        Ok(provider.schema().fields().iter().map(|f| (f.name().clone(), f.data_type().to_string())).collect())
    }

    /// Run one read-only statement with its parameters bound as values.
    pub fn run(&self, sql: &str, params: &[(String, ScalarValue)]) -> Result<Answer, QueryError> {
        let start = Instant::now();
        let frame = self.plan(sql, params)?;
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let batches = self.within_limits(frame.collect(), &Deadline::start(start + self.limits.time))?;
        Ok(Answer { schema, batches, elapsed: start.elapsed() })
    }

    /// Run one read-only statement and hand its result over batch by batch,
    /// for writing results larger than memory should hold.
    pub fn stream(&self, sql: &str, params: &[(String, ScalarValue)]) -> Result<Batches<'_>, QueryError> {
        let frame = self.plan(sql, params)?;
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let deadline = Deadline::start(Instant::now() + self.limits.time);
        let stream = self.within_limits(frame.execute_stream(), &deadline)?;
        Ok(Batches { session: self, schema, stream, deadline })
    }

    /// Run a step of a query under its deadline (its memory limit is the
    /// runtime's pool).
    fn within_limits<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, DataFusionError>>,
        deadline: &Deadline,
    ) -> Result<T, QueryError> {
        use futures::future::{Either, select};
        let outcome = self.rt().block_on(async {
            match select(std::pin::pin!(work), deadline.rings.clone()).await {
                Either::Left((result, _)) => Some(result),
                Either::Right(_) => None,
            }
        });
        match outcome {
            None => Err(self.time_limit()),
            Some(result) => result.map_err(|e| self.explain(e)),
        }
    }

    fn time_limit(&self) -> QueryError {
        QueryError::Limit(format!(
            "the query was stopped at its time limit of {:.0} s; if it should run longer, raise it with --time-limit (e.g. --time-limit 30m) or UTFALL_TIME_LIMIT",
            self.limits.time.as_secs_f64()
        ))
    }

    /// Check, plan and bind a statement.
    fn plan(
        &self,
        sql: &str,
        params: &[(String, ScalarValue)],
    ) -> Result<datafusion::dataframe::DataFrame, QueryError> {
        guard::check(sql)?;
        let options = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
        let frame = self.rt().block_on(self.ctx.sql_with_options(sql, options)).map_err(|e| self.explain(e))?;
        if params.is_empty() {
            return Ok(frame);
        }
        let values: HashMap<String, ScalarValue> = params.iter().cloned().collect();
        frame.with_param_values(values).map_err(|e| self.explain(e))
    }

    /// DataFusion's error, reworded where the user most often needs help:
    /// an unknown table lists the tables, an unknown column names the nearest.
    fn explain(&self, error: DataFusionError) -> QueryError {
        let root = error.find_root();
        if let DataFusionError::ResourcesExhausted(what) = root {
            return QueryError::Limit(format!(
                "the query was stopped at its memory limit of {} ({what}); if it needs more, raise it with --memory-limit (e.g. --memory-limit 8GiB) or UTFALL_MEMORY_LIMIT",
                size(self.limits.memory)
            ));
        }
        if let DataFusionError::SchemaError(schema_error, _) = root
            && let datafusion::common::SchemaError::FieldNotFound { field, valid_fields } = schema_error.as_ref()
        {
            let mut names: Vec<String> = valid_fields.iter().map(|c| c.name().to_string()).collect();
            names.dedup();
            let mut message = format!("unknown column '{}'", field.flat_name());
            if let Some(near) = nearest(field.name(), names.iter().map(String::as_str)) {
                message.push_str(&format!("; did you mean '{near}'?"));
            }
            if !names.is_empty() {
                message.push_str(&format!("\ncolumns here: {}", names.join(", ")));
            }
            return QueryError::Sql(message);
        }
        let text = strip_prefixes(&root.to_string());
        for refusal in ["DDL not supported: ", "DML not supported: ", "Statement not supported: "] {
            if let Some(what) = text.strip_prefix(refusal) {
                return guard::refused(what);
            }
        }
        if let Some(name) = text.split("table '").nth(1).and_then(|rest| rest.split('\'').next())
            && text.contains("not found")
        {
            return self.unknown_table(name.rsplit('.').next().unwrap_or(name));
        }
        QueryError::Sql(text)
    }

    fn unknown_table(&self, name: &str) -> QueryError {
        let names = self.tables.iter().map(|t| t.name);
        let mut message = format!("unknown table '{name}'");
        if let Some(near) = nearest(name, names.clone()) {
            message.push_str(&format!("; did you mean '{near}'?"));
        }
        message.push_str(&format!("\ntables: {}", names.collect::<Vec<_>>().join(", ")));
        let absent: Vec<&str> =
            query_tables().iter().filter(|t| !self.tables.contains(t)).map(|t| t.name).collect::<Vec<_>>();
        if absent.contains(&name) {
            message.push_str(&format!(
                "\n'{name}' is not in this build: it was made without indicators (run `utfall indicators`)"
            ));
        }
        QueryError::Sql(message)
    }
}

/// The manifest's per-table counts as a table.
fn load_counts(manifest: &Manifest) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    use datafusion::arrow::array::{ArrayRef, BooleanArray, StringArray, UInt64Array};
    let t = &manifest.tables;
    let column = |f: fn(&utfall_register::store::TableCounts) -> u64| -> ArrayRef {
        Arc::new(UInt64Array::from_iter_values(t.iter().map(|(_, c)| f(c))))
    };
    RecordBatch::try_from_iter([
        ("table", Arc::new(StringArray::from_iter_values(t.iter().map(|(n, _)| n.as_str()))) as ArrayRef),
        ("rows_in", column(|c| c.rows_in)),
        ("accepted", column(|c| c.accepted)),
        ("rejected", column(|c| c.rejected)),
        ("merged", column(|c| c.merged)),
        ("superseded", column(|c| c.superseded)),
        ("withdrawn", column(|c| c.withdrawn)),
        ("masked_values", column(|c| c.masked_values)),
        ("supplied", Arc::new(BooleanArray::from_iter(t.iter().map(|(_, c)| Some(c.supplied)))) as ArrayRef),
        ("reconciles", Arc::new(BooleanArray::from_iter(t.iter().map(|(_, c)| Some(c.reconciles())))) as ArrayRef),
    ])
}

/// The closest candidate by edit distance, if it is close enough to be a typo
/// (at most half of the longer name edited).
pub fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_lowercase();
    candidates
        .map(|c| (levenshtein(&word, &c.to_lowercase()), c))
        .filter(|(d, c)| *d > 0 && d * 2 <= word.chars().count().max(c.chars().count()))
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// DataFusion prefixes errors with their family ("Error during planning: ");
/// the user wants the message.
fn strip_prefixes(text: &str) -> String {
    let mut text = text.trim();
    for prefix in ["Error during planning: ", "Schema error: ", "SQL error: ", "Execution error: ", "Arrow error: "] {
        if let Some(rest) = text.strip_prefix(prefix) {
            text = rest;
        }
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn nearest_names_a_typo_and_nothing_far() {
        let tables = ["clients", "cases", "contacts", "indicators"];
        assert_eq!(nearest("clinets", tables.iter().copied()), Some("clients"));
        assert_eq!(nearest("case", tables.iter().copied()), Some("cases"));
        assert_eq!(nearest("payroll", tables.iter().copied()), None);
    }
}
