//! Writes one export file, injecting realistic faults at the dirty rate and
//! logging each with its file and line, so tests can check where it went.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use utfall_register::mapping::Encoding;
use utfall_register::schema::Kind;

use crate::source;

/// A fault injected into an export, and what the register must make of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    BadCheckDigit,
    DateOrder,
    ImpossibleDate,
    MalformedDate,
    UnknownCode,
    MissingValue,
    WrongEncoding,
    /// An exact copy of the previous row: merged, not rejected.
    Duplicate,
    /// The previous row's id with other content: rejected.
    ConflictingDuplicate,
}

impl Fault {
    /// The quarantine reason code this fault must produce (`merged` for exact duplicates).
    pub fn expected_reason(self) -> &'static str {
        match self {
            Fault::BadCheckDigit => "pnr_check_digit",
            Fault::DateOrder => "date_order",
            Fault::ImpossibleDate => "impossible_date",
            Fault::MalformedDate => "malformed_date",
            Fault::UnknownCode => "unknown_code",
            Fault::MissingValue => "missing_value",
            Fault::WrongEncoding => "invalid_utf8",
            Fault::Duplicate => "merged",
            Fault::ConflictingDuplicate => "duplicate_id",
        }
    }
}

pub struct FaultRecord {
    pub file: &'static str,
    pub line: u64,
    pub column: &'static str,
    pub fault: Fault,
}

pub struct Sink {
    pub table: &'static str,
    pub file: &'static str,
    w: csv::Writer<BufWriter<File>>,
    kinds: Vec<(&'static str, Kind, bool)>,
    order: &'static [(&'static str, &'static str)],
    encoding: Encoding,
    date_format: &'static str,
    /// Lines written so far, header included.
    pub lines: u64,
    pub rows: u64,
}

impl Sink {
    pub fn create(dir: &Path, table: &'static str) -> std::io::Result<Sink> {
        let file = source::file_of(table);
        let (encoding, delimiter, _, date_format) = source::format_of(table);
        let mut w = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .from_writer(BufWriter::with_capacity(1 << 20, File::create(dir.join(file))?));
        let header = source::FILES.iter().find(|f| f.0 == table).expect("table").2;
        let names: Vec<Vec<u8>> = header.iter().map(|(_, s)| encode(encoding, s)).collect();
        w.write_record(&names)?;
        let t = utfall_register::schema::table(table).expect("table");
        Ok(Sink {
            table,
            file,
            w,
            kinds: source::kinds(table),
            order: t.order,
            encoding,
            date_format,
            lines: 1,
            rows: 0,
        })
    }

    /// Write a row (export values as text, in column order), possibly with one fault.
    pub fn write(
        &mut self,
        row: &[String],
        rng: &mut ChaCha8Rng,
        dirty_rate: f64,
        faults: &mut Vec<FaultRecord>,
    ) -> std::io::Result<()> {
        debug_assert_eq!(row.len(), self.kinds.len());
        let mut fields: Vec<Vec<u8>> = row.iter().map(|s| encode(self.encoding, s)).collect();
        if dirty_rate > 0.0
            && rng.random_bool(dirty_rate)
            && let Some((fault, col)) = self.pick_fault(row, rng)
        {
            match fault {
                Fault::Duplicate => {
                    self.emit(&fields)?;
                    faults.push(FaultRecord { file: self.file, line: self.lines + 1, column: "", fault });
                    return self.emit(&fields);
                }
                Fault::ConflictingDuplicate => {
                    self.emit(&fields)?;
                    let v: f64 = row[col].replace(',', ".").parse().unwrap_or(0.0);
                    // Other content, still valid: an outcome's value stays in its
                    // domain (yes/no, share), anything else (an amount too) moves by one.
                    let v = match self.table {
                        "outcomes" if v == 0.5 => 0.0,
                        "outcomes" if v <= 1.0 => 1.0 - v,
                        _ => v + 1.0,
                    };
                    fields[col] = encode(self.encoding, &self.decimal(v));
                    faults.push(FaultRecord { file: self.file, line: self.lines + 1, column: "", fault });
                    return self.emit(&fields);
                }
                _ => {
                    self.corrupt(&mut fields, row, fault, col, rng);
                    faults.push(FaultRecord {
                        file: self.file,
                        line: self.lines + 1,
                        column: self.kinds[col].0,
                        fault,
                    });
                }
            }
        }
        self.emit(&fields)
    }

    fn emit(&mut self, fields: &[Vec<u8>]) -> std::io::Result<()> {
        self.w.write_record(fields)?;
        self.lines += 1;
        self.rows += 1;
        Ok(())
    }

