//! `utfall build`: from case-system exports to the compiled register.
//!
//! 1. **Read and validate** every mapped export in parallel (`read`,
//!    `validate`): decode, map columns and codes, parse, check date order,
//!    replace personnummer by keyed pseudonyms. Bad rows go to the quarantine
//!    with file, line, column and reason; a file that cannot be read at all
//!    stops the build with exit code 2.
//! 2. **Deduplicate** (polars): exact copies of a row are merged; a later row
//!    reusing an id with other content is rejected.
//! 3. **Check references** (polars joins), in schema order: every case has a
//!    client, every event its case, and the same client as its case.
//! 4. **Write** the tables sorted for their queries, the quarantine and the
//!    manifest to a staging folder, then **publish** atomically (`Store`).
//!
//! For every table: rows in = accepted + rejected + merged, checked before publishing.

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
use rayon::prelude::*;
use utfall_register::mapping::Mapping;
use utfall_register::schema::{self, TABLES, Table};
use utfall_register::store::{InputFile, Manifest, Store, TableCounts, sha256_file};
use utfall_register::{SCHEMA_VERSION, TOOL_VERSION};

pub use error::{BadInput, BuildError};
pub use key::Key;
use validate::{Batch, Reject};

/// Rows per Parquet row group: large enough for good compression, small
/// enough that date and client filters skip most groups.
pub const ROW_GROUP_ROWS: usize = 256 * 1024;

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

/// Rows rejected by the set-level stages, in the quarantine's columns.
struct SetRejects(Vec<DataFrame>);

