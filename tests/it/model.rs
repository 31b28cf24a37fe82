//! The risk model on a 100,000-client synthetic municipality (issue 6):
//! it reaches the planted truth's ranking and calibration, no household is
//! on both sides of the split, scores go into the register with drift and
//! override counts, explanations add up, and bad input is refused.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use polars::prelude::*;

use crate::support::{build_with, ok, read_parquet, run, s};

struct Trained {
    work: PathBuf,
    register: PathBuf,
    artefact: PathBuf,
    _tmp: tempfile::TempDir,
}

/// Held by the tests that publish into (or watch) the shared register.
static REGISTER: Mutex<()> = Mutex::new(());

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/risk/specs/rereferral_12m.toml");

/// Synthetic municipality (seed 2021, 100,000 clients, 1% faulty rows),
/// its register and the shipped re-referral model trained on it, once.
fn trained() -> &'static Trained {
    static T: OnceLock<Trained> = OnceLock::new();
    T.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().to_path_buf();
        ok(&["synth", "--out", s(&work), "--clients", "100000", "--dirty-rate", "0.01", "--quiet"]);
        let key = work.join("key");
        ok(&["key", "new", "--out", s(&key), "--quiet"]);
        let register = work.join("register");
        build_with(&work.join("exports"), &key, &register, &["--no-indicators", "--quiet"]);
        let artefact = train_with_design(Path::new(SPEC), &register, &work.join("models"));
        Trained { work, register, artefact, _tmp: tmp }
    })
}

/// `utfall model train` of `spec` on `register` into `out`, with the
/// design exported; the artefact's folder.
fn train_with_design(spec: &Path, register: &Path, out: &Path) -> PathBuf {
    let printed = ok(&[
        "model",
        "train",
        "--spec",
        s(spec),
        "--register",
        s(register),
        "--out",
        s(out),
        "--export-design",
        "--quiet",
    ]);
    let artefact = PathBuf::from(printed.lines().last().unwrap().trim());
    assert!(artefact.join("model.json").exists(), "{printed}");
    artefact
}

fn f64s(df: &DataFrame, name: &str) -> Vec<f64> {
    df.column(name).unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().iter().map(|v| v.unwrap()).collect()
}

fn strs(df: &DataFrame, name: &str) -> Vec<String> {
    df.column(name).unwrap().str().unwrap().iter().map(|v| v.unwrap().to_string()).collect()
}

/// AUC by the rank-sum (Mann-Whitney) formula with mid-ranks for ties.
fn rank_auc(y: &[bool], p: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].partial_cmp(&p[b]).unwrap());
    let mut ranks = vec![0.0; p.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && p[order[j + 1]] == p[order[i]] {
            j += 1;
        }
        for k in i..=j {
            ranks[order[k]] = (i + j) as f64 / 2.0 + 1.0;
        }
        i = j + 1;
    }
    let m = y.iter().filter(|v| **v).count() as f64;
    let n = y.len() as f64 - m;
    let r: f64 = ranks.iter().zip(y).filter(|(_, y)| **y).map(|(r, _)| r).sum();
    (r - m * (m + 1.0) / 2.0) / (m * n)
}

/// The design matrix's rows of one side, with the model's probabilities
/// recomputed from coefficients.parquet (not through the crate's predict).
fn side(t: &Trained, which: &str) -> (DataFrame, Vec<bool>, Vec<f64>) {
    let design = read_parquet(&t.artefact.join("design.parquet"));
    let rows = design.lazy().filter(col("side").eq(lit(which))).collect().unwrap();
    let coef = read_parquet(&t.artefact.join("coefficients.parquet"));
    let names = strs(&coef, "column");
    let values = f64s(&coef, "coefficient");
    assert_eq!(names[0], "(intercept)");
    let mut eta = vec![values[0]; rows.height()];
    for (name, b) in names.iter().zip(&values).skip(1) {
        for (e, x) in eta.iter_mut().zip(f64s(&rows, name)) {
            *e += b * x;
        }
    }
    let p = eta.iter().map(|e| 1.0 / (1.0 + (-e).exp())).collect();
    let y = rows.column("label").unwrap().bool().unwrap().iter().map(|v| v.unwrap()).collect();
    (rows, y, p)
}

fn evaluation(t: &Trained, group: &str) -> DataFrame {
    read_parquet(&t.artefact.join("evaluation.parquet"))
        .lazy()
        .filter(col("set").eq(lit("test")).and(col("group").eq(lit(group))))
        .collect()
        .unwrap()
}

