//! The contract specification (`contracts/NAME.toml`). Field names follow the
//! GO Lab INDIGO data standard where it has one (`outcome_metrics`,
//! `outcome_validation_method`, `data_source_for_outcome_validation`,
//! `price_per_unit`, `outcome_payment_commitments`...).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utfall_definitions::cohort::{EntrySpec, RequireSpec};
use utfall_definitions::variable::{By, DateSpec, FilterValue, check_filter, date_columns, table_named};
use utfall_definitions::{
    Aggregate, Cohort, CohortSpec, DefinitionError, Offset, Role, Variable, VariableSpec, Window as DefWindow,
};
use utfall_register::schema::Table;

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
    /// What is known at each index date: the target group's criteria and
    /// the matching covariates (the definition language's variables).
    #[serde(default)]
    pub variable: Vec<VariableSpec>,
    pub outcome_metrics: Vec<Metric>,
    /// Payments for the service delivered, whatever the outcomes.
    #[serde(default)]
    pub activity_payments: Vec<ActivityPayment>,
    /// Payments from measured savings in the participants' costs.
    #[serde(default)]
    pub savings: Option<Savings>,
    /// The investor's capital, the share of it guaranteed on activity and the cap on its return.
    #[serde(default)]
    pub investment: Option<Investment>,
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

/// The target group, written in the definition language: an entry event
/// (`[target_group.entry]`: any register table, a filter, a spell, the age at
/// the index date) and requirements on the spec's `[[variable]]`s (known at
/// the index date). The enrolment window and the historical window choose
/// the index dates, so the entry gives no `from` or `to`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    pub description: String,
    pub entry: EntrySpec,
    #[serde(default)]
    pub require: Vec<RequireSpec>,
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

/// The service: rows of a register table (by default granted interventions
/// of the service's types) starting within `within` of the index date. The
/// first such row makes the enrolment a participant; for the others, a later
/// row censors their outcomes from its date.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub description: String,
    #[serde(default = "default_service_table")]
    pub table: String,
    #[serde(default, rename = "where")]
    pub filter: BTreeMap<String, FilterValue>,
    /// The service's start: a date column, or several (the first present).
    #[serde(default)]
    pub date: Option<DateSpec>,
    #[serde(default = "default_within")]
    pub within: DefWindow,
    /// Only a start in the enrolment's own case makes a participant.
    #[serde(default)]
    pub same_case: bool,
    /// The date column the service ends on (for payments per month in
    /// service); a row without one is still in service.
    #[serde(default)]
    pub until: Option<String>,
}

fn default_service_table() -> String {
    "interventions".into()
}

fn default_within() -> DefWindow {
    DefWindow::parse("[0, 31d]").expect("a window")
}

/// An outcome metric: an event in the definition language (an
/// [[outcome]] whose window is the follow-up, `(0, follow_up_months]` from
/// enrolment) and the price paid when a participant achieves it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub id: String,
    pub definition: String,
    pub table: String,
    pub aggregate: Aggregate,
    #[serde(default)]
    pub column: Option<String>,
    #[serde(default)]
    pub date: Option<DateSpec>,
    #[serde(default, rename = "where")]
    pub filter: BTreeMap<String, FilterValue>,
    #[serde(default)]
    pub by: By,
    #[serde(default)]
    pub at_least: Option<f64>,
    #[serde(default, rename = "for")]
    pub lasting: Option<Offset>,
    /// Price per participant achieving it (INDIGO `price_per_unit`).
    pub price_per_unit: f64,
}

impl Metric {
    /// The metric as a variable over a follow-up of `months` from enrolment.
    pub fn variable(&self, months: u32) -> VariableSpec {
        VariableSpec {
            name: self.id.clone(),
            table: self.table.clone(),
            aggregate: self.aggregate,
            column: self.column.clone(),
            date: self.date.clone(),
            window: Some(if self.aggregate.is_change() { with_start(months) } else { follow_up(months) }),
            filter: self.filter.clone(),
            by: self.by,
            at_least: self.at_least,
            lasting: self.lasting,
            ..VariableSpec::new(&self.id, &self.table, self.aggregate)
        }
    }

