//! Which version of each row the register holds, from every stored delivery
//! of every source (docs/exchange-format.md, "Deliveries"):
//!
//! 1. **Within a delivery** a repeated id is an exact copy (merged) or a
//!    conflict: the first line is kept, later ones are rejected
//!    (`duplicate_id`).
//! 2. **Withdrawals.** An id on a delivery's withdrawal list removes that
//!    source's versions of the row from that delivery and earlier ones; a
//!    later delivery may bring it back.
//! 3. **Over time** each source's row is the version of its latest delivery
//!    (by period, not by arrival); earlier versions are superseded.
//! 4. **Across sources** an id delivered by several sources is kept from
//!    the source listed first (`--source` order); another source's row with
//!    the same content is merged, with other content rejected
//!    (`source_conflict`, naming where the kept row came from).
//! 5. **References** are checked against the parents as merged, so a late
//!    parent admits its children and a withdrawn one rejects them.
//!
//! Every row version of a delivery ends as exactly one of accepted,
//! rejected, merged or superseded, counted per delivery.

use std::collections::HashMap;
use std::path::PathBuf;

use polars::prelude::*;
use utfall_register::schema::{self, Table};
use utfall_register::store::TableCounts;

/// One delivery's rows of one table.
pub struct Part<'a> {
    /// Source rank (`--source` order) and delivery order within the source.
    pub s: u32,
    pub d: u32,
    pub path: PathBuf,
    /// How the quarantine names the file.
    pub file: String,
    pub source_columns: &'a [Option<(u32, String)>],
}

pub struct Merged {
    /// Register columns, then `__s`, `__d`, `__line` (for the lineage).
    pub accepted: DataFrame,
    /// Rejected rows in the quarantine's columns, plus `__t`.
    pub rejects: Vec<DataFrame>,
    /// Per (source, delivery): accepted, set-level rejected, merged,
    /// superseded and withdrawn (rows in and row-level rejects are the part's).
    pub counts: HashMap<(u32, u32), TableCounts>,
    /// Per (source, delivery): withdrawal-list ids matching no row of the source.
    pub unmatched_withdrawals: HashMap<(u32, u32), u64>,
}

const LINEAGE: [&str; 3] = ["__s", "__d", "__line"];

