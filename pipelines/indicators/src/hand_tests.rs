//! Every indicator kind on a small hand-built register, against values
//! worked out by hand (the working is in the comments).
//!
//! Three clients: c1 (born 2008, F, norr), c2 (1980, M, soder), c3 (1990, F, norr).
//! As of 2025-12-31.
//!
//! | case | client | unit | area | opened | investigation | decided | closed |
//! |---|---|---|---|---|---|---|---|
//! | K1 | c1 | U1 | child_youth | 2023-01-10 | 2023-01-20 | 2023-03-01 | 2023-06-30 |
//! | K2 | c1 | U1 | child_youth | 2024-03-01 | 2024-03-05 | 2024-09-10 | 2024-10-15 |
//! | K3 | c2 | U2 | adult_substance | 2022-05-01 | 2022-05-02 | 2022-06-01 | 2022-08-31 |
//! | K4 | c2 | U2 | adult_substance | 2023-09-15 | 2025-10-01 | - | - |
//! | K5 | c3 | FS | financial_assistance | 2024-01-05 | - | - | 2025-03-10 |
//! | K6 | c3 | U2 | psychiatry | 2024-06-01 | - | - | 2024-12-31 |
//! | K7 | c3 | FS | financial_assistance | 2023-01-03 | - | - | 2023-11-15 |
//! | K8 | c2 | FS | financial_assistance | 2023-03-01 | - | - | 2023-05-10 |

use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;
use utfall_register::schema;

use crate::catalogue::{Catalogue, PeriodType};
use crate::entities::Tables;
use crate::targets::Targets;
use crate::{Outputs, compute};

fn d(s: &str) -> Option<NaiveDate> {
    (!s.is_empty()).then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
}

fn dates(v: &[&str]) -> Vec<Option<NaiveDate>> {
    v.iter().map(|s| d(s)).collect()
}

/// Write a table with the register's schema: missing columns null, types cast.
fn write(dir: &Path, table: &str, df: DataFrame) {
    utfall_register::scan::write_entity(dir, schema::table(table).unwrap(), df).unwrap();
}

