//! The synthetic municipality's exports as real ones arrive: three source
//! systems with their own formats, each delivering monthly.
//!
//! - `arende` (the case system): clients, cases, reports, assessments,
//!   goals, contacts and outcomes; UTF-8, `;`, decimal comma, ISO dates.
//! - `utforare` (the providers' system): interventions; Windows-1252, `,`,
//!   decimal point, dates as `YYYYMMDD`.
//! - `ekonomi` (the payments system): payments; UTF-8, tab-separated,
//!   decimal point.
//!
//! Each source has an initial load (`2023-12`: everything known by the end
//! of 2023) and 24 monthly deliveries (`2024-01` .. `2025-12`), each with its
//! control file. A row is delivered in the month it becomes known and again
//! in every month it changes (a case's investigation, decision and closure;
//! a goal's follow-up; an intervention's start and end), with what is not
//! yet known left empty. On top, as in real exports:
//! - **late rows**: about 2% of row versions arrive one or two months late
//!   (a client late, its case waits in the quarantine until it arrives);
//! - **corrections**: about 0.5% of cases are delivered with a wrong unit
//!   and of payments with a wrong amount, corrected the month after;
//! - **withdrawals**: about 0.3% of contacts are registered twice by mistake
//!   (a second id) and withdrawn the month after (`withdrawn.csv`);
//! - **a re-delivered month**: the payments system's June 2024 went out in
//!   öre instead of kronor and is re-delivered corrected (`2024-06-v2`,
//!   version 2) together with December 2025.
//!
//! Replayed in full, the deliveries give the register the snapshot in
//! `exports/` gives (checked by a test). `sources/arrivals.csv` says when
//! each delivery arrived, so a demo can build as the months went by.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};
use utfall_register::mapping::{Encoding, Format, Mapping, Source};

use crate::source;

/// (source name, system description, tables, encoding, delimiter, decimal, date format)
type SourceDef = (&'static str, &'static str, &'static [&'static str], Encoding, u8, u8, &'static str);

pub const SOURCES: &[SourceDef] = &[
    (
        "arende",
        "Case system (ärendesystem)",
        &["clients", "cases", "reports", "assessments", "goals", "contacts", "outcomes"],
        Encoding::Utf8,
        b';',
        b',',
        "%Y-%m-%d",
    ),
    ("utforare", "Providers' system (utförarsystem)", &["interventions"], Encoding::Windows1252, b',', b'.', "%Y%m%d"),
    ("ekonomi", "Payments system (ekonomisystem)", &["payments"], Encoding::Utf8, b'\t', b'.', "%Y-%m-%d"),
];

/// The initial load's period: everything known by its end.
pub fn initial_period() -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 12, 1).unwrap()
}

/// The last monthly delivery's period.
pub fn last_period() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 1).unwrap()
}

/// The month the payments system re-delivers (and when).
pub const REDELIVERED: (&str, &str) = ("ekonomi", "2024-06");

/// Per table: the dates that make a new version, each with the columns only
/// known from it (the first is the row's own date, always set).
fn stages(table: &str) -> &'static [(&'static str, &'static [&'static str])] {
    match table {
        "cases" => &[("opened", &[]), ("investigation_started", &[]), ("decided", &[]), ("closed", &[])],
        "reports" => &[("received", &[]), ("prelim_decided", &["prelim_outcome"])],
        "assessments" => &[("assessed", &[])],
        "goals" => &[("set_date", &[]), ("followed_up", &["attained_level", "gas_score"])],
        "interventions" => &[("decided", &[]), ("started", &[]), ("ended", &["end_reason"])],
        "payments" => &[("month", &[])],
        "contacts" => &[("date", &[])],
        "outcomes" => &[("observed", &[])],
        _ => &[],
    }
}

/// Months since the initial period (0 = the initial load).
fn slot(d: NaiveDate) -> usize {
    let months = (d.year() - 2023) * 12 + d.month0() as i32 - 11;
    months.clamp(0, LAST_SLOT as i32) as usize
}

const LAST_SLOT: usize = 24;

fn period_of(slot: usize) -> NaiveDate {
    let m = 11 + slot as u32;
    NaiveDate::from_ymd_opt(2023 + (m / 12) as i32, m % 12 + 1, 1).unwrap()
}

fn parse_date(field: &[u8], format: &str) -> Option<NaiveDate> {
    let s = std::str::from_utf8(field).ok()?.trim();
    if s.len() == 7 {
        return NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").ok();
    }
    NaiveDate::parse_from_str(s, format).ok()
}

/// What was written.
#[derive(Debug, Clone)]
pub struct DeliveriesSummary {
    pub dir: PathBuf,
    /// Deliveries written (folders), rows in them, and of those:
    pub deliveries: usize,
    pub rows: u64,
    pub late: u64,
    pub corrected: u64,
    pub withdrawn: u64,
}