/// Merge one table's parts; `withdrawals` holds (`__s`, `__d`, `id`) for this table.
pub fn merge(
    ti: usize,
    table: &'static Table,
    parts: &[Part],
    withdrawals: Option<DataFrame>,
    parents: &HashMap<&'static str, DataFrame>,
    sources: &[String],
) -> PolarsResult<Merged> {
    let key = table.register_key();
    let mut counts: HashMap<(u32, u32), TableCounts> = HashMap::new();
    let mut rejects = Vec::new();
    let mut unmatched_withdrawals = HashMap::new();
    let ctx = Ctx { ti, table, parts };
    if parts.is_empty() {
        let mut schema = table.register_schema();
        schema.with_column("__s".into(), DataType::UInt32);
        schema.with_column("__d".into(), DataType::UInt32);
        schema.with_column("__line".into(), DataType::UInt64);
        let accepted = DataFrame::empty_with_schema(&schema);
        return Ok(Merged { accepted, rejects, counts, unmatched_withdrawals });
    }
    let frames = parts
        .iter()
        .map(|p| {
            Ok(LazyFrame::scan_parquet(PlRefPath::try_from_path(&p.path)?, ScanArgsParquet::default())?.with_columns([
                lit(p.s).cast(DataType::UInt32).alias("__s"),
                lit(p.d).cast(DataType::UInt32).alias("__d"),
            ]))
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    let mut all = concat(frames, UnionArgs::default())?.with_row_index("__row", None).collect()?;

    // 1. Repeated ids within a delivery: only rows whose key repeats are compared whole.
    let in_part = [col("__s"), col("__d"), col(key)];
    let repeated_mask = len().over(in_part.clone())?.gt(lit(1));
    let repeated = all.clone().lazy().filter(repeated_mask.clone()).collect()?;
    if repeated.height() > 0 {
        let mut subset: Vec<PlSmallStr> = table.register_columns().iter().map(|c| c.name.into()).collect();
        subset.extend(["__s".into(), "__d".into()]);
        let distinct =
            repeated.clone().lazy().unique_stable(Some(cols(subset)), UniqueKeepStrategy::First).collect()?;
        let before = count_by_part(&repeated)?;
        let after = count_by_part(&distinct)?;
        for (sd, n) in before {
            counts.entry(sd).or_default().merged += n - after.get(&sd).copied().unwrap_or(0);
        }
        let flagged = distinct
            .lazy()
            .with_columns([
                col("__line").min().over(in_part.clone())?.alias("__first_line"),
                col("__line").eq(col("__line").min().over(in_part.clone())?).alias("__first"),
            ])
            .collect()?;
        let conflicts = flagged.clone().lazy().filter(col("__first").not()).collect()?;
        if conflicts.height() > 0 {
            let msg = conflicts
                .lazy()
                .with_columns([
                    concat_str(
                        [
                            lit("the id '"),
                            col(key),
                            lit("' is already used on line "),
                            col("__first_line").cast(DataType::String),
                            lit(" with other content"),
                        ],
                        "",
                        false,
                    )
                    .alias("__m"),
                    record_expr(table).alias("__r"),
                ])
                .collect()?;
            ctx.reject(&mut rejects, &mut counts, &msg, Some(table.key), "duplicate_id")?;
        }
        let keep = flagged.lazy().filter(col("__first")).select([col("__row")]).collect()?;
        let keep = keep.column("__row")?.as_materialized_series().clone();
        all =
            all.lazy().filter(repeated_mask.not().or(col("__row").is_in(lit(keep).implode(false), false))).collect()?;
    }

    // 2-3. Withdrawals and versions over time, per source.
    let mut state = all.lazy().with_column(lit(false).alias("__withdrawn"));
    if let Some(w) = withdrawals.filter(|w| w.height() > 0) {
        let latest_w = w.clone().lazy().group_by([col("__s"), col("id")]).agg([col("__d").max().alias("__wd")]);
        state = state
            .join(
                latest_w,
                [col("__s"), col(key)],
                [col("__s"), col("id")],
                JoinArgs::new(JoinType::Left).with_coalesce(JoinCoalesce::KeepColumns),
            )
            .with_column(col("__wd").is_not_null().and(col("__wd").gt_eq(col("__d"))).alias("__withdrawn"))
            .drop(Selector::ByName {
                names: Arc::new(["__wd".into(), "id".into(), "__s_right".into()]),
                strict: false,
            });
        let delivered = state.clone().select([col("__s"), col(key).alias("id")]).unique(None, UniqueKeepStrategy::Any);
        let unmatched = w
            .lazy()
            .join(delivered, [col("__s"), col("id")], [col("__s"), col("id")], JoinArgs::new(JoinType::Anti))
            .collect()?;
        unmatched_withdrawals = count_by_part(&unmatched)?;
    }
    let state =
        state.with_column(col("__d").eq(col("__d").max().over([col("__s"), col(key)])?).alias("__latest")).collect()?;
    let gone = col("__latest").not().or(col("__withdrawn"));
    let superseded = state.clone().lazy().filter(gone.clone()).collect()?;
    for (sd, n) in count_by_part(&superseded)? {
        counts.entry(sd).or_default().superseded += n;
    }
    let withdrawn = superseded.lazy().filter(col("__latest").and(col("__withdrawn"))).collect()?;
    for (sd, n) in count_by_part(&withdrawn)? {
        counts.entry(sd).or_default().withdrawn += n;
    }
    let mut kept = state.lazy().filter(gone.not()).drop(cols(["__latest", "__withdrawn"])).collect()?;

    // 4. Across sources: the first-listed source's row is kept.
    if parts.iter().any(|p| p.s != parts[0].s) {
        let multi = len().over([col(key)])?.gt(lit(1));
        let shared = kept.clone().lazy().filter(multi.clone()).collect()?;
        if shared.height() > 0 {
            let by_rank =
                |c: &str| col(c).sort_by([col("__s")], SortMultipleOptions::default()).first().over([col(key)]);
            let files = file_names(parts, sources)?;
            let judged = shared
                .lazy()
                .with_column(record_expr(table).alias("__r"))
                .with_columns([
                    by_rank("__r")?.alias("__wr"),
                    by_rank("__s")?.alias("__ws"),
                    by_rank("__d")?.alias("__wd"),
                    by_rank("__line")?.alias("__wl"),
                ])
                .filter(col("__s").neq(col("__ws")))
                .join(
                    files.lazy(),
                    [col("__ws"), col("__wd")],
                    [col("__fs"), col("__fd")],
                    JoinArgs::new(JoinType::Left),
                )
                .collect()?;
            let same = judged.clone().lazy().filter(col("__r").eq(col("__wr"))).collect()?;
            for (sd, n) in count_by_part(&same)? {
                counts.entry(sd).or_default().merged += n;
            }
            let other = judged
                .clone()
                .lazy()
                .filter(col("__r").neq(col("__wr")))
                .with_column(
                    concat_str(
                        [
                            lit("source '"),
                            col("__source"),
                            lit("', listed first, delivers the id '"),
                            col(key),
                            lit("' with other content ("),
                            col("__file"),
                            lit(", line "),
                            col("__wl").cast(DataType::String),
                            lit("); its row is kept"),
                        ],
                        "",
                        false,
                    )
                    .alias("__m"),
                )
                .collect()?;
            ctx.reject(&mut rejects, &mut counts, &other, Some(table.key), "source_conflict")?;
            let drop = judged.column("__row")?.as_materialized_series().clone();
            kept = kept.lazy().filter(col("__row").is_in(lit(drop).implode(false), false).not()).collect()?;
        }
    }

    // 5. References, against the merged parents.
    for r in table.references {
        let parent_table = schema::table(r.table).expect("references name tables");
        let parent = parents[r.table].clone().lazy();
        let ref_col = Table::register_name(r.column, table.column(r.column).expect("reference column").kind);
        let pk = parent_table.register_key();
        let (left, right): (Vec<Expr>, Vec<Expr>) = if r.same_client && pk != "client_id" {
            (vec![col(ref_col), col("client_id")], vec![col(pk), col("client_id")])
        } else {
            (vec![col(ref_col)], vec![col(pk)])
        };
        let bad = kept
            .clone()
            .lazy()
            .filter(col(ref_col).is_not_null())
            .join(parent.clone(), left, right, JoinArgs::new(JoinType::Anti))
            .collect()?;
        if bad.height() == 0 {
            continue;
        }
        let classified = bad
            .clone()
            .lazy()
            .join(
                parent.select([col(pk).alias("__pk")]),
                [col(ref_col)],
                [col("__pk")],
                JoinArgs::new(JoinType::Left).with_coalesce(JoinCoalesce::KeepColumns),
            )
            .with_column(
                when(col("__pk").is_null())
                    .then(lit("unknown_reference"))
                    .otherwise(lit("client_mismatch"))
                    .alias("__reason"),
            )
            .collect()?;
        for code in ["unknown_reference", "client_mismatch"] {
            let noun = r.table.trim_end_matches('s');
            let (what, tail) = if code == "unknown_reference" {
                (
                    format!("refers to {noun} '"),
                    "', which is not in the register (missing, withdrawn or rejected: see the quarantine)",
                )
            } else {
                (format!("belongs to another client than {noun} '"), "'")
            };
            let rows = classified
                .clone()
                .lazy()
                .filter(col("__reason").eq(lit(code)))
                .with_columns([
                    concat_str([lit(what), col(ref_col), lit(tail)], "", false).alias("__m"),
                    record_expr(table).alias("__r"),
                ])
                .collect()?;
            ctx.reject(&mut rejects, &mut counts, &rows, Some(r.column), code)?;
        }
        let drop = bad.column("__row")?.as_materialized_series().clone();
        kept = kept.lazy().filter(col("__row").is_in(lit(drop).implode(false), false).not()).collect()?;
    }
    for (sd, n) in count_by_part(&kept)? {
        counts.entry(sd).or_default().accepted += n;
    }
    let mut order: Vec<Expr> = table.register_columns().iter().map(|c| col(c.name)).collect();
    order.extend(LINEAGE.map(col));
    let accepted = kept.lazy().select(order).collect()?;
    Ok(Merged { accepted, rejects, counts, unmatched_withdrawals })
}

/// The table being merged, for naming rejected rows' files and columns.
struct Ctx<'a> {
    ti: usize,
    table: &'static Table,
    parts: &'a [Part<'a>],
}