fn register(dir: &Path) {
    write(
        dir,
        "clients",
        df!("client_id" => ["c1", "c2", "c3"], "birth_year" => [2008, 1980, 1990], "sex" => ["F", "M", "F"],
            "district" => ["norr", "soder", "norr"])
        .unwrap(),
    );
    write(
        dir,
        "cases",
        df!(
            "case_id" => ["K1", "K2", "K3", "K4", "K5", "K6", "K7", "K8"],
            "client_id" => ["c1", "c1", "c2", "c2", "c3", "c3", "c3", "c2"],
            "unit" => ["U1", "U1", "U2", "U2", "FS", "U2", "FS", "FS"],
            "area" => ["child_youth", "child_youth", "adult_substance", "adult_substance", "financial_assistance",
                       "psychiatry", "financial_assistance", "financial_assistance"],
            "origin" => ["report"; 8],
            "opened" => dates(&["2023-01-10", "2024-03-01", "2022-05-01", "2023-09-15", "2024-01-05", "2024-06-01", "2023-01-03", "2023-03-01"]),
            "investigation_started" => dates(&["2023-01-20", "2024-03-05", "2022-05-02", "2025-10-01", "", "", "", ""]),
            "decided" => dates(&["2023-03-01", "2024-09-10", "2022-06-01", "", "", "", "", ""]),
            "closed" => dates(&["2023-06-30", "2024-10-15", "2022-08-31", "", "2025-03-10", "2024-12-31", "2023-11-15", "2023-05-10"]),
        )
        .unwrap(),
    );
    write(
        dir,
        "reports",
        df!(
            "report_id" => ["R1", "R2", "R3", "R4", "R5", "R6", "R7"],
            "client_id" => ["c1", "c1", "c1", "c3", "c2", "c2", "c3"],
            "case_id" => ["K1", "K2", "K1", "K5", "K3", "K8", "K7"],
            "kind" => ["report", "report", "report", "application", "report", "application", "application"],
            "received" => dates(&["2023-01-10", "2024-03-01", "2023-04-01", "2024-01-05", "2022-04-25", "2023-03-01", "2023-01-03"]),
            "channel" => [None, None, None, Some("digital"), None, Some("paper"), Some("digital")],
            "prelim_decided" => dates(&["2023-01-20", "2024-03-20", "", "", "", "", ""]),
        )
        .unwrap(),
    );
    write(
        dir,
        "assessments",
        df!(
            "assessment_id" => ["A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9", "A10", "A11"],
            "client_id" => ["c1", "c1", "c1", "c1", "c1", "c2", "c2", "c3", "c2", "c2", "c3"],
            "case_id" => ["K1", "K1", "K1", "K1", "K1", "K3", "K3", "K6", "K4", "K4", "K6"],
            "instrument" => ["stjarna", "stjarna", "stjarna", "stjarna", "stjarna", "psykbel", "psykbel", "psykbel", "stjarna", "stjarna", "asi"],
            "domain" => ["halsa", "halsa", "skola", "skola", "skola", "total", "total", "total", "halsa", "halsa", "total"],
            "score" => [3.0, 6.0, 4.0, 5.0, 4.0, 25.0, 20.0, 30.0, 7.0, 4.0, 2.0],
            "assessed" => dates(&["2023-01-25", "2023-06-01", "2023-01-25", "2023-03-01", "2023-06-01", "2022-05-10",
                                  "2022-08-20", "2024-06-10", "2023-10-01", "2024-02-01", "2024-07-01"]),
            "caseworker_id" => [Some("W1"), Some("W7"), Some("W1"), Some("W2"), None, None, None, None, None, None, None],
        )
        .unwrap(),
    );
    write(
        dir,
        "goals",
        df!(
            "goal_id" => ["G1", "G2", "G3", "G4", "G5", "G6"],
            "client_id" => ["c1", "c1", "c1", "c2", "c3", "c3"],
            "case_id" => ["K1", "K1", "K1", "K3", "K6", "K6"],
            "domain" => ["halsa", "skola", "fritid", "total", "boende", "halsa"],
            "set_date" => dates(&["2023-01-25", "2023-01-25", "2023-01-25", "2022-05-10", "2024-06-10", "2024-06-10"]),
            "baseline_level" => [3, 4, 5, 5, 3, 4],
            "target_level" => [5, 6, 7, 7, 5, 6],
            "followed_up" => dates(&["2023-06-01", "2023-06-15", "", "2022-08-20", "2024-12-01", "2024-12-15"]),
            "gas_score" => [Some(1), Some(-1), None, Some(0), Some(2), Some(1)],
            "weight" => [Some(1.0), Some(2.0), None, None, Some(1.0), Some(1.0)],
        )
        .unwrap(),
    );
    // H1 (c3): 2023-01..2023-10 on K7, 2024-01..2024-03 on K5; H2 (c2): 2023-03, 2023-04 on K8.
    let mut months: Vec<String> = (1..=10).map(|m| format!("2023-{m:02}-01")).collect();
    months.extend((1..=3).map(|m| format!("2024-{m:02}-01")));
    months.extend(["2023-03-01".to_string(), "2023-04-01".to_string()]);
    let n = months.len();
    let hh: Vec<&str> = (0..n).map(|i| if i < 13 { "H1" } else { "H2" }).collect();
    write(
        dir,
        "payments",
        df!(
            "payment_id" => (0..n).map(|i| format!("P{i:02}")).collect::<Vec<_>>(),
            "client_id" => hh.iter().map(|h| if *h == "H1" { "c3" } else { "c2" }).collect::<Vec<_>>(),
            "household_id" => hh.clone(),
            "case_id" => (0..n).map(|i| if i < 10 { "K7" } else if i < 13 { "K5" } else { "K8" }).collect::<Vec<_>>(),
            "month" => months.iter().map(|m| d(m)).collect::<Vec<_>>(),
            "amount_sek" => vec![5000.0; n],
            "reason" => vec!["unemployment"; n],
        )
        .unwrap(),
    );
    write(
        dir,
        "contacts",
        df!(
            "contact_id" => ["T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8"],
            "client_id" => ["c1", "c1", "c1", "c1", "c3", "c3", "c3", "c2"],
            "case_id" => ["K1", "K1", "K1", "K2", "K5", "K6", "K6", "K8"],
            "date" => dates(&["2023-02-01", "2023-03-01", "2023-04-01", "2024-05-01", "2024-02-01", "2024-07-01", "2024-08-01", "2023-04-01"]),
            "channel" => ["in_person", "in_person", "phone", "video", "letter", "chat", "in_person", "phone"],
            "caseworker_id" => [Some("W1"), Some("W1"), Some("W2"), Some("W3"), Some("W4"), Some("W5"), Some("W6"), None],
        )
        .unwrap(),
    );
    write(
        dir,
        "interventions",
        df!(
            "intervention_id" => ["I1", "I2", "I3", "I4"],
            "client_id" => ["c1", "c3", "c2", "c3"],
            "case_id" => ["K1", "K6", "K3", "K6"],
            "type" => ["family_treatment", "housing_support", "substance_treatment", "housing_support"],
            "decided" => dates(&["2023-03-01", "2024-06-20", "2022-06-01", "2024-12-01"]),
            "granted" => [true, true, true, true],
            "caseworker_id" => ["W2", "W5", "W8", "W9"],
        )
        .unwrap(),
    );
}

