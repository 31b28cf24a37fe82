//! Effect estimates: the propensity model and nearest-neighbour matching,
//! difference-in-differences, pre-post and historical comparison, each with
//! a bootstrap that resamples whole households (its standard error makes
//! the 95% interval; see `Estimate`).

use std::collections::BTreeSet;

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One enrolment as the estimators see it.
#[derive(Debug, Clone)]
pub struct Unit {
    pub treated: bool,
    /// Household number (the bootstrap's cluster).
    pub cluster: usize,
    /// Covariates (design columns, raw scale).
    pub x: Vec<f64>,
    /// The outcome averaged over the post-period quarters.
    pub y_post: Option<f64>,
    /// ...and over the pre-period quarters.
    pub y_pre: Option<f64>,
    /// The outcome by event quarter, from the first pre quarter to the last post quarter.
    pub series: Vec<Option<f64>>,
}

pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 { 1.0 / (1.0 + (-x).exp()) } else { x.exp() / (1.0 + x.exp()) }
}

/// A logistic propensity model on the raw covariate scale.
#[derive(Debug, Clone)]
pub struct Propensity {
    pub intercept: f64,
    pub coefficients: Vec<f64>,
}

impl Propensity {
    pub fn logit(&self, x: &[f64]) -> f64 {
        self.intercept + x.iter().zip(&self.coefficients).map(|(a, b)| a * b).sum::<f64>()
    }

    /// Unpenalised maximum likelihood by Newton-Raphson (iteratively
    /// reweighted least squares, with step halving) on standardised columns,
    /// transformed back to the raw scale. A column without variation in this
    /// sample gets coefficient 0.
    ///
    /// Not linfa-logistic: its L-BFGS line search (argmin 0.11 More-Thuente)
    /// looped without end on a bootstrap sample at the tight gradient
    /// tolerance this model needs to equal statsmodels to 1e-6 (issue 7).
    /// Newton's method converges quadratically and is capped at 100 steps.
    pub fn fit(units: &[&Unit]) -> Result<Propensity, String> {
        let n = units.len();
        let p = units.first().map(|u| u.x.len()).unwrap_or(0);
        let treated = units.iter().filter(|u| u.treated).count();
        if treated == 0 || treated == n {
            return Err(format!(
                "the propensity model needs participants and non-participants ({treated} of {n} took part)"
            ));
        }
        let mut mean = vec![0.0; p];
        let mut sd = vec![0.0; p];
        for j in 0..p {
            mean[j] = units.iter().map(|u| u.x[j]).sum::<f64>() / n as f64;
            sd[j] = (units.iter().map(|u| (u.x[j] - mean[j]).powi(2)).sum::<f64>() / n as f64).sqrt();
        }
        let kept: Vec<usize> = (0..p).filter(|j| sd[*j] > 1e-12).collect();
        // Design with an intercept column first.
        let k = kept.len() + 1;
        let x = Array2::from_shape_fn((n, k), |(i, c)| {
            if c == 0 {
                1.0
            } else {
                let j = kept[c - 1];
                (units[i].x[j] - mean[j]) / sd[j]
            }
        });
        let y: Array1<f64> = units.iter().map(|u| f64::from(u8::from(u.treated))).collect();
        let loglik = |b: &Array1<f64>| -> f64 {
            x.dot(b)
                .iter()
                .zip(y.iter())
                .map(|(e, t)| t * e - (if *e > 0.0 { e + (-e).exp().ln_1p() } else { e.exp().ln_1p() }))
                .sum()
        };
        let mut beta = Array1::<f64>::zeros(k);
        let mut ll = loglik(&beta);
        let mut converged = false;
        for _ in 0..100 {
            let mu: Array1<f64> = x.dot(&beta).mapv(sigmoid);
            let g = x.t().dot(&(&y - &mu));
            let w = mu.mapv(|m| m * (1.0 - m));
            let xw = &x * &w.view().insert_axis(ndarray::Axis(1));
            let h = x.t().dot(&xw);
            let step = solve_spd(&h, &g).ok_or(
                "the propensity model's information matrix is singular (a covariate is collinear with others)",
            )?;
            let mut t = 1.0;
            let next = loop {
                let b = &beta + &(&step * t);
                let l = loglik(&b);
                if l >= ll - 1e-12 || t < 1e-8 {
                    break (b, l);
                }
                t /= 2.0;
            };
            let change = step.iter().map(|s| (s * t).abs()).fold(0.0, f64::max);
            beta = next.0;
            ll = next.1;
            if change < 1e-11 {
                converged = true;
                break;
            }
        }
        if !converged && beta.iter().any(|b| b.abs() > 30.0) {
            return Err(
                "the propensity model does not converge: a covariate separates participants from non-participants"
                    .into(),
            );
        }
        let mut coefficients = vec![0.0; p];
        let mut intercept = beta[0];
        for (c, j) in kept.iter().enumerate() {
            let b = beta[c + 1];
            coefficients[*j] = b / sd[*j];
            intercept -= b * mean[*j] / sd[*j];
        }
        Ok(Propensity { intercept, coefficients })
    }
}

