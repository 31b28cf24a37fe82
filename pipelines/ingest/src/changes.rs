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
///
/// Where both builds have a lineage, a row whose source, delivery and line
/// are the same in both is the same stored version, so unchanged, unless its
/// delivery was read again by this build (`read_now`: a changed mapping or
/// key); only the other rows' contents are compared.
pub fn row_changes(
    old: &Path,
    new: &Path,
    tables: &[&'static Table],
    read_now: &[(String, String)],
) -> PolarsResult<DataFrame> {
    let mut frames = Vec::new();
    // A build's lineage of one table: (__id, source, delivery, line).
    let lineage = |dir: &Path, table: &str| -> PolarsResult<Option<LazyFrame>> {
        let path = dir.join(format!("{LINEAGE}.parquet"));
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(
            LazyFrame::scan_parquet(PlRefPath::try_from_path(&path)?, ScanArgsParquet::default())?
                .filter(col("table").eq(lit(table.to_string())))
                .select([col("id").alias("__id"), col("source"), col("delivery"), col("line")]),
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
        let (mut o, mut n) = (select(scan(&old_file)?), select(scan(&new_file)?));
        // Only the rows whose lineage differs (or whose delivery was read
        // again) can have changed: the others are left out of the comparison.
        if let (Some(ol), Some(nl)) = (lineage(old, table.name)?, lineage(new, table.name)?) {
            let fresh = DataFrame::new(
                read_now.len(),
                vec![
                    Column::new("source".into(), read_now.iter().map(|r| r.0.clone()).collect::<Vec<_>>()),
                    Column::new("delivery".into(), read_now.iter().map(|r| r.1.clone()).collect::<Vec<_>>()),
                ],
            )?
            .lazy()
            .with_column(lit(true).alias("__fresh"));
            let same = nl
                .join(
                    fresh,
                    [col("source"), col("delivery")],
                    [col("source"), col("delivery")],
                    JoinArgs::new(JoinType::Left),
                )
                .filter(col("__fresh").is_null())
                .join(
                    ol,
                    [col("__id"), col("source"), col("delivery"), col("line")],
                    [col("__id"), col("source"), col("delivery"), col("line")],
                    JoinArgs::new(JoinType::Semi),
                )
                .select([col("__id")])
                .collect()?;
            let keep = |lf: LazyFrame| {
                lf.with_column(col(key).cast(DataType::String).alias("__k"))
                    .join(same.clone().lazy(), [col("__k")], [col("__id")], JoinArgs::new(JoinType::Anti))
                    .drop(cols(["__k"]))
            };
            // Ids both builds hold with the same version are neither added nor removed.
            o = keep(o);
            n = keep(n);
        }
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
                Some(l) => rows.join(
                    l.select([col("__id"), col("source")]),
                    [col("__id")],
                    [col("__id")],
                    JoinArgs::new(JoinType::Left),
                ),
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