fn outputs(targets: &str) -> Outputs {
    let tmp = tempfile::tempdir().unwrap();
    register(tmp.path());
    let t = Tables::scan(tmp.path(), NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()).unwrap();
    let cat = Catalogue::builtin();
    let targets = Targets::parse(targets, "targets.toml", &cat).unwrap();
    compute(&t, &cat, &targets).unwrap()
}

/// (n, numerator or mean) of one cell of `indicators`, or None when absent.
fn cell(
    o: &Outputs,
    id: &str,
    inst: Option<&str>,
    p: PeriodType,
    period: &str,
    split: &str,
    value: &str,
) -> Option<(i64, f64)> {
    let mut f = o.indicators.clone().lazy().filter(
        col("indicator_id")
            .eq(lit(id))
            .and(col("period_type").eq(lit(p.name())))
            .and(col("period").eq(lit(period)))
            .and(col("split").eq(lit(split)))
            .and(col("split_value").eq(lit(value))),
    );
    if let Some((i, dom)) = inst.map(|s| s.split_once('/').unwrap()) {
        f = f.filter(col("instrument").eq(lit(i)).and(col("domain").eq(lit(dom))));
    }
    let f = f.collect().unwrap();
    assert!(f.height() <= 1, "{id} {period} {split} {value}: {f}");
    if f.height() == 0 {
        return None;
    }
    let n = f.column("n").unwrap().i64().unwrap().get(0).unwrap();
    let v = match f.column("numerator").unwrap().i64().unwrap().get(0) {
        Some(k) => k as f64,
        None => f.column("value").unwrap().f64().unwrap().get(0).unwrap(),
    };
    Some((n, v))
}

fn year(o: &Outputs, id: &str, period: &str) -> Option<(i64, f64)> {
    cell(o, id, None, PeriodType::Year, period, "total", "all")
}

fn close(a: Option<(i64, f64)>, n: i64, v: f64) {
    let (an, av) = a.unwrap_or_else(|| panic!("missing cell, expected ({n}, {v})"));
    assert!(an == n && (av - v).abs() < 1e-9, "got ({an}, {av}), expected ({n}, {v})");
}

