//! `utfall indicators` end to end on the synthetic municipality: the planted
//! truth is recovered, the derived tables are published atomically with their
//! definitions, manager tables hold no small count, and a new indicator needs
//! only a catalogue edit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use polars::prelude::*;

use crate::support::*;

/// A clean synthetic municipality (no faults), built with the demo targets.
struct Clean {
    dir: PathBuf,
    register: PathBuf,
    _tmp: tempfile::TempDir,
}

fn clean() -> &'static Clean {
    static C: OnceLock<Clean> = OnceLock::new();
    C.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        ok(&["synth", "--out", s(&dir), "--clients", "10000", "--seed", "11"]);
        let key = dir.join("k.key");
        ok(&["key", "new", "--out", s(&key)]);
        let targets = dir.join("targets.toml");
        std::fs::write(&targets, utfall_indicators::targets::DEMO_TARGETS).unwrap();
        let register = dir.join("register");
        build_with(&dir.join("exports"), &key, &register, &["--targets", s(&targets)]);
        Clean { dir, register, _tmp: tmp }
    })
}

fn rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect()
}

fn quarter_label(date: &str) -> String {
    let m: u32 = date[5..7].parse().unwrap();
    format!("{}-Q{}", &date[..4], (m - 1) / 3 + 1)
}

#[test]
fn planted_rereferral_rates_fall_inside_their_intervals() {
    let c = clean();
    // truth/cases.csv: case_id,area,unit,closed,p_rereferral_12m,rereferred_12m,observable
    // Per (unit, period): observable closures, those not re-referred, and the
    // planted probability of not coming back summed.
    let mut truth: HashMap<(String, String), (i64, i64, f64)> = HashMap::new();
    for r in rows(&c.dir.join("truth/cases.csv")) {
        if r[6] != "1" {
            continue;
        }
        for period in [r[3][..4].to_string(), quarter_label(&r[3])] {
            let e = truth.entry((r[2].clone(), period)).or_default();
            e.0 += 1;
            e.1 += i64::from(r[5] == "0");
            e.2 += 1.0 - r[4].parse::<f64>().unwrap();
        }
    }
    let ind = read_parquet(&c.register.join("indicators.parquet"))
        .lazy()
        .filter(
            col("indicator_id")
                .eq(lit("not_rereferred_12m"))
                .and(col("split").eq(lit("unit")))
                .and(col("period_type").neq(lit("month"))),
        )
        .collect()
        .unwrap();
    let unit = str_col(&ind, "split_value");
    let period = str_col(&ind, "period");
    let n = ind.column("n").unwrap().i64().unwrap();
    let k = ind.column("numerator").unwrap().i64().unwrap();
    let lo = ind.column("ci_low").unwrap().f64().unwrap();
    let hi = ind.column("ci_high").unwrap().f64().unwrap();
    let (mut cells, mut inside) = (0, 0);
    for i in 0..ind.height() {
        let key = (unit[i].clone(), period[i].clone());
        let (tn, tk, p) = truth.remove(&key).unwrap_or_else(|| panic!("{key:?} has no planted cases"));
        // The counts are the planted labels exactly.
        assert_eq!((n.get(i).unwrap(), k.get(i).unwrap()), (tn, tk), "{key:?}");
        let planted = p / tn as f64;
        cells += 1;
        inside += usize::from(lo.get(i).unwrap() <= planted && planted <= hi.get(i).unwrap());
    }
    assert!(truth.is_empty(), "planted cells with no indicator: {:?}", truth.keys().take(5).collect::<Vec<_>>());
    let coverage = inside as f64 / cells as f64;
    println!("planted unit rates inside their 95% intervals: {inside} of {cells} ({:.1}%)", 100.0 * coverage);
    assert!(cells >= 100, "{cells} unit-period cells");
    assert!(coverage >= 0.90, "coverage {coverage:.3} of {cells} cells");
}

#[test]
fn build_publishes_the_derived_tables_with_their_definitions() {
    let c = clean();
    let m = manifest(&c.register);
    let run = &m["indicators"];
    assert_eq!(run["catalogue_version"], "2026.2");
    assert_eq!(run["threshold"], 5);
    let defs: Vec<String> =
        run["definitions"].as_array().unwrap().iter().map(|d| d[0].as_str().unwrap().to_string()).collect();
    let ind = read_parquet(&c.register.join("indicators.parquet"));
    let mut ids = str_col(&ind, "indicator_id");
    ids.dedup();
    assert_eq!(ids, defs, "every definition has results, in catalogue order");
    for t in utfall_register::DERIVED {
        let df = read_parquet(&c.register.join(t.file_name()));
        assert_eq!(df.schema().as_ref(), &t.schema(), "{}", t.name);
        // A first build has no previous one to revise.
        assert_eq!(df.height() > 0, t.name != "revisions", "{} rows: {}", t.name, df.height());
    }
    // Every target status is one of the three, with a reason when not measurable.
    let ts = read_parquet(&c.register.join("target_status.parquet"));
    let status = str_col(&ts, "status");
    let reason = str_col(&ts, "reason");
    for (s, r) in status.iter().zip(&reason) {
        assert!(matches!(s.as_str(), "met" | "not_met" | "not_measurable"), "{s}");
        assert_eq!(s == "not_measurable", !r.is_empty(), "{s} {r}");
    }
    assert!(status.iter().any(|s| s == "met") && status.iter().any(|s| s != "met"), "{status:?}");
}

