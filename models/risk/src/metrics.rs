//! Evaluation statistics: discrimination (AUC with a household-clustered
//! interval), accuracy (Brier), calibration (slope, intercept, curve, ECE),
//! error rates at thresholds, by group; and the population stability index.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utfall_indicators::stats::{wilson, z};

/// The confidence level of every interval here.
pub const CONFIDENCE: f64 = 0.95;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

/// Area under the ROC curve with Obuchowski's (1997) nonparametric variance
/// for clustered data (clusters = households): rows of one household are not
/// independent. With one row per cluster it is DeLong's variance. The 95%
/// interval is Wald's, clipped to [0, 1]. None without both classes.
pub fn auc(y: &[bool], p: &[f64], cluster: &[u64]) -> Option<Estimate> {
    let m = y.iter().filter(|v| **v).count();
    let n = y.len() - m;
    if m == 0 || n == 0 {
        return None;
    }
    // Placement values: for a positive, the share of negatives below it (ties
    // half); for a negative, the share of positives above it.
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut v = vec![0.0; y.len()];
    let (mut neg_below, mut pos_below) = (0usize, 0usize);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && p[order[j]] == p[order[i]] {
            j += 1;
        }
        let tie = &order[i..j];
        let a = tie.iter().filter(|&&k| y[k]).count();
        let b = tie.len() - a;
        for &k in tie {
            v[k] = if y[k] {
                (neg_below as f64 + 0.5 * b as f64) / n as f64
            } else {
                ((m - pos_below - a) as f64 + 0.5 * a as f64) / m as f64
            };
        }
        neg_below += b;
        pos_below += a;
        i = j;
    }
    let theta = y.iter().zip(&v).filter(|(y, _)| **y).map(|(_, v)| v).sum::<f64>() / m as f64;
    // Per cluster: sums of placements and counts of positives / negatives
    // (a BTreeMap: summed in a fixed order, the same interval every run).
    let mut per: BTreeMap<u64, (f64, f64, f64, f64)> = BTreeMap::new();
    for k in 0..y.len() {
        let e = per.entry(cluster[k]).or_default();
        if y[k] {
            e.0 += v[k];
            e.2 += 1.0;
        } else {
            e.1 += v[k];
            e.3 += 1.0;
        }
    }
    let clusters = per.len() as f64;
    let (mf, nf) = (m as f64, n as f64);
    let (mut s10, mut s01, mut s11) = (0.0, 0.0, 0.0);
    for (v10, v01, mi, ni) in per.values() {
        let d10 = v10 - mi * theta;
        let d01 = v01 - ni * theta;
        s10 += d10 * d10;
        s01 += d01 * d01;
        s11 += d10 * d01;
    }
    let var = if clusters > 1.0 {
        let c = clusters / (clusters - 1.0);
        c * s10 / (mf * mf) + c * s01 / (nf * nf) + 2.0 * c * s11 / (mf * nf)
    } else {
        0.0
    };
    let half = z(CONFIDENCE) * var.max(0.0).sqrt();
    Some(Estimate { value: theta, low: (theta - half).max(0.0), high: (theta + half).min(1.0) })
}

/// Mean squared error of the probabilities, with a household-clustered Wald interval.
pub fn brier(y: &[bool], p: &[f64], cluster: &[u64]) -> Estimate {
    let n = y.len() as f64;
    let b: Vec<f64> = y.iter().zip(p).map(|(y, p)| (p - f64::from(u8::from(*y))).powi(2)).collect();
    let mean = b.iter().sum::<f64>() / n;
    let mut per: BTreeMap<u64, f64> = BTreeMap::new();
    for (k, v) in b.iter().enumerate() {
        *per.entry(cluster[k]).or_default() += v - mean;
    }
    let c = per.len() as f64;
    let var = if c > 1.0 { c / (c - 1.0) * per.values().map(|s| s * s).sum::<f64>() / (n * n) } else { 0.0 };
    let half = z(CONFIDENCE) * var.sqrt();
    Estimate { value: mean, low: (mean - half).max(0.0), high: mean + half }
}

