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
            service_end: None,
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
    let baseline = spec_error(|s| s.replace("post_quarters = [1, 4]", "post_quarters = [1, 4]\npre_quarters = [0, 0]"));
    assert!(
        baseline.contains("validation.pre_quarters") && baseline.contains("quarters_from = \"service_start\""),
        "{baseline}"
    );
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

/// Norrköping's money, by hand: activity payments (one per child started,
/// one per whole month in the team, at most 6), 40% of the capital
/// guaranteed on activity, outcome payments, 60% of the measured savings in
/// care costs (days in residential care at 2,000 a day, foster-care
/// placements at 30,000 each) against a two-group comparison, and the
/// investor's return capped at 20%.
const MONEY: &str = r#"
id = "norr-hand"
title = "Hand-worked savings and return cap"
follow_up_months = 12

[target_group]
description = "test"
entry = { table = "interventions", date = "started", where = { type = "residential_care", granted = true } }

[enrolment]
from = 2023-01-01
to = 2025-12-31

[service]
description = "team"
where = { type = "family_treatment", granted = true }
date = "started"
until = "ended"

[[outcome_metrics]]
id = "no_placement_6m"
definition = "six calendar months without a new residential placement"
table = "interventions"
where = { type = "residential_care" }
date = "started"
aggregate = "months_without"
for = "6m"
price_per_unit = 30000

[[activity_payments]]
id = "started"
definition = "a child starts with the team"
per = "participant"
price = 20000

[[activity_payments]]
id = "month"
definition = "a whole month with the team"
per = "month_in_service"
price = 1000
max_months = 6

[savings]
definition = "care costs against the comparison group"
method = "two_group_comparison"
share = 0.6

[[savings.cost]]
name = "care_days"
table = "interventions"
where = { type = "residential_care", granted = true }
aggregate = "days_in"
date = "started"
until = "ended"
price = 2000

[[savings.cost]]
name = "foster_placements"
table = "interventions"
where = { type = "foster_care", granted = true }
aggregate = "count"
date = "started"
price = 30000

[investment]
amount = 100000
guaranteed_share = 0.4
return_cap = 0.2

[pricing]
cap_per_participant = 35000
cap_total = 1000000

[[outcome_payment_periods]]
id = "contract"
from = 2023-01-01
to = 2025-12-31

[validation]
method = "two_group_comparison"
outcome = { table = "outcomes", where = { type = "school_attendance" }, column = "value" }
post_quarters = [1, 4]
bootstrap_replicates = 50
min_replicate_share = 0.5
"#;