    /// The metric's rule as written, for reports: aggregate, table, filter.
    pub fn rule(&self) -> String {
        let mut parts = vec![format!("{} of {}", self.aggregate.name(), self.table)];
        let filter: Vec<String> = self.filter.iter().map(|(k, v)| format!("{k} = {}", filter_text(v))).collect();
        if !filter.is_empty() {
            parts.push(format!("where {}", filter.join(", ")));
        }
        if let (Some(c), Some(a)) = (&self.column, self.at_least) {
            parts.push(format!("{c} at least {a}"));
        }
        if let Some(l) = self.lasting {
            parts.push(format!("for {l}"));
        }
        if self.by != By::Client {
            parts.push(format!("by {}", self.by.name()));
        }
        parts.join(", ")
    }

    /// What the metric measures, without its id and price: two metrics that
    /// agree here pay twice for one outcome.
    fn definition_key(&self) -> String {
        format!(
            "{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.table, self.aggregate, self.column, self.date, self.filter, self.by, self.at_least, self.lasting
        )
    }
}

/// What an activity payment is paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    /// Once per participant, on the service's start.
    Participant,
    /// Per whole month in service (calendar months from the start, up to the
    /// service's end, the follow-up's end and the export date), each paid
    /// on the day it completes.
    MonthInService,
}

/// A payment on activity (INDIGO: a payment for an output): the service
/// delivered is paid for whatever the outcomes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityPayment {
    pub id: String,
    pub definition: String,
    pub per: Per,
    pub price: f64,
    /// `month_in_service`: at most this many months per participant.
    #[serde(default)]
    pub max_months: Option<u32>,
}

/// How the savings' comparison group is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SavingsBasis {
    /// Pay on the estimate.
    #[default]
    Estimate,
    /// Pay only what the 95% interval's lower end shows.
    LowerBound,
}

/// One item of the participants' cost to the social services over the
/// follow-up: a variable of the definition language (`sum` of an amount,
/// `count` of rows, `days_in` of spans, `months_with` rows) times a price.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostItem {
    pub name: String,
    pub table: String,
    pub aggregate: Aggregate,
    #[serde(default)]
    pub column: Option<String>,
    #[serde(default)]
    pub date: Option<DateSpec>,
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default, rename = "where")]
    pub filter: BTreeMap<String, FilterValue>,
    #[serde(default)]
    pub by: By,
    /// Price per unit of the value: per day (`days_in`), per row (`count`),
    /// per month (`months_with`); 1 for a `sum` of amounts.
    #[serde(default = "one")]
    pub price: f64,
}

fn one() -> f64 {
    1.0
}

/// A change from baseline's follow-up: `[0, months]`, the day of enrolment
/// included (a baseline taken when the service starts).
fn with_start(months: u32) -> DefWindow {
    DefWindow::parse(&format!("[0, {months}m]")).expect("a window")
}

/// The follow-up of a metric or a cost: `(0, months]` from enrolment.
fn follow_up(months: u32) -> DefWindow {
    DefWindow::parse(&format!("(0, {months}m]")).expect("a window")
}

impl CostItem {
    /// The item as a variable over a follow-up of `months` from enrolment.
    pub fn variable(&self, months: u32) -> VariableSpec {
        VariableSpec {
            name: self.name.clone(),
            table: self.table.clone(),
            aggregate: self.aggregate,
            column: self.column.clone(),
            date: self.date.clone(),
            window: Some(follow_up(months)),
            filter: self.filter.clone(),
            by: self.by,
            until: self.until.clone(),
            ..VariableSpec::new(&self.name, &self.table, self.aggregate)
        }
    }
}

/// Savings-based payments: the participants' cost to the social services
/// over the follow-up against the comparison group's (the cost items, per
/// enrolment whose whole follow-up is observed), with a household bootstrap
/// interval; the payer pays `share` of the measured savings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Savings {
    pub definition: String,
    /// matched_comparison (on `covariates`), two_group_comparison or historical_comparison.
    #[serde(default = "savings_method")]
    pub method: Method,
    /// The matching covariates (default: the validation's).
    #[serde(default)]
    pub covariates: Option<Vec<String>>,
    /// Share of the measured savings paid (0.5 = half).
    pub share: f64,
    #[serde(default)]
    pub basis: SavingsBasis,
    /// The day the savings are settled (default: the last payment period's end).
    #[serde(default, deserialize_with = "utfall_register::specfile::option_date")]
    pub settled: Option<NaiveDate>,
    pub cost: Vec<CostItem>,
}

fn savings_method() -> Method {
    Method::MatchedComparison
}