#[test]
fn test_auc_is_within_two_points_of_the_planted_truth_and_calibrated() {
    let t = trained();
    let (rows, y, p) = side(t, "test");
    let model_auc = rank_auc(&y, &p);
    let eval = evaluation(t, "all");
    let reported = f64s(&eval, "auc")[0];
    assert!((model_auc - reported).abs() < 1e-9, "recomputed {model_auc} vs reported {reported}");
    // The planted per-case probabilities (truth/cases.csv) of the same test
    // rows, judged against the same register labels.
    let text = std::fs::read_to_string(t.work.join("truth/cases.csv")).unwrap();
    let truth: HashMap<&str, f64> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0], f[4].parse().unwrap())
        })
        .collect();
    let ids = strs(&rows, "row_id");
    let p_true: Vec<f64> = ids.iter().map(|id| truth[id.as_str()]).collect();
    let truth_auc = rank_auc(&y, &p_true);
    assert!(y.len() > 20_000, "test rows: {}", y.len());
    assert!(truth_auc - model_auc < 0.02, "model AUC {model_auc:.4}, planted truth {truth_auc:.4}");
    let slope = f64s(&eval, "calibration_slope")[0];
    assert!((0.9..=1.1).contains(&slope), "calibration slope {slope}");
    // The model card states its use, version, split and figures.
    let card = std::fs::read_to_string(t.artefact.join("model_card.html")).unwrap();
    let version = t.artefact.file_name().unwrap().to_str().unwrap();
    for needle in [
        "Advisory only",
        "Prediction is not an effect",
        version,
        "whose outcome was known by 2023-12-31",
        "no household is in both sets",
        &format!("{reported:.3} ("),
        "Label caveats",
        "Known limits",
        "role=\"img\"",
    ] {
        assert!(card.contains(needle), "the model card lacks {needle:?}");
    }
    // The evaluation's rows and positives are the design's test rows.
    assert_eq!(f64s(&eval, "n")[0] as usize, y.len());
    assert_eq!(f64s(&eval, "positives")[0] as usize, y.iter().filter(|v| **v).count());
}

#[test]
fn no_household_is_on_both_sides_and_training_labels_predate_the_test() {
    let t = trained();
    let design = read_parquet(&t.artefact.join("design.parquet"));
    let sides = strs(&design, "side");
    let households = strs(&design, "household_id");
    let train: HashSet<&str> =
        households.iter().zip(&sides).filter(|(_, s)| *s == "train").map(|(h, _)| h.as_str()).collect();
    let test: HashSet<&str> =
        households.iter().zip(&sides).filter(|(_, s)| *s == "test").map(|(h, _)| h.as_str()).collect();
    assert!(train.len() > 10_000 && test.len() > 10_000);
    assert!(train.is_disjoint(&test), "{} households on both sides", train.intersection(&test).count());
    // The grouping did something: households with rows on both sides of the time split existed.
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.artefact.join("model.json")).unwrap()).unwrap();
    assert!(model["split"]["households_assigned"].as_u64().unwrap() > 1000, "{}", model["split"]);
    // Time: training rows closed at least 12 months before test_from, test rows on or after it.
    let test_from = model["split"]["test_from"].as_str().unwrap().to_string();
    let cases = read_parquet(&t.register.join("cases.parquet"));
    let closed: HashMap<String, String> =
        strs(&cases.clone().lazy().filter(col("closed").is_not_null()).collect().unwrap(), "case_id")
            .into_iter()
            .zip(
                cases
                    .lazy()
                    .filter(col("closed").is_not_null())
                    .select([col("closed").cast(DataType::String)])
                    .collect()
                    .unwrap()
                    .column("closed")
                    .unwrap()
                    .str()
                    .unwrap()
                    .iter()
                    .map(|v| v.unwrap().to_string()),
            )
            .collect();
    let from = chrono::NaiveDate::parse_from_str(&test_from, "%Y-%m-%d").unwrap();
    let known_by = (from - chrono::Months::new(12)).to_string();
    for (id, side) in strs(&design, "row_id").iter().zip(&sides) {
        let c = &closed[id];
        if side == "train" {
            assert!(*c <= known_by, "{id} closed {c}, trained though its label was unknown at {known_by}");
        } else {
            assert!(*c >= test_from, "{id} closed {c} before the test period {test_from}");
        }
    }
}

fn query(register: &Path, sql: &str) -> String {
    ok(&["query", "--register", s(register), "--format", "csv", sql])
}