#[test]
fn hand_worked_savings_guarantee_and_return_cap() {
    use crate::money;
    let as_of = d(2025, 12, 31);
    // (client, type, started, ended)
    let rows: Vec<(&str, &str, NaiveDate, Option<NaiveDate>)> = vec![
        // The team: P0 1 March to 15 August 2023, P1 from 1 March 2023 still
        // going, P2 from 1 June 2025 (its 12 months not yet over).
        ("P0", "family_treatment", d(2023, 3, 1), Some(d(2023, 8, 15))),
        ("P1", "family_treatment", d(2023, 3, 1), None),
        ("P2", "family_treatment", d(2025, 6, 1), None),
        ("C3", "family_treatment", d(2023, 9, 1), None),
        // Care in the follow-up (after 1 March 2023, up to 2 March 2024):
        // P0 June (30 days); C0 April to September (183 days); C1 from 1 May
        // 2023, still placed (306 days to the window's end); C3 a year.
        ("P0", "residential_care", d(2023, 6, 1), Some(d(2023, 7, 1))),
        ("C0", "residential_care", d(2023, 4, 1), Some(d(2023, 10, 1))),
        ("C1", "residential_care", d(2023, 5, 1), None),
        ("C3", "residential_care", d(2023, 3, 2), Some(d(2024, 3, 2))),
        // Foster care: P1 and C2 one placement each.
        ("P1", "foster_care", d(2023, 8, 1), None),
        ("C2", "foster_care", d(2023, 8, 1), None),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let interventions = df!(
        "intervention_id" => (0..rows.len()).map(|i| format!("I{i}")).collect::<Vec<_>>(),
        "client_id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        "case_id" => rows.iter().map(|r| format!("K{}", r.0)).collect::<Vec<_>>(),
        "type" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        "decided" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        "granted" => vec![true; rows.len()],
        "started" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        "ended" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
    )
    .unwrap();
    write_entity(tmp.path(), schema::table("interventions").unwrap(), interventions).unwrap();
    let enrol = |client: &str, index: NaiveDate, start: Option<NaiveDate>, end: Option<NaiveDate>| Enrolment {
        client_id: client.into(),
        household_id: format!("H{client}"),
        case_id: format!("K{client}"),
        index,
        start,
        service_end: end,
        later_service: (client == "C3").then(|| d(2023, 9, 1)),
        values: Vec::new(),
    };
    let march = d(2023, 3, 1);
    let enrolments = vec![
        enrol("P0", march, Some(march), Some(d(2023, 8, 15))),
        enrol("P1", march, Some(march), None),
        enrol("P2", d(2025, 6, 1), Some(d(2025, 6, 1)), None),
        enrol("C0", march, None, None),
        enrol("C1", march, None, None),
        enrol("C2", march, None, None),
        enrol("C3", march, None, None),
    ];
    let spec = Spec::parse(MONEY, "norr-hand.toml").unwrap();
    let study = crate::study::Study {
        dir: tmp.path().to_path_buf(),
        as_of,
        manifest_sha256: String::new(),
        policy: utfall_disclosure::Policy::new(5, utfall_disclosure::Source::Default).unwrap(),
        names: Vec::new(),
        attrition: Vec::new(),
        pool: enrolments.clone(),
        enrolments,
        historical: Vec::new(),
        observations: Default::default(),
        series: Default::default(),
    };
    let participants = [0, 1, 2];
    let refs: Vec<&Enrolment> = participants.iter().map(|i| &study.enrolments[*i]).collect();
    // Activity earned: 20,000 for each start (P0, P1 on 1 March 2023; P2 on
    // 1 June 2025); whole months: P0 1 April to 1 August (5, before its
    // 15 August end), P1 1 April to 1 September (6 of 12, the cap), P2 1 July
    // to 1 December 2025 (6, up to the export date).
    let acts = money::activities(&spec, &refs, as_of);
    let earned = |payment: usize, p: usize| acts.iter().filter(|a| a.payment == payment && a.participant == p).count();
    assert_eq!([earned(0, 0), earned(0, 1), earned(0, 2)], [1, 1, 1]);
    assert_eq!([earned(1, 0), earned(1, 1), earned(1, 2)], [5, 6, 6]);
    assert_eq!(acts.iter().rfind(|a| a.payment == 1 && a.participant == 0).unwrap().date, d(2023, 8, 1));
    // The savings, over 12 months from each date, among those observed in
    // full and (comparisons) without the service: P0 30 days x 2,000 =
    // 60,000, P1 30,000 (P2's year is not over) -> mean 45,000; C0 183 x
    // 2,000 = 366,000, C1 306 x 2,000 = 612,000, C2 30,000 (C3 started the
    // team in September) -> mean 336,000. Savings 291,000 per participant;
    // paid 60% x 291,000 x 2 = 349,200.
    let s = money::savings(&spec, &study, &participants).unwrap().unwrap();
    assert_eq!((s.n_treated, s.n_comparison), (2, 3));
    assert_eq!((s.mean_treated, s.mean_comparison), (45_000.0, 336_000.0));
    assert_eq!(s.per_participant.estimate, 291_000.0);
    assert!(s.per_participant.ci_low < 291_000.0 && 291_000.0 < s.per_participant.ci_high);
    assert!((s.payable - 349_200.0).abs() < 1e-6, "{}", s.payable);
    assert_eq!(s.settled, d(2025, 12, 31));
    // Outcomes: no new placement for six calendar months from April: P1
    // April-September (30 September 2023); P0 placed in June, then
    // July-December (31 December 2023); P2 July-December 2025 (31 December).
    let metrics = spec.metric_variables(spec.follow_up_months).unwrap();
    let who: Vec<(&Enrolment, NaiveDate)> = refs.iter().map(|e| (*e, e.enrolled())).collect();
    let mut achievements = Vec::new();
    for (p, row) in achieved(tmp.path(), as_of, &metrics, &who).unwrap().into_iter().enumerate() {
        if let Some(date) = row[0] {
            achievements.push(Achievement { participant: p, metric: 0, date });
        }
    }
    let mut dates: Vec<(usize, NaiveDate)> = achievements.iter().map(|a| (a.participant, a.date)).collect();
    dates.sort();
    assert_eq!(dates, [(0, d(2023, 12, 31)), (1, d(2023, 9, 30)), (2, d(2025, 12, 31))]);
    let settle = |return_cap: Option<f64>| {
        let mut spec = spec.clone();
        spec.investment.as_mut().unwrap().return_cap = return_cap;
        let (mut lines, _) = crate::pay(&spec, &achievements);
        let periods = &spec.outcome_payment_periods;
        let mut activity = money::activity_lines(&spec, periods, &acts);
        let mut savings = vec![money::savings_line(periods, s.payable, s.settled)];
        let st = money::settle(spec.investment.as_ref(), 100_000.0, &mut lines, &mut activity, &mut savings).unwrap();
        (st, lines, activity, savings)
    };
    // The guarantee: activity earned 3 x 20,000 + 17 x 1,000 = 77,000; 40% of
    // 100,000 = 40,000 is paid: P0's and P1's starts on 1 March 2023, nothing after.
    // The cap on the return: 120,000 in all. In date order: 40,000 activity
    // (1 March 2023), 30,000 P1 (30 September), 30,000 P0 (31 December) ->
    // 100,000; on 31 December 2025 P2's outcome 30,000 would pass it: 20,000;
    // the savings, last that day, nothing.
    let (st, lines, activity, savings) = settle(Some(0.2));
    assert_eq!((st.activity_gross, st.activity_paid), (77_000.0, 40_000.0));
    assert_eq!(activity.iter().filter(|l| l.paid > 0.0).count(), 2);
    assert!(activity.iter().skip(2).all(|l| l.note == "beyond the share guaranteed on activity"));
    let paid: Vec<f64> = lines.iter().map(|l| l.paid).collect();
    assert_eq!(paid, [30_000.0, 30_000.0, 20_000.0]);
    assert_eq!(lines[2].note, "reduced by the cap on the investor's return");
    assert_eq!((savings[0].price, savings[0].paid), (349_200.0, 0.0));
    assert_eq!((st.outcomes_paid, st.savings_paid, st.repaid), (80_000.0, 0.0, 120_000.0));
    assert_eq!((st.net, st.multiple, st.ceiling), (20_000.0, 1.2, Some(120_000.0)));
    // Without the cap: every outcome and the whole savings payment.
    let (st, _, _, savings) = settle(None);
    assert!((savings[0].paid - 349_200.0).abs() < 1e-6);
    assert!((st.repaid - (40_000.0 + 90_000.0 + 349_200.0)).abs() < 1e-6, "{}", st.repaid);
}
