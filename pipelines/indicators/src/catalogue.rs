//! The indicator catalogue: a versioned TOML file of indicator definitions.
//!
//! A definition names its `kind` (how it is computed) and that kind's
//! parameters; users add indicators of an existing kind by adding a block.
//! Every parameter a kind does not use is refused by name, so a misspelt or
//! misplaced field is an error rather than a silently different indicator.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use utfall_disclosure::{Policy, Source};
pub use utfall_register::schema::{Measure, PeriodType, Split};

/// The catalogue shipped with utfall (`pipelines/indicators/catalogue.toml`).
pub const DEFAULT_CATALOGUE: &str = include_str!("../catalogue.toml");

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct CatalogueError {
    pub file: String,
    /// 1-based line (0 when the error concerns the file as a whole).
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    pub periods: Vec<PeriodType>,
    pub splits: Vec<Split>,
    /// The splits the managers' table (`indicators_public`) publishes per
    /// month; quarters and years carry every split, and so does the analysts'
    /// `indicators` table. A month of one unit or age band is a small count in
    /// all but the largest municipalities, and every figure withheld must be
    /// protected against everything published beside it.
    #[serde(default)]
    pub monthly_splits: Vec<Split>,
    pub age_bands: Vec<i32>,
    /// Disclosure control: counts below it are withheld from managers (and
    /// from every report made from the build: see `utfall_disclosure`).
    #[serde(default = "default_threshold")]
    pub threshold: u32,
    /// Set when `--threshold` replaced the catalogue's value.
    #[serde(skip)]
    pub threshold_overridden: bool,
}

impl Settings {
    /// Whether the managers' table publishes a cell of this period and split.
    pub fn published(&self, period: PeriodType, split: Option<Split>) -> bool {
        period != PeriodType::Month || split.is_none_or(|s| self.monthly_splits.contains(&s))
    }

    /// The disclosure policy of this catalogue (with any override).
    pub fn policy(&self) -> Policy {
        Policy::new(self.threshold, Source::of_catalogue(self.threshold_overridden))
            .expect("checked when the catalogue was read")
    }
}

fn default_confidence() -> f64 {
    0.95
}