impl Ctx<'_> {
    /// Quarantine `rows` (with `__s`, `__d`, `__line`, message `__m` and
    /// record `__r`) under `reason`, at the export column `column`.
    fn reject(
        &self,
        out: &mut Vec<DataFrame>,
        counts: &mut HashMap<(u32, u32), TableCounts>,
        rows: &DataFrame,
        column: Option<&str>,
        reason: &str,
    ) -> PolarsResult<()> {
        if rows.height() == 0 {
            return Ok(());
        }
        for (sd, n) in count_by_part(rows)? {
            counts.entry(sd).or_default().rejected += n;
        }
        let position = column.and_then(|c| self.table.columns.iter().position(|x| x.name == c));
        for p in self.parts {
            let sub = rows
                .clone()
                .lazy()
                .filter(col("__s").eq(lit(p.s)).and(col("__d").eq(lit(p.d))))
                .sort(["__line"], SortMultipleOptions::default())
                .collect()?;
            let n = sub.height();
            if n == 0 {
                continue;
            }
            let header = position.and_then(|i| p.source_columns.get(i).cloned().flatten());
            let series = |c: &str| sub.column(c).map(|c| c.as_materialized_series().clone());
            let frame = DataFrame::new(
                n,
                vec![
                    Column::new_scalar("__t".into(), Scalar::from(self.ti as u32), n),
                    Column::new_scalar("table".into(), Scalar::from(PlSmallStr::from(self.table.name)), n),
                    Column::new_scalar("source_file".into(), Scalar::from(PlSmallStr::from(p.file.as_str())), n),
                    series("__line")?.with_name("line".into()).into_column(),
                    Column::new_scalar(
                        "column".into(),
                        Scalar::from(PlSmallStr::from(header.as_ref().map(|c| c.1.as_str()).unwrap_or(""))),
                        n,
                    ),
                    Column::new_scalar(
                        "column_number".into(),
                        Scalar::new(
                            DataType::UInt32,
                            header.as_ref().map(|c| AnyValue::UInt32(c.0)).unwrap_or(AnyValue::Null),
                        ),
                        n,
                    ),
                    Column::new_scalar("reason".into(), Scalar::from(PlSmallStr::from(reason)), n),
                    series("__m")?.with_name("message".into()).into_column(),
                    series("__r")?.with_name("record".into()).into_column(),
                ],
            )?;
            out.push(frame.lazy().with_columns([col("line").cast(DataType::UInt64)]).collect()?);
        }
        Ok(())
    }
}

