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

use crate::money;
use crate::ratecard::{self, Achievement};
use crate::spec::{Histories, Per, Spec};
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
    /// Mean of all payments (outcomes, activity, savings) after the caps.
    pub payments_mean: f64,
    pub payments_p05: f64,
    pub payments_p95: f64,
    pub multiple_mean: f64,
    /// Annual internal rate of return of the mean cash flows.
    pub irr: Option<f64>,
    pub probability_of_loss: f64,
    /// The means of the outcome, activity and savings payments (their sum is `payments_mean`).
    pub outcomes_mean: f64,
    pub activity_mean: f64,
    pub savings_mean: f64,
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

/// A history: each metric's achievement as days after enrolment, and the
/// cost over the follow-up (0 without savings in the spec).
struct History {
    days: Vec<Option<i64>>,
    cost: f64,
}

fn histories(spec: &Spec, study: &Study, follow_up: u32, from: Histories) -> Result<Vec<History>, ContractError> {
    let who: Vec<(&crate::study::Enrolment, NaiveDate)> = study
        .pool
        .iter()
        .filter(|e| match from {
            Histories::Comparison => !e.treated() && e.later_service.is_none(),
            Histories::Participants => e.treated(),
        })
        .filter(|e| e.enrolled().checked_add_months(Months::new(follow_up)).is_some_and(|end| end <= study.as_of))
        .map(|e| (e, e.enrolled()))
        .collect();
    let metrics = spec.metric_variables(follow_up)?;
    let dates = study.achieved(&metrics, &who).map_err(crate::study::StudyError::from)?;
    let prices: Vec<f64> = spec.savings.iter().flat_map(|s| s.cost.iter().map(|c| c.price)).collect();
    let items: Vec<_> = spec.cost_variables(follow_up)?.into_iter().zip(prices).collect();
    let costs = if items.is_empty() {
        vec![0.0; who.len()]
    } else {
        crate::study::costs(&study.dir, study.as_of, &items, &who).map_err(crate::study::StudyError::from)?
    };
    Ok(dates
        .into_iter()
        .zip(&who)
        .zip(costs)
        .map(|((row, (_, from)), cost)| History {
            days: row.into_iter().map(|d| d.map(|d| (d - *from).num_days())).collect(),
            cost,
        })
        .collect())
}

