//! `utfall contract simulate`: before signing, what the contract would pay
//! and what the investor would get back, under assumed effects, take-up and
//! follow-up windows.
//!
//! The counterfactual is the register's own history: the outcome histories
//! of target-group enrolments that did not take part and whose whole
//! follow-up window is observed. A simulated participant draws one such
//! history. An assumed effect of d points on the simulated metric (the spec's
//! `simulation.metric`, by default the first) turns a drawn history that does
//! not achieve it into one that does (drawn from those that do) with
//! probability d / (1 - p0), so that metric's share rises
//! from p0 to p0 + d while every achievement keeps a real history's timing
//! and sustainment. Payments follow the rate card and caps; the investor
//! funds the service's cost at enrolment and receives the outcome payments.

use chrono::{Months, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::ratecard::{self, Achievement};
use crate::spec::Spec;
use crate::study::Study;
use crate::{ContractError, read_study};

/// One row of the simulation table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Scenario {
    pub effect: f64,
    pub take_up: f64,
    pub follow_up_months: u32,
    pub participants: usize,
    /// Share achieving the simulated metric without the service (the baseline histories).
    pub baseline_share: f64,
    pub investment: f64,
    pub payments_mean: f64,
    pub payments_p05: f64,
    pub payments_p95: f64,
    pub multiple_mean: f64,
    /// Annual internal rate of return of the mean cash flows.
    pub irr: Option<f64>,
    pub probability_of_loss: f64,
}

pub struct Simulated {
    pub scenarios: Vec<Scenario>,
    pub histories: Vec<(u32, usize)>,
    pub eligible: usize,
    pub as_of: NaiveDate,
    pub manifest_sha256: String,
    /// What the report may show.
    pub policy: utfall_disclosure::Policy,
}

/// A history: each metric's achievement as days after enrolment.
type History = Vec<Option<i64>>;

fn histories(spec: &Spec, study: &Study, follow_up: u32) -> Result<Vec<History>, ContractError> {
    let who: Vec<(&crate::study::Enrolment, NaiveDate)> = study
        .pool
        .iter()
        .filter(|e| !e.treated() && e.later_service.is_none())
        .filter(|e| e.index.checked_add_months(Months::new(follow_up)).is_some_and(|end| end <= study.as_of))
        .map(|e| (e, e.index))
        .collect();
    let metrics = spec.metric_variables(follow_up)?;
    let dates = study.achieved(&metrics, &who).map_err(crate::study::StudyError::from)?;
    Ok(dates
        .into_iter()
        .zip(&who)
        .map(|(row, (_, from))| row.into_iter().map(|d| d.map(|d| (d - *from).num_days())).collect())
        .collect())
}

/// Annual IRR of monthly cash flows (index = month), by bisection; None if
/// the flows do not change sign.
pub fn irr(flows: &[f64]) -> Option<f64> {
    let npv = |r: f64| {
        let m = (1.0 + r).powf(1.0 / 12.0);
        flows.iter().enumerate().map(|(t, f)| f / m.powi(t as i32)).sum::<f64>()
    };
    let (mut lo, mut hi) = (-0.99, 10.0);
    let (flo, fhi) = (npv(lo), npv(hi));
    if !(flo.is_finite() && fhi.is_finite()) || flo.signum() == fhi.signum() {
        return None;
    }
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if npv(mid).signum() == flo.signum() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some((lo + hi) / 2.0)
}

