//! Row-level validation of one export: every field is decoded, parsed against
//! its exchange-format column, code-translated and pseudonymised; a row with
//! any fault goes to the quarantine whole, with its line, column and reason.

use std::collections::HashMap;
use std::ops::Range;

use chrono::NaiveDate;
use polars::prelude::*;
use utfall_register::mapping::{Encoding, Mapping, ResolvedFormat};
use utfall_register::pnr::{Pnr, mask_pnr_like};
use utfall_register::schema::{Kind, Pseudonym, Table};

use crate::key::Key;

/// Fields longer than this (in bytes) are rejected; the quarantine keeps a prefix.
pub const MAX_FIELD_BYTES: usize = 10_000;
/// Longest identifier accepted.
const MAX_ID_CHARS: usize = 64;
/// How much of each field the quarantine keeps.
const RECORD_FIELD_CHARS: usize = 200;

/// A rejected row.
#[derive(Debug, Clone)]
pub struct Reject {
    pub line: u64,
    /// Source column (1-based number, header name); None when the whole row is at fault.
    pub column: Option<(u32, String)>,
    pub reason: &'static str,
    pub message: String,
    pub record: String,
}

enum Value {
    Null,
    Str(Range<usize>),
    Date(i32),
    Int(i32),
    Float(f64),
    Bool(bool),
}

enum Builder {
    Str(StringChunkedBuilder),
    Date(Vec<Option<i32>>),
    Int(Vec<Option<i32>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
}

impl Builder {
    fn new(kind: Kind, name: &str, capacity: usize) -> Builder {
        match kind {
            Kind::Personnummer | Kind::Id | Kind::PseudonymisedId(_) | Kind::Code(_) | Kind::Text { .. } => {
                Builder::Str(StringChunkedBuilder::new(name.into(), capacity))
            }
            Kind::Date | Kind::Month => Builder::Date(Vec::with_capacity(capacity)),
            Kind::Int { .. } => Builder::Int(Vec::with_capacity(capacity)),
            Kind::Decimal { .. } => Builder::Float(Vec::with_capacity(capacity)),
            Kind::Bool => Builder::Bool(Vec::with_capacity(capacity)),
        }
    }

    fn push(&mut self, v: &Value, arena: &str) {
        match (self, v) {
            (Builder::Str(b), Value::Str(r)) => b.append_value(&arena[r.clone()]),
            (Builder::Str(b), Value::Null) => b.append_null(),
            (Builder::Date(b), Value::Date(d)) => b.push(Some(*d)),
            (Builder::Int(b), Value::Int(i)) => b.push(Some(*i)),
            (Builder::Float(b), Value::Float(f)) => b.push(Some(*f)),
            (Builder::Bool(b), Value::Bool(x)) => b.push(Some(*x)),
            (Builder::Date(b), Value::Null) => b.push(None),
            (Builder::Int(b), Value::Null) => b.push(None),
            (Builder::Float(b), Value::Null) => b.push(None),
            (Builder::Bool(b), Value::Null) => b.push(None),
            _ => unreachable!("values are parsed for their column's kind"),
        }
    }

