//! A rate card worked by hand: Fair-Chance-Fund-style triggers (entry, then
//! sustained 13 weeks; off income support 3 and 12 months), a participant
//! cap, a total cap and three payment periods. Every figure below was
//! computed on paper first; the test reproduces it exactly.

use chrono::NaiveDate;
use polars::prelude::*;
use utfall_register::scan::write_entity;
use utfall_register::schema;

use crate::ratecard::{self, Achievement, PaymentLine, PeriodTotal};
use crate::spec::Spec;
use crate::study::{Enrolment, achieved};

const SPEC: &str = r#"
id = "hand"
title = "Hand-worked rate card"
follow_up_months = 18

[target_group]
description = "test"
entry = { table = "payments", spell = { by = "case_id", months = 3 }, every = true }

[enrolment]
from = 2023-01-01
to = 2024-12-31

[service]
description = "test"
where = { type = "employment_support", granted = true }
date = "started"

[[outcome_metrics]]
id = "entry"
definition = "employed at a match"
table = "outcomes"
where = { type = "employment_status" }
aggregate = "time_to_event"
column = "value"
at_least = 1
price_per_unit = 700

[[outcome_metrics]]
id = "sustained_13w"
definition = "employed at every match for 13 weeks"
table = "outcomes"
where = { type = "employment_status" }
aggregate = "time_to_event"
column = "value"
at_least = 1
for = "91d"
price_per_unit = 2000

[[outcome_metrics]]
id = "off_3m"
definition = "no income support for 3 months"
table = "payments"
aggregate = "months_without"
for = "3m"
by = "household"
price_per_unit = 1500

[[outcome_metrics]]
id = "off_12m"
definition = "no income support for 12 months"
table = "payments"
aggregate = "months_without"
for = "12m"
by = "household"
price_per_unit = 6000

[pricing]
cap_per_participant = 8000
cap_total = 12000

[[outcome_payment_periods]]
id = "2023H1"
from = 2023-01-01
to = 2023-06-30

[[outcome_payment_periods]]
id = "2023H2"
from = 2023-07-01
to = 2023-12-31

[[outcome_payment_periods]]
id = "2024H1"
from = 2024-01-01
to = 2024-06-30

[validation]
method = "difference_in_differences"
outcome = { table = "outcomes", where = { type = "employment_status" }, column = "value" }
post_quarters = [1, 4]
"#;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn months(list: &[(i32, u32)]) -> Vec<NaiveDate> {
    list.iter().map(|(y, m)| d(*y, *m, 1)).collect()
}

/// Write each participant's employment-status matches (outcomes) and its
/// household's paid months (payments) as register tables in `dir`.
/// (enrolled, employment-status observations, household's paid months)
type Participant = (NaiveDate, Vec<(NaiveDate, f64)>, Vec<NaiveDate>);

fn write(dir: &std::path::Path, participants: &[Participant]) {
    let (mut o_client, mut o_date, mut o_value) = (Vec::new(), Vec::new(), Vec::new());
    let (mut p_client, mut p_month) = (Vec::new(), Vec::new());
    for (i, (_, obs, paid)) in participants.iter().enumerate() {
        for (date, v) in obs {
            o_client.push(format!("P{i}"));
            o_date.push(*date);
            o_value.push(*v);
        }
        for m in paid {
            p_client.push(format!("P{i}"));
            p_month.push(*m);
        }
    }
    let outcomes = df!(
        "observation_id" => (0..o_client.len()).map(|i| format!("O{i}")).collect::<Vec<_>>(),
        "client_id" => o_client.clone(),
        "type" => vec!["employment_status"; o_client.len()],
        "observed" => o_date,
        "value" => o_value,
    )
    .unwrap();
    write_entity(dir, schema::table("outcomes").unwrap(), outcomes).unwrap();
    let n = p_client.len();
    let payments = df!(
        "payment_id" => (0..n).map(|i| format!("B{i}")).collect::<Vec<_>>(),
        "household_id" => p_client.iter().map(|c| format!("H{c}")).collect::<Vec<_>>(),
        "client_id" => p_client.clone(),
        "case_id" => p_client.iter().map(|c| format!("K{c}")).collect::<Vec<_>>(),
        "month" => p_month,
        "amount_sek" => vec![1000.0; n],
        "reason" => vec!["unemployment"; n],
    )
    .unwrap();
    write_entity(dir, schema::table("payments").unwrap(), payments).unwrap();
}