/// Solve H d = g for a symmetric positive-definite H (Cholesky); None if H is not.
fn solve_spd(h: &Array2<f64>, g: &Array1<f64>) -> Option<Array1<f64>> {
    let k = g.len();
    let mut l = Array2::<f64>::zeros((k, k));
    for i in 0..k {
        for j in 0..=i {
            let s = h[[i, j]] - (0..j).map(|m| l[[i, m]] * l[[j, m]]).sum::<f64>();
            if i == j {
                if s.is_nan() || s <= 1e-300 {
                    return None;
                }
                l[[i, i]] = s.sqrt();
            } else {
                l[[i, j]] = s / l[[j, j]];
            }
        }
    }
    let mut z = Array1::<f64>::zeros(k);
    for i in 0..k {
        z[i] = (g[i] - (0..i).map(|m| l[[i, m]] * z[m]).sum::<f64>()) / l[[i, i]];
    }
    let mut d = Array1::<f64>::zeros(k);
    for i in (0..k).rev() {
        d[i] = (z[i] - (i + 1..k).map(|m| l[[m, i]] * d[m]).sum::<f64>()) / l[[i, i]];
    }
    Some(d)
}

/// An order-preserving integer key for a float.
fn key(x: f64) -> i64 {
    let b = x.to_bits() as i64;
    b ^ ((((b >> 63) as u64) >> 1) as i64)
}

