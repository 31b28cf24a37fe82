//! Outcome-contract studies (issue 7) on a 20,000-client synthetic
//! municipality: participants and achievements equal an independent SQL
//! computation over the register, payments reconcile with the rate card and
//! its caps, the INDIGO export adds up, nothing personal leaks, the
//! simulation behaves, and specification errors name their field.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use polars::prelude::*;

use crate::support::{build_with, ok, read_parquet, run, s};

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/contracts/specs/jobbsteget.toml");

struct Study {
    work: PathBuf,
    register: PathBuf,
    matched: PathBuf,
    did: PathBuf,
    printed: String,
    _tmp: tempfile::TempDir,
}

fn study() -> &'static Study {
    static S: OnceLock<Study> = OnceLock::new();
    S.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().to_path_buf();
        ok(&["synth", "--out", s(&work), "--clients", "20000", "--seed", "11", "--quiet"]);
        let key = work.join("key");
        ok(&["key", "new", "--out", s(&key), "--quiet"]);
        let register = work.join("register");
        build_with(&work.join("exports"), &key, &register, &["--no-indicators", "--quiet"]);
        let matched = work.join("matched");
        let printed =
            ok(&["contract", "evaluate", SPEC, "--register", s(&register), "--out", s(&matched), "--bootstrap", "199"]);
        let did = work.join("did");
        ok(&[
            "contract",
            "evaluate",
            SPEC,
            "--register",
            s(&register),
            "--out",
            s(&did),
            "--bootstrap",
            "199",
            "--method",
            "difference_in_differences",
            "--quiet",
        ]);
        Study { work, register, matched, did, printed, _tmp: tmp }
    })
}

fn query(register: &Path, sql: &str) -> String {
    ok(&["query", "--register", s(register), "--format", "csv", sql])
}

/// The target group's participants and their first employment match after
/// enrolment, computed in SQL (DataFusion) from the register alone.
const PARTICIPANTS_SQL: &str = "
WITH pm AS (SELECT DISTINCT case_id, month FROM payments),
f AS (SELECT case_id, min(month) AS m0 FROM pm GROUP BY case_id),
spell AS (
  SELECT f.case_id, f.m0 + INTERVAL '2 months' AS idx FROM f JOIN pm ON pm.case_id = f.case_id
  WHERE pm.month <= f.m0 + INTERVAL '2 months' GROUP BY f.case_id, f.m0 HAVING count(*) = 3),
svc AS (
  SELECT case_id, client_id, coalesce(started, decided) AS st FROM interventions
  WHERE type = 'employment_support' AND granted),
e AS (
  SELECT spell.case_id, spell.idx, c.client_id FROM spell
  JOIN cases c ON c.case_id = spell.case_id
  JOIN clients cl ON cl.client_id = c.client_id
  WHERE c.area = 'financial_assistance'
    AND spell.idx BETWEEN DATE '2022-01-01' AND DATE '2023-12-31'
    AND date_part('year', spell.idx) - cl.birth_year BETWEEN 18 AND 64),
earlier AS (SELECT DISTINCT e.case_id FROM e JOIN svc ON svc.client_id = e.client_id AND svc.st < e.idx),
p AS (
  SELECT e.case_id, e.client_id, min(svc.st) AS st FROM e
  JOIN svc ON svc.case_id = e.case_id AND svc.st >= e.idx AND svc.st <= e.idx + INTERVAL '31 days'
  LEFT JOIN earlier ON earlier.case_id = e.case_id
  WHERE earlier.case_id IS NULL
  GROUP BY e.case_id, e.client_id),
entry AS (
  SELECT p.case_id, min(o.observed) AS achieved FROM p
  JOIN outcomes o ON o.client_id = p.client_id AND o.type = 'employment_status' AND o.value >= 1
   AND o.observed > p.st AND o.observed <= p.st + INTERVAL '24 months'
  GROUP BY p.case_id)
";

