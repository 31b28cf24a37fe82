//! The register on disk, and how a new one replaces the old atomically.
//!
//! `REGISTER` (the path users name) is a symbolic link to
//! `.REGISTER.builds/<build-id>/`, a complete, immutable build. A new build is
//! written into `.REGISTER.builds/<build-id>.partial/`, synced, renamed to
//! `<build-id>/`, and only then published by renaming a fresh link over
//! `REGISTER` (`rename(2)` is atomic). A build that fails or is killed at any
//! point leaves the link, and so the previous register, untouched; leftovers
//! are removed by the next build.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use polars::prelude::{DataFrame, ParquetCompression, ParquetWriter, PolarsResult, StatisticsOptions};
use serde::{Deserialize, Serialize};

/// Rows per Parquet row group: large enough for good compression, small
/// enough that date and client filters skip most groups.
pub const ROW_GROUP_ROWS: usize = 256 * 1024;

/// Write a register table (entity or derived): zstd, min/max statistics per
/// row group.
pub fn write_parquet(df: &mut DataFrame, file: fs::File) -> PolarsResult<()> {
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::default())
        .with_row_group_size(Some(ROW_GROUP_ROWS))
        .finish(df)?;
    Ok(())
}

/// The current build of a register, opened once: its folder, its manifest,
/// the manifest's SHA-256 (what results record as their provenance) and the
/// export date. Used by every stage that reads a register it did not build.
#[derive(Debug, Clone)]
pub struct CurrentBuild {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub manifest_sha256: String,
    pub as_of: chrono::NaiveDate,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("no register at {0} (run `utfall build` or `utfall demo` first)")]
    NoRegister(PathBuf),
    #[error("{path}: {message}")]
    Manifest { path: PathBuf, message: String },
}

/// An I/O error at `path`, as the store reports it.
fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OpenError {
    let path = path.to_path_buf();
    move |source| OpenError::Io { path, source }
}

/// Read a register's local columns into the schema before a specification
/// that may use them is checked (nothing happens where there is no
/// register: opening it later reports that).
pub fn install_schema(register: &Path) {
    let _ = CurrentBuild::open(register);
}

impl CurrentBuild {
    pub fn open(register: &Path) -> Result<CurrentBuild, OpenError> {
        use sha2::{Digest, Sha256};
        let store = Store::new(register).map_err(io_err(register))?;
        let dir = store.current().ok_or_else(|| OpenError::NoRegister(register.to_path_buf()))?;
        let path = dir.join(Manifest::FILE);
        let bytes = fs::read(&path).map_err(io_err(&path))?;
        let bad = |message: String| OpenError::Manifest { path: path.clone(), message };
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        let as_of =
            chrono::NaiveDate::parse_from_str(&manifest.as_of, "%Y-%m-%d").map_err(|e| bad(format!("as_of: {e}")))?;
        // The build's local columns become its tables' columns for whatever reads it.
        crate::local::install(&manifest.local());
        Ok(CurrentBuild { dir, manifest, manifest_sha256: hex::encode(Sha256::digest(&bytes)), as_of })
    }
}

/// Write a file so that readers see the old content or the new, never half of
/// it: a temporary file in the same folder, synced, then renamed over `path`.
/// The one way utfall writes an output file.
pub fn write_atomically<T, E: From<io::Error>>(
    path: &Path,
    write: impl FnOnce(&mut fs::File) -> Result<T, E>,
) -> Result<T, E> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new().prefix(".utfall-").tempfile_in(dir)?;
    let value = write(temp.as_file_mut())?;
    temp.as_file().sync_all()?;
    // Readable like any file the user writes (a temporary file is private).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o644))?;
    }
    temp.persist(path).map_err(|e| e.error)?;
    Ok(value)
}

/// [`write_atomically`] for bytes in memory.
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomically(path, |f| io::Write::write_all(f, bytes))
}

/// A build published by [`derive`].
#[derive(Debug)]
pub struct Derived {
    pub build_dir: PathBuf,
    pub manifest: Manifest,
}

/// Derive a new build from the current one and publish it atomically: every
/// file of the current build is hard-linked except its manifest and the
/// `replaced` files; `write` writes those into the staging folder and records
/// its run in the manifest (which already carries the new build id); then
/// the manifest is written and the build published. A failure anywhere
/// leaves the current register as it was. The one way a stage adds tables to
/// a register (`utfall indicators`, `utfall model score`).
///
/// `current` is the build the new one derives from, opened by the caller
/// (so what it computed and what is linked come from the same build).
pub fn derive<E: From<OpenError>>(
    register: &Path,
    current: &CurrentBuild,
    replaced: &[String],
    write: impl FnOnce(&Path, &mut Manifest) -> Result<(), E>,
) -> Result<Derived, E> {
    let store = Store::new(register).map_err(io_err(register))?;
    let build_id = Store::new_build_id();
    let staging = store.begin(&build_id).map_err(io_err(register))?;
    staging.link_from(&current.dir, replaced).map_err(io_err(staging.dir()))?;
    let mut manifest = current.manifest.clone();
    manifest.build_id = build_id;
    write(staging.dir(), &mut manifest)?;
    manifest.write(staging.dir()).map_err(io_err(staging.dir()))?;
    let build_dir = staging.publish().map_err(io_err(register))?;
    Ok(Derived { build_dir, manifest })
}