#[test]
fn scores_drift_and_overrides_go_into_the_register_and_explanations_add_up() {
    let t = trained();
    let _guard = REGISTER.lock().unwrap_or_else(|e| e.into_inner());
    let printed = ok(&["model", "score", "--model", s(&t.artefact), "--register", s(&t.register)]);
    assert!(printed.contains("advisory"), "{printed}");
    // Every closed case whose 12 months have not passed (closed after 2024-12-31) is scored.
    let expected = query(&t.register, "SELECT count(*) AS n FROM cases WHERE closed > DATE '2024-12-31'");
    let scored = query(&t.register, "SELECT count(*) AS n FROM scores");
    assert_eq!(scored, expected);
    let version =
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(t.artefact.join("model.json")).unwrap())
            .unwrap()["version"]
            .as_str()
            .unwrap()
            .to_string();
    assert_eq!(query(&t.register, "SELECT DISTINCT model_version FROM scores").lines().nth(1).unwrap(), version);
    // Overrides reconcile with the scores, per unit.
    let from_scores = query(
        &t.register,
        "SELECT unit, count(*) AS scored, sum(CASE WHEN band = 'high' THEN 1 ELSE 0 END) AS high, \
         sum(CASE WHEN band = 'high' AND NOT support THEN 1 ELSE 0 END) AS hw, \
         sum(CASE WHEN band = 'low' THEN 1 ELSE 0 END) AS low, \
         sum(CASE WHEN band = 'low' AND support THEN 1 ELSE 0 END) AS lw FROM scores GROUP BY unit ORDER BY unit",
    );
    let table = query(
        &t.register,
        "SELECT unit, scored, high, high_without_support AS hw, low, low_with_support AS lw FROM score_overrides ORDER BY unit",
    );
    assert_eq!(from_scores, table);
    assert!(table.lines().count() > 5, "{table}");
    // Support is a granted intervention decided in the case by the closure.
    let mismatched = query(
        &t.register,
        "SELECT count(*) AS n FROM scores s LEFT JOIN (SELECT s2.row_id, true AS has FROM scores s2 \
         JOIN interventions i ON i.case_id = s2.case_id AND i.granted AND i.decided <= s2.at GROUP BY s2.row_id) g \
         ON g.row_id = s.row_id WHERE s.support <> (g.has IS NOT NULL)",
    );
    assert_eq!(mismatched.lines().nth(1), Some("0"), "{mismatched}");
    // Drift: every raw feature column and the score.
    let drift = query(&t.register, "SELECT variable, psi, status FROM score_drift ORDER BY variable");
    assert!(
        drift.contains("\nscore,") && drift.contains("\nprior_cases,") && drift.contains("\ncase_unit,"),
        "{drift}"
    );
    // Explanations: the intercept plus the contributions is the score's log-odds.
    let client = query(&t.register, "SELECT client_id FROM scores ORDER BY score DESC LIMIT 1");
    let client = client.lines().nth(1).unwrap();
    let a = utfall_risk::Artefact::read(&t.artefact).unwrap();
    let explained = utfall_risk::score::explain(&a, &t.register, client).unwrap();
    assert!(!explained.is_empty());
    for e in &explained {
        let sum: f64 = e.contributions.iter().map(|c| c.2).sum();
        let logit = (e.score / (1.0 - e.score)).ln();
        assert!((e.baseline + sum - logit).abs() < 1e-9, "{} + {sum} vs {logit}", e.baseline);
    }
    let shown = ok(&["model", "explain", "--model", s(&t.artefact), "--register", s(&t.register), "--client", client]);
    assert!(
        shown.contains(&explained[0].case_id) && shown.contains("contribution") && shown.contains("a person decides"),
        "{shown}"
    );
    // No personnummer in the artefact, the model card, the scores or what explain prints.
    let numbers = crate::privacy::all_numbers(&t.work.join("exports"));
    let mut scanned = 0;
    crate::privacy::scan(&t.artefact, &numbers, &mut scanned);
    let build = std::fs::canonicalize(&t.register).unwrap();
    for table in ["scores", "score_drift", "score_overrides"] {
        let file = build.join(format!("{table}.parquet"));
        let one = tempfile::tempdir().unwrap();
        std::fs::copy(&file, one.path().join(format!("{table}.parquet"))).unwrap();
        crate::privacy::scan(one.path(), &numbers, &mut scanned);
    }
    assert!(scanned >= 10, "{scanned}");
    assert!(crate::privacy::leaks(&shown, &numbers).is_none());
    // An unknown client is a usage error.
    let (code, _, err) =
        run(&["model", "explain", "--model", s(&t.artefact), "--register", s(&t.register), "--client", "nobody"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn bad_specs_and_edited_artefacts_are_refused_without_touching_the_register() {
    let t = trained();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(SPEC).unwrap().replace("table = \"contacts\"", "table = \"kontakter\""),
    )
    .unwrap();
    let (code, _, err) =
        run(&["model", "train", "--spec", s(&bad), "--register", s(&t.register), "--out", s(dir.path())]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.toml: feature 'log_contacts'.table") && err.contains("no table 'kontakter'"), "{err}");
    // An artefact edited by hand no longer matches its version hash.
    let copy = dir.path().join("edited");
    std::fs::create_dir(&copy).unwrap();
    let text = std::fs::read_to_string(t.artefact.join("model.json")).unwrap();
    let edited = text.replacen("\"high\": 0.55", "\"high\": 0.95", 1);
    assert_ne!(text, edited);
    std::fs::write(copy.join("model.json"), edited).unwrap();
    let _guard = REGISTER.lock().unwrap_or_else(|e| e.into_inner());
    let before = std::fs::read_link(&t.register).unwrap();
    let (code, _, err) = run(&["model", "score", "--model", s(&copy), "--register", s(&t.register)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not match its version hash"), "{err}");
    assert_eq!(std::fs::read_link(&t.register).unwrap(), before);
}

/// `row_id -> value` from a two-column CSV answer.
fn csv_map(text: &str) -> HashMap<String, f64> {
    text.lines().skip(1).map(|l| l.split_once(',').unwrap()).map(|(k, v)| (k.to_string(), v.parse().unwrap())).collect()
}

#[test]
fn labels_and_features_equal_an_independent_sql_computation() {
    let t = trained();
    // prior_cases of every design row (un-standardised with the stored mean
    // and sd) against SQL: the client's cases in the same area opened before, capped at 3.
    let design = read_parquet(&t.artefact.join("design.parquet"));
    let coef = read_parquet(&t.artefact.join("coefficients.parquet"));
    let k = strs(&coef, "column").iter().position(|c| c == "prior_cases").unwrap();
    let (mean, sd) = (f64s(&coef, "mean")[k], f64s(&coef, "sd")[k]);
    let expected = csv_map(&query(
        &t.register,
        "SELECT c.case_id, least(3, count(d.case_id)) AS prior FROM cases c LEFT JOIN cases d \
         ON d.client_id = c.client_id AND d.area = c.area AND d.opened < c.opened \
         WHERE c.closed IS NOT NULL GROUP BY c.case_id",
    ));
    let ids = strs(&design, "row_id");
    for (id, x) in ids.iter().zip(f64s(&design, "prior_cases")) {
        assert!((x * sd + mean - expected[id]).abs() < 1e-9, "{id}: {} vs {}", x * sd + mean, expected[id]);
    }
    // The second outcome: a household-year's label is 10 or more months with
    // support in the next year, by SQL over the payments.
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/models/risk/specs/long_term_assistance.toml");
    let artefact = train_with_design(Path::new(spec), &t.register, &t.work.join("models-lta"));
    let design = read_parquet(&artefact.join("design.parquet"));
    let expected = csv_map(&query(
        &t.register,
        "WITH y AS (SELECT household_id, date_part('year', month) AS year, count(DISTINCT month) AS months \
         FROM payments GROUP BY 1, 2) \
         SELECT a.household_id || ':' || CAST(CAST(a.year AS INT) AS VARCHAR) AS row_id, \
         CASE WHEN coalesce(b.months, 0) >= 10 THEN 1 ELSE 0 END AS label \
         FROM y a LEFT JOIN y b ON b.household_id = a.household_id AND b.year = a.year + 1 WHERE a.year <= 2024",
    ));
    let labels: Vec<bool> = design.column("label").unwrap().bool().unwrap().iter().map(|v| v.unwrap()).collect();
    let ids = strs(&design, "row_id");
    assert!(ids.len() > 10_000 && labels.iter().any(|v| *v), "{} rows", ids.len());
    for (id, y) in ids.iter().zip(&labels) {
        assert_eq!(expected[id] == 1.0, *y, "{id}");
    }
}

#[test]
fn the_same_spec_on_the_same_register_gives_the_same_version() {
    let t = trained();
    let again = t.work.join("models-again");
    let printed = ok(&["model", "train", "--spec", SPEC, "--register", s(&t.register), "--out", s(&again), "--quiet"]);
    let dir = PathBuf::from(printed.lines().last().unwrap().trim());
    // Unless a scoring run has published a new build meanwhile (its manifest is hashed).
    let _guard = REGISTER.lock().unwrap_or_else(|e| e.into_inner());
    let first: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.artefact.join("model.json")).unwrap()).unwrap();
    let second: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("model.json")).unwrap()).unwrap();
    if first["register_build"] == second["register_build"] {
        assert_eq!(dir.file_name(), t.artefact.file_name());
    }
    assert_eq!(first["fitted"], second["fitted"]);
    assert_eq!(first["headline"], second["headline"]);
}

