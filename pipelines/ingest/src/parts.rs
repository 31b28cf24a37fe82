//! Stored deliveries: each delivery's rows after reading and row-level
//! validation, kept in the register build (`deliveries/SOURCE/DELIVERY/`)
//! so that the next build adds a new delivery without reading the old ones
//! again.
//!
//! A delivery's folder holds one Parquet file per table it delivered (the
//! register columns and `__line`), `rejects.parquet` (its rows that failed
//! validation, in the quarantine's columns), `withdrawn.parquet` (its
//! withdrawal list, pseudonymised like the rows) and `delivery.json`
//! ([`PartRecord`]). A stored delivery is reused while its fingerprint holds:
//! the same control file, file sizes, mapping, key, export date and tool.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utfall_register::mapping::Encoding;
use utfall_register::pnr::Pnr;
use utfall_register::schema::{self, Table};
use utfall_register::store::InputFile;
use utfall_register::{SCHEMA_VERSION, TOOL_VERSION};

use crate::delivery::{Delivery, DeliveryFile, SNAPSHOT, Source};
use crate::error::BuildError;
use crate::key::Key;
use crate::validate::Reject;

/// The folder of stored deliveries in a build.
pub const DIR: &str = "deliveries";
const RECORD: &str = "delivery.json";
pub const REJECTS: &str = "rejects.parquet";
pub const WITHDRAWN: &str = "withdrawn.parquet";

/// What a stored delivery holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartRecord {
    pub fingerprint: String,
    /// Files read, paths relative to the delivery folder.
    pub files: Vec<InputFile>,
    pub tables: Vec<PartTable>,
    /// Rows of the withdrawal list.
    pub withdrawals: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartTable {
    pub table: String,
    pub rows_in: u64,
    pub masked_values: u64,
    pub row_rejects: u64,
    /// Per exchange-format column: its number and header in the export.
    pub source_columns: Vec<Option<(u32, String)>>,
}

impl PartRecord {
    pub fn table(&self, name: &str) -> Option<&PartTable> {
        self.tables.iter().find(|t| t.table == name)
    }

    pub fn read(dir: &Path) -> Option<PartRecord> {
        serde_json::from_slice(&std::fs::read(dir.join(RECORD)).ok()?).ok()
    }

    pub fn write(&self, dir: &Path) -> Result<(), BuildError> {
        let path = dir.join(RECORD);
        std::fs::write(&path, serde_json::to_vec_pretty(self).expect("a record serialises"))
            .map_err(BuildError::io(&path))
    }
}

pub fn part_dir(root: &Path, source: &str, delivery: &str) -> PathBuf {
    root.join(DIR).join(source).join(delivery)
}

/// What a stored delivery depends on: if any of it changes, it is read again.
pub fn fingerprint(source: &Source, d: &Delivery, key_id: &str, as_of: NaiveDate) -> Option<String> {
    let control = d.control_sha256.as_ref()?;
    let mut h = Sha256::new();
    for part in [TOOL_VERSION, SCHEMA_VERSION, key_id, &as_of.to_string(), &source.mapping_file.sha256, control] {
        h.update(part.as_bytes());
        h.update(b"\n");
    }
    for f in &d.files {
        let len = std::fs::metadata(d.dir.join(&f.name)).map(|m| m.len()).ok()?;
        h.update(format!("{}={len}\n", f.name).as_bytes());
    }
    Some(hex::encode(h.finalize()))
}

/// How the quarantine and the lineage name a delivery's file.
pub fn display(source: &str, d: &Delivery, file: &str, sources: usize) -> String {
    match (d.id.as_str(), sources) {
        (SNAPSHOT, 1) => file.to_string(),
        (SNAPSHOT, _) => format!("{source}/{file}"),
        (id, _) => format!("{source}/{id}/{file}"),
    }
}