#[test]
fn not_rereferred() {
    let o = outputs("");
    let y = |id, p| year(&o, id, p);
    // Observable closures: K3 2022 (K4 opens after the window) -> not back;
    // K1 2023 back (K2 opens 2024-03-01); K7 2023 back (K5 opens 2024-01-05);
    // K8 2023 not back (K4 is another area); K2 and K6 2024 not back; K5
    // (2025-03-10 + 12 months > as of) is not observable.
    assert_eq!(y("not_rereferred_12m", "2022"), Some((1, 1.0)));
    assert_eq!(y("not_rereferred_12m", "2023"), Some((3, 1.0)));
    assert_eq!(y("not_rereferred_12m", "2024"), Some((2, 2.0)));
    assert_eq!(y("not_rereferred_12m", "2025"), None);
    // Youth 13-20 (c1: 15 in 2023, 16 in 2024).
    assert_eq!(y("not_rereferred_12m_youth", "2023"), Some((1, 0.0)));
    assert_eq!(y("not_rereferred_12m_youth", "2024"), Some((1, 1.0)));
    assert_eq!(y("not_rereferred_12m_youth", "2022"), None);
    // Substance use, adults: K3 (2022, not back); K4 is still open.
    assert_eq!(y("not_rereferred_12m_substance", "2022"), Some((1, 1.0)));
    assert_eq!(y("not_rereferred_12m_substance", "2023"), None);
    // Income support: K7 (back), K8 (not back).
    assert_eq!(y("not_rereferred_12m_income_support", "2023"), Some((2, 1.0)));
    // Splits: 2023 by unit and sex; quarter and month.
    assert_eq!(cell(&o, "not_rereferred_12m", None, PeriodType::Year, "2023", "unit", "FS"), Some((2, 1.0)));
    assert_eq!(cell(&o, "not_rereferred_12m", None, PeriodType::Year, "2023", "sex", "F"), Some((2, 0.0)));
    assert_eq!(cell(&o, "not_rereferred_12m", None, PeriodType::Year, "2023", "age_band", "13-17"), Some((1, 0.0)));
    assert_eq!(cell(&o, "not_rereferred_12m", None, PeriodType::Quarter, "2023-Q2", "total", "all"), Some((2, 1.0)));
    assert_eq!(cell(&o, "not_rereferred_12m", None, PeriodType::Month, "2023-11", "district", "norr"), Some((1, 0.0)));
}

#[test]
fn financial_assistance() {
    let o = outputs("");
    // 2023: H1 10 months (long-term), H2 2 months; 2024: H1 3 months.
    assert_eq!(year(&o, "long_term_assistance", "2023"), Some((2, 1.0)));
    assert_eq!(year(&o, "long_term_assistance", "2024"), Some((1, 0.0)));
    assert_eq!(cell(&o, "long_term_assistance", None, PeriodType::Month, "2023-01", "total", "all"), None);
    // Exits: H1 after 2023-10 (back 2024-01: not self-sufficient), H2 after
    // 2023-04 (self-sufficient), H1 after 2024-03 (self-sufficient).
    assert_eq!(year(&o, "self_sufficient_12m", "2023"), Some((2, 1.0)));
    assert_eq!(year(&o, "self_sufficient_12m", "2024"), Some((1, 1.0)));
    assert_eq!(cell(&o, "self_sufficient_12m", None, PeriodType::Month, "2023-11", "total", "all"), Some((1, 0.0)));
    assert_eq!(cell(&o, "self_sufficient_12m", None, PeriodType::Month, "2024-04", "total", "all"), Some((1, 1.0)));
}

#[test]
fn baselines_change_and_reliable_change() {
    let o = outputs("");
    let b = &o.baselines;
    // 7 client-case-instrument-domain groups, one of them (asi) outside the catalogue.
    assert_eq!(b.height(), 6);
    assert!(o.warnings.iter().any(|w| w.contains("asi")), "{:?}", o.warnings);
    let y = |id, inst, p| cell(&o, id, Some(inst), PeriodType::Year, p, "total", "all");
    // Baselines: stjarna/halsa 2023: c1 3 and c2 7.
    close(y("baseline_score", "stjarna/halsa", "2023"), 2, 5.0);
    close(y("baseline_score", "stjarna/skola", "2023"), 1, 4.0);
    close(y("baseline_score", "psykbel/total", "2024"), 1, 30.0);
    // Change: c1 halsa +3 (2023), c2 halsa -3 (2024), c1 skola 0, c2 psykbel -5.
    close(y("mean_change", "stjarna/halsa", "2023"), 1, 3.0);
    close(y("mean_change", "stjarna/halsa", "2024"), 1, -3.0);
    close(y("mean_change", "psykbel/total", "2022"), 1, -5.0);
    assert_eq!(y("mean_change", "psykbel/total", "2024"), None, "c3's single psykbel score is unpaired");
    // RCI: stjarna S_diff = sqrt(2) 2 sqrt(0.2) = 1.2649: +3 -> 2.37 (improved), -3 -> -2.37;
    // psykbel S_diff = sqrt(2) 7 sqrt(0.12) = 3.4293: -5 (better) -> 1.46 (not reliable).
    assert_eq!(y("reliable_improvement", "stjarna/halsa", "2023"), Some((1, 1.0)));
    assert_eq!(y("reliable_improvement", "psykbel/total", "2022"), Some((1, 0.0)));
    assert_eq!(y("reliable_deterioration", "stjarna/halsa", "2024"), Some((1, 1.0)));
    assert_eq!(y("reliable_deterioration", "stjarna/skola", "2023"), Some((1, 0.0)));
    // Recovery: c1 halsa 3 -> 6 (recovered), c1 skola 4 -> 4 (not), c2 psykbel
    // 25 -> 20 (not); c2 halsa starts at 7, not a case: not counted.
    assert_eq!(y("recovery", "stjarna/halsa", "2023"), Some((1, 1.0)));
    assert_eq!(y("recovery", "stjarna/skola", "2023"), Some((1, 0.0)));
    assert_eq!(y("recovery", "psykbel/total", "2022"), Some((1, 0.0)));
    assert_eq!(y("recovery", "stjarna/halsa", "2024"), None);
    let rci = b
        .clone()
        .lazy()
        .filter(col("client_id").eq(lit("c2")).and(col("instrument").eq(lit("psykbel"))))
        .collect()
        .unwrap()
        .column("rci")
        .unwrap()
        .f64()
        .unwrap()
        .get(0)
        .unwrap();
    assert!((rci - 5.0 / (2f64.sqrt() * 7.0 * 0.12f64.sqrt())).abs() < 1e-12);
}