    fn decimal(&self, v: f64) -> String {
        let s = format!("{v:.1}");
        if source::format_of(self.table).2 == b',' { s.replace('.', ",") } else { s }
    }

    fn pick_fault(&self, row: &[String], rng: &mut ChaCha8Rng) -> Option<(Fault, usize)> {
        let idx = |pred: &dyn Fn(Kind, bool) -> bool| -> Vec<usize> {
            self.kinds
                .iter()
                .enumerate()
                .filter(|(i, (_, k, req))| pred(*k, *req) && !row[*i].is_empty())
                .map(|(i, _)| i)
                .collect()
        };
        let dates = idx(&|k, _| k == Kind::Date);
        let codes = idx(&|k, _| matches!(k, Kind::Code(_)));
        let required = idx(&|_, req| req);
        let decimals = idx(&|k, req| matches!(k, Kind::Decimal { .. }) && req);
        let non_ascii: Vec<usize> = (0..row.len()).filter(|i| !row[*i].is_ascii()).collect();
        let pnr = idx(&|k, _| k == Kind::Personnummer);
        let ordered: Vec<usize> = self
            .order
            .iter()
            .filter_map(|(a, b)| {
                let ia = self.kinds.iter().position(|k| k.0 == *a)?;
                let ib = self.kinds.iter().position(|k| k.0 == *b)?;
                (!row[ia].is_empty() && !row[ib].is_empty() && row[ia] != row[ib]).then_some(ia)
            })
            .collect();
        let mut options: Vec<(Fault, usize)> = Vec::new();
        let mut add = |f: Fault, cands: &[usize], rng: &mut ChaCha8Rng| {
            if !cands.is_empty() {
                options.push((f, cands[rng.random_range(0..cands.len())]));
            }
        };
        add(Fault::BadCheckDigit, &pnr, rng);
        add(Fault::DateOrder, &ordered, rng);
        add(Fault::ImpossibleDate, &dates, rng);
        add(Fault::MalformedDate, &dates, rng);
        add(Fault::UnknownCode, &codes, rng);
        add(Fault::MissingValue, &required, rng);
        if self.encoding == Encoding::Utf8 {
            add(Fault::WrongEncoding, &non_ascii, rng);
        }
        add(Fault::Duplicate, &[0], rng);
        add(Fault::ConflictingDuplicate, &decimals, rng);
        (!options.is_empty()).then(|| options[rng.random_range(0..options.len())])
    }

    fn corrupt(&self, fields: &mut [Vec<u8>], row: &[String], fault: Fault, col: usize, rng: &mut ChaCha8Rng) {
        let set = |fields: &mut [Vec<u8>], i: usize, s: &str| fields[i] = encode(self.encoding, s);
        match fault {
            Fault::BadCheckDigit => {
                let mut b = row[col].clone().into_bytes();
                let last = b.len() - 1;
                b[last] = b'0' + ((b[last] - b'0' + rng.random_range(1..10)) % 10);
                fields[col] = b;
            }
            Fault::DateOrder => {
                // `col` is the earlier date of an ordered pair whose dates are
                // both present and differ: swap them.
                let name = self.kinds[col].0;
                let ib = self
                    .order
                    .iter()
                    .filter(|(a, _)| *a == name)
                    .filter_map(|(_, b)| self.kinds.iter().position(|k| k.0 == *b))
                    .find(|ib| !row[*ib].is_empty() && row[*ib] != row[col])
                    .expect("pick_fault chose a complete pair");
                fields.swap(col, ib);
            }
            Fault::ImpossibleDate => {
                let year = &row[col][..4];
                let s = if self.date_format == "%Y%m%d" { format!("{year}0230") } else { format!("{year}-02-30") };
                set(fields, col, &s);
            }
            Fault::MalformedDate => {
                let s = ["2023/5/7", "7 maj 2023", "20230a07", "--"][rng.random_range(0..4)];
                set(fields, col, s);
            }
            Fault::UnknownCode => set(fields, col, "Okänd kod"),
            Fault::MissingValue => set(fields, col, ""),
            Fault::WrongEncoding => fields[col] = encoding_rs::WINDOWS_1252.encode(&row[col]).0.into_owned(),
            Fault::Duplicate | Fault::ConflictingDuplicate => unreachable!("handled by write"),
        }
    }

    pub fn finish(self) -> std::io::Result<()> {
        let mut inner = self.w.into_inner().map_err(|e| e.into_error())?;
        inner.flush()
    }
}

fn encode(encoding: Encoding, s: &str) -> Vec<u8> {
    match encoding {
        Encoding::Utf8 => s.as_bytes().to_vec(),
        Encoding::Windows1252 => encoding_rs::WINDOWS_1252.encode(s).0.into_owned(),
    }
}