/// How many complete builds are kept (the current one and the one before, for rollback).
pub const KEEP_BUILDS: usize = 2;

#[derive(Debug, Clone)]
pub struct Store {
    link: PathBuf,
    builds: PathBuf,
}

impl Store {
    pub fn new(register: &Path) -> io::Result<Store> {
        let name = register
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "register path has no folder name"))?
            .to_string_lossy()
            .into_owned();
        let parent = match register.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(Store { link: register.to_path_buf(), builds: parent.join(format!(".{name}.builds")) })
    }

    /// A fresh build id: UTC time to the millisecond and the process id.
    pub fn new_build_id() -> String {
        format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"), std::process::id())
    }

    pub fn path(&self) -> &Path {
        &self.link
    }

    /// The folder of the current build, if a register has been published.
    pub fn current(&self) -> Option<PathBuf> {
        let target = fs::read_link(&self.link).ok()?;
        let dir = if target.is_absolute() { target } else { self.link.parent().unwrap_or(Path::new(".")).join(target) };
        dir.is_dir().then_some(dir)
    }

    /// Start a new build: a fresh staging folder. Fails if `REGISTER` exists
    /// and is not a link made by utfall (so a user's folder is never replaced).
    pub fn begin(&self, build_id: &str) -> io::Result<Staging> {
        if let Ok(meta) = fs::symlink_metadata(&self.link)
            && !meta.file_type().is_symlink()
        {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and is not a register made by utfall; choose another --register path",
                    self.link.display()
                ),
            ));
        }
        fs::create_dir_all(&self.builds)?;
        self.remove_leftovers()?;
        // A link made by a publish that was killed before its rename.
        if let (Some(parent), Some(name)) = (self.link.parent(), self.link.file_name()) {
            let prefix = format!(".{}.link-", name.to_string_lossy());
            let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
            for entry in fs::read_dir(parent)?.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        let dir = self.builds.join(format!("{build_id}.partial"));
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
        Ok(Staging { dir, final_dir: self.builds.join(build_id), store: self.clone() })
    }

    /// Remove partial builds of failed or killed runs and old complete builds.
    fn remove_leftovers(&self) -> io::Result<()> {
        let current = self.current().and_then(|c| c.file_name().map(|n| n.to_owned()));
        let mut complete = Vec::new();
        for entry in fs::read_dir(&self.builds)? {
            let entry = entry?;
            let name = entry.file_name();
            let s = name.to_string_lossy();
            if s.ends_with(".partial") {
                let _ = fs::remove_dir_all(entry.path()).or_else(|_| fs::remove_file(entry.path()));
            } else if Some(&name) != current.as_ref() {
                complete.push((entry.metadata()?.modified()?, entry.path()));
            }
        }
        complete.sort();
        // Keep the newest non-current builds up to KEEP_BUILDS - 1.
        let extra = complete.len().saturating_sub(KEEP_BUILDS - 1);
        for (_, path) in complete.into_iter().take(extra) {
            fs::remove_dir_all(path)?;
        }
        Ok(())
    }
}

/// A build being written. Dropping it without `publish` leaves the previous register in place.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    final_dir: PathBuf,
    store: Store,
}

impl Staging {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Hard-link (or, across file systems, copy) every file of the build
    /// folder `from` into this one, except its manifest and the files named
    /// in `skip`: a new build that shares the unchanged tables.
    /// Folders (the stored deliveries) are linked file by file.
    pub fn link_from(&self, from: &Path, skip: &[String]) -> io::Result<()> {
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == Manifest::FILE || skip.contains(&name) {
                continue;
            }
            link_tree(&entry.path(), &self.dir.join(&name))?;
        }
        Ok(())
    }

    /// Make the build durable and visible: sync files, rename the folder to its
    /// final name, then swap the link. Returns the published build folder.
    pub fn publish(self) -> io::Result<PathBuf> {
        sync_tree(&self.dir)?;
        if self.final_dir.exists() {
            fs::remove_dir_all(&self.final_dir)?;
        }
        fs::rename(&self.dir, &self.final_dir)?;
        let builds_name = self.store.builds.file_name().expect("builds folder has a name");
        let build_name = self.final_dir.file_name().expect("build folder has a name");
        // Relative target, so the register folder can be moved as a whole.
        let target = Path::new(builds_name).join(build_name);
        let parent = self.store.link.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let tmp_link = parent.join(format!(
            ".{}.link-{}",
            self.store.link.file_name().unwrap().to_string_lossy(),
            std::process::id()
        ));
        let _ = fs::remove_file(&tmp_link);
        std::os::unix::fs::symlink(&target, &tmp_link)?;
        fs::rename(&tmp_link, &self.store.link)?;
        fs::File::open(parent)?.sync_all()?;
        Ok(self.final_dir)
    }
}

