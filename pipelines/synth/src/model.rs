//! The generative model of the synthetic municipality and its planted truth.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, LogNormal, Normal, Poisson};
use serde::Serialize;
use utfall_register::pnr::Pnr;

use crate::sink::{FaultRecord, Sink};
use crate::source::{self, source_code};
use crate::{Config, Summary, as_of, period_start};

// ---------------------------------------------------------------- planted truth

/// Re-referral (återaktualisering) within 12 months of closure:
/// logit p = intercept[area] + unit_effect[unit] + 0.2 z (household risk)
///         + 0.35 min(prior cases, 3) + 0.3 [child aged 13-17 or adult under 25]
///         + intervention term (-0.5 planned end, +0.3 unplanned end).
const INTERCEPT: &[(&str, f64)] =
    &[("child_youth", -1.0), ("adult_substance", -0.6), ("financial_assistance", -0.8), ("psychiatry", -1.2)];
const UNIT_EFFECT: &[(&str, f64)] = &[
    ("bou_norr", 0.0),
    ("bou_soder", 0.35),
    ("bou_oster", -0.30),
    ("bou_vaster", 0.15),
    ("vux_beroende", 0.20),
    ("fs_norr", 0.0),
    ("fs_syd", 0.25),
    ("socpsyk", -0.15),
];
/// The household's risk z is never recorded (the register sees it only
/// through proxies: incidence, income support, baselines, attendance), so
/// its weight bounds what any model can reach. At 0.5 it alone put the
/// planted probabilities' AUC 0.047 above the best possible from the
/// register's data; at 0.2 the gap is about 0.01 (measured, issue 6).
const B_HOUSEHOLD: f64 = 0.2;
const B_PRIOR: f64 = 0.35;
const B_YOUNG: f64 = 0.3;
const B_PLANNED_END: f64 = -0.5;
const B_UNPLANNED_END: f64 = 0.3;

/// True mean change on the instrument from intervention start to end.
const CHANGE: &[(&str, &str, f64)] = &[
    ("family_treatment", "stjarna", 1.2),
    ("contact_person", "stjarna", 0.6),
    ("foster_care", "stjarna", 0.9),
    ("residential_care", "stjarna", 0.4),
    ("supported_housing", "stjarna", 1.0),
    ("other", "stjarna", 0.3),
    ("outpatient_treatment", "psykbel", -5.0),
    ("residential_treatment", "psykbel", -7.0),
];

/// School attendance share at closure: 0.82 - 0.06 z + effect[type] + N(0, 0.08), clipped to 0..1.
const ATTENDANCE: &[(&str, f64)] =
    &[("family_treatment", 0.05), ("contact_person", 0.02), ("foster_care", 0.03), ("residential_care", -0.02)];

/// Financial assistance: employment support shortens the rest of a spell
/// (after the month it starts in) by this factor, and raises the log-odds of
/// employment or studies at exit by B_EMPLOYMENT.
const SPELL_FACTOR_EMPLOYMENT: f64 = 0.75;
const B_EMPLOYMENT: f64 = 0.8;

/// The outcome-contract programme (issue 7): employment support offered in
/// the third consecutive month of a spell of income support.
/// Selection on observables only (what the register records at that month):
/// logit P(service) = SELECT_INTERCEPT + SELECT_UNEMPLOYMENT [reason is
/// unemployment] + SELECT_AGE (age - 40) + SELECT_PRIOR min(prior spells, 2).
/// A client is offered the service at most once.
const SELECT_INTERCEPT: f64 = -1.1;
const SELECT_UNEMPLOYMENT: f64 = 1.0;
const SELECT_AGE: f64 = -0.04;
const SELECT_PRIOR: f64 = -0.35;
/// Quarterly employment status of every applicant (a register match at each
/// quarter's end, 2021Q1 onwards), linear in probability so that effects add:
/// p = 0.24 + 0.004 (45 - clamp(age in 2021, 20, 65)) - 0.05 clamp(z, -2, 2)
///     + STATUS_TREND q + STATUS_EFFECT [quarter after the service started].
/// STATUS_EFFECT is the planted average effect on the treated (ATT).
const STATUS_TREND: f64 = 0.005;
const STATUS_EFFECT: f64 = 0.10;

/// The placed-children programme (Norrköping-style, issue 17): a child aged
/// 7-18 whose first residential placement (HVB) starts from PLACED_FROM to
/// PLACED_TO may be offered a cross-disciplinary team with tutoring
/// (intervention type `other`, provider PLACED_TEAM) from the day the
/// placement starts. Selection on observables only (the register has the
/// age): logit P(team) = PLACED_SELECT_INTERCEPT + PLACED_SELECT_AGE (age - 12).
const PLACED_FROM: (i32, u32, u32) = (2022, 1, 1);
const PLACED_TO: (i32, u32, u32) = (2024, 6, 30);
pub(crate) const PLACED_TEAM: &str = "Barnteamet";
const PLACED_SELECT_INTERCEPT: f64 = -0.3;
const PLACED_SELECT_AGE: f64 = -0.12;
/// These children's school attendance, from the school at each quarter's
/// end (4 quarters before the placement's to 12 after), linear so that
/// effects add: share = 0.70 + 0.004 (age - 12) - 0.03 clamp(z, -2, 2) +
/// N(0, 0.06) + PLACED_ATTENDANCE_EFFECT [a quarter after the one the team
/// started in], clipped to 0..1 (almost never reached), 2 decimals.
/// PLACED_ATTENDANCE_EFFECT is the planted effect on the treated (ATT).
const PLACED_ATTENDANCE_EFFECT: f64 = 0.06;
/// A new residential placement (re-placement) within 24 months of the first
/// one's end: P = 0.30 + 0.06 clamp(z, -2, 2) - PLACED_REPLACEMENT_EFFECT [team].
const PLACED_REPLACEMENT_EFFECT: f64 = 0.12;

/// Earnings of every applicant in each quarter of the employment-status
/// match, from the employers' monthly declarations (arbetsgivardeklaration):
/// EARNINGS_PER_QUARTER x m x (1 + N(0, 0.1)) in a quarter employed or
/// studying (m ~ LogNormal(-0.08, 0.4), mean 1, one per person, independent
/// of everything else), 0 otherwise; whole SEK. The programme's effect on
/// the employment status carries over: the ATT on a quarter's earnings is
/// EARNINGS_PER_QUARTER x STATUS_EFFECT.
const EARNINGS_PER_QUARTER: f64 = 75_000.0;

/// The referred-youth programme (Hässelby-Vällingby-style, issue 17): a
/// young person aged 10-15 (school years 4-9; age = year - birth year)
/// whose first report of concern closed without investigation
/// (`no_investigation`) is received from REFERRED_FROM to REFERRED_TO, and
/// who had a report before, is offered a youth team (intervention type
/// `other`, provider REFERRED_TEAM) with probability REFERRED_TAKE_UP,
/// starting 0-14 days after the preliminary assessment. The team assesses
/// four domains on the Outcomes-Star-style scale (`stjarna`, 1-10) at its
/// start and every three months after it, for two years, in the report's
/// case: score = b + c + e, b ~ U{2..6} per person and domain, e ~ U{-1, 0,
/// 1} per assessment, and from the first follow-up on a change c of
/// floor(effect) + Bernoulli(frac(effect)) per assessment, so the expected
/// change from the start is exactly the domain's effect; scores stay in 1-9
/// (no clipping). Nobody outside the team is assessed by it: the change
/// among participants is the programme's effect by construction.
const REFERRED_FROM: (i32, u32, u32) = (2022, 1, 1);
const REFERRED_TO: (i32, u32, u32) = (2024, 6, 30);
pub(crate) const REFERRED_TEAM: &str = "Ungdomsteamet";
const REFERRED_TAKE_UP: f64 = 0.8;
/// Planted change from the start, per domain (school; leisure; support and
/// relationships; mental health and motivation).
const REFERRED_EFFECT: &[(&str, f64)] = &[("skola", 1.5), ("fritid", 1.0), ("relationer", 1.25), ("halsa", 0.75)];

