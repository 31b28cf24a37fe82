//! The contract specification (`contracts/NAME.toml`). Field names follow the
//! GO Lab INDIGO data standard where it has one (`outcome_metrics`,
//! `outcome_validation_method`, `data_source_for_outcome_validation`,
//! `price_per_unit`, `outcome_payment_commitments`...).

use chrono::{Months, NaiveDate};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utfall_register::schema::{self, Codes};

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: field `{field}`: {message}")]
    Invalid { file: String, field: String, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Who pays for outcomes, who invests, who delivers (INDIGO organisations).
    #[serde(default)]
    pub parties: Parties,
    pub target_group: TargetGroup,
    pub enrolment: Window,
    pub service: Service,
    /// Months after enrolment during which outcomes count.
    pub follow_up_months: u32,
    pub outcome_metrics: Vec<Metric>,
    pub pricing: Pricing,
    pub outcome_payment_periods: Vec<PaymentPeriod>,
    pub validation: Validation,
    #[serde(default)]
    pub simulation: Option<Simulation>,
    #[serde(skip)]
    pub sha256: String,
    #[serde(skip)]
    pub file: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parties {
    #[serde(default)]
    pub outcome_payer: String,
    #[serde(default)]
    pub investor: String,
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub evaluator: String,
}

/// The target group: a filter over the register. Enrolments are spells of
/// income support (ekonomiskt bistånd) that reach `consecutive_months`
/// consecutive paid months; the month they reach it is the index month.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    pub description: String,
    pub area: String,
    pub consecutive_months: u32,
    #[serde(default)]
    pub age_min: Option<i32>,
    #[serde(default)]
    pub age_max: Option<i32>,
    /// Payment reasons (codes of `payment_reason`) at the index month; empty = all.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Districts (codes); empty = all.
    #[serde(default)]
    pub districts: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    #[serde(deserialize_with = "date")]
    pub from: NaiveDate,
    #[serde(deserialize_with = "date")]
    pub to: NaiveDate,
}

use utfall_register::specfile::date;

/// Which interventions are the service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub description: String,
    pub intervention_types: Vec<String>,
    /// A granted service intervention in the enrolment's case starting within
    /// this many days of the index month's first day makes a participant.
    #[serde(default = "default_start_days")]
    pub max_days_to_start: i64,
}

fn default_start_days() -> i64 {
    31
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// An outcome observation (table `outcomes`) of `outcome_type` with value
    /// at least `min_value`, sustained: every observation of the type from
    /// the first positive one until `sustained` has passed is positive.
    Observation,
    /// The household receives no income support (table `payments`) for
    /// `sustained` consecutive calendar months after the index month.
    OffIncomeSupport,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub id: String,
    pub definition: String,
    pub kind: MetricKind,
    #[serde(default)]
    pub outcome_type: Option<String>,
    #[serde(default = "default_min_value")]
    pub min_value: f64,
    /// "0", "13 weeks", "6 months", "90 days".
    #[serde(default = "default_sustained")]
    pub sustained: String,
    /// Price per participant achieving it (INDIGO `price_per_unit`).
    pub price_per_unit: f64,
}

fn default_min_value() -> f64 {
    1.0
}
fn default_sustained() -> String {
    "0".into()
}

/// A sustainment window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Days(u32),
    Months(u32),
}

impl Span {
    pub fn parse(text: &str) -> Option<Span> {
        let t = text.trim();
        if t == "0" {
            return Some(Span::Days(0));
        }
        let (n, unit) = t.split_once(' ')?;
        let n: u32 = n.trim().parse().ok()?;
        match unit.trim() {
            "day" | "days" => Some(Span::Days(n)),
            "week" | "weeks" => Some(Span::Days(7 * n)),
            "month" | "months" => Some(Span::Months(n)),
            _ => None,
        }
    }

    pub fn after(self, d: NaiveDate) -> NaiveDate {
        match self {
            Span::Days(n) => d + chrono::Duration::days(i64::from(n)),
            Span::Months(n) => d.checked_add_months(Months::new(n)).expect("date in range"),
        }
    }

