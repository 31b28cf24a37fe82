//! Reading an export (CSV or Excel) into the validator, and describing it for the manifest.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use calamine::{Data, Reader, Xlsx};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use utfall_register::mapping::{Encoding, Mapping, ResolvedFormat};
use utfall_register::schema::Table;
use utfall_register::store::InputFile;

use crate::error::BuildError;
use crate::key::Key;
use crate::validate::{Batch, Validator};

/// Read, validate and describe one table's export.
pub fn read_table(
    table: &'static Table,
    mapping: &Mapping,
    input: &Path,
    key: &Key,
    as_of: NaiveDate,
) -> Result<(Batch, InputFile), BuildError> {
    let tm = &mapping.tables[table.name];
    let path = input.join(&tm.file);
    let format = mapping.resolve(table.name).map_err(|m| BuildError::bad(&path, None, None, m))?;
    let not_found = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            BuildError::missing_file(&path, table.name)
        } else {
            BuildError::Io { path: path.clone(), source: e }
        }
    };
    let lower = tm.file.to_lowercase();
    let (batch, bytes, sha256, format_name) = if lower.ends_with(".xlsx") || lower.ends_with(".xlsm") {
        // A workbook is a zip archive: it needs random access, so it is read whole.
        let bytes = std::fs::read(&path).map_err(not_found)?;
        let (len, sha) = (bytes.len() as u64, hex::encode(Sha256::digest(&bytes)));
        (
            read_xlsx(table, mapping, format, &path, bytes, key, as_of, tm.sheet.as_deref())?,
            len,
            sha,
            "xlsx".to_string(),
        )
    } else {
        // CSV is streamed, and hashed on the way.
        let file = std::fs::File::open(&path).map_err(not_found)?;
        let mut hashing = Hashing { inner: file, hasher: Sha256::new(), bytes: 0 };
        let name = format!("csv ({:?}, '{}')", format.encoding, format.delimiter as char);
        let batch = read_csv(table, mapping, format, &path, &mut hashing, key, as_of)?;
        (batch, hashing.bytes, hex::encode(hashing.hasher.finalize()), name)
    };
    let described =
        InputFile { table: table.name.to_string(), path: tm.file.clone(), bytes, sha256, format: format_name };
    Ok((batch, described))
}

fn header_error(path: &Path, line: u64, e: crate::validate::HeaderError) -> BuildError {
    BuildError::bad(path, Some(line), e.0, e.1)
}

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

fn read_csv(
    table: &'static Table,
    mapping: &Mapping,
    format: ResolvedFormat,
    path: &Path,
    source: impl Read,
    key: &Key,
    as_of: NaiveDate,
) -> Result<Batch, BuildError> {
    let mut body = BufReader::with_capacity(1 << 20, source);
    let io = |e: std::io::Error| BuildError::Io { path: path.to_path_buf(), source: e };
    if body.fill_buf().map_err(io)?.starts_with(b"\xEF\xBB\xBF") {
        body.consume(3);
    }
    let mut rdr =
        csv::ReaderBuilder::new().delimiter(format.delimiter).has_headers(false).flexible(true).from_reader(body);
    let mut rec = csv::ByteRecord::new();
    let csv_err = |e: csv::Error| {
        let line = e.position().map(|p| p.line());
        BuildError::bad(path, line, None, format!("cannot read the CSV: {e}"))
    };
    let empty = || BuildError::bad(path, None, None, "the file is empty: expected a header line naming the columns");
    if !rdr.read_byte_record(&mut rec).map_err(csv_err)? {
        return Err(empty());
    }
    let mut headers = Vec::with_capacity(rec.len());
    for (i, h) in rec.iter().enumerate() {
        let text = match format.encoding {
            Encoding::Utf8 => std::str::from_utf8(h).map(str::to_string).map_err(|_| {
                BuildError::bad(path, Some(1), Some((i + 1, String::from_utf8_lossy(h).into_owned())), "the header is not valid UTF-8; if the file is Windows-1252, set encoding = \"windows-1252\" in the mapping")
            })?,
            Encoding::Windows1252 => encoding_rs::WINDOWS_1252.decode_without_bom_handling(h).0.into_owned(),
        };
        headers.push(text.trim().to_string());
    }
    if headers.iter().all(String::is_empty) {
        return Err(empty());
    }
    if headers.len() <= 1 && table.columns.len() > 1 {
        let other = if format.delimiter == b';' { ',' } else { ';' };
        if headers[0].contains(other) {
            return Err(BuildError::bad(
                path,
                Some(1),
                None,
                format!("the header has one column; is the delimiter '{other}'? Set delimiter in the mapping"),
            ));
        }
    }
    let mut v = Validator::new(table, mapping, format, key, as_of, headers).map_err(|e| header_error(path, 1, e))?;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let line = rec.position().map(|p| p.line()).unwrap_or(0);
                let fields: Vec<&[u8]> = rec.iter().collect();
                v.row(line, &fields);
            }
            Err(e) => return Err(csv_err(e)),
        }
    }
    Ok(v.finish()?)
}

