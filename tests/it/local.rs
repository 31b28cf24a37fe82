//! Local measures (issue 17): a municipality's own columns, declared in its
//! mapping file, land in the register validated like the national ones (bad
//! values to quarantine, counts reconciling), are listed in the manifest and
//! the build's data dictionary, and can be used in definitions: here as a
//! risk model's feature and as its fairness group.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::support::{build, ok, read_parquet, run, s};

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/risk/specs/rereferral_12m.toml");
const LANGUAGES: [&str; 4] = ["sv", "ar", "so", "other"];

/// Append a column to a `;`-separated export: `value(i)` for its i-th data row.
fn add_column(path: &Path, header: &str, value: impl Fn(usize) -> String) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let mut out = vec![format!("{};{header}", lines.next().unwrap())];
    let mut values = Vec::new();
    for (i, l) in lines.enumerate() {
        let v = value(i);
        out.push(format!("{l};{v}"));
        values.push(v);
    }
    std::fs::write(path, out.join("\n") + "\n").unwrap();
    values
}

struct Local {
    dir: PathBuf,
    register: PathBuf,
    /// The language written on each client row, in file order.
    languages: Vec<String>,
    /// Merit-point rows written that are whole numbers (the others are not counts).
    merits: usize,
    _tmp: tempfile::TempDir,
}

/// A 3,000-client municipality whose exports carry two local columns: the
/// language a client was met in (a code; every 500th row an unknown code)
/// and a case's priority (1-3; every 7th empty, every 400th out of range).
fn local() -> Local {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    ok(&["synth", "--out", s(&dir), "--clients", "3000", "--seed", "21", "--quiet"]);
    let exports = dir.join("exports");
    let languages = add_column(&exports.join("klienter.csv"), "Språk", |i| {
        if i % 500 == 7 { "xx".into() } else { LANGUAGES[(i * 7 + i / 3) % 4].to_string() }
    });
    add_column(&exports.join("arenden.csv"), "Prioritet", |i| match i {
        i if i % 400 == 11 => "9".into(),
        i if i % 7 == 0 => String::new(),
        i => ((i * 5 + i / 11) % 3 + 1).to_string(),
    });
    // A local outcome type: merit points in year 9 for the first clients
    // whose language is valid (every 40th written as a decimal: not a count).
    let clients = std::fs::read_to_string(exports.join("klienter.csv")).unwrap();
    let pnrs: Vec<String> = clients.lines().skip(1).map(|l| l.split(';').next().unwrap().to_string()).collect();
    let mut merit = String::new();
    let mut merits = 0;
    for (i, pnr) in pnrs.iter().enumerate().filter(|(i, _)| languages[*i] != "xx").take(200) {
        let value = if i % 40 == 3 { "12,5".to_string() } else { ((i * 37) % 341).to_string() };
        merit.push_str(&format!("M{i:09};{pnr};;Meritvärde;2024-06-15;{value}\n"));
        merits += usize::from(i % 40 != 3);
    }
    let outcomes = exports.join("utfall.csv");
    let text = std::fs::read_to_string(&outcomes).unwrap();
    std::fs::write(&outcomes, format!("{}{}{merit}", text, if text.ends_with('\n') { "" } else { "\n" })).unwrap();
    let mapping = std::fs::read_to_string(exports.join("mapping.toml"))
        .unwrap()
        .replace("[codes.outcome_type]\n", "[codes.outcome_type]\n\"Meritvärde\" = \"merit_points\"\n")
        .replace("[tables.clients.columns]\n", "[tables.clients.columns]\nlanguage = \"Språk\"\n")
        .replace("[tables.cases.columns]\n", "[tables.cases.columns]\npriority = \"Prioritet\"\n")
        + r#"
[[tables.clients.local]]
name = "language"
type = "code"
codes = ["sv", "ar", "so", "other"]
description = "Language the client was met in"

[[tables.cases.local]]
name = "priority"
type = "int"
min = 1
max = 3
description = "Priority set when the case opened (1 = urgent)"

[[local_codes.outcome_type]]
code = "merit_points"
sv = "Meritvärde"
en = "School merit points in year 9 (0-340)"
domain = "count"
"#;
    std::fs::write(exports.join("mapping.toml"), mapping).unwrap();
    let key = dir.join("k.key");
    ok(&["key", "new", "--out", s(&key), "--quiet"]);
    let register = dir.join("register");
    build(&exports, &key, &register);
    Local { dir, register, languages, merits, _tmp: tmp }
}