#[test]
fn participants_and_achievements_equal_sql_over_the_register() {
    let st = study();
    let n = query(&st.register, &format!("{PARTICIPANTS_SQL} SELECT count(*) AS n FROM p"));
    let n: usize = n.lines().nth(1).unwrap().trim().parse().unwrap();
    assert!(n > 300, "{n} participants");
    assert!(
        st.printed.contains(&format!("{n} participants,")),
        "SQL finds {n} participants; utfall printed {}",
        st.printed
    );
    let sql = query(
        &st.register,
        &format!(
            "{PARTICIPANTS_SQL} SELECT case_id, CAST(achieved AS VARCHAR) AS achieved FROM entry ORDER BY case_id"
        ),
    );
    let from_sql: Vec<String> = sql.lines().skip(1).map(str::to_string).collect();
    let outcomes = read_parquet(&st.matched.join("contract_outcomes.parquet"))
        .lazy()
        .filter(col("outcome_metric_id").eq(lit("employment_entry")))
        .select([col("case_id"), col("achieved").cast(DataType::String)])
        .sort(["case_id"], SortMultipleOptions::default())
        .collect()
        .unwrap();
    let ours: Vec<String> = (0..outcomes.height())
        .map(|i| {
            let r = outcomes.get_row(i).unwrap();
            format!("{},{}", r.0[0].get_str().unwrap(), r.0[1].get_str().unwrap())
        })
        .collect();
    assert!(ours.len() > 100, "{} entries", ours.len());
    assert_eq!(ours, from_sql);
}