#[test]
fn hand_worked_rate_card_with_caps_and_sustainment_windows() {
    let spec = Spec::parse(SPEC, "hand.toml").unwrap();
    let as_of = d(2025, 12, 31);
    // (enrolled, employment-status observations, household's paid months)
    let p0_paid = months(&[(2023, 1), (2023, 2)]);
    let p1_paid = months(&[(2023, 1)]);
    let p2_paid: Vec<NaiveDate> =
        (0..13).map(|k| d(2023, 6, 1).checked_add_months(chrono::Months::new(k)).unwrap()).collect(); // Jun 2023 - Jun 2024
    let p3_paid: Vec<NaiveDate> =
        (0..20).map(|k| d(2024, 1, 1).checked_add_months(chrono::Months::new(k)).unwrap()).collect(); // Jan 2024 - Aug 2025
    let participants: Vec<Participant> = vec![
        // P0: employed at the March and June matches, not in September. Paid
        // Jan-Feb: off from March (3 months by 31 May, 12 by 29 Feb 2024).
        (d(2023, 1, 15), vec![(d(2023, 3, 31), 1.0), (d(2023, 6, 30), 1.0), (d(2023, 9, 30), 0.0)], p0_paid),
        // P1: employed at every match; enrolled in February, paid in January only.
        (
            d(2023, 2, 1),
            vec![(d(2023, 3, 31), 1.0), (d(2023, 6, 30), 1.0), (d(2023, 9, 30), 1.0), (d(2023, 12, 31), 1.0)],
            p1_paid,
        ),
        // P2: a match before enrolment does not count; employed in June, not in
        // September (no 13 weeks). Paid June 2023 - June 2024: off July-September
        // 2024, after the last payment period.
        (d(2023, 6, 1), vec![(d(2023, 5, 31), 1.0), (d(2023, 6, 30), 1.0), (d(2023, 9, 30), 0.0)], p2_paid),
        // P3: employed at the September 2024 match, after the last period.
        (d(2024, 3, 1), vec![(d(2024, 6, 30), 0.0), (d(2024, 9, 30), 1.0), (d(2024, 12, 31), 0.0)], p3_paid),
    ];
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), &participants);
    let enrolments: Vec<Enrolment> = participants
        .iter()
        .enumerate()
        .map(|(i, (enrolled, _, _))| Enrolment {
            client_id: format!("P{i}"),
            household_id: format!("HP{i}"),
            case_id: format!("KP{i}"),
            index: *enrolled,
            start: Some(*enrolled),
            later_service: None,
            values: Vec::new(),
        })
        .collect();
    let who: Vec<(&Enrolment, NaiveDate)> = enrolments.iter().map(|e| (e, e.enrolled())).collect();
    let metrics = spec.metric_variables(spec.follow_up_months).unwrap();
    let mut achievements = Vec::new();
    for (p, row) in achieved(tmp.path(), as_of, &metrics, &who).unwrap().into_iter().enumerate() {
        for (m, date) in row.into_iter().enumerate() {
            if let Some(date) = date {
                achievements.push(Achievement { participant: p, metric: m, date });
            }
        }
    }
    // Achieved, by hand:
    //   P0 entry 2023-03-31; 13 weeks from 2023-03-31 is 2023-06-30, reached by
    //      the June match; off 3 months (Mar-May) 2023-05-31; off 12 months
    //      (Mar 2023 - Feb 2024) 2024-02-29, within 18 months of 2023-01-15.
    //   P1 the same four, on the same dates (its run of months off also starts in March).
    //   P2 entry 2023-06-30; off 3 months 2024-09-30 (Jul-Sep 2024).
    //   P3 entry 2024-09-30. Its household is paid through August 2025: no months off
    //      within 18 months of 2024-03-01.
    let mut got: Vec<(usize, usize, NaiveDate)> =
        achievements.iter().map(|a| (a.participant, a.metric, a.date)).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (0, 0, d(2023, 3, 31)),
            (0, 1, d(2023, 6, 30)),
            (0, 2, d(2023, 5, 31)),
            (0, 3, d(2024, 2, 29)),
            (1, 0, d(2023, 3, 31)),
            (1, 1, d(2023, 6, 30)),
            (1, 2, d(2023, 5, 31)),
            (1, 3, d(2024, 2, 29)),
            (2, 0, d(2023, 6, 30)),
            (2, 2, d(2024, 9, 30)),
            (3, 0, d(2024, 9, 30)),
        ]
    );
    let (lines, totals) = crate::pay(&spec, &achievements);
    // Paid in date order, then metric, then participant; running totals (P0, P1, P2 | total):
    //   2023-03-31 entry P0 700, entry P1 700                 ->  700  700    0 |  1400
    //   2023-05-31 off_3m P0 1500, off_3m P1 1500             -> 2200 2200    0 |  4400
    //   2023-06-30 entry P2 700, 13w P0 2000, 13w P1 2000     -> 4200 4200  700 |  9100
    //   2024-02-29 off_12m P0: room 3800 under its cap, 2900 under the total cap -> 2900
    //              off_12m P1: nothing left under the total cap -> 0
    //   2024-09-30 entry P3, off_3m P2: after the last period -> not paid
    let line = |participant, metric, date, period, price, paid, note| PaymentLine {
        participant,
        metric,
        date,
        period,
        price,
        paid,
        note,
    };
    assert_eq!(
        lines,
        vec![
            line(0, 0, d(2023, 3, 31), Some(0), 700.0, 700.0, "paid"),
            line(1, 0, d(2023, 3, 31), Some(0), 700.0, 700.0, "paid"),
            line(0, 2, d(2023, 5, 31), Some(0), 1500.0, 1500.0, "paid"),
            line(1, 2, d(2023, 5, 31), Some(0), 1500.0, 1500.0, "paid"),
            line(2, 0, d(2023, 6, 30), Some(0), 700.0, 700.0, "paid"),
            line(0, 1, d(2023, 6, 30), Some(0), 2000.0, 2000.0, "paid"),
            line(1, 1, d(2023, 6, 30), Some(0), 2000.0, 2000.0, "paid"),
            line(0, 3, d(2024, 2, 29), Some(2), 6000.0, 2900.0, "reduced by the total cap"),
            line(1, 3, d(2024, 2, 29), Some(2), 6000.0, 0.0, "reduced by the total cap"),
            line(3, 0, d(2024, 9, 30), None, 700.0, 0.0, "outside the payment periods"),
            line(2, 2, d(2024, 9, 30), None, 1500.0, 0.0, "outside the payment periods"),
        ]
    );
    let total = |period, outcomes, gross, paid, cumulative| PeriodTotal { period, outcomes, gross, paid, cumulative };
    assert_eq!(
        totals,
        vec![total(0, 7, 9100.0, 9100.0, 9100.0), total(1, 0, 0.0, 0.0, 9100.0), total(2, 2, 12000.0, 2900.0, 12000.0)]
    );
}

