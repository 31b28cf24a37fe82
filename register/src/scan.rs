//! The register's tables as typed polars frames: the one way every stage
//! (indicators, the risk model, the contract studies) reads a build.
//!
//! A scan selects the table's columns in schema order, each cast to the
//! schema's type, so a stage never depends on how a Parquet writer happened
//! to type a column; a derived table is conformed the same way before it is
//! written.

use std::path::Path;

use polars::prelude::*;

use crate::schema::{DerivedTable, Table};

/// A lazy scan of an entity table of the build in `dir`, typed by the schema.
pub fn scan(dir: &Path, table: &Table) -> PolarsResult<LazyFrame> {
    let path = dir.join(table.file_name());
    let columns: Vec<Expr> =
        table.register_columns().iter().map(|c| col(c.name).strict_cast(c.dtype.clone())).collect();
    Ok(LazyFrame::scan_parquet(PlRefPath::try_from_path(&path)?, ScanArgsParquet::default())?.select(columns))
}

/// A lazy scan of a derived table of the build in `dir`, typed by the schema.
pub fn scan_derived(dir: &Path, table: &DerivedTable) -> PolarsResult<LazyFrame> {
    let path = dir.join(table.file_name());
    Ok(LazyFrame::scan_parquet(PlRefPath::try_from_path(&path)?, ScanArgsParquet::default())?.select(typed(table)))
}

/// A derived table's columns in order, with their types (before it is written).
pub fn conform(df: DataFrame, table: &DerivedTable) -> PolarsResult<DataFrame> {
    df.lazy().select(typed(table)).collect()
}

/// Write a hand-made entity table into `dir` with the register's schema:
/// the frame's columns cast to their types, the ones it lacks null (tests
/// of the stages above build small registers with it).
pub fn write_entity(dir: &Path, table: &Table, df: DataFrame) -> PolarsResult<()> {
    let columns: Vec<Expr> = table
        .register_columns()
        .iter()
        .map(|c| {
            if df.column(c.name).is_ok() {
                col(c.name).cast(c.dtype.clone())
            } else {
                lit(NULL).cast(c.dtype.clone()).alias(c.name)
            }
        })
        .collect();
    let mut out = df.lazy().select(columns).collect()?;
    let file = std::fs::File::create(dir.join(table.file_name()))?;
    ParquetWriter::new(file).finish(&mut out)?;
    Ok(())
}

fn typed(table: &DerivedTable) -> Vec<Expr> {
    table.columns.iter().map(|c| col(c.name).cast(c.dtype.clone())).collect()
}

/// `e` is one of `values`.
pub fn one_of(e: Expr, values: &[String]) -> Expr {
    e.is_in(lit(Series::new("values".into(), values)).implode(false), false)
}