#[test]
fn manager_tables_hold_no_small_count() {
    let c = clean();
    let p = read_parquet(&c.register.join("indicators_public.parquet"));
    let full = read_parquet(&c.register.join("indicators.parquet"));
    // Every cell but the months of a split (the shipped catalogue publishes months for the total only).
    let published = full.lazy().filter(col("period_type").neq(lit("month")).or(col("split").eq(lit("total"))));
    assert_eq!(p.height(), published.collect().unwrap().height());
    let suppressed = p.column("suppressed").unwrap().bool().unwrap();
    let n = p.column("n").unwrap().i64().unwrap();
    let k = p.column("numerator").unwrap().i64().unwrap();
    let v = p.column("value").unwrap().f64().unwrap();
    let (mut hidden, mut shown) = (0, 0);
    for i in 0..p.height() {
        if suppressed.get(i).unwrap() {
            hidden += 1;
            // The value is withheld; the population may stay visible, never small.
            assert!(k.get(i).is_none() && v.get(i).is_none(), "row {i} leaks");
            assert!(n.get(i).is_none_or(|n| n >= 5), "row {i}: n {:?}", n.get(i));
        } else {
            shown += 1;
            let n = n.get(i).unwrap();
            assert!(n >= 5, "row {i}: n {n}");
            if let Some(k) = k.get(i) {
                assert!(k >= 5 && n - k >= 5, "row {i}: {k} of {n}");
            }
        }
    }
    assert!(hidden > 0 && shown > 0, "{hidden} suppressed, {shown} shown");
}

#[test]
fn a_new_indicator_is_a_catalogue_edit_and_a_bad_one_changes_nothing() {
    let c = clean();
    let tmp = tempfile::tempdir().unwrap();
    // A copy of the register's current build to work on (the fixture is shared).
    let register = tmp.path().join("register");
    build_with(&c.dir.join("exports"), &c.dir.join("k.key"), &register, &["--no-indicators"]);
    assert!(manifest(&register).get("indicators").is_none());
    let catalogue = tmp.path().join("catalogue.toml");
    let mut text = utfall_indicators::catalogue::DEFAULT_CATALOGUE.to_string();
    text.push_str(
        "\n[[indicator]]\nid = \"not_rereferred_6m_adults\"\nversion = 1\nkind = \"not_rereferred\"\n\
         name_sv = \"Vuxna ej återaktualiserade inom 6 månader\"\nname_en = \"Adults not re-referred within 6 months\"\n\
         window_months = 6\nage = [18, 120]\n",
    );
    std::fs::write(&catalogue, &text).unwrap();
    let out = ok(&["indicators", "--register", s(&register), "--catalogue", s(&catalogue)]);
    assert!(out.contains("24 definitions"), "{out}");
    let ind = read_parquet(&register.join("indicators.parquet"))
        .lazy()
        .filter(col("indicator_id").eq(lit("not_rereferred_6m_adults")).and(col("split").eq(lit("total"))))
        .collect()
        .unwrap();
    assert!(ind.height() > 10);
    assert!(ind.column("version").unwrap().i32().unwrap().iter().all(|v| v == Some(1)));
    // A 6-month window observes closures up to mid-2025; the 12-month one does not.
    assert!(str_col(&ind, "period").contains(&"2025-Q1".to_string()));
    let before = std::fs::read_link(&register).unwrap();
    // A misspelt field: exit 2, file and line named, register untouched.
    std::fs::write(&catalogue, text.replace("window_months = 6", "windw_months = 6")).unwrap();
    let (code, _, err) = run(&["indicators", "--register", s(&register), "--catalogue", s(&catalogue)]);
    assert_eq!(code, 2, "{err}");
    let line = text.lines().position(|l| l == "window_months = 6").unwrap() + 1;
    assert!(err.contains(&format!("catalogue.toml:{line}")) && err.contains("windw_months"), "{err}");
    assert_eq!(std::fs::read_link(&register).unwrap(), before);
}