/// Logistic recalibration: y ~ intercept + slope * logit(p), fitted by
/// Newton-Raphson. Slope 1 and intercept 0 are perfect calibration; a slope
/// below 1 means the scores are too extreme. Wald intervals (rows treated as
/// independent). None when it does not converge (one class, constant p).
pub fn calibration(y: &[bool], p: &[f64]) -> Option<(Estimate, Estimate)> {
    let x: Vec<f64> = p.iter().map(|p| p.clamp(1e-9, 1.0 - 1e-9)).map(|p| (p / (1.0 - p)).ln()).collect();
    let (mut a, mut b) = (0.0, 1.0);
    for _ in 0..100 {
        let (mut g0, mut g1, mut h00, mut h01, mut h11) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (xi, yi) in x.iter().zip(y) {
            let q = crate::model::sigmoid(a + b * xi);
            let r = f64::from(u8::from(*yi)) - q;
            let w = q * (1.0 - q);
            g0 += r;
            g1 += r * xi;
            h00 += w;
            h01 += w * xi;
            h11 += w * xi * xi;
        }
        let det = h00 * h11 - h01 * h01;
        if !(det.is_finite() && det > 1e-12) {
            return None;
        }
        let da = (h11 * g0 - h01 * g1) / det;
        let db = (h00 * g1 - h01 * g0) / det;
        a += da;
        b += db;
        if !(a.is_finite() && b.is_finite()) {
            return None;
        }
        if da.abs() < 1e-10 && db.abs() < 1e-10 {
            let zq = z(CONFIDENCE);
            let (se_a, se_b) = ((h11 / det).sqrt(), (h00 / det).sqrt());
            return Some((
                Estimate { value: a, low: a - zq * se_a, high: a + zq * se_a },
                Estimate { value: b, low: b - zq * se_b, high: b + zq * se_b },
            ));
        }
    }
    None
}

/// One bin of the calibration curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    pub n: u64,
    pub mean_predicted: f64,
    pub observed: f64,
    pub observed_low: f64,
    pub observed_high: f64,
}

/// Equal-frequency bins of the sorted predictions (the last bin takes the
/// remainder), with the observed rate and its Wilson interval.
pub fn calibration_curve(y: &[bool], p: &[f64], bins: usize) -> Vec<Bin> {
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let n = order.len();
    let bins = bins.min(n).max(1);
    (0..bins)
        .map(|k| {
            let part = &order[k * n / bins..(k + 1) * n / bins];
            let pos = part.iter().filter(|&&i| y[i]).count() as u64;
            let m = part.len() as u64;
            let (lo, hi) = wilson(pos, m, CONFIDENCE);
            Bin {
                n: m,
                mean_predicted: part.iter().map(|&i| p[i]).sum::<f64>() / m as f64,
                observed: pos as f64 / m as f64,
                observed_low: lo,
                observed_high: hi,
            }
        })
        .filter(|b| b.n > 0)
        .collect()
}

/// Expected calibration error over the curve's bins: sum of n_b / N |observed_b - predicted_b|.
pub fn ece(curve: &[Bin]) -> f64 {
    let total: u64 = curve.iter().map(|b| b.n).sum();
    curve.iter().map(|b| b.n as f64 / total as f64 * (b.observed - b.mean_predicted).abs()).sum()
}

/// Counts and rates at a threshold (flagged = p >= threshold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AtThreshold {
    pub threshold: f64,
    pub flagged: u64,
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
    pub tn: u64,
}

