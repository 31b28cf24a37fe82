//! Sources and their deliveries: what a build reads, in the order it applies.
//!
//! A **source** (`--source NAME=DIR`) is one source system's exports with
//! its own mapping file (`DIR/mapping.toml`). Its folder holds either
//! - the export files themselves: one **snapshot**, read whole every build; or
//! - one sub-folder per **delivery** (a month's new, changed and withdrawn
//!   rows), each with a control file `delivery.toml` that the export writes
//!   last:
//!
//! ```toml
//! period = "2024-03"     # the month the delivery covers
//! version = 2            # optional, default 1: a corrected re-delivery of the period
//! [[file]]
//! name = "arenden.csv"   # a file the mapping names, or withdrawn.csv
//! rows = 1234            # its data rows (without the header)
//! sha256 = "..."         # optional
//! ```
//!
//! The rules (docs/exchange-format.md, "Deliveries"):
//! - A delivery without its control file, with a file the control file does
//!   not list, or with a file whose rows or hash differ from it is
//!   **incomplete**: the build is refused and the register left as it was.
//! - Deliveries apply in the order of their period, whatever order they
//!   arrived in. Of several versions of one period only the highest counts:
//!   it replaces the earlier one whole (rows the earlier had and it has not
//!   are withdrawn with it).
//! - A month missing between two deliveries is a warning: nothing is lost,
//!   and the build equals the one made once the month arrives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utfall_register::mapping::Mapping;
use utfall_register::store::InputFile;

use crate::error::BuildError;

/// The control file of a delivery.
pub const CONTROL: &str = "delivery.toml";
/// The withdrawal list a delivery may carry: columns `table` and `id`.
pub const WITHDRAWN: &str = "withdrawn.csv";
/// The delivery id of a source folder without deliveries.
pub const SNAPSHOT: &str = "snapshot";

/// `--source NAME=DIR`.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSpec {
    pub name: String,
    pub dir: PathBuf,
    /// The mapping file (default `DIR/mapping.toml`).
    pub mapping: PathBuf,
}

impl SourceSpec {
    pub fn new(name: &str, dir: &Path, mapping: Option<&Path>) -> Result<SourceSpec, String> {
        let ok = !name.is_empty()
            && name.len() <= 40
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !ok {
            return Err(format!(
                "source name '{name}': use 1-40 lower-case letters, digits, '-' or '_' (it names the source in the lineage)"
            ));
        }
        let mapping = mapping.map(Path::to_path_buf).unwrap_or_else(|| dir.join("mapping.toml"));
        Ok(SourceSpec { name: name.to_string(), dir: dir.to_path_buf(), mapping })
    }