/// One delivery being written: its files' writers and row counts.
struct Open {
    writers: BTreeMap<String, (csv::Writer<BufWriter<File>>, u64)>,
}

/// Split the snapshot exports in `exports` into monthly deliveries under `out`.
pub fn split(exports: &Path, out: &Path, seed: u64) -> io::Result<DeliveriesSummary> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_DE11);
    let mut summary =
        DeliveriesSummary { dir: out.to_path_buf(), deliveries: 0, rows: 0, late: 0, corrected: 0, withdrawn: 0 };
    // (source, slot, version) -> open delivery
    let mut open: BTreeMap<(usize, usize, u32), Open> = BTreeMap::new();
    let mut withdrawals: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    // The month each client first appears in (clients are delivered then).
    let mut first_seen: HashMap<Vec<u8>, usize> = HashMap::new();
    let order =
        ["cases", "reports", "assessments", "goals", "interventions", "payments", "contacts", "outcomes", "clients"];
    for table in order {
        let (si, def) = SOURCES.iter().enumerate().find(|(_, s)| s.2.contains(&table)).expect("a source per table");
        let (file, columns) = source::FILES.iter().find(|f| f.0 == table).map(|f| (f.1, f.2)).expect("a table");
        let (_, in_delim, _, in_date) = source::format_of(table);
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(in_delim)
            .has_headers(false)
            .flexible(true)
            .from_reader(io::BufReader::with_capacity(1 << 20, File::open(exports.join(file))?));
        let mut header = csv::ByteRecord::new();
        rdr.read_byte_record(&mut header)?;
        let pos = |name: &str| columns.iter().position(|c| c.0 == name);
        let pnr_pos = pos("personnummer");
        let key_pos = 0;
        let convert_decimal: Vec<usize> = if def.5 != source::format_of(table).2 {
            ["amount_sek", "cost_sek", "score", "value", "weight"].iter().filter_map(|c| pos(c)).collect()
        } else {
            Vec::new()
        };
        let stage_pos: Vec<(Option<usize>, Vec<usize>)> =
            stages(table).iter().map(|(d, deps)| (pos(d), deps.iter().filter_map(|c| pos(c)).collect())).collect();
        let mut rec = csv::ByteRecord::new();
        while rdr.read_byte_record(&mut rec)? {
            let fields: Vec<Vec<u8>> = rec.iter().map(|f| f.to_vec()).collect();
            // The slots in which the row changes: its own date's, then each later stage's.
            let mut versions: Vec<(usize, Vec<usize>)> = Vec::new(); // (slot, stages known)
            let dates: Vec<Option<usize>> = stage_pos
                .iter()
                .map(|(p, _)| p.and_then(|p| fields.get(p)).and_then(|f| parse_date(f, in_date)).map(slot))
                .collect();
            // A date that is there but unreadable (an injected fault) is
            // delivered as it is from the first version.
            let unreadable: Vec<bool> = stage_pos
                .iter()
                .zip(&dates)
                .map(|((p, _), d)| d.is_none() && p.and_then(|p| fields.get(p)).is_some_and(|f| !f.is_empty()))
                .collect();
            if table == "clients" {
                let s = pnr_pos.and_then(|p| fields.get(p)).and_then(|p| first_seen.get(p)).copied().unwrap_or(0);
                versions.push((s, Vec::new()));
            } else {
                let first = dates.first().copied().flatten().unwrap_or(0);
                let mut slots: Vec<usize> = dates.iter().flatten().copied().filter(|s| *s > first).collect();
                slots.push(first);
                slots.sort_unstable();
                slots.dedup();
                for s in slots {
                    let known: Vec<usize> = (0..dates.len())
                        .filter(|i| *i == 0 || unreadable[*i] || dates[*i].is_some_and(|d| d <= s))
                        .collect();
                    versions.push((s, known));
                }
                if let Some(p) = pnr_pos.and_then(|p| fields.get(p)) {
                    let e = first_seen.entry(p.clone()).or_insert(first);
                    *e = (*e).min(first);
                }
            }
            // Late: a version arrives one or two months late, never after the next one.
            for i in 0..versions.len() {
                if rng.random::<f64>() < 0.02 {
                    let late = versions[i].0 + rng.random_range(1..=2usize);
                    let limit = versions.get(i + 1).map(|v| v.0 - 1).unwrap_or(LAST_SLOT);
                    if late <= limit && late > versions[i].0 {
                        versions[i].0 = late;
                        summary.late += 1;
                    }
                }
            }
            for (vi, (s, known)) in versions.iter().enumerate() {
                let mut row = fields.clone();
                for (i, (p, deps)) in stage_pos.iter().enumerate() {
                    if !known.contains(&i) && i > 0 {
                        for c in p.iter().chain(deps) {
                            if let Some(f) = row.get_mut(*c) {
                                f.clear();
                            }
                        }
                    }
                }
                for c in &convert_decimal {
                    if let Some(f) = row.get_mut(*c) {
                        *f = f.iter().map(|b| if *b == b',' { b'.' } else { *b }).collect();
                    }
                }
                let next = versions.get(vi + 1).map(|v| v.0).unwrap_or(LAST_SLOT + 1);
                // A correction: delivered wrong, right the month after.
                let correctable = *s < LAST_SLOT && s + 1 < next && matches!(table, "cases" | "payments");
                if correctable
                    && rng.random::<f64>() < 0.005
                    && let Some(wrong) = wrong_version(table, &row, columns)
                {
                    summary.rows += deliver(&mut open, out, si, *s, table, &wrong, pos("amount_sek"))?;
                    summary.rows += deliver(&mut open, out, si, s + 1, table, &row, pos("amount_sek"))?;
                    summary.corrected += 1;
                    continue;
                }
                summary.rows += deliver(&mut open, out, si, *s, table, &row, pos("amount_sek"))?;
                // A contact registered twice by mistake, withdrawn the month after.
                if table == "contacts" && *s < LAST_SLOT && rng.random::<f64>() < 0.003 {
                    let mut twin = row.clone();
                    twin[key_pos].extend_from_slice(b"-D");
                    let id = String::from_utf8_lossy(&twin[key_pos]).into_owned();
                    write_row(&mut open, out, si, *s, 1, table, &twin)?;
                    withdrawals.entry(s + 1).or_default().push(id);
                    summary.withdrawn += 1;
                    summary.rows += 1;
                }
            }
        }
    }
    // Every delivery of every source exists, even one with no rows of a table.
    for si in 0..SOURCES.len() {
        for s in 0..=LAST_SLOT {
            open.entry((si, s, 1)).or_insert_with(|| Open { writers: BTreeMap::new() });
        }
    }
    let arende = SOURCES.iter().position(|s| s.0 == "arende").expect("the case system");
    for (s, ids) in &withdrawals {
        let dir = delivery_dir(out, arende, *s, 1);
        fs::create_dir_all(&dir)?;
        let mut w = BufWriter::new(File::create(dir.join("withdrawn.csv"))?);
        writeln!(w, "table;id")?;
        for id in ids {
            writeln!(w, "{};{id}", source::file_of("contacts"))?;
        }
        w.flush()?;
    }
    let mut arrivals = String::from("source,delivery,period,version,arrived\n");
    for ((si, s, version), o) in open {
        let dir = delivery_dir(out, si, s, version);
        fs::create_dir_all(&dir)?;
        let period = period_of(s).format("%Y-%m").to_string();
        let mut control = format!("period = \"{period}\"\nversion = {version}\n");
        let mut files: Vec<(String, u64)> = Vec::new();
        for (name, (mut w, rows)) in o.writers {
            w.flush()?;
            files.push((name, rows));
        }
        if version == 1 && SOURCES[si].0 == "arende" && withdrawals.contains_key(&s) {
            files.push(("withdrawn.csv".into(), withdrawals[&s].len() as u64));
        }
        files.sort();
        for (name, rows) in files {
            let sha = hex::encode(Sha256::digest(fs::read(dir.join(&name))?));
            control.push_str(&format!("\n[[file]]\nname = \"{name}\"\nrows = {rows}\nsha256 = \"{sha}\"\n"));
        }
        fs::write(dir.join("delivery.toml"), control)?;
        let arrived = if version > 1 { period_of(LAST_SLOT + 1) } else { period_of(s + 1) } + chrono::Days::new(4);
        arrivals.push_str(&format!(
            "{},{},{period},{version},{arrived}\n",
            SOURCES[si].0,
            dir.file_name().unwrap().to_string_lossy()
        ));
        summary.deliveries += 1;
    }
    for (si, def) in SOURCES.iter().enumerate() {
        let path = out.join(def.0).join("mapping.toml");
        fs::write(path, mapping(si).to_toml())?;
    }
    fs::write(out.join("arrivals.csv"), arrivals)?;
    Ok(summary)
}

