//! Small-count suppression of a notebook cell's result: a row any of whose
//! count columns holds a count below the threshold (zero included: "none of
//! the 12" discloses as much as "all of them") shows ".." for its counts and
//! for every other number in it (a mean over three people is about those
//! three). Labels (text, dates, booleans) stay. Charts leave such rows out.
//!
//! Then complementary suppression, under the one disclosure policy
//! (`utfall_disclosure::cells::suppress_rows`): each count column's rows are
//! taken as parts of a total the reader may know from elsewhere (the
//! municipality's figure, published in `indicators_public`), so a withheld
//! row never stands alone and the withheld rows together leave the
//! threshold's room: a reader who subtracts the shown rows from the total
//! cannot pin any withheld one below the threshold. Relations between
//! separate queries are not known to the notebook: figures per unit and
//! split published together belong in `indicators_public`, whose attacker's
//! audit covers them.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use utfall_disclosure::Policy;
use utfall_queries::Answer;

/// Which rows of a result are withheld.
#[derive(Debug, Clone, Default)]
pub struct Suppression {
    /// Whether suppression applies at all (off in the analyst's unsuppressed copy).
    pub active: bool,
    /// One flag per row, in result order.
    pub withheld: Vec<bool>,
    /// Columns blanked in a withheld row (counts and every other number).
    pub hidden_columns: Vec<usize>,
    /// The count columns (marked as counts on the page).
    pub count_columns: Vec<usize>,
}

impl Suppression {
    /// Values shown as "..".
    pub fn values(&self) -> usize {
        self.withheld.iter().filter(|w| **w).count() * self.hidden_columns.len()
    }

    pub fn rows(&self) -> usize {
        self.withheld.iter().filter(|w| **w).count()
    }
}

/// Find the rows to withhold. `counts` names the count columns; `None` means
/// every integer column.
pub fn small_counts(answer: &Answer, counts: Option<&[String]>, policy: &Policy) -> Result<Suppression, String> {
    let fields = answer.schema.fields();
    let count_columns: Vec<usize> = match counts {
        Some(names) => names
            .iter()
            .map(|n| {
                let i = fields.iter().position(|f| f.name() == n).ok_or_else(|| {
                    let have: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
                    format!("counts={n}: no such column (columns: {})", have.join(", "))
                })?;
                if fields[i].data_type().is_numeric() {
                    Ok(i)
                } else {
                    Err(format!("counts={n}: column is {}, not a number", fields[i].data_type()))
                }
            })
            .collect::<Result<_, String>>()?,
        None => (0..fields.len()).filter(|&i| fields[i].data_type().is_integer()).collect(),
    };
    let hidden_columns: Vec<usize> =
        (0..fields.len()).filter(|&i| count_columns.contains(&i) || fields[i].data_type().is_numeric()).collect();
    // Each count column's values, over every batch (a null counts nobody).
    let mut columns: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(answer.rows()); count_columns.len()];
    for batch in &answer.batches {
        for (column, &c) in columns.iter_mut().zip(&count_columns) {
            let values = cast(batch.column(c), &DataType::Float64).map_err(|e| e.to_string())?;
            let values = values.as_primitive::<Float64Type>();
            column.extend((0..batch.num_rows()).map(|r| values.is_valid(r).then(|| values.value(r))));
        }
    }
    let t = f64::from(policy.threshold);
    let mut withheld = vec![false; answer.rows()];
    for column in &columns {
        for (flag, v) in withheld.iter_mut().zip(column) {
            *flag |= v.is_some_and(|v| v < t);
        }
    }
    // Complementary: per count column, as parts of a total published elsewhere;
    // a row withheld for one column is withheld in all, so until nothing moves.
    if withheld.iter().any(|w| *w) {
        loop {
            let before = withheld.clone();
            for column in &columns {
                let counts: Vec<u64> = column.iter().map(|v| v.map_or(0, |v| v.max(0.0).round() as u64)).collect();
                let more = utfall_disclosure::cells::suppress_rows(&counts, &withheld, u64::from(policy.threshold));
                for (flag, m) in withheld.iter_mut().zip(more) {
                    *flag |= m;
                }
            }
            if withheld == before {
                break;
            }
        }
    }
    Ok(Suppression { active: true, withheld, hidden_columns, count_columns })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Float64Array, Int32Array, Int64Array, StringArray};
    use datafusion::arrow::record_batch::RecordBatch;

    use super::*;
    use utfall_disclosure::Source;

    fn at(t: u32) -> Policy {
        Policy::new(t, Source::Override).unwrap()
    }

    fn answer(columns: Vec<(&str, ArrayRef)>) -> Answer {
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        Answer { schema: batch.schema(), batches: vec![batch], elapsed: Default::default() }
    }

    #[test]
    fn rows_with_a_small_count_are_withheld_whole() {
        let a = answer(vec![
            ("unit", Arc::new(StringArray::from(vec!["a", "b", "c", "d"])) as ArrayRef),
            ("clients", Arc::new(Int64Array::from(vec![Some(12), Some(4), Some(0), None])) as ArrayRef),
            ("mean_days", Arc::new(Float64Array::from(vec![3.5, 2.0, 1.0, 9.0])) as ArrayRef),
        ]);
        let s = small_counts(&a, None, &at(5)).unwrap();
        // b and c are small; together 4, so a total known elsewhere would pin
        // both below 5: a (12) is withheld too. d counts nobody.
        assert_eq!(s.withheld, vec![true, true, true, false]);
        assert_eq!(s.hidden_columns, vec![1, 2]);
        assert_eq!(s.values(), 6);
        // Exactly at the threshold is shown: c (0) alone is small; d (0) cannot
        // give it room, b (4) can.
        let s = small_counts(&a, None, &at(4)).unwrap();
        assert_eq!(s.withheld, vec![false, true, true, true]);
    }

    #[test]
    fn a_withheld_row_never_stands_alone() {
        let a = answer(vec![
            ("unit", Arc::new(StringArray::from(vec!["a", "b", "c", "d"])) as ArrayRef),
            ("clients", Arc::new(Int64Array::from(vec![40, 3, 25, 9])) as ArrayRef),
        ]);
        // 3 alone is the total minus the others: the smallest row that gives
        // the threshold's room (9) goes with it.
        let s = small_counts(&a, None, &at(5)).unwrap();
        assert_eq!(s.withheld, vec![false, true, false, true]);
        // No withheld row, nothing more.
        let s = small_counts(&a, None, &at(3)).unwrap();
        assert_eq!(s.withheld, vec![false; 4]);
    }

    #[test]
    fn declared_counts_replace_the_default() {
        let a = answer(vec![
            ("version", Arc::new(Int32Array::from(vec![1, 1])) as ArrayRef),
            ("n", Arc::new(Int64Array::from(vec![30, 3])) as ArrayRef),
        ]);
        // By default the version (1) looks like a small count: everything is withheld.
        assert_eq!(small_counts(&a, None, &at(5)).unwrap().withheld, vec![true, true]);
        let s = small_counts(&a, Some(&["n".to_string()]), &at(5)).unwrap();
        // 3 is small, and 30 goes with it (alone, 3 is the total minus 30).
        assert_eq!(s.withheld, vec![true, true]);
        let s = small_counts(&a, Some(&["n".to_string()]), &at(3)).unwrap();
        assert_eq!(s.withheld, vec![false, false]);
        let e = small_counts(&a, Some(&["m".to_string()]), &at(5)).unwrap_err();
        assert!(e.contains("counts=m: no such column"), "{e}");
    }
}
