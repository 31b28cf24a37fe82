//! The command line: help everywhere, usage errors exit 2, the demo runs.

use crate::support::*;

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["demo", "--help"],
        vec!["synth", "--help"],
        vec!["build", "--help"],
        vec!["dashboard", "--help"],
        vec!["key", "--help"],
        vec!["key", "new", "--help"],
    ] {
        let out = ok(&args);
        assert!(out.contains("Usage:"), "{args:?}: {out}");
    }
}

#[test]
fn usage_errors_exit_with_2() {
    assert_eq!(run(&["build"]).0, 2);
    assert_eq!(run(&["no-such-command"]).0, 2);
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&["synth", "--out", s(tmp.path()), "--dirty-rate", "2"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&[
        "build",
        "--input",
        s(tmp.path()),
        "--key",
        s(&tmp.path().join("none.key")),
        "--register",
        s(&tmp.path().join("r")),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("none.key") || err.contains("mapping.toml"), "{err}");
}

#[test]
fn the_demo_runs_and_says_what_to_open_next() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("demo");
    let out = ok(&["demo", "--out", s(&out_dir), "--clients", "300"]);
    assert!(out.contains("Next:"), "{out}");
    for f in ["manifest.json", "clients.parquet", "quarantine.parquet"] {
        assert!(out_dir.join("register").join(f).exists(), "{f}");
    }
    // It ends with the dashboard's path, which it has written.
    let last = out.lines().last().unwrap();
    assert_eq!(std::path::Path::new(last), out_dir.join("dashboard").join("index.html"));
    assert!(out_dir.join("dashboard/index.html").exists() && out_dir.join("dashboard/enheter").is_dir());
    // Running it again replaces the register in place; quiet, it prints only the dashboard's path.
    let quiet = ok(&["demo", "--out", s(&out_dir), "--clients", "300", "--quiet"]);
    assert_eq!(quiet.trim(), last);
}
