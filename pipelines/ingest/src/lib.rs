//! `utfall build`: from case-system exports to the compiled register.
//!
//! 1. **Read and validate** each export on a reader thread (`read`,
//!    `validate`): decode, map columns and codes, parse, check date order,
//!    replace personnummer by keyed pseudonyms. Bad rows go to the quarantine
//!    with file, line, column and reason; a file that cannot be read at all
//!    stops the build with exit code 2.
//! 2. **Deduplicate** (polars): exact copies of a row are merged; a later row
//!    reusing an id with other content is rejected.
//! 3. **Check references** (polars anti joins), parents before children: every
//!    case has a client, every event its case, and the same client as its case.
//! 4. **Write** each table sorted for its queries on a writer thread, then the
//!    quarantine and the manifest, into a staging folder; **publish** atomically
//!    (`Store`).
//!
//! The stages form a bounded pipeline (see `build`). For every table: rows in =
//! accepted + rejected + merged, checked before publishing.

pub mod error;
pub mod key;
mod read;
pub mod validate;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use polars::prelude::*;
use sha2::{Digest, Sha256};
use utfall_register::mapping::Mapping;
use utfall_register::schema::{self, TABLES, Table};
use utfall_register::store::{InputFile, Manifest, Staging, Store, TableCounts};
use utfall_register::{SCHEMA_VERSION, TOOL_VERSION};

pub use error::{BadInput, BuildError};
pub use key::Key;
use validate::{Batch, Reject};

#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Folder holding the exports named in the mapping.
    pub input: PathBuf,
    pub mapping: PathBuf,
    pub key: PathBuf,
    /// The register path (a link to the current build, replaced atomically).
    pub register: PathBuf,
    /// Reference date of the exports; resolves 10-digit personnummer. Default: today.
    pub as_of: Option<NaiveDate>,
}

