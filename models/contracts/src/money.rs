//! Payments beyond the rate card: on activity (per participant started,
//! per month in service), from measured savings in the participants' costs
//! to the social services, and the investor's side: the share of its capital
//! the activity payments may repay, and the cap on its return.
//!
//! The order money is paid in, each step in date order:
//! 1. outcome payments by the rate card (`ratecard::pay`: the participant
//!    cap and the total cap);
//! 2. activity payments, together at most `guaranteed_share` of the capital;
//! 3. the savings payment, `share` of the measured savings (the estimate, or
//!    the interval's lower end), settled on one day;
//! 4. everything together at most the capital times (1 + `return_cap`): a
//!    payment that would pass it is reduced, later ones are not paid.

use chrono::{Months, NaiveDate};

use crate::estimate::{self, Unit};
use crate::ratecard::PaymentLine;
use crate::spec::{Investment, Method, PaymentPeriod, Per, SavingsBasis, Spec};
use crate::study::{Enrolment, Study, costs};
use crate::{ContractError, Estimate, NO_GROUP, design_of, enough_replicates, units};

/// An activity payment earned: which payment, by whom, on which day.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub participant: usize,
    pub payment: usize,
    pub date: NaiveDate,
}

/// The activity payments the participants earned: one per participant on
/// the service's start, or one per whole month in service, each on the day
/// it completes (calendar months from the start), up to the service's end,
/// the follow-up's end, the export date and `max_months`.
pub fn activities(spec: &Spec, participants: &[&Enrolment], as_of: NaiveDate) -> Vec<Activity> {
    let mut out = Vec::new();
    for (p, e) in participants.iter().enumerate() {
        let Some(start) = e.start.filter(|s| *s <= as_of) else { continue };
        for (i, a) in spec.activity_payments.iter().enumerate() {
            let earned = match a.per {
                Per::Participant => vec![start],
                Per::MonthInService => {
                    let mut months = service_months(start, e.service_end, spec.follow_up_months, as_of);
                    months.truncate(a.max_months.map_or(usize::MAX, |m| m as usize));
                    months
                }
            };
            out.extend(earned.into_iter().map(|date| Activity { participant: p, payment: i, date }));
        }
    }
    out
}

/// The days a service from `start` completes each whole month (calendar
/// months), up to its `end` (none: still in service), the end of a
/// follow-up of `follow_up` months and the export date.
pub fn service_months(start: NaiveDate, end: Option<NaiveDate>, follow_up: u32, as_of: NaiveDate) -> Vec<NaiveDate> {
    let follow = start.checked_add_months(Months::new(follow_up)).unwrap_or(as_of);
    let until = end.unwrap_or(as_of).min(follow).min(as_of);
    (1..=follow_up).map_while(|k| start.checked_add_months(Months::new(k)).filter(|d| *d <= until)).collect()
}

fn period_of(periods: &[PaymentPeriod], d: NaiveDate) -> Option<usize> {
    periods.iter().position(|p| d >= p.from && d <= p.to)
}

/// Activity payments as lines at their price (a day outside every payment
/// period of `periods` is not paid), in date order.
pub fn activity_lines(spec: &Spec, periods: &[PaymentPeriod], activities: &[Activity]) -> Vec<PaymentLine> {
    let mut order: Vec<&Activity> = activities.iter().collect();
    order.sort_by_key(|a| (a.date, a.payment, a.participant));
    order
        .into_iter()
        .map(|a| {
            let price = spec.activity_payments[a.payment].price;
            let period = period_of(periods, a.date);
            let (paid, note) = if period.is_some() { (price, "paid") } else { (0.0, "outside the payment periods") };
            PaymentLine { participant: a.participant, metric: a.payment, date: a.date, period, price, paid, note }
        })
        .collect()
}

/// Reduce `lines` (in the order given) so that together they pay at most
/// `limit`: a line that would pass it is paid what is left, the rest nothing.
pub fn limit(lines: &mut [&mut PaymentLine], limit: f64, note: &'static str) {
    let mut total = 0.0;
    for l in lines.iter_mut() {
        let room = (limit - total).max(0.0);
        if l.paid > room {
            l.paid = room;
            l.note = note;
        }
        total += l.paid;
    }
}