/// The investor's side (Norrköping: up to 10 MSEK up front, 40% repaid on
/// activity whatever the outcomes, the rest only from outcomes and savings,
/// the return capped at 20%).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Investment {
    /// Capital the investor puts up front.
    pub amount: f64,
    /// Share of the capital the activity payments may repay (0.4 = 40%);
    /// activity payments beyond it are not paid.
    #[serde(default = "one")]
    pub guaranteed_share: f64,
    /// The investor's return at most this share of the capital (0.2 = 20%):
    /// payments stop at amount x (1 + return_cap).
    #[serde(default)]
    pub return_cap: Option<f64>,
}

/// The repeated measure the effect is estimated on: rows of a table (with
/// a filter), their `column`, by calendar quarter from the index quarter
/// (the last row in each quarter counts, or the mean of its rows).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatedOutcome {
    pub table: String,
    pub column: String,
    #[serde(default)]
    pub date: Option<DateSpec>,
    #[serde(default, rename = "where")]
    pub filter: BTreeMap<String, FilterValue>,
    /// A quarter's value: its last row (default) or the mean of its rows
    /// (several domains of one assessment: their mean).
    #[serde(default)]
    pub per_quarter: PerQuarter,
    /// Only rows of the enrolment's own case (the entry's case) count.
    #[serde(default)]
    pub same_case: bool,
}

/// How a quarter's rows make its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PerQuarter {
    #[default]
    Last,
    Mean,
}

/// What event quarters are counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuartersFrom {
    /// The index date (the target group's entry), for everyone.
    #[default]
    Index,
    /// A participant's service start (a comparison enrolment's index date):
    /// quarter 0 holds a measure taken when the service starts.
    ServiceStart,
}

/// A table's rows as a spec selects them: the filter and the date (and
/// the date they end on, where the spec names one).
#[derive(Debug, Clone)]
pub struct Rows {
    pub table: &'static Table,
    pub date: Vec<&'static str>,
    pub filter: Vec<(&'static str, FilterValue)>,
    pub until: Option<&'static str>,
}

/// A checked repeated measure.
#[derive(Debug, Clone)]
pub struct Repeated {
    pub table: &'static Table,
    pub column: &'static str,
    pub date: Vec<&'static str>,
    pub filter: Vec<(&'static str, FilterValue)>,
}

impl RepeatedOutcome {
    pub fn describe(&self) -> String {
        let filter: Vec<String> = self.filter.iter().map(|(k, v)| format!("{k} = {}", filter_text(v))).collect();
        format!(
            "`{}` of {}{}{}",
            self.column,
            self.table,
            if filter.is_empty() { String::new() } else { format!(" where {}", filter.join(", ")) },
            if self.same_case { ", in the enrolment's own case" } else { "" }
        )
    }
}

pub fn filter_text(v: &FilterValue) -> String {
    v.to_string()
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

/// Where a matched comparison's standard error comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    #[default]
    Bootstrap,
    MatchedPairs,
}

/// The covariate every study has besides its `[[variable]]`s: the mean of
/// the validation outcome in the pre-period quarters.
pub const OUTCOME_PRE: &str = "outcome_pre";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    pub method: Method,
    /// The estimand, stated in the report.
    #[serde(default = "default_estimand")]
    pub estimand: String,
    /// The outcome the effect is estimated on, averaged over event quarters
    /// (0 = the index quarter).
    pub outcome: RepeatedOutcome,
    pub post_quarters: [i32; 2],
    /// Quarters before (or, ending at 0, at) the start: the baseline.
    #[serde(default = "default_pre")]
    pub pre_quarters: [i32; 2],
    /// Event quarters count from the index date (default) or a participant's service start.
    #[serde(default)]
    pub quarters_from: QuartersFrom,
    /// Names of the spec's `[[variable]]`s (and `outcome_pre`).
    #[serde(default)]
    pub covariates: Vec<String>,
    #[serde(default = "default_caliper")]
    pub caliper_sd: f64,
    /// The historical cohort (method `historical_comparison`).
    #[serde(default)]
    pub historical: Option<Window>,
    #[serde(default = "default_bootstrap")]
    pub bootstrap_replicates: usize,
    /// A matched comparison's standard error: from the household bootstrap
    /// (default, re-fitting and re-matching every replicate) or from the
    /// matched pairs (conditional on the matches; the bootstrap still runs
    /// for the percentile interval). Like `caliper_sd`, only a matched
    /// comparison reads it: the other methods' intervals are the bootstrap's.
    #[serde(default)]
    pub interval: Interval,
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
    /// Whose histories a simulated participant draws: the comparison
    /// enrolments' (default), or the participants' own from their service
    /// start, for an outcome measured only on participants (a change from
    /// baseline); the assumed effects then add to what they achieved.
    #[serde(default)]
    pub histories: Histories,
    #[serde(default = "default_sim_replications")]
    pub replications: usize,
    #[serde(default = "default_seed")]
    pub seed: u64,
}

/// Where `contract simulate` takes its histories from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Histories {
    #[default]
    Comparison,
    Participants,
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