fn default_threshold() -> u32 {
    utfall_disclosure::DEFAULT_THRESHOLD
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instrument {
    pub code: String,
    pub name: String,
    pub higher_is_better: bool,
    /// Standard deviation of scores in the reference population.
    pub sd: f64,
    /// Test-retest reliability.
    pub reliability: f64,
    /// Caseness cut-off: a case when the score is strictly worse than it.
    pub cutoff: f64,
}

impl Instrument {
    /// Standard error of the difference of two scores: sqrt(2) SD sqrt(1 - r).
    pub fn s_diff(&self) -> f64 {
        std::f64::consts::SQRT_2 * self.sd * (1.0 - self.reliability).sqrt()
    }

    pub fn is_case(&self, score: f64) -> bool {
        if self.higher_is_better { score < self.cutoff } else { score > self.cutoff }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KindName {
    NotRereferred,
    LongTermAssistance,
    SelfSufficiency,
    BaselineMean,
    MeanChange,
    ReliableChange,
    GasTScore,
    GoalsMet,
    DaysToDecision,
    Timeliness,
    ContactsPerCase,
    MultiUnitClients,
    ChannelShare,
    CaseworkersPerCase,
    RepeatInvestigation,
}

impl KindName {
    pub fn name(self) -> &'static str {
        match self {
            KindName::NotRereferred => "not_rereferred",
            KindName::LongTermAssistance => "long_term_assistance",
            KindName::SelfSufficiency => "self_sufficiency",
            KindName::BaselineMean => "baseline_mean",
            KindName::MeanChange => "mean_change",
            KindName::ReliableChange => "reliable_change",
            KindName::GasTScore => "gas_t_score",
            KindName::GoalsMet => "goals_met",
            KindName::DaysToDecision => "days_to_decision",
            KindName::Timeliness => "timeliness",
            KindName::ContactsPerCase => "contacts_per_case",
            KindName::MultiUnitClients => "multi_unit_clients",
            KindName::ChannelShare => "channel_share",
            KindName::CaseworkersPerCase => "caseworkers_per_case",
            KindName::RepeatInvestigation => "repeat_investigation",
        }
    }

    /// The entity tables this kind's figures are computed from (the clients
    /// for the splits), so that a revision names only their changes.
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            KindName::NotRereferred => &["clients", "cases", "reports"],
            KindName::LongTermAssistance | KindName::SelfSufficiency => &["clients", "cases", "payments"],
            KindName::BaselineMean | KindName::MeanChange | KindName::ReliableChange => {
                &["clients", "cases", "assessments"]
            }
            KindName::GasTScore | KindName::GoalsMet => &["clients", "cases", "goals"],
            KindName::DaysToDecision | KindName::MultiUnitClients => &["clients", "cases"],
            KindName::Timeliness | KindName::ChannelShare => &["clients", "cases", "reports"],
            KindName::ContactsPerCase => &["clients", "cases", "contacts"],
            KindName::CaseworkersPerCase => &["clients", "cases", "contacts", "assessments", "interventions"],
            KindName::RepeatInvestigation => &["clients", "cases"],
        }
    }

    /// The kind named `name` (as the catalogue and the `kind` column write it).
    pub fn named(name: &str) -> Option<KindName> {
        KindName::ALL.iter().copied().find(|k| k.name() == name)
    }

    pub const ALL: [KindName; 15] = [
        KindName::NotRereferred,
        KindName::LongTermAssistance,
        KindName::SelfSufficiency,
        KindName::BaselineMean,
        KindName::MeanChange,
        KindName::ReliableChange,
        KindName::GasTScore,
        KindName::GoalsMet,
        KindName::DaysToDecision,
        KindName::Timeliness,
        KindName::ContactsPerCase,
        KindName::MultiUnitClients,
        KindName::ChannelShare,
        KindName::CaseworkersPerCase,
        KindName::RepeatInvestigation,
    ];

    /// The parameters (beyond the common ones) this kind accepts.
    fn params(self) -> &'static [&'static str] {
        match self {
            KindName::NotRereferred => &["window_months", "same_area"],
            KindName::LongTermAssistance => &["min_months"],
            KindName::SelfSufficiency => &["months"],
            KindName::BaselineMean | KindName::MeanChange => &["instruments"],
            KindName::ReliableChange => &["instruments", "outcome"],
            KindName::GasTScore => &["rho"],
            KindName::GoalsMet | KindName::DaysToDecision => &[],
            KindName::Timeliness => &["step", "limit_days", "limit_months"],
            KindName::ContactsPerCase => &["channels"],
            KindName::MultiUnitClients => &["min_units"],
            KindName::ChannelShare => &["report_kind", "channels"],
            KindName::CaseworkersPerCase => &["months"],
            KindName::RepeatInvestigation => &["window_months"],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RcOutcome {
    Improvement,
    Deterioration,
    Recovery,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    PreliminaryAssessment,
    Investigation,
}

/// One `[[indicator]]` block as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefinition {
    id: Spanned<String>,
    version: i32,
    kind: KindName,
    name_sv: String,
    name_en: String,
    #[serde(default)]
    source: String,
    higher_is_better: Option<bool>,
    periods: Option<Vec<PeriodType>>,
    areas: Option<Vec<String>>,
    age: Option<[i32; 2]>,
    instruments: Option<Vec<String>>,
    window_months: Option<u32>,
    same_area: Option<bool>,
    min_months: Option<u32>,
    months: Option<u32>,
    outcome: Option<RcOutcome>,
    rho: Option<f64>,
    step: Option<Step>,
    limit_days: Option<u32>,
    limit_months: Option<u32>,
    channels: Option<Vec<String>>,
    min_units: Option<u32>,
    report_kind: Option<String>,
}

impl RawDefinition {
    fn kind_params_given(&self) -> Vec<&'static str> {
        let given = [
            ("instruments", self.instruments.is_some()),
            ("window_months", self.window_months.is_some()),
            ("same_area", self.same_area.is_some()),
            ("min_months", self.min_months.is_some()),
            ("months", self.months.is_some()),
            ("outcome", self.outcome.is_some()),
            ("rho", self.rho.is_some()),
            ("step", self.step.is_some()),
            ("limit_days", self.limit_days.is_some()),
            ("limit_months", self.limit_months.is_some()),
            ("channels", self.channels.is_some()),
            ("min_units", self.min_units.is_some()),
            ("report_kind", self.report_kind.is_some()),
        ];
        given.iter().filter(|(_, g)| *g).map(|(n, _)| *n).collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    version: String,
    settings: Settings,
    #[serde(default, rename = "instrument")]
    instruments: Vec<Instrument>,
    #[serde(rename = "indicator")]
    indicators: Vec<RawDefinition>,
}

/// How a timeliness limit is counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    Days(u32),
    Months(u32),
}

