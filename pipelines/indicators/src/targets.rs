//! Client-centred targets per unit (e.g. "at least 70% not re-referred within
//! 12 months") and their status per period, read from the suppressed
//! indicators: met when the whole confidence interval is on the target's side,
//! not met when it is wholly on the other side, otherwise not measurable.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::catalogue::{Catalogue, CatalogueError, PeriodType};
use crate::stats::mover_diff;

/// The demo municipality's targets (`utfall demo` writes them beside the register).
pub const DEMO_TARGETS: &str = include_str!("../demo-targets.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargets {
    #[serde(default, rename = "target")]
    targets: Vec<RawTarget>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    id: Spanned<String>,
    indicator: String,
    /// Units the target applies to; empty or absent: every unit.
    #[serde(default)]
    units: Vec<String>,
    at_least: Option<f64>,
    at_most: Option<f64>,
    #[serde(default)]
    periods: Option<Vec<PeriodType>>,
    /// For assessment indicators: the instrument and domain the target is on.
    instrument: Option<String>,
    domain: Option<String>,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Direction {
    AtLeast,
    AtMost,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::AtLeast => "at_least",
            Direction::AtMost => "at_most",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub id: String,
    pub indicator: String,
    pub units: Vec<String>,
    pub direction: Direction,
    pub value: f64,
    pub periods: Vec<PeriodType>,
    pub instrument: Option<String>,
    pub domain: Option<String>,
    pub description: String,
}

#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub targets: Vec<Target>,
    pub sha256: Option<String>,
}

impl Targets {
    pub fn load(path: &Path, cat: &Catalogue) -> Result<Targets, CatalogueError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CatalogueError {
            file: file.clone(),
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
        Targets::parse(&text, &file, cat)
    }

    pub fn parse(text: &str, file: &str, cat: &Catalogue) -> Result<Targets, CatalogueError> {
        use sha2::{Digest, Sha256};
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let err = |line: usize, message: String| CatalogueError { file: file.to_string(), line, message };
        let raw: RawTargets = toml::from_str(text)
            .map_err(|e| err(e.span().map(|s| line_of(s.start)).unwrap_or(0), e.message().to_string()))?;
        let mut out = Vec::new();
        for t in raw.targets {
            let line = line_of(t.id.span().start);
            let id = t.id.into_inner();
            let bad = |m: String| err(line, format!("target '{id}': {m}"));
            let Some(ind) = cat.indicators.iter().find(|i| i.id == t.indicator) else {
                return Err(bad(format!("indicator '{}' is not in the catalogue", t.indicator)));
            };
            let (direction, value) = match (t.at_least, t.at_most) {
                (Some(v), None) => (Direction::AtLeast, v),
                (None, Some(v)) => (Direction::AtMost, v),
                _ => return Err(bad("give exactly one of at_least or at_most".into())),
            };
            if ind.measure() == crate::catalogue::Measure::Proportion && !(0.0..=1.0).contains(&value) {
                return Err(bad(format!("'{}' is a proportion: the target must be between 0 and 1", ind.id)));
            }
            let periods = t.periods.unwrap_or_else(|| vec![PeriodType::Year]);
            if let Some(p) = periods.iter().find(|p| !ind.periods.contains(p)) {
                return Err(bad(format!("indicator '{}' is not computed per {}", ind.id, p.name())));
            }
            if periods.iter().any(|&p| !cat.settings.published(p, Some(crate::catalogue::Split::Unit))) {
                return Err(bad("a target's status is per unit, and months are published per unit only where \
                     the catalogue's settings.monthly_splits names \"unit\""
                    .into()));
            }
            let assessment =
                ind.higher_is_better.is_none() || matches!(ind.spec, crate::catalogue::Spec::ReliableChange { .. });
            if assessment != (t.instrument.is_some() && t.domain.is_some()) {
                return Err(bad(if assessment {
                    format!("'{}' is per instrument and domain: give instrument and domain", ind.id)
                } else {
                    format!("'{}' has no instrument or domain", ind.id)
                }));
            }
            out.push(Target {
                id,
                indicator: t.indicator,
                units: t.units,
                direction,
                value,
                periods,
                instrument: t.instrument,
                domain: t.domain,
                description: t.description,
            });
        }
        Ok(Targets { targets: out, sha256: Some(hex::encode(Sha256::digest(text.as_bytes()))) })
    }
}