/// Deliver a row version in slot `s`: in the re-delivered month twice,
/// in öre in the first version and right in the second. Returns the rows written.
fn deliver(
    open: &mut BTreeMap<(usize, usize, u32), Open>,
    out: &Path,
    si: usize,
    s: usize,
    table: &str,
    row: &[Vec<u8>],
    amount: Option<usize>,
) -> io::Result<u64> {
    let redelivered = SOURCES[si].0 == REDELIVERED.0 && period_of(s).format("%Y-%m").to_string() == REDELIVERED.1;
    if !redelivered {
        write_row(open, out, si, s, 1, table, row)?;
        return Ok(1);
    }
    let mut ore = row.to_vec();
    if let Some(p) = amount {
        ore[p] = times_100(&ore[p]);
    }
    write_row(open, out, si, s, 1, table, &ore)?;
    write_row(open, out, si, s, 2, table, row)?;
    Ok(2)
}

fn delivery_dir(out: &Path, si: usize, s: usize, version: u32) -> PathBuf {
    let period = period_of(s).format("%Y-%m").to_string();
    let name = if version == 1 { period } else { format!("{period}-v{version}") };
    out.join(SOURCES[si].0).join(name)
}

#[allow(clippy::too_many_arguments)]
fn write_row(
    open: &mut BTreeMap<(usize, usize, u32), Open>,
    out: &Path,
    si: usize,
    s: usize,
    version: u32,
    table: &str,
    row: &[Vec<u8>],
) -> io::Result<()> {
    let o = open.entry((si, s, version)).or_insert_with(|| Open { writers: BTreeMap::new() });
    let name = source::file_of(table).to_string();
    if !o.writers.contains_key(&name) {
        let dir = delivery_dir(out, si, s, version);
        fs::create_dir_all(&dir)?;
        let mut w = csv::WriterBuilder::new()
            .delimiter(SOURCES[si].4)
            .from_writer(BufWriter::with_capacity(1 << 16, File::create(dir.join(&name))?));
        let header = source::FILES.iter().find(|f| f.0 == table).expect("a table").2;
        let encoding = SOURCES[si].3;
        let names: Vec<Vec<u8>> = header
            .iter()
            .map(|(_, h)| match encoding {
                Encoding::Utf8 => h.as_bytes().to_vec(),
                Encoding::Windows1252 => encoding_rs::WINDOWS_1252.encode(h).0.into_owned(),
            })
            .collect();
        w.write_record(&names)?;
        o.writers.insert(name.clone(), (w, 0));
    }
    let (w, n) = o.writers.get_mut(&name).expect("opened");
    w.write_record(row)?;
    *n += 1;
    Ok(())
}

