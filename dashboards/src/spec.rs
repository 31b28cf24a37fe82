//! The dashboard specification (TOML): which indicators, in which order, and
//! which baseline/follow-up distributions. `default.toml` is compiled in.

use serde::Deserialize;

use utfall_register::schema::PeriodType;

use crate::DashboardError;

/// The built-in specification.
pub const DEFAULT: &str = include_str!("../default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub title_sv: String,
    pub title_en: String,
    /// Period type of the trend charts: "month", "quarter" or "year".
    #[serde(default = "quarter")]
    pub trend_period: PeriodType,
    #[serde(default, rename = "indicator")]
    pub indicators: Vec<IndicatorRef>,
    #[serde(default, rename = "distribution")]
    pub distributions: Vec<Distribution>,
    /// The file it was read from, for messages.
    #[serde(skip)]
    pub source: String,
}

fn quarter() -> PeriodType {
    PeriodType::Quarter
}

/// One indicator (and for assessment indicators, its instrument and domain).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IndicatorRef {
    pub id: String,
    pub instrument: Option<String>,
    pub domain: Option<String>,
}

/// Scores at baseline and follow-up on one instrument and domain, binned.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distribution {
    pub instrument: String,
    pub domain: String,
    pub min: f64,
    pub max: f64,
    pub bin_width: f64,
}

impl Distribution {
    pub fn bins(&self) -> usize {
        ((self.max - self.min) / self.bin_width).ceil().max(1.0) as usize
    }
}

impl Spec {
    pub fn builtin() -> Spec {
        Spec::parse(DEFAULT, "dashboards/default.toml").expect("the built-in dashboard spec parses")
    }

    pub fn parse(text: &str, file: &str) -> Result<Spec, DashboardError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let mut spec: Spec = toml::from_str(text).map_err(|e| DashboardError::Spec {
            file: file.to_string(),
            line: e.span().map_or(0, |s| line_of(s.start)),
            message: e.message().to_string(),
        })?;
        let bad = |field: String, message: String| DashboardError::Spec {
            file: file.to_string(),
            line: 0,
            message: format!("{field}: {message}"),
        };
        spec.source = file.to_string();
        if spec.indicators.is_empty() {
            return Err(bad("indicator".into(), "the dashboard names no indicator".into()));
        }
        for (i, d) in spec.distributions.iter().enumerate() {
            if !(d.bin_width > 0.0 && d.max > d.min) || d.bins() > 200 {
                return Err(bad(
                    format!("distribution[{i}] ({}/{})", d.instrument, d.domain),
                    "needs max > min and 0 < bin_width, at most 200 bins".into(),
                ));
            }
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_spec_parses_and_errors_name_the_field() {
        let spec = Spec::builtin();
        assert!(spec.indicators.len() >= 5);
        assert_eq!(spec.distributions[0].bins(), 10);
        let e =
            Spec::parse("title_sv = \"a\"\ntitle_en = \"b\"\ntrend_period = \"week\"\n[[indicator]]\nid = \"x\"", "f")
                .unwrap_err()
                .to_string();
        assert!(e.contains("week") && e.contains("quarter"), "{e}");
        let e = Spec::parse("title_sv = \"a\"\ntitle_en = \"b\"\n[[indicator]]\nidd = \"x\"", "f.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("f.toml:4:") && e.contains("idd"), "{e}");
    }
}
