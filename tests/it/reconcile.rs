//! Counts reconcile on dirty data, and agree with counts made independently
//! from the export files, the Parquet tables and the synth's fault log.

use std::collections::HashMap;

use utfall_register::TABLES;
use utfall_synth::source;

use crate::support::*;

/// truth/faults.csv: (file, line, column, fault, expected_reason)
fn faults(dir: &std::path::Path) -> Vec<(String, u64, String, String, String)> {
    let text = std::fs::read_to_string(dir.join("truth/faults.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].parse().unwrap(), f[2].to_string(), f[3].to_string(), f[4].to_string())
        })
        .collect()
}

#[test]
fn rows_in_equal_accepted_plus_rejected_plus_merged_for_every_table() {
    let d = dirty();
    let counts = counts(&d.register);
    let q = read_parquet(&d.register.join("quarantine.parquet"));
    let q_tables = str_col(&q, "table");
    let faults = faults(&d.dir);
    assert!(faults.len() > 500, "the dirty rate should inject many faults, got {}", faults.len());
    for t in TABLES {
        let (rows_in, accepted, rejected, merged) = counts[t.name];
        assert_eq!(rows_in, accepted + rejected + merged, "{}: manifest does not reconcile", t.name);
        let file = source::file_of(t.name);
        let bytes = std::fs::read(d.dir.join("exports").join(file)).unwrap();
        let data_lines = bytes.iter().filter(|b| **b == b'\n').count() as u64 - 1;
        assert_eq!(rows_in, data_lines, "{}: rows in vs lines in {file}", t.name);
        let parquet_rows = read_parquet(&d.register.join(t.file_name())).height() as u64;
        assert_eq!(accepted, parquet_rows, "{}: accepted vs Parquet rows", t.name);
        let quarantined = q_tables.iter().filter(|x| *x == t.name).count() as u64;
        assert_eq!(rejected, quarantined, "{}: rejected vs quarantine rows", t.name);
        let duplicates = faults.iter().filter(|f| f.0 == file && f.3 == "Duplicate").count() as u64;
        assert_eq!(merged, duplicates, "{}: merged vs injected exact duplicates", t.name);
        assert!(rejected > 0, "{}: dirty data should reject rows", t.name);
    }
    let m = manifest(&d.register);
    assert_eq!(m["quarantine_rows"].as_u64().unwrap(), q.height() as u64);
    assert_eq!(m["inputs"].as_array().unwrap().len(), TABLES.len());
}

#[test]
fn every_injected_fault_is_quarantined_at_its_line_with_its_reason_and_column() {
    let d = dirty();
    let q = read_parquet(&d.register.join("quarantine.parquet"));
    let (files, lines, reasons, columns) =
        (str_col(&q, "source_file"), u64_col(&q, "line"), str_col(&q, "reason"), str_col(&q, "column"));
    let mut at: HashMap<(String, u64), (String, String)> = HashMap::new();
    for i in 0..q.height() {
        assert!(
            at.insert((files[i].clone(), lines[i]), (reasons[i].clone(), columns[i].clone())).is_none(),
            "one quarantine row per line"
        );
    }
    let mut faulty = std::collections::HashSet::new();
    for (file, line, column, fault, expected) in faults(&d.dir) {
        if expected == "merged" {
            assert!(
                !at.contains_key(&(file.clone(), line)),
                "{file}:{line}: an exact duplicate is merged, not rejected"
            );
            continue;
        }
        let (reason, qcol) = at
            .get(&(file.clone(), line))
            .unwrap_or_else(|| panic!("{file}:{line}: injected {fault} is not in the quarantine"));
        assert_eq!(reason, &expected, "{file}:{line}: {fault}");
        if !column.is_empty() && expected != "date_order" {
            let header =
                source::FILES.iter().find(|f| f.1 == file).unwrap().2.iter().find(|c| c.0 == column).unwrap().1;
            assert_eq!(qcol, header, "{file}:{line}: {fault} names the column");
        }
        faulty.insert((file, line));
    }
    // Everything else in the quarantine is a consequence: a row whose client or case was rejected.
    for (k, (reason, _)) in &at {
        if !faulty.contains(k) {
            assert!(reason == "unknown_reference" || reason == "client_mismatch", "{k:?}: unexpected {reason}");
        }
    }
}