#[test]
fn a_split_below_the_specs_minimums_stops_training_or_warns_at_the_top_of_the_card() {
    // The 8,000-client register of the disclosure tests; a spec asking for
    // more test rows than it has.
    let p = crate::disclosure::published();
    let dir = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(SPEC).unwrap().replace("seed = 1\n", "seed = 1\nmin_rows = 100000\n");
    let path = dir.path().join("strict.toml");
    std::fs::write(&path, spec).unwrap();
    let out = dir.path().join("models");
    let args = ["model", "train", "--spec", s(&path), "--register", s(&p.register), "--out", s(&out)];
    let (code, _, err) = run(&args);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("split.min_rows 100000") && err.contains("split.test_from"), "says what to change: {err}");
    assert!(err.contains("--allow-weak-split"), "{err}");
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(), "no artefact");
    // Insisting: the card carries the warning at its top.
    let mut insist = args.to_vec();
    insist.extend(["--allow-weak-split", "--quiet"]);
    let printed = ok(&insist);
    let artefact = PathBuf::from(printed.lines().last().unwrap().trim());
    let card = std::fs::read_to_string(artefact.join("model_card.html")).unwrap();
    let warning = card.find("trained with --allow-weak-split").expect("the warning");
    assert!(warning < card.find("<h1>").unwrap(), "at the top");
    // The split checks by hand: 99.7% positives in the test set against 30% in training.
    let shipped = utfall_risk::spec::Spec::load(Path::new(SPEC)).unwrap();
    let train: Vec<bool> = (0..1000).map(|i| i % 10 < 3).collect();
    let test: Vec<bool> = (0..875).map(|i| i >= 3).collect();
    let problems = utfall_risk::split_problems(&shipped, &train, &test);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("3 negatives") && problems[1].contains("99.7% of the test set"), "{problems:?}");
}