#[test]
fn payments_follow_the_rate_card_and_its_caps() {
    let st = study();
    let outcomes = read_parquet(&st.matched.join("contract_outcomes.parquet"));
    let payments = read_parquet(&st.matched.join("contract_payments.parquet"));
    let f = |df: &DataFrame, c: &str| -> Vec<f64> {
        df.column(c).unwrap().f64().unwrap().iter().map(|v| v.unwrap_or(0.0)).collect()
    };
    let strs = |df: &DataFrame, c: &str| -> Vec<Option<String>> {
        df.column(c).unwrap().str().unwrap().iter().map(|v| v.map(str::to_string)).collect()
    };
    let paid = f(&outcomes, "paid");
    let price = f(&outcomes, "price");
    let period = strs(&outcomes, "payment_period");
    let client = strs(&outcomes, "client_id");
    // Nothing above its price; nothing outside the periods paid.
    for i in 0..paid.len() {
        assert!(paid[i] <= price[i] + 1e-9 && paid[i] >= 0.0);
        if period[i].is_none() {
            assert_eq!(paid[i], 0.0);
        }
    }
    // Per participant cap 35,000; total cap 9,000,000.
    let mut per: std::collections::HashMap<String, f64> = std::collections::HashMap::new();
    for (c, p) in client.iter().zip(&paid) {
        *per.entry(c.clone().unwrap()).or_default() += p;
    }
    assert!(per.values().all(|v| *v <= 35_000.0 + 1e-9));
    assert!(per.values().any(|v| *v == 35_000.0), "the participant cap binds for someone");
    let total: f64 = paid.iter().sum();
    let gross: f64 = price.iter().zip(&period).filter(|(_, p)| p.is_some()).map(|(x, _)| x).sum();
    assert!(total <= 9_000_000.0 + 1e-6 && total <= gross, "{total} of {gross}");
    // Uncapped, each participant's lines would sum to their prices; capped lines explain the rest.
    let reduced: f64 = price.iter().zip(&paid).zip(&period).filter(|(_, p)| p.is_some()).map(|((x, y), _)| x - y).sum();
    assert!((gross - total - reduced).abs() < 1e-6);
    // The period table sums the lines.
    let ids = strs(&payments, "payment_period");
    let period_paid = f(&payments, "paid");
    for (id, p) in ids.iter().zip(&period_paid) {
        let sum: f64 = period.iter().zip(&paid).filter(|(q, _)| q == &id).map(|(_, x)| x).sum();
        assert!((sum - p).abs() < 1e-6, "{id:?}: {sum} vs {p}");
    }
    let cumulative = f(&payments, "cumulative_paid");
    assert!((cumulative.last().unwrap() - total).abs() < 1e-6);
    // Every achievement is after enrolment and within the 24 months of follow-up.
    let dates = outcomes
        .clone()
        .lazy()
        .select([(col("achieved") - col("enrolled")).dt().total_days(false).alias("days")])
        .collect()
        .unwrap();
    let days: Vec<i64> = dates.column("days").unwrap().i64().unwrap().iter().map(|v| v.unwrap()).collect();
    assert!(days.iter().all(|d| *d > 0 && *d <= 731), "{:?}", days.iter().max());
    // The INDIGO export carries the same totals.
    let indigo: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(st.matched.join("indigo.json")).unwrap()).unwrap();
    let metric_ids: Vec<&str> =
        indigo["outcome_metrics"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(metric_ids, ["employment_entry", "employment_sustained_6m", "off_support_12m"]);
    assert_eq!(indigo["outcome_metrics"][0]["outcome_validation_method"]["value"], "Quasi-experimental study");
    let tx: f64 = indigo["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["money"]["amount"]["value"].as_f64().unwrap())
        .sum();
    assert!((tx - total).abs() < 1e-6);
    let committed: f64 = indigo["outcome_payment_commitments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["total_outcome_payments"]["amount"]["value"].as_f64().unwrap())
        .sum();
    assert!((committed - total).abs() < 1e-6);
    assert_eq!(indigo["outcome_pricings"][2]["price_per_unit"]["amount"]["value"], 10000.0);
}

#[test]
fn effect_estimates_cover_the_planted_effect_and_show_their_diagnostics() {
    let st = study();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(st.work.join("truth/truth.json")).unwrap()).unwrap();
    let planted = truth["contract_programme"]["att_employment_status"].as_f64().unwrap();
    for dir in [&st.matched, &st.did] {
        let e = read_parquet(&dir.join("contract_effect.parquet"));
        let g = |c: &str| e.column(c).unwrap().f64().unwrap().get(0).unwrap();
        let (est, lo, hi) = (g("estimate"), g("ci_low"), g("ci_high"));
        // One data set: the interval is checked for sense (the coverage criterion is the benchmark's).
        assert!(lo < est && est < hi && hi - lo < 0.25, "{est} ({lo}, {hi})");
        assert!((est - planted).abs() < 0.1, "{est} vs planted {planted}");
    }
    // Matching: balance after matching is good on every covariate.
    let b = read_parquet(&st.matched.join("contract_balance.parquet"));
    let after: Vec<f64> = b.column("smd_after").unwrap().f64().unwrap().iter().map(|v| v.unwrap()).collect();
    let before: Vec<f64> = b.column("smd_before").unwrap().f64().unwrap().iter().map(|v| v.unwrap()).collect();
    assert!(after.iter().all(|x| x.abs() < 0.1), "{after:?}");
    // Selection was planted on age and reason: they were imbalanced before.
    assert!(before.iter().any(|x| x.abs() > 0.2), "{before:?}");
    // DiD: the event-time table has every quarter from -4 to 4, 0 at -1, and the report shows the check.
    let et = read_parquet(&st.did.join("contract_event_time.parquet"));
    let q: Vec<i32> = et.column("event_quarter").unwrap().i32().unwrap().iter().map(|v| v.unwrap()).collect();
    assert_eq!(q, (-4..=4).collect::<Vec<_>>());
    assert_eq!(et.column("estimate").unwrap().f64().unwrap().get(3), Some(0.0));
    let html = std::fs::read_to_string(st.did.join("report.html")).unwrap();
    assert!(
        html.contains("Pre-trend check") && html.contains("<svg role=\"img\""),
        "report without its check or chart"
    );
    let html = std::fs::read_to_string(st.matched.join("report.html")).unwrap();
    assert!(html.contains("Balance before and after matching") && html.contains("Common support"));
}

#[test]
fn no_personnummer_in_any_output() {
    let st = study();
    let numbers = crate::privacy::all_numbers(&st.work.join("exports"));
    let mut scanned = 0;
    crate::privacy::scan(&st.matched, &numbers, &mut scanned);
    crate::privacy::scan(&st.did, &numbers, &mut scanned);
    assert!(scanned >= 10, "{scanned} files scanned");
}

#[test]
fn simulation_pays_more_for_larger_effects_and_longer_follow_up() {
    const CAP: f64 = 9_000_000.0;
    let st = study();
    let out = st.work.join("simulation");
    let printed = ok(&["contract", "simulate", SPEC, "--register", s(&st.register), "--out", s(&out)]);
    assert!(printed.contains("expected payments"), "{printed}");
    let t = read_parquet(&out.join("contract_simulation.parquet"));
    assert_eq!(t.height(), 4 * 2 * 2);
    let f =
        |c: &str| -> Vec<f64> { t.column(c).unwrap().f64().unwrap().iter().map(|v| v.unwrap_or(f64::NAN)).collect() };
    let (effect, take_up, mean, p05, p95, loss) =
        (f("effect"), f("take_up"), f("payments_mean"), f("payments_p05"), f("payments_p95"), f("probability_of_loss"));
    let follow: Vec<u32> = t.column("follow_up_months").unwrap().u32().unwrap().iter().map(|v| v.unwrap()).collect();
    for i in 0..t.height() {
        assert!(p05[i] <= mean[i] && mean[i] <= p95[i] && (0.0..=1.0).contains(&loss[i]));
        assert!(p95[i] <= CAP + 1e-6, "the total cap holds");
        // The same follow-up and take-up with a 15-point larger effect pays
        // more, unless the total cap already binds.
        if effect[i] == 0.0 {
            let j = (0..t.height())
                .find(|j| effect[*j] == 0.15 && follow[*j] == follow[i] && take_up[*j] == take_up[i])
                .unwrap();
            assert!(mean[j] > mean[i] || mean[i] >= CAP - 1e-6, "effect 0.15 pays {} vs {} at 0", mean[j], mean[i]);
        }
        // 36 months of follow-up pays at least what 24 months pay (within simulation noise).
        if follow[i] == 24 {
            let j = (0..t.height())
                .find(|j| effect[*j] == effect[i] && follow[*j] == 36 && take_up[*j] == take_up[i])
                .unwrap();
            assert!(mean[j] >= mean[i] * 0.98, "36 months {} vs 24 months {}", mean[j], mean[i]);
        }
    }
    let html = std::fs::read_to_string(out.join("simulation.html")).unwrap();
    assert!(html.contains("<svg role=\"img\""));
}

#[test]
fn specification_and_target_group_errors_exit_2_naming_the_field() {
    let st = study();
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(SPEC).unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("from = 2022-01-01\nto = 2023-12-31", "from = 2030-01-01\nto = 2030-12-31", "`target_group`"),
        (
            "where = { type = \"employment_status\" }\naggregate = \"time_to_event\"",
            "where = { type = \"employed\" }\naggregate = \"time_to_event\"",
            "outcome_metrics[0].where.type",
        ),
        // A covariate that looks past the index date is refused (point-in-time correct).
        ("window = \"[-14m, -2m)\"", "window = \"[-14m, 1m)\"", "variable 'months_on_support_12m'.window"),
        (
            "spell = { by = \"case_id\", months = 3 }",
            "spell = { by = \"case_id\", months = 3 }\nfrom = 2022-01-01",
            "target_group.entry.from",
        ),
        ("cap_per_participant = 35000", "cap_per_participant = 10000", "pricing.cap_per_participant"),
        ("from = 2022-07-01", "from = 2022-06-01", "outcome_payment_periods[1]"),
    ];
    for (from, to, field) in cases {
        assert!(base.contains(from), "{from}");
        let path = dir.path().join("spec.toml");
        std::fs::write(&path, base.replacen(from, to, 1)).unwrap();
        let out = dir.path().join("out");
        let (code, _, err) = run(&["contract", "evaluate", s(&path), "--register", s(&st.register), "--out", s(&out)]);
        assert_eq!(code, 2, "{field}: {err}");
        assert!(err.contains(field), "{field}: {err}");
        assert!(!out.join("report.html").exists());
    }
    let (code, _, err) = run(&["contract", "evaluate", SPEC, "--register", s(&st.register), "--method", "historic"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("historic"), "{err}");
}

#[test]
fn every_report_opens_with_the_plain_two_group_comparison() {
    let st = study();
    for dir in [&st.matched, &st.did] {
        // Independently: the units' post-period means, participants minus comparisons.
        let units = read_parquet(&dir.join("contract_study.parquet"));
        let treated: Vec<bool> = units.column("treated").unwrap().bool().unwrap().iter().map(|v| v.unwrap()).collect();
        let y: Vec<f64> = units.column("y_post").unwrap().f64().unwrap().iter().map(|v| v.unwrap()).collect();
        let mean = |t: bool| {
            let v: Vec<f64> = y.iter().zip(&treated).filter(|(_, x)| **x == t).map(|(y, _)| *y).collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        let e = read_parquet(&dir.join("contract_effect.parquet"));
        let g = |c: &str| e.column(c).unwrap().f64().unwrap().get(0).unwrap();
        let (d, lo, hi) = (g("two_group_difference"), g("two_group_ci_low"), g("two_group_ci_high"));
        assert!((d - (mean(true) - mean(false))).abs() < 1e-12, "{d}");
        assert!(lo < d && d < hi, "{lo} {d} {hi}");
        // Every replicate was used, and the files say so.
        let used = e.column("bootstrap_replicates").unwrap().cast(&DataType::UInt64).unwrap().u64().unwrap().get(0);
        let asked = e.column("bootstrap_requested").unwrap().cast(&DataType::UInt64).unwrap().u64().unwrap().get(0);
        assert_eq!((used, asked), (Some(199), Some(199)));
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        let first = html.find("<h2>Two-group comparison</h2>").expect("the two-group line");
        assert!(first < html.find("<h2>Effect estimate").unwrap(), "it comes first");
        assert!(html.contains("199 of 199 replicates gave an estimate"));
        let indigo: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("indigo.json")).unwrap()).unwrap();
        assert_eq!(indigo["evaluation"]["bootstrap_replicates_used"], 199);
        assert!((indigo["evaluation"]["two_group_comparison"]["difference"].as_f64().unwrap() - d).abs() < 1e-12);
    }
    assert!(st.printed.contains("two-group comparison (unadjusted)"), "{}", st.printed);
    // The placebo is stated beside the main estimate, and never as evidence of parallel trends.
    let html = std::fs::read_to_string(st.did.join("report.html")).unwrap();
    assert!(html.contains("beside the effect estimate"), "placebo beside the estimate");
    assert!(!html.contains("no evidence that the groups' trends differed"));
    // A randomised design's method is the two-group comparison itself.
    let out = st.work.join("two_group");
    ok(&[
        "contract",
        "evaluate",
        SPEC,
        "--register",
        s(&st.register),
        "--out",
        s(&out),
        "--bootstrap",
        "50",
        "--method",
        "two_group_comparison",
        "--quiet",
    ]);
    let e = read_parquet(&out.join("contract_effect.parquet"));
    let g = |c: &str| e.column(c).unwrap().f64().unwrap().get(0).unwrap();
    assert_eq!(g("estimate"), g("two_group_difference"));
}