    fn check(&self) -> Result<(), SpecError> {
        self.check_target_group()?;
        self.check_service()?;
        self.check_metrics()?;
        self.check_pricing()?;
        self.check_money()?;
        self.check_validation()?;
        self.check_simulation()
    }

    fn definition(&self, prefix: &str, e: DefinitionError) -> SpecError {
        let field = if e.field.starts_with("variable ") || e.field.starts_with("line ") {
            e.field
        } else {
            format!("{prefix}{}", e.field)
        };
        self.invalid(field, e.message)
    }

    /// The target group as a cohort of the definition language.
    pub fn cohort(&self) -> Result<Cohort, SpecError> {
        let t = &self.target_group;
        if t.entry.from.is_some() || t.entry.to.is_some() {
            return Err(self.invalid(
                "target_group.entry.from",
                "the index dates are chosen by [enrolment] (and validation.historical): give no from or to here",
            ));
        }
        let spec = CohortSpec {
            entry: t.entry.clone(),
            require: t.require.clone(),
            variable: self.variable.clone(),
            outcome: Vec::new(),
        };
        spec.check().map_err(|e| self.definition("target_group.", e))
    }

    /// The spec's `[[variable]]`s, checked as known at the index date.
    pub fn variables(&self) -> Result<Vec<Variable>, SpecError> {
        self.variable.iter().map(|v| v.check(Role::Known).map_err(|e| self.definition("", e))).collect()
    }

    /// The outcome metrics as variables over a follow-up of `months`.
    pub fn metric_variables(&self, months: u32) -> Result<Vec<Variable>, SpecError> {
        self.outcome_metrics
            .iter()
            .enumerate()
            .map(|(i, m)| {
                m.variable(months).check(Role::Outcome).map_err(|e| {
                    let f = e.field.split_once('.').map(|(_, f)| f.to_string()).unwrap_or(e.field);
                    self.invalid(format!("outcome_metrics[{i}].{f}"), e.message)
                })
            })
            .collect()
    }

    /// The savings' cost items as variables over a follow-up of `months`.
    pub fn cost_variables(&self, months: u32) -> Result<Vec<Variable>, SpecError> {
        let Some(s) = &self.savings else { return Ok(Vec::new()) };
        s.cost
            .iter()
            .enumerate()
            .map(|(i, c)| {
                c.variable(months).check(Role::Outcome).map_err(|e| {
                    let f = e.field.split_once('.').map(|(_, f)| f.to_string()).unwrap_or(e.field);
                    self.invalid(format!("savings.cost[{i}].{f}"), e.message)
                })
            })
            .collect()
    }

    /// The savings' matching covariates (its own, or the validation's).
    pub fn savings_covariates(&self) -> &[String] {
        match &self.savings {
            Some(Savings { covariates: Some(c), .. }) => c,
            _ => &self.validation.covariates,
        }
    }