    /// Parse `NAME=DIR`.
    pub fn parse(arg: &str) -> Result<SourceSpec, String> {
        let (name, dir) = arg
            .split_once('=')
            .ok_or_else(|| format!("--source '{arg}': expected NAME=DIR, e.g. case-system=exports/procapita"))?;
        SourceSpec::new(name, Path::new(dir), None)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Control {
    period: String,
    #[serde(default = "one")]
    version: u32,
    #[serde(default, rename = "file")]
    files: Vec<ControlFile>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlFile {
    name: String,
    rows: u64,
    #[serde(default)]
    sha256: Option<String>,
}

/// One file of a delivery: the table it holds (or the withdrawal list) and
/// what its control file promises.
#[derive(Debug, Clone)]
pub struct DeliveryFile {
    /// The table (`None` for the withdrawal list).
    pub table: Option<&'static str>,
    pub name: String,
    /// Data rows and SHA-256 the control file states (none for a snapshot).
    pub rows: Option<u64>,
    pub sha256: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    /// Folder name, or [`SNAPSHOT`].
    pub id: String,
    pub dir: PathBuf,
    /// First day of the month it covers.
    pub period: Option<NaiveDate>,
    pub version: u32,
    pub control_sha256: Option<String>,
    pub files: Vec<DeliveryFile>,
    /// A higher version of the same period exists.
    pub replaced: bool,
}

impl Delivery {
    pub fn period_text(&self) -> Option<String> {
        self.period.map(|p| p.format("%Y-%m").to_string())
    }

    pub fn file_for(&self, table: &str) -> Option<&DeliveryFile> {
        self.files.iter().find(|f| f.table == Some(table))
    }

    pub fn withdrawals(&self) -> Option<&DeliveryFile> {
        self.files.iter().find(|f| f.table.is_none())
    }
}

/// A source with its mapping and its deliveries in the order they apply.
#[derive(Debug)]
pub struct Source {
    pub spec: SourceSpec,
    pub mapping: Mapping,
    pub mapping_file: InputFile,
    pub deliveries: Vec<Delivery>,
    pub warnings: Vec<String>,
}

/// Read a source's mapping and find its deliveries; refuse incomplete ones.
pub fn discover(spec: &SourceSpec) -> Result<Source, BuildError> {
    let text = std::fs::read_to_string(&spec.mapping)
        .map_err(|e| BuildError::bad(&spec.mapping, None, None, format!("cannot read the mapping file: {e}")))?;
    let mapping = Mapping::from_toml(&text).map_err(|e| BuildError::bad(&spec.mapping, None, None, e.to_string()))?;
    let mapping_file = InputFile {
        table: String::new(),
        path: spec.mapping.display().to_string(),
        bytes: text.len() as u64,
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
        format: "toml".into(),
    };
    if !spec.dir.is_dir() {
        return Err(BuildError::bad(&spec.dir, None, None, "the input folder does not exist"));
    }
    let mut subdirs = Vec::new();
    for entry in std::fs::read_dir(&spec.dir).map_err(BuildError::io(&spec.dir))? {
        let entry = entry.map_err(BuildError::io(&spec.dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && entry.path().is_dir() {
            subdirs.push(name);
        }
    }
    subdirs.sort();
    let table_of_file: BTreeMap<String, &'static str> = mapping
        .tables
        .iter()
        .map(|(t, tm)| (tm.file.clone(), utfall_register::schema::table(t).expect("a mapping names known tables").name))
        .collect();
    let mut deliveries = Vec::new();
    if subdirs.is_empty() {
        let mut files = Vec::new();
        for (name, tm) in &mapping.tables {
            let path = spec.dir.join(&tm.file);
            if !path.is_file() {
                return Err(BuildError::missing_file(path, name));
            }
            let table = table_of_file[&tm.file];
            files.push(DeliveryFile { table: Some(table), name: tm.file.clone(), rows: None, sha256: None });
        }
        files.sort_by_key(schema_order);
        deliveries.push(Delivery {
            id: SNAPSHOT.into(),
            dir: spec.dir.clone(),
            period: None,
            version: 1,
            control_sha256: None,
            files,
            replaced: false,
        });
    } else {
        for id in subdirs {
            deliveries.push(read_delivery(&spec.dir.join(&id), &id, &table_of_file)?);
        }
    }
    deliveries.sort_by(|a, b| (a.period, a.version, &a.id).cmp(&(b.period, b.version, &b.id)));
    for w in deliveries.windows(2) {
        if (w[0].period, w[0].version) == (w[1].period, w[1].version) {
            return Err(BuildError::bad(
                w[1].dir.join(CONTROL),
                None,
                None,
                format!(
                    "delivery '{}' has the same period and version as '{}' ({} version {}): give the corrected one a higher version",
                    w[1].id,
                    w[0].id,
                    w[0].period_text().unwrap_or_default(),
                    w[0].version
                ),
            ));
        }
    }
    for i in 0..deliveries.len() {
        deliveries[i].replaced = deliveries.get(i + 1).is_some_and(|next| next.period == deliveries[i].period);
    }
    let mut warnings = Vec::new();
    let mut periods: Vec<NaiveDate> = deliveries.iter().filter_map(|d| d.period).collect();
    periods.dedup();
    for w in periods.windows(2) {
        let mut m = next_month(w[0]);
        while m < w[1] {
            warnings.push(format!(
                "source '{}': no delivery for {} (between {} and {}); its rows are missing until it arrives",
                spec.name,
                m.format("%Y-%m"),
                w[0].format("%Y-%m"),
                w[1].format("%Y-%m")
            ));
            m = next_month(m);
        }
    }
    Ok(Source { spec: spec.clone(), mapping, mapping_file, deliveries, warnings })
}

/// A delivery's files in schema order of their tables (the withdrawal list first).
fn schema_order(f: &DeliveryFile) -> (Option<usize>, String) {
    (f.table.and_then(|t| utfall_register::schema::TABLES.iter().position(|x| x.name == t)), f.name.clone())
}

fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 { (d.year() + 1, 1) } else { (d.year(), d.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).expect("a first of the month")
}

fn read_delivery(dir: &Path, id: &str, table_of_file: &BTreeMap<String, &'static str>) -> Result<Delivery, BuildError> {
    let control_path = dir.join(CONTROL);
    let bytes = match std::fs::read(&control_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BuildError::bad(
                &control_path,
                None,
                None,
                "the delivery is incomplete: it has no control file (the export writes delivery.toml last, listing its files); the build is refused and the register left as it was",
            ));
        }
        Err(e) => return Err(BuildError::Io { path: control_path, source: e }),
    };
    let bad = |m: String| BuildError::bad(&control_path, None, None, m);
    let text = std::str::from_utf8(&bytes).map_err(|_| bad("the control file is not UTF-8".into()))?;
    let control: Control = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    let period = NaiveDate::parse_from_str(&format!("{}-01", control.period.trim()), "%Y-%m-%d")
        .map_err(|_| bad(format!("period '{}': expected a month as YYYY-MM", control.period)))?;
    if control.version == 0 {
        return Err(bad("version: the first delivery of a period is version 1".into()));
    }
    let mut files = Vec::new();
    for f in &control.files {
        let table =
            if f.name == WITHDRAWN {
                None
            } else {
                Some(*table_of_file.get(&f.name).ok_or_else(|| {
                    bad(format!("file '{}' is neither a file the mapping names nor {WITHDRAWN}", f.name))
                })?)
            };
        if files.iter().any(|x: &DeliveryFile| x.name == f.name) {
            return Err(bad(format!("file '{}' is listed twice", f.name)));
        }
        if !dir.join(&f.name).is_file() {
            return Err(BuildError::bad(
                dir.join(&f.name),
                None,
                None,
                "the control file lists this file but it is not there: the delivery is incomplete",
            ));
        }
        files.push(DeliveryFile { table, name: f.name.clone(), rows: Some(f.rows), sha256: f.sha256.clone() });
    }
    for entry in std::fs::read_dir(dir).map_err(BuildError::io(dir))? {
        let name = entry.map_err(BuildError::io(dir))?.file_name().to_string_lossy().into_owned();
        if (table_of_file.contains_key(&name) || name == WITHDRAWN) && !files.iter().any(|f| f.name == name) {
            return Err(BuildError::bad(
                dir.join(&name),
                None,
                None,
                "the control file does not list this export: it was written after the control file, so the delivery is incomplete",
            ));
        }
    }
    files.sort_by_key(schema_order);
    Ok(Delivery {
        id: id.to_string(),
        dir: dir.to_path_buf(),
        period: Some(period),
        version: control.version,
        control_sha256: Some(hex::encode(Sha256::digest(&bytes))),
        files,
        replaced: false,
    })
}