/// A kind with its checked parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    /// Cases closed in the period (observable: the whole window before the
    /// as-of date); counted when the client does not come back (a new case
    /// opened or a report/application received) within the window.
    NotRereferred { window_months: u32, same_area: bool },
    /// Households with assistance in a calendar year; counted when they had
    /// assistance in at least `min_months` of its months.
    LongTermAssistance { min_months: u32 },
    /// Households leaving assistance in the period (a paid month followed by
    /// an unpaid one); counted when no month is paid in the next `months`.
    SelfSufficiency { months: u32 },
    /// Mean baseline score per instrument and domain (anchor: baseline date).
    BaselineMean,
    /// Mean of latest - baseline over paired assessments (anchor: latest date).
    MeanChange,
    /// Share of paired assessments with reliable improvement, deterioration,
    /// or (of those at caseness at baseline) recovery.
    ReliableChange { outcome: RcOutcome },
    /// Mean GAS T-score per client and case (anchor: latest follow-up).
    GasTScore { rho: f64 },
    /// Share of scored goals with a GAS score of 0 or above.
    GoalsMet,
    /// Mean days from the first report or application of a case to its decision.
    DaysToDecision,
    /// Share of preliminary assessments / investigations finished within the limit.
    Timeliness { step: Step, limit: Limit },
    /// Mean contacts on the given channels per case closed in the period.
    ContactsPerCase { channels: Vec<String> },
    /// Share of clients with an open case in the period who have open cases in
    /// at least `min_units` units in it.
    MultiUnitClients { min_units: u32 },
    /// Share of reports or applications received in the period (with a known
    /// channel) that arrived on the given channels, e.g. digital applications.
    ChannelShare { report_kind: String, channels: Vec<String> },
    /// Mean number of caseworkers (handläggare) who recorded a contact, an
    /// assessment or a decision on a case in its first `months` (cases opened
    /// in the period with that much follow-up and at least one such record).
    CaseworkersPerCase { months: u32 },
    /// Share of investigations started in the period whose client had
    /// another investigation in the same area started in the `window_months`
    /// before it (children investigated more than once).
    RepeatInvestigation { window_months: u32 },
}

/// Population filters common to every kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Areas of social services of the case (None: all).
    pub areas: Option<Vec<String>>,
    /// Age range, inclusive, at the anchor date (None: all ages).
    pub age: Option<(i32, i32)>,
    /// Instruments (assessment kinds; None: every instrument in the data).
    pub instruments: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    pub id: String,
    pub version: i32,
    pub kind: KindName,
    pub name_sv: String,
    pub name_en: String,
    pub source: String,
    /// None for assessment kinds whose direction is the instrument's.
    pub higher_is_better: Option<bool>,
    pub periods: Vec<PeriodType>,
    pub filter: Filter,
    pub spec: Spec,
}