    fn finish(self, name: &str) -> Column {
        let name: PlSmallStr = name.into();
        match self {
            Builder::Str(b) => b.finish().with_name(name).into_column(),
            Builder::Date(v) => Int32Chunked::from_iter_options(name, v.into_iter()).into_date().into_column(),
            Builder::Int(v) => Int32Chunked::from_iter_options(name, v.into_iter()).into_column(),
            Builder::Float(v) => Float64Chunked::from_iter_options(name, v.into_iter()).into_column(),
            Builder::Bool(v) => BooleanChunked::from_iter_options(name, v.into_iter()).into_column(),
        }
    }
}

/// The validated content of one export.
pub struct Batch {
    pub table: &'static Table,
    /// Data columns in register order, then `__line`.
    pub frame: DataFrame,
    pub rejects: Vec<Reject>,
    pub rows_in: u64,
    pub masked_values: u64,
    /// For each exchange-format column: its 1-based number and header in the export.
    pub source_columns: Vec<Option<(u32, String)>>,
}

type Fault = (&'static str, String);

pub struct Validator<'a> {
    table: &'static Table,
    mapping: &'a Mapping,
    format: ResolvedFormat,
    key: &'a Key,
    as_of: NaiveDate,
    headers: Vec<String>,
    /// Per exchange-format column: index of the field in the export.
    plan: Vec<Option<usize>>,
    /// The table's date-order rules as column positions (earlier, later).
    order: Vec<(usize, usize)>,
    /// For outcomes: the positions of `type` and `value` (the value's domain
    /// depends on the type).
    domain_columns: Option<(usize, usize)>,
    builders: Vec<Builder>,
    birth_year: Vec<Option<i32>>,
    sex: StringChunkedBuilder,
    lines: Vec<u64>,
    rejects: Vec<Reject>,
    rows_in: u64,
    masked_values: u64,
    arena: String,
    values: Vec<Value>,
    row_birth: Option<(i32, &'static str)>,
    clients: HashMap<u64, (Range<usize>, i32, &'static str)>,
    client_ids: String,
    households: HashMap<String, String>,
    caseworkers: HashMap<String, String>,
}

/// An export header that does not fit the mapping: (1-based column, header, message); None column = whole header.
pub type HeaderError = (Option<(usize, String)>, String);

impl<'a> Validator<'a> {
    /// Match the export's header against the table's columns.
    pub fn new(
        table: &'static Table,
        mapping: &'a Mapping,
        format: ResolvedFormat,
        key: &'a Key,
        as_of: NaiveDate,
        headers: Vec<String>,
    ) -> Result<Validator<'a>, HeaderError> {
        let ignore = mapping.tables.get(table.name).map(|t| t.ignore.clone()).unwrap_or_default();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            if let Some(first) = seen.insert(h.as_str(), i) {
                return Err((
                    Some((i + 1, h.clone())),
                    format!("appears twice in the header (also column {})", first + 1),
                ));
            }
        }
        let mut plan = Vec::new();
        let mut used = vec![false; headers.len()];
        for c in table.columns {
            let source = mapping.source_column(table.name, c.name);
            match headers.iter().position(|h| h == source) {
                Some(i) => {
                    used[i] = true;
                    plan.push(Some(i));
                }
                None if c.required => {
                    let hint = if source == c.name {
                        String::new()
                    } else {
                        format!(" (mapped from exchange-format column '{}')", c.name)
                    };
                    return Err((
                        None,
                        format!("missing required column '{source}'{hint}; the header has: {}", headers.join(", ")),
                    ));
                }
                None => plan.push(None),
            }
        }
        for (i, h) in headers.iter().enumerate() {
            if !used[i] && !ignore.iter().any(|x| x == h) {
                return Err((
                    Some((i + 1, h.clone())),
                    format!(
                        "unknown column: map it under [tables.{}.columns] or list it in ignore in the mapping file",
                        table.name
                    ),
                ));
            }
        }
        let builders = table.columns.iter().map(|c| Builder::new(c.kind, c.name, 1024)).collect();
        let position = |name: &str| table.columns.iter().position(|c| c.name == name).expect("order names a column");
        let order = table.order.iter().map(|(a, b)| (position(a), position(b))).collect();
        let domain_columns = table.value_domain.map(|(t, v)| (position(t), position(v)));
        Ok(Validator {
            table,
            mapping,
            format,
            key,
            as_of,
            headers,
            plan,
            order,
            domain_columns,
            builders,
            birth_year: Vec::new(),
            sex: StringChunkedBuilder::new("sex".into(), 1024),
            lines: Vec::new(),
            rejects: Vec::new(),
            rows_in: 0,
            masked_values: 0,
            arena: String::new(),
            values: Vec::new(),
            row_birth: None,
            clients: HashMap::new(),
            client_ids: String::new(),
            households: HashMap::new(),
            caseworkers: HashMap::new(),
        })
    }

    /// Validate one data row.
    pub fn row(&mut self, line: u64, fields: &[&[u8]]) {
        self.rows_in += 1;
        if fields.len() != self.headers.len() {
            let msg = format!("the row has {} fields, the header {}", fields.len(), self.headers.len());
            self.reject(line, None, "field_count", msg, fields);
            return;
        }
        self.arena.clear();
        self.values.clear();
        self.row_birth = None;
        for ci in 0..self.table.columns.len() {
            let col = &self.table.columns[ci];
            let v = match self.plan[ci] {
                None => Ok(Value::Null),
                Some(fi) => self.parse(col.kind, col.required, fields[fi]),
            };
            match v {
                Ok(v) => self.values.push(v),
                Err((reason, msg)) => {
                    let fi = self.plan[ci].expect("only present columns fail");
                    self.reject(line, Some(fi), reason, msg, fields);
                    return;
                }
            }
        }
        for &(ia, ib) in &self.order {
            if let (Value::Date(x), Value::Date(y)) = (&self.values[ia], &self.values[ib])
                && y < x
            {
                let msg = format!(
                    "'{}' ({}) is before '{}' ({})",
                    self.headers[self.plan[ib].unwrap()],
                    show(*y),
                    self.headers[self.plan[ia].unwrap()],
                    show(*x)
                );
                self.reject(line, self.plan[ib], "date_order", msg, fields);
                return;
            }
        }
        if let Some((it, iv)) = self.domain_columns
            && let (Value::Str(t), Value::Float(v)) = (&self.values[it], &self.values[iv])
            && let Some(domain) = self.mapping.outcome_domain(&self.arena[t.clone()])
            && !domain.contains(*v)
        {
            let msg = format!(
                "value {v} is not {} (the domain of outcome type '{}')",
                domain.describe(),
                &self.arena[t.clone()]
            );
            self.reject(line, self.plan[iv], "value_domain", msg, fields);
            return;
        }
        for (b, v) in self.builders.iter_mut().zip(&self.values) {
            b.push(v, &self.arena);
        }
        if self.table.name == "clients" {
            let (y, s) = self.row_birth.expect("clients rows carry a personnummer");
            self.birth_year.push(Some(y));
            self.sex.append_value(s);
        }
        self.lines.push(line);
    }

    fn text<'f>(&self, raw: &'f [u8]) -> Result<std::borrow::Cow<'f, str>, Fault> {
        match self.format.encoding {
            Encoding::Utf8 => std::str::from_utf8(raw).map(std::borrow::Cow::Borrowed).map_err(|e| {
                (
                    "invalid_utf8",
                    format!("not valid UTF-8 at byte {} of the field; if the file is Windows-1252, set encoding = \"windows-1252\" in the mapping", e.valid_up_to() + 1),
                )
            }),
            Encoding::Windows1252 => Ok(encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0),
        }
    }

    fn store(&mut self, s: &str) -> Value {
        let start = self.arena.len();
        self.arena.push_str(s);
        Value::Str(start..self.arena.len())
    }

    fn parse(&mut self, kind: Kind, required: bool, raw: &[u8]) -> Result<Value, Fault> {
        let mapping: &'a Mapping = self.mapping;
        if raw.len() > MAX_FIELD_BYTES {
            return Err((
                "too_long",
                format!("the field is {} bytes; at most {MAX_FIELD_BYTES} are accepted", raw.len()),
            ));
        }
        let text = self.text(raw)?;
        let s = text.trim();
        if s.is_empty() {
            return if required { Err(("missing_value", "mandatory value is empty".into())) } else { Ok(Value::Null) };
        }
        match kind {
            Kind::Personnummer => {
                let p = Pnr::parse(s, self.as_of).map_err(|e| (e.code(), e.to_string()))?;
                let n = p.as_number();
                let (range, year, sex) = match self.clients.get(&n) {
                    Some(hit) => hit.clone(),
                    None => {
                        let id = self.key.client(&p.canonical());
                        let start = self.client_ids.len();
                        self.client_ids.push_str(&id);
                        let entry = (start..self.client_ids.len(), i32::from(p.year), p.sex());
                        self.clients.insert(n, entry.clone());
                        entry
                    }
                };
                self.row_birth = Some((year, sex));
                let start = self.arena.len();
                self.arena.push_str(&self.client_ids[range]);
                Ok(Value::Str(start..self.arena.len()))
            }
            Kind::Id => {
                if s.chars().count() > MAX_ID_CHARS {
                    return Err(("too_long", format!("an id may have at most {MAX_ID_CHARS} characters")));
                }
                if Pnr::parse(s, self.as_of).is_ok() {
                    return Err((
                        "id_personnummer",
                        "the id is a personnummer; map the column as a personnummer or use another id".into(),
                    ));
                }
                Ok(self.store(s))
            }
            Kind::PseudonymisedId(domain) => {
                if s.chars().count() > MAX_ID_CHARS {
                    return Err(("too_long", format!("an id may have at most {MAX_ID_CHARS} characters")));
                }
                let cache = match domain {
                    Pseudonym::Household => &mut self.households,
                    Pseudonym::Caseworker => &mut self.caseworkers,
                };
                let id = match cache.get(s) {
                    Some(id) => id.clone(),
                    None => {
                        let id = self.key.pseudonymised(domain, s);
                        cache.insert(s.to_string(), id.clone());
                        id
                    }
                };
                Ok(self.store(&id))
            }
            Kind::Date => parse_date(s, &self.format.date_formats).map(Value::Date),
            Kind::Month => parse_month(s).map(Value::Date),
            Kind::Int { min, max } => {
                let v: i64 =
                    s.parse().map_err(|_| ("malformed_number", format!("'{}' is not a whole number", clip(s))))?;
                if v < min || v > max {
                    return Err(("out_of_range", format!("{v} is outside {min}..{max}")));
                }
                Ok(Value::Int(v as i32))
            }
            Kind::Decimal { min, max } => {
                let v = parse_decimal(s, self.format.decimal).ok_or_else(|| {
                    (
                        "malformed_number",
                        format!("'{}' is not a number (decimal separator '{}')", clip(s), self.format.decimal as char),
                    )
                })?;
                if v < min || v > max {
                    return Err(("out_of_range", format!("{v} is outside {min}..{max}")));
                }
                Ok(Value::Float(v))
            }
            Kind::Code(list) => match mapping.code(kind, s) {
                Some(code) => Ok(self.store(code)),
                None => Err((
                    "unknown_code",
                    format!("'{}' is not in the code list '{}' or its mapping", clip(s), list.name),
                )),
            },
            Kind::Text { max_chars } => {
                if s.chars().count() > max_chars {
                    return Err(("too_long", format!("at most {max_chars} characters are accepted")));
                }
                match mask_pnr_like(s) {
                    Some(masked) => {
                        self.masked_values += 1;
                        Ok(self.store(&masked))
                    }
                    None => Ok(self.store(s)),
                }
            }
            Kind::Bool => match s.to_lowercase().as_str() {
                "1" | "true" | "ja" | "j" | "yes" | "y" | "sant" => Ok(Value::Bool(true)),
                "0" | "false" | "nej" | "n" | "no" | "falskt" => Ok(Value::Bool(false)),
                _ => Err(("bad_bool", format!("'{}' is not yes/no (ja/nej, j/n, 1/0, true/false)", clip(s)))),
            },
        }
    }

    fn reject(&mut self, line: u64, field: Option<usize>, reason: &'static str, message: String, fields: &[&[u8]]) {
        let mut record = String::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                record.push_str("; ");
            }
            record.push_str(self.headers.get(i).map(String::as_str).unwrap_or("?"));
            record.push('=');
            record.push_str(&self.record_field(i, f));
        }
        let message = mask_pnr_like(&message).unwrap_or(message);
        self.rejects.push(Reject {
            line,
            column: field.map(|i| ((i + 1) as u32, self.headers[i].clone())),
            reason,
            message,
            record,
        });
    }

    /// A field as the quarantine shows it: decoded, clipped, personnummer pseudonymised or masked.
    fn record_field(&self, i: usize, raw: &[u8]) -> String {
        let text = match self.format.encoding {
            Encoding::Utf8 => String::from_utf8_lossy(raw),
            Encoding::Windows1252 => encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0,
        };
        let is_pnr =
            self.plan.iter().zip(self.table.columns).any(|(p, c)| *p == Some(i) && c.kind == Kind::Personnummer);
        if is_pnr {
            if let Ok(p) = Pnr::parse(&text, self.as_of) {
                return self.key.client(&p.canonical());
            }
            return text.chars().map(|c| if c.is_ascii_digit() { 'x' } else { c }).take(RECORD_FIELD_CHARS).collect();
        }
        let mut clipped: String = text.chars().take(RECORD_FIELD_CHARS).collect();
        if clipped.len() < text.len() {
            clipped.push('…');
        }
        mask_pnr_like(&clipped).unwrap_or(clipped)
    }

    pub fn finish(mut self) -> PolarsResult<Batch> {
        let mut columns: Vec<Column> = Vec::new();
        let mut source_columns = Vec::new();
        for ((c, b), p) in self.table.columns.iter().zip(self.builders).zip(&self.plan) {
            let name = Table::register_name(c.name, c.kind);
            columns.push(b.finish(name));
            source_columns.push(p.map(|i| ((i + 1) as u32, self.headers[i].clone())));
            if self.table.name == "clients" && c.kind == Kind::Personnummer {
                columns.push(
                    Int32Chunked::from_iter_options("birth_year".into(), self.birth_year.iter().copied()).into_column(),
                );
                columns.push(self.sex.finish().with_name("sex".into()).into_column());
                self.sex = StringChunkedBuilder::new("sex".into(), 0);
            }
        }
        columns.push(UInt64Chunked::from_vec("__line".into(), self.lines).into_column());
        let height = columns[0].len();
        Ok(Batch {
            table: self.table,
            frame: DataFrame::new(height, columns)?,
            rejects: self.rejects,
            rows_in: self.rows_in,
            masked_values: self.masked_values,
            source_columns,
        })
    }
}

