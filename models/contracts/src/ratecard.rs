//! Outcome metrics achieved per participant, and the rate card: what each
//! achievement pays, period by period, against the caps.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::spec::{Metric, MetricKind, PaymentPeriod, Span};
use crate::study::{month_no, month_start};

/// When an observation metric is achieved: the date of the first observation
/// that completes a run of positive observations (value >= `min_value`)
/// lasting at least `span` from the run's first observation. Observations
/// after `from` and on or before `until` count; a non-positive observation
/// ends a run.
pub fn sustained_observation(
    obs: &[(NaiveDate, f64)],
    min_value: f64,
    span: Span,
    from: NaiveDate,
    until: NaiveDate,
) -> Option<NaiveDate> {
    let mut run_start: Option<NaiveDate> = None;
    for (d, v) in obs.iter().filter(|(d, _)| *d > from && *d <= until) {
        if *v >= min_value {
            let s = *run_start.get_or_insert(*d);
            if *d >= span.after(s) {
                return Some(*d);
            }
        } else {
            run_start = None;
        }
    }
    None
}

/// When the household has had `months` consecutive calendar months without
/// income support, counting from the month after `from`'s month: the first
/// day after the last of those months. Only whole months ending on or before
/// `until` count.
pub fn off_support(paid: Option<&BTreeSet<i32>>, months: u32, from: NaiveDate, until: NaiveDate) -> Option<NaiveDate> {
    let first = month_no(from) + 1;
    // The last month that is complete by `until`.
    let last_complete = month_no(until + chrono::Duration::days(1)) - 1;
    let mut run = 0u32;
    for m in first..=last_complete {
        if paid.is_some_and(|p| p.contains(&m)) {
            run = 0;
        } else {
            run += 1;
            if run >= months {
                return Some(month_start(m + 1) - chrono::Duration::days(1));
            }
        }
    }
    None
}

/// What a metric needs to know about one enrolment.
pub struct Events<'a> {
    pub observations: &'a [(NaiveDate, f64)],
    pub paid_months: Option<&'a BTreeSet<i32>>,
}

/// When `metric` is achieved by an enrolment counted from `from`, within
/// `until` (the end of follow-up or the register's export date).
pub fn achieved(metric: &Metric, span: Span, events: &Events, from: NaiveDate, until: NaiveDate) -> Option<NaiveDate> {
    match metric.kind {
        MetricKind::Observation => sustained_observation(events.observations, metric.min_value, span, from, until),
        MetricKind::OffIncomeSupport => match span {
            Span::Months(n) => off_support(events.paid_months, n, from, until),
            Span::Days(_) => None,
        },
    }
}

