//! One disclosure policy (issue 16): with the threshold set to 10, no output
//! made from the register shows a count from 1 to 9: not the managers'
//! Parquet (`indicators_public`, `target_status`), not a dashboard page, not
//! a notebook, not the model card, not a contract report. Every count on a
//! page is marked (`class="count"`, by the report kit), so the check reads
//! each one; it also checks that each output has counts to read.
//!
//! `notebooks/data_quality.md` is left out on purpose: it counts export rows
//! by rejection reason for the analyst who loads the data (`counts=` empty,
//! said at its top), not clients.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::support::{build_with, ok, read_parquet, run, s, u64_col};

const T: u64 = 10;

pub(crate) struct Published {
    pub work: PathBuf,
    pub register: PathBuf,
    _tmp: tempfile::TempDir,
}

pub(crate) fn published() -> &'static Published {
    static P: OnceLock<Published> = OnceLock::new();
    P.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().to_path_buf();
        ok(&["synth", "--out", s(&work), "--clients", "8000", "--seed", "5", "--quiet"]);
        let key = work.join("key");
        ok(&["key", "new", "--out", s(&key), "--quiet"]);
        let register = work.join("register");
        let targets = work.join("targets.toml");
        std::fs::write(&targets, utfall_indicators::targets::DEMO_TARGETS).unwrap();
        build_with(&work.join("exports"), &key, &register, &["--threshold", "10", "--targets", s(&targets), "--quiet"]);
        Published { work, register, _tmp: tmp }
    })
}

/// Every marked count on a page: its text (`..`, `<10` or a number).
fn counts(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("class=\"") {
        rest = &rest[i + 7..];
        let end = rest.find('"').unwrap();
        let is_count = rest[..end].split(' ').any(|c| c == "count");
        rest = &rest[end..];
        if is_count {
            let open = rest.find('>').unwrap();
            let close = rest[open..].find('<').unwrap();
            out.push(rest[open + 1..open + close].trim().to_string());
        }
    }
    out
}

/// No marked count from 1 to 9 on the page, and at least `min` numbers shown.
fn check_page(path: &Path, min: usize) {
    let html = std::fs::read_to_string(path).unwrap();
    let counts = counts(&html);
    let mut numbers = 0;
    for c in &counts {
        match c.as_str() {
            // A null count (no rows) is empty.
            ".." | "&lt;10" | "" => {}
            n => {
                let n: u64 = n.parse().unwrap_or_else(|_| panic!("{}: a count reads '{n}'", path.display()));
                assert!(n >= T, "{}: shows a count of {n} (threshold {T})", path.display());
                numbers += 1;
            }
        }
    }
    assert!(numbers >= min, "{}: only {numbers} counts shown ({} marked)", path.display(), counts.len());
    for attr in html.split("data-n=\"").skip(1) {
        let v = &attr[..attr.find('"').unwrap()];
        if !v.is_empty() {
            assert!(v.parse::<u64>().unwrap() >= T, "{}: data-n={v}", path.display());
        }
    }
    assert!(!html.contains("<script"), "{}: a page runs no script", path.display());
}

#[test]
fn managers_parquet_holds_no_count_below_the_threshold() {
    let p = published();
    let m = crate::support::manifest(&p.register);
    assert_eq!(m["indicators"]["threshold"], 10);
    assert_eq!(m["indicators"]["threshold_overridden"], true);
    let public = read_parquet(&p.register.join("indicators_public.parquet"));
    let n = public.column("n").unwrap().cast(&polars::prelude::DataType::UInt64).unwrap();
    let k = public.column("numerator").unwrap().cast(&polars::prelude::DataType::UInt64).unwrap();
    let (n, k) = (n.u64().unwrap(), k.u64().unwrap());
    let mut shown = 0;
    for (n, k) in n.iter().zip(k.iter()) {
        if let Some(n) = n {
            assert!(n >= T, "indicators_public shows n = {n}");
            shown += 1;
            if let Some(k) = k {
                assert!(k >= T && n - k >= T, "indicators_public shows numerator {k} of {n}");
            }
        }
    }
    assert!(shown > 100, "{shown} published cells");
    let status = read_parquet(&p.register.join("target_status.parquet"));
    assert!(u64_col(&status, "n").iter().all(|&n| n == 0 || n >= T), "target_status n: 0 means withheld (null)");
}