#[test]
fn goal_attainment() {
    let o = outputs("");
    // c1 K1: G1 +1 (w 1), G2 -1 (w 2): T = 50 + 10 (1 - 2) / sqrt(0.7 * 5 + 0.3 * 9).
    let t1 = 50.0 - 10.0 / 6.2f64.sqrt();
    // c3 K6: +2, +1: T = 50 + 10 * 3 / sqrt(0.7 * 2 + 0.3 * 4).
    let t3 = 50.0 + 30.0 / 2.6f64.sqrt();
    close(year(&o, "gas_t_score", "2023"), 1, t1);
    close(year(&o, "gas_t_score", "2022"), 1, 50.0);
    close(year(&o, "gas_t_score", "2024"), 1, t3);
    assert_eq!(o.goal_attainment.height(), 3);
    assert_eq!(year(&o, "goals_met", "2023"), Some((2, 1.0)));
    assert_eq!(year(&o, "goals_met", "2022"), Some((1, 1.0)));
    assert_eq!(year(&o, "goals_met", "2024"), Some((2, 2.0)));
}

#[test]
fn process_measures() {
    let o = outputs("");
    // Days to decision: K3 from R5 (2022-04-25, before opening) 37; K1 50; K2 193.
    close(year(&o, "days_report_to_decision", "2022"), 1, 37.0);
    close(year(&o, "days_report_to_decision", "2023"), 1, 50.0);
    close(year(&o, "days_report_to_decision", "2024"), 1, 193.0);
    // Preliminary assessments: R1 10 days (yes), R2 19 days (no), R5 never
    // decided and overdue (no); R3 came to an open case (not counted).
    assert_eq!(year(&o, "prelim_within_14d", "2023"), Some((1, 1.0)));
    assert_eq!(year(&o, "prelim_within_14d", "2024"), Some((1, 0.0)));
    assert_eq!(year(&o, "prelim_within_14d", "2022"), Some((1, 0.0)));
    // Investigations: K1 and K3 within 4 months, K2 not; K4 (started
    // 2025-10-01, undecided, deadline after as of) not yet counted.
    assert_eq!(year(&o, "investigation_within_4m", "2023"), Some((1, 1.0)));
    assert_eq!(year(&o, "investigation_within_4m", "2024"), Some((1, 0.0)));
    assert_eq!(year(&o, "investigation_within_4m", "2022"), Some((1, 1.0)));
    assert_eq!(year(&o, "investigation_within_4m", "2025"), None);
    // Contacts per closed case: 2023 K1 3, K7 0, K8 1; 2024 K2 1, K6 2.
    close(year(&o, "contacts_per_case", "2023"), 3, 4.0 / 3.0);
    close(year(&o, "contacts_per_case", "2024"), 2, 1.5);
    close(year(&o, "contacts_per_case", "2022"), 1, 0.0);
    close(year(&o, "contacts_per_case_in_person", "2023"), 3, 2.0 / 3.0);
    close(year(&o, "contacts_per_case_digital", "2024"), 2, 1.0);
    // Digital applications: 2023 R6 (paper, K8) and R7 (digital, K7); 2024 R4 (digital).
    assert_eq!(year(&o, "digital_applications", "2023"), Some((2, 1.0)));
    assert_eq!(year(&o, "digital_applications", "2024"), Some((1, 1.0)));
    assert_eq!(cell(&o, "digital_applications", None, PeriodType::Year, "2023", "sex", "M"), Some((1, 0.0)));
    // Clients in several units: 2023 c2 (U2 and FS) of c1, c2, c3; 2024 c3 (FS, U2).
    assert_eq!(year(&o, "clients_in_several_units", "2022"), Some((1, 0.0)));
    assert_eq!(year(&o, "clients_in_several_units", "2023"), Some((3, 1.0)));
    assert_eq!(year(&o, "clients_in_several_units", "2024"), Some((3, 1.0)));
    assert_eq!(year(&o, "clients_in_several_units", "2025"), Some((2, 0.0)));
    let u = |v| cell(&o, "clients_in_several_units", None, PeriodType::Year, "2023", "unit", v);
    assert_eq!((u("U1"), u("U2"), u("FS")), (Some((1, 0.0)), Some((1, 1.0)), Some((2, 1.0))));
    let m = |p| cell(&o, "clients_in_several_units", None, PeriodType::Month, p, "total", "all");
    // April 2023: c1 in U1 (K1), c2 only in FS (K8; K3 ended 2022, K4 opens
    // in September), c3 in FS (K7). September: c2 in U2 (K8 closed in May), c3 in FS.
    assert_eq!(m("2023-04"), Some((3, 0.0)));
    assert_eq!(m("2023-09"), Some((2, 0.0)));
}