/// One achieved outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Achievement {
    /// Participant (an index into the participants).
    pub participant: usize,
    pub metric: usize,
    pub date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PaymentLine {
    pub participant: usize,
    pub metric: usize,
    pub date: NaiveDate,
    /// The payment period the outcome falls in (an index), if any.
    pub period: Option<usize>,
    pub price: f64,
    pub paid: f64,
    pub note: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PeriodTotal {
    pub period: usize,
    pub outcomes: usize,
    /// What the outcomes would pay without caps.
    pub gross: f64,
    pub paid: f64,
    pub cumulative: f64,
}

/// Apply the rate card: outcomes are paid in date order (then metric, then
/// participant), each at its price, reduced to what is left under the
/// participant's cap and the total cap. An outcome outside every payment
/// period is not paid.
pub fn pay(
    achievements: &[Achievement],
    prices: &[f64],
    periods: &[PaymentPeriod],
    cap_per_participant: f64,
    cap_total: f64,
) -> (Vec<PaymentLine>, Vec<PeriodTotal>) {
    let mut order: Vec<&Achievement> = achievements.iter().collect();
    order.sort_by_key(|a| (a.date, a.metric, a.participant));
    let mut per_participant: std::collections::HashMap<usize, f64> = std::collections::HashMap::new();
    let mut total = 0.0;
    let mut lines = Vec::with_capacity(order.len());
    for a in order {
        let price = prices[a.metric];
        let period = periods.iter().position(|p| a.date >= p.from && a.date <= p.to);
        let used = per_participant.entry(a.participant).or_insert(0.0);
        let (paid, note) = if period.is_none() {
            (0.0, "outside the payment periods")
        } else {
            let room_p = (cap_per_participant - *used).max(0.0);
            let room_t = (cap_total - total).max(0.0);
            let paid = price.min(room_p).min(room_t);
            let note = if paid == price {
                "paid"
            } else if room_t < room_p {
                "reduced by the total cap"
            } else {
                "reduced by the participant cap"
            };
            (paid, note)
        };
        *used += paid;
        total += paid;
        lines.push(PaymentLine {
            participant: a.participant,
            metric: a.metric,
            date: a.date,
            period,
            price,
            paid,
            note,
        });
    }
    let mut totals: Vec<PeriodTotal> = (0..periods.len())
        .map(|period| PeriodTotal { period, outcomes: 0, gross: 0.0, paid: 0.0, cumulative: 0.0 })
        .collect();
    for l in &lines {
        if let Some(p) = l.period {
            totals[p].outcomes += 1;
            totals[p].gross += l.price;
            totals[p].paid += l.paid;
        }
    }
    let mut order: Vec<usize> = (0..periods.len()).collect();
    order.sort_by_key(|i| periods[*i].from);
    let mut cumulative = 0.0;
    for i in order {
        cumulative += totals[i].paid;
        totals[i].cumulative = cumulative;
    }
    (lines, totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn sustained_runs_restart_after_a_negative() {
        let obs = [
            (d(2023, 3, 31), 1.0),
            (d(2023, 6, 30), 0.0),
            (d(2023, 9, 30), 1.0),
            (d(2023, 12, 31), 1.0),
            (d(2024, 3, 31), 1.0),
        ];
        let from = d(2023, 1, 1);
        let until = d(2025, 1, 1);
        assert_eq!(sustained_observation(&obs, 1.0, Span::Days(0), from, until), Some(d(2023, 3, 31)));
        // 13 weeks from 2023-09-30 is 2023-12-30: completed by the 2023-12-31 observation.
        assert_eq!(
            sustained_observation(&obs, 1.0, Span::parse("13 weeks").unwrap(), from, until),
            Some(d(2023, 12, 31))
        );
        assert_eq!(sustained_observation(&obs, 1.0, Span::Months(6), from, until), Some(d(2024, 3, 31)));
        assert_eq!(sustained_observation(&obs, 1.0, Span::Months(9), from, until), None);
        // Follow-up ends before the run is long enough.
        assert_eq!(sustained_observation(&obs, 1.0, Span::Months(6), from, d(2024, 3, 30)), None);
    }

    #[test]
    fn off_support_counts_whole_months_after_enrolment() {
        // Paid Jan-Apr 2023 and Aug 2023; enrolled in March.
        let paid: BTreeSet<i32> = [1, 2, 3, 4, 8].iter().map(|m| month_no(d(2023, *m, 1))).collect();
        let from = d(2023, 3, 1);
        // May, June, July off: 3 months achieved on 31 July.
        assert_eq!(off_support(Some(&paid), 3, from, d(2024, 12, 31)), Some(d(2023, 7, 31)));
        // 4 months: the run restarts after August; Sep-Dec complete on 31 December.
        assert_eq!(off_support(Some(&paid), 4, from, d(2024, 12, 31)), Some(d(2023, 12, 31)));
        // ...but not if the register ends on 30 December 2023 (December incomplete).
        assert_eq!(off_support(Some(&paid), 4, from, d(2023, 12, 30)), None);
        assert_eq!(off_support(Some(&paid), 4, from, d(2023, 12, 31)), Some(d(2023, 12, 31)));
    }
}
