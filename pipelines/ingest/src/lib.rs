//! `utfall build`: from source systems' exports to the compiled register.
//!
//! 1. **Sources and deliveries** (`delivery`): each `--source NAME=DIR` with
//!    its mapping; a snapshot, or deliveries with control files in period
//!    order. An incomplete delivery stops the build with exit code 2.
//! 2. **Stored deliveries** (`parts`): each delivery not already stored in
//!    the current build is read and validated on two reader threads (`read`,
//!    `validate`: decode, map columns and codes, parse, check date order,
//!    replace personnummer and other person ids by keyed pseudonyms; bad rows
//!    to the delivery's rejects with file, line, column and reason) and
//!    stored; the others are hard-linked.
//! 3. **Versions and references** (`versions`, polars), table by table,
//!    parents first: within a delivery exact copies merged and reused ids
//!    rejected; withdrawals; the latest period's version per source; the
//!    first-listed source's across sources; then every case has a client,
//!    every event its case, and the same client as its case.
//! 4. **Write** each table sorted for its queries, with its lineage, on a
//!    writer thread; then the quarantine, the lineage, `row_changes`
//!    (`changes`) and the manifest, into a staging folder; **publish**
//!    atomically (`Store`).
//!
//! For every delivery and table: rows in = accepted + rejected + merged +
//! superseded, checked before publishing.

mod changes;
pub mod delivery;
pub mod error;
pub mod key;
mod parts;
mod read;
pub mod validate;
mod versions;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use polars::prelude::*;
use utfall_register::local::LocalSchema;
use utfall_register::schema::{TABLES, Table};
use utfall_register::store::{
    DeliveryRecord, InputFile, Manifest, SourceRecord, Staging, Store, TableCounts, link_tree,
};
use utfall_register::{SCHEMA_VERSION, TOOL_VERSION};

use delivery::Source;
pub use delivery::SourceSpec;
pub use error::{BadInput, BuildError};
pub use key::Key;
use parts::write_parquet;
use parts::{PartRecord, PartTable};
use validate::Reject;
use versions::Part;

#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The sources in rank order (an id two sources deliver is kept from
    /// the first). `--input DIR` is one source named `main`.
    pub sources: Vec<SourceSpec>,
    pub key: PathBuf,
    /// The register path (a link to the current build, replaced atomically).
    pub register: PathBuf,
    /// Reference date of the exports; resolves 10-digit personnummer. Default: today.
    pub as_of: Option<NaiveDate>,
    /// Read every delivery again, even those the current register holds.
    pub full: bool,
}

impl BuildOptions {
    /// One source folder (`--input`), named `main`.
    pub fn single(input: &Path, mapping: &Path, key: &Path, register: &Path, as_of: Option<NaiveDate>) -> BuildOptions {
        let source = SourceSpec::new("main", input, Some(mapping)).expect("a valid name");
        BuildOptions { sources: vec![source], key: key.into(), register: register.into(), as_of, full: false }
    }
}