fn strs(df: &DataFrame, c: &str) -> Vec<String> {
    df.column(c)
        .unwrap()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap_or("").into())
        .collect()
}

#[test]
fn local_columns_are_validated_kept_described_and_usable_as_a_feature_and_a_fairness_group() {
    let l = local();
    // The clients: every row accepted or quarantined, the unknown codes with
    // their file, line and column; the register's languages are the file's.
    let quarantine = read_parquet(&l.register.join("quarantine.parquet"))
        .lazy()
        .filter(col("column").eq(lit("Språk")))
        .collect()
        .unwrap();
    let bad: Vec<usize> = (0..l.languages.len()).filter(|i| l.languages[*i] == "xx").collect();
    assert!(!bad.is_empty());
    assert_eq!(quarantine.height(), bad.len());
    assert_eq!(strs(&quarantine, "reason"), vec!["unknown_code"; bad.len()]);
    // Line 1 is the header: data row i is on line i + 2.
    let lines: Vec<String> = bad.iter().map(|i| (i + 2).to_string()).collect();
    assert_eq!(strs(&quarantine, "line"), lines);
    assert!(strs(&quarantine, "source_file").iter().all(|f| f.ends_with("klienter.csv")));
    let clients = read_parquet(&l.register.join("clients.parquet"));
    let mut ours: BTreeMap<String, usize> = BTreeMap::new();
    for v in strs(&clients, "language") {
        *ours.entry(v).or_default() += 1;
    }
    let manifest = crate::support::manifest(&l.register);
    let counts = &manifest["tables"][0][1];
    let (rows_in, accepted) = (counts["rows_in"].as_u64().unwrap(), counts["accepted"].as_u64().unwrap());
    assert_eq!(rows_in as usize, l.languages.len());
    assert_eq!(accepted as usize, clients.height());
    // Without other faults every other row is accepted: the file's counts less the bad codes.
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for v in l.languages.iter().filter(|v| *v != "xx") {
        *expected.entry(v.clone()).or_default() += 1;
    }
    assert_eq!(ours, expected);
    let priority = read_parquet(&l.register.join("quarantine.parquet"))
        .lazy()
        .filter(col("column").eq(lit("Prioritet")))
        .collect()
        .unwrap();
    assert!(priority.height() > 0 && strs(&priority, "reason").iter().all(|r| r == "out_of_range"));
    // The manifest and the build's data dictionary list both.
    let declared = &manifest["local_columns"];
    assert_eq!(declared["clients"][0]["name"], "language");
    assert_eq!(declared["cases"][0]["type"], "int");
    let dictionary = std::fs::read_to_string(l.register.join("data-dictionary.md")).unwrap();
    assert!(
        dictionary.contains("| `language` | code: clients.language | no | Language the client was met in (local) |")
    );
    assert!(dictionary.contains("| `priority` | integer 1..3 |") && dictionary.contains("### clients.language"));

    // A model with the priority as a feature and the language as a fairness group.
    let spec = std::fs::read_to_string(SPEC).unwrap()
        + r#"
[[feature]]
name = "priority"
table = "cases"
aggregate = "latest"
column = "priority"
date = "opened"
window = "(-inf, 0]"
by = "case"

[[group]]
name = "language"
table = "clients"
aggregate = "attribute"
column = "language"
"#;
    let path = l.dir.join("local.toml");
    std::fs::write(&path, spec).unwrap();
    let out = l.dir.join("models");
    let printed = ok(&[
        "model",
        "train",
        "--spec",
        s(&path),
        "--register",
        s(&l.register),
        "--out",
        s(&out),
        "--export-design",
        "--allow-weak-split",
        "--quiet",
    ]);
    let artefact = PathBuf::from(printed.lines().last().unwrap().trim());
    // The feature is each case's priority as the register has it,
    // standardised (one value per priority, in its order), missing where
    // the case has none (its missing-value column set).
    let cases = read_parquet(&l.register.join("cases.parquet"));
    let by_case: BTreeMap<String, String> = strs(&cases, "case_id").into_iter().zip(strs(&cases, "priority")).collect();
    let design = read_parquet(&artefact.join("design.parquet"));
    let (rows, values, missing) =
        (strs(&design, "row_id"), strs(&design, "priority"), strs(&design, "priority (missing)"));
    assert!(rows.len() > 500);
    let mut z: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for i in 0..rows.len() {
        z.entry(by_case[&rows[i]].clone()).or_default().insert(format!("{}|{}", values[i], missing[i]));
    }
    assert_eq!(z.keys().collect::<Vec<_>>(), ["", "1", "2", "3"], "{z:?}");
    assert!(z.values().all(|v| v.len() == 1), "one design value per priority: {z:?}");
    let level = |p: &str| -> (f64, f64) {
        let v = z[p].iter().next().unwrap();
        let (a, b) = v.split_once('|').unwrap();
        (a.parse().unwrap(), b.parse().unwrap())
    };
    assert!(level("1").0 < level("2").0 && level("2").0 < level("3").0);
    assert!(level("").1 > level("1").1 && level("1").1 == level("3").1);
    // The group table: every language on the card and in the evaluation, with the test rows' counts.
    let eval = read_parquet(&artefact.join("evaluation.parquet"))
        .lazy()
        .filter(col("set").eq(lit("test")).and(col("group").eq(lit("language"))))
        .sort(["level"], SortMultipleOptions::default())
        .collect()
        .unwrap();
    assert_eq!(strs(&eval, "level"), ["ar", "other", "so", "sv"]);
    let card = std::fs::read_to_string(artefact.join("model_card.html")).unwrap();
    for lang in LANGUAGES {
        assert!(card.contains(&format!("<td>language</td><td>{lang}</td>")), "{lang} on the card");
    }
    assert!(card.contains("latest of cases `priority`"));

    // A definition that reads a local column of a register without it is refused, naming the field.
    let plain = crate::support::dirty();
    let (code, _, err) =
        run(&["model", "train", "--spec", s(&path), "--register", s(&plain.register), "--out", s(&out)]);
    assert!(
        code == 2
            && (err.contains("variable 'language'.column: no column 'language' in clients")
                || err.contains("variable 'priority'.column: no column 'priority' in cases")),
        "{err}"
    );
    // The local outcome type: its rows in the register, the one that is not
    // a count quarantined; listed in the dictionary; a cohort enters on it,
    // and the same cohort on a register without it is refused.
    let merit = read_parquet(&l.register.join("outcomes.parquet"))
        .lazy()
        .filter(col("type").eq(lit("merit_points")))
        .collect()
        .unwrap();
    assert_eq!(merit.height(), l.merits);
    let quarantined = read_parquet(&l.register.join("quarantine.parquet"));
    let domain = strs(&quarantined, "message").iter().filter(|m| m.contains("outcome type 'merit_points'")).count();
    assert_eq!(domain, 200 - l.merits);
    assert!(dictionary.contains("| `merit_points` | Meritvärde | School merit points in year 9 (0-340) (local) |"));
    assert_eq!(manifest["local_codes"]["outcome_type"][0]["domain"], "count");
    let cohort = l.dir.join("merit.toml");
    std::fs::write(&cohort, "[entry]\ntable = \"outcomes\"\nwhere = { type = \"merit_points\" }\n").unwrap();
    let members = l.dir.join("merit.parquet");
    ok(&["cohort", s(&cohort), "--register", s(&l.register), "--out", s(&members)]);
    assert_eq!(read_parquet(&members).height(), l.merits);
    let (code, _, err) = run(&["cohort", s(&cohort), "--register", s(&plain.register), "--out", s(&members)]);
    assert!(code == 2 && err.contains("entry.where.type") && err.contains("merit_points"), "{err}");
    // A declaration that clashes with a national column is refused, naming it.
    let exports = l.dir.join("exports");
    let mapping = std::fs::read_to_string(exports.join("mapping.toml")).unwrap();
    std::fs::write(exports.join("mapping.toml"), mapping.replace("name = \"language\"", "name = \"district\""))
        .unwrap();
    let (code, _, err) = run(&[
        "build",
        "--input",
        s(&exports),
        "--key",
        s(&l.dir.join("k.key")),
        "--register",
        s(&l.dir.join("again")),
        "--quiet",
    ]);
    assert!(code == 2 && err.contains("tables.clients.local[0]") && err.contains("already a column"), "{err}");
}
