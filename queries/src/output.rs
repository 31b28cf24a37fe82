//! Query results out: an aligned table for the terminal, CSV, JSON (an array
//! of objects), Parquet (zstd) and Excel `.xlsx` (numbers as numbers, dates as
//! dates, a frozen bold header).

use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Float64Type, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches_with_schema;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use rust_xlsxwriter::{ExcelDateTime, Format as CellFormat, Workbook};

use crate::{Answer, QueryError};

/// Excel's sheet limit, header row included.
const XLSX_MAX_ROWS: usize = 1_048_576;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    Parquet,
    Xlsx,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "table" => Format::Table,
            "csv" => Format::Csv,
            "json" => Format::Json,
            "parquet" => Format::Parquet,
            "xlsx" => Format::Xlsx,
            other => return Err(format!("unknown format '{other}' (table, csv, json, parquet, xlsx)")),
        })
    }
}

impl Format {
    /// The format a file name implies (`report.xlsx` -> xlsx).
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "parquet" => Some(Format::Parquet),
            "xlsx" => Some(Format::Xlsx),
            "txt" => Some(Format::Table),
            _ => None,
        }
    }

    /// Binary formats are not written to a terminal.
    pub fn is_binary(self) -> bool {
        matches!(self, Format::Parquet | Format::Xlsx)
    }
}

fn fail(e: &dyn std::fmt::Display) -> QueryError {
    QueryError::Output(format!("cannot write the result: {e}"))
}

/// Write an answer in a format.
pub fn write(answer: &Answer, format: Format, out: &mut (dyn Write + Send)) -> Result<(), QueryError> {
    match format {
        Format::Table => {
            let table =
                pretty_format_batches_with_schema(answer.schema.clone(), &answer.batches).map_err(|e| fail(&e))?;
            let rows = answer.rows();
            writeln!(out, "{table}\n({rows} row{})", if rows == 1 { "" } else { "s" }).map_err(|e| fail(&e))
        }
        Format::Xlsx => out.write_all(&xlsx(answer)?).map_err(|e| fail(&e)),
        _ => write_rows(answer.schema.clone(), answer.batches.iter().cloned().map(Ok), format, out).map(|_| ()),
    }
}

/// Write CSV, JSON or Parquet batch by batch as they come (a result is never
/// held whole); returns the rows written.
pub fn write_rows(
    schema: SchemaRef,
    batches: impl Iterator<Item = Result<RecordBatch, QueryError>>,
    format: Format,
    out: &mut (dyn Write + Send),
) -> Result<usize, QueryError> {
    let mut rows = 0;
    match format {
        Format::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(out);
            // The header even for an empty result.
            writer.write(&RecordBatch::new_empty(schema)).map_err(|e| fail(&e))?;
            for batch in batches {
                let batch = batch?;
                rows += batch.num_rows();
                writer.write(&batch).map_err(|e| fail(&e))?;
            }
        }
        Format::Json => {
            let mut writer = datafusion::arrow::json::ArrayWriter::new(&mut *out);
            for batch in batches {
                let batch = batch?;
                rows += batch.num_rows();
                writer.write(&batch).map_err(|e| fail(&e))?;
            }
            // An empty result is `[]` too.
            writer.finish().map_err(|e| fail(&e))?;
            out.write_all(b"\n").map_err(|e| fail(&e))?;
        }
        Format::Parquet => {
            let props = WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default())).build();
            let mut writer = ArrowWriter::try_new(out, schema, Some(props)).map_err(|e| fail(&e))?;
            for batch in batches {
                let batch = batch?;
                rows += batch.num_rows();
                writer.write(&batch).map_err(|e| fail(&e))?;
            }
            writer.close().map_err(|e| fail(&e))?;
        }
        Format::Table | Format::Xlsx => {
            return Err(QueryError::Output(format!("{format:?} is written whole: use output::write")));
        }
    }
    Ok(rows)
}

impl Format {
    /// Whether results in this format are written as they are computed.
    pub fn streams(self) -> bool {
        matches!(self, Format::Csv | Format::Json | Format::Parquet)
    }
}