/// Hard-link (or copy) `from` to `to`; a folder is recreated and its files linked.
pub fn link_tree(from: &Path, to: &Path) -> io::Result<()> {
    if fs::symlink_metadata(from)?.is_dir() {
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            link_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        fs::hard_link(from, to).or_else(|_| fs::copy(from, to).map(|_| ()))
    }
}

/// Sync every file and folder under `dir`, then `dir` itself.
fn sync_tree(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() { sync_tree(&path)? } else { fs::File::open(&path)?.sync_all()? }
    }
    fs::File::open(dir)?.sync_all()
}

/// Counts for one table of a build, or of one delivery.
/// `rows_in = accepted + rejected + merged + superseded`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableCounts {
    pub rows_in: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Exact duplicates of an accepted row, merged into it.
    pub merged: u64,
    /// Row versions replaced by a later delivery of the same row, withdrawn,
    /// or in a delivery that a corrected re-delivery of its period replaced.
    #[serde(default)]
    pub superseded: u64,
    /// Of the superseded: the rows a withdrawal removed from the register.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub withdrawn: u64,
    /// Text values in which something written like a personnummer was masked.
    pub masked_values: u64,
    /// False when the mapping supplied no file for the table (it is written empty).
    pub supplied: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl TableCounts {
    pub fn reconciles(&self) -> bool {
        self.rows_in == self.accepted + self.rejected + self.merged + self.superseded
    }

    /// Add another delivery's (or table's) counts to these.
    pub fn add(&mut self, other: &TableCounts) {
        self.rows_in += other.rows_in;
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.merged += other.merged;
        self.superseded += other.superseded;
        self.withdrawn += other.withdrawn;
        self.masked_values += other.masked_values;
        self.supplied |= other.supplied;
    }
}

/// One source system of a build (`--source NAME=DIR`): its mapping and its
/// deliveries in the order they apply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceRecord {
    /// The source's name (lineage and the quarantine use it).
    pub name: String,
    pub mapping: InputFile,
    pub deliveries: Vec<DeliveryRecord>,
}

/// One delivery of a source: a month's files (or, for a source folder
/// without deliveries, its one snapshot), and what became of its rows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeliveryRecord {
    /// The delivery's folder name (`snapshot` for a source without deliveries).
    pub id: String,
    /// The month it covers (`YYYY-MM`), from its control file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// 1, or higher for a corrected re-delivery of the period.
    pub version: u32,
    /// A later version of the same period replaced this delivery: none of
    /// its rows count.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replaced: bool,
    /// SHA-256 of the control file (`delivery.toml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_sha256: Option<String>,
    /// The files read, paths relative to the source folder.
    pub files: Vec<InputFile>,
    /// Rows of its withdrawal list, and of those how many matched a row.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub withdrawals: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub withdrawals_unmatched: u64,
    /// Per table it delivered: `rows_in = accepted + rejected + merged + superseded`.
    pub tables: Vec<(String, TableCounts)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InputFile {
    pub table: String,
    /// Path relative to the input folder.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    pub format: String,
}

/// The manifest written beside the tables of every build (`manifest.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: String,
    pub tool: String,
    pub tool_version: String,
    pub build_id: String,
    /// When the build ran (UTC, RFC 3339). Not part of the register's content.
    pub built_at: String,
    pub build_seconds: f64,
    /// Reference date of the exports (resolves the century of 10-digit personnummer).
    pub as_of: String,
    /// First and last event date in the accepted data.
    pub data_from: Option<String>,
    pub data_to: Option<String>,
    /// Fingerprint of the pseudonymisation key (not the key): registers built
    /// with different keys have different client ids and cannot be joined.
    pub key_id: String,
    /// The (first) source's mapping file.
    pub mapping: InputFile,
    /// Every file read, paths `SOURCE/DELIVERY/FILE` where the build has
    /// sources with deliveries.
    pub inputs: Vec<InputFile>,
    /// The sources and their deliveries, with counts per delivery.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceRecord>,
    /// The build `row_changes` compares this one with (the one it replaced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_build: Option<String>,
    /// What the build noticed and went on with (a month with no delivery, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Per table, in schema order.
    pub tables: Vec<(String, TableCounts)>,
    /// The municipality's own columns, per table, as the mapping declared
    /// them (absent when there are none).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub local_columns: std::collections::BTreeMap<String, Vec<crate::local::LocalColumn>>,
    /// The codes the mapping added to national lists (absent when none).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub local_codes: std::collections::BTreeMap<String, Vec<crate::local::LocalCode>>,
    pub quarantine_rows: u64,
    /// The derived tables' run (`utfall indicators`), absent until one ran on this build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicators: Option<IndicatorRun>,
    /// The latest `utfall model score` on this build's entity tables, absent until one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scoring: Option<ScoringRun>,
}