impl AtThreshold {
    pub fn new(y: &[bool], p: &[f64], threshold: f64) -> AtThreshold {
        let mut c = AtThreshold { threshold, flagged: 0, tp: 0, fp: 0, fn_: 0, tn: 0 };
        for (y, p) in y.iter().zip(p) {
            match (*p >= threshold, *y) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, true) => c.fn_ += 1,
                (false, false) => c.tn += 1,
            }
        }
        c.flagged = c.tp + c.fp;
        c
    }

    fn rate(k: u64, n: u64) -> Option<Estimate> {
        (n > 0).then(|| {
            let (low, high) = wilson(k, n, CONFIDENCE);
            Estimate { value: k as f64 / n as f64, low, high }
        })
    }

    /// Positive predictive value: the share of flagged rows that were positive.
    pub fn precision(&self) -> Option<Estimate> {
        Self::rate(self.tp, self.tp + self.fp)
    }
    /// Sensitivity: the share of positives flagged.
    pub fn recall(&self) -> Option<Estimate> {
        Self::rate(self.tp, self.tp + self.fn_)
    }
    /// The share of negatives flagged.
    pub fn false_positive_rate(&self) -> Option<Estimate> {
        Self::rate(self.fp, self.fp + self.tn)
    }
    /// The share of positives not flagged.
    pub fn false_negative_rate(&self) -> Option<Estimate> {
        Self::rate(self.fn_, self.tp + self.fn_)
    }
}

/// The evaluation of one set of rows (the whole test set, or one group).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub n: u64,
    pub positives: u64,
    pub mean_predicted: f64,
    pub observed: f64,
    pub auc: Option<Estimate>,
    pub brier: Estimate,
    pub intercept: Option<Estimate>,
    pub slope: Option<Estimate>,
    pub curve: Vec<Bin>,
    pub ece: f64,
    pub at: Vec<AtThreshold>,
}

pub fn evaluate(y: &[bool], p: &[f64], cluster: &[u64], thresholds: &[f64], bins: usize) -> Evaluation {
    let n = y.len() as u64;
    let positives = y.iter().filter(|v| **v).count() as u64;
    let curve = calibration_curve(y, p, bins);
    let cal = calibration(y, p);
    Evaluation {
        n,
        positives,
        mean_predicted: p.iter().sum::<f64>() / n.max(1) as f64,
        observed: positives as f64 / n.max(1) as f64,
        auc: auc(y, p, cluster),
        brier: brier(y, p, cluster),
        intercept: cal.map(|c| c.0),
        slope: cal.map(|c| c.1),
        ece: ece(&curve),
        curve,
        at: thresholds.iter().map(|t| AtThreshold::new(y, p, *t)).collect(),
    }
}

/// A reference distribution for the population stability index: bins of a
/// numeric variable (upper edges, exclusive; the last bin open) or levels of a categorical
/// one, each with its training share; a last bin for missing values.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Reference {
    pub variable: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<String>,
    pub shares: Vec<f64>,
}

/// A variable's values: text levels, or numbers (missing as None).
pub enum Values {
    Numeric(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
}

impl Values {
    /// A column's values: text for a string column, numbers otherwise.
    pub fn of(column: &polars::prelude::Column) -> polars::prelude::PolarsResult<Values> {
        use polars::prelude::DataType;
        Ok(if column.dtype() == &DataType::String {
            Values::Text(column.str()?.iter().map(|v| v.map(str::to_string)).collect())
        } else {
            Values::Numeric(column.cast(&DataType::Float64)?.f64()?.iter().collect())
        })
    }

    pub fn scores(p: &[f64]) -> Values {
        Values::Numeric(p.iter().map(|v| Some(*v)).collect())
    }
}

impl Reference {
    /// Deciles of a numeric variable (distinct edges), or its levels.
    pub fn fit(variable: &str, values: &Values) -> Reference {
        let mut r =
            Reference { variable: variable.to_string(), edges: Vec::new(), levels: Vec::new(), shares: Vec::new() };
        match values {
            Values::Numeric(v) => {
                let mut present: Vec<f64> = v.iter().flatten().copied().collect();
                present.sort_by(f64::total_cmp);
                // Each decile's edge lies halfway to the next distinct value, so
                // no value sits on an edge: a discrete variable's levels (0/1,
                // counts, logs of counts) bin the same whatever the last digit
                // of an edge read back from JSON.
                for k in 1..10 {
                    let Some(q) = present.get(k * present.len() / 10) else { continue };
                    let Some(next) = present.get(present.partition_point(|v| v <= q)) else { continue };
                    let edge = (q + next) / 2.0;
                    if r.edges.last().is_none_or(|last| *last < edge) {
                        r.edges.push(edge);
                    }
                }
            }
            Values::Text(v) => {
                let mut levels: Vec<String> = v.iter().flatten().cloned().collect();
                levels.sort();
                levels.dedup();
                r.levels = levels;
            }
        }
        r.shares = r.shares_of(values);
        r
    }