/// Greedy 1:1 nearest-neighbour matching without replacement on the logit of
/// the propensity score, participants in descending score order, within a
/// caliper (`caliper_sd` standard deviations of the logit). Returns the
/// (participant, comparison) pairs as indices into `logit`.
pub fn match_greedy(logit: &[f64], treated: &[bool], caliper_sd: f64) -> (Vec<(usize, usize)>, f64) {
    let n = logit.len() as f64;
    let m = logit.iter().sum::<f64>() / n;
    let sd = (logit.iter().map(|l| (l - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let caliper = caliper_sd * sd;
    let mut controls: BTreeSet<(i64, usize)> =
        (0..logit.len()).filter(|i| !treated[*i]).map(|i| (key(logit[i]), i)).collect();
    let mut order: Vec<usize> = (0..logit.len()).filter(|i| treated[*i]).collect();
    order.sort_by(|a, b| logit[*b].total_cmp(&logit[*a]).then(a.cmp(b)));
    let mut pairs = Vec::with_capacity(order.len());
    for t in order {
        let k = (key(logit[t]), 0usize);
        let below = controls.range(..k).next_back().copied();
        let above = controls.range(k..).next().copied();
        let best = match (below, above) {
            (Some(b), Some(a)) => {
                if (logit[t] - logit[b.1]).abs() <= (logit[a.1] - logit[t]).abs() {
                    Some(b)
                } else {
                    Some(a)
                }
            }
            (b, a) => b.or(a),
        };
        if let Some(c) = best
            && (logit[t] - logit[c.1]).abs() <= caliper
        {
            controls.remove(&c);
            pairs.push((t, c.1));
        }
    }
    (pairs, caliper)
}

/// A matched comparison on the units with a post-period outcome.
#[derive(Debug, Clone)]
pub struct MatchResult {
    pub propensity: Propensity,
    /// Indices into the units passed in.
    pub pairs: Vec<(usize, usize)>,
    pub caliper: f64,
    pub logit: Vec<f64>,
    /// The bias-adjusted matched difference (the estimate).
    pub att: f64,
    /// The plain matched difference: mean over pairs of participant minus comparison.
    pub unadjusted: f64,
    /// The adjustment's regression of the outcome on the covariates among the
    /// matched comparisons: intercept, then one coefficient per covariate (0
    /// for a covariate without variation there).
    pub adjustment: Vec<f64>,
}

pub fn matched(units: &[&Unit], caliper_sd: f64) -> Result<MatchResult, String> {
    let propensity = Propensity::fit(units)?;
    let logit: Vec<f64> = units.iter().map(|u| propensity.logit(&u.x)).collect();
    let treated: Vec<bool> = units.iter().map(|u| u.treated).collect();
    let (pairs, caliper) = match_greedy(&logit, &treated, caliper_sd);
    if pairs.is_empty() {
        return Err("no participant has a comparison enrolment within the caliper".into());
    }
    let y = |i: usize| units[i].y_post.expect("units with an outcome");
    let n = pairs.len() as f64;
    let unadjusted = pairs.iter().map(|(t, c)| y(*t) - y(*c)).sum::<f64>() / n;
    // Bias adjustment (Abadie and Imbens 2011): what is left of the
    // covariates' imbalance within pairs, priced by a linear regression of
    // the outcome on them among the matched comparisons. Without it the
    // residual imbalance of a 0.2-SD caliper biased the estimate by +3% of
    // the effect, more than its standard error at 1,000,000 clients (issue 7).
    let controls: Vec<usize> = pairs.iter().map(|p| p.1).collect();
    let adjustment = ols(units, &controls).unwrap_or_else(|| vec![0.0; units[0].x.len() + 1]);
    let att = pairs
        .iter()
        .map(|(t, c)| {
            let gap: f64 =
                units[*t].x.iter().zip(&units[*c].x).zip(&adjustment[1..]).map(|((a, b), k)| (a - b) * k).sum();
            y(*t) - y(*c) - gap
        })
        .sum::<f64>()
        / n;
    Ok(MatchResult { propensity, pairs, caliper, logit, att, unadjusted, adjustment })
}

/// The matched-pairs standard error of a matched estimate: the bias-adjusted
/// pair differences' spread around the estimate, pairs of one participant
/// household summed first (a cluster-robust variance of their mean):
/// V = n/(n-1) x sum over households of (sum of its pairs' d - att)^2 / n^2.
/// It conditions on the matches, where the household bootstrap re-matches.
pub fn matched_pairs_se(units: &[&Unit], r: &MatchResult) -> Option<f64> {
    pairs_se(units, &r.pairs, &r.adjustment, r.att)
}

fn pairs_se(units: &[&Unit], pairs: &[(usize, usize)], adjustment: &[f64], att: f64) -> Option<f64> {
    let n = pairs.len();
    if n < 2 {
        return None;
    }
    let mut by_household: std::collections::BTreeMap<usize, f64> = std::collections::BTreeMap::new();
    for (t, c) in pairs {
        let gap: f64 = units[*t].x.iter().zip(&units[*c].x).zip(&adjustment[1..]).map(|((a, b), k)| (a - b) * k).sum();
        let d = units[*t].y_post? - units[*c].y_post? - gap;
        *by_household.entry(units[*t].cluster).or_default() += d - att;
    }
    let n = n as f64;
    let sum: f64 = by_household.values().map(|e| e * e).sum();
    Some((n / (n - 1.0) * sum / (n * n)).sqrt())
}

/// Least squares of `y_post` on an intercept and the covariates over the
/// units `rows`; a covariate without variation among them gets 0.
fn ols(units: &[&Unit], rows: &[usize]) -> Option<Vec<f64>> {
    let p = units[0].x.len();
    let n = rows.len() as f64;
    let varies: Vec<usize> = (0..p)
        .filter(|j| {
            let first = units[rows[0]].x[*j];
            rows.iter().any(|r| units[*r].x[*j] != first)
        })
        .collect();
    let k = varies.len() + 1;
    let x = Array2::from_shape_fn((rows.len(), k), |(i, c)| if c == 0 { 1.0 } else { units[rows[i]].x[varies[c - 1]] });
    let y: Array1<f64> = rows.iter().map(|r| units[*r].y_post.unwrap_or(f64::NAN)).collect();
    if n < (k + 1) as f64 {
        return None;
    }
    let beta = solve_spd(&x.t().dot(&x), &x.t().dot(&y))?;
    let mut out = vec![0.0; p + 1];
    out[0] = beta[0];
    for (c, j) in varies.iter().enumerate() {
        out[j + 1] = beta[c + 1];
    }
    Some(out)
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| s / n as f64)
}

/// Difference-in-differences: the participants' mean change from the pre to
/// the post quarters minus the comparison enrolments' (units with both).
pub fn did(units: &[&Unit]) -> Option<f64> {
    let change = |t: bool| mean(units.iter().filter(|u| u.treated == t).filter_map(|u| Some(u.y_post? - u.y_pre?)));
    Some(change(true)? - change(false)?)
}

/// Pre-post: the participants' mean change (not an effect: no counterfactual).
pub fn pre_post(units: &[&Unit]) -> Option<f64> {
    mean(units.iter().filter(|u| u.treated).filter_map(|u| Some(u.y_post? - u.y_pre?)))
}

/// Historical comparison: participants' post-period mean minus the
/// historical cohort's (the cohort's units are marked `treated = false`).
pub fn historical(units: &[&Unit]) -> Option<f64> {
    let m = |t: bool| mean(units.iter().filter(|u| u.treated == t).filter_map(|u| u.y_post));
    Some(m(true)? - m(false)?)
}

/// Event-study estimates: per event quarter k, the participants' mean minus
/// the comparison mean, relative to the same difference in quarter `base`
/// (an index into the series).
pub fn event_time(units: &[&Unit], base: usize) -> Vec<Option<f64>> {
    let len = units.first().map(|u| u.series.len()).unwrap_or(0);
    let diff = |k: usize| {
        let m = |t: bool| mean(units.iter().filter(|u| u.treated == t).filter_map(|u| u.series[k]));
        Some(m(true)? - m(false)?)
    };
    let b = diff(base);
    (0..len).map(|k| Some(diff(k)? - b?)).collect()
}

/// Pre-trend placebo: a difference-in-differences inside the pre-period,
/// late half minus early half (`split` = first index of the late half,
/// `end` = last pre index).
pub fn placebo(units: &[&Unit], split: usize, end: usize) -> Option<f64> {
    let change = |t: bool| {
        mean(units.iter().filter(|u| u.treated == t).filter_map(|u| {
            let early = crate::study::window_mean(&u.series, 0, split - 1)?;
            let late = crate::study::window_mean(&u.series, split, end)?;
            Some(late - early)
        }))
    };
    Some(change(true)? - change(false)?)
}

/// Bootstrap over households: `stat` is recomputed on `replicates`
/// samples of whole households drawn with replacement. Returns, per
/// statistic, the sorted replicate values (a failed replicate is skipped).
pub fn bootstrap<F>(units: &[Unit], replicates: usize, seed: u64, stat: F) -> Bootstrap
where
    F: Fn(&[&Unit]) -> Result<Vec<f64>, String>,
{
    let clusters = units.iter().map(|u| u.cluster).max().map(|m| m + 1).unwrap_or(0);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); clusters];
    for (i, u) in units.iter().enumerate() {
        members[u.cluster].push(i);
    }
    members.retain(|m| !m.is_empty());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut values: Vec<Vec<f64>> = Vec::new();
    let mut failures: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for _ in 0..replicates {
        let mut sample: Vec<&Unit> = Vec::with_capacity(units.len());
        for _ in 0..members.len() {
            let c = rng.random_range(0..members.len());
            sample.extend(members[c].iter().map(|i| &units[*i]));
        }
        match stat(&sample) {
            Ok(v) if v.first().is_some_and(|x| x.is_finite()) => {
                if values.is_empty() {
                    values = vec![Vec::with_capacity(replicates); v.len()];
                }
                for (o, x) in values.iter_mut().zip(v) {
                    o.push(x);
                }
            }
            Ok(_) => *failures.entry("the estimate was not a finite number".into()).or_default() += 1,
            // Grouped by the reason, without a replicate's own counts in brackets.
            Err(reason) => *failures.entry(reason.split(" (").next().unwrap_or("").to_string()).or_default() += 1,
        }
    }
    for o in &mut values {
        o.retain(|v| v.is_finite());
        o.sort_by(f64::total_cmp);
    }
    Bootstrap { requested: replicates, values, failures: failures.into_iter().collect() }
}