#[derive(Serialize)]
struct Instrument {
    code: &'static str,
    name: &'static str,
    scale_min: f64,
    scale_max: f64,
    higher_is_better: bool,
    /// Standard deviation of observed baseline scores in the population.
    sd: f64,
    /// Test-retest reliability (share of observed variance that is true-score variance).
    reliability: f64,
    /// Caseness cut-off: a client is "a case" below it (higher_is_better) or above it.
    cutoff: f64,
    baseline_true_mean: f64,
}

const INSTRUMENTS: &[Instrument] = &[
    Instrument {
        code: "stjarna",
        name: "Stjärnan (Outcomes-Star-style, 1-10 per domain)",
        scale_min: 1.0,
        scale_max: 10.0,
        higher_is_better: true,
        sd: 2.0,
        reliability: 0.80,
        cutoff: 5.0,
        baseline_true_mean: 4.2,
    },
    Instrument {
        code: "psykbel",
        name: "Psykisk belastning (distress, 0-40)",
        scale_min: 0.0,
        scale_max: 40.0,
        higher_is_better: false,
        sd: 7.0,
        reliability: 0.88,
        cutoff: 15.0,
        baseline_true_mean: 24.0,
    },
];

#[derive(Serialize)]
struct Truth<'a> {
    seed: u64,
    clients: u64,
    dirty_rate: f64,
    as_of: String,
    rereferral: Rereferral<'a>,
    instrument_change_by_intervention: Vec<ChangeTruth>,
    instruments: &'a [Instrument],
    school_attendance: &'a str,
    attendance_effect: Vec<(&'a str, f64)>,
    financial_assistance: &'a str,
    contract_programme: Programme<'a>,
    placement_programme: PlacementProgramme<'a>,
    referral_programme: ReferralProgramme<'a>,
}

#[derive(Serialize)]
struct ReferralProgramme<'a> {
    service: &'a str,
    eligibility: &'a str,
    selection: &'a str,
    outcome: &'a str,
    instrument: &'a str,
    /// The planted change from the start, per domain.
    change_by_domain: Vec<(&'a str, f64)>,
    /// Their mean: the change in the mean of the four domains.
    mean_change: f64,
    eligible_young: u64,
    young_in_team: u64,
}

#[derive(Serialize)]
struct PlacementProgramme<'a> {
    service: &'a str,
    eligibility: &'a str,
    selection: &'a str,
    outcome: &'a str,
    outcome_type: &'a str,
    att_school_attendance: f64,
    replacement: &'a str,
    replacement_effect: f64,
    eligible_children: u64,
    children_in_team: u64,
}

#[derive(Serialize)]
struct Programme<'a> {
    service: &'a str,
    eligibility: &'a str,
    selection: &'a str,
    outcome: &'a str,
    outcome_type: &'a str,
    att_employment_status: f64,
    calendar_trend_per_quarter: f64,
    earnings: &'a str,
    att_earnings: f64,
}

#[derive(Serialize)]
struct Rereferral<'a> {
    formula: &'a str,
    intercept_by_area: Vec<(&'a str, f64)>,
    unit_effect: Vec<(&'a str, f64)>,
    household_risk: f64,
    prior_cases: f64,
    young: f64,
    planned_end: f64,
    unplanned_end: f64,
    per_case_file: &'a str,
}

#[derive(Serialize)]
struct ChangeTruth {
    intervention: &'static str,
    instrument: &'static str,
    true_mean_change: f64,
}

fn lookup(table: &[(&str, f64)], key: &str) -> f64 {
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v).unwrap_or(0.0)
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

// ---------------------------------------------------------------- generator

/// The personnummer as a source system wrote it (forms vary between rows).
fn written(rng: &mut ChaCha8Rng, p: &Person) -> String {
    let c = p.pnr.canonical();
    match rng.random_range(0..20) {
        0..=15 => format!("{}-{}", &c[..8], &c[8..]),
        16..=18 => c,
        _ => format!("{}-{}", &c[2..8], &c[8..]),
    }
}

fn gamma_days(rng: &mut ChaCha8Rng, shape: f64, mean: f64) -> i64 {
    Gamma::new(shape, mean / shape).unwrap().sample(rng).round().max(1.0) as i64
}

fn sink_of<'a>(s: &'a mut Sinks, table: &str) -> &'a mut Sink {
    match table {
        "clients" => &mut s.clients,
        "cases" => &mut s.cases,
        "reports" => &mut s.reports,
        "assessments" => &mut s.assessments,
        "goals" => &mut s.goals,
        "interventions" => &mut s.interventions,
        "payments" => &mut s.payments,
        "contacts" => &mut s.contacts,
        _ => &mut s.outcomes,
    }
}

struct Person {
    pnr: Pnr,
    birth_year: i32,
}

#[derive(Clone, Copy, PartialEq)]
enum Area {
    Child,
    Substance,
    Psychiatry,
}

impl Area {
    fn code(self) -> &'static str {
        match self {
            Area::Child => "child_youth",
            Area::Substance => "adult_substance",
            Area::Psychiatry => "psychiatry",
        }
    }
}

struct Sinks {
    clients: Sink,
    cases: Sink,
    reports: Sink,
    assessments: Sink,
    goals: Sink,
    interventions: Sink,
    payments: Sink,
    contacts: Sink,
    outcomes: Sink,
}

pub(crate) struct Generator {
    cfg: Config,
    rng: ChaCha8Rng,
    /// The placed-children programme's own stream: its draws (and its rows'
    /// faults) leave the rest of the municipality as it was without it.
    programme: ChaCha8Rng,
    /// The earnings' own stream, for the same reason.
    earnings: ChaCha8Rng,
    /// The referred-youth programme's own stream, for the same reason.
    referral: ChaCha8Rng,
    s: Sinks,
    /// Caseworkers with turnover (their own stream).
    caseworkers: crate::caseworkers::Caseworkers,
    faults: Vec<FaultRecord>,
    truth_dir: PathBuf,
    case_truth: csv::Writer<BufWriter<File>>,
    issued: HashSet<String>,
    next_id: u64,
    households: u64,
    clients: u64,
    start: NaiveDate,
    end: NaiveDate,
    /// Children (canonical personnummer) with a residential placement so far.
    placed: HashSet<String>,
    /// Children in the placed-children programme's population.
    eligible_children: u64,
    children_in_team: u64,
    /// Clients (canonical personnummer) with a report or application so far.
    reported: HashSet<String>,
    /// Young people whose first report closed without investigation has come.
    unreferred: HashSet<String>,
    eligible_young: u64,
    young_in_team: u64,
}

/// A closed case, for the re-referral step.
#[derive(Clone, Copy)]
struct ClosedCase<'a> {
    case_id: &'a str,
    area: &'a str,
    unit: &'a str,
    closed: NaiveDate,
    /// Child aged 13-17 or adult under 25 at closure.
    young: bool,
    /// The intervention term of the re-referral model.
    term: f64,
}

/// Outcome of one case, for the re-referral step.
struct Closed {
    closed: Option<NaiveDate>,
    intervention_term: f64,
}

