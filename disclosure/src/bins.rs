//! A distribution's bins (scores at baseline and follow-up) against the policy.

use crate::Policy;

/// Bin counts at baseline and at follow-up; None where withheld.
#[derive(Debug, Clone, PartialEq)]
pub struct Bins {
    pub baseline: Vec<Option<u64>>,
    pub follow_up: Vec<Option<u64>>,
    /// Clients (pairs) counted; None when fewer than the threshold.
    pub n: Option<u64>,
}

/// Withhold small bins of one distribution so no count below the threshold
/// can be read or recomputed:
/// - primary: a bin with a small count, 0 included ([`Policy::is_small`]);
/// - `rest_of`: when the page also shows a larger population (the
///   municipality beside a unit), a bin whose difference to it is small but
///   not 0;
/// - complementary: a series with exactly one withheld bin also withholds its
///   smallest shown bin, so the withheld one cannot be recomputed from the
///   series' total;
/// - a distribution of fewer clients than the threshold is withheld whole.
pub fn suppress(policy: &Policy, counts: &(Vec<u64>, Vec<u64>), rest_of: Option<&(Vec<u64>, Vec<u64>)>) -> Bins {
    let n: u64 = counts.0.iter().sum();
    let series = |own: &[u64], wider: Option<&Vec<u64>>| -> Vec<Option<u64>> {
        if policy.is_small(n) {
            return vec![None; own.len()];
        }
        let mut out: Vec<Option<u64>> = own
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let rest = wider.map(|w| w[i].saturating_sub(c)).is_some_and(|r| r > 0 && policy.is_small(r));
                (!(policy.is_small(c) || rest)).then_some(c)
            })
            .collect();
        if out.iter().filter(|c| c.is_none()).count() == 1 {
            let smallest = out.iter().enumerate().filter(|(_, c)| c.is_some()).min_by_key(|(_, c)| **c);
            if let Some((i, _)) = smallest {
                out[i] = None;
            }
        }
        out
    };
    Bins {
        baseline: series(&counts.0, rest_of.map(|r| &r.0)),
        follow_up: series(&counts.1, rest_of.map(|r| &r.1)),
        n: (!policy.is_small(n)).then_some(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Source;

    #[test]
    fn small_bins_are_withheld_with_a_complement() {
        let p = Policy::new(5, Source::Default).unwrap();
        let counts = (vec![0, 3, 20, 30, 12], vec![10, 40, 15, 0, 0]);
        let b = suppress(&p, &counts, None);
        // 0 and 3 are withheld; two withheld bins need no complement.
        assert_eq!(b.baseline, [None, None, Some(20), Some(30), Some(12)]);
        assert_eq!(b.follow_up, [Some(10), Some(40), Some(15), None, None]);
        assert_eq!(b.n, Some(65));
        // A lone withheld bin takes the smallest shown bin with it.
        let lone = suppress(&p, &(vec![7, 3, 20, 30, 12], vec![6, 40, 15, 9, 2]), None);
        assert_eq!(lone.baseline, [None, None, Some(20), Some(30), Some(12)]);
        assert_eq!(lone.follow_up, [None, Some(40), Some(15), Some(9), None]);
        // Beside the municipality: a bin whose rest (municipality - unit) is small is withheld too.
        let muni = (vec![0, 3, 22, 60, 12], vec![10, 45, 15, 0, 0]);
        let b = suppress(&p, &counts, Some(&muni));
        assert_eq!(b.baseline, [None, None, None, Some(30), Some(12)]);
        assert_eq!(b.follow_up, [Some(10), Some(40), Some(15), None, None]);
        let tiny = suppress(&p, &(vec![1, 2], vec![3, 0]), None);
        assert_eq!((tiny.baseline, tiny.n), (vec![None, None], None));
    }
}