#[allow(clippy::too_many_arguments)]
fn read_xlsx(
    table: &'static Table,
    mapping: &Mapping,
    mut format: ResolvedFormat,
    path: &Path,
    bytes: Vec<u8>,
    key: &Key,
    as_of: NaiveDate,
    sheet: Option<&str>,
) -> Result<Batch, BuildError> {
    let bad = |m: String| BuildError::bad(path, None, None, m);
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes))
        .map_err(|e| bad(format!("not a readable .xlsx file (truncated or damaged?): {e}")))?;
    let name = match sheet {
        Some(s) => s.to_string(),
        None => wb.sheet_names().first().cloned().ok_or_else(|| bad("the workbook has no sheets".into()))?,
    };
    let range = wb.worksheet_range(&name).map_err(|e| bad(format!("cannot read sheet '{name}': {e}")))?;
    let first_row = range.start().map(|(r, _)| u64::from(r) + 1).unwrap_or(1);
    let mut rows = range.rows();
    let Some(header) = rows.next() else {
        return Err(bad(format!("sheet '{name}' is empty: expected a header row naming the columns")));
    };
    let decimal = format.decimal;
    let date_format = format.date_formats.first().cloned().unwrap_or_else(|| "%Y-%m-%d".into());
    let cell = |d: &Data| -> String {
        match d {
            Data::Empty => String::new(),
            Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
            Data::Int(i) => i.to_string(),
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Data::Float(f) => {
                let s = f.to_string();
                if decimal == b',' { s.replace('.', ",") } else { s }
            }
            Data::Bool(b) => b.to_string(),
            Data::DateTime(dt) => {
                dt.as_datetime().map(|t| t.date().format(&date_format).to_string()).unwrap_or_default()
            }
            Data::Error(e) => format!("#{e:?}"),
        }
    };
    let headers: Vec<String> = header.iter().map(|d| cell(d).trim().to_string()).collect();
    // Cells are UTF-8 text once read from the workbook.
    format.encoding = Encoding::Utf8;
    let mut v =
        Validator::new(table, mapping, format, key, as_of, headers).map_err(|e| header_error(path, first_row, e))?;
    for (i, row) in rows.enumerate() {
        let texts: Vec<String> = row.iter().map(cell).collect();
        if texts.iter().all(|t| t.trim().is_empty()) {
            continue;
        }
        let fields: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
        v.row(first_row + 1 + i as u64, &fields);
    }
    Ok(v.finish()?)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use utfall_register::schema::CLIENTS;

    use super::*;

    fn mapping() -> Mapping {
        Mapping::from_toml("[source]\nname = \"t\"\ndelimiter = \";\"\n[tables.clients]\nfile = \"c.csv\"\n").unwrap()
    }

    /// Read `body` as the clients export: never a panic; either a clear
    /// bad-input error or a batch whose counts reconcile.
    fn check(body: &[u8]) -> Result<(), TestCaseError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.csv"), body).unwrap();
        let key = Key::from_bytes(&[7; 32]);
        let as_of = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
        match read_table(&CLIENTS, &mapping(), dir.path(), &key, as_of) {
            Ok((b, input)) => {
                prop_assert_eq!(b.rows_in as usize, b.frame.height() + b.rejects.len());
                prop_assert_eq!(input.bytes as usize, body.len());
                for r in &b.rejects {
                    prop_assert!(r.line >= 2, "data rows start on line 2");
                }
            }
            Err(BuildError::BadInput(e)) => prop_assert!(!e.message.is_empty()),
            Err(e) => prop_assert!(false, "unexpected error kind: {e}"),
        }
        Ok(())
    }

    /// Bytes drawn mostly from what makes CSV hard: delimiters, quotes, line
    /// breaks, invalid UTF-8, digits and dashes.
    fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                Just(b';'),
                Just(b','),
                Just(b'"'),
                Just(b'\n'),
                Just(b'\r'),
                Just(0xF6u8),
                Just(0xC3u8),
                Just(b'-'),
                Just(b' '),
                b'0'..=b'9',
                b'a'..=b'z',
            ],
            0..400,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..600)) {
            check(&body)?;
        }

        #[test]
        fn csv_like_rows_under_a_valid_header_reconcile(rows in csv_bytes(), header_first in any::<bool>()) {
            let mut body = if header_first { b"personnummer;household_id;district\n".to_vec() } else { Vec::new() };
            body.extend(rows);
            check(&body)?;
        }
    }
}
