//! The rate card: what each achieved outcome pays, period by period,
//! against the caps.

use chrono::NaiveDate;

use crate::spec::PaymentPeriod;

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
    let totals = totals(&lines, periods);
    (lines, totals)
}

/// The lines' outcomes, prices and payments per payment period, with the
/// running total in the periods' order.
pub fn totals(lines: &[PaymentLine], periods: &[PaymentPeriod]) -> Vec<PeriodTotal> {
    let mut totals: Vec<PeriodTotal> = (0..periods.len())
        .map(|period| PeriodTotal { period, outcomes: 0, gross: 0.0, paid: 0.0, cumulative: 0.0 })
        .collect();
    for l in lines {
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
    totals
}