#[test]
fn a_study_whose_resamples_fail_reports_no_interval_and_says_why() {
    // Target groups so narrow (one month of enrolment, the oldest clients)
    // that many household resamples hold no participant.
    let st = study();
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(SPEC).unwrap();
    assert!(base.contains("age = [18, 64]"));
    let mut refused = 0;
    for age_min in [56, 58, 60, 62] {
        let spec = base
            .replacen("from = 2022-01-01\nto = 2023-12-31", "from = 2022-03-01\nto = 2022-03-31", 1)
            .replacen("age = [18, 64]", &format!("age = [{age_min}, 64]"), 1);
        let path = dir.path().join(format!("thin{age_min}.toml"));
        std::fs::write(&path, spec).unwrap();
        let out = dir.path().join(format!("out{age_min}"));
        let (code, printed, err) = run(&[
            "contract",
            "evaluate",
            s(&path),
            "--register",
            s(&st.register),
            "--out",
            s(&out),
            "--bootstrap",
            "99",
            "--method",
            "difference_in_differences",
        ]);
        match code {
            // Enough replicates: how many, and why the others failed.
            0 => assert!(printed.contains("of 99 bootstrap replicates gave an estimate"), "{printed}"),
            1 => {
                assert!(err.contains("of 99 bootstrap replicates gave an estimate"), "{err}");
                assert!(err.contains("min_replicate_share") && err.contains("without participants"), "{err}");
                assert!(!out.join("report.html").exists(), "no report with an interval from a few resamples");
                refused += 1;
            }
            // No participant at all in so narrow a group.
            _ => assert!(code == 2 && err.contains("field `service`"), "{code}: {err}"),
        }
    }
    assert!(refused > 0, "at least one of the narrow groups is refused");
}