impl Generator {
    pub(crate) fn new(cfg: &Config, exports: &Path, truth: &Path) -> io::Result<Generator> {
        let s = Sinks {
            clients: Sink::create(exports, "clients")?,
            cases: Sink::create(exports, "cases")?,
            reports: Sink::create(exports, "reports")?,
            assessments: Sink::create(exports, "assessments")?,
            goals: Sink::create(exports, "goals")?,
            interventions: Sink::create(exports, "interventions")?,
            payments: Sink::create(exports, "payments")?,
            contacts: Sink::create(exports, "contacts")?,
            outcomes: Sink::create(exports, "outcomes")?,
        };
        let mut case_truth = csv::Writer::from_writer(BufWriter::new(File::create(truth.join("cases.csv"))?));
        case_truth.write_record([
            "case_id",
            "area",
            "unit",
            "closed",
            "p_rereferral_12m",
            "rereferred_12m",
            "observable",
        ])?;
        Ok(Generator {
            cfg: cfg.clone(),
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            programme: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x0b42_7465_616d),
            earnings: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x0e61_726e_696e),
            referral: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x0b75_6e67_646f),
            s,
            caseworkers: crate::caseworkers::Caseworkers::new(cfg.seed, cfg.clients),
            faults: Vec::new(),
            truth_dir: truth.to_path_buf(),
            case_truth,
            issued: HashSet::new(),
            next_id: 0,
            households: 0,
            clients: 0,
            start: period_start(),
            end: as_of(),
            placed: HashSet::new(),
            eligible_children: 0,
            children_in_team: 0,
            reported: HashSet::new(),
            unreferred: HashSet::new(),
            eligible_young: 0,
            young_in_team: 0,
        })
    }

    pub(crate) fn run(&mut self, progress: &mut dyn FnMut(u64)) -> io::Result<()> {
        let mut reported = 0;
        while (self.clients as usize) < self.cfg.clients {
            self.household()?;
            if self.clients >= reported + 1000 {
                reported = self.clients;
                progress(self.clients);
            }
        }
        progress(self.clients);
        Ok(())
    }

    pub(crate) fn finish(mut self) -> io::Result<Summary> {
        self.case_truth.flush()?;
        let mut files = Vec::new();
        let Sinks { clients, cases, reports, assessments, goals, interventions, payments, contacts, outcomes } = self.s;
        for sink in [clients, cases, reports, assessments, goals, interventions, payments, contacts, outcomes] {
            files.push((sink.table.to_string(), sink.file.to_string(), sink.rows));
            sink.finish()?;
        }
        let mut w = csv::Writer::from_writer(BufWriter::new(File::create(self.truth_dir.join("faults.csv"))?));
        w.write_record(["file", "line", "column", "fault", "expected_reason"])?;
        for f in &self.faults {
            w.write_record([
                f.file,
                &f.line.to_string(),
                f.column,
                &format!("{:?}", f.fault),
                f.fault.expected_reason(),
            ])?;
        }
        w.flush()?;
        let truth = Truth {
            seed: self.cfg.seed,
            clients: self.clients,
            dirty_rate: self.cfg.dirty_rate,
            as_of: self.end.to_string(),
            rereferral: Rereferral {
                formula: "logit p = intercept[area] + unit_effect[unit] + household_risk*z + prior_cases*min(prior,3) + young*[child 13-17 or adult under 25 at closure] + (planned_end | unplanned_end)[last intervention]; z ~ N(0,1) per household",
                intercept_by_area: INTERCEPT.to_vec(),
                unit_effect: UNIT_EFFECT.to_vec(),
                household_risk: B_HOUSEHOLD,
                prior_cases: B_PRIOR,
                young: B_YOUNG,
                planned_end: B_PLANNED_END,
                unplanned_end: B_UNPLANNED_END,
                per_case_file: "cases.csv: p_rereferral_12m per closed case; observable = closed + 365 days <= as_of",
            },
            instrument_change_by_intervention: CHANGE
                .iter()
                .map(|(i, ins, c)| ChangeTruth { intervention: i, instrument: ins, true_mean_change: *c })
                .collect(),
            instruments: INSTRUMENTS,
            school_attendance: "share at closure = 0.82 - 0.06 z + attendance_effect[intervention] + N(0, 0.08), clipped to 0..1",
            attendance_effect: ATTENDANCE.to_vec(),
            financial_assistance: "spell months: 45% U(1,4), 30% U(5,9), 25% U(10,30); employment support (see contract_programme) multiplies the months after the third by 0.75 and adds 0.8 to the log-odds of employment or studies at exit (base -0.5 - 0.3 z)",
            contract_programme: Programme {
                service: "employment_support, decided and started on the first day of the spell's third month",
                eligibility: "a spell of income support reaching its third consecutive month; the client never had the service before",
                selection: "logit P = -1.1 + 1.0 [payment reason unemployment] - 0.04 (age at that month - 40) - 0.35 min(prior spells of the client, 2); age = year - birth year",
                outcome: "employment_status at each quarter's end from 2021Q1: P(1) = 0.24 + 0.004 (45 - clamp(2021 - birth year, 20, 65)) - 0.05 clamp(z, -2, 2) + 0.005 q + 0.10 [a quarter after the one the service started in]; q = quarters since 2021Q1",
                outcome_type: "employment_status",
                att_employment_status: STATUS_EFFECT,
                calendar_trend_per_quarter: STATUS_TREND,
                earnings: "earnings at each quarter's end (outcome type earnings): 75000 x m x (1 + N(0, 0.1)) SEK, whole, in a quarter employed or studying (the employment_status above), else 0; m ~ LogNormal(-0.08, 0.4) per person (mean 1)",
                att_earnings: EARNINGS_PER_QUARTER * STATUS_EFFECT,
            },
            placement_programme: PlacementProgramme {
                service: "intervention type other, provider Barnteamet, decided and started the day the placement starts, lasting Gamma(2, mean 300 days)",
                eligibility: "a child's first residential placement (residential_care, with a start date) starting 2022-01-01 to 2024-06-30, aged 7-18 at its start (year - birth year)",
                selection: "logit P = -0.3 - 0.12 (age - 12)",
                outcome: "school_attendance at each quarter's end, 4 quarters before the placement's quarter to 12 after: share = 0.70 + 0.004 (age - 12) - 0.03 clamp(z, -2, 2) + N(0, 0.06) + 0.06 [team, a quarter after the placement's], clipped to 0..1, 2 decimals, on the quarter's last day; a case's attendance at closure (the same outcome type) is dated earlier in its quarter or written before the report, so the quarter's last row is the report (but for a later case closing on a quarter's last day: rare)",
                outcome_type: "school_attendance",
                att_school_attendance: PLACED_ATTENDANCE_EFFECT,
                replacement: "a new residential placement in the same case, decided 14 to 730 days after the first one ends, with probability 0.30 + 0.06 clamp(z, -2, 2) - 0.12 [team]; it lasts Gamma(2, mean 150 days)",
                replacement_effect: PLACED_REPLACEMENT_EFFECT,
                eligible_children: self.eligible_children,
                children_in_team: self.children_in_team,
            },
            referral_programme: ReferralProgramme {
                service: "intervention type other, provider Ungdomsteamet, decided on the preliminary assessment's day and started 0-14 days after it, lasting Gamma(2, mean 270 days), in the report's case",
                eligibility: "a young person's first report of concern whose preliminary assessment ended without investigation (no_investigation), received 2022-01-01 to 2024-06-30, aged 10-15 that year (year - birth year), with an earlier report of any kind",
                selection: "P = 0.8, independent of everything else",
                outcome: "stjarna scores in domains skola, fritid, relationer and halsa at the team's start and every 3 months after it (chrono months) for 24 months, up to the export date, in the report's case: score = b + c + e, b ~ U{2..6} per person and domain, e ~ U{-1,0,1}, c = 0 at the start and floor(effect) + Bernoulli(frac(effect)) at each follow-up",
                instrument: "stjarna",
                change_by_domain: REFERRED_EFFECT.to_vec(),
                mean_change: REFERRED_EFFECT.iter().map(|(_, e)| e).sum::<f64>() / REFERRED_EFFECT.len() as f64,
                eligible_young: self.eligible_young,
                young_in_team: self.young_in_team,
            },
        };
        let json = serde_json::to_string_pretty(&truth).expect("truth serialises");
        std::fs::write(self.truth_dir.join("truth.json"), json)?;
        Ok(Summary {
            clients: self.clients,
            files,
            faults: self.faults.len() as u64,
            exports: PathBuf::new(),
            truth: PathBuf::new(),
            mapping: PathBuf::new(),
        })
    }

    fn id(&mut self, prefix: char) -> String {
        self.next_id += 1;
        format!("{prefix}{:09}", self.next_id)
    }

    fn days(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let span = (to - from).num_days().max(0);
        from + Duration::days(self.rng.random_range(0..=span))
    }

    fn gamma_days(&mut self, shape: f64, mean: f64) -> i64 {
        gamma_days(&mut self.rng, shape, mean)
    }

    fn normal(&mut self, sd: f64) -> f64 {
        Normal::new(0.0, sd).unwrap().sample(&mut self.rng)
    }

    fn pick<T: Copy>(&mut self, weighted: &[(T, f64)]) -> T {
        let total: f64 = weighted.iter().map(|w| w.1).sum();
        let mut x = self.rng.random_range(0.0..total);
        for (v, w) in weighted {
            if x < *w {
                return *v;
            }
            x -= w;
        }
        weighted[weighted.len() - 1].0
    }

    fn person(&mut self, birth_year: i32) -> Person {
        loop {
            let month = self.rng.random_range(1..=12u8);
            let day = self.rng.random_range(1..=28u8);
            let coordination = birth_year < 2004 && self.rng.random_bool(0.03);
            let serial = self.rng.random_range(0..1000u16);
            let pnr = Pnr::from_parts(birth_year as u16, month, if coordination { day + 60 } else { day }, serial);
            if self.issued.insert(pnr.canonical()) {
                return Person { pnr, birth_year };
            }
        }
    }

    /// The personnummer as the source system wrote it (forms vary between rows).
    fn written(&mut self, p: &Person) -> String {
        written(&mut self.rng, p)
    }

    fn write(&mut self, table: &str, row: Vec<String>) -> io::Result<()> {
        let row = self.with_caseworker(table, row);
        sink_of(&mut self.s, table).write(&row, &mut self.rng, self.cfg.dirty_rate, &mut self.faults)
    }

    /// A row of the placed-children programme, its faults drawn from the programme's stream.
    fn write_programme(&mut self, table: &str, row: Vec<String>) -> io::Result<()> {
        let row = self.with_caseworker(table, row);
        sink_of(&mut self.s, table).write(&row, &mut self.programme, self.cfg.dirty_rate, &mut self.faults)
    }

    /// A row of the referred-youth programme, its faults drawn from the programme's stream.
    fn write_referral(&mut self, table: &str, row: Vec<String>) -> io::Result<()> {
        let row = self.with_caseworker(table, row);
        sink_of(&mut self.s, table).write(&row, &mut self.referral, self.cfg.dirty_rate, &mut self.faults)
    }

    /// The row with its caseworker (the last column) where the table has one:
    /// whoever held the case's post on the row's date (for a case, at its
    /// closure or the export).
    fn with_caseworker(&self, table: &str, mut row: Vec<String>) -> Vec<String> {
        let (case, date) = match table {
            "cases" => (0, 8),
            "assessments" => (2, 6),
            "interventions" => (2, 5),
            "contacts" => (2, 3),
            _ => return row,
        };
        let day = ["%Y-%m-%d", "%Y%m%d"]
            .iter()
            .find_map(|f| NaiveDate::parse_from_str(&row[date], f).ok())
            .unwrap_or(self.end);
        let who = self.caseworkers.on(&row[case], day);
        row.push(who);
        row
    }

    /// An earnings row, its faults drawn from the earnings' stream.
    fn write_earnings(&mut self, row: Vec<String>) -> io::Result<()> {
        sink_of(&mut self.s, "outcomes").write(&row, &mut self.earnings, self.cfg.dirty_rate, &mut self.faults)
    }

    fn date(&self, table: &str, d: Option<NaiveDate>) -> String {
        let Some(d) = d else { return String::new() };
        if table == source::PROVIDER_TABLE {
            format!("{:04}{:02}{:02}", d.year(), d.month(), d.day())
        } else {
            format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
        }
    }

    fn decimal(table: &str, v: f64, places: usize) -> String {
        let s = format!("{v:.places$}");
        if source::format_of(table).2 == b',' { s.replace('.', ",") } else { s }
    }

    fn household(&mut self) -> io::Result<()> {
        self.caseworkers.next_household();
        self.households += 1;
        let household = format!("H{:08}", self.households);
        let district = source::DISTRICTS[self.rng.random_range(0..source::DISTRICTS.len())].0;
        let z = self.normal(1.0);
        let n_adults = if self.rng.random_bool(0.45) { 1 } else { 2 };
        let n_children = self.pick(&[(0, 0.40), (1, 0.25), (2, 0.20), (3, 0.15)]);
        let mut members = Vec::new();
        for _ in 0..n_adults {
            let y = self.rng.random_range(1945..=2003);
            members.push((self.person(y), false));
        }
        for _ in 0..n_children {
            let y = self.rng.random_range(2004..=2023);
            members.push((self.person(y), true));
        }
        let scale = (0.6 * z).exp();
        let fa = self.rng.random_bool((0.18 * scale).min(0.9));
        for (i, (person, child)) in members.iter().enumerate() {
            if self.clients as usize >= self.cfg.clients {
                break;
            }
            let mut areas = Vec::new();
            if *child {
                if self.rng.random_bool((0.30 * (0.5 * z).exp()).min(0.9)) {
                    areas.push(Area::Child);
                }
            } else {
                if self.rng.random_bool((0.07 * (0.5 * z).exp()).min(0.9)) {
                    areas.push(Area::Substance);
                }
                if self.rng.random_bool((0.05 * (0.4 * z).exp()).min(0.9)) {
                    areas.push(Area::Psychiatry);
                }
            }
            let applicant = i == 0 && fa;
            if areas.is_empty() && !applicant {
                continue;
            }
            self.clients += 1;
            let pnr = self.written(person);
            self.write("clients", vec![pnr, household.clone(), source_code("district", district).to_string()])?;
            if applicant {
                self.financial_assistance(person, &household, district, z, members.len())?;
            }
            for area in areas {
                self.case_chain(person, area, district, z)?;
            }
        }
        Ok(())
    }

    fn unit_for(area: &str, district: &str) -> &'static str {
        match (area, district) {
            ("child_youth", "norr") => "bou_norr",
            ("child_youth", "soder") => "bou_soder",
            ("child_youth", "oster") => "bou_oster",
            ("child_youth", _) => "bou_vaster",
            ("adult_substance", _) => "vux_beroende",
            ("financial_assistance", "soder" | "vaster") => "fs_syd",
            ("financial_assistance", _) => "fs_norr",
            _ => "socpsyk",
        }
    }

    fn age_at(p: &Person, d: NaiveDate) -> i32 {
        d.year() - p.birth_year
    }

    fn young(area: &str, age: i32) -> bool {
        if area == "child_youth" { (13..=17).contains(&age) } else { age < 25 }
    }

    /// Record the truth of a closed case and decide whether the client comes back.
    fn rereferral(&mut self, c: &ClosedCase, z: f64, prior: u32) -> io::Result<Option<NaiveDate>> {
        let ClosedCase { case_id, area, unit, closed, young, term } = *c;
        let eta = lookup(INTERCEPT, area)
            + lookup(UNIT_EFFECT, unit)
            + B_HOUSEHOLD * z
            + B_PRIOR * f64::from(prior.min(3))
            + if young { B_YOUNG } else { 0.0 }
            + term;
        let p = logistic(eta);
        let back = self.rng.random_bool(p);
        let observable = closed + Duration::days(365) <= self.end;
        self.case_truth.write_record([
            case_id,
            area,
            unit,
            &closed.to_string(),
            &format!("{p:.6}"),
            if back { "1" } else { "0" },
            if observable { "1" } else { "0" },
        ])?;
        Ok(back.then(|| closed + Duration::days(self.rng.random_range(1..=365))))
    }

    fn case_chain(&mut self, p: &Person, area: Area, district: &str, z: f64) -> io::Result<()> {
        let first_possible = match area {
            Area::Child => NaiveDate::from_ymd_opt(p.birth_year, 6, 1).unwrap().max(self.start),
            _ => NaiveDate::from_ymd_opt(p.birth_year + 18, 6, 1).unwrap().max(self.start),
        };
        let last_possible = match area {
            Area::Child => NaiveDate::from_ymd_opt(p.birth_year + 17, 12, 1).unwrap().min(self.end),
            _ => self.end,
        };
        if first_possible >= last_possible {
            return Ok(());
        }
        let mut opened = self.days(first_possible, last_possible);
        let unit = Self::unit_for(area.code(), district);
        let mut prior = 0;
        loop {
            let case_id = self.id('C');
            let c = self.case(p, area, unit, &case_id, opened, z)?;
            let Some(closed) = c.closed else { break };
            let young = Self::young(area.code(), Self::age_at(p, closed));
            let ending =
                ClosedCase { case_id: &case_id, area: area.code(), unit, closed, young, term: c.intervention_term };
            match self.rereferral(&ending, z, prior)? {
                // A re-referral is a new case in the same area within a year of
                // closure; youth keep their child-and-youth case past 17.
                Some(next) if next <= self.end => {
                    opened = next;
                    prior += 1;
                }
                _ => break,
            }
        }
        Ok(())
    }

    fn case(
        &mut self,
        p: &Person,
        area: Area,
        unit: &'static str,
        case_id: &str,
        opened: NaiveDate,
        z: f64,
    ) -> io::Result<Closed> {
        self.caseworkers.open(case_id, unit, opened);
        let pnr = self.written(p);
        let end = self.end;
        let origin = match area {
            Area::Child => "report",
            Area::Substance => self.pick(&[("own_request", 0.4), ("police_lob", 0.25), ("report", 0.35)]),
            Area::Psychiatry => self.pick(&[("application", 0.7), ("own_request", 0.3)]),
        };
        // The report or application that opened the case.
        let report_id = self.id('R');
        let (kind, reporter) = match area {
            Area::Child => (
                "report",
                self.pick(&[
                    ("police", 0.3),
                    ("school", 0.3),
                    ("health_care", 0.15),
                    ("social_services", 0.1),
                    ("family", 0.1),
                    ("other", 0.05),
                ]),
            ),
            _ if origin == "report" => ("report", self.pick(&[("health_care", 0.5), ("family", 0.3), ("other", 0.2)])),
            _ if origin == "police_lob" => ("report", "police"),
            _ => ("application", "self"),
        };
        let channel = if kind == "application" {
            Some(if self.rng.random_bool(0.5) { "digital" } else { "paper" })
        } else {
            None
        };
        let (prelim_decided, prelim_outcome, inv_start) = if area == Area::Child {
            let d = opened + Duration::days(self.gamma_days(2.0, 10.0));
            let outcome = self.pick(&[("investigation", 0.55), ("no_investigation", 0.42), ("transferred", 0.03)]);
            (Some(d).filter(|d| *d <= end), Some(outcome), (outcome == "investigation").then_some(d))
        } else {
            (None, None, Some(opened + Duration::days(self.rng.random_range(0..15))))
        };
        let prelim_outcome = prelim_outcome.filter(|_| prelim_decided.is_some());
        let inv_start = inv_start.filter(|d| *d <= end && (area != Area::Child || prelim_decided.is_some()));
        let row = vec![
            report_id,
            pnr.clone(),
            case_id.to_string(),
            source_code("report_kind", kind).to_string(),
            self.date("reports", Some(opened)),
            source_code("reporter", reporter).to_string(),
            channel.map(|c| source_code("application_channel", c).to_string()).unwrap_or_default(),
            self.date("reports", prelim_decided),
            prelim_outcome.map(|o| source_code("prelim_outcome", o).to_string()).unwrap_or_default(),
        ];
        self.write("reports", row)?;
        if let (Area::Child, Some(d), Some("no_investigation")) = (area, prelim_decided, prelim_outcome) {
            self.referral_programme(p, case_id, opened, d)?;
        }
        self.reported.insert(p.pnr.canonical());

        let decided = inv_start
            .map(|s| s + Duration::days(self.gamma_days(4.0, if area == Area::Child { 95.0 } else { 60.0 })))
            .filter(|d| *d <= end);
        let mut intervention_term = 0.0;
        let mut last = if area == Area::Child && inv_start.is_none() { prelim_decided } else { decided };
        let mut ongoing = inv_start.is_some() && decided.is_none();
        if let Some(decided) = decided {
            let roll = self.rng.random_range(0.0..1.0);
            if roll < 0.70 {
                let (ty, started, ended, planned) = self.intervention(p, area, case_id, decided, z)?;
                match ended {
                    Some(e) => {
                        last = Some(e);
                        intervention_term = if planned { B_PLANNED_END } else { B_UNPLANNED_END };
                    }
                    None => ongoing = true,
                }
                if area == Area::Child && !ongoing {
                    let att = (0.82 - 0.06 * z + lookup(ATTENDANCE, ty) + self.normal(0.08)).clamp(0.0, 1.0);
                    self.outcome(&pnr, Some(case_id), "school_attendance", last.unwrap(), att, 2)?;
                }
                // After the attendance at closure: on the same day the
                // programme's quarterly report is the later row, the one read.
                if area == Area::Child && ty == "residential_care" {
                    self.placement_programme(p, case_id, (started, ended), z)?;
                }
            } else if roll < 0.78 {
                self.denied(&pnr, area, case_id, decided)?;
            }
        }
        let closed = if ongoing {
            None
        } else {
            last.map(|d| d + Duration::days(self.rng.random_range(0..31))).filter(|d| *d <= end)
        };
        // An extra report while the case is open.
        let open_until = closed.unwrap_or(end);
        if area == Area::Child && self.rng.random_bool(0.25) && open_until > opened {
            let received = self.days(opened + Duration::days(1), open_until);
            let report_id = self.id('R');
            let reporter = self.pick(&[("police", 0.3), ("school", 0.4), ("family", 0.3)]);
            let row = vec![
                report_id,
                pnr.clone(),
                case_id.to_string(),
                source_code("report_kind", "report").to_string(),
                self.date("reports", Some(received)),
                source_code("reporter", reporter).to_string(),
                String::new(),
                String::new(),
                String::new(),
            ];
            self.write("reports", row)?;
        }
        let row = vec![
            case_id.to_string(),
            pnr.clone(),
            source_code("unit", unit).to_string(),
            source_code("area", area.code()).to_string(),
            source_code("origin", origin).to_string(),
            self.date("cases", Some(opened)),
            self.date("cases", inv_start),
            self.date("cases", decided),
            self.date("cases", closed),
        ];
        self.write("cases", row)?;
        let mean = match area {
            Area::Child => 5.0,
            Area::Substance => 4.0,
            Area::Psychiatry => 6.0,
        };
        self.contacts(&pnr, case_id, opened, open_until, mean)?;
        Ok(Closed { closed, intervention_term })
    }

    /// The placed-children programme (see PLACED_ATTENDANCE_EFFECT) at a
    /// child's residential placement `span` (start, end): eligibility, the
    /// team, the quarterly school attendance and a re-placement.
    fn placement_programme(
        &mut self,
        p: &Person,
        case_id: &str,
        span: (Option<NaiveDate>, Option<NaiveDate>),
        z: f64,
    ) -> io::Result<()> {
        let (Some(start), ended) = span else { return Ok(()) };
        let age = Self::age_at(p, start);
        let ymd = |(y, m, d): (i32, u32, u32)| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let first = self.placed.insert(p.pnr.canonical());
        if !first || !(7..=18).contains(&age) || start < ymd(PLACED_FROM) || start > ymd(PLACED_TO) {
            return Ok(());
        }
        self.eligible_children += 1;
        let eta = PLACED_SELECT_INTERCEPT + PLACED_SELECT_AGE * f64::from(age - 12);
        let team = self.programme.random_bool(logistic(eta));
        let pnr = written(&mut self.programme, p);
        let t = "interventions";
        if team {
            self.children_in_team += 1;
            let days = gamma_days(&mut self.programme, 2.0, 300.0);
            let ended = Some(start + Duration::days(days)).filter(|e| *e <= self.end);
            let row = self.team_row(&pnr, case_id, PLACED_TEAM, start, (start, ended), 900.0);
            self.write_programme(t, row)?;
        }
        let quarter = |d: NaiveDate| (d.year() - 2021) * 4 + (d.month0() / 3) as i32;
        let q0 = quarter(start);
        let level = 0.70 + 0.004 * f64::from(age - 12) - 0.03 * z.clamp(-2.0, 2.0);
        for q in (q0 - 4).max(0)..=(q0 + 12).min(quarter(self.end)) {
            let end_month = Self::add_months(self.start, 3 * q as u32 + 2);
            let observed = Self::add_months(end_month, 1) - Duration::days(1);
            let effect = if team && q > q0 { PLACED_ATTENDANCE_EFFECT } else { 0.0 };
            let v = (level + Normal::new(0.0, 0.06).unwrap().sample(&mut self.programme) + effect).clamp(0.0, 1.0);
            let row = self.outcome_row(&pnr, Some(case_id), "school_attendance", observed, v, 2);
            self.write_programme("outcomes", row)?;
        }
        let Some(ended) = ended else { return Ok(()) };
        let p_again = 0.30 + 0.06 * z.clamp(-2.0, 2.0) - if team { PLACED_REPLACEMENT_EFFECT } else { 0.0 };
        if !self.programme.random_bool(p_again.clamp(0.0, 1.0)) {
            return Ok(());
        }
        let decided = ended + Duration::days(self.programme.random_range(14..=730));
        if decided > self.end {
            return Ok(());
        }
        let started = decided + Duration::days(self.programme.random_range(0..14));
        let again_end =
            Some(started + Duration::days(gamma_days(&mut self.programme, 2.0, 150.0))).filter(|e| *e <= self.end);
        let started = Some(started).filter(|s| *s <= self.end);
        let paid = started.map_or(0, |s| (again_end.unwrap_or(self.end) - s).num_days());
        let id = self.id('I');
        let row = vec![
            id,
            pnr,
            case_id.to_string(),
            source_code("intervention_type", "residential_care").to_string(),
            "HVB Solgläntan AB".to_string(),
            self.date(t, Some(decided)),
            "J".into(),
            self.date(t, started),
            self.date(t, again_end),
            again_end.map(|_| source_code("end_reason", "planned").to_string()).unwrap_or_default(),
            if started.is_some() { Self::decimal(t, 4200.0 * paid as f64, 2) } else { String::new() },
        ];
        self.write_programme(t, row)
    }

    /// The referred-youth programme (see REFERRED_EFFECT) at a report of
    /// concern received on `received` whose preliminary assessment on
    /// `prelim` ended without investigation.
    fn referral_programme(
        &mut self,
        p: &Person,
        case_id: &str,
        received: NaiveDate,
        prelim: NaiveDate,
    ) -> io::Result<()> {
        let ymd = |(y, m, d): (i32, u32, u32)| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let key = p.pnr.canonical();
        let earlier = self.reported.contains(&key);
        let first = self.unreferred.insert(key);
        let age = Self::age_at(p, received);
        if !first
            || !earlier
            || !(10..=15).contains(&age)
            || received < ymd(REFERRED_FROM)
            || received > ymd(REFERRED_TO)
        {
            return Ok(());
        }
        self.eligible_young += 1;
        if !self.referral.random_bool(REFERRED_TAKE_UP) {
            return Ok(());
        }
        let start = prelim + Duration::days(self.referral.random_range(0..=14));
        if start > self.end {
            return Ok(());
        }
        self.young_in_team += 1;
        let pnr = written(&mut self.referral, p);
        let ended = Some(start + Duration::days(gamma_days(&mut self.referral, 2.0, 270.0))).filter(|e| *e <= self.end);
        let row = self.team_row(&pnr, case_id, REFERRED_TEAM, prelim, (start, ended), 600.0);
        self.write_referral("interventions", row)?;
        let base: Vec<i64> = REFERRED_EFFECT.iter().map(|_| self.referral.random_range(2..=6)).collect();
        for k in 0..=8u32 {
            let date = Self::add_months(start, 3 * k);
            if date > self.end {
                break;
            }
            for (j, (domain, effect)) in REFERRED_EFFECT.iter().enumerate() {
                let change = if k == 0 {
                    0
                } else {
                    effect.floor() as i64 + i64::from(self.referral.random_bool(effect.fract()))
                };
                let noise = self.referral.random_range(-1..=1i64);
                let t = "assessments";
                let id = self.id('B');
                let row = vec![
                    id,
                    pnr.clone(),
                    case_id.to_string(),
                    source_code("instrument", "stjarna").to_string(),
                    source_code("domain", domain).to_string(),
                    Self::decimal(t, (base[j] + change + noise) as f64, 0),
                    self.date(t, Some(date)),
                ];
                self.write_referral(t, row)?;
            }
        }
        Ok(())
    }

    /// A programme's team: a granted intervention of type `other` by
    /// `provider`, decided on `decided`, in service over `span` (start, end;
    /// none: still going), costing `daily` a day up to its end or the export date.
    fn team_row(
        &mut self,
        pnr: &str,
        case_id: &str,
        provider: &str,
        decided: NaiveDate,
        span: (NaiveDate, Option<NaiveDate>),
        daily: f64,
    ) -> Vec<String> {
        let (t, (start, ended)) = ("interventions", span);
        vec![
            self.id('I'),
            pnr.to_string(),
            case_id.to_string(),
            source_code("intervention_type", "other").to_string(),
            provider.to_string(),
            self.date(t, Some(decided)),
            "J".into(),
            self.date(t, Some(start)),
            self.date(t, ended),
            ended.map(|_| source_code("end_reason", "planned").to_string()).unwrap_or_default(),
            Self::decimal(t, daily * ((ended.unwrap_or(self.end) - start).num_days() as f64), 2),
        ]
    }

    fn denied(&mut self, pnr: &str, area: Area, case_id: &str, decided: NaiveDate) -> io::Result<()> {
        let ty = match area {
            Area::Child => "family_treatment",
            Area::Substance => "residential_treatment",
            Area::Psychiatry => "supported_housing",
        };
        let id = self.id('I');
        let t = "interventions";
        let row = vec![
            id,
            pnr.to_string(),
            case_id.to_string(),
            source_code("intervention_type", ty).to_string(),
            String::new(),
            self.date(t, Some(decided)),
            "N".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ];
        self.write(t, row)
    }

    /// A granted intervention with assessments and goals. Returns (type, end date, planned end).
    fn intervention(
        &mut self,
        p: &Person,
        area: Area,
        case_id: &str,
        decided: NaiveDate,
        z: f64,
    ) -> io::Result<(&'static str, Option<NaiveDate>, Option<NaiveDate>, bool)> {
        let ty = match area {
            Area::Child => self.pick(&[
                ("family_treatment", 0.45),
                ("contact_person", 0.25),
                ("foster_care", 0.18),
                ("residential_care", 0.12),
            ]),
            Area::Substance => self.pick(&[("outpatient_treatment", 0.7), ("residential_treatment", 0.3)]),
            Area::Psychiatry => self.pick(&[("supported_housing", 0.8), ("other", 0.2)]),
        };
        let (mean_days, daily, provider, p_unplanned) = match ty {
            "family_treatment" => (150.0, 450.0, "Egen regi Familjebehandling", 0.25),
            "contact_person" => (300.0, 150.0, "Egen regi Kontaktpersoner", 0.2),
            "foster_care" => (400.0, 1300.0, "Familjehemsenheten", 0.2),
            "residential_care" => (
                200.0,
                4200.0,
                if self.rng.random_bool(0.5) { "HVB Solgläntan AB" } else { "Stiftelsen Åsbacka" },
                0.45,
            ),
            "outpatient_treatment" => (120.0, 600.0, "Beroendemottagningen", 0.35),
            "residential_treatment" => (90.0, 3800.0, "Behandlingshemmet Källan", 0.4),
            "supported_housing" => (365.0, 350.0, "Boendestöd Öster", 0.15),
            _ => (180.0, 300.0, "Övrig utförare", 0.3),
        };
        let started = decided + Duration::days(self.rng.random_range(0..31));
        let duration = self.gamma_days(2.0, mean_days);
        let ended = Some(started + Duration::days(duration)).filter(|e| *e <= self.end);
        let started = Some(started).filter(|s| *s <= self.end);
        let planned = !self.rng.random_bool(p_unplanned);
        let paid_days = match (started, ended) {
            (Some(s), Some(e)) => (e - s).num_days(),
            (Some(s), None) => (self.end - s).num_days(),
            _ => 0,
        };
        let cost = daily * paid_days as f64 * self.rng.random_range(0.9..1.1);
        let pnr = self.written(p);
        let id = self.id('I');
        let t = "interventions";
        let row = vec![
            id,
            pnr.clone(),
            case_id.to_string(),
            source_code("intervention_type", ty).to_string(),
            provider.to_string(),
            self.date(t, Some(decided)),
            "J".into(),
            self.date(t, started),
            self.date(t, ended),
            ended
                .map(|_| source_code("end_reason", if planned { "planned" } else { "unplanned" }).to_string())
                .unwrap_or_default(),
            if started.is_some() { Self::decimal(t, cost, 2) } else { String::new() },
        ];
        self.write(t, row)?;
        if let Some(s) = started {
            self.assessments_and_goals(&pnr, (area, ty), case_id, (s, ended), z)?;
        }
        if let Some(e) = ended {
            match area {
                Area::Substance => {
                    let eta = -1.0 + if ty == "outpatient_treatment" && planned { 0.6 } else { 0.0 } - 0.3 * z;
                    let v = if self.rng.random_bool(logistic(eta)) { 1.0 } else { 0.0 };
                    self.outcome(&pnr, Some(case_id), "employment_or_studies", e, v, 0)?;
                }
                Area::Psychiatry => {
                    let eta = 0.2 + if ty == "supported_housing" { 0.9 } else { 0.0 } - 0.3 * z;
                    let v = if self.rng.random_bool(logistic(eta)) { 1.0 } else { 0.0 };
                    self.outcome(&pnr, Some(case_id), "stable_housing", e, v, 0)?;
                }
                Area::Child => {}
            }
        }
        Ok((ty, started, ended, planned))
    }

    /// Assessments at the start and end of an intervention (of `kind` = (area, type)) and its goals.
    fn assessments_and_goals(
        &mut self,
        pnr: &str,
        kind: (Area, &str),
        case_id: &str,
        span: (NaiveDate, Option<NaiveDate>),
        z: f64,
    ) -> io::Result<()> {
        let ((area, ty), (start, end)) = (kind, span);
        let (ins, domains): (&Instrument, &[&str]) = match area {
            Area::Child => (&INSTRUMENTS[0], &["skola", "halsa", "relationer", "fritid"]),
            Area::Substance => (&INSTRUMENTS[1], &["total"]),
            Area::Psychiatry => (&INSTRUMENTS[0], &["boende", "halsa", "relationer", "sysselsattning"]),
        };
        let n_domains = if domains.len() == 1 { 1 } else { 2 };
        let first = self.rng.random_range(0..domains.len());
        let change = CHANGE.iter().find(|c| c.0 == ty).map(|c| c.2).unwrap_or(0.0);
        let true_sd = ins.sd * ins.reliability.sqrt();
        let err_sd = ins.sd * (1.0 - ins.reliability).sqrt();
        let sign = if ins.higher_is_better { -1.0 } else { 1.0 };
        for k in 0..n_domains {
            let domain = domains[(first + k) % domains.len()];
            // Household risk makes the baseline worse.
            let true_base =
                ins.baseline_true_mean + sign * 0.3 * true_sd * z + self.normal(true_sd * (1.0 - 0.09f64).sqrt());
            let true_follow = true_base + change + self.normal(ins.sd * 0.3);
            let points = [(start, true_base), (end.unwrap_or(start), true_follow)];
            let n = if end.is_some() { 2 } else { 1 };
            for (date, truth) in points.iter().take(n) {
                let observed = (truth + self.normal(err_sd)).round().clamp(ins.scale_min, ins.scale_max);
                let id = self.id('B');
                let t = "assessments";
                let row = vec![
                    id,
                    pnr.to_string(),
                    case_id.to_string(),
                    source_code("instrument", ins.code).to_string(),
                    source_code("domain", domain).to_string(),
                    Self::decimal(t, observed, 0),
                    self.date(t, Some(*date)),
                ];
                self.write(t, row)?;
            }
            if ins.code == "stjarna" {
                let baseline = true_base.round().clamp(1.0, 9.0) as i64;
                let target = (baseline + self.rng.random_range(1..=3)).min(10);
                let attained =
                    end.map(|_| (baseline as f64 + 1.5 * change + self.normal(1.2)).round().clamp(1.0, 10.0) as i64);
                let gas = attained.map(|a| match a {
                    a if a >= target + 2 => 2,
                    a if a > target => 1,
                    a if a == target => 0,
                    a if a > baseline => -1,
                    _ => -2,
                });
                let id = self.id('G');
                let t = "goals";
                let row = vec![
                    id,
                    pnr.to_string(),
                    case_id.to_string(),
                    source_code("domain", domain).to_string(),
                    self.date(t, Some(start)),
                    baseline.to_string(),
                    target.to_string(),
                    attained.map(|a| a.to_string()).unwrap_or_default(),
                    self.date(t, end),
                    gas.map(|g| g.to_string()).unwrap_or_default(),
                    "1".into(),
                ];
                self.write(t, row)?;
            }
        }
        Ok(())
    }

    fn outcome(
        &mut self,
        pnr: &str,
        case_id: Option<&str>,
        ty: &'static str,
        observed: NaiveDate,
        value: f64,
        places: usize,
    ) -> io::Result<()> {
        let row = self.outcome_row(pnr, case_id, ty, observed, value, places);
        self.write("outcomes", row)
    }

    /// An outcome observation's row (a new id; the type as the source system codes it).
    fn outcome_row(
        &mut self,
        pnr: &str,
        case_id: Option<&str>,
        ty: &'static str,
        observed: NaiveDate,
        value: f64,
        places: usize,
    ) -> Vec<String> {
        let t = "outcomes";
        vec![
            self.id('O'),
            pnr.to_string(),
            case_id.unwrap_or("").to_string(),
            source_code("outcome_type", ty).to_string(),
            self.date(t, Some(observed)),
            Self::decimal(t, value, places),
        ]
    }

    fn contacts(&mut self, pnr: &str, case_id: &str, from: NaiveDate, to: NaiveDate, mean: f64) -> io::Result<()> {
        let n = Poisson::new(mean).unwrap().sample(&mut self.rng) as usize;
        for _ in 0..n {
            let date = self.days(from, to);
            // Digital channels grow over the years.
            let year = f64::from(date.year() - 2021);
            let channel = self.pick(&[
                ("in_person", 0.55 - 0.035 * year),
                ("phone", 0.30),
                ("video", 0.05 + 0.025 * year),
                ("chat", 0.02 + 0.015 * year),
                ("letter", 0.08 - 0.005 * year),
            ]);
            let id = self.id('K');
            let t = "contacts";
            let row = vec![
                id,
                pnr.to_string(),
                case_id.to_string(),
                self.date(t, Some(date)),
                source_code("contact_channel", channel).to_string(),
            ];
            self.write(t, row)?;
        }
        Ok(())
    }

    fn month_start(d: NaiveDate) -> NaiveDate {
        NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap()
    }

    fn add_months(d: NaiveDate, n: u32) -> NaiveDate {
        d.checked_add_months(chrono::Months::new(n)).unwrap()
    }

    /// Spells of financial assistance for a household, each its own case.
    fn financial_assistance(
        &mut self,
        p: &Person,
        household: &str,
        district: &str,
        z: f64,
        size: usize,
    ) -> io::Result<()> {
        let unit = Self::unit_for("financial_assistance", district);
        let first = self.days(self.start, self.end);
        let mut start = Self::month_start(first);
        let mut opened = first;
        let mut prior = 0;
        let base_amount = 6000.0 + 3000.0 * (size as f64 - 1.0);
        let mut service: Option<NaiveDate> = None;
        loop {
            let mut months: u32 = match self.pick(&[(0, 0.45), (1, 0.30), (2, 0.25)]) {
                0 => self.rng.random_range(1..=4),
                1 => self.rng.random_range(5..=9),
                _ => self.rng.random_range(10..=30),
            };
            let reason = self.pick(&[
                ("unemployment", 0.45),
                ("sickness", 0.2),
                ("low_income", 0.15),
                ("social_reasons", 0.1),
                ("awaiting_benefit", 0.07),
                ("other", 0.03),
            ]);
            // The programme: eligible in the spell's third month.
            let index = Self::add_months(start, 2);
            let support = months >= 3 && index <= self.end && service.is_none() && {
                let age = f64::from(Self::age_at(p, index));
                let eta = SELECT_INTERCEPT
                    + if reason == "unemployment" { SELECT_UNEMPLOYMENT } else { 0.0 }
                    + SELECT_AGE * (age - 40.0)
                    + SELECT_PRIOR * f64::from(prior.min(2));
                self.rng.random_bool(logistic(eta))
            };
            if support {
                months = 3 + (f64::from(months - 3) * SPELL_FACTOR_EMPLOYMENT).round() as u32;
                service = Some(index);
            }
            let case_id = self.id('C');
            self.caseworkers.open(&case_id, unit, opened);
            let pnr = self.written(p);
            let mut last_month = start;
            for m in 0..months {
                let month = Self::add_months(start, m);
                if month > self.end {
                    break;
                }
                last_month = month;
                let received = if m == 0 { opened } else { month + Duration::days(self.rng.random_range(0..20)) };
                let year = f64::from(received.year() - 2021);
                let digital = self.rng.random_bool((0.35 + 0.1 * year).min(0.95));
                let rid = self.id('R');
                let row = vec![
                    rid,
                    pnr.clone(),
                    case_id.clone(),
                    source_code("report_kind", "application").to_string(),
                    self.date("reports", Some(received.min(self.end))),
                    source_code("reporter", "self").to_string(),
                    source_code("application_channel", if digital { "digital" } else { "paper" }).to_string(),
                    String::new(),
                    String::new(),
                ];
                self.write("reports", row)?;
                let amount = (base_amount * self.rng.random_range(0.8..1.2)).round();
                let pid = self.id('P');
                let row = vec![
                    pid,
                    pnr.clone(),
                    household.to_string(),
                    case_id.clone(),
                    format!("{:04}-{:02}", month.year(), month.month()),
                    Self::decimal("payments", amount, 2),
                    source_code("payment_reason", reason).to_string(),
                ];
                self.write("payments", row)?;
            }
            let spell_end = Self::add_months(start, months);
            let ongoing = spell_end > self.end;
            let closed =
                (!ongoing).then(|| spell_end + Duration::days(self.rng.random_range(5..26))).filter(|d| *d <= self.end);
            if support {
                let iid = self.id('I');
                let t = "interventions";
                let dec = index;
                let ended = closed.map(|c| c.min(self.end));
                let row = vec![
                    iid,
                    pnr.clone(),
                    case_id.clone(),
                    source_code("intervention_type", "employment_support").to_string(),
                    "Jobbtorget".into(),
                    self.date(t, Some(dec)),
                    "J".into(),
                    self.date(t, Some(dec)),
                    self.date(t, ended),
                    ended.map(|_| source_code("end_reason", "planned").to_string()).unwrap_or_default(),
                    Self::decimal(t, 200.0 * f64::from(months) * 30.0, 2),
                ];
                self.write(t, row)?;
            }
            let row = vec![
                case_id.clone(),
                pnr.clone(),
                source_code("unit", unit).to_string(),
                source_code("area", "financial_assistance").to_string(),
                source_code("origin", "application").to_string(),
                self.date("cases", Some(opened)),
                String::new(),
                String::new(),
                self.date("cases", closed),
            ];
            self.write("cases", row)?;
            self.contacts(&pnr, &case_id, opened, closed.unwrap_or(self.end), 2.0 + 0.3 * f64::from(months))?;
            let Some(closed) = closed else { break };
            let eta = -0.5 + if support { B_EMPLOYMENT } else { 0.0 } - 0.3 * z;
            let v = if self.rng.random_bool(logistic(eta)) { 1.0 } else { 0.0 };
            self.outcome(&pnr, Some(&case_id), "employment_or_studies", closed, v, 0)?;
            let young = Self::young("financial_assistance", Self::age_at(p, closed));
            let ending = ClosedCase { case_id: &case_id, area: "financial_assistance", unit, closed, young, term: 0.0 };
            match self.rereferral(&ending, z, prior)? {
                Some(next) if next <= self.end => {
                    // A re-application after closure opens a new case; its
                    // first month is after the last paid month (closure is
                    // at least five days into the month after it).
                    debug_assert!(Self::month_start(next) > last_month);
                    opened = next;
                    start = Self::month_start(next);
                    prior += 1;
                }
                _ => break,
            }
        }
        self.employment_status(p, z, service)
    }

    /// The quarterly employment-status register match of an applicant
    /// (see STATUS_EFFECT), from 2021Q1 to the export date.
    fn employment_status(&mut self, p: &Person, z: f64, service: Option<NaiveDate>) -> io::Result<()> {
        let age = f64::from(2021 - p.birth_year).clamp(20.0, 65.0);
        let level = 0.24 + 0.004 * (45.0 - age) - 0.05 * z.clamp(-2.0, 2.0);
        let pnr = self.written(p);
        let m = LogNormal::new(-0.08, 0.4).unwrap().sample(&mut self.earnings);
        let quarter = |d: NaiveDate| (d.year() - 2021) * 4 + (d.month0() / 3) as i32;
        let treated_from = service.map(|s| quarter(s) + 1);
        for q in 0..=quarter(self.end) {
            let end_month = Self::add_months(self.start, 3 * q as u32 + 2);
            let observed = Self::add_months(end_month, 1) - Duration::days(1);
            let effect = if treated_from.is_some_and(|t| q >= t) { STATUS_EFFECT } else { 0.0 };
            let v = self.rng.random_bool(level + STATUS_TREND * f64::from(q) + effect);
            self.outcome(&pnr, None, "employment_status", observed, if v { 1.0 } else { 0.0 }, 0)?;
            let noise = Normal::new(0.0, 0.1).unwrap().sample(&mut self.earnings);
            let earned = if v { (EARNINGS_PER_QUARTER * m * (1.0 + noise)).max(0.0).round() } else { 0.0 };
            let row = self.outcome_row(&pnr, None, "earnings", observed, earned, 0);
            self.write_earnings(row)?;
        }
        Ok(())
    }
}