    pub fn is_zero(self) -> bool {
        matches!(self, Span::Days(0) | Span::Months(0))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Most paid for one participant over all metrics.
    pub cap_per_participant: f64,
    /// Most paid in total (INDIGO `maximum_potential_outcome_payment`).
    pub cap_total: f64,
}

fn default_currency() -> String {
    "SEK".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentPeriod {
    pub id: String,
    #[serde(deserialize_with = "date")]
    pub from: NaiveDate,
    #[serde(deserialize_with = "date")]
    pub to: NaiveDate,
    /// Planned outcome payments in the period (optional).
    #[serde(default)]
    pub planned: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Participants' mean against the comparison enrolments' mean, nothing
    /// adjusted: the estimate of a randomised design, and the first line of
    /// every report whatever the method.
    TwoGroupComparison,
    HistoricalComparison,
    PrePost,
    MatchedComparison,
    DifferenceInDifferences,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::TwoGroupComparison => "two_group_comparison",
            Method::HistoricalComparison => "historical_comparison",
            Method::PrePost => "pre_post",
            Method::MatchedComparison => "matched_comparison",
            Method::DifferenceInDifferences => "difference_in_differences",
        }
    }

    /// INDIGO's `outcome_validation_method` vocabulary.
    pub fn indigo(self) -> &'static str {
        match self {
            Method::TwoGroupComparison => "Randomised control trial / simple comparison",
            Method::HistoricalComparison => "Historical comparison",
            Method::PrePost => "Pre-Post analysis",
            Method::MatchedComparison | Method::DifferenceInDifferences => "Quasi-experimental study",
        }
    }
}

/// Covariates the propensity model may use, computed at the index month.
pub const COVARIATES: &[(&str, &str)] = &[
    ("age", "age of the client in the index year (years)"),
    ("sex", "sex (1 = woman)"),
    ("prior_spells", "earlier spells (cases) of income support of the client"),
    ("reason", "payment reason in the index month (one indicator per reason; the most common is the reference)"),
    ("months_on_support_12m", "months with income support for the household in the 12 months before the spell"),
    ("outcome_pre", "mean of the validation outcome in the pre-period quarters"),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    pub method: Method,
    /// The estimand, stated in the report.
    #[serde(default = "default_estimand")]
    pub estimand: String,
    /// The outcome the effect is estimated on: observations of this type
    /// (table `outcomes`), averaged over event quarters (0 = the index quarter).
    pub outcome_type: String,
    pub post_quarters: [i32; 2],
    #[serde(default = "default_pre")]
    pub pre_quarters: [i32; 2],
    #[serde(default)]
    pub covariates: Vec<String>,
    #[serde(default = "default_caliper")]
    pub caliper_sd: f64,
    /// The historical cohort (method `historical_comparison`).
    #[serde(default)]
    pub historical: Option<Window>,
    #[serde(default = "default_bootstrap")]
    pub bootstrap_replicates: usize,
    /// The least share of bootstrap replicates that must give an estimate;
    /// below it no interval is reported (the study stops, naming the reasons).
    #[serde(default = "default_min_replicate_share")]
    pub min_replicate_share: f64,
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_min_replicate_share() -> f64 {
    0.95
}

fn default_estimand() -> String {
    "ATT: the average effect of the service on the participants (the treated)".into()
}
fn default_pre() -> [i32; 2] {
    [-4, -1]
}
fn default_caliper() -> f64 {
    0.2
}
fn default_bootstrap() -> usize {
    999
}
fn default_seed() -> u64 {
    2021
}

/// `utfall contract simulate`: payments and investor return before signing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Simulation {
    /// The outcome metric the assumed effects act on (default: the first).
    #[serde(default)]
    pub metric: Option<String>,
    /// Assumed effects: percentage-point increases (0.05 = 5 points) in the
    /// share of participants achieving that metric.
    pub effects: Vec<f64>,
    /// Shares of the eligible who enrol.
    pub take_up: Vec<f64>,
    pub follow_up_months: Vec<u32>,
    /// Upfront cost of the service per participant, funded by the investor.
    pub investment_per_participant: f64,
    #[serde(default = "default_sim_replications")]
    pub replications: usize,
    #[serde(default = "default_seed")]
    pub seed: u64,
}

impl Simulation {
    /// Index of the metric the effects act on.
    pub fn metric_index(&self, spec: &Spec) -> usize {
        self.metric.as_ref().and_then(|m| spec.outcome_metrics.iter().position(|x| &x.id == m)).unwrap_or(0)
    }
}

fn default_sim_replications() -> usize {
    400
}