pub fn build(opts: &BuildOptions, progress: &(dyn Fn(Progress) + Sync)) -> Result<BuildReport, BuildError> {
    let started = Instant::now();
    let mapping_text = std::fs::read_to_string(&opts.mapping)
        .map_err(|e| BuildError::bad(&opts.mapping, None, None, format!("cannot read the mapping file: {e}")))?;
    let mapping =
        Mapping::from_toml(&mapping_text).map_err(|e| BuildError::bad(&opts.mapping, None, None, e.to_string()))?;
    let key = Key::read(&opts.key)?;
    let as_of = opts.as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
    if !opts.input.is_dir() {
        return Err(BuildError::bad(&opts.input, None, None, "the input folder does not exist"));
    }

    // 1. Read and validate, one table per task.
    let mapped: Vec<&'static Table> = TABLES.iter().copied().filter(|t| mapping.tables.contains_key(t.name)).collect();
    let results: Vec<Result<(Batch, InputFile), BuildError>> = mapped
        .par_iter()
        .map(|t| {
            let r = read::read_table(t, &mapping, &opts.input, &key, as_of);
            if let Ok((b, _)) = &r {
                progress(Progress::Read { table: t.name, rows: b.rows_in });
            }
            r
        })
        .collect();
    let mut batches: HashMap<&'static str, Batch> = HashMap::new();
    let mut inputs = Vec::new();
    for r in results {
        let (batch, input) = r?;
        inputs.push(input);
        batches.insert(batch.table.name, batch);
    }

    // 2-3. Deduplicate and check references, parents before children.
    progress(Progress::Stage("deduplicating and checking references"));
    let mut accepted: HashMap<&'static str, DataFrame> = HashMap::new();
    let mut counts: Vec<(String, TableCounts)> = Vec::new();
    let mut quarantine: Vec<DataFrame> = Vec::new();
    let mut row_rejects: Vec<(usize, &'static str, String, Vec<Reject>)> = Vec::new();
    for (ti, table) in TABLES.iter().enumerate() {
        let file = mapping.tables.get(table.name).map(|t| t.file.clone()).unwrap_or_default();
        let Some(batch) = batches.remove(table.name) else {
            accepted.insert(table.name, DataFrame::empty_with_schema(&table.register_schema()));
            counts.push((table.name.to_string(), TableCounts::default()));
            continue;
        };
        let rows_in = batch.rows_in;
        let row_rejected = batch.rejects.len() as u64;
        let (kept, merged, set) = set_stages(table, ti, &file, &batch, &accepted)?;
        let set_rejected: usize = set.0.iter().map(DataFrame::height).sum();
        quarantine.extend(set.0);
        let c = TableCounts {
            rows_in,
            accepted: kept.height() as u64,
            rejected: row_rejected + set_rejected as u64,
            merged,
            masked_values: batch.masked_values,
            supplied: true,
        };
        if !c.reconciles() {
            return Err(BuildError::Polars(PolarsError::ComputeError(
                format!(
                    "internal error: {} rows in != accepted + rejected + merged ({c:?}); nothing was published",
                    table.name
                )
                .into(),
            )));
        }
        counts.push((table.name.to_string(), c));
        row_rejects.push((ti, table.name, file, batch.rejects));
        accepted.insert(table.name, kept);
    }
    quarantine.push(row_rejects_frame(row_rejects)?);
    let quarantine = concat_frames(quarantine)?
        .lazy()
        .sort(["__t", "source_file", "line", "column_number"], SortMultipleOptions::default().with_maintain_order(true))
        .drop(polars::prelude::Selector::ByName { names: Arc::new(["__t".into()]), strict: true })
        .collect()?;

    // 4. Write into a staging folder and publish.
    progress(Progress::Stage("writing the register"));
    let build_id = format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"), std::process::id());
    let store = Store::new(&opts.register).map_err(BuildError::io(&opts.register))?;
    let staging = store.begin(&build_id).map_err(BuildError::io(&opts.register))?;
    let (mut data_from, mut data_to) = (None::<i32>, None::<i32>);
    let written: Vec<Result<(), BuildError>> = TABLES
        .par_iter()
        .map(|table| {
            let df = accepted.get(table.name).expect("every table has a frame");
            let mut sorted = df
                .clone()
                .lazy()
                .sort(table.sort.to_vec(), SortMultipleOptions::default().with_maintain_order(true))
                .collect()?;
            write_parquet(&mut sorted, &staging.dir().join(table.file_name()))
        })
        .collect();
    for w in written {
        w?;
    }
    for table in TABLES {
        let df = &accepted[table.name];
        for c in table.register_columns().iter().filter(|c| c.dtype == DataType::Date) {
            let s = df.column(c.name)?.as_materialized_series().cast(&DataType::Int32)?;
            let ca = s.i32()?;
            data_from = match (data_from, ca.min()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            data_to = match (data_to, ca.max()) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
    }
    let mut quarantine = quarantine;
    write_parquet(&mut quarantine, &staging.dir().join("quarantine.parquet"))?;
    let day = |d: Option<i32>| {
        d.map(|d| (NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(i64::from(d))).to_string())
    };
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
            sha256: sha256_file(&opts.mapping).map_err(BuildError::io(&opts.mapping))?,
            format: "toml".into(),
        },
        inputs,
        tables: counts,
        quarantine_rows: quarantine.height() as u64,
    };
    let manifest_path = staging.dir().join(Manifest::FILE);
    std::fs::write(&manifest_path, serde_json::to_string_pretty(&manifest).expect("manifest serialises"))
        .map_err(BuildError::io(&manifest_path))?;
    progress(Progress::Stage("publishing"));
    let build_dir = staging.publish().map_err(BuildError::io(&opts.register))?;
    Ok(BuildReport { manifest, build_dir })
}

fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<(), BuildError> {
    let file = File::create(path).map_err(BuildError::io(path))?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
        .with_row_group_size(Some(ROW_GROUP_ROWS))
        .finish(df)?;
    Ok(())
}

fn concat_frames(frames: Vec<DataFrame>) -> PolarsResult<DataFrame> {
    let lazy: Vec<LazyFrame> = frames.into_iter().map(DataFrame::lazy).collect();
    concat(lazy, UnionArgs::default())?.collect()
}

/// The quarantine's columns plus `__t` (table order, for sorting).
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

/// Deduplicate one table and check its references against the accepted parents.
/// Returns the accepted rows (without `__line`), the merged count and the rejected rows.
fn set_stages(
    table: &'static Table,
    ti: usize,
    file: &str,
    batch: &Batch,
    accepted: &HashMap<&'static str, DataFrame>,
) -> PolarsResult<(DataFrame, u64, SetRejects)> {
    let data_cols: Vec<Expr> = table.register_columns().iter().map(|c| col(c.name)).collect();
    let key = table.register_key();
    let source_col = |name: &str| -> Option<&(u32, String)> {
        let i = table.columns.iter().position(|c| c.name == name)?;
        batch.source_columns[i].as_ref()
    };
    let origin = Origin { t: ti, table: table.name, file };
    let n0 = batch.frame.height();
    let dedup =
        batch.frame.clone().lazy().unique_stable_generic(Some(data_cols), UniqueKeepStrategy::First).collect()?;
    let merged = (n0 - dedup.height()) as u64;
    let mut rejects = Vec::new();

    let flagged = dedup
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
            &origin,
            source_col(table.key),
            "duplicate_id",
            Rejected::from(&conflicts, &msg)?,
        )?);
    }
    let mut kept = flagged.lazy().filter(col("__first")).drop(cols(["__first", "__first_line"])).collect()?;

    for r in table.references {
        let parent_table = schema::table(r.table).expect("references name tables");
        let parent = &accepted[r.table];
        let ref_col = Table::register_name(r.column, table.column(r.column).expect("reference column").kind);
        let pk = parent
            .clone()
            .lazy()
            .select([col(parent_table.register_key()).alias("__pk"), col("client_id").alias("__pc")]);
        let reason = when(col(ref_col).is_not_null().and(col("__pc").is_null()))
            .then(lit("unknown_reference"))
            .when(lit(r.same_client).and(col("__pc").is_not_null()).and(col("__pc").neq(col("client_id"))))
            .then(lit("client_mismatch"))
            .otherwise(lit(NULL).cast(DataType::String));
        let mut args = JoinArgs::new(JoinType::Left);
        args.maintain_order = MaintainOrderJoin::Left;
        let joined = kept
            .lazy()
            .join(pk, [col(ref_col)], [col("__pk")], args)
            .with_columns([reason.alias("__reason")])
            .collect()?;
        let bad = joined.clone().lazy().filter(col("__reason").is_not_null()).collect()?;
        for code in ["unknown_reference", "client_mismatch"] {
            let rows = bad.clone().lazy().filter(col("__reason").eq(lit(code))).collect()?;
            if rows.height() == 0 {
                continue;
            }
            let what = if code == "unknown_reference" {
                format!("refers to {} '", r.table.trim_end_matches('s'))
            } else {
                format!("belongs to another client than {} '", r.table.trim_end_matches('s'))
            };
            let tail = if code == "unknown_reference" {
                "', which is not in the register (missing, or rejected: see the quarantine)"
            } else {
                "'"
            };
            let msg = rows
                .clone()
                .lazy()
                .select([
                    concat_str([lit(what), col(ref_col), lit(tail)], "", false).alias("m"),
                    record_expr(table).alias("r"),
                ])
                .collect()?;
            rejects.push(quarantine_frame(&origin, source_col(r.column), code, Rejected::from(&rows, &msg)?)?);
        }
        kept = joined.lazy().filter(col("__reason").is_null()).drop(cols(["__reason", "__pc"])).collect()?;
    }
    let kept = kept.drop("__line")?;
    Ok((kept, merged, SetRejects(rejects)))
}