/// A published (possibly suppressed) indicator value for one unit and period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Published {
    pub n: Option<i64>,
    pub value: Option<f64>,
    pub ci: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub status: &'static str,
    pub reason: Option<&'static str>,
    pub change: Option<(f64, f64, f64)>,
    pub trend: &'static str,
}

/// Status of a target from this period's and the previous period's published value.
pub fn status(
    dir: Direction,
    target: f64,
    higher_is_better: bool,
    now: Option<Published>,
    before: Option<Published>,
) -> Status {
    let (status, reason) = match now {
        None => ("not_measurable", Some("no_data")),
        Some(Published { value: None, .. }) => ("not_measurable", Some("too_few")),
        Some(Published { ci: None, .. }) => ("not_measurable", Some("too_few")),
        Some(Published { ci: Some((lo, hi)), .. }) => {
            let (meets, fails) = match dir {
                Direction::AtLeast => (lo >= target, hi < target),
                Direction::AtMost => (hi <= target, lo > target),
            };
            if meets {
                ("met", None)
            } else if fails {
                ("not_met", None)
            } else {
                ("not_measurable", Some("interval_straddles_target"))
            }
        }
    };
    let estimate = |p: Option<Published>| match p {
        Some(Published { value: Some(v), ci: Some((l, h)), .. }) => Some((v, l, h)),
        _ => None,
    };
    let change = estimate(now).zip(estimate(before)).map(|(a, b)| mover_diff(a, b));
    let trend = match change {
        None => "not_measurable",
        Some((_, lo, _)) if lo > 0.0 => {
            if higher_is_better {
                "improving"
            } else {
                "worsening"
            }
        }
        Some((_, _, hi)) if hi < 0.0 => {
            if higher_is_better {
                "worsening"
            } else {
                "improving"
            }
        }
        Some(_) => "no_clear_change",
    };
    Status { status, reason, change, trend }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: f64, lo: f64, hi: f64) -> Option<Published> {
        Some(Published { n: Some(100), value: Some(v), ci: Some((lo, hi)) })
    }

    #[test]
    fn met_not_met_and_not_measurable() {
        let s = |now| status(Direction::AtLeast, 0.7, true, now, None);
        assert_eq!(s(p(0.8, 0.72, 0.86)).status, "met");
        assert_eq!(s(p(0.6, 0.52, 0.68)).status, "not_met");
        let straddle = s(p(0.72, 0.65, 0.78));
        assert_eq!((straddle.status, straddle.reason), ("not_measurable", Some("interval_straddles_target")));
        let hidden = s(Some(Published { n: None, value: None, ci: None }));
        assert_eq!((hidden.status, hidden.reason), ("not_measurable", Some("too_few")));
        assert_eq!(s(None).reason, Some("no_data"));
        let at_most = status(Direction::AtMost, 0.2, false, p(0.1, 0.05, 0.15), None);
        assert_eq!(at_most.status, "met");
    }

    #[test]
    fn trend_uses_the_interval_of_the_change() {
        let up = status(Direction::AtLeast, 0.7, true, p(0.8, 0.75, 0.85), p(0.6, 0.55, 0.65));
        assert_eq!(up.trend, "improving");
        let (d, lo, hi) = up.change.unwrap();
        assert!((d - 0.2).abs() < 1e-12 && lo > 0.0 && hi > d);
        let flat = status(Direction::AtLeast, 0.7, true, p(0.62, 0.55, 0.69), p(0.6, 0.53, 0.67));
        assert_eq!(flat.trend, "no_clear_change");
        let worse_is_up = status(Direction::AtMost, 0.2, false, p(0.3, 0.26, 0.34), p(0.1, 0.07, 0.13));
        assert_eq!(worse_is_up.trend, "worsening");
        assert_eq!(status(Direction::AtLeast, 0.7, true, p(0.8, 0.75, 0.85), None).trend, "not_measurable");
    }
}