/// What `utfall model score` wrote into a build.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScoringRun {
    pub model_version: String,
    pub scored_at: String,
    pub rows: u64,
    /// Variables whose population stability index reached the model's drift limit.
    pub drifted: Vec<String>,
}

/// What `utfall indicators` computed into a build, and from which definitions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IndicatorRun {
    /// The build whose entity tables were read (hard-linked into this one).
    pub based_on_build: String,
    pub computed_at: String,
    pub seconds: f64,
    pub catalogue_version: String,
    pub catalogue_sha256: String,
    /// (indicator id, definition version), in catalogue order.
    pub definitions: Vec<(String, i32)>,
    pub targets_sha256: Option<String>,
    /// Disclosure-control threshold: counts below it are suppressed in manager
    /// tables, and in every report made from this build.
    pub threshold: u32,
    /// The threshold came from `--threshold`, not the catalogue.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub threshold_overridden: bool,
    /// Rows per derived table.
    pub tables: Vec<(String, u64)>,
    /// Cells whose value is withheld, because their own counts are small
    /// (primary) or to protect others (complementary).
    pub suppressed_primary: u64,
    pub suppressed_complementary: u64,
    /// Cells whose population `n` is withheld too.
    #[serde(default)]
    pub n_withheld: u64,
    /// The attacker's audit of what was published.
    #[serde(default)]
    pub audit: DisclosureAudit,
}

/// What the attacker's audit of `indicators_public` did (`utfall_disclosure::attack`):
/// every sensitive count's interval was shown at least as wide as the threshold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclosureAudit {
    /// Sensitive (below-threshold) counts whose interval was checked.
    pub sensitive: u64,
    /// Linear programs solved.
    pub programs: u64,
    /// Rounds of audit and repair.
    pub rounds: u32,
    /// Figures withheld by the repair, beyond the equations' rules.
    pub repaired: u64,
}

impl Manifest {
    /// The municipality's additions to the schema this build was made with.
    pub fn local(&self) -> crate::local::LocalSchema {
        crate::local::LocalSchema { columns: self.local_columns.clone(), codes: self.local_codes.clone() }
    }

    pub const FILE: &'static str = "manifest.json";

    pub fn read(register_dir: &Path) -> io::Result<Manifest> {
        let text = fs::read_to_string(register_dir.join(Manifest::FILE))?;
        serde_json::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Write `manifest.json` into a build folder.
    pub fn write(&self, register_dir: &Path) -> io::Result<()> {
        let text = serde_json::to_string_pretty(self).expect("manifest serialises");
        fs::write(register_dir.join(Manifest::FILE), text)
    }

    pub fn counts(&self, table: &str) -> Option<&TableCounts> {
        self.tables.iter().find(|(t, _)| t == table).map(|(_, c)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_swaps_and_failed_build_keeps_previous() {
        let tmp = std::env::temp_dir().join(format!("utfall-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).unwrap();
        let store = Store::new(&tmp.join("register")).unwrap();
        assert!(store.current().is_none());

        let s = store.begin("b1").unwrap();
        fs::write(s.dir().join("a.txt"), "one").unwrap();
        s.publish().unwrap();
        assert_eq!(fs::read_to_string(tmp.join("register/a.txt")).unwrap(), "one");

        // A build that is abandoned half-way leaves the first one readable.
        let s = store.begin("b2").unwrap();
        fs::write(s.dir().join("a.txt"), "half").unwrap();
        drop(s);
        assert_eq!(fs::read_to_string(tmp.join("register/a.txt")).unwrap(), "one");

        let s = store.begin("b3").unwrap();
        fs::write(s.dir().join("a.txt"), "three").unwrap();
        s.publish().unwrap();
        assert_eq!(fs::read_to_string(tmp.join("register/a.txt")).unwrap(), "three");
        let names: Vec<_> =
            fs::read_dir(tmp.join(".register.builds")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(names.iter().all(|n| !n.to_string_lossy().ends_with(".partial")), "{names:?}");

        // A user's own folder is never replaced.
        fs::create_dir_all(tmp.join("mine")).unwrap();
        assert!(Store::new(&tmp.join("mine")).unwrap().begin("x").is_err());
        fs::remove_dir_all(&tmp).unwrap();
    }
}