/// What the build is doing, for progress display.
#[derive(Debug, Clone)]
pub enum Progress {
    Read { table: &'static str, rows: u64 },
    Stage(&'static str),
}

#[derive(Debug)]
pub struct BuildReport {
    pub manifest: Manifest,
    /// The published build folder (what the register link points to).
    pub build_dir: PathBuf,
}

/// A build written into its staging folder with its manifest, not yet
/// published: later stages (the indicators) may add derived tables to it.
/// Dropping it leaves the previous register in place.
#[derive(Debug)]
pub struct Staged {
    staging: Staging,
    pub manifest: Manifest,
    register: PathBuf,
}

impl Staged {
    /// The staging folder holding the tables.
    pub fn dir(&self) -> &Path {
        self.staging.dir()
    }

    /// Write the manifest and publish the build atomically.
    pub fn publish(self) -> Result<BuildReport, BuildError> {
        self.manifest.write(self.staging.dir()).map_err(BuildError::io(self.staging.dir()))?;
        let build_dir = self.staging.publish().map_err(BuildError::io(&self.register))?;
        Ok(BuildReport { manifest: self.manifest, build_dir })
    }
}

/// Build and publish the register.
pub fn build(opts: &BuildOptions, progress: &(dyn Fn(Progress) + Sync)) -> Result<BuildReport, BuildError> {
    let staged = stage(opts, progress)?;
    progress(Progress::Stage("publishing"));
    staged.publish()
}

/// Build the register into a staging folder (see [`Staged`]).
pub fn stage(opts: &BuildOptions, progress: &(dyn Fn(Progress) + Sync)) -> Result<Staged, BuildError> {
    let started = Instant::now();
    let mapping_text = std::fs::read_to_string(&opts.mapping)
        .map_err(|e| BuildError::bad(&opts.mapping, None, None, format!("cannot read the mapping file: {e}")))?;
    let mapping =
        Mapping::from_toml(&mapping_text).map_err(|e| BuildError::bad(&opts.mapping, None, None, e.to_string()))?;
    let key = Key::read(&opts.key)?;
    // The tables with the municipality's own columns (the mapping's `local`).
    let tables = mapping.tables();
    let tables = &tables;
    let as_of = opts.as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
    if !opts.input.is_dir() {
        return Err(BuildError::bad(&opts.input, None, None, "the input folder does not exist"));
    }

    for (name, tm) in &mapping.tables {
        let path = opts.input.join(&tm.file);
        if !path.is_file() {
            return Err(BuildError::missing_file(path, name));
        }
    }

    // A bounded pipeline, wave by wave in reference depth (clients, then
    // cases, then the rest): two reader threads read and validate exports,
    // largest first (1); this thread deduplicates each and checks its
    // references against the accepted parents (2-3); a writer thread sorts
    // and writes it into the staging folder (4). Hand-overs are rendezvous
    // channels, so at most four tables are in memory at once; of the accepted
    // rows only the parents' keys are kept.
    progress(Progress::Stage("reading, validating, checking and writing"));
    let build_id = Store::new_build_id();
    let store = Store::new(&opts.register).map_err(BuildError::io(&opts.register))?;
    let staging = store.begin(&build_id).map_err(BuildError::io(&opts.register))?;
    let staging_dir = staging.dir().to_path_buf();
    let mut done: Vec<Option<Processed>> = TABLES.iter().map(|_| None).collect();
    let spans = std::thread::scope(|scope| -> Result<Vec<DateSpan>, BuildError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(&'static Table, DataFrame)>(0);
        let writer = scope.spawn(move || -> Result<Vec<DateSpan>, BuildError> {
            let mut spans = Vec::new();
            for (table, df) in rx {
                let t0 = Instant::now();
                spans.push(date_span(table, &df)?);
                let mut sorted = df.lazy().sort(table.sort.to_vec(), SortMultipleOptions::default()).collect()?;
                write_parquet(&mut sorted, &staging_dir.join(table.file_name()))?;
                tracing::info!(table = table.name, seconds = t0.elapsed().as_secs_f64(), "sorted and written");
            }
            Ok(spans)
        });
        let mut parents: HashMap<&'static str, DataFrame> = HashMap::new();
        let mut result = Ok(());
        for wave in waves() {
            let mut order = wave;
            let size = |ti: &usize| {
                mapping
                    .tables
                    .get(tables[*ti].name)
                    .and_then(|t| opts.input.join(&t.file).metadata().ok())
                    .map(|m| m.len())
            };
            order.sort_by_key(|ti| std::cmp::Reverse(size(ti)));
            let queue = std::sync::Mutex::new(std::collections::VecDeque::from(order));
            let (btx, brx) = std::sync::mpsc::sync_channel::<Result<(usize, Option<Read>), BuildError>>(0);
            std::thread::scope(|readers| {
                for _ in 0..READERS {
                    let (btx, queue, mapping, key) = (btx.clone(), &queue, &mapping, &key);
                    readers.spawn(move || {
                        while let Some(ti) = queue.lock().expect("queue lock").pop_front() {
                            let r = read_one(tables[ti], mapping, &opts.input, key, as_of, progress).map(|r| (ti, r));
                            if btx.send(r).is_err() {
                                break; // the build stopped
                            }
                        }
                    });
                }
                drop(btx);
                for msg in brx.iter() {
                    let step = msg.and_then(|(ti, read)| {
                        let (accepted, p) = check(ti, tables[ti], read, &mapping, &parents)?;
                        if is_parent(tables[ti]) {
                            parents.insert(tables[ti].name, parent_keys(tables[ti], &accepted)?);
                        }
                        tx.send((tables[ti], accepted)).map_err(|_| BuildError::Io {
                            path: staging.dir().to_path_buf(),
                            source: std::io::Error::other("the writer stopped"),
                        })?;
                        done[ti] = Some(p);
                        Ok(())
                    });
                    if let Err(e) = step {
                        result = Err(e);
                        break;
                    }
                }
                drop(brx); // unblocks readers after an error
            });
            if result.is_err() {
                break;
            }
        }
        drop(tx);
        // A writer failure explains any "writer stopped" above.
        let spans = writer.join().expect("the writer thread does not panic")?;
        result.map(|()| spans)
    })?;
    let mut counts: Vec<(String, TableCounts)> = Vec::new();
    let mut quarantine: Vec<DataFrame> = Vec::new();
    let mut row_rejects = Vec::new();
    let mut inputs = Vec::new();
    for (ti, p) in done.into_iter().enumerate() {
        let p = p.expect("every table was processed");
        counts.push((tables[ti].name.to_string(), p.counts));
        quarantine.extend(p.set_rejects);
        let file = p.input.as_ref().map(|i| i.path.clone()).unwrap_or_default();
        row_rejects.push((ti, tables[ti].name, file, p.row_rejects));
        inputs.extend(p.input);
    }
    let (data_from, data_to) = spans.into_iter().fold((None, None), |(lo, hi): (Option<i32>, Option<i32>), (a, b)| {
        (lo.into_iter().chain(a).min(), hi.into_iter().chain(b).max())
    });
    quarantine.push(row_rejects_frame(row_rejects)?);
    let mut quarantine = concat_frames(quarantine)?
        .lazy()
        .sort(["__t", "source_file", "line", "column_number"], SortMultipleOptions::default().with_maintain_order(true))
        .drop(polars::prelude::Selector::ByName { names: Arc::new(["__t".into()]), strict: true })
        .collect()?;
    write_parquet(&mut quarantine, &staging.dir().join(format!("{}.parquet", utfall_register::schema::QUARANTINE)))?;
    // The build's own data dictionary: the schema with the mapping's local columns.
    let dictionary = staging.dir().join("data-dictionary.md");
    let text = utfall_register::dictionary::render_build(tables, &opts.mapping.display().to_string());
    std::fs::write(&dictionary, text).map_err(BuildError::io(&dictionary))?;
    let day = |d: Option<i32>| d.map(|d| validate::date_of(d).to_string());
    let local = mapping.local();
    let manifest = Manifest {
        schema_version: SCHEMA_VERSION.to_string(),
        tool: "utfall".into(),
        tool_version: TOOL_VERSION.to_string(),
        build_id: build_id.clone(),
        built_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        build_seconds: started.elapsed().as_secs_f64(),
        as_of: as_of.to_string(),
        data_from: day(data_from),
        data_to: day(data_to),
        key_id: key.id().to_string(),
        mapping: InputFile {
            table: String::new(),
            path: opts.mapping.display().to_string(),
            bytes: mapping_text.len() as u64,
            sha256: hex::encode(Sha256::digest(mapping_text.as_bytes())),
            format: "toml".into(),
        },
        inputs,
        tables: counts,
        local_columns: local.columns,
        local_codes: local.codes,
        quarantine_rows: quarantine.height() as u64,
        indicators: None,
        scoring: None,
    };
    Ok(Staged { staging, manifest, register: opts.register.clone() })
}

/// One table after reading, validation, deduplication and reference checks.
struct Processed {
    counts: TableCounts,
    set_rejects: Vec<DataFrame>,
    row_rejects: Vec<Reject>,
    /// What was read (None when the mapping supplies no file).
    input: Option<InputFile>,
}

/// Whether other tables reference this one.
fn is_parent(table: &Table) -> bool {
    TABLES.iter().any(|t| t.references.iter().any(|r| r.table == table.name))
}

/// What children are checked against: the key and the client of each accepted row.
fn parent_keys(table: &Table, accepted: &DataFrame) -> PolarsResult<DataFrame> {
    let key = table.register_key();
    let cols: Vec<&str> = if key == "client_id" { vec![key] } else { vec![key, "client_id"] };
    accepted.select(cols)
}

/// Schema positions of the tables grouped by reference depth: a wave only
/// references tables of earlier waves.
fn waves() -> Vec<Vec<usize>> {
    fn depth(t: &Table) -> usize {
        t.references
            .iter()
            .map(|r| 1 + depth(schema::table(r.table).expect("references name tables")))
            .max()
            .unwrap_or(0)
    }
    let mut waves: Vec<Vec<usize>> = Vec::new();
    for (i, t) in TABLES.iter().enumerate() {
        let d = depth(t);
        if waves.len() <= d {
            waves.resize(d + 1, Vec::new());
        }
        waves[d].push(i);
    }
    waves
}

/// Reader threads per wave: CSV parsing and validation is single-threaded per file.
const READERS: usize = 2;

/// One export after reading and validation.
struct Read {
    batch: Batch,
    input: InputFile,
}

/// Read and validate one table's export (`None` when the mapping supplies no file).
fn read_one(
    table: &'static Table,
    mapping: &Mapping,
    input: &Path,
    key: &Key,
    as_of: NaiveDate,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Option<Read>, BuildError> {
    if !mapping.tables.contains_key(table.name) {
        return Ok(None);
    }
    let t0 = Instant::now();
    let (batch, described) = read::read_table(table, mapping, input, key, as_of)?;
    tracing::info!(table = table.name, seconds = t0.elapsed().as_secs_f64(), "read and validated");
    progress(Progress::Read { table: table.name, rows: batch.rows_in });
    Ok(Some(Read { batch, input: described }))
}

/// Deduplicate and check one read table against the accepted parents: its accepted rows and its record.
fn check(
    ti: usize,
    table: &'static Table,
    read: Option<Read>,
    mapping: &Mapping,
    parents: &HashMap<&'static str, DataFrame>,
) -> Result<(DataFrame, Processed), BuildError> {
    let Some(Read { batch, input }) = read else {
        debug_assert!(!mapping.tables.contains_key(table.name));
        let empty =
            Processed { counts: TableCounts::default(), set_rejects: Vec::new(), row_rejects: Vec::new(), input: None };
        return Ok((DataFrame::empty_with_schema(&table.register_schema()), empty));
    };
    let t0 = Instant::now();
    let origin = Origin { t: ti, table: table.name, file: &input.path };
    let (accepted, merged, set) = set_stages(table, &origin, &batch, parents)?;
    tracing::info!(table = table.name, seconds = t0.elapsed().as_secs_f64(), "deduplicated and checked references");
    let set_rejected: usize = set.iter().map(DataFrame::height).sum();
    let counts = TableCounts {
        rows_in: batch.rows_in,
        accepted: accepted.height() as u64,
        rejected: (batch.rejects.len() + set_rejected) as u64,
        merged,
        masked_values: batch.masked_values,
        supplied: true,
    };
    if !counts.reconciles() {
        let msg = format!("internal error: {} rows in != accepted + rejected + merged ({counts:?})", table.name);
        return Err(BuildError::Polars(PolarsError::ComputeError(msg.into())));
    }
    Ok((accepted, Processed { counts, set_rejects: set, row_rejects: batch.rejects, input: Some(input) }))
}

/// First and last date of a table (days since 1970-01-01), if it has any.
type DateSpan = (Option<i32>, Option<i32>);

/// First and last date over a table's date columns.
fn date_span(table: &Table, df: &DataFrame) -> PolarsResult<DateSpan> {
    let (mut lo, mut hi) = (None, None);
    for c in table.register_columns().iter().filter(|c| c.dtype == DataType::Date) {
        let s = df.column(c.name)?.as_materialized_series().cast(&DataType::Int32)?;
        let ca = s.i32()?;
        lo = lo.into_iter().chain(ca.min()).min();
        hi = hi.into_iter().chain(ca.max()).max();
    }
    Ok((lo, hi))
}

fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<(), BuildError> {
    let file = File::create(path).map_err(BuildError::io(path))?;
    Ok(utfall_register::store::write_parquet(df, file)?)
}

fn concat_frames(frames: Vec<DataFrame>) -> PolarsResult<DataFrame> {
    let lazy: Vec<LazyFrame> = frames.into_iter().map(DataFrame::lazy).collect();
    concat(lazy, UnionArgs::default())?.collect()
}

/// Where rejected rows came from: table (and its schema position) and export file.
struct Origin<'a> {
    t: usize,
    table: &'a str,
    file: &'a str,
}

/// Rows rejected by a set-level stage: their lines, messages and records.
struct Rejected {
    line: Series,
    message: Series,
    record: Series,
}

impl Rejected {
    /// `rows` holds `__line`; `msg` the message `m` and record `r` of each row.
    fn from(rows: &DataFrame, msg: &DataFrame) -> PolarsResult<Rejected> {
        let series = |df: &DataFrame, c: &str| df.column(c).map(|c| c.as_materialized_series().clone());
        Ok(Rejected { line: series(rows, "__line")?, message: series(msg, "m")?, record: series(msg, "r")? })
    }
}

/// Set-level rejects in the quarantine's columns, plus `__t` (table order, for sorting).
fn quarantine_frame(o: &Origin, column: Option<&(u32, String)>, reason: &str, r: Rejected) -> PolarsResult<DataFrame> {
    let n = r.line.len();
    let cols = vec![
        Column::new_scalar("__t".into(), Scalar::from(o.t as u32), n),
        Column::new_scalar("table".into(), Scalar::from(PlSmallStr::from(o.table)), n),
        Column::new_scalar("source_file".into(), Scalar::from(PlSmallStr::from(o.file)), n),
        r.line.with_name("line".into()).into_column(),
        Column::new_scalar(
            "column".into(),
            Scalar::from(PlSmallStr::from(column.map(|c| c.1.as_str()).unwrap_or(""))),
            n,
        ),
        Column::new_scalar(
            "column_number".into(),
            Scalar::new(DataType::UInt32, column.map(|c| AnyValue::UInt32(c.0)).unwrap_or(AnyValue::Null)),
            n,
        ),
        Column::new_scalar("reason".into(), Scalar::from(PlSmallStr::from(reason)), n),
        r.message.with_name("message".into()).into_column(),
        r.record.with_name("record".into()).into_column(),
    ];
    DataFrame::new(n, cols)?.lazy().with_columns([col("line").cast(DataType::UInt64)]).collect()
}

fn row_rejects_frame(all: Vec<(usize, &'static str, String, Vec<Reject>)>) -> PolarsResult<DataFrame> {
    let mut t = Vec::new();
    let mut table = Vec::new();
    let mut file = Vec::new();
    let mut line = Vec::new();
    let mut column = Vec::new();
    let mut number = Vec::new();
    let mut reason = Vec::new();
    let mut message = Vec::new();
    let mut record = Vec::new();
    for (ti, name, f, rejects) in all {
        for r in rejects {
            t.push(ti as u32);
            table.push(name);
            file.push(f.clone());
            line.push(r.line);
            column.push(r.column.as_ref().map(|c| c.1.clone()).unwrap_or_default());
            number.push(r.column.as_ref().map(|c| c.0));
            reason.push(r.reason);
            message.push(r.message);
            record.push(r.record);
        }
    }
    let n = t.len();
    DataFrame::new(
        n,
        vec![
            Column::new("__t".into(), t),
            Column::new("table".into(), table),
            Column::new("source_file".into(), file),
            Column::new("line".into(), line),
            Column::new("column".into(), column),
            Column::new("column_number".into(), number),
            Column::new("reason".into(), reason),
            Column::new("message".into(), message),
            Column::new("record".into(), record),
        ],
    )
}

/// `col=value; ...` over a frame's register columns, for rows rejected after parsing.
fn record_expr(table: &Table) -> Expr {
    let mut parts = Vec::new();
    for (i, c) in table.register_columns().iter().enumerate() {
        let prefix = if i == 0 { format!("{}=", c.name) } else { format!("; {}=", c.name) };
        parts.push(lit(prefix));
        parts.push(col(c.name).cast(DataType::String).fill_null(lit("")));
    }
    concat_str(parts, "", false)
}

/// Deduplicate one table and check its references against the accepted parents
/// (their key and `client_id` columns). Returns the accepted rows (without
/// `__line`), the merged count and the rejected rows.
fn set_stages(
    table: &'static Table,
    origin: &Origin,
    batch: &Batch,
    parents: &HashMap<&'static str, DataFrame>,
) -> PolarsResult<(DataFrame, u64, Vec<DataFrame>)> {
    let key = table.register_key();
    let source_col = |name: &str| -> Option<&(u32, String)> {
        let i = table.columns.iter().position(|c| c.name == name)?;
        batch.source_columns[i].as_ref()
    };
    let mut rejects = Vec::new();

    // Duplicates: only rows whose key repeats are compared whole; the lines
    // to drop are then filtered out of the table in one pass.
    let repeated = batch.frame.clone().lazy().filter(col(key).is_duplicated()).collect()?;
    let mut kept = batch.frame.clone();
    let mut merged = 0;
    if repeated.height() > 0 {
        let data_cols: Vec<Expr> = table.register_columns().iter().map(|c| col(c.name)).collect();
        let distinct =
            repeated.clone().lazy().unique_stable_generic(Some(data_cols), UniqueKeepStrategy::First).collect()?;
        merged = (repeated.height() - distinct.height()) as u64;
        let flagged = distinct
            .lazy()
            .with_columns([
                col(key).is_first_distinct().alias("__first"),
                col("__line").first().over([col(key)])?.alias("__first_line"),
            ])
            .collect()?;
        let conflicts = flagged.clone().lazy().filter(col("__first").not()).collect()?;
        if conflicts.height() > 0 {
            let msg = conflicts
                .clone()
                .lazy()
                .select([
                    concat_str(
                        [
                            lit("the id '"),
                            col(key),
                            lit("' is already used on line "),
                            col("__first_line").cast(DataType::String),
                            lit(" with other content"),
                        ],
                        "",
                        false,
                    )
                    .alias("m"),
                    record_expr(table).alias("r"),
                ])
                .collect()?;
            rejects.push(quarantine_frame(
                origin,
                source_col(table.key),
                "duplicate_id",
                Rejected::from(&conflicts, &msg)?,
            )?);
        }
        let keep_lines = flagged.lazy().filter(col("__first")).select([col("__line")]).collect()?;
        let keep = keep_lines.column("__line")?.as_materialized_series().clone();
        kept = kept
            .lazy()
            .filter(col(key).is_duplicated().not().or(col("__line").is_in(lit(keep).implode(false), false)))
            .collect()?;
    }

    // References: an anti join finds the rows whose parent (or its client)
    // does not match; they are classified and filtered out. With none, the
    // table is kept as it is.
    for r in table.references {
        let parent_table = schema::table(r.table).expect("references name tables");
        let parent = parents[r.table].clone().lazy();
        let ref_col = Table::register_name(r.column, table.column(r.column).expect("reference column").kind);
        let pk = parent_table.register_key();
        let (left, right): (Vec<Expr>, Vec<Expr>) = if r.same_client && pk != "client_id" {
            (vec![col(ref_col), col("client_id")], vec![col(pk), col("client_id")])
        } else {
            (vec![col(ref_col)], vec![col(pk)])
        };
        let bad = kept
            .clone()
            .lazy()
            .filter(col(ref_col).is_not_null())
            .join(parent.clone(), left, right, JoinArgs::new(JoinType::Anti))
            .collect()?;
        if bad.height() == 0 {
            continue;
        }
        let classified = bad
            .clone()
            .lazy()
            .join(
                parent.select([col(pk).alias("__pk")]),
                [col(ref_col)],
                [col("__pk")],
                JoinArgs::new(JoinType::Left).with_coalesce(JoinCoalesce::KeepColumns),
            )
            .with_column(
                when(col("__pk").is_null())
                    .then(lit("unknown_reference"))
                    .otherwise(lit("client_mismatch"))
                    .alias("__reason"),
            )
            .collect()?;
        for code in ["unknown_reference", "client_mismatch"] {
            let rows = classified.clone().lazy().filter(col("__reason").eq(lit(code))).collect()?;
            if rows.height() == 0 {
                continue;
            }
            let noun = r.table.trim_end_matches('s');
            let (what, tail) = if code == "unknown_reference" {
                (
                    format!("refers to {noun} '"),
                    "', which is not in the register (missing, or rejected: see the quarantine)",
                )
            } else {
                (format!("belongs to another client than {noun} '"), "'")
            };
            let msg = rows
                .clone()
                .lazy()
                .select([
                    concat_str([lit(what), col(ref_col), lit(tail)], "", false).alias("m"),
                    record_expr(table).alias("r"),
                ])
                .collect()?;
            rejects.push(quarantine_frame(origin, source_col(r.column), code, Rejected::from(&rows, &msg)?)?);
        }
        let drop = bad.column("__line")?.as_materialized_series().clone();
        kept = kept.lazy().filter(col("__line").is_in(lit(drop).implode(false), false).not()).collect()?;
    }
    let kept = kept.drop("__line")?;
    Ok((kept, merged, rejects))
}