/// Continuity: distinct caseworkers recording a contact, an assessment or a
/// decision in a case's first six months, [opened, opened + 6 months).
#[test]
fn caseworkers_in_the_first_six_months() {
    let o = outputs("");
    // K1 (2023-01-10 .. 2023-07-10): contacts W1, W1, W2; assessments W1,
    // W7 (2023-06-01), W1, W2; decision W2: {W1, W2, W7} = 3.
    close(year(&o, "caseworkers_first_6m", "2023"), 1, 3.0);
    // K3: its decision by W8 = 1.
    close(year(&o, "caseworkers_first_6m", "2022"), 1, 1.0);
    // 2024: K2 W3 = 1; K5 W4 = 1; K6 (2024-06-01 .. 2024-12-01): contacts
    // W5, W6 and decision W5 = 2; its decision by W9 on 2024-12-01 is the
    // first day after the window. K8 has no caseworker recorded: not counted.
    close(year(&o, "caseworkers_first_6m", "2024"), 3, 4.0 / 3.0);
    assert_eq!(cell(&o, "caseworkers_first_6m", None, PeriodType::Year, "2024", "unit", "U2"), Some((1, 2.0)));
}

/// Children investigated again: c1's investigations started 2023-01-20 (K1)
/// and 2024-03-05 (K2), 13.5 months apart: not within 12 months, within 14.
#[test]
fn repeat_investigations() {
    let o = outputs("");
    assert_eq!(year(&o, "repeat_investigation_12m", "2023"), Some((1, 0.0)));
    assert_eq!(year(&o, "repeat_investigation_12m", "2024"), Some((1, 0.0)));
    // Adults' investigations (K3, K4) are outside the indicator's population.
    assert_eq!(year(&o, "repeat_investigation_12m", "2022"), None);
    let text = "version = \"t\"\n[settings]\nthreshold = 5\nperiods = [\"year\"]\nsplits = [\"unit\"]\n\
                age_bands = [0, 18]\n[[indicator]]\nid = \"again\"\nversion = 1\nkind = \"repeat_investigation\"\n\
                window_months = 14\nareas = [\"child_youth\"]\nname_sv = \"x\"\nname_en = \"x\"\n";
    let cat = Catalogue::parse(text, "t.toml").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    register(tmp.path());
    let t = Tables::scan(tmp.path(), NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()).unwrap();
    let o = compute(&t, &cat, &Targets::parse("", "targets.toml", &cat).unwrap()).unwrap();
    assert_eq!(year(&o, "again", "2024"), Some((1, 1.0)));
    assert_eq!(year(&o, "again", "2023"), Some((1, 0.0)));
}