/// What a household bootstrap gave.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub requested: usize,
    /// Per statistic, the replicates' finite values, sorted (statistic 0 is the estimate).
    pub values: Vec<Vec<f64>>,
    /// Why replicates gave no estimate, and how many times.
    pub failures: Vec<(String, usize)>,
}

impl Bootstrap {
    /// Replicates that gave an estimate.
    pub fn used(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }

    /// The failures in words: "12 (a covariate ...), 3 (...)".
    pub fn failure_text(&self) -> String {
        self.failures.iter().map(|(r, n)| format!("{n} ({r})")).collect::<Vec<_>>().join("; ")
    }
}

/// The q-quantile of sorted values (linear interpolation, R type 7).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Standardised mean difference and variance ratio of column `j`, over the
/// participants and comparison units given; `pooled_sd` is the before-matching one.
#[derive(Debug, Clone)]
pub struct Balance {
    pub mean_t: f64,
    pub mean_c: f64,
    pub var_t: f64,
    pub var_c: f64,
}

impl Balance {
    pub fn of(t: &[f64], c: &[f64]) -> Balance {
        let m = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let var =
            |v: &[f64], mu: f64| v.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0).max(1.0);
        let (mt, mc) = (m(t), m(c));
        Balance { mean_t: mt, mean_c: mc, var_t: var(t, mt), var_c: var(c, mc) }
    }

    pub fn pooled_sd(&self) -> f64 {
        ((self.var_t + self.var_c) / 2.0).sqrt()
    }

    pub fn smd(&self, pooled_sd: f64) -> f64 {
        if pooled_sd > 0.0 { (self.mean_t - self.mean_c) / pooled_sd } else { 0.0 }
    }

    pub fn variance_ratio(&self) -> f64 {
        if self.var_c > 0.0 { self.var_t / self.var_c } else { f64::NAN }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(treated: bool, cluster: usize, x: f64, y_pre: f64, y_post: f64) -> Unit {
        Unit {
            treated,
            cluster,
            x: vec![x],
            y_post: Some(y_post),
            y_pre: Some(y_pre),
            series: vec![Some(y_pre), Some(y_post)],
        }
    }

    #[test]
    fn did_by_hand() {
        // Participants change +0.5 and +0.3 (mean 0.4); comparisons +0.1, -0.1, +0.3 (mean 0.1).
        let units = [
            unit(true, 0, 0.0, 0.0, 0.5),
            unit(true, 1, 0.0, 0.2, 0.5),
            unit(false, 2, 0.0, 0.0, 0.1),
            unit(false, 3, 0.0, 0.4, 0.3),
            unit(false, 3, 0.0, 0.0, 0.3),
        ];
        let refs: Vec<&Unit> = units.iter().collect();
        assert!((did(&refs).unwrap() - 0.3).abs() < 1e-15);
        assert!((pre_post(&refs).unwrap() - 0.4).abs() < 1e-15);
        // Event time relative to quarter 0: (0.5 - 0.2333) - (0.1 - 0.1333) = 0.3.
        let e = event_time(&refs, 0);
        assert_eq!(e[0], Some(0.0));
        assert!((e[1].unwrap() - 0.3).abs() < 1e-12);
    }

    #[test]
    fn greedy_matching_takes_the_nearest_free_control_within_the_caliper() {
        // Participants at 2.0 (matched first), 1.9 and -3.0; controls at 1.95, 1.7, 0.0.
        let logit = [2.0, 1.9, -3.0, 1.95, 1.7, 0.0];
        let treated = [true, true, true, false, false, false];
        let (pairs, caliper) = match_greedy(&logit, &treated, 0.2);
        // sd of the six logits.
        let m = logit.iter().sum::<f64>() / 6.0;
        let sd = (logit.iter().map(|l| (l - m).powi(2)).sum::<f64>() / 5.0).sqrt();
        assert!((caliper - 0.2 * sd).abs() < 1e-15);
        // 2.0 takes 1.95; 1.9 takes 1.7 (0.2 < caliper 0.39); -3.0 is 3.0 from 0.0: unmatched.
        assert_eq!(pairs, vec![(0, 3), (1, 4)]);
    }

    #[test]
    fn propensity_recovers_a_known_model() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let units: Vec<Unit> = (0..20_000)
            .map(|i| {
                let x1: f64 = rng.random_range(-2.0..2.0);
                let x2: f64 = 30.0 + 10.0 * rng.random_range(-1.0..1.0);
                let p = sigmoid(-1.0 + 0.8 * x1 - 0.05 * (x2 - 30.0));
                let t = rng.random_bool(p);
                Unit { treated: t, cluster: i, x: vec![x1, x2], y_post: None, y_pre: None, series: vec![] }
            })
            .collect();
        let refs: Vec<&Unit> = units.iter().collect();
        let ps = Propensity::fit(&refs).unwrap();
        assert!((ps.coefficients[0] - 0.8).abs() < 0.06, "{:?}", ps);
        assert!((ps.coefficients[1] + 0.05).abs() < 0.01, "{:?}", ps);
        assert!((ps.intercept - 0.5).abs() < 0.3, "{:?}", ps);
        // The score equation holds at the optimum: sum(t - p) = 0 and sum((t - p) x) = 0.
        let (mut g0, mut g1) = (0.0, 0.0);
        for u in &units {
            let r = f64::from(u8::from(u.treated)) - sigmoid(ps.logit(&u.x));
            g0 += r;
            g1 += r * u.x[0];
        }
        assert!(g0.abs() < 1e-4 && g1.abs() < 1e-4, "gradient {g0} {g1}");
    }

    /// Three pairs, the first two of one participant household: differences
    /// 0.5 - 0.5 x 1 = 0 (the adjustment prices a gap of 1 at 0.5), 1.0 and
    /// 2.5 around their mean 7/6; household sums -7/6 - 1/6 = -4/3 and 4/3;
    /// V = 3/2 x (16/9 + 16/9) / 9 = 16/27.
    #[test]
    fn matched_pairs_standard_error_by_hand() {
        let mk = |treated, cluster, x: f64, y| Unit {
            treated,
            cluster,
            x: vec![x],
            y_post: Some(y),
            y_pre: None,
            series: vec![],
        };
        let units = [
            mk(true, 0, 1.0, 1.0),
            mk(true, 0, 0.0, 2.0),
            mk(true, 1, 0.0, 4.0),
            mk(false, 2, 0.0, 0.5),
            mk(false, 3, 0.0, 1.0),
            mk(false, 4, 0.0, 1.5),
        ];
        let refs: Vec<&Unit> = units.iter().collect();
        let pairs = [(0, 3), (1, 4), (2, 5)];
        let att = (0.0 + 1.0 + 2.5) / 3.0;
        let se = pairs_se(&refs, &pairs, &[0.0, 0.5], att).unwrap();
        assert!((se - (16.0f64 / 27.0).sqrt()).abs() < 1e-12, "{se}");
        assert_eq!(pairs_se(&refs, &pairs[..1], &[0.0, 0.5], 0.0), None);
    }

    #[test]
    fn quantiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert!((quantile(&v, 0.975) - 3.925).abs() < 1e-12);
    }
}
