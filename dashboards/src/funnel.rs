//! Funnel-plot control limits: how far a unit of size n can lie from the
//! municipality's value by chance alone (Spiegelhalter 2005, "Funnel plots for
//! comparing institutional performance", Stat Med 24:1185).
//!
//! - Proportions: exact binomial limits with Spiegelhalter's interpolation
//!   between the discrete quantiles (the method of England's public-health
//!   observatories): with r the smallest count whose binomial CDF reaches the
//!   probability p, alpha = (F(r) - p) / (F(r) - F(r - 1)) and the limit is
//!   (r - alpha) / n.
//! - Means: the normal limits mu +- z * sd / sqrt(n), sd the municipality's
//!   standard deviation per counted row.
//!
//! The limits are drawn at 95% (2 sd) and 99.8% (3 sd). A unit outside the
//! 99.8% limits differs from the municipality by more than chance would
//! explain in about one comparison of 500.

use statrs::distribution::{Binomial, ContinuousCDF, DiscreteCDF, Normal};

/// The two control levels drawn (two-sided coverage).
pub const LEVELS: [f64; 2] = [0.95, 0.998];

/// Lower and upper limit of a proportion's funnel at size `n` around `p0`,
/// for the two-sided `level` (e.g. 0.95).
pub fn proportion_limits(p0: f64, n: u64, level: f64) -> (f64, f64) {
    let tail = (1.0 - level) / 2.0;
    (binomial_limit(p0, n, tail), binomial_limit(p0, n, 1.0 - tail))
}

/// Spiegelhalter's interpolated binomial quantile, as a proportion of n.
pub fn binomial_limit(p0: f64, n: u64, p: f64) -> f64 {
    assert!(n > 0, "a funnel limit needs n > 0");
    let p0 = p0.clamp(0.0, 1.0);
    if p0 == 0.0 || p0 == 1.0 {
        return p0;
    }
    let dist = Binomial::new(p0, n).expect("0 < p0 < 1");
    // Smallest r with F(r) >= p (F is increasing; F(n) = 1).
    let (mut lo, mut hi) = (0u64, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if dist.cdf(mid) >= p { hi = mid } else { lo = mid + 1 }
    }
    let r = lo;
    let f_r = dist.cdf(r);
    let f_before = if r == 0 { 0.0 } else { dist.cdf(r - 1) };
    let alpha = if f_r > f_before { (f_r - p) / (f_r - f_before) } else { 0.0 };
    ((r as f64 - alpha) / n as f64).clamp(0.0, 1.0)
}

/// Lower and upper limit of a mean's funnel at size `n`.
pub fn mean_limits(mu: f64, sd: f64, n: u64, level: f64) -> (f64, f64) {
    let z = Normal::standard().inverse_cdf(1.0 - (1.0 - level) / 2.0);
    let half = z * sd / (n as f64).sqrt();
    (mu - half, mu + half)
}

/// Where a unit lies against the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Within the 95% limits: the variation chance alone gives.
    Within,
    /// Between the 95% and 99.8% limits, above or below.
    Alert { above: bool },
    /// Outside the 99.8% limits.
    Alarm { above: bool },
}

/// The centre line and its limits for one indicator and period.
#[derive(Debug, Clone, Copy)]
pub enum Centre {
    Proportion { p0: f64 },
    Mean { mu: f64, sd: f64 },
}

impl Centre {
    pub fn value(&self) -> f64 {
        match *self {
            Centre::Proportion { p0 } => p0,
            Centre::Mean { mu, .. } => mu,
        }
    }

    pub fn limits(&self, n: u64, level: f64) -> (f64, f64) {
        match *self {
            Centre::Proportion { p0 } => proportion_limits(p0, n, level),
            Centre::Mean { mu, sd } => mean_limits(mu, sd, n, level),
        }
    }

    pub fn position(&self, n: u64, value: f64) -> Position {
        let (lo98, hi98) = self.limits(n, LEVELS[1]);
        let (lo95, hi95) = self.limits(n, LEVELS[0]);
        if value > hi98 || value < lo98 {
            Position::Alarm { above: value > hi98 }
        } else if value > hi95 || value < lo95 {
            Position::Alert { above: value > hi95 }
        } else {
            Position::Within
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The interpolated limit by a linear scan over the binomial CDF summed
    /// term by term (pmf by the recurrence, in logs), independent of statrs.
    fn limit_by_scan(p0: f64, n: u64, p: f64) -> f64 {
        let mut ln_pmf = n as f64 * (1.0 - p0).ln();
        let (mut before, mut f) = (0.0, 0.0);
        for r in 0..=n {
            if r > 0 {
                ln_pmf += ((n - r + 1) as f64).ln() - (r as f64).ln() + (p0 / (1.0 - p0)).ln();
            }
            f += ln_pmf.exp();
            if f >= p {
                return ((r as f64 - (f - p) / (f - before)) / n as f64).max(0.0);
            }
            before = f;
        }
        1.0
    }

    #[test]
    fn binomial_limits_equal_an_independent_computation() {
        for &(p0, n) in &[(0.7, 20), (0.7, 100), (0.7, 537), (0.05, 40), (0.5, 1000), (0.93, 250), (0.3, 7)] {
            for &level in &LEVELS {
                let (lo, hi) = proportion_limits(p0, n, level);
                let tail = (1.0 - level) / 2.0;
                let (elo, ehi) = (limit_by_scan(p0, n, tail), limit_by_scan(p0, n, 1.0 - tail));
                assert!(
                    (lo - elo).abs() < 1e-9 && (hi - ehi).abs() < 1e-9,
                    "p0 {p0} n {n} level {level}: {lo} {hi} vs {elo} {ehi}"
                );
                assert!(lo < p0 && p0 < hi);
            }
        }
    }

    #[test]
    fn binomial_limits_approach_the_normal_ones_and_narrow_with_n() {
        // For large n the binomial limits are close to p0 +- z sqrt(p0 (1 - p0) / n).
        let (p0, n) = (0.5, 10_000);
        let (lo, hi) = proportion_limits(p0, n, 0.95);
        let half = 1.959964 * (p0 * (1.0 - p0) / n as f64).sqrt();
        assert!((lo - (p0 - half)).abs() < 2e-4 && (hi - (p0 + half)).abs() < 2e-4, "{lo} {hi}");
        let width = |n| {
            let (l, h) = proportion_limits(0.7, n, 0.998);
            h - l
        };
        assert!(width(50) > width(200) && width(200) > width(800));
        let (l95, h95) = proportion_limits(0.7, 200, 0.95);
        let (l998, h998) = proportion_limits(0.7, 200, 0.998);
        assert!(l998 < l95 && h95 < h998);
    }

    #[test]
    fn mean_limits_and_positions() {
        let c = Centre::Mean { mu: 50.0, sd: 10.0 };
        let (lo, hi) = c.limits(100, 0.95);
        assert!((lo - (50.0 - 1.959964)).abs() < 1e-5 && (hi - (50.0 + 1.959964)).abs() < 1e-5);
        let (_, hi998) = c.limits(100, 0.998);
        assert!((hi998 - (50.0 + 3.090232)).abs() < 1e-5);
        assert_eq!(c.position(100, 51.0), Position::Within);
        assert_eq!(c.position(100, 52.5), Position::Alert { above: true });
        assert_eq!(c.position(100, 46.0), Position::Alarm { above: false });
        let p = Centre::Proportion { p0: 0.7 };
        assert_eq!(p.position(400, 0.7), Position::Within);
        assert_eq!(p.position(400, 0.5), Position::Alarm { above: false });
    }
}