impl Indicator {
    pub fn measure(&self) -> Measure {
        match self.spec {
            Spec::BaselineMean
            | Spec::MeanChange
            | Spec::GasTScore { .. }
            | Spec::DaysToDecision
            | Spec::ContactsPerCase { .. }
            | Spec::CaseworkersPerCase { .. } => Measure::Mean,
            _ => Measure::Proportion,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Catalogue {
    pub version: String,
    pub settings: Settings,
    pub instruments: Vec<Instrument>,
    pub indicators: Vec<Indicator>,
    /// SHA-256 of the catalogue's text, stamped on the manifest.
    pub sha256: String,
}

impl Catalogue {
    /// The catalogue shipped with utfall.
    /// The catalogue with its disclosure threshold replaced (`--threshold`).
    pub fn with_threshold(mut self, threshold: u32) -> Result<Catalogue, CatalogueError> {
        Policy::new(threshold, Source::Override).map_err(|e| CatalogueError {
            file: "--threshold".into(),
            line: 0,
            message: e.to_string(),
        })?;
        self.settings.threshold = threshold;
        self.settings.threshold_overridden = true;
        Ok(self)
    }

    /// The `min_months` of the catalogue's long-term assistance definition
    /// (the first `long_term_assistance` indicator; Socialstyrelsen's 10 when
    /// the catalogue has none).
    pub fn long_term_min_months(&self) -> u32 {
        self.indicators
            .iter()
            .find_map(|i| if let Spec::LongTermAssistance { min_months } = i.spec { Some(min_months) } else { None })
            .unwrap_or(10)
    }

    pub fn builtin() -> Catalogue {
        Catalogue::parse(DEFAULT_CATALOGUE, "catalogue.toml (built in)").expect("the built-in catalogue is valid")
    }

    pub fn load(path: &Path) -> Result<Catalogue, CatalogueError> {
        let text = std::fs::read_to_string(path).map_err(|e| CatalogueError {
            file: path.display().to_string(),
            line: 0,
            message: format!("cannot read the catalogue: {e}"),
        })?;
        Catalogue::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, file: &str) -> Result<Catalogue, CatalogueError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let err = |line: usize, message: String| CatalogueError { file: file.to_string(), line, message };
        let raw: RawCatalogue = toml::from_str(text)
            .map_err(|e| err(e.span().map(|s| line_of(s.start)).unwrap_or(0), e.message().to_string()))?;
        check_settings(&raw.settings).map_err(|m| err(0, m))?;
        let codes = instrument_codes(&raw.instruments).map_err(|m| err(0, m))?;
        let mut ids = HashSet::new();
        let mut indicators = Vec::new();
        for d in &raw.indicators {
            let line = line_of(d.id.span().start);
            let id = d.id.get_ref().clone();
            let bad = |m: String| err(line, format!("indicator '{id}': {m}"));
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                return Err(bad("the id must be lower-case letters, digits and '_'".into()));
            }
            if !ids.insert(id.clone()) {
                return Err(bad("the id is used twice".into()));
            }
            if d.version < 1 {
                return Err(bad("version must be 1 or more".into()));
            }
            let allowed = d.kind.params();
            if let Some(p) = d.kind_params_given().into_iter().find(|p| !allowed.contains(p)) {
                return Err(bad(format!(
                    "field '{p}' is not used by kind '{}' (it takes: {})",
                    d.kind.name(),
                    if allowed.is_empty() { "no parameters".to_string() } else { allowed.join(", ") }
                )));
            }
            indicators.push(d.indicator(id.clone(), &raw.settings, &codes, &bad)?);
        }
        if indicators.is_empty() {
            return Err(err(0, "the catalogue defines no indicator".into()));
        }
        Ok(Catalogue {
            version: raw.version,
            settings: raw.settings,
            instruments: raw.instruments,
            indicators,
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
        })
    }

    pub fn instrument(&self, code: &str) -> Option<&Instrument> {
        self.instruments.iter().find(|i| i.code == code)
    }

    /// Label of the age band an age falls in ("13-17", "65+").
    pub fn age_band_labels(&self) -> Vec<(i32, String)> {
        let b = &self.settings.age_bands;
        b.iter()
            .enumerate()
            .map(|(k, lo)| match b.get(k + 1) {
                Some(next) => (*lo, format!("{lo}-{}", next - 1)),
                None => (*lo, format!("{lo}+")),
            })
            .collect()
    }
}

fn sorted(mut v: Vec<PeriodType>) -> Vec<PeriodType> {
    v.sort();
    v.dedup();
    v
}

impl fmt::Display for KindName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The catalogue's settings make sense; a message otherwise.
fn check_settings(s: &Settings) -> Result<(), String> {
    if !(s.confidence > 0.5 && s.confidence < 1.0) {
        return Err(format!("settings.confidence must be between 0.5 and 1, not {}", s.confidence));
    }
    if s.periods.is_empty() {
        return Err("settings.periods names no period".into());
    }
    if let Some(m) = s.monthly_splits.iter().find(|m| !s.splits.contains(m)) {
        return Err(format!("settings.monthly_splits names '{}', which is not in settings.splits", m.name()));
    }
    if s.age_bands.first() != Some(&0) || s.age_bands.windows(2).any(|w| w[0] >= w[1]) {
        return Err("settings.age_bands must start at 0 and increase".into());
    }
    if s.threshold == 0 {
        return Err("settings.threshold must be at least 1".into());
    }
    Ok(())
}

/// The instruments' codes (each once); a message otherwise.
fn instrument_codes(instruments: &[Instrument]) -> Result<HashSet<String>, String> {
    let mut codes = HashSet::new();
    for i in instruments {
        if !codes.insert(i.code.clone()) {
            return Err(format!("instrument '{}' is defined twice", i.code));
        }
        if i.sd.is_nan() || i.sd <= 0.0 || !(0.0..1.0).contains(&i.reliability) {
            return Err(format!("instrument '{}': sd must be > 0 and reliability in [0, 1) (RCI needs both)", i.code));
        }
    }
    Ok(codes)
}

impl RawDefinition {
    /// The kind's parameters, checked.
    fn spec(&self, bad: &dyn Fn(String) -> CatalogueError) -> Result<Spec, CatalogueError> {
        let d = self;
        let positive = |name: &str, v: Option<u32>, default: u32| match v.unwrap_or(default) {
            0 => Err(bad(format!("{name} must be 1 or more"))),
            v => Ok(v),
        };
        Ok(match d.kind {
            KindName::NotRereferred => Spec::NotRereferred {
                window_months: positive("window_months", d.window_months, 12)?,
                same_area: d.same_area.unwrap_or(true),
            },
            KindName::LongTermAssistance => {
                let m = positive("min_months", d.min_months, 10)?;
                if m > 12 {
                    return Err(bad("min_months must be 12 or fewer (months of a year)".into()));
                }
                Spec::LongTermAssistance { min_months: m }
            }
            KindName::SelfSufficiency => Spec::SelfSufficiency { months: positive("months", d.months, 12)? },
            KindName::BaselineMean => Spec::BaselineMean,
            KindName::MeanChange => Spec::MeanChange,
            KindName::ReliableChange => Spec::ReliableChange {
                outcome: d.outcome.ok_or_else(|| {
                    bad("kind 'reliable_change' needs outcome = improvement, deterioration or recovery".into())
                })?,
            },
            KindName::GasTScore => {
                let rho = d.rho.unwrap_or(0.3);
                if !(0.0..1.0).contains(&rho) {
                    return Err(bad(format!("rho must be in [0, 1), not {rho}")));
                }
                Spec::GasTScore { rho }
            }
            KindName::GoalsMet => Spec::GoalsMet,
            KindName::DaysToDecision => Spec::DaysToDecision,
            KindName::Timeliness => {
                let step = d.step.ok_or_else(|| {
                    bad("kind 'timeliness' needs step = preliminary_assessment or investigation".into())
                })?;
                let limit = match (d.limit_days, d.limit_months) {
                    (Some(n), None) if n > 0 => Limit::Days(n),
                    (None, Some(n)) if n > 0 => Limit::Months(n),
                    _ => return Err(bad("give one of limit_days or limit_months, 1 or more".into())),
                };
                Spec::Timeliness { step, limit }
            }
            KindName::ContactsPerCase => {
                let channels = d.channels.clone().unwrap_or_default();
                if channels.is_empty() {
                    return Err(bad("channels must name at least one contact channel".into()));
                }
                let known = utfall_register::schema::CONTACT_CHANNEL.codes_list();
                if let Some(c) = channels.iter().find(|c| !known.contains(&c.as_str())) {
                    return Err(bad(format!("channel '{c}' is not a contact channel ({})", known.join(", "))));
                }
                Spec::ContactsPerCase { channels }
            }
            KindName::MultiUnitClients => {
                Spec::MultiUnitClients { min_units: positive("min_units", d.min_units, 2)?.max(2) }
            }
            KindName::ChannelShare => {
                let kind = d.report_kind.clone().unwrap_or_else(|| "application".into());
                let kinds = utfall_register::schema::REPORT_KIND.codes_list();
                if !kinds.contains(&kind.as_str()) {
                    return Err(bad(format!("report_kind '{kind}' is not one of {}", kinds.join(", "))));
                }
                let channels = d.channels.clone().unwrap_or_default();
                let known = utfall_register::schema::APPLICATION_CHANNEL.codes_list();
                if channels.is_empty() || channels.iter().any(|c| !known.contains(&c.as_str())) {
                    return Err(bad(format!("channels must name channels of {}", known.join(", "))));
                }
                Spec::ChannelShare { report_kind: kind, channels }
            }
            KindName::CaseworkersPerCase => Spec::CaseworkersPerCase { months: positive("months", d.months, 6)? },
            KindName::RepeatInvestigation => {
                Spec::RepeatInvestigation { window_months: positive("window_months", d.window_months, 12)? }
            }
        })
    }