/// One worksheet: header, then each column typed as Excel types it.
fn xlsx(answer: &Answer) -> Result<Vec<u8>, QueryError> {
    if answer.rows() + 1 > XLSX_MAX_ROWS {
        return Err(QueryError::Output(format!(
            "{} rows do not fit in an Excel sheet ({} at most); use --format csv or parquet, or aggregate",
            answer.rows(),
            XLSX_MAX_ROWS - 1
        )));
    }
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("result").map_err(|e| fail(&e))?;
    let bold = CellFormat::new().set_bold();
    let date = CellFormat::new().set_num_format("yyyy-mm-dd");
    for (c, field) in answer.schema.fields().iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, field.name(), &bold).map_err(|e| fail(&e))?;
    }
    let mut row0 = 1u32;
    for batch in &answer.batches {
        for (c, column) in batch.columns().iter().enumerate() {
            let c = c as u16;
            match column.data_type() {
                t if t.is_numeric() => {
                    let values = cast(column, &DataType::Float64).map_err(|e| fail(&e))?;
                    let values = values.as_primitive::<Float64Type>();
                    for r in 0..values.len() {
                        if values.is_valid(r) && values.value(r).is_finite() {
                            sheet.write_number(row0 + r as u32, c, values.value(r)).map_err(|e| fail(&e))?;
                        }
                    }
                }
                DataType::Date32 => {
                    let values = column.as_primitive::<Date32Type>();
                    for r in 0..values.len() {
                        if let Some(d) = values.is_valid(r).then(|| values.value_as_date(r)).flatten() {
                            use chrono::Datelike;
                            let cell = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
                                .map_err(|e| fail(&e))?;
                            sheet.write_datetime_with_format(row0 + r as u32, c, &cell, &date).map_err(|e| fail(&e))?;
                        }
                    }
                }
                DataType::Boolean => {
                    let values = column.as_boolean();
                    for r in 0..values.len() {
                        if values.is_valid(r) {
                            sheet.write_boolean(row0 + r as u32, c, values.value(r)).map_err(|e| fail(&e))?;
                        }
                    }
                }
                _ => {
                    let text = cast(column, &DataType::Utf8).map_err(|e| fail(&e))?;
                    let text = text.as_string::<i32>();
                    for r in 0..text.len() {
                        if text.is_valid(r) {
                            sheet.write_string(row0 + r as u32, c, text.value(r)).map_err(|e| fail(&e))?;
                        }
                    }
                }
            }
        }
        row0 += batch.num_rows() as u32;
    }
    sheet.set_freeze_panes(1, 0).map_err(|e| fail(&e))?;
    sheet.autofit();
    workbook.save_to_buffer().map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};

    use super::*;

    fn batch(units: Vec<&str>, n: Vec<i64>) -> RecordBatch {
        RecordBatch::try_from_iter([
            ("unit", Arc::new(StringArray::from(units)) as ArrayRef),
            ("n", Arc::new(Int64Array::from(n)) as ArrayRef),
        ])
        .unwrap()
    }

    fn text(format: Format, batches: Vec<RecordBatch>, schema: SchemaRef) -> String {
        let want: usize = batches.iter().map(|b| b.num_rows()).sum();
        let mut out = Vec::new();
        let rows = write_rows(schema, batches.into_iter().map(Ok), format, &mut out).unwrap();
        assert_eq!(rows, want);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rows_stream_in_order_and_empty_results_keep_their_shape() {
        let schema = batch(vec![], vec![]).schema();
        let two = vec![batch(vec!["a"], vec![1]), batch(vec!["b", "c"], vec![2, 3])];
        assert_eq!(text(Format::Csv, two.clone(), schema.clone()), "unit,n\na,1\nb,2\nc,3\n");
        assert_eq!(
            text(Format::Json, two, schema.clone()),
            "[{\"unit\":\"a\",\"n\":1},{\"unit\":\"b\",\"n\":2},{\"unit\":\"c\",\"n\":3}]\n"
        );
        assert_eq!(text(Format::Csv, vec![], schema.clone()), "unit,n\n");
        assert_eq!(text(Format::Json, vec![], schema), "[]\n");
    }
}