#[test]
fn intervals_suppression_and_targets() {
    let o = outputs("[[target]]\nid = \"t\"\nindicator = \"not_rereferred_12m\"\nunits = [\"FS\"]\nat_least = 0.5\n");
    // The interval is the Wilson interval of the cell.
    let f = o
        .indicators
        .clone()
        .lazy()
        .filter(
            col("indicator_id")
                .eq(lit("not_rereferred_12m"))
                .and(col("period").eq(lit("2023")))
                .and(col("split").eq(lit("total"))),
        )
        .collect()
        .unwrap();
    let lo = f.column("ci_low").unwrap().f64().unwrap().get(0).unwrap();
    let hi = f.column("ci_high").unwrap().f64().unwrap().get(0).unwrap();
    let (wl, wh) = crate::stats::wilson(1, 3, 0.95);
    assert!((lo - wl).abs() < 1e-12 && (hi - wh).abs() < 1e-12);
    assert_eq!(f.column("catalogue_version").unwrap().str().unwrap().get(0), Some("2026.2"));
    assert_eq!(f.column("version").unwrap().i32().unwrap().get(0), Some(1));
    // Every count here is below 5: every published cell is withheld.
    let p = &o.indicators_public;
    // The managers' table holds every cell but the months of a split (settings.monthly_splits is empty).
    let published = o
        .indicators
        .clone()
        .lazy()
        .filter(col("period_type").neq(lit("month")).or(col("split").eq(lit("total"))))
        .collect()
        .unwrap();
    assert!(published.height() < o.indicators.height());
    assert_eq!(p.height(), published.height());
    assert_eq!(p.column("suppressed").unwrap().bool().unwrap().sum(), Some(p.height() as u32));
    assert_eq!(p.column("n").unwrap().null_count(), p.height());
    // The target is not measurable (too few) for FS in every year with data.
    let t = &o.target_status;
    assert_eq!(t.height(), 3, "{t}");
    let reasons: Vec<_> = t.column("reason").unwrap().str().unwrap().iter().collect();
    assert!(reasons.iter().all(|r| *r == Some("too_few") || *r == Some("no_data")), "{reasons:?}");
}

#[test]
fn months_per_split_are_published_only_where_the_catalogue_names_them() {
    let tmp = tempfile::tempdir().unwrap();
    register(tmp.path());
    let t = Tables::scan(tmp.path(), NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()).unwrap();
    let text = crate::catalogue::DEFAULT_CATALOGUE.replace("monthly_splits = []", "monthly_splits = [\"unit\"]");
    let cat = Catalogue::parse(&text, "units.toml").unwrap();
    let o = compute(&t, &cat, &Targets::default()).unwrap();
    let months = |f: &DataFrame, split: &str| {
        f.clone()
            .lazy()
            .filter(col("period_type").eq(lit("month")).and(col("split").eq(lit(split))))
            .collect()
            .unwrap()
            .height()
    };
    assert!(months(&o.indicators, "unit") > 0 && months(&o.indicators, "sex") > 0);
    assert_eq!(months(&o.indicators_public, "unit"), months(&o.indicators, "unit"));
    assert_eq!(months(&o.indicators_public, "total"), months(&o.indicators, "total"));
    assert_eq!(months(&o.indicators_public, "sex"), 0);
    // A unit's monthly target needs the units' months published.
    let monthly = "[[target]]\nid = \"t\"\nindicator = \"not_rereferred_12m\"\nat_least = 0.5\nperiods = [\"month\"]\n";
    assert!(Targets::parse(monthly, "targets.toml", &cat).is_ok());
    let e = Targets::parse(monthly, "targets.toml", &Catalogue::builtin()).unwrap_err();
    assert!(e.to_string().contains("monthly_splits"), "{e}");
}