/// Rows per (source, delivery).
fn count_by_part(df: &DataFrame) -> PolarsResult<HashMap<(u32, u32), u64>> {
    let g = df.clone().lazy().group_by([col("__s"), col("__d")]).agg([len().alias("n")]).collect()?;
    let (s, d, n) = (g.column("__s")?.u32()?, g.column("__d")?.u32()?, g.column("n")?.cast(&DataType::UInt64)?);
    let n = n.u64()?;
    Ok((0..g.height()).map(|i| ((s.get(i).unwrap_or(0), d.get(i).unwrap_or(0)), n.get(i).unwrap_or(0))).collect())
}

/// (`__fs`, `__fd`) -> (`__source`, `__file`) for the parts of a table.
fn file_names(parts: &[Part], sources: &[String]) -> PolarsResult<DataFrame> {
    let n = parts.len();
    DataFrame::new(
        n,
        vec![
            Column::new("__fs".into(), parts.iter().map(|p| p.s).collect::<Vec<_>>()),
            Column::new("__fd".into(), parts.iter().map(|p| p.d).collect::<Vec<_>>()),
            Column::new("__source".into(), parts.iter().map(|p| sources[p.s as usize].clone()).collect::<Vec<_>>()),
            Column::new("__file".into(), parts.iter().map(|p| p.file.clone()).collect::<Vec<_>>()),
        ],
    )
}

/// `col=value; ...` over a frame's register columns, for rows rejected after parsing.
fn record_expr(table: &Table) -> Expr {
    let mut parts = Vec::new();
    for (i, c) in table.register_columns().iter().enumerate() {
        let prefix = if i == 0 { format!("{}=", c.name) } else { format!("; {}=", c.name) };
        parts.push(lit(prefix));
        parts.push(col(c.name).cast(DataType::String).fill_null(lit("")));
    }
    concat_str(parts, "", false)
}
