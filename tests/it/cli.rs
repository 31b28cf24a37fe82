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

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let d = crate::support::dirty();
    let register = d.register.to_str().unwrap();
    // `utfall query ... | head -1`: one line read, then the pipe is closed.
    let mut child = crate::support::utfall()
        .args(["query", "--register", register, "select * from cases"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with('+'), "{first}");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "nothing on stderr: {stderr}");
    // Every command that prints: here the pipe is closed before the first line.
    for args in [vec!["query", "--register", register, "--list"], vec!["--help"]] {
        let mut child =
            crate::support::utfall().args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}
