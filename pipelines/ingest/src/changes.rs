//! What a build changed in the register: rows added, changed and removed per
//! table, source and month, against the build it replaces (`row_changes`).
//! The revision report (`revisions`, by the indicators) explains changed
//! figures with it.

use std::path::Path;

use polars::prelude::*;
use utfall_register::schema::{self, LINEAGE, Table};

/// The month a table's row belongs to: its first date in the sort order
/// (cases: opened, payments: month, ...); clients have none.
pub fn period_column(table: &Table) -> Option<&'static str> {
    let dates: Vec<&'static str> =
        table.register_columns().iter().filter(|c| c.dtype == DataType::Date).map(|c| c.name).collect();
    table.sort.iter().copied().find(|c| dates.contains(c))
}

/// Compare every entity table of `new` with `old`'s: (table, source, period,
/// change, rows), `change` one of `added`, `changed`, `removed`.
pub fn row_changes(old: &Path, new: &Path, tables: &[&'static Table]) -> PolarsResult<DataFrame> {
    let mut frames = Vec::new();
    let lineage = |dir: &Path, table: &str| -> PolarsResult<Option<LazyFrame>> {
        let path = dir.join(format!("{LINEAGE}.parquet"));
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(
            LazyFrame::scan_parquet(PlRefPath::try_from_path(&path)?, ScanArgsParquet::default())?
                .filter(col("table").eq(lit(table.to_string())))
                .select([col("id").alias("__id"), col("source")]),
        ))
    };
    for (ti, table) in tables.iter().copied().enumerate() {
        let (old_file, new_file) = (old.join(table.file_name()), new.join(table.file_name()));
        if !old_file.exists() || !new_file.exists() {
            continue;
        }
        let key = table.register_key();
        let scan = |p: &Path| LazyFrame::scan_parquet(PlRefPath::try_from_path(p)?, ScanArgsParquet::default());
        let old_cols: Vec<String> = scan(&old_file)?.collect_schema()?.iter_names().map(|n| n.to_string()).collect();
        // Columns both builds have (a mapping may have added local ones).
        let common: Vec<&'static str> =
            table.register_columns().iter().map(|c| c.name).filter(|c| old_cols.iter().any(|o| o == c)).collect();
        let select = |lf: LazyFrame| lf.select(common.iter().map(|c| col(*c)).collect::<Vec<_>>());
        let (o, n) = (select(scan(&old_file)?), select(scan(&new_file)?));
        let period = period_column(table);
        let month = |lf: LazyFrame| match period {
            Some(p) => lf.with_column(col(p).dt().truncate(lit("1mo")).alias("__period")),
            None => lf.with_column(lit(NULL).cast(DataType::Date).alias("__period")),
        };
        let added = n.clone().join(o.clone(), [col(key)], [col(key)], JoinArgs::new(JoinType::Anti));
        let removed = o.clone().join(n.clone(), [col(key)], [col(key)], JoinArgs::new(JoinType::Anti));
        let differs = common
            .iter()
            .filter(|c| **c != key)
            .map(|c| col(*c).eq_missing(col(format!("{c}__old"))).not())
            .reduce(|a, b| a.or(b))
            .unwrap_or(lit(false));
        let changed = n
            .clone()
            .join(o.clone(), [col(key)], [col(key)], JoinArgs::new(JoinType::Inner).with_suffix(Some("__old".into())))
            .filter(differs)
            .select(common.iter().map(|c| col(*c)).collect::<Vec<_>>());
        for (change, rows, dir) in [("added", added, new), ("changed", changed, new), ("removed", removed, old)] {
            let rows = month(rows).with_column(col(key).cast(DataType::String).alias("__id"));
            let rows = match lineage(dir, table.name)? {
                Some(l) => rows.join(l, [col("__id")], [col("__id")], JoinArgs::new(JoinType::Left)),
                None => rows.with_column(lit(NULL).cast(DataType::String).alias("source")),
            };
            let counted = rows
                .group_by([col("source"), col("__period")])
                .agg([len().cast(DataType::UInt64).alias("rows")])
                .select([
                    lit(ti as u32).alias("__t"),
                    lit(table.name).alias("table"),
                    col("source").fill_null(lit("")),
                    col("__period").alias("period"),
                    lit(change).alias("change"),
                    col("rows"),
                ]);
            frames.push(counted);
        }
    }
    let conformed = schema::ROW_CHANGES.columns.iter().map(|c| col(c.name).cast(c.dtype.clone())).collect::<Vec<_>>();
    if frames.is_empty() {
        return Ok(DataFrame::empty_with_schema(&schema::ROW_CHANGES.schema()));
    }
    concat(frames, UnionArgs::default())?
        .sort(["__t", "source", "period", "change"], SortMultipleOptions::default().with_nulls_last(false))
        .select(conformed)
        .collect()
}
