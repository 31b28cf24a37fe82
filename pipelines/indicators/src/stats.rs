//! Interval estimates: Wilson score intervals for proportions, Student t
//! intervals for means, and the MOVER (Newcombe) interval of a difference.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Two-sided normal quantile for a confidence level (0.95 -> 1.959964).
pub fn z(confidence: f64) -> f64 {
    Normal::standard().inverse_cdf(1.0 - (1.0 - confidence) / 2.0)
}

/// Wilson score interval for `k` successes in `n` trials.
pub fn wilson(k: u64, n: u64, confidence: f64) -> (f64, f64) {
    assert!(n > 0 && k <= n, "wilson({k}, {n})");
    let (k, n, z) = (k as f64, n as f64, z(confidence));
    let p = k / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Mean, sample standard deviation and t interval from n, sum and sum of squares.
/// The sd and interval are None for n < 2.
pub fn mean_t(n: u64, sum: f64, sum_sq: f64, confidence: f64) -> (f64, Option<f64>, Option<(f64, f64)>) {
    assert!(n > 0);
    let nf = n as f64;
    let mean = sum / nf;
    if n < 2 {
        return (mean, None, None);
    }
    let var = ((sum_sq - nf * mean * mean) / (nf - 1.0)).max(0.0);
    let sd = var.sqrt();
    let t = StudentsT::new(0.0, 1.0, nf - 1.0).expect("df > 0").inverse_cdf(1.0 - (1.0 - confidence) / 2.0);
    let half = t * sd / nf.sqrt();
    (mean, Some(sd), Some((mean - half, mean + half)))
}

/// Interval of the difference `a - b` of two independent estimates with their
/// own intervals (MOVER; with Wilson intervals this is Newcombe's method 10).
pub fn mover_diff(a: (f64, f64, f64), b: (f64, f64, f64)) -> (f64, f64, f64) {
    let (pa, la, ua) = a;
    let (pb, lb, ub) = b;
    let d = pa - pb;
    let low = d - ((pa - la).powi(2) + (ub - pb).powi(2)).sqrt();
    let high = d + ((ua - pa).powi(2) + (pb - lb).powi(2)).sqrt();
    (d, low, high)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() < tol
    }

    #[test]
    fn wilson_matches_published_values() {
        // Newcombe (1998), Table I, example 81/263: 0.2553 to 0.3662.
        let (l, u) = wilson(81, 263, 0.95);
        assert!(close(l, 0.2553, 5e-5) && close(u, 0.3662, 5e-5), "{l} {u}");
        // 0 of 10: 0 to 0.2775; 10 of 10: 0.7225 to 1.
        let (l, u) = wilson(0, 10, 0.95);
        assert!(close(l, 0.0, 1e-12) && close(u, 0.2775, 5e-5), "{l} {u}");
        let (l, u) = wilson(10, 10, 0.95);
        assert!(close(l, 0.7225, 5e-5) && close(u, 1.0, 1e-12), "{l} {u}");
    }

    #[test]
    fn t_interval_matches_a_hand_computation() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sd 2.13809, t(7, .975) = 2.364624.
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let (m, sd, ci) = mean_t(8, xs.iter().sum(), xs.iter().map(|x| x * x).sum(), 0.95);
        let (sd, (l, u)) = (sd.unwrap(), ci.unwrap());
        assert!(close(m, 5.0, 1e-12) && close(sd, 2.138090, 1e-6));
        let half = 2.364624 * 2.138090 / 8f64.sqrt();
        assert!(close(l, 5.0 - half, 1e-5) && close(u, 5.0 + half, 1e-5), "{l} {u}");
        assert!(mean_t(1, 3.0, 9.0, 0.95).2.is_none());
    }

    #[test]
    fn newcombe_difference_matches_published_values() {
        // Newcombe (1998) Table II, example 56/70 - 48/80: 0.0524 to 0.3339.
        let (a, b) = ((56, 70), (48, 80));
        let (la, ua) = wilson(a.0, a.1, 0.95);
        let (lb, ub) = wilson(b.0, b.1, 0.95);
        let pa = a.0 as f64 / a.1 as f64;
        let pb = b.0 as f64 / b.1 as f64;
        let (d, l, u) = mover_diff((pa, la, ua), (pb, lb, ub));
        assert!(close(d, 0.2, 1e-12));
        assert!(close(l, 0.0524, 5e-5) && close(u, 0.3339, 5e-5), "{l} {u}");
    }
}