/// Issue 17: Jobbsteget rewritten in the definition language gives what the
/// compiled-in target group, covariates and metrics gave (commit 74c4bc6,
/// the same register and options), to the last digit. The figures were
/// printed by that version; `tests/contracts/same_as_compiled.sh` builds it
/// and compares every output table of every method and the simulation.
#[test]
fn the_rewritten_jobbsteget_gives_the_compiled_in_figures_to_the_last_digit() {
    let st = study();
    let effect = |dir: &Path| {
        let df = read_parquet(&dir.join("contract_effect.parquet"));
        let g = |c: &str| df.column(c).unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().get(0).unwrap();
        ["estimate", "ci_low", "ci_high", "bootstrap_se", "participants", "comparisons", "two_group_difference"].map(g)
    };
    assert_eq!(
        effect(&st.matched),
        [
            0.10909541927981908,
            0.08040429573306557,
            0.1377865428265726,
            0.01463859732784145,
            541.0,
            1151.0,
            0.14262745620754647
        ]
    );
    assert_eq!(
        effect(&st.did),
        [
            0.09062092327227042,
            0.060117992236128834,
            0.12112385430841201,
            0.015563005890284113,
            541.0,
            1151.0,
            0.14262745620754647
        ]
    );
    let payments = read_parquet(&st.matched.join("contract_payments.parquet"));
    let paid: Vec<f64> = payments.column("paid").unwrap().f64().unwrap().into_no_null_iter().collect();
    assert_eq!(paid, [208000.0, 521000.0, 1259000.0, 2002000.0, 1684000.0, 1378000.0, 664000.0, 128000.0]);
    assert_eq!(read_parquet(&st.matched.join("contract_outcomes.parquet")).height(), 946);
}