    /// Activity payments, savings and the investment.
    fn check_money(&self) -> Result<(), SpecError> {
        let amount = |x: f64| x.is_finite() && x >= 0.0;
        let mut ids: Vec<&str> = self.outcome_metrics.iter().map(|m| m.id.as_str()).collect();
        for (i, a) in self.activity_payments.iter().enumerate() {
            let at = |f: &str| format!("activity_payments[{i}].{f}");
            if ids.contains(&a.id.as_str()) {
                return Err(self.invalid(at("id"), format!("`{}` is already the id of a metric or payment", a.id)));
            }
            ids.push(&a.id);
            if !amount(a.price) {
                return Err(self.invalid(at("price"), "must be a non-negative amount"));
            }
            match (a.per, a.max_months) {
                (Per::Participant, Some(_)) => {
                    return Err(self.invalid(at("max_months"), "a payment per participant has no months"));
                }
                (Per::MonthInService, Some(0)) => return Err(self.invalid(at("max_months"), "at least 1")),
                (Per::MonthInService, _) if self.service.until.is_none() => {
                    return Err(self.invalid(
                        "service.until",
                        format!(
                            "activity payment `{}` is per month in service: name the service's end column (until = \"ended\")",
                            a.id
                        ),
                    ));
                }
                _ => {}
            }
        }
        if let Some(s) = &self.savings {
            if !(s.share > 0.0 && s.share <= 1.0) {
                return Err(self.invalid("savings.share", "a share above 0 and at most 1 (0.5 = half the savings)"));
            }
            if s.cost.is_empty() {
                return Err(self.invalid("savings.cost", "name at least one cost item"));
            }
            let mut names = std::collections::BTreeSet::new();
            for (i, c) in s.cost.iter().enumerate() {
                if !names.insert(c.name.as_str()) {
                    return Err(self.invalid(format!("savings.cost[{i}].name"), format!("`{}` is used twice", c.name)));
                }
                if !matches!(c.aggregate, Aggregate::Sum | Aggregate::Count | Aggregate::DaysIn | Aggregate::MonthsWith)
                {
                    return Err(self.invalid(
                        format!("savings.cost[{i}].aggregate"),
                        format!("a cost is a sum, count, days_in or months_with, not {}", c.aggregate.name()),
                    ));
                }
                if !amount(c.price) {
                    return Err(self.invalid(format!("savings.cost[{i}].price"), "must be a non-negative amount"));
                }
            }
            self.cost_variables(self.follow_up_months)?;
            match s.method {
                Method::MatchedComparison => {
                    let covariates = self.savings_covariates();
                    if covariates.is_empty() {
                        return Err(self.invalid("savings.covariates", "a matched comparison needs covariates"));
                    }
                    self.check_covariates(covariates, "savings.covariates")?;
                }
                Method::TwoGroupComparison => {}
                Method::HistoricalComparison if self.validation.historical.is_none() => {
                    return Err(self.invalid(
                        "validation.historical",
                        "the savings' historical comparison names its cohort's window here",
                    ));
                }
                Method::HistoricalComparison => {}
                m => {
                    return Err(self.invalid(
                        "savings.method",
                        format!("{} compares a change, not a cost: use matched_comparison, two_group_comparison or historical_comparison", m.name()),
                    ));
                }
            }
            if let Some(d) = s.settled
                && d < self.enrolment.from
            {
                return Err(self.invalid("savings.settled", format!("{d} is before the enrolment window")));
            }
        }
        if let Some(inv) = &self.investment {
            if !(amount(inv.amount) && inv.amount > 0.0) {
                return Err(self.invalid("investment.amount", "a positive amount"));
            }
            if !(0.0..=1.0).contains(&inv.guaranteed_share) {
                return Err(self.invalid("investment.guaranteed_share", "a share from 0 to 1 (0.4 = 40%)"));
            }
            if let Some(r) = inv.return_cap
                && !(r.is_finite() && r >= 0.0)
            {
                return Err(self.invalid("investment.return_cap", "a share, 0 or more (0.2 = 20%)"));
            }
        }
        Ok(())
    }

    /// The service's table, filter and start date.
    pub fn service_rows(&self) -> Result<Rows, SpecError> {
        let s = &self.service;
        let d = |e: DefinitionError| self.invalid(e.field, e.message);
        let table = table_named(&s.table, "service.table").map_err(d)?;
        let filter = check_filter(table, &s.filter, "service.where").map_err(d)?;
        let date = date_columns(table, s.date.as_ref(), "service.date").map_err(d)?;
        if !table.register_columns().iter().any(|c| c.name == "case_id") && s.same_case {
            return Err(self.invalid("service.same_case", format!("{} has no case_id", table.name)));
        }
        let until = match &s.until {
            None => None,
            Some(u) => {
                let one = DateSpec::One(u.clone());
                Some(date_columns(table, Some(&one), "service.until").map_err(d)?[0])
            }
        };
        Ok(Rows { table, filter, date, until })
    }