    /// The definition as an indicator (periods, filters, direction), checked.
    fn indicator(
        &self,
        id: String,
        settings: &Settings,
        codes: &HashSet<String>,
        bad: &dyn Fn(String) -> CatalogueError,
    ) -> Result<Indicator, CatalogueError> {
        let (d, s) = (self, settings);
        let spec = d.spec(bad)?;
        let periods = d.periods.clone().unwrap_or_else(|| match d.kind {
            KindName::LongTermAssistance => vec![PeriodType::Year],
            _ => s.periods.clone(),
        });
        if d.kind == KindName::LongTermAssistance && periods != [PeriodType::Year] {
            return Err(bad("kind 'long_term_assistance' is defined per calendar year: periods = [\"year\"]".into()));
        }
        if let Some(areas) = &d.areas {
            let known = utfall_register::schema::AREA.codes_list();
            if let Some(a) = areas.iter().find(|a| !known.contains(&a.as_str())) {
                return Err(bad(format!("area '{a}' is not an area code ({})", known.join(", "))));
            }
        }
        if let Some([lo, hi]) = d.age
            && (lo < 0 || hi < lo)
        {
            return Err(bad(format!("age = [{lo}, {hi}] is not a range")));
        }
        let assessment_kind =
            matches!(d.kind, KindName::BaselineMean | KindName::MeanChange | KindName::ReliableChange);
        if d.kind == KindName::ReliableChange
            && let Some(list) = &d.instruments
            && let Some(i) = list.iter().find(|i| !codes.contains(*i))
        {
            return Err(bad(format!(
                "instrument '{i}' has no [[instrument]] block (RCI needs its SD and reliability)"
            )));
        }
        Ok(Indicator {
            id,
            version: d.version,
            kind: d.kind,
            name_sv: d.name_sv.clone(),
            name_en: d.name_en.clone(),
            source: d.source.clone(),
            higher_is_better: if assessment_kind && d.kind != KindName::ReliableChange {
                d.higher_is_better
            } else {
                Some(d.higher_is_better.unwrap_or(true))
            },
            periods: sorted(periods),
            filter: Filter {
                areas: d.areas.clone(),
                age: d.age.map(|[a, b]| (a, b)),
                instruments: d.instruments.clone(),
            },
            spec,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_parses() {
        let c = Catalogue::builtin();
        assert!(c.indicators.len() >= 15);
        assert_eq!(c.settings.threshold, 5);
        assert_eq!(c.age_band_labels()[1], (13, "13-17".to_string()));
        assert_eq!(c.age_band_labels().last().unwrap().1, "65+");
    }

    fn with_block(block: &str) -> Result<Catalogue, CatalogueError> {
        Catalogue::parse(&format!("{DEFAULT_CATALOGUE}\n{block}"), "test.toml")
    }

    #[test]
    fn a_new_indicator_of_an_existing_kind_needs_no_code() {
        let c = with_block(
            "[[indicator]]\nid = \"not_rereferred_6m_adults\"\nversion = 1\nkind = \"not_rereferred\"\n\
             name_sv = \"x\"\nname_en = \"x\"\nwindow_months = 6\nage = [18, 120]\n",
        )
        .unwrap();
        let i = c.indicators.last().unwrap();
        assert_eq!(i.spec, Spec::NotRereferred { window_months: 6, same_area: true });
        assert_eq!(i.filter.age, Some((18, 120)));
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let lines = DEFAULT_CATALOGUE.lines().count();
        let e = with_block(
            "[[indicator]]\nid = \"x\"\nversion = 1\nkind = \"goals_met\"\nname_sv = \"x\"\nname_en = \"x\"\nwindow_months = 6\n",
        )
        .unwrap_err();
        assert_eq!(e.line, lines + 3, "{e}");
        assert!(e.message.contains("'window_months' is not used by kind 'goals_met'"), "{e}");
        let e =
            with_block("[[indicator]]\nid = \"y\"\nversion = 1\nkind = \"nope\"\nname_sv = \"x\"\nname_en = \"x\"\n")
                .unwrap_err();
        assert!(e.message.contains("unknown variant `nope`"), "{e}");
        assert_eq!(e.line, lines + 5, "{e}");
        let e = with_block(
            "[[indicator]]\nid = \"z\"\nversion = 1\nkind = \"goals_met\"\nname_sv = \"x\"\nnamn_en = \"x\"\n",
        )
        .unwrap_err();
        assert!(e.message.contains("namn_en"), "{e}");
        let e = with_block(
            "[[indicator]]\nid = \"mean_change\"\nversion = 2\nkind = \"mean_change\"\nname_sv = \"x\"\nname_en = \"x\"\n",
        )
        .unwrap_err();
        assert!(e.message.contains("used twice"), "{e}");
    }

    #[test]
    fn months_are_published_for_the_total_and_the_splits_named() {
        let c = Catalogue::builtin();
        assert!(c.settings.published(PeriodType::Month, None));
        assert!(!c.settings.published(PeriodType::Month, Some(Split::Unit)));
        assert!(c.settings.published(PeriodType::Quarter, Some(Split::AgeBand)));
        let units = DEFAULT_CATALOGUE.replace("monthly_splits = []", "monthly_splits = [\"unit\"]");
        let c = Catalogue::parse(&units, "units.toml").unwrap();
        assert!(c.settings.published(PeriodType::Month, Some(Split::Unit)));
        assert!(!c.settings.published(PeriodType::Month, Some(Split::Sex)));
        let bad = units.replace("splits = [\"unit\", \"district\", \"sex\", \"age_band\"]", "splits = [\"sex\"]");
        let e = Catalogue::parse(&bad, "bad.toml").unwrap_err();
        assert!(e.message.contains("monthly_splits names 'unit'"), "{e}");
    }
}