#[test]
fn a_group_written_in_the_definition_language_is_evaluated_and_on_the_card() {
    // The 8,000-client register of the disclosure tests, and the shipped spec
    // with one more group: clients with a payment in the 12 months before the
    // case closed (the prediction moment).
    let p = crate::disclosure::published();
    let dir = tempfile::tempdir().unwrap();
    let group =
        "\n[[group]]\nname = \"on_support\"\ntable = \"payments\"\naggregate = \"any\"\nwindow = \"[-12m, 0)\"\n";
    let path = dir.path().join("grouped.toml");
    std::fs::write(&path, format!("{}{group}", std::fs::read_to_string(SPEC).unwrap())).unwrap();
    let out = dir.path().join("models");
    let printed = ok(&[
        "model",
        "train",
        "--spec",
        s(&path),
        "--register",
        s(&p.register),
        "--out",
        s(&out),
        "--export-design",
        "--allow-weak-split",
        "--quiet",
    ]);
    let artefact = PathBuf::from(printed.lines().last().unwrap().trim());
    let eval = read_parquet(&artefact.join("evaluation.parquet"))
        .lazy()
        .filter(col("set").eq(lit("test")).and(col("group").eq(lit("on_support"))))
        .collect()
        .unwrap();
    let levels = strs(&eval, "level");
    let n: Vec<i64> =
        eval.column("n").unwrap().cast(&DataType::Int64).unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(levels, ["false", "true"]);
    // The same by hand: the test rows (closed cases) whose client has a payment
    // month in [closed - 12 months, closed).
    let design =
        read_parquet(&artefact.join("design.parquet")).lazy().filter(col("side").eq(lit("test"))).collect().unwrap();
    let cases = read_parquet(&p.register.join("cases.parquet"));
    let closed: HashMap<String, (String, chrono::NaiveDate)> = strs(&cases, "case_id")
        .into_iter()
        .zip(strs(&cases, "client_id"))
        .zip(crate::support::date_col(&cases, "closed"))
        .filter_map(|((case, client), c)| c.map(|c| (case, (client, c))))
        .collect();
    let pay = read_parquet(&p.register.join("payments.parquet"));
    let mut months: HashMap<String, Vec<chrono::NaiveDate>> = HashMap::new();
    for (client, m) in strs(&pay, "client_id").into_iter().zip(crate::support::date_col(&pay, "month")) {
        months.entry(client).or_default().push(m.unwrap());
    }
    let on_support = strs(&design, "row_id")
        .iter()
        .filter(|row| {
            let (client, at) = &closed[*row];
            let from = *at - chrono::Months::new(12);
            months.get(client).is_some_and(|ms| ms.iter().any(|m| *m >= from && m < at))
        })
        .count() as i64;
    assert_eq!(n, [design.height() as i64 - on_support, on_support]);
    assert!(on_support > 0 && on_support < design.height() as i64);
    let card = std::fs::read_to_string(artefact.join("model_card.html")).unwrap();
    assert!(card.contains("on_support"), "the card's group table");
    // A group that looks past the prediction moment is refused, by field.
    let peek = dir.path().join("peek.toml");
    std::fs::write(&peek, std::fs::read_to_string(&path).unwrap().replace("[-12m, 0)", "[-12m, 3m)")).unwrap();
    let (code, _, err) = run(&["model", "train", "--spec", s(&peek), "--register", s(&p.register), "--out", s(&out)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("variable 'on_support'.window") && err.contains("reaches past the index date"), "{err}");
}

/// Issue 17's leakage tests, with a feature written in the definition
/// language (`[[feature]]`: the case's contacts in the 30 days up to the
/// prediction moment). A future-only signal is planted in the exports: a
/// phone contact three days after closure in every case whose client comes
/// back (the synthetic truth), and only there. As a feature it would all but
/// give the label away; read as of the prediction moment it is never seen,
/// so the model trained on the register with the signal is the model trained
/// without it, to the last digit of its test AUC.
#[test]
fn a_feature_in_the_definition_language_trains_and_a_future_only_signal_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    ok(&["synth", "--out", s(work), "--clients", "6000", "--seed", "5", "--dirty-rate", "0", "--quiet"]);
    let key = work.join("key");
    ok(&["key", "new", "--out", s(&key), "--quiet"]);
    let exports = work.join("exports");
    let clean = work.join("clean");
    build_with(&exports, &key, &clean, &["--no-indicators", "--quiet"]);
    // The plant: one contact 3 days after closure for each re-referred case.
    let truth = std::fs::read_to_string(work.join("truth/cases.csv")).unwrap();
    let back: HashMap<String, chrono::NaiveDate> = truth
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[5] == "1").then(|| (f[0].to_string(), f[3].parse::<chrono::NaiveDate>().unwrap()))
        })
        .collect();
    let cases = std::fs::read_to_string(exports.join("arenden.csv")).unwrap();
    let header: Vec<&str> = cases.lines().next().unwrap().split(';').collect();
    let (id_at, pnr_at) = (
        header.iter().position(|h| *h == "Ärendenr").unwrap(),
        header.iter().position(|h| *h == "Personnummer").unwrap(),
    );
    let as_of = chrono::NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
    let mut planted = String::new();
    for line in cases.lines().skip(1) {
        let f: Vec<&str> = line.split(';').collect();
        if let Some(closed) = back.get(f[id_at]) {
            let day = *closed + chrono::Duration::days(3);
            if day <= as_of {
                planted.push_str(&format!("KX{};{};{};{day};Telefon;\n", f[id_at], f[pnr_at], f[id_at]));
            }
        }
    }
    assert!(planted.lines().count() > 100, "{} planted", planted.lines().count());
    let contacts = exports.join("kontakter.csv");
    let mut text = std::fs::read_to_string(&contacts).unwrap();
    text.push_str(&planted);
    std::fs::write(&contacts, text).unwrap();
    let signal = work.join("signal");
    build_with(&exports, &key, &signal, &["--no-indicators", "--quiet"]);
    let feature = "\n[[feature]]\nname = \"contacts_30d\"\ntable = \"contacts\"\naggregate = \"count\"\n\
                   window = \"[-30d, 0]\"\nby = \"case\"\n";
    let spec = work.join("with_feature.toml");
    std::fs::write(&spec, format!("{}{feature}", std::fs::read_to_string(SPEC).unwrap())).unwrap();
    let train = |register: &Path, out: &str| {
        let printed = ok(&[
            "model",
            "train",
            "--spec",
            s(&spec),
            "--register",
            s(register),
            "--out",
            s(&work.join(out)),
            "--export-design",
            "--allow-weak-split",
            "--quiet",
        ]);
        PathBuf::from(printed.lines().last().unwrap().trim())
    };
    let (a, b) = (train(&clean, "clean-models"), train(&signal, "signal-models"));
    let overall = |artefact: &Path| {
        let e = read_parquet(&artefact.join("evaluation.parquet"))
            .lazy()
            .filter(col("set").eq(lit("test")).and(col("group").eq(lit("all"))))
            .collect()
            .unwrap();
        f64s(&e, "auc")[0]
    };
    let (auc_clean, auc_signal) = (overall(&a), overall(&b));
    assert_eq!(auc_clean, auc_signal, "the future-only signal moved the test AUC");
    let coefficients = |artefact: &Path| f64s(&read_parquet(&artefact.join("coefficients.parquet")), "coefficient");
    assert_eq!(coefficients(&a), coefficients(&b));
    // The feature is in the design and on the card, with its definition.
    let design = read_parquet(&b.join("design.parquet"));
    assert!(f64s(&design, "contacts_30d").iter().any(|x| *x != 0.0));
    let card = std::fs::read_to_string(b.join("model_card.html")).unwrap();
    assert!(card.contains("contacts_30d") && card.contains("count of contacts"), "the card's feature table");
    // What the signal would have given away: a contact after the prediction
    // moment marks the test rows that come back, by SQL over the register.
    let test_rows = design.lazy().filter(col("side").eq(lit("test"))).collect().unwrap();
    let after: HashSet<String> = query(
        &signal,
        "SELECT DISTINCT ca.case_id FROM cases ca JOIN contacts co ON co.case_id = ca.case_id WHERE co.date > ca.closed",
    )
    .lines()
    .skip(1)
    .map(str::to_string)
    .collect();
    let y: Vec<bool> = test_rows.column("label").unwrap().bool().unwrap().iter().map(|v| v.unwrap()).collect();
    let leak: Vec<f64> = strs(&test_rows, "row_id").iter().map(|r| f64::from(u8::from(after.contains(r)))).collect();
    let leaked_auc = rank_auc(&y, &leak);
    assert!(leaked_auc > 0.95 && auc_signal < 0.85, "leaked {leaked_auc:.3}, model {auc_signal:.3}");
    // The artefact keeps the feature's definition: scoring computes it again.
    let scored = ok(&["model", "score", "--model", s(&b), "--register", s(&signal)]);
    assert!(scored.contains("scored ") && scored.contains("advisory"), "{scored}");
    // A feature that looks past the prediction moment is refused, by field.
    let peek = work.join("peek.toml");
    std::fs::write(&peek, std::fs::read_to_string(&spec).unwrap().replace("[-30d, 0]", "[-30d, 30d]")).unwrap();
    let (code, _, err) = run(&["model", "train", "--spec", s(&peek), "--register", s(&signal), "--out", s(work)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("feature 'contacts_30d'.window") && err.contains("reaches past the index date"), "{err}");
    // And one that reads an excluded attribute.
    let sex = work.join("sex.toml");
    let by_sex =
        "\n[[feature]]\nname = \"female\"\ntable = \"clients\"\naggregate = \"any\"\nwhere = { sex = \"F\" }\n";
    std::fs::write(&sex, format!("{}{by_sex}", std::fs::read_to_string(SPEC).unwrap())).unwrap();
    let (code, _, err) = run(&["model", "train", "--spec", s(&sex), "--register", s(&signal), "--out", s(work)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("feature 'female'") && err.contains("'sex', which `excluded` rules out"), "{err}");
}

/// The shipped specs' features and labels are written in the definition
/// language; the compiled catalogue and labels they replace are kept as the
/// check: on every row of both outcomes (trained on and scored), each
/// column the spec computes equals the catalogue's, to the last bit, and
/// each row is observable and labelled alike.
#[test]
fn the_shipped_specs_features_and_labels_in_the_language_equal_the_compiled_ones_column_by_column() {
    use utfall_risk::{Build, Population, feature_frame, spec::Spec};
    let t = trained();
    let _guard = REGISTER.lock().unwrap_or_else(|e| e.into_inner());
    let build = Build::open(&t.register).unwrap();
    // (the catalogue's column, the spec's feature)
    let same = |a: &str| (a.to_string(), a.to_string());
    let mut pairs: Vec<(String, String)> = [
        "prior_cases",
        "planned_end",
        "unplanned_end",
        "granted",
        "denied",
        "school_attendance",
        "employment",
        "baseline_severity",
        "household_cases",
        "assistance_months",
        "case_open",
        "log_contacts",
        "log_case_days",
    ]
    .into_iter()
    .map(same)
    .collect();
    pairs.push(("unit".into(), "case_unit".into()));
    pairs.push(("age_band".into(), "age".into()));
    let names = |list: &[&str]| list.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let catalogue = [
        (
            "rereferral_12m.toml",
            names(&[
                "unit",
                "age_band",
                "prior_cases",
                "intervention_end",
                "intervention_decision",
                "school_attendance",
                "employment_at_exit",
                "baseline_severity",
                "household_cases",
                "household_assistance_months",
                "contacts",
                "case_days",
            ]),
        ),
        (
            "long_term_assistance.toml",
            names(&[
                "unit",
                "age_band",
                "prior_cases",
                "intervention_decision",
                "employment_at_exit",
                "household_cases",
                "household_assistance_months",
                "case_open",
                "contacts",
                "case_days",
            ]),
        ),
    ];
    let mut informative = HashSet::new();
    for (file, compiled) in catalogue {
        let spec = Spec::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models/risk/specs").join(file)).unwrap();
        assert!(spec.features.is_empty(), "{file} names no compiled feature");
        for population in [Population::Known, Population::Current] {
            let old = feature_frame(&build, spec.unit(), &[], &compiled, &[], population).unwrap();
            let new = feature_frame(&build, spec.unit(), &[], &[], &spec.defined_features, population).unwrap();
            assert_eq!(strs(&old, "row_id"), strs(&new, "row_id"), "{file}: the same rows in the same order");
            assert!(old.height() > 1_000, "{file}: {} rows", old.height());
            let mut compared = 0;
            for (a, b) in &pairs {
                let Ok(theirs) = new.column(b.as_str()) else { continue };
                let ours = old.column(a.as_str()).unwrap_or_else(|_| panic!("{file}: the catalogue's {a}"));
                compared += 1;
                if ours.dtype() == &DataType::String {
                    let text = |c: &Column| c.str().unwrap().iter().map(|v| v.map(str::to_string)).collect::<Vec<_>>();
                    assert_eq!(text(ours), text(theirs), "{file}: {a}");
                    continue;
                }
                let x: Vec<Option<f64>> = ours.cast(&DataType::Float64).unwrap().f64().unwrap().iter().collect();
                let y: Vec<Option<f64>> = theirs.cast(&DataType::Float64).unwrap().f64().unwrap().iter().collect();
                let differ = x.iter().zip(&y).position(|(p, q)| p.map(f64::to_bits) != q.map(f64::to_bits));
                if let Some(i) = differ {
                    panic!("{file}: {a} against {b}, row {}: {:?} against {:?}", strs(&old, "row_id")[i], x[i], y[i]);
                }
                if x.iter().flatten().any(|v| *v != 0.0) {
                    informative.insert(b.clone());
                }
            }
            assert_eq!(compared, spec.defined_features.len(), "{file}: every feature compared");
            // The label written in the language: the same rows observable, the same labels.
            assert!(!spec.labels.is_empty(), "{file} writes its label");
            let labelled = feature_frame(&build, spec.unit(), &spec.labels, &[], &[], population).unwrap();
            assert_eq!(strs(&old, "row_id"), strs(&labelled, "row_id"), "{file}: the same rows by the label");
            for c in ["observable", "label"] {
                let of = |df: &DataFrame| df.column(c).unwrap().bool().unwrap().iter().collect::<Vec<_>>();
                assert_eq!(of(&old), of(&labelled), "{file}: {c}");
            }
            if population == Population::Known {
                let y = old.column("label").unwrap().bool().unwrap();
                assert!(y.sum().unwrap() > 100 && (y.len() as u32 - y.sum().unwrap()) > 100, "{file}: both labels");
            }
        }
    }
    // No column is compared on zeros alone (the text columns: on their levels).
    for (_, b) in &pairs {
        assert!(informative.contains(b) || ["case_unit", "age"].contains(&b.as_str()), "{b} is never non-zero");
    }
}

/// A label written in the definition language on the re-referral model's
/// rows (a report about the client within 12 months of the closure, in any
/// area): the model trains, its card says what it predicts, and every
/// training and test label equals SQL over the register.
#[test]
fn a_label_written_in_the_definition_language_trains_and_equals_sql() {
    let t = trained();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("reported_12m.toml");
    // The shipped spec without its own labels, and a label of its own.
    let shipped = std::fs::read_to_string(SPEC).unwrap();
    let a = shipped.find("# --------------------------------------------------------------- the label").unwrap();
    let b = shipped.find("\n[split]").unwrap();
    let text = format!("{}{}", &shipped[..a], &shipped[b..])
        .replace("name = \"rereferral_12m\"", "name = \"reported_12m\"")
        + "\n[[label]]\nname = \"reported_12m\"\ntable = \"reports\"\naggregate = \"any\"\ndate = \"received\"\nwindow = \"(0, 12m]\"\n";
    std::fs::write(&spec, text).unwrap();
    let artefact = train_with_design(&spec, &t.register, &dir.path().join("models"));
    let card = std::fs::read_to_string(artefact.join("model_card.html")).unwrap();
    assert!(card.contains("the label &quot;reported_12m&quot;: any of reports"), "the card names the label");
    let design = read_parquet(&artefact.join("design.parquet"));
    let expected = csv_map(&query(
        &t.register,
        "SELECT c.case_id, CASE WHEN count(r.report_id) > 0 THEN 1 ELSE 0 END AS reported FROM cases c \
         LEFT JOIN reports r ON r.client_id = c.client_id AND r.received > c.closed \
         AND r.received <= c.closed + INTERVAL '12 months' WHERE c.closed IS NOT NULL GROUP BY c.case_id",
    ));
    let labels: Vec<bool> = design.column("label").unwrap().bool().unwrap().iter().map(|v| v.unwrap()).collect();
    let ids = strs(&design, "row_id");
    assert!(ids.len() > 10_000, "{} rows", ids.len());
    let positives = labels.iter().filter(|v| **v).count();
    assert!(positives > 100 && positives < ids.len() - 100, "{positives} of {}", ids.len());
    for (id, y) in ids.iter().zip(&labels) {
        assert_eq!(expected[id] == 1.0, *y, "{id}");
    }
    // Not the re-referral label: a report in another area counts here.
    let rereferral = read_parquet(&t.artefact.join("design.parquet"));
    let theirs: HashMap<String, bool> = strs(&rereferral, "row_id")
        .into_iter()
        .zip(rereferral.column("label").unwrap().bool().unwrap().iter().map(|v| v.unwrap()))
        .collect();
    assert!(ids.iter().zip(&labels).any(|(id, y)| theirs.get(id).is_some_and(|v| v != y)), "a different label");
}

/// Rows from a cohort's entry: a model predicting, at each report received
/// into a case, another report about the client within 6 months. It trains
/// on the entries whose 6 months have passed, with every label equal to
/// SQL over the register, and scores exactly the entries whose 6 months
/// have not.
#[test]
fn rows_from_a_cohorts_entry_train_on_labels_equal_to_sql_and_score_the_rest() {
    let t = trained();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("report_again.toml");
    let shipped = std::fs::read_to_string(SPEC).unwrap();
    let a = shipped.find("# --------------------------------------------------------------- the label").unwrap();
    let b = shipped.find("\n[split]").unwrap();
    let rows = "\n[rows]\nentry = { table = \"reports\", date = \"received\", every = true }\n\
                \n[[label]]\nname = \"report_again_6m\"\ntable = \"reports\"\naggregate = \"any\"\n\
                date = \"received\"\nwindow = \"(0, 6m]\"\n";
    let text = format!("{}{}", &shipped[..a], &shipped[b..])
        .replace("name = \"rereferral_12m\"", "name = \"report_again_6m\"")
        .replace("outcome = \"rereferral_12m\"\n", "")
        + rows;
    std::fs::write(&spec, text).unwrap();
    let artefact = train_with_design(&spec, &t.register, &dir.path().join("models"));
    let card = std::fs::read_to_string(artefact.join("model_card.html")).unwrap();
    assert!(card.contains("one row per entry of reports into a case"), "the card says what a row is");
    // Each report in a case, once per case and day: another report about
    // the client in the 6 months after it.
    let expected = csv_map(&query(
        &t.register,
        "SELECT r.case_id || ':' || CAST(r.received AS VARCHAR) AS row_id, \
         max(CASE WHEN o.report_id IS NULL THEN 0 ELSE 1 END) AS again FROM reports r \
         JOIN cases c ON c.case_id = r.case_id \
         LEFT JOIN reports o ON o.client_id = r.client_id AND o.received > r.received \
         AND o.received <= r.received + INTERVAL '6 months' GROUP BY 1",
    ));
    let design = read_parquet(&artefact.join("design.parquet"));
    let labels: Vec<bool> = design.column("label").unwrap().bool().unwrap().iter().map(|v| v.unwrap()).collect();
    let ids = strs(&design, "row_id");
    assert!(ids.len() > 10_000 && labels.iter().any(|v| *v) && labels.iter().any(|v| !*v), "{} rows", ids.len());
    for (id, y) in ids.iter().zip(&labels) {
        assert_eq!(expected.get(id).map(|v| *v == 1.0), Some(*y), "{id}");
    }
    // Scored: the entries whose 6 months are not over by the register's
    // date (2025-12-31), one per case and day.
    let _guard = REGISTER.lock().unwrap_or_else(|e| e.into_inner());
    ok(&["model", "score", "--model", s(&artefact), "--register", s(&t.register)]);
    let scored = query(&t.register, "SELECT count(*) AS n FROM scores");
    let due = query(
        &t.register,
        "SELECT count(DISTINCT r.case_id || ':' || CAST(r.received AS VARCHAR)) AS n FROM reports r \
         JOIN cases c ON c.case_id = r.case_id WHERE r.received > DATE '2025-06-30'",
    );
    assert_eq!(scored, due);
    assert!(due.lines().nth(1).unwrap().parse::<u64>().unwrap() > 1_000, "{due}");
}