fn clip(s: &str) -> String {
    let c: String = s.chars().take(50).collect();
    if c.len() < s.len() { format!("{c}…") } else { c }
}

/// Days since 1970-01-01, as Arrow and Parquet store dates.
pub fn epoch_days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

/// The date `days` after 1970-01-01 (the inverse of `epoch_days`).
pub fn date_of(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(i64::from(days))
}

fn show(days: i32) -> String {
    date_of(days).to_string()
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
}

fn ymd(y: u32, m: u32, d: u32) -> Result<i32, Fault> {
    NaiveDate::from_ymd_opt(y as i32, m, d)
        .map(epoch_days)
        .ok_or_else(|| ("impossible_date", format!("{y:04}-{m:02}-{d:02} does not exist")))
}

/// Parse a date with the mapping's formats; ISO and compact forms take a fast path.
pub fn parse_date(s: &str, formats: &[String]) -> Result<i32, Fault> {
    let b = s.as_bytes();
    for f in formats {
        match f.as_str() {
            "%Y-%m-%d" if b.len() == 10 && b[4] == b'-' && b[7] == b'-' => {
                if let (Some(y), Some(m), Some(d)) = (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10])) {
                    return ymd(y, m, d);
                }
            }
            "%Y%m%d" if b.len() == 8 => {
                if let (Some(y), Some(m), Some(d)) = (digits(&b[0..4]), digits(&b[4..6]), digits(&b[6..8])) {
                    return ymd(y, m, d);
                }
            }
            "%Y-%m-%d" | "%Y%m%d" => {}
            other => match NaiveDate::parse_from_str(s, other) {
                Ok(d) => return Ok(epoch_days(d)),
                Err(e)
                    if matches!(
                        e.kind(),
                        chrono::format::ParseErrorKind::OutOfRange | chrono::format::ParseErrorKind::Impossible
                    ) =>
                {
                    return Err(("impossible_date", format!("'{}' does not exist", clip(s))));
                }
                Err(_) => {}
            },
        }
    }
    Err(("malformed_date", format!("'{}' is not a date in the format {}", clip(s), formats.join(" or "))))
}