pub fn simulate(spec: &Spec, register: &std::path::Path, threshold: Option<u32>) -> Result<Simulated, ContractError> {
    let sim = spec.simulation.as_ref().ok_or_else(|| ContractError::Empty {
        file: spec.file.clone(),
        field: "simulation".into(),
        message: "add a [simulation] section (effects, take_up, follow_up_months, investment_per_participant)".into(),
    })?;
    let study = read_study(spec, register, false, threshold)?;
    let eligible = study.enrolments.len();
    let window_days = (spec.enrolment.to - spec.enrolment.from).num_days().max(0);
    let prices: Vec<f64> = spec.outcome_metrics.iter().map(|m| m.price_per_unit).collect();
    let mut scenarios = Vec::new();
    let mut counts = Vec::new();
    for &follow_up in &sim.follow_up_months {
        let hist = histories(spec, &study, follow_up)?;
        counts.push((follow_up, hist.len()));
        if hist.len() < 30 {
            return Err(ContractError::Empty {
                file: spec.file.clone(),
                field: "simulation.follow_up_months".into(),
                message: format!(
                    "only {} comparison enrolments in the register have {follow_up} months of follow-up observed (register as of {}); at least 30 are needed",
                    hist.len(),
                    study.as_of
                ),
            });
        }
        let target = sim.metric_index(spec);
        let achievers: Vec<usize> = (0..hist.len()).filter(|i| hist[*i][target].is_some()).collect();
        let others: Vec<usize> = (0..hist.len()).filter(|i| hist[*i][target].is_none()).collect();
        let p0 = achievers.len() as f64 / hist.len() as f64;
        for &take_up in &sim.take_up {
            let n = ((take_up * eligible as f64).round() as usize).max(1);
            for &effect in &sim.effects {
                // Probability of swapping a drawn history into the other group.
                let (swap_up, swap_down) = if effect >= 0.0 {
                    (if p0 < 1.0 { (effect / (1.0 - p0)).min(1.0) } else { 0.0 }, 0.0)
                } else {
                    (0.0, if p0 > 0.0 { (-effect / p0).min(1.0) } else { 0.0 })
                };
                let mut rng = ChaCha8Rng::seed_from_u64(
                    sim.seed ^ (follow_up as u64) << 32 ^ (take_up * 1e6) as u64 ^ (effect * 1e9) as i64 as u64,
                );
                let months = (window_days / 30 + i64::from(follow_up) + 2) as usize;
                let mut mean_flows = vec![0.0; months];
                let mut totals = Vec::with_capacity(sim.replications);
                let investment = n as f64 * sim.investment_per_participant;
                for _ in 0..sim.replications {
                    let mut achievements = Vec::new();
                    let mut enrolled = Vec::with_capacity(n);
                    for p in 0..n {
                        let day = rng.random_range(0..=window_days);
                        let start = spec.enrolment.from + chrono::Duration::days(day);
                        enrolled.push(start);
                        let mut h = rng.random_range(0..hist.len());
                        if hist[h][target].is_none() && !achievers.is_empty() && rng.random_bool(swap_up) {
                            h = achievers[rng.random_range(0..achievers.len())];
                        } else if hist[h][target].is_some() && !others.is_empty() && rng.random_bool(swap_down) {
                            h = others[rng.random_range(0..others.len())];
                        }
                        for (m, days) in hist[h].iter().enumerate() {
                            if let Some(days) = days {
                                achievements.push(Achievement {
                                    participant: p,
                                    metric: m,
                                    date: start + chrono::Duration::days(*days),
                                });
                            }
                        }
                    }
                    // Every outcome within follow-up is payable: one period spanning the contract.
                    let period = crate::spec::PaymentPeriod {
                        id: "contract".into(),
                        from: NaiveDate::MIN,
                        to: NaiveDate::MAX,
                        planned: None,
                    };
                    let (lines, _) = ratecard::pay(
                        &achievements,
                        &prices,
                        std::slice::from_ref(&period),
                        spec.pricing.cap_per_participant,
                        spec.pricing.cap_total,
                    );
                    let month_of = |d: NaiveDate| {
                        (crate::study::month_no(d) - crate::study::month_no(spec.enrolment.from))
                            .clamp(0, months as i32 - 1) as usize
                    };
                    for s in &enrolled {
                        mean_flows[month_of(*s)] -= sim.investment_per_participant / sim.replications as f64;
                    }
                    for l in &lines {
                        mean_flows[month_of(l.date)] += l.paid / sim.replications as f64;
                    }
                    totals.push(lines.iter().map(|l| l.paid).sum::<f64>());
                }
                totals.sort_by(f64::total_cmp);
                let mean = totals.iter().sum::<f64>() / totals.len() as f64;
                scenarios.push(Scenario {
                    effect,
                    take_up,
                    follow_up_months: follow_up,
                    participants: n,
                    baseline_share: p0,
                    investment,
                    payments_mean: mean,
                    payments_p05: crate::estimate::quantile(&totals, 0.05),
                    payments_p95: crate::estimate::quantile(&totals, 0.95),
                    multiple_mean: mean / investment,
                    irr: irr(&mean_flows),
                    probability_of_loss: totals.iter().filter(|t| **t < investment).count() as f64
                        / totals.len() as f64,
                });
            }
        }
    }
    Ok(Simulated {
        scenarios,
        histories: counts,
        eligible,
        as_of: study.as_of,
        manifest_sha256: study.manifest_sha256,
        policy: study.policy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn irr_of_a_doubling_in_a_year() {
        let mut flows = vec![0.0; 13];
        flows[0] = -100.0;
        flows[12] = 200.0;
        assert!((irr(&flows).unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(irr(&[100.0, 50.0]), None);
    }
}