/// The measured savings: the participants' cost over the follow-up against
/// the comparison group's, with its interval.
#[derive(Debug, Clone)]
pub struct SavingsEstimate {
    pub method: Method,
    /// Savings per participant: the comparison's mean cost minus the
    /// participants' (matched: bias-adjusted over the pairs), with its
    /// household bootstrap interval.
    pub per_participant: Estimate,
    /// Mean cost over the follow-up: participants, comparison enrolments.
    pub mean_treated: f64,
    pub mean_comparison: f64,
    pub n_treated: usize,
    pub n_comparison: usize,
    pub replicates: usize,
    pub replicates_requested: usize,
    pub replicate_failures: Vec<(String, usize)>,
    /// Savings per participant the payment rests on (the estimate or the
    /// interval's lower end; never below 0).
    pub basis: f64,
    /// What the payer pays: share x basis x participants.
    pub payable: f64,
    /// The day the savings are settled.
    pub settled: NaiveDate,
    /// Per enrolment costed: (participant index or none, client, cost).
    pub costs: Vec<(Option<usize>, String, f64)>,
}

/// Whether an enrolment's whole follow-up from `from` is observed by `as_of`
/// and, for a comparison, free of the service.
fn observed(e: &Enrolment, from: NaiveDate, months: u32, as_of: NaiveDate) -> bool {
    let Some(end) = from.checked_add_months(Months::new(months)) else { return false };
    end <= as_of && (e.treated() || e.later_service.is_none_or(|s| s > end))
}

/// Estimate the savings of `spec.savings` among `participants` (indices into
/// the study's enrolments), or none where the spec has no savings.
pub fn savings(spec: &Spec, study: &Study, participants: &[usize]) -> Result<Option<SavingsEstimate>, ContractError> {
    let Some(s) = &spec.savings else { return Ok(None) };
    let err = |m: String| ContractError::Estimate(format!("savings: {m}"));
    let months = spec.follow_up_months;
    let items: Vec<_> = spec.cost_variables(months)?.into_iter().zip(s.cost.iter().map(|c| c.price)).collect();
    // (enrolment as the units see it, participant index, unit number for the table)
    let mut pool: Vec<(&Enrolment, bool, Option<usize>)> = Vec::new();
    for (p, i) in participants.iter().enumerate() {
        let e = &study.enrolments[*i];
        if observed(e, e.enrolled(), months, study.as_of) {
            pool.push((e, true, Some(p)));
        }
    }
    let comparisons: Vec<&Enrolment> = match s.method {
        Method::HistoricalComparison => study.historical.iter().collect(),
        _ => study.enrolments.iter().filter(|e| !e.treated()).collect(),
    };
    pool.extend(
        comparisons.into_iter().filter(|e| observed(e, e.index, months, study.as_of)).map(|e| (e, false, None)),
    );
    let who: Vec<(&Enrolment, NaiveDate)> = pool.iter().map(|(e, _, _)| (*e, e.enrolled())).collect();
    let cost = costs(&study.dir, study.as_of, &items, &who).map_err(crate::study::StudyError::from)?;
    let (_, columns) = if s.method == Method::MatchedComparison {
        design_of(spec.savings_covariates(), study)
    } else {
        (Vec::new(), Vec::new())
    };
    let pairs: Vec<(&Enrolment, bool)> = pool.iter().map(|(e, t, _)| (*e, *t)).collect();
    let mut kept: Vec<Unit> = Vec::new();
    let mut table = Vec::new();
    for ((u, (e, _, p)), c) in units(spec, study, &pairs, &columns).into_iter().zip(&pool).zip(&cost) {
        table.push((*p, e.client_id.clone(), *c));
        if let Some(mut u) = u {
            u.y_post = Some(*c);
            u.y_pre = None;
            u.series = Vec::new();
            kept.push(u);
        }
    }
    let n_treated = kept.iter().filter(|u| u.treated).count();
    let n_comparison = kept.len() - n_treated;
    if n_treated == 0 || n_comparison == 0 {
        return Err(err(format!(
            "the savings need participants and comparison enrolments whose {months} months of follow-up are observed by {} (and every covariate known): {n_treated} participants, {n_comparison} comparisons",
            study.as_of
        )));
    }
    let refs: Vec<&Unit> = kept.iter().collect();
    let v = &spec.validation;
    // The effect on cost (participants minus comparison); savings are its negative.
    let (point, reps) = match s.method {
        Method::MatchedComparison => {
            let r = estimate::matched(&refs, v.caliper_sd).map_err(err)?;
            let reps = estimate::bootstrap(&kept, v.bootstrap_replicates, v.seed, |x| {
                estimate::matched(x, v.caliper_sd).map(|r| vec![r.att])
            });
            (r.att, reps)
        }
        _ => {
            let point = estimate::historical(&refs).ok_or_else(|| err(NO_GROUP.into()))?;
            let reps = estimate::bootstrap(&kept, v.bootstrap_replicates, v.seed, |x| {
                estimate::historical(x).map(|d| vec![d]).ok_or_else(|| NO_GROUP.to_string())
            });
            (point, reps)
        }
    };
    enough_replicates(&reps, v.min_replicate_share, &spec.file).map_err(err)?;
    let effect = Estimate::of(point, &reps.values[0]);
    let flipped: Vec<f64> = reps.values[0].iter().rev().map(|x| -x).collect();
    let per_participant = Estimate::of(-effect.estimate, &flipped);
    let basis = match s.basis {
        SavingsBasis::Estimate => per_participant.estimate,
        SavingsBasis::LowerBound => per_participant.ci_low,
    }
    .max(0.0);
    let mean = |t: bool| {
        let v: Vec<f64> = kept.iter().filter(|u| u.treated == t).filter_map(|u| u.y_post).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let settled = s
        .settled
        .or_else(|| spec.outcome_payment_periods.iter().map(|p| p.to).max())
        .expect("checked: at least one payment period");
    Ok(Some(SavingsEstimate {
        method: s.method,
        mean_treated: mean(true),
        mean_comparison: mean(false),
        n_treated,
        n_comparison,
        replicates: reps.used(),
        replicates_requested: reps.requested,
        replicate_failures: reps.failures,
        basis,
        payable: s.share * basis * n_treated as f64,
        settled,
        per_participant,
        costs: table,
    }))
}

/// A savings payment of `amount` as one line on its settlement day
/// (`participant` and `metric` 0: it is the contract's, not one person's).
pub fn savings_line(periods: &[PaymentPeriod], amount: f64, settled: NaiveDate) -> PaymentLine {
    let period = period_of(periods, settled);
    let (paid, note) = if period.is_some() { (amount, "paid") } else { (0.0, "outside the payment periods") };
    PaymentLine { participant: 0, metric: 0, date: settled, period, price: amount, paid, note }
}

/// The investor's statement: what each kind of payment paid, against the capital.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub capital: f64,
    pub activity_gross: f64,
    pub activity_paid: f64,
    pub outcomes_paid: f64,
    pub savings_paid: f64,
    /// All payments after the guarantee share and the return cap.
    pub repaid: f64,
    /// Repaid less the capital (negative: a loss).
    pub net: f64,
    /// Repaid as a multiple of the capital.
    pub multiple: f64,
    /// The most the investor could be repaid (capital x (1 + return_cap)).
    pub ceiling: Option<f64>,
}

