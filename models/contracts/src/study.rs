//! The study population, read from the register: enrolments (spells of
//! income support reaching the target group's index month), who took part in
//! the service, their covariates at the index month, and the events the
//! outcome metrics and the effect estimate are defined over.

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use utfall_disclosure::Policy;
use utfall_register::scan::{one_of, scan};
use utfall_register::schema;
use utfall_register::store::CurrentBuild;

use crate::spec::{Spec, Window};

/// Months since year 0 (for consecutive-month arithmetic).
pub fn month_no(d: NaiveDate) -> i32 {
    d.year() * 12 + d.month0() as i32
}

pub fn month_start(m: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1).expect("month in range")
}

pub fn quarter_no(d: NaiveDate) -> i32 {
    d.year() * 4 + (d.month0() / 3) as i32
}

/// One enrolment: a spell that reached the index month.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub client_id: String,
    pub household_id: String,
    pub case_id: String,
    pub unit: String,
    pub district: String,
    pub sex: String,
    /// First day of the index month (the target group's condition met).
    pub index: NaiveDate,
    /// The service's start, for a participant.
    pub start: Option<NaiveDate>,
    /// For a non-participant: when the client later started the service (censors its outcomes).
    pub later_service: Option<NaiveDate>,
    pub age: i32,
    pub prior_spells: u32,
    pub reason: String,
    pub months_on_support_12m: u32,
}

impl Enrolment {
    pub fn treated(&self) -> bool {
        self.start.is_some()
    }

    /// The date outcomes are counted from: the service's start for a
    /// participant, the index month for a comparison enrolment.
    pub fn enrolled(&self) -> NaiveDate {
        self.start.unwrap_or(self.index)
    }
}