/// What the build is doing, for progress display.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A file read (as the quarantine names it) and its data rows.
    Read {
        file: String,
        rows: u64,
    },
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
    if opts.sources.is_empty() {
        return Err(BuildError::bad(
            &opts.register,
            None,
            None,
            "no source: name one with --source NAME=DIR or --input DIR",
        ));
    }
    for (i, a) in opts.sources.iter().enumerate() {
        if opts.sources[..i].iter().any(|b| b.name == a.name) {
            return Err(BuildError::bad(&a.dir, None, None, format!("the source name '{}' is used twice", a.name)));
        }
    }
    let key = Key::read(&opts.key)?;
    let as_of = opts.as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
    let sources: Vec<Source> = opts.sources.iter().map(delivery::discover).collect::<Result<_, _>>()?;
    if !sources.iter().any(|s| s.mapping.tables.contains_key("clients")) {
        return Err(BuildError::bad(
            &sources[0].spec.mapping,
            None,
            None,
            "tables.clients: no source delivers the clients table, which every other table refers to",
        ));
    }
    let local = combined_local(&sources)?;
    // The tables with the municipality's own columns (the mappings' `local`).
    let tables = local.tables();
    let names: Vec<String> = sources.iter().map(|s| s.spec.name.clone()).collect();

    let build_id = Store::new_build_id();
    let store = Store::new(&opts.register).map_err(BuildError::io(&opts.register))?;
    let previous = if opts.full { None } else { store.current() };
    let staging = store.begin(&build_id).map_err(BuildError::io(&opts.register))?;
    let root = staging.dir().to_path_buf();

    // 1. Every delivery stored: linked from the current build where it is
    //    unchanged, read and validated otherwise (two reader threads,
    //    largest file first).
    progress(Progress::Stage("reading and validating new deliveries"));
    let mut records: Vec<Vec<Option<PartRecord>>> = sources.iter().map(|s| vec![None; s.deliveries.len()]).collect();
    let mut fingerprints: Vec<Vec<String>> = Vec::new();
    let mut tasks = Vec::new();
    for (si, src) in sources.iter().enumerate() {
        let mut fps = Vec::new();
        for (di, d) in src.deliveries.iter().enumerate() {
            let fp = parts::fingerprint(src, d, key.id(), as_of);
            fps.push(fp.clone().unwrap_or_default());
            let dir = parts::part_dir(&root, &src.spec.name, &d.id);
            if let (Some(fp), Some(prev)) = (&fp, &previous) {
                let from = parts::part_dir(prev, &src.spec.name, &d.id);
                if let Some(stored) = PartRecord::read(&from).filter(|r| r.fingerprint == *fp) {
                    link_tree(&from, &dir).map_err(BuildError::io(&dir))?;
                    records[si][di] = Some(stored);
                    continue;
                }
            }
            std::fs::create_dir_all(&dir).map_err(BuildError::io(&dir))?;
            for fi in 0..d.files.len() {
                let size = d.dir.join(&d.files[fi].name).metadata().map(|m| m.len()).unwrap_or(0);
                tasks.push((size, si, di, fi));
            }
        }
        fingerprints.push(fps);
    }
    tasks.sort_by_key(|t| (std::cmp::Reverse(t.0), t.1, t.2, t.3));
    let read = read_deliveries(&tasks, &sources, &tables, &root, &key, as_of, progress)?;
    let mut fresh: HashMap<(usize, usize), Vec<FileRead>> = HashMap::new();
    for r in read {
        fresh.entry((r.si, r.di)).or_default().push(r);
    }
    // The deliveries read (not linked) by this build, as (source, delivery).
    let read_now: Vec<(String, String)> = fresh
        .keys()
        .map(|(si, di)| (sources[*si].spec.name.clone(), sources[*si].deliveries[*di].id.clone()))
        .collect();
    for ((si, di), mut files) in fresh {
        let (src, d) = (&sources[si], &sources[si].deliveries[di]);
        files.sort_by_key(|f| f.fi);
        let dir = parts::part_dir(&root, &src.spec.name, &d.id);
        let mut rejects = Vec::new();
        let mut record = PartRecord {
            fingerprint: fingerprints[si][di].clone(),
            files: Vec::new(),
            tables: Vec::new(),
            withdrawals: 0,
        };
        for f in files {
            record.files.push(f.input);
            match f.table {
                Some((ti, pt, r)) => {
                    let file = parts::display(&src.spec.name, d, &d.files[f.fi].name, sources.len());
                    rejects.push((ti, tables[ti].name, file, r));
                    record.tables.push(pt);
                }
                None => record.withdrawals = f.withdrawals,
            }
        }
        parts::write_parquet(&mut parts::rejects_frame(rejects)?, &dir.join(parts::REJECTS))?;
        record.write(&dir)?;
        records[si][di] = Some(record);
    }
    let records: Vec<Vec<PartRecord>> =
        records.into_iter().map(|r| r.into_iter().map(|r| r.expect("every delivery is stored")).collect()).collect();

    // 2. Merge table by table, parents first (schema order); a writer thread
    //    sorts and writes each table and its lineage while the next merges.
    progress(Progress::Stage("merging deliveries, checking references and writing"));
    let staging_dir = root.clone();
    let mut merged_counts: Vec<HashMap<(u32, u32), TableCounts>> = Vec::new();
    let mut set_rejects: Vec<DataFrame> = Vec::new();
    let mut unmatched: HashMap<(u32, u32), u64> = HashMap::new();
    let spans = std::thread::scope(|scope| -> Result<Vec<DateSpan>, BuildError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, &'static Table, DataFrame, DataFrame)>(0);
        let writer = scope.spawn(move || -> Result<Vec<DateSpan>, BuildError> {
            let mut spans = Vec::new();
            for (ti, table, df, lineage) in rx {
                let t0 = Instant::now();
                spans.push(date_span(table, &df)?);
                let mut sorted = df.lazy().sort(table.sort.to_vec(), SortMultipleOptions::default()).collect()?;
                write_parquet(&mut sorted, &staging_dir.join(table.file_name()))?;
                let mut lineage = lineage
                    .lazy()
                    .sort(["__s", "__d", "line"], SortMultipleOptions::default())
                    .drop(cols(["__s", "__d"]))
                    .collect()?;
                write_parquet(&mut lineage, &staging_dir.join(format!(".lineage-{ti}.parquet")))?;
                tracing::info!(table = table.name, seconds = t0.elapsed().as_secs_f64(), "sorted and written");
            }
            Ok(spans)
        });
        let mut parents: HashMap<&'static str, DataFrame> = HashMap::new();
        let result = (|| -> Result<(), BuildError> {
            for (ti, table) in tables.iter().copied().enumerate() {
                let t0 = Instant::now();
                let mut table_parts = Vec::new();
                let mut withdrawals = Vec::new();
                for (si, src) in sources.iter().enumerate() {
                    for (di, d) in src.deliveries.iter().enumerate().filter(|(_, d)| !d.replaced) {
                        let dir = parts::part_dir(&root, &src.spec.name, &d.id);
                        let (s, dd) = (si as u32, di as u32);
                        if let (Some(pt), Some(f)) = (records[si][di].table(table.name), d.file_for(table.name)) {
                            table_parts.push(Part {
                                s,
                                d: dd,
                                path: dir.join(table.file_name()),
                                file: parts::display(&src.spec.name, d, &f.name, sources.len()),
                                source_columns: &pt.source_columns,
                            });
                        }
                        if records[si][di].withdrawals > 0 {
                            let path = dir.join(parts::WITHDRAWN);
                            withdrawals.push(
                                LazyFrame::scan_parquet(PlRefPath::try_from_path(&path)?, ScanArgsParquet::default())?
                                    .filter(col("table").eq(lit(table.name)))
                                    .select([
                                        lit(s).cast(DataType::UInt32).alias("__s"),
                                        lit(dd).cast(DataType::UInt32).alias("__d"),
                                        col("id"),
                                    ]),
                            );
                        }
                    }
                }
                let withdrawals = if withdrawals.is_empty() {
                    None
                } else {
                    Some(concat(withdrawals, UnionArgs::default())?.collect()?)
                };
                let m = versions::merge(ti, table, &table_parts, withdrawals, &parents, &names)?;
                tracing::info!(
                    table = table.name,
                    seconds = t0.elapsed().as_secs_f64(),
                    "merged and checked references"
                );
                if is_parent(table) {
                    parents.insert(table.name, parent_keys(table, &m.accepted)?);
                }
                let lookup = lineage_lookup(&table_parts, &sources, table)?;
                let lineage = m
                    .accepted
                    .clone()
                    .lazy()
                    .select([
                        col(table.register_key()).cast(DataType::String).alias("id"),
                        col("__s"),
                        col("__d"),
                        col("__line").alias("line"),
                    ])
                    .join(
                        lookup.lazy(),
                        [col("__s"), col("__d")],
                        [col("__s"), col("__d")],
                        JoinArgs::new(JoinType::Inner),
                    )
                    .select([
                        lit(table.name).alias("table"),
                        col("id"),
                        col("source"),
                        col("delivery"),
                        col("file"),
                        col("line"),
                        col("__s"),
                        col("__d"),
                    ])
                    .collect()?;
                let data = m.accepted.drop_many(["__s", "__d", "__line"]);
                tx.send((ti, table, data, lineage)).map_err(|_| BuildError::Io {
                    path: root.clone(),
                    source: std::io::Error::other("the writer stopped"),
                })?;
                merged_counts.push(m.counts);
                set_rejects.extend(m.rejects);
                for (k, n) in m.unmatched_withdrawals {
                    *unmatched.entry(k).or_default() += n;
                }
            }
            Ok(())
        })();
        drop(tx);
        // A writer failure explains any "writer stopped" above.
        let spans = writer.join().expect("the writer thread does not panic")?;
        result.map(|()| spans)
    })?;

    // 3. Counts per delivery and per table; every delivery must reconcile.
    let mut counts: Vec<(String, TableCounts)> =
        tables.iter().map(|t| (t.name.to_string(), TableCounts::default())).collect();
    let mut source_records = Vec::new();
    let mut inputs = Vec::new();
    let mut warnings: Vec<String> = sources.iter().flat_map(|s| s.warnings.clone()).collect();
    let mut row_reject_files = Vec::new();
    for (si, src) in sources.iter().enumerate() {
        let mut deliveries = Vec::new();
        // Withdrawn ids matching no row, of all withdrawn, and the deliveries with some.
        let mut unmatched_total: (u64, u64, Vec<String>) = (0, 0, Vec::new());
        for (di, d) in src.deliveries.iter().enumerate() {
            let record = &records[si][di];
            let mut per_table = Vec::new();
            for pt in &record.tables {
                let ti = tables.iter().position(|t| t.name == pt.table).expect("a stored table is a table");
                let mut c = TableCounts {
                    rows_in: pt.rows_in,
                    masked_values: pt.masked_values,
                    supplied: true,
                    ..Default::default()
                };
                if d.replaced {
                    c.superseded = pt.rows_in;
                } else {
                    let m = merged_counts[ti].get(&(si as u32, di as u32)).cloned().unwrap_or_default();
                    c.accepted = m.accepted;
                    c.rejected = pt.row_rejects + m.rejected;
                    c.merged = m.merged;
                    c.superseded = m.superseded;
                    c.withdrawn = m.withdrawn;
                }
                if !c.reconciles() {
                    let msg = format!(
                        "internal error: {} in delivery {}/{}: rows in != accepted + rejected + merged + superseded ({c:?})",
                        pt.table, src.spec.name, d.id
                    );
                    return Err(BuildError::Polars(PolarsError::ComputeError(msg.into())));
                }
                counts[ti].1.add(&c);
                per_table.push((pt.table.clone(), c));
            }
            let unmatched = if d.replaced { 0 } else { unmatched.get(&(si as u32, di as u32)).copied().unwrap_or(0) };
            unmatched_total.0 += unmatched;
            unmatched_total.1 += if d.replaced { 0 } else { record.withdrawals };
            if unmatched > 0 {
                unmatched_total.2.push(d.id.clone());
            }
            if !d.replaced {
                row_reject_files.push(parts::part_dir(&root, &src.spec.name, &d.id).join(parts::REJECTS));
            }
            let files: Vec<InputFile> = record
                .files
                .iter()
                .map(|f| InputFile { path: parts::display(&src.spec.name, d, &f.path, sources.len()), ..f.clone() })
                .collect();
            inputs.extend(files.iter().cloned());
            deliveries.push(DeliveryRecord {
                id: d.id.clone(),
                period: d.period_text(),
                version: d.version,
                replaced: d.replaced,
                control_sha256: d.control_sha256.clone(),
                files: record.files.clone(),
                withdrawals: record.withdrawals,
                withdrawals_unmatched: unmatched,
                tables: per_table,
            });
        }
        if unmatched_total.0 > 0 {
            let shown: Vec<&str> = unmatched_total.2.iter().take(3).map(String::as_str).collect();
            let more = if unmatched_total.2.len() > 3 { ", ..." } else { "" };
            warnings.push(format!(
                "source '{}': {} of {} withdrawn ids match no row it delivered (rejected on reading, or never delivered; deliveries {}{more}: see withdrawals_unmatched in the manifest)",
                src.spec.name,
                unmatched_total.0,
                unmatched_total.1,
                shown.join(", ")
            ));
        }
        source_records.push(SourceRecord {
            name: src.spec.name.clone(),
            mapping: src.mapping_file.clone(),
            deliveries,
        });
    }

    // 4. The quarantine (row-level rejects of the deliveries that count, then
    //    the merge's), the lineage, the dictionary and the manifest.
    let (data_from, data_to) = spans.into_iter().fold((None, None), |(lo, hi): (Option<i32>, Option<i32>), (a, b)| {
        (lo.into_iter().chain(a).min(), hi.into_iter().chain(b).max())
    });
    let mut quarantine = Vec::new();
    for path in &row_reject_files {
        quarantine.push(LazyFrame::scan_parquet(PlRefPath::try_from_path(path)?, ScanArgsParquet::default())?);
    }
    quarantine.extend(set_rejects.into_iter().map(DataFrame::lazy));
    quarantine.push(parts::rejects_frame(Vec::new())?.lazy());
    let mut quarantine = concat(quarantine, UnionArgs::default())?
        .sort(["__t", "source_file", "line", "column_number"], SortMultipleOptions::default().with_maintain_order(true))
        .drop(cols(["__t"]))
        .collect()?;
    write_parquet(&mut quarantine, &root.join(format!("{}.parquet", utfall_register::schema::QUARANTINE)))?;
    write_lineage(&root, tables.len())?;
    // What changed against the register this build replaces.
    let replaced = store.current();
    let mut changes = match &replaced {
        Some(old) => changes::row_changes(old, &root, &tables, &read_now)?,
        None => DataFrame::empty_with_schema(&utfall_register::schema::ROW_CHANGES.schema()),
    };
    write_parquet(&mut changes, &root.join(utfall_register::schema::ROW_CHANGES.file_name()))?;
    let previous_build = replaced.as_ref().and_then(|d| Manifest::read(d).ok()).map(|m| m.build_id);
    for src in &sources {
        if src.deliveries.iter().all(|d| d.id == delivery::SNAPSHOT) {
            let dir = root.join(parts::DIR).join(&src.spec.name);
            std::fs::remove_dir_all(&dir).map_err(BuildError::io(&dir))?;
        }
    }
    let deliveries_dir = root.join(parts::DIR);
    if std::fs::read_dir(&deliveries_dir).map(|mut d| d.next().is_none()).unwrap_or(false) {
        std::fs::remove_dir(&deliveries_dir).map_err(BuildError::io(&deliveries_dir))?;
    }
    // The build's own data dictionary: the schema with the mappings' local columns.
    let dictionary = root.join("data-dictionary.md");
    let mappings: Vec<String> = sources.iter().map(|s| s.spec.mapping.display().to_string()).collect();
    let text = utfall_register::dictionary::render_build(&tables, &mappings.join(", "));
    std::fs::write(&dictionary, text).map_err(BuildError::io(&dictionary))?;
    let day = |d: Option<i32>| d.map(|d| validate::date_of(d).to_string());
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
        mapping: sources[0].mapping_file.clone(),
        inputs,
        sources: source_records,
        previous_build,
        warnings,
        tables: counts,
        local_columns: local.columns,
        local_codes: local.codes,
        quarantine_rows: quarantine.height() as u64,
        indicators: None,
        scoring: None,
    };
    Ok(Staged { staging, manifest, register: opts.register.clone() })
}