    /// Shares of `values` in this reference's bins.
    pub fn shares_of(&self, values: &Values) -> Vec<f64> {
        let bins = if self.levels.is_empty() { self.edges.len() + 1 } else { self.levels.len() + 1 };
        let mut counts = vec![0u64; bins + 1];
        let n = match values {
            Values::Numeric(v) => {
                for x in v {
                    let k = match x {
                        None => bins,
                        Some(x) => self.edges.iter().position(|e| x < e).unwrap_or(self.edges.len()),
                    };
                    counts[k] += 1;
                }
                v.len()
            }
            Values::Text(v) => {
                for x in v {
                    let k = match x {
                        None => bins,
                        // An unseen level has its own bin (the one after the known levels).
                        Some(x) => self.levels.iter().position(|l| l == x).unwrap_or(self.levels.len()),
                    };
                    counts[k] += 1;
                }
                v.len()
            }
        };
        counts.iter().map(|c| *c as f64 / n.max(1) as f64).collect()
    }
}

/// Population stability index: sum (a - e) ln(a / e) over bins, shares
/// floored at 0.0001 so an empty bin counts without dividing by zero.
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(e, a)| {
            let (e, a) = (e.max(1e-4), a.max(1e-4));
            (a - e) * (a / e).ln()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AUC by brute force over every positive-negative pair.
    fn pairs(y: &[bool], p: &[f64]) -> f64 {
        let (mut s, mut k) = (0.0, 0.0);
        for i in 0..y.len() {
            for j in 0..y.len() {
                if y[i] && !y[j] {
                    k += 1.0;
                    s += if p[i] > p[j] {
                        1.0
                    } else if p[i] == p[j] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        s / k
    }

    #[test]
    fn auc_equals_the_pair_count_and_delong_on_singletons() {
        let y = [true, false, true, false, false, true, false, true, false, false];
        let p = [0.9, 0.8, 0.7, 0.7, 0.4, 0.35, 0.3, 0.3, 0.2, 0.1];
        let ids: Vec<u64> = (0..10).collect();
        let a = auc(&y, &p, &ids).unwrap();
        assert!((a.value - pairs(&y, &p)).abs() < 1e-12);
        // DeLong by hand: placements V10 per positive, V01 per negative.
        let pos: Vec<usize> = (0..10).filter(|&i| y[i]).collect();
        let neg: Vec<usize> = (0..10).filter(|&i| !y[i]).collect();
        let psi = |i: usize, j: usize| {
            if p[i] > p[j] {
                1.0
            } else if p[i] == p[j] {
                0.5
            } else {
                0.0
            }
        };
        let v10: Vec<f64> =
            pos.iter().map(|&i| neg.iter().map(|&j| psi(i, j)).sum::<f64>() / neg.len() as f64).collect();
        let v01: Vec<f64> =
            neg.iter().map(|&j| pos.iter().map(|&i| psi(i, j)).sum::<f64>() / pos.len() as f64).collect();
        let t = a.value;
        let (m, n) = (pos.len() as f64, neg.len() as f64);
        // Obuchowski with I = m + n singleton clusters.
        let c = (m + n) / (m + n - 1.0);
        let var = c * v10.iter().map(|v| (v - t).powi(2)).sum::<f64>() / (m * m)
            + c * v01.iter().map(|v| (v - t).powi(2)).sum::<f64>() / (n * n);
        assert!((a.value - a.low - 1.959964 * var.sqrt()).abs() < 1e-5, "{a:?} {var}");
    }

    #[test]
    fn clustering_widens_the_interval_when_households_repeat() {
        // The same data twice: as independent rows, and with each row's copy in its household.
        let y: Vec<bool> = (0..200).map(|i| (i * 7919) % 13 < 5).collect();
        let p: Vec<f64> =
            (0..200).map(|i| ((i * 7919) % 13) as f64 / 13.0 * 0.5 + ((i * 31) % 17) as f64 / 34.0).collect();
        let (y2, p2): (Vec<bool>, Vec<f64>) = y.iter().chain(&y).copied().zip(p.iter().chain(&p).copied()).unzip();
        let singles: Vec<u64> = (0..400).collect();
        let paired: Vec<u64> = (0..400).map(|i| i % 200).collect();
        let a = auc(&y2, &p2, &singles).unwrap();
        let b = auc(&y2, &p2, &paired).unwrap();
        assert!((a.value - b.value).abs() < 1e-12);
        assert!(b.high - b.low > 1.3 * (a.high - a.low), "{a:?} {b:?}");
    }

    #[test]
    fn calibration_of_true_probabilities_is_near_one() {
        // Deterministic "draws": y = 1 when a low-discrepancy u is below p.
        let n = 20000;
        let p: Vec<f64> = (0..n).map(|i| 0.05 + 0.9 * ((i * 37) % n) as f64 / n as f64).collect();
        let y: Vec<bool> = (0..n).map(|i| ((i as f64 * 0.618_033_988_7) % 1.0) < p[i]).collect();
        let (a, b) = calibration(&y, &p).unwrap();
        assert!((b.value - 1.0).abs() < 0.05 && a.value.abs() < 0.05, "{a:?} {b:?}");
        // Scores pushed to the extremes (logit doubled) have slope about 1/2.
        let q: Vec<f64> = p.iter().map(|p| crate::model::sigmoid(2.0 * (p / (1.0 - p)).ln())).collect();
        let (_, b2) = calibration(&y, &q).unwrap();
        assert!((b2.value - 0.5).abs() < 0.03, "{b2:?}");
    }

    #[test]
    fn psi_of_identical_shares_is_zero_and_grows_with_shift() {
        let v: Vec<Option<f64>> = (0..1000).map(|i| Some(i as f64)).collect();
        let r = Reference::fit("x", &Values::Numeric(v.clone()));
        assert_eq!(r.shares.len(), 11);
        assert!(psi(&r.shares, &r.shares_of(&Values::Numeric(v.clone()))).abs() < 1e-12);
        let shifted: Vec<Option<f64>> = (0..1000).map(|i| Some(i as f64 + 300.0)).collect();
        assert!(psi(&r.shares, &r.shares_of(&Values::Numeric(shifted.clone()))) > 0.25);
        // A 0/1 variable with fewer than 10% ones still gets two bins, and a
        // shift in its share shows.
        let b: Vec<Option<f64>> = (0..1000).map(|i| Some(if i < 50 { 1.0 } else { 0.0 })).collect();
        let r = Reference::fit("b", &Values::Numeric(b.clone()));
        assert_eq!(r.edges, vec![0.5]);
        let more: Vec<Option<f64>> = (0..1000).map(|i| Some(if i < 300 { 1.0 } else { 0.0 })).collect();
        assert!(psi(&r.shares, &r.shares_of(&Values::Numeric(more.clone()))) > 0.25);
        let t: Vec<Option<String>> = ["a", "b", "b", "c"].iter().map(|s| Some(s.to_string())).collect();
        let r = Reference::fit("t", &Values::Text(t.clone()));
        assert_eq!(r.shares, vec![0.25, 0.5, 0.25, 0.0, 0.0]);
    }
}