    /// The validation outcome's table, column, date and filter.
    pub fn repeated(&self) -> Result<Repeated, SpecError> {
        let o = &self.validation.outcome;
        let d = |e: DefinitionError| self.invalid(e.field, e.message);
        let table = table_named(&o.table, "validation.outcome.table").map_err(d)?;
        let column = table
            .register_columns()
            .into_iter()
            .find(|c| c.name == o.column)
            .filter(|c| c.dtype.is_primitive_numeric())
            .map(|c| c.name)
            .ok_or_else(|| {
                self.invalid(
                    "validation.outcome.column",
                    format!("'{}' is not a number column of {}", o.column, table.name),
                )
            })?;
        let filter = check_filter(table, &o.filter, "validation.outcome.where").map_err(d)?;
        let date = date_columns(table, o.date.as_ref(), "validation.outcome.date").map_err(d)?;
        if o.same_case {
            let entry = table_named(&self.target_group.entry.table, "target_group.entry.table").map_err(d)?;
            for t in [table, entry] {
                if !t.register_columns().iter().any(|c| c.name == "case_id") {
                    return Err(self.invalid(
                        "validation.outcome.same_case",
                        format!("{} has no case_id: the rows cannot be matched to the enrolment's case", t.name),
                    ));
                }
            }
        }
        Ok(Repeated { table, column, date, filter })
    }

    fn check_target_group(&self) -> Result<(), SpecError> {
        self.cohort()?;
        if self.enrolment.from > self.enrolment.to {
            return Err(self.invalid("enrolment.to", "the enrolment window ends before it starts"));
        }
        Ok(())
    }

    fn check_service(&self) -> Result<(), SpecError> {
        self.service_rows()?;
        if !self.service.within.after_index() {
            return Err(self.invalid(
                "service.within",
                format!(
                    "{} starts before the index date: the service starts at enrolment or after",
                    self.service.within
                ),
            ));
        }
        if self.follow_up_months == 0 {
            return Err(self.invalid("follow_up_months", "must be at least 1"));
        }
        Ok(())
    }

    fn check_metrics(&self) -> Result<(), SpecError> {
        if self.outcome_metrics.is_empty() {
            return Err(self.invalid("outcome_metrics", "define at least one outcome metric"));
        }
        let mut seen = BTreeMap::new();
        for (i, m) in self.outcome_metrics.iter().enumerate() {
            let at = |f: &str| format!("outcome_metrics[{i}].{f}");
            if let Some(j) = seen.insert(m.id.clone(), i) {
                return Err(self.invalid(at("id"), format!("`{}` is also outcome_metrics[{j}].id", m.id)));
            }
            if !m.aggregate.is_event() {
                return Err(self.invalid(
                    at("aggregate"),
                    format!(
                        "a metric is achieved on a date: use time_to_event or months_without, not {}",
                        m.aggregate.name()
                    ),
                ));
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
        self.metric_variables(self.follow_up_months)?;
        // Two metrics measuring the same thing over the same window pay twice for one outcome.
        for (i, a) in self.outcome_metrics.iter().enumerate() {
            for (j, b) in self.outcome_metrics.iter().enumerate().skip(i + 1) {
                if a.definition_key() == b.definition_key() {
                    return Err(self.invalid(
                        format!("outcome_metrics[{j}]"),
                        format!("`{}` has the same definition as `{}`", b.id, a.id),
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
        let v = &self.validation;
        self.repeated()?;
        if v.post_quarters[0] < 1 || v.post_quarters[0] > v.post_quarters[1] {
            return Err(self.invalid("validation.post_quarters", "write [first, last] with 1 <= first <= last"));
        }
        if v.pre_quarters[1] > 0 || v.pre_quarters[0] > v.pre_quarters[1] {
            return Err(self.invalid(
                "validation.pre_quarters",
                "write [first, last] with first <= last <= 0 (0: the quarter the count starts in, for a measure taken at the start)",
            ));
        }
        if v.pre_quarters[1] == 0 && v.quarters_from == QuartersFrom::Index && v.method != Method::PrePost {
            return Err(self.invalid(
                "validation.pre_quarters",
                "a pre-period ending in quarter 0 holds the service's start for a comparison design: end it at -1, or count quarters from the service start (quarters_from = \"service_start\")",
            ));
        }
        self.check_covariates(&v.covariates, "validation.covariates")?;
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

    /// Every covariate names a `[[variable]]` (or `outcome_pre`).
    fn check_covariates(&self, covariates: &[String], field: &str) -> Result<(), SpecError> {
        for (i, c) in covariates.iter().enumerate() {
            if c != OUTCOME_PRE && !self.variable.iter().any(|x| &x.name == c) {
                let mut known: Vec<&str> = self.variable.iter().map(|x| x.name.as_str()).collect();
                known.push(OUTCOME_PRE);
                return Err(self.invalid(
                    format!("{field}[{i}]"),
                    format!("unknown covariate `{c}`: name a [[variable]] ({})", known.join(", ")),
                ));
            }
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