/// The register's participants' whole months in service (from the service's
/// start to its end, the follow-up's end or the export date), which a
/// simulated participant draws from for payments per month in service (none
/// where the spec pays no month in service).
fn months_in_service(spec: &Spec, study: &Study, follow_up: u32) -> Vec<u32> {
    if !spec.activity_payments.iter().any(|a| a.per == Per::MonthInService) {
        return Vec::new();
    }
    study
        .pool
        .iter()
        .filter_map(|e| Some(money::service_months(e.start?, e.service_end, follow_up, study.as_of).len() as u32))
        .collect()
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
        let hist = histories(spec, &study, follow_up, sim.histories)?;
        counts.push((follow_up, hist.len()));
        let whose = match sim.histories {
            Histories::Comparison => "comparison enrolments",
            Histories::Participants => "participants",
        };
        if hist.len() < 30 {
            return Err(ContractError::Empty {
                file: spec.file.clone(),
                field: "simulation.follow_up_months".into(),
                message: format!(
                    "only {} {whose} in the register have {follow_up} months of follow-up observed (register as of {}); at least 30 are needed",
                    hist.len(),
                    study.as_of
                ),
            });
        }
        let target = sim.metric_index(spec);
        let achievers: Vec<usize> = (0..hist.len()).filter(|i| hist[*i].days[target].is_some()).collect();
        if achievers.is_empty() && sim.effects.iter().any(|e| *e > 0.0) {
            let metric = &spec.outcome_metrics[target].id;
            return Err(ContractError::Empty {
                file: spec.file.clone(),
                field: "simulation.metric".into(),
                message: format!(
                    "none of the {} {whose} with {follow_up} months observed achieves `{metric}`, so an assumed effect has no history to take its timing from{}",
                    hist.len(),
                    match sim.histories {
                        Histories::Comparison =>
                            ": where only participants are measured (a change from baseline), simulate from their histories (histories = \"participants\")",
                        Histories::Participants => "",
                    }
                ),
            });
        }
        let others: Vec<usize> = (0..hist.len()).filter(|i| hist[*i].days[target].is_none()).collect();
        let p0 = achievers.len() as f64 / hist.len() as f64;
        let baseline_cost = hist.iter().map(|h| h.cost).sum::<f64>() / hist.len() as f64;
        let durations = months_in_service(spec, &study, follow_up);
        // Every payment within follow-up is payable: one period spanning the contract.
        let period = crate::spec::PaymentPeriod {
            id: "contract".into(),
            from: NaiveDate::MIN,
            to: NaiveDate::MAX,
            planned: None,
        };
        let periods = std::slice::from_ref(&period);
        let settled = spec.enrolment.to.checked_add_months(Months::new(follow_up)).unwrap_or(spec.enrolment.to);
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
                let (mut outcomes_sum, mut activity_sum, mut savings_sum) = (0.0, 0.0, 0.0);
                let investment = n as f64 * sim.investment_per_participant;
                for _ in 0..sim.replications {
                    let mut achievements = Vec::new();
                    let mut activities = Vec::new();
                    let mut enrolled = Vec::with_capacity(n);
                    let mut cost = 0.0;
                    for p in 0..n {
                        let day = rng.random_range(0..=window_days);
                        let start = spec.enrolment.from + chrono::Duration::days(day);
                        enrolled.push(start);
                        let mut h = rng.random_range(0..hist.len());
                        if hist[h].days[target].is_none() && !achievers.is_empty() && rng.random_bool(swap_up) {
                            h = achievers[rng.random_range(0..achievers.len())];
                        } else if hist[h].days[target].is_some() && !others.is_empty() && rng.random_bool(swap_down) {
                            h = others[rng.random_range(0..others.len())];
                        }
                        cost += hist[h].cost;
                        for (m, days) in hist[h].days.iter().enumerate() {
                            if let Some(days) = days {
                                achievements.push(Achievement {
                                    participant: p,
                                    metric: m,
                                    date: start + chrono::Duration::days(*days),
                                });
                            }
                        }
                        let in_service =
                            if durations.is_empty() { 0 } else { durations[rng.random_range(0..durations.len())] };
                        for (i, a) in spec.activity_payments.iter().enumerate() {
                            let earned = match a.per {
                                Per::Participant => vec![start],
                                Per::MonthInService => (1..=in_service.min(a.max_months.unwrap_or(u32::MAX)))
                                    .filter_map(|k| start.checked_add_months(Months::new(k)))
                                    .collect(),
                            };
                            activities.extend(earned.into_iter().map(|date| money::Activity {
                                participant: p,
                                payment: i,
                                date,
                            }));
                        }
                    }
                    let (mut lines, _) = ratecard::pay(
                        &achievements,
                        &prices,
                        periods,
                        spec.pricing.cap_per_participant,
                        spec.pricing.cap_total,
                    );
                    let mut activity = money::activity_lines(spec, periods, &activities);
                    // The savings: the baseline histories' mean cost less the drawn ones'.
                    let mut savings: Vec<crate::ratecard::PaymentLine> = spec
                        .savings
                        .iter()
                        .map(|s| {
                            let saved = (baseline_cost - cost / n as f64).max(0.0) * n as f64;
                            money::savings_line(periods, s.share * saved, settled)
                        })
                        .collect();
                    money::settle(spec.investment.as_ref(), investment, &mut lines, &mut activity, &mut savings);
                    let month_of = |d: NaiveDate| {
                        (crate::study::month_no(d) - crate::study::month_no(spec.enrolment.from))
                            .clamp(0, months as i32 - 1) as usize
                    };
                    for s in &enrolled {
                        mean_flows[month_of(*s)] -= sim.investment_per_participant / sim.replications as f64;
                    }
                    let paid = |ls: &[crate::ratecard::PaymentLine]| ls.iter().map(|l| l.paid).sum::<f64>();
                    for l in lines.iter().chain(&activity).chain(&savings) {
                        mean_flows[month_of(l.date)] += l.paid / sim.replications as f64;
                    }
                    outcomes_sum += paid(&lines);
                    activity_sum += paid(&activity);
                    savings_sum += paid(&savings);
                    totals.push(paid(&lines) + paid(&activity) + paid(&savings));
                }
                totals.sort_by(f64::total_cmp);
                let mean = totals.iter().sum::<f64>() / totals.len() as f64;
                let r = sim.replications as f64;
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
                    outcomes_mean: outcomes_sum / r,
                    activity_mean: activity_sum / r,
                    savings_mean: savings_sum / r,
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
