//! `utfall cohort`: the shipped cohort of placed children on the shared
//! fixture, against the same cohort worked out row by row in the test, and a
//! bad definition refused by file and field.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};

use crate::support::*;

/// `d` plus `months` calendar months (the language's `m`).
fn plus_months(d: NaiveDate, months: i32) -> NaiveDate {
    if months >= 0 { d + chrono::Months::new(months as u32) } else { d - chrono::Months::new((-months) as u32) }
}

#[test]
fn the_placed_children_equal_a_row_by_row_computation() {
    let d = dirty();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("placed.parquet");
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/definitions/cohorts/placed_children.toml");
    let printed = ok(&["cohort", spec, "--register", s(&d.register), "--out", s(&out)]);
    let got = read_parquet(&out);

    // Each client's first granted placement ever, kept if it started in 2021-2024 at age 7-18.
    let iv = read_parquet(&d.register.join("interventions.parquet"));
    let (ids, types, granted, started) = (
        str_col(&iv, "client_id"),
        str_col(&iv, "type"),
        iv.column("granted").unwrap().bool().unwrap().clone(),
        date_col(&iv, "started"),
    );
    let placement = |i: usize| {
        (types[i] == "residential_care" || types[i] == "residential_treatment") && granted.get(i) == Some(true)
    };
    let mut first: HashMap<&str, NaiveDate> = HashMap::new();
    for i in 0..iv.height() {
        if let (true, Some(s)) = (placement(i), started[i]) {
            first.entry(ids[i].as_str()).and_modify(|f| *f = (*f).min(s)).or_insert(s);
        }
    }
    let clients = read_parquet(&d.register.join("clients.parquet"));
    let born: HashMap<String, i32> = str_col(&clients, "client_id")
        .into_iter()
        .zip(clients.column("birth_year").unwrap().i32().unwrap().into_no_null_iter())
        .collect();
    let (lo, hi) = (NaiveDate::from_ymd_opt(2021, 1, 1).unwrap(), NaiveDate::from_ymd_opt(2024, 12, 31).unwrap());
    let mut want: Vec<(&str, NaiveDate)> = first
        .iter()
        .filter(|(c, s)| **s >= lo && **s <= hi && (7..=18).contains(&(s.year() - born[**c])))
        .map(|(c, s)| (*c, *s))
        .collect();
    want.sort();
    let got_ids = str_col(&got, "client_id");
    let got_dates = date_col(&got, "index_date");
    assert!(want.len() > 20, "the fixture has placed children: {}", want.len());
    assert_eq!(got.height(), want.len(), "{printed}");
    for (i, (c, s)) in want.iter().enumerate() {
        assert_eq!((got_ids[i].as_str(), got_dates[i]), (*c, Some(*s)));
    }
    assert!(printed.contains(&format!("wrote {} members", want.len())), "{printed}");

    // Reports of concern in the 24 months before ([-24m, 0)) and after ((0, 24m]).
    let rp = read_parquet(&d.register.join("reports.parquet"));
    let (rc, kind, received) = (str_col(&rp, "client_id"), str_col(&rp, "kind"), date_col(&rp, "received"));
    let count = |c: &str, from: NaiveDate, to: NaiveDate, closed_from: bool, closed_to: bool| {
        (0..rp.height())
            .filter(|&i| rc[i] == c && kind[i] == "report")
            .filter_map(|i| received[i])
            .filter(|r| {
                (if closed_from { *r >= from } else { *r > from }) && (if closed_to { *r <= to } else { *r < to })
            })
            .count() as i64
    };
    let before: Vec<i64> = got.column("reports_before").unwrap().i64().unwrap().into_no_null_iter().collect();
    let after: Vec<i64> = got.column("reports_after").unwrap().i64().unwrap().into_no_null_iter().collect();
    for (i, (c, s)) in want.iter().enumerate() {
        assert_eq!(before[i], count(c, plus_months(*s, -24), *s, true, false), "{c} before");
        assert_eq!(after[i], count(c, *s, plus_months(*s, 24), false, true), "{c} after");
    }
    assert!(before.iter().any(|n| *n > 0) && after.iter().any(|n| *n > 0));
    assert_eq!(str_col(&got, "sex").iter().filter(|v| *v == "F" || *v == "M").count(), got.height());
}

#[test]
fn a_definition_that_peeks_past_the_index_date_is_refused_by_file_and_field() {
    let d = dirty();
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("peek.toml");
    std::fs::write(
        &spec,
        "[entry]\ntable = \"payments\"\n[[variable]]\nname = \"peek\"\ntable = \"payments\"\naggregate = \"count\"\nwindow = \"[-12m, 3m)\"\n",
    )
    .unwrap();
    let out = tmp.path().join("out.parquet");
    let (code, _, err) = run(&["cohort", s(&spec), "--register", s(&d.register), "--out", s(&out)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("peek.toml")
            && err.contains("variable 'peek'.window")
            && err.contains("reaches past the index date"),
        "{err}"
    );
    assert!(!out.exists());
}