/// The sources' additions to the schema, as one: a table several sources
/// deliver must be declared alike by each, and so must a code list's local codes.
fn combined_local(sources: &[Source]) -> Result<LocalSchema, BuildError> {
    let mut out = LocalSchema::default();
    let mut owner: HashMap<String, usize> = HashMap::new();
    for (si, src) in sources.iter().enumerate() {
        let local = src.mapping.local();
        for table in src.mapping.tables.keys() {
            let mine = local.columns.get(table).cloned().unwrap_or_default();
            match owner.get(table) {
                None => {
                    owner.insert(table.clone(), si);
                    if !mine.is_empty() {
                        out.columns.insert(table.clone(), mine);
                    }
                }
                Some(&first) if out.columns.get(table).cloned().unwrap_or_default() != mine => {
                    return Err(BuildError::bad(
                        &src.spec.mapping,
                        None,
                        None,
                        format!(
                            "tables.{table}.local: source '{}' declares other local columns for {table} than source '{}'; sources that deliver the same table declare them alike",
                            src.spec.name, sources[first].spec.name
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        for (list, codes) in local.codes {
            match out.codes.get(&list) {
                Some(c) if *c != codes => {
                    return Err(BuildError::bad(
                        &src.spec.mapping,
                        None,
                        None,
                        format!(
                            "local_codes.{list}: source '{}' declares other local codes than an earlier source",
                            src.spec.name
                        ),
                    ));
                }
                _ => {
                    out.codes.insert(list, codes);
                }
            }
        }
    }
    Ok(out)
}

/// One file of a delivery after reading.
struct FileRead {
    si: usize,
    di: usize,
    fi: usize,
    input: InputFile,
    /// For a table's export: its position, record and row-level rejects.
    table: Option<(usize, PartTable, Vec<Reject>)>,
    withdrawals: u64,
}

/// Read the listed files of deliveries into their stored parts, on two threads.
fn read_deliveries(
    tasks: &[(u64, usize, usize, usize)],
    sources: &[Source],
    tables: &[&'static Table],
    root: &Path,
    key: &Key,
    as_of: NaiveDate,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<FileRead>, BuildError> {
    let queue = std::sync::Mutex::new(tasks.iter().copied().collect::<std::collections::VecDeque<_>>());
    let failed = std::sync::atomic::AtomicBool::new(false);
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..READERS)
            .map(|_| {
                scope.spawn(|| -> Result<Vec<FileRead>, BuildError> {
                    let mut out = Vec::new();
                    loop {
                        if failed.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        let Some((_, si, di, fi)) = queue.lock().expect("queue lock").pop_front() else { break };
                        let r = read_file(sources, tables, root, key, as_of, (si, di, fi), progress);
                        match r {
                            Ok(r) => out.push(r),
                            Err(e) => {
                                failed.store(true, std::sync::atomic::Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a reader thread does not panic")).collect::<Vec<_>>()
    });
    let mut all = Vec::new();
    for r in results {
        all.extend(r?);
    }
    Ok(all)
}

fn read_file(
    sources: &[Source],
    tables: &[&'static Table],
    root: &Path,
    key: &Key,
    as_of: NaiveDate,
    (si, di, fi): (usize, usize, usize),
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<FileRead, BuildError> {
    let (src, d) = (&sources[si], &sources[si].deliveries[di]);
    let f = &d.files[fi];
    let path = d.dir.join(&f.name);
    let dir = parts::part_dir(root, &src.spec.name, &d.id);
    let shown = parts::display(&src.spec.name, d, &f.name, sources.len());
    let t0 = Instant::now();
    let Some(name) = f.table else {
        let (mut w, n, sha) = parts::read_withdrawals(src, &path, key, as_of)?;
        parts::check_control(&path, f, n, &sha)?;
        parts::write_parquet(&mut w, &dir.join(parts::WITHDRAWN))?;
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let input = InputFile {
            table: String::new(),
            path: f.name.clone(),
            bytes,
            sha256: sha,
            format: "csv (withdrawals)".into(),
        };
        progress(Progress::Read { file: shown, rows: n });
        return Ok(FileRead { si, di, fi, input, table: None, withdrawals: n });
    };
    let ti = tables.iter().position(|t| t.name == name).expect("a mapped table");
    let (batch, mut input) = read::read_table(tables[ti], &src.mapping, &d.dir, key, as_of)?;
    parts::check_control(&path, f, batch.rows_in, &input.sha256)?;
    input.path = f.name.clone();
    let mut frame = batch.frame;
    parts::write_parquet(&mut frame, &dir.join(tables[ti].file_name()))?;
    tracing::info!(file = shown, seconds = t0.elapsed().as_secs_f64(), "read and validated");
    progress(Progress::Read { file: shown, rows: batch.rows_in });
    let pt = PartTable {
        table: name.to_string(),
        rows_in: batch.rows_in,
        masked_values: batch.masked_values,
        row_rejects: batch.rejects.len() as u64,
        source_columns: batch.source_columns,
    };
    Ok(FileRead { si, di, fi, input, table: Some((ti, pt, batch.rejects)), withdrawals: 0 })
}

/// (`__s`, `__d`) -> source, delivery and file name, for a table's lineage.
fn lineage_lookup(table_parts: &[Part], sources: &[Source], table: &Table) -> PolarsResult<DataFrame> {
    let n = table_parts.len();
    let delivery = |p: &Part| &sources[p.s as usize].deliveries[p.d as usize];
    DataFrame::new(
        n,
        vec![
            Column::new("__s".into(), table_parts.iter().map(|p| p.s).collect::<Vec<_>>()),
            Column::new("__d".into(), table_parts.iter().map(|p| p.d).collect::<Vec<_>>()),
            Column::new(
                "source".into(),
                table_parts.iter().map(|p| sources[p.s as usize].spec.name.clone()).collect::<Vec<_>>(),
            ),
            Column::new("delivery".into(), table_parts.iter().map(|p| delivery(p).id.clone()).collect::<Vec<_>>()),
            Column::new(
                "file".into(),
                table_parts
                    .iter()
                    .map(|p| delivery(p).file_for(table.name).map(|f| f.name.clone()).unwrap_or_default())
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

/// Concatenate the tables' lineage files, in schema order, into `lineage.parquet`.
fn write_lineage(root: &Path, n_tables: usize) -> Result<(), BuildError> {
    let path = root.join(format!("{}.parquet", utfall_register::schema::LINEAGE));
    let schema: Schema = utfall_register::schema::LINEAGE_COLUMNS
        .iter()
        .map(|(n, t, _)| Field::new(PlSmallStr::from_static(n), t.clone()))
        .collect();
    let file = File::create(&path).map_err(BuildError::io(&path))?;
    let mut writer = ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::default())
        .with_row_group_size(Some(utfall_register::store::ROW_GROUP_ROWS))
        .batched(&schema)?;
    for ti in 0..n_tables {
        let part = root.join(format!(".lineage-{ti}.parquet"));
        let df = LazyFrame::scan_parquet(PlRefPath::try_from_path(&part)?, ScanArgsParquet::default())?
            .select(schema.iter_names().map(|n| col(n.clone())).collect::<Vec<_>>())
            .collect()?;
        writer.write_batch(&df)?;
        std::fs::remove_file(&part).map_err(BuildError::io(&part))?;
    }
    writer.finish()?;
    Ok(())
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

/// Reader threads: CSV parsing and validation is single-threaded per file.
const READERS: usize = 2;

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