#[test]
fn the_participant_cap_binds_before_the_total_cap() {
    // One participant achieving all four outcomes on one day: 700 + 2000 + 1500 + 6000 = 10200,
    // capped at 8000: the fourth (by metric order) gets 8000 - 4200 = 3800.
    let spec = Spec::parse(SPEC, "hand.toml").unwrap();
    let day = d(2023, 6, 30);
    let achievements: Vec<Achievement> = (0..4).map(|m| Achievement { participant: 0, metric: m, date: day }).collect();
    let prices: Vec<f64> = spec.outcome_metrics.iter().map(|m| m.price_per_unit).collect();
    let (lines, totals) = ratecard::pay(&achievements, &prices, &spec.outcome_payment_periods, 8000.0, 12000.0);
    let paid: Vec<(f64, &str)> = lines.iter().map(|l| (l.paid, l.note)).collect();
    assert_eq!(
        paid,
        vec![(700.0, "paid"), (2000.0, "paid"), (1500.0, "paid"), (3800.0, "reduced by the participant cap")]
    );
    assert_eq!(totals[0].paid, 8000.0);
    assert_eq!(totals[0].gross, 10200.0);
}

fn spec_error(edit: impl Fn(String) -> String) -> String {
    match Spec::parse(&edit(SPEC.to_string()), "edited.toml") {
        Ok(_) => panic!("the edited spec was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn specification_errors_name_the_field() {
    let unknown =
        spec_error(|s| s.replacen("where = { type = \"employment_status\" }", "where = { type = \"employment\" }", 2));
    assert!(
        unknown.contains("outcome_metrics[0].where.type")
            && unknown.contains("'employment' is not in the code list outcome_type"),
        "{unknown}"
    );
    let overlap = spec_error(|s| s.replace("from = 2023-07-01", "from = 2023-06-01"));
    assert!(overlap.contains("outcome_payment_periods[1]") && overlap.contains("overlaps `2023H1`"), "{overlap}");
    let cap = spec_error(|s| s.replace("cap_per_participant = 8000", "cap_per_participant = 5000"));
    assert!(cap.contains("pricing.cap_per_participant") && cap.contains("off_12m"), "{cap}");
    let same = spec_error(|s| s.replace("for = \"12m\"", "for = \"3m\""));
    assert!(
        same.contains("outcome_metrics[3]") && same.contains("`off_12m` has the same definition as `off_3m`"),
        "{same}"
    );
    let span = spec_error(|s| s.replace("for = \"91d\"", "for = \"13w\""));
    assert!(span.contains("no unit"), "{span}");
    let weeks = spec_error(|s| s.replace("for = \"3m\"", "for = \"91d\""));
    assert!(weeks.contains("outcome_metrics[2].for") && weeks.contains("calendar months"), "{weeks}");
    let kind = spec_error(|s| s.replacen("aggregate = \"time_to_event\"", "aggregate = \"count\"", 1));
    assert!(kind.contains("outcome_metrics[0].aggregate") && kind.contains("achieved on a date"), "{kind}");
    let covariate =
        spec_error(|s| s.replace("post_quarters = [1, 4]", "post_quarters = [1, 4]\ncovariates = [\"income\"]"));
    assert!(
        covariate.contains("validation.covariates[0]") && covariate.contains("unknown covariate `income`"),
        "{covariate}"
    );
    let service = spec_error(|s| s.replace("type = \"employment_support\"", "type = \"jobs\""));
    assert!(service.contains("service.where.type"), "{service}");
    let entry = spec_error(|s| s.replace("by = \"case_id\"", "by = \"case\""));
    assert!(entry.contains("target_group.entry.spell.by"), "{entry}");
    let window = spec_error(|s| s.replace("every = true }", "every = true, from = 2023-01-01 }"));
    assert!(window.contains("target_group.entry.from") && window.contains("[enrolment]"), "{window}");
    let field = spec_error(|s| s.replace("follow_up_months = 18", "follow_up_months = 18\nfollowup = 3"));
    assert!(field.contains("followup"), "{field}");
}

/// One participant household among 20: about a third of the household
/// resamples hold no participant (1 - (19/20)^20 = 0.64 hold one), so the
/// bootstrap says how many failed and why, and the interval is refused.
#[test]
fn failed_replicates_are_counted_and_too_few_refuse_the_interval() {
    use crate::estimate::{Unit, bootstrap, did};
    let units: Vec<Unit> = (0..20)
        .map(|c| Unit {
            treated: c == 0,
            cluster: c,
            x: vec![],
            y_post: Some(0.5 + c as f64 / 100.0),
            y_pre: Some(0.4),
            series: vec![],
        })
        .collect();
    let b =
        bootstrap(&units, 200, 7, |s| did(s).map(|x| vec![x]).ok_or_else(|| "no participant (resample 1)".to_string()));
    let failed: usize = b.failures.iter().map(|(_, n)| n).sum();
    assert_eq!(b.used() + failed, 200, "every replicate is used or counted as failed");
    assert!((40..110).contains(&failed), "{failed} failed");
    assert_eq!(b.failures.len(), 1, "grouped by reason without the bracket: {:?}", b.failures);
    assert_eq!(b.failures[0].0, "no participant");
    let e = crate::enough_replicates(&b, 0.95, "s.toml").unwrap_err();
    assert!(
        e.contains(&format!("only {} of 200 bootstrap replicates", b.used())) && e.contains("no participant"),
        "{e}"
    );
    assert!(e.contains("min_replicate_share") && e.contains("s.toml"), "{e}");
    assert!(crate::enough_replicates(&b, 0.5, "s.toml").is_ok());
}