/// The attacker's audit, checked apart from utfall: an outsider's linear
/// programs in SciPy (HiGHS) over `indicators_public` and the public
/// catalogue (`tests/disclosure/outsider.py`) narrow no withheld count below
/// the threshold, and no bound they find contradicts a true value. Each
/// count costs two programs over its component, so the test attacks a seeded
/// sample of 400 of the sensitive ones (the script attacks all without one).
#[test]
fn an_outsiders_linear_programs_narrow_no_withheld_count_below_the_threshold() {
    let p = published();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/disclosure/outsider.py");
    let catalogue = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/indicators/catalogue.toml");
    let out = std::process::Command::new("python3")
        .args([s(&script), s(&p.register), s(&catalogue), "10", "400"])
        .output()
        .expect("python3 with scipy and pyarrow (installed by .ci/run)");
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert!(report["sensitive"].as_u64().unwrap() > 1000, "{report}");
    assert_eq!(report["attacked"], 400, "{report}");
    assert_eq!(report["exposed"], 0, "{report}");
    assert_eq!(report["wrong_bounds"], 0, "{report}");
    assert!(out.status.success());
}

#[test]
fn dashboard_pages_show_no_count_below_the_threshold() {
    let p = published();
    let out = p.work.join("dashboard");
    ok(&["dashboard", "--register", s(&p.register), "--out", s(&out), "--per-unit", "--quiet"]);
    check_page(&out.join("index.html"), 50);
    let units: Vec<_> = std::fs::read_dir(out.join("enheter")).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(units.len() >= 4);
    for page in units {
        check_page(&page, 5);
    }
}

#[test]
fn notebooks_show_no_count_below_the_threshold() {
    let p = published();
    for name in ["monthly_outcome_report", "unit_profile"] {
        let nb = Path::new(env!("CARGO_MANIFEST_DIR")).join("notebooks").join(format!("{name}.md"));
        let out = p.work.join(format!("{name}.html"));
        ok(&["notebook", "run", s(&nb), "--register", s(&p.register), "--out", s(&out), "--quiet"]);
        check_page(&out, 3);
        assert!(std::fs::read_to_string(&out).unwrap().contains("antal under 10"), "the page states the policy");
    }
    // A lower threshold than the build's is refused, naming both.
    let nb = Path::new(env!("CARGO_MANIFEST_DIR")).join("notebooks/unit_profile.md");
    let (code, _, err) =
        run(&["notebook", "run", s(&nb), "--register", s(&p.register), "--threshold", "3", "--out", "/dev/null"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--threshold 3") && err.contains("10"), "{err}");
}

#[test]
fn the_model_card_shows_no_count_below_the_threshold() {
    let p = published();
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/models/risk/specs/rereferral_12m.toml");
    let out = p.work.join("models");
    ok(&["model", "train", "--spec", spec, "--register", s(&p.register), "--out", s(&out), "--quiet"]);
    let dir = std::fs::read_dir(&out).unwrap().next().unwrap().unwrap().path();
    check_page(&dir.join("model_card.html"), 8);
}

#[test]
fn contract_reports_show_no_count_below_the_threshold() {
    let p = published();
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/models/contracts/specs/jobbsteget.toml");
    let out = p.work.join("contract");
    ok(&[
        "contract",
        "evaluate",
        spec,
        "--register",
        s(&p.register),
        "--out",
        s(&out),
        "--bootstrap",
        "50",
        "--method",
        "difference_in_differences",
        "--quiet",
    ]);
    check_page(&out.join("report.html"), 4);
    let sim = p.work.join("simulation");
    ok(&["contract", "simulate", spec, "--register", s(&p.register), "--out", s(&sim), "--quiet"]);
    check_page(&sim.join("simulation.html"), 1);
}