/// The codes of one of the register's fixed code lists.
fn codes(list: &str) -> Vec<&'static str> {
    match schema::CODE_LISTS.iter().find(|c| c.name == list).map(|c| &c.codes) {
        Some(Codes::Fixed(c)) => c.iter().map(|c| c.0).collect(),
        _ => Vec::new(),
    }
}

impl Spec {
    pub fn read(path: &std::path::Path) -> Result<Spec, SpecError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| SpecError::Parse { file: file.clone(), message: e.to_string() })?;
        Spec::parse(&text, &file)
    }

    /// Read a specification with some `[validation]` fields replaced (the
    /// command line's overrides); the result is checked like any spec.
    pub fn read_with(path: &std::path::Path, validation: &[(&str, toml::Value)]) -> Result<Spec, SpecError> {
        if validation.is_empty() {
            return Spec::read(path);
        }
        let file = path.display().to_string();
        let parse_err = |message: String| SpecError::Parse { file: file.clone(), message };
        let text = std::fs::read_to_string(path).map_err(|e| parse_err(e.to_string()))?;
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| parse_err(e.to_string()))?;
        let v = table
            .entry("validation")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| parse_err("`validation` is not a table".into()))?;
        let mut edited = text.clone();
        for (key, value) in validation {
            v.insert(key.to_string(), value.clone());
            edited.push_str(&format!("\n# override: validation.{key} = {value}"));
        }
        let mut spec: Spec = table.try_into().map_err(|e: toml::de::Error| parse_err(e.to_string()))?;
        spec.sha256 = hex::encode(Sha256::digest(edited.as_bytes()));
        spec.file = file;
        spec.check()?;
        Ok(spec)
    }

    pub fn parse(text: &str, file: &str) -> Result<Spec, SpecError> {
        let mut spec: Spec =
            toml::from_str(text).map_err(|e| SpecError::Parse { file: file.to_string(), message: e.to_string() })?;
        spec.sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        spec.file = file.to_string();
        spec.check()?;
        Ok(spec)
    }

    fn invalid(&self, field: impl Into<String>, message: impl Into<String>) -> SpecError {
        SpecError::Invalid { file: self.file.clone(), field: field.into(), message: message.into() }
    }

    pub fn span(&self, i: usize) -> Span {
        Span::parse(&self.outcome_metrics[i].sustained).expect("checked")
    }

    fn check(&self) -> Result<(), SpecError> {
        self.check_target_group()?;
        self.check_service()?;
        self.check_metrics()?;
        self.check_pricing()?;
        self.check_validation()?;
        self.check_simulation()
    }

    fn check_target_group(&self) -> Result<(), SpecError> {
        let t = &self.target_group;
        if t.area != "financial_assistance" {
            return Err(self.invalid(
                "target_group.area",
                format!(
                    "`{}`: enrolments are spells of income support; only `financial_assistance` is supported",
                    t.area
                ),
            ));
        }
        if t.consecutive_months == 0 {
            return Err(self.invalid("target_group.consecutive_months", "must be at least 1"));
        }
        if let (Some(a), Some(b)) = (t.age_min, t.age_max)
            && a > b
        {
            return Err(self.invalid("target_group.age_max", format!("{b} is below age_min {a}")));
        }
        let reasons = codes("payment_reason");
        for (i, r) in t.reasons.iter().enumerate() {
            if !reasons.contains(&r.as_str()) {
                return Err(self.invalid(
                    format!("target_group.reasons[{i}]"),
                    format!("unknown payment reason `{r}`; known: {}", reasons.join(", ")),
                ));
            }
        }
        if self.enrolment.from > self.enrolment.to {
            return Err(self.invalid("enrolment.to", "the enrolment window ends before it starts"));
        }
        Ok(())
    }

    fn check_service(&self) -> Result<(), SpecError> {
        let types = codes("intervention_type");
        if self.service.intervention_types.is_empty() {
            return Err(self.invalid("service.intervention_types", "name at least one intervention type"));
        }
        for (i, s) in self.service.intervention_types.iter().enumerate() {
            if !types.contains(&s.as_str()) {
                return Err(self.invalid(
                    format!("service.intervention_types[{i}]"),
                    format!("unknown intervention type `{s}`; known: {}", types.join(", ")),
                ));
            }
        }
        if self.follow_up_months == 0 {
            return Err(self.invalid("follow_up_months", "must be at least 1"));
        }
        Ok(())
    }

    fn check_metrics(&self) -> Result<(), SpecError> {
        let outcome_types = codes("outcome_type");
        if self.outcome_metrics.is_empty() {
            return Err(self.invalid("outcome_metrics", "define at least one outcome metric"));
        }
        let mut seen = std::collections::BTreeMap::new();
        for (i, m) in self.outcome_metrics.iter().enumerate() {
            let at = |f: &str| format!("outcome_metrics[{i}].{f}");
            if let Some(j) = seen.insert(m.id.clone(), i) {
                return Err(self.invalid(at("id"), format!("`{}` is also outcome_metrics[{j}].id", m.id)));
            }
            let Some(span) = Span::parse(&m.sustained) else {
                return Err(self.invalid(
                    at("sustained"),
                    format!("`{}`: write \"0\", \"N days\", \"N weeks\" or \"N months\"", m.sustained),
                ));
            };
            match m.kind {
                MetricKind::Observation => match &m.outcome_type {
                    None => {
                        return Err(self.invalid(at("outcome_type"), "an observation metric names its outcome_type"));
                    }
                    Some(o) if !outcome_types.contains(&o.as_str()) => {
                        return Err(self.invalid(
                            at("outcome_type"),
                            format!("unknown outcome type `{o}`; known: {}", outcome_types.join(", ")),
                        ));
                    }
                    _ => {}
                },
                MetricKind::OffIncomeSupport => {
                    if m.outcome_type.is_some() {
                        return Err(self.invalid(
                            at("outcome_type"),
                            "off_income_support is read from payments; remove outcome_type",
                        ));
                    }
                    if !matches!(span, Span::Months(n) if n > 0) {
                        return Err(self.invalid(
                            at("sustained"),
                            "income support is paid by month: write the sustainment as \"N months\" (N at least 1)",
                        ));
                    }
                }
            }
            if !(m.price_per_unit.is_finite() && m.price_per_unit >= 0.0) {
                return Err(self.invalid(at("price_per_unit"), "must be a non-negative amount"));
            }
            if m.price_per_unit > self.pricing.cap_per_participant {
                return Err(self.invalid(
                    "pricing.cap_per_participant",
                    format!(
                        "{} is below the price of outcome metric `{}` ({}): that outcome could never be paid in full",
                        self.pricing.cap_per_participant, m.id, m.price_per_unit
                    ),
                ));
            }
        }
        // Two metrics measuring the same thing over the same window pay twice for one outcome.
        for (i, a) in self.outcome_metrics.iter().enumerate() {
            for (j, b) in self.outcome_metrics.iter().enumerate().skip(i + 1) {
                if a.kind == b.kind
                    && a.outcome_type == b.outcome_type
                    && a.min_value == b.min_value
                    && Span::parse(&a.sustained) == Span::parse(&b.sustained)
                {
                    return Err(self.invalid(
                        format!("outcome_metrics[{j}].sustained"),
                        format!("`{}` has the same definition and sustainment window as `{}`", b.id, a.id),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Caps and payment periods.
    fn check_pricing(&self) -> Result<(), SpecError> {
        if self.pricing.cap_total < self.pricing.cap_per_participant {
            return Err(self.invalid(
                "pricing.cap_total",
                format!("{} is below cap_per_participant {}", self.pricing.cap_total, self.pricing.cap_per_participant),
            ));
        }
        if self.outcome_payment_periods.is_empty() {
            return Err(self.invalid("outcome_payment_periods", "define at least one payment period"));
        }
        let mut periods: Vec<(usize, &PaymentPeriod)> = self.outcome_payment_periods.iter().enumerate().collect();
        for (i, p) in &periods {
            if p.from > p.to {
                return Err(
                    self.invalid(format!("outcome_payment_periods[{i}].to"), "the period ends before it starts")
                );
            }
        }
        periods.sort_by_key(|(_, p)| p.from);
        for w in periods.windows(2) {
            if w[1].1.from <= w[0].1.to {
                return Err(self.invalid(
                    format!("outcome_payment_periods[{}]", w[1].0),
                    format!(
                        "`{}` ({}..{}) overlaps `{}` ({}..{})",
                        w[1].1.id, w[1].1.from, w[1].1.to, w[0].1.id, w[0].1.from, w[0].1.to
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_validation(&self) -> Result<(), SpecError> {
        let outcome_types = codes("outcome_type");
        let v = &self.validation;
        if !outcome_types.contains(&v.outcome_type.as_str()) {
            return Err(self.invalid(
                "validation.outcome_type",
                format!("unknown outcome type `{}`; known: {}", v.outcome_type, outcome_types.join(", ")),
            ));
        }
        if v.post_quarters[0] < 1 || v.post_quarters[0] > v.post_quarters[1] {
            return Err(self.invalid("validation.post_quarters", "write [first, last] with 1 <= first <= last"));
        }
        if v.pre_quarters[1] > -1 || v.pre_quarters[0] > v.pre_quarters[1] {
            return Err(self.invalid("validation.pre_quarters", "write [first, last] with first <= last <= -1"));
        }
        for (i, c) in v.covariates.iter().enumerate() {
            if !COVARIATES.iter().any(|(n, _)| n == c) {
                let known: Vec<&str> = COVARIATES.iter().map(|c| c.0).collect();
                return Err(self.invalid(
                    format!("validation.covariates[{i}]"),
                    format!("unknown covariate `{c}`; known: {}", known.join(", ")),
                ));
            }
        }
        if v.method == Method::MatchedComparison && v.covariates.is_empty() {
            return Err(
                self.invalid("validation.covariates", "a matched comparison needs covariates for its propensity model")
            );
        }
        if v.caliper_sd.is_nan() || v.caliper_sd <= 0.0 {
            return Err(self.invalid("validation.caliper_sd", "must be positive"));
        }
        if !(v.min_replicate_share > 0.0 && v.min_replicate_share <= 1.0) {
            return Err(self.invalid("validation.min_replicate_share", "a share above 0 and at most 1 (0.95 = 95%)"));
        }
        if v.bootstrap_replicates < 50 {
            return Err(self.invalid("validation.bootstrap_replicates", "use at least 50 (999 recommended)"));
        }
        match (&v.historical, v.method) {
            (None, Method::HistoricalComparison) => {
                return Err(self.invalid("validation.historical", "a historical comparison names its cohort's window"));
            }
            (Some(h), _) if h.from > h.to => {
                return Err(self.invalid("validation.historical.to", "the window ends before it starts"));
            }
            (Some(h), Method::HistoricalComparison) if h.to >= self.enrolment.from => {
                return Err(self.invalid(
                    "validation.historical",
                    format!(
                        "the historical cohort ({}..{}) overlaps the enrolment window from {}",
                        h.from, h.to, self.enrolment.from
                    ),
                ));
            }
            _ => {}
        }
        Ok(())
    }

    fn check_simulation(&self) -> Result<(), SpecError> {
        if let Some(s) = &self.simulation {
            for (field, empty) in [
                ("effects", s.effects.is_empty()),
                ("take_up", s.take_up.is_empty()),
                ("follow_up_months", s.follow_up_months.is_empty()),
            ] {
                if empty {
                    return Err(self.invalid(format!("simulation.{field}"), "give at least one value"));
                }
            }
            for (i, e) in s.effects.iter().enumerate() {
                if !(-1.0..=1.0).contains(e) {
                    return Err(
                        self.invalid(format!("simulation.effects[{i}]"), "a share between -1 and 1 (0.05 = 5 points)")
                    );
                }
            }
            for (i, t) in s.take_up.iter().enumerate() {
                if !(*t > 0.0 && *t <= 1.0) {
                    return Err(self.invalid(format!("simulation.take_up[{i}]"), "a share above 0 and at most 1"));
                }
            }
            if let Some(m) = &s.metric
                && !self.outcome_metrics.iter().any(|x| &x.id == m)
            {
                return Err(self.invalid("simulation.metric", format!("unknown outcome metric `{m}`")));
            }
            if s.replications < 10 {
                return Err(self.invalid("simulation.replications", "use at least 10"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        let d = NaiveDate::from_ymd_opt(2023, 1, 31).unwrap();
        assert_eq!(Span::parse("13 weeks").unwrap().after(d), NaiveDate::from_ymd_opt(2023, 5, 2).unwrap());
        assert_eq!(Span::parse("1 month").unwrap().after(d), NaiveDate::from_ymd_opt(2023, 2, 28).unwrap());
        assert!(Span::parse("0").unwrap().is_zero());
        assert_eq!(Span::parse("6 fortnights"), None);
    }
}