/// Apply the guarantee share and the return cap of `investment` on a
/// `capital` to every line, in the order of the module's head, and state
/// the result (none without an investment).
pub fn settle(
    investment: Option<&Investment>,
    capital: f64,
    outcomes: &mut [PaymentLine],
    activity: &mut [PaymentLine],
    savings: &mut [PaymentLine],
) -> Option<Statement> {
    let activity_gross: f64 = activity.iter().map(|l| l.paid).sum();
    let inv = investment?;
    {
        let mut a: Vec<&mut PaymentLine> = activity.iter_mut().collect();
        limit(&mut a, inv.guaranteed_share * capital, "beyond the share guaranteed on activity");
    }
    let ceiling = inv.return_cap.map(|r| capital * (1.0 + r));
    if let Some(c) = ceiling {
        // Date order; on one day outcomes, then activity, then savings.
        let mut all: Vec<(NaiveDate, u8, usize, &mut PaymentLine)> = Vec::new();
        all.extend(outcomes.iter_mut().enumerate().map(|(i, l)| (l.date, 0, i, l)));
        all.extend(activity.iter_mut().enumerate().map(|(i, l)| (l.date, 1, i, l)));
        all.extend(savings.iter_mut().enumerate().map(|(i, l)| (l.date, 2, i, l)));
        all.sort_by_key(|(d, k, i, _)| (*d, *k, *i));
        let mut lines: Vec<&mut PaymentLine> = all.into_iter().map(|x| x.3).collect();
        limit(&mut lines, c, "reduced by the cap on the investor's return");
    }
    let sum = |ls: &[PaymentLine]| ls.iter().map(|l| l.paid).sum::<f64>();
    let (activity_paid, outcomes_paid, savings_paid) = (sum(activity), sum(outcomes), sum(savings));
    let repaid = activity_paid + outcomes_paid + savings_paid;
    Some(Statement {
        capital,
        activity_gross,
        activity_paid,
        outcomes_paid,
        savings_paid,
        repaid,
        net: repaid - capital,
        multiple: repaid / capital,
        ceiling,
    })
}
