//! Small-count suppression of a notebook cell's result: a row any of whose
//! count columns holds a count below the threshold (zero included: "none of
//! the 12" discloses as much as "all of them") shows ".." for its counts and
//! for every other number in it (a mean over three people is about those
//! three). Labels (text, dates, booleans) stay. Charts leave such rows out.
//!
//! This is primary suppression row by row, under the one disclosure policy
//! (`utfall_disclosure`). Protection against recovering a hidden cell by
//! subtraction from a total is the job of the indicator pipeline's
//! disclosure control: reports for distribution read the `indicators_public`
//! table, which has both.

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
    let mut withheld = Vec::with_capacity(answer.rows());
    for batch in &answer.batches {
        let mut flags = vec![false; batch.num_rows()];
        for &c in &count_columns {
            let values = cast(batch.column(c), &DataType::Float64).map_err(|e| e.to_string())?;
            let values = values.as_primitive::<Float64Type>();
            for (r, flag) in flags.iter_mut().enumerate() {
                if values.is_valid(r) && values.value(r) < f64::from(policy.threshold) {
                    *flag = true;
                }
            }
        }
        withheld.extend(flags);
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
        assert_eq!(s.withheld, vec![false, true, true, false]);
        assert_eq!(s.hidden_columns, vec![1, 2]);
        assert_eq!(s.values(), 4);
        // Exactly at the threshold is shown.
        let s = small_counts(&a, None, &at(4)).unwrap();
        assert_eq!(s.withheld, vec![false, false, true, false]);
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
        assert_eq!(s.withheld, vec![false, true]);
        let e = small_counts(&a, Some(&["m".to_string()]), &at(5)).unwrap_err();
        assert!(e.contains("counts=m: no such column"), "{e}");
    }
}