/// Check a file against what the control file promised.
pub fn check_control(path: &Path, f: &DeliveryFile, rows: u64, sha256: &str) -> Result<(), BuildError> {
    if let Some(expected) = f.rows
        && expected != rows
    {
        return Err(BuildError::bad(
            path,
            None,
            None,
            format!(
                "the file has {rows} data rows, the control file says {expected}: the delivery is incomplete or damaged; the build is refused and the register left as it was"
            ),
        ));
    }
    if let Some(expected) = &f.sha256
        && !expected.eq_ignore_ascii_case(sha256)
    {
        return Err(BuildError::bad(
            path,
            None,
            None,
            format!(
                "the file's SHA-256 is {sha256}, the control file says {expected}: the delivery is incomplete or damaged"
            ),
        ));
    }
    Ok(())
}

/// Row-level rejects in the quarantine's columns, plus `__t` (table order).
pub fn rejects_frame(all: Vec<(usize, &'static str, String, Vec<Reject>)>) -> PolarsResult<DataFrame> {
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

/// Read a delivery's withdrawal list (columns `table` and `id`, in the
/// source's encoding and delimiter) into (`table`, `id`, `line`), each id
/// as the register holds it (a client's personnummer pseudonymised).
pub fn read_withdrawals(
    source: &Source,
    path: &Path,
    key: &Key,
    as_of: NaiveDate,
) -> Result<(DataFrame, u64, String), BuildError> {
    let bytes = std::fs::read(path).map_err(BuildError::io(path))?;
    let sha = hex::encode(Sha256::digest(&bytes));
    let f = &source.mapping.source.format;
    let text = match f.encoding.unwrap_or_default() {
        Encoding::Utf8 => std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes))
            .map_err(|_| BuildError::bad(path, None, None, "not valid UTF-8"))?
            .to_string(),
        Encoding::Windows1252 => encoding_rs::WINDOWS_1252.decode_without_bom_handling(&bytes).0.into_owned(),
    };
    let delimiter = f.delimiter.unwrap_or(',') as u8;
    let mut rdr = csv::ReaderBuilder::new().delimiter(delimiter).from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| BuildError::bad(path, Some(1), None, format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    let pos = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            BuildError::bad(
                path,
                Some(1),
                None,
                format!("a withdrawal list has the columns 'table' and 'id'; '{name}' is missing"),
            )
        })
    };
    let (ti, ii) = (pos("table")?, pos("id")?);
    let (mut tables, mut ids, mut lines) = (Vec::new(), Vec::new(), Vec::new());
    for rec in rdr.records() {
        let rec = rec.map_err(|e| BuildError::bad(path, e.position().map(|p| p.line()), None, e.to_string()))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let name = rec.get(ti).unwrap_or("").trim();
        let table = schema::TABLES
            .iter()
            .find(|t| t.name == name || source.mapping.tables.get(t.name).is_some_and(|m| m.file == name))
            .ok_or_else(|| {
                BuildError::bad(
                    path,
                    Some(line),
                    Some((ti + 1, "table".into())),
                    format!("'{name}' is neither a table nor an export file of this source"),
                )
            })?;
        let raw = rec.get(ii).unwrap_or("").trim();
        if raw.is_empty() {
            return Err(BuildError::bad(path, Some(line), Some((ii + 1, "id".into())), "the id is empty"));
        }
        let id = if is_pnr_key(table) {
            let p = Pnr::parse(raw, as_of)
                .map_err(|e| BuildError::bad(path, Some(line), Some((ii + 1, "id".into())), e.to_string()))?;
            key.client(&p.canonical())
        } else {
            raw.to_string()
        };
        tables.push(table.name);
        ids.push(id);
        lines.push(line);
    }
    let n = ids.len();
    let df = DataFrame::new(
        n,
        vec![Column::new("table".into(), tables), Column::new("id".into(), ids), Column::new("line".into(), lines)],
    )?;
    Ok((df, n as u64, sha))
}

/// Whether a table's key is the personnummer (pseudonymised in the register).
fn is_pnr_key(table: &Table) -> bool {
    table.column(table.key).is_some_and(|c| c.kind == schema::Kind::Personnummer)
}

pub fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<(), BuildError> {
    let file = std::fs::File::create(path).map_err(BuildError::io(path))?;
    Ok(utfall_register::store::write_parquet(df, file)?)
}