/// The register's events the study reads.
pub struct Study {
    pub as_of: NaiveDate,
    pub manifest_sha256: String,
    /// The disclosure policy of the build (what the reports may show).
    pub policy: Policy,
    /// Enrolments in the enrolment window (participants and the comparison pool).
    pub enrolments: Vec<Enrolment>,
    /// Enrolments in the historical window, if the spec has one.
    pub historical: Vec<Enrolment>,
    /// Every enrolment of the target group in the register, whatever its date
    /// (the baseline of `simulate`).
    pub pool: Vec<Enrolment>,
    /// (client, outcome type) -> observations sorted by date.
    pub observations: Observations,
    /// Household -> months (month_no) with a payment.
    pub paid_months: HashMap<String, BTreeSet<i32>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    #[error("{0}")]
    Polars(#[from] PolarsError),
    #[error("{0}")]
    Data(String),
}

fn strs(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    Ok(df.column(name)?.str()?.iter().map(|v| v.unwrap_or("").to_string()).collect())
}

fn dates(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<NaiveDate>>> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let c = df.column(name)?.cast(&DataType::Int32)?;
    Ok(c.i32()?.iter().map(|v| v.map(|d| epoch + chrono::Duration::days(i64::from(d)))).collect())
}

/// The register's rows a study reads, each table scanned once.
struct Frames {
    cases: DataFrame,
    payments: DataFrame,
    clients: DataFrame,
    services: DataFrame,
    outcomes: DataFrame,
}

impl Frames {
    fn read(spec: &Spec, dir: &Path, as_of: NaiveDate) -> Result<Frames, StudyError> {
        let t = &spec.target_group;
        // Payments of income-support cases, by case and month.
        let cases = scan(dir, &schema::CASES)?
            .filter(col("area").eq(lit(t.area.as_str())))
            .select([col("case_id"), col("client_id"), col("unit"), col("opened")])
            .collect()?;
        let payments = scan(dir, &schema::PAYMENTS)?
            .select([col("case_id"), col("household_id"), col("month"), col("reason")])
            .sort(["case_id", "month"], SortMultipleOptions::default())
            .collect()?;
        let clients = scan(dir, &schema::CLIENTS)?
            .select([col("client_id"), col("birth_year"), col("sex"), col("household_id"), col("district")])
            .collect()?;
        let services = scan(dir, &schema::INTERVENTIONS)?
            .filter(one_of(col("type"), &spec.service.intervention_types).and(col("granted").eq(lit(true))))
            .select([col("case_id"), col("client_id"), col("started").fill_null(col("decided")).alias("start")])
            .collect()?;
        let mut types: BTreeSet<String> = spec.outcome_metrics.iter().filter_map(|m| m.outcome_type.clone()).collect();
        types.insert(spec.validation.outcome_type.clone());
        let types: Vec<String> = types.into_iter().collect();
        let outcomes = scan(dir, &schema::OUTCOMES)?
            .filter(one_of(col("type"), &types).and(col("observed").lt_eq(lit(as_of))))
            .select([col("client_id"), col("type"), col("observed"), col("value")])
            .sort(["client_id", "type", "observed"], SortMultipleOptions::default())
            .collect()?;

        Ok(Frames { cases, payments, clients, services, outcomes })
    }
}

/// A client's attributes at enrolment.
struct Client {
    birth_year: Option<i32>,
    sex: String,
    household: String,
    district: String,
}

/// Clients by id (a client without a household is a household of one).
fn clients(clients: &DataFrame) -> Result<HashMap<String, Client>, StudyError> {
    let mut client: HashMap<String, Client> = HashMap::new();
    {
        let ids = strs(clients, "client_id")?;
        let by = clients.column("birth_year")?.cast(&DataType::Int32)?;
        let by: Vec<Option<i32>> = by.i32()?.iter().collect();
        let sex = strs(clients, "sex")?;
        let hh = strs(clients, "household_id")?;
        let di = strs(clients, "district")?;
        for i in 0..ids.len() {
            let household = if hh[i].is_empty() { format!("client:{}", ids[i]) } else { hh[i].clone() };
            client.insert(
                ids[i].clone(),
                Client { birth_year: by[i], sex: sex[i].clone(), household, district: di[i].clone() },
            );
        }
    }
    Ok(client)
}

/// Service starts by case and by client (sorted).
type Starts = HashMap<String, Vec<NaiveDate>>;

fn service_starts(services: &DataFrame) -> Result<(Starts, Starts), StudyError> {
    let mut service_by_case: HashMap<String, Vec<NaiveDate>> = HashMap::new();
    let mut service_by_client: HashMap<String, Vec<NaiveDate>> = HashMap::new();
    {
        let case = strs(services, "case_id")?;
        let cl = strs(services, "client_id")?;
        let start = dates(services, "start")?;
        for i in 0..case.len() {
            if let Some(s) = start[i] {
                service_by_case.entry(case[i].clone()).or_default().push(s);
                service_by_client.entry(cl[i].clone()).or_default().push(s);
            }
        }
        for v in service_by_client.values_mut() {
            v.sort();
        }
    }
    Ok((service_by_case, service_by_client))
}

/// (client, outcome type) -> observations sorted by date.
type Observations = HashMap<(String, String), Vec<(NaiveDate, f64)>>;

/// Outcome observations by client and type, in date order.
fn observations(outcomes: &DataFrame) -> Result<Observations, StudyError> {
    let mut observations = Observations::new();
    {
        let cl = strs(outcomes, "client_id")?;
        let ty = strs(outcomes, "type")?;
        let ob = dates(outcomes, "observed")?;
        let va: Vec<Option<f64>> = outcomes.column("value")?.cast(&DataType::Float64)?.f64()?.iter().collect();
        for i in 0..cl.len() {
            if let (Some(d), Some(v)) = (ob[i], va[i]) {
                observations.entry((cl[i].clone(), ty[i].clone())).or_default().push((d, v));
            }
        }
    }
    Ok(observations)
}

impl Study {
    /// Read the study population of `spec` from the register build in `dir`.
    pub fn read(spec: &Spec, build: &CurrentBuild, policy: Policy) -> Result<Study, StudyError> {
        let (dir, as_of, manifest_sha256) = (build.dir.as_path(), build.as_of, build.manifest_sha256.clone());
        let t = &spec.target_group;
        let f = Frames::read(spec, dir, as_of)?;
        let client = clients(&f.clients)?;
        let (service_by_case, service_by_client) = service_starts(&f.services)?;
        let (cases, payments) = (&f.cases, &f.payments);
        // Cases: client, unit, opened; prior spells per client.
        let case_ids = strs(cases, "case_id")?;
        let case_client = strs(cases, "client_id")?;
        let case_unit = strs(cases, "unit")?;
        let case_opened = dates(cases, "opened")?;
        let mut case_row: HashMap<&str, usize> = HashMap::new();
        let mut opened_by_client: HashMap<&str, Vec<NaiveDate>> = HashMap::new();
        for i in 0..case_ids.len() {
            case_row.insert(case_ids[i].as_str(), i);
            if let Some(o) = case_opened[i] {
                opened_by_client.entry(case_client[i].as_str()).or_default().push(o);
            }
        }
        // Payment months by case (sorted) and by household.
        let p_case = strs(payments, "case_id")?;
        let p_household = strs(payments, "household_id")?;
        let p_month = dates(payments, "month")?;
        let p_reason = strs(payments, "reason")?;
        let mut paid_months: HashMap<String, BTreeSet<i32>> = HashMap::new();
        let mut spells: BTreeMap<&str, Vec<(i32, usize)>> = BTreeMap::new();
        for i in 0..p_case.len() {
            let Some(m) = p_month[i] else { continue };
            paid_months.entry(p_household[i].clone()).or_default().insert(month_no(m));
            spells.entry(p_case[i].as_str()).or_default().push((month_no(m), i));
        }

        let mut all = Vec::new();
        let need = t.consecutive_months as i32;
        for (case_id, months) in &spells {
            let Some(&row) = case_row.get(case_id) else { continue };
            let mut distinct: Vec<(i32, usize)> = months.clone();
            distinct.dedup_by_key(|(m, _)| *m);
            let first = distinct[0].0;
            if distinct.len() < need as usize || distinct[need as usize - 1].0 != first + need - 1 {
                continue;
            }
            let index_month = first + need - 1;
            let index = month_start(index_month);
            if index > as_of {
                continue;
            }
            let cid = &case_client[row];
            let Some(c) = client.get(cid.as_str()) else { continue };
            let Some(by) = c.birth_year else { continue };
            let age = index.year() - by;
            let opened = case_opened[row];
            let prior_spells = opened_by_client
                .get(cid.as_str())
                .map(|v| v.iter().filter(|o| opened.is_some_and(|op| **o < op)).count() as u32)
                .unwrap_or(0);
            let household = p_household[distinct[0].1].clone();
            let household = if household.is_empty() { c.household.clone() } else { household };
            let months_on_support_12m =
                paid_months.get(&household).map(|s| s.range(first - 12..first).count() as u32).unwrap_or(0);
            let reason = p_reason[distinct[need as usize - 1].1].clone();
            let latest_start = index + chrono::Duration::days(spec.service.max_days_to_start);
            let start = service_by_case
                .get(*case_id)
                .and_then(|v| v.iter().filter(|s| **s >= index && **s <= latest_start).min().copied());
            let earlier = service_by_client.get(cid.as_str()).is_some_and(|v| v.iter().any(|s| *s < index));
            if earlier {
                // The target group is people who have not had the service before.
                continue;
            }
            let later_service = if start.is_none() {
                service_by_client.get(cid.as_str()).and_then(|v| v.iter().find(|s| **s >= index).copied())
            } else {
                None
            };
            all.push(Enrolment {
                client_id: cid.clone(),
                household_id: household,
                case_id: case_id.to_string(),
                unit: case_unit[row].clone(),
                district: c.district.clone(),
                sex: c.sex.clone(),
                index,
                start,
                later_service,
                age,
                prior_spells,
                reason,
                months_on_support_12m,
            });
        }
        let keep = |e: &Enrolment, w: &Window| {
            e.index >= w.from
                && e.index <= w.to
                && t.age_min.is_none_or(|a| e.age >= a)
                && t.age_max.is_none_or(|a| e.age <= a)
                && (t.reasons.is_empty() || t.reasons.contains(&e.reason))
                && (t.districts.is_empty() || t.districts.contains(&e.district))
        };
        let sort = |v: &mut Vec<Enrolment>| v.sort_by(|a, b| (a.index, &a.case_id).cmp(&(b.index, &b.case_id)));
        let mut enrolments: Vec<Enrolment> = all.iter().filter(|e| keep(e, &spec.enrolment)).cloned().collect();
        sort(&mut enrolments);
        let mut pool: Vec<Enrolment> =
            all.iter().filter(|e| keep(e, &Window { from: NaiveDate::MIN, to: NaiveDate::MAX })).cloned().collect();
        sort(&mut pool);
        let mut historical: Vec<Enrolment> = match &spec.validation.historical {
            Some(h) => all.iter().filter(|e| keep(e, h)).cloned().collect(),
            None => Vec::new(),
        };
        sort(&mut historical);

        let observations = observations(&f.outcomes)?;
        Ok(Study { as_of, manifest_sha256, policy, enrolments, historical, pool, observations, paid_months })
    }

    pub fn observations(&self, client: &str, outcome_type: &str) -> &[(NaiveDate, f64)] {
        self.observations.get(&(client.to_string(), outcome_type.to_string())).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The validation outcome by event quarter (`first..=last` relative to the
    /// index quarter): the last observation in each quarter. A comparison
    /// enrolment's quarters from a later start of the service are censored.
    pub fn event_series(&self, e: &Enrolment, outcome_type: &str, first: i32, last: i32) -> Vec<Option<f64>> {
        let q0 = quarter_no(e.index);
        let censor = e.later_service.map(quarter_no);
        let mut out = vec![None; (last - first + 1) as usize];
        for (d, v) in self.observations(&e.client_id, outcome_type) {
            let q = quarter_no(*d);
            let k = q - q0;
            if k < first || k > last || censor.is_some_and(|c| q >= c) {
                continue;
            }
            out[(k - first) as usize] = Some(*v);
        }
        out
    }
}

/// The mean of the present values in `series[a..=b]` (indices into the series).
pub fn window_mean(series: &[Option<f64>], a: usize, b: usize) -> Option<f64> {
    let v: Vec<f64> = series[a..=b].iter().flatten().copied().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}