/// A wrong but valid version of a row: another unit of the same area for a
/// case, 10% more for a payment.
fn wrong_version(table: &str, row: &[Vec<u8>], columns: &[(&str, &str)]) -> Option<Vec<Vec<u8>>> {
    let pos = |name: &str| columns.iter().position(|c| c.0 == name);
    let mut wrong = row.to_vec();
    match table {
        "cases" => {
            let p = pos("unit")?;
            let unit = std::str::from_utf8(&row[p]).ok()?;
            let (_, _, area) = source::UNITS.iter().find(|u| u.1 == unit)?;
            let other = source::UNITS.iter().find(|u| u.2 == *area && u.1 != unit)?;
            wrong[p] = other.1.as_bytes().to_vec();
        }
        "payments" => {
            let p = pos("amount_sek")?;
            let amount: f64 = std::str::from_utf8(&row[p]).ok()?.parse().ok()?;
            wrong[p] = format!("{:.2}", amount * 1.1).into_bytes();
        }
        _ => return None,
    }
    Some(wrong)
}

fn times_100(field: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(field).ok().and_then(|s| s.parse::<f64>().ok()) {
        Some(v) => format!("{:.0}", v * 100.0).into_bytes(),
        None => field.to_vec(),
    }
}

/// The mapping file of source `si`: the snapshot mapping's tables of that
/// source, in its format.
pub fn mapping(si: usize) -> Mapping {
    let (name, system, tables, encoding, delimiter, decimal, date) = SOURCES[si];
    let mut m = source::mapping();
    m.tables.retain(|t, _| tables.contains(&t.as_str()));
    for tm in m.tables.values_mut() {
        tm.format = Format::default();
    }
    m.source = Source {
        name: format!("{system}: {name}"),
        format: Format {
            encoding: Some(encoding),
            delimiter: Some(delimiter as char),
            decimal: Some(decimal as char),
            date_formats: Some(vec![date.to_string(), "%Y-%m-%d".to_string()]),
        },
    };
    m
}

/// The delivery folders under `dir` (as [`split`] wrote them) that arrived
/// after `date`, from `arrivals.csv`.
pub fn arrived_after(dir: &Path, date: NaiveDate) -> io::Result<Vec<PathBuf>> {
    let text = fs::read_to_string(dir.join("arrivals.csv"))?;
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let arrived = f.get(4).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        if let (Some(arrived), Some(source), Some(delivery)) = (arrived, f.first(), f.get(1))
            && arrived > date
        {
            out.push(dir.join(source).join(delivery));
        }
    }
    Ok(out)
}
