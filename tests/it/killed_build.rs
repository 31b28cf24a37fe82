//! A build killed while writing leaves the previous register readable and unchanged.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::*;

fn snapshot(register: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(register)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

fn partial_parquet(builds: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(builds) else { return false };
    entries.flatten().any(|e| {
        e.file_name().to_string_lossy().ends_with(".partial")
            && std::fs::read_dir(e.path())
                .map(|mut d| d.any(|f| f.is_ok_and(|f| f.file_name().to_string_lossy().ends_with(".parquet"))))
                .unwrap_or(false)
    })
}

#[test]
fn killing_a_build_mid_write_leaves_the_previous_register_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let (small, large) = (tmp.path().join("small"), tmp.path().join("large"));
    ok(&["synth", "--out", s(&small), "--clients", "300"]);
    ok(&["synth", "--out", s(&large), "--clients", "30000"]);
    let key = tmp.path().join("k.key");
    ok(&["key", "new", "--out", s(&key)]);
    let register = tmp.path().join("register");
    build(&small.join("exports"), &key, &register);
    let before = snapshot(&register);
    let clients_before = read_parquet(&register.join("clients.parquet")).height();

    let mut child = utfall()
        .args([
            "build",
            "--input",
            s(&large.join("exports")),
            "--key",
            s(&key),
            "--register",
            s(&register),
            "--as-of",
            "2025-12-31",
            "--quiet",
        ])
        .spawn()
        .unwrap();
    let builds = tmp.path().join(".register.builds");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !partial_parquet(&builds) {
        assert!(child.try_wait().unwrap().is_none(), "the build finished before it could be killed mid-write");
        assert!(Instant::now() < deadline, "no Parquet file was ever staged");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "the build was killed, not finished: {status:?}");

    assert_eq!(snapshot(&register), before, "the register changed");
    assert_eq!(read_parquet(&register.join("clients.parquet")).height(), clients_before);
    assert!(partial_parquet(&builds), "the killed build's staging folder is left for the next build to clean");

    // The next build cleans up and publishes (without indicators, for time:
    // they are staged and published by the same step as the tables).
    build_with(&large.join("exports"), &key, &register, &["--no-indicators"]);
    assert!(!partial_parquet(&builds));
    assert!(read_parquet(&register.join("clients.parquet")).height() > clients_before);
}
