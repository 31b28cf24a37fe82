//! The one disclosure policy (*röjandeskydd*) of utfall: everything a
//! manager, a committee or a reader of a report sees passes through it.
//!
//! - [`Policy`] owns the threshold: a count below it is never shown. It comes
//!   from the indicator catalogue's `settings.threshold` (recorded in the
//!   build's manifest by `utfall indicators`) or a `--threshold` override,
//!   and every output records the policy it was made under.
//! - [`cells`]: primary and complementary suppression of linked tables
//!   (totals, splits, periods), and the exact audit that no withheld cell can
//!   be recomputed.
//! - [`bins`]: a distribution's bins against the threshold, and against a
//!   wider population it could be subtracted from.
//!
//! Withheld values are written [`WITHHELD`] (`..`, as Kolada and SCB write them).

use serde::{Deserialize, Serialize};
use utfall_register::store::Manifest;

pub mod attack;
pub mod bins;
pub mod cells;

/// Shown in place of a withheld value.
pub const WITHHELD: &str = "..";

/// The threshold when neither the catalogue nor the user sets one.
pub const DEFAULT_THRESHOLD: u32 = 5;

/// Where a policy's threshold came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The indicator catalogue's `settings.threshold`, as recorded in the build.
    Catalogue,
    /// The user's `--threshold`.
    Override,
    /// No indicators were computed in the build and no override was given.
    Default,
}

/// The disclosure policy every output is made under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Counts below it are withheld.
    pub threshold: u32,
    pub source: Source,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadThreshold {
    #[error("the disclosure threshold must be at least 1 (got {0})")]
    Zero(u32),
    #[error(
        "--threshold {given} is below the threshold {published} this build's indicators were published under; \
         a threshold can be raised for a report, not lowered"
    )]
    Lowered { given: u32, published: u32 },
}

impl Source {
    /// The source of a threshold that is the catalogue's unless `--threshold` replaced it.
    pub fn of_catalogue(overridden: bool) -> Source {
        if overridden { Source::Override } else { Source::Catalogue }
    }
}

impl Policy {
    pub fn new(threshold: u32, source: Source) -> Result<Policy, BadThreshold> {
        if threshold == 0 { Err(BadThreshold::Zero(threshold)) } else { Ok(Policy { threshold, source }) }
    }

    /// The policy for outputs made from a build: the user's override, else the
    /// threshold its indicators were published under, else the default. An
    /// override may raise the build's threshold, never lower it (one policy
    /// for everything published from a build).
    pub fn for_build(manifest: &Manifest, threshold: Option<u32>) -> Result<Policy, BadThreshold> {
        match (threshold, &manifest.indicators) {
            (Some(given), Some(run)) if given < run.threshold => {
                Err(BadThreshold::Lowered { given, published: run.threshold })
            }
            (Some(t), _) => Policy::new(t, Source::Override),
            (None, Some(run)) => Policy::new(run.threshold, Source::of_catalogue(run.threshold_overridden)),
            (None, None) => Policy::new(DEFAULT_THRESHOLD, Source::Default),
        }
    }

    /// A count that may not be shown (zero included: "none of them" can
    /// disclose as much as "one of them").
    pub fn is_small(&self, n: u64) -> bool {
        n < u64::from(self.threshold)
    }

    /// Primary suppression of a cell: its count `n` is small, or for a
    /// proportion its numerator or its complement (`n - numerator`) is.
    pub fn primary(&self, n: u64, numerator: Option<u64>) -> bool {
        self.is_small(n) || numerator.is_some_and(|k| self.is_small(k) || self.is_small(n.saturating_sub(k)))
    }

    /// A count as it may be shown: the number, or `<T` (T the threshold).
    pub fn count(&self, n: u64) -> String {
        if self.is_small(n) { format!("<{}", self.threshold) } else { n.to_string() }
    }

    /// One line for a page's or a table's metadata, in Swedish and English.
    pub fn describe(&self) -> String {
        let t = self.threshold;
        let from = match self.source {
            Source::Catalogue => "indikatorkatalogen (the indicator catalogue)",
            Source::Override => "angiven vid körningen (given on the command line)",
            Source::Default => "standardvärde (the default)",
        };
        format!("antal under {t} visas inte (counts below {t} are withheld); tröskel från {from}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_counts_and_proportions() {
        let p = Policy::new(10, Source::Override).unwrap();
        assert!(p.is_small(0) && p.is_small(9) && !p.is_small(10));
        assert!(p.primary(30, Some(25)), "the complement 5 is small");
        assert!(!p.primary(30, Some(15)));
        assert_eq!(p.count(9), "<10");
        assert_eq!(p.count(10), "10");
        assert!(Policy::new(0, Source::Override).is_err());
    }
}