/// Parse a month (`YYYY-MM`, `YYYYMM` or a date in it) as its first day.
pub fn parse_month(s: &str) -> Result<i32, Fault> {
    let b = s.as_bytes();
    let parts = match b.len() {
        7 if b[4] == b'-' => (digits(&b[0..4]), digits(&b[5..7])),
        6 => (digits(&b[0..4]), digits(&b[4..6])),
        10 if b[4] == b'-' && b[7] == b'-' => {
            parse_date(s, &["%Y-%m-%d".to_string()])?;
            (digits(&b[0..4]), digits(&b[5..7]))
        }
        _ => (None, None),
    };
    match parts {
        (Some(y), Some(m)) => ymd(y, m, 1).map_err(|_| ("impossible_date", format!("'{}' is not a month", clip(s)))),
        _ => Err(("malformed_date", format!("'{}' is not a month (YYYY-MM)", clip(s)))),
    }
}

/// Parse a decimal number with the given separator; spaces as thousands separators are allowed.
pub fn parse_decimal(s: &str, decimal: u8) -> Option<f64> {
    let mut buf = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ' ' | '\u{a0}' | '\u{202f}' => {}
            c if c as u32 == u32::from(decimal) => buf.push('.'),
            '.' | ',' => return None,
            c => buf.push(c),
        }
    }
    let v: f64 = buf.parse().ok()?;
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_classified() {
        let iso = vec!["%Y-%m-%d".to_string()];
        assert_eq!(parse_date("1970-01-02", &iso), Ok(1));
        assert_eq!(parse_date("2023-02-30", &iso).unwrap_err().0, "impossible_date");
        assert_eq!(parse_date("2023/02/03", &iso).unwrap_err().0, "malformed_date");
        assert_eq!(parse_date("7 maj 2023", &iso).unwrap_err().0, "malformed_date");
        let both = vec!["%Y%m%d".to_string(), "%d.%m.%Y".to_string()];
        assert_eq!(parse_date("19700102", &both), Ok(1));
        assert_eq!(parse_date("02.01.1970", &both), Ok(1));
        assert_eq!(parse_date("31.02.1970", &both).unwrap_err().0, "impossible_date");
        assert_eq!(parse_month("1970-02"), Ok(31));
        assert_eq!(parse_month("1970-13").unwrap_err().0, "impossible_date");
        assert_eq!(parse_month("feb").unwrap_err().0, "malformed_date");
    }

    #[test]
    fn decimals_follow_the_separator() {
        assert_eq!(parse_decimal("12 345,50", b','), Some(12345.5));
        assert_eq!(parse_decimal("12.5", b','), None);
        assert_eq!(parse_decimal("12.5", b'.'), Some(12.5));
        assert_eq!(parse_decimal("-3", b'.'), Some(-3.0));
        assert_eq!(parse_decimal("NaN", b'.'), None);
        assert_eq!(parse_decimal("1,5", b'.'), None);
    }
}
