//! The one-arrow rule: arrow-rs and parquet come only through DataFusion, so
//! Cargo.lock holds a single version of every arrow-rs crate.

use std::collections::BTreeSet;

#[test]
fn one_arrow_rs_version_in_the_lock_file() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    let mut versions = BTreeSet::new();
    let mut name = "";
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = n.trim_matches('"');
        } else if let Some(v) = line.strip_prefix("version = ")
            && (name == "parquet" || name == "arrow" || name.starts_with("arrow-"))
        {
            versions.insert(v.trim_matches('"').split('.').next().unwrap().to_string());
        }
    }
    assert_eq!(versions.len(), 1, "arrow-rs majors in Cargo.lock: {versions:?}");
}
