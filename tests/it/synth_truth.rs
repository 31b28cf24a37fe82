//! The planted truth agrees with the exports it was planted in, so that later
//! stages can be tested on recovering it.

use std::collections::HashMap;

use chrono::NaiveDate;
use utfall_register::pnr::Pnr;

use crate::support::*;

fn rows(path: &std::path::Path, delim: char) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().skip(1).map(|l| l.split(delim).map(str::to_string).collect()).collect()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[test]
fn rereferral_labels_match_the_cases_in_the_exports() {
    let tmp = tempfile::tempdir().unwrap();
    ok(&["synth", "--out", s(tmp.path()), "--clients", "3000", "--seed", "5"]);
    let as_of = utfall_synth::as_of();
    // arenden.csv: Ärendenr;Personnummer;Enhet;Verksamhet;Aktualisering;Öppnat;...;Avslutat
    let mut by_client_area: HashMap<(String, String), Vec<NaiveDate>> = HashMap::new();
    let mut case_of: HashMap<String, (String, String)> = HashMap::new();
    for r in rows(&tmp.path().join("exports/arenden.csv"), ';') {
        let who = Pnr::parse(&r[1], as_of).unwrap().canonical();
        by_client_area.entry((who.clone(), r[3].clone())).or_default().push(date(&r[5]));
        case_of.insert(r[0].clone(), (who, r[3].clone()));
    }
    // truth/cases.csv: case_id,area,unit,closed,p_rereferral_12m,rereferred_12m,observable
    let (mut observable, mut back, mut p_sum) = (0, 0, 0.0);
    for r in rows(&tmp.path().join("truth/cases.csv"), ',') {
        if r[6] != "1" {
            continue;
        }
        observable += 1;
        let closed = date(&r[3]);
        let key = case_of.get(&r[0]).unwrap_or_else(|| panic!("truth case {} is not in the exports", r[0]));
        let came_back = by_client_area[key].iter().any(|o| *o > closed && (*o - closed).num_days() <= 365);
        assert_eq!(came_back, r[5] == "1", "case {}: truth label vs exports", r[0]);
        back += usize::from(came_back);
        p_sum += r[4].parse::<f64>().unwrap();
    }
    assert!(observable > 1000, "{observable} observable closed cases");
    // The labels are draws from the planted probabilities: the observed rate is
    // within 4 standard errors of the mean planted probability.
    let (rate, expected) = (back as f64 / observable as f64, p_sum / observable as f64);
    let se = (expected * (1.0 - expected) / observable as f64).sqrt();
    assert!((rate - expected).abs() < 4.0 * se, "rate {rate:.3} vs planted {expected:.3}");
}
