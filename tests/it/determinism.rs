//! Same inputs and key give the same register content; same seed the same exports.

use utfall_register::{DERIVED, TABLES};

use crate::support::*;

#[test]
fn two_builds_of_the_same_inputs_and_key_give_identical_tables() {
    let d = dirty();
    let second = d.dir.join("register-again");
    build(&d.dir.join("exports"), &d.key, &second);
    // Entity tables, quarantine, and the derived tables (indicator sums do not
    // depend on the order rows come out of joins).
    let files: Vec<String> = TABLES
        .iter()
        .map(|t| t.file_name())
        .chain(["quarantine.parquet".to_string()])
        // (Revisions compare a build with the one before: neither register has one.)
        .chain(DERIVED.iter().filter(|t| !["target_status", "revisions"].contains(&t.name)).map(|t| t.file_name()))
        .collect();
    for f in files {
        let a = read_parquet(&d.register.join(&f));
        let b = read_parquet(&second.join(&f));
        assert!(a.height() > 0, "{f} is empty");
        assert!(a.equals_missing(&b), "{f} differs between two builds");
    }
    let (ma, mb) = (manifest(&d.register), manifest(&second));
    for k in ["tables", "inputs", "key_id", "schema_version", "data_from", "data_to", "quarantine_rows"] {
        assert_eq!(ma[k], mb[k], "manifest {k}");
    }
    for k in ["catalogue_sha256", "definitions", "tables", "suppressed_primary", "suppressed_complementary"] {
        assert_eq!(ma["indicators"][k], mb["indicators"][k], "manifest indicators.{k}");
    }
    assert_ne!(ma["build_id"], mb["build_id"]);
}

#[test]
fn another_key_gives_other_pseudonyms() {
    let d = dirty();
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("other.key");
    ok(&["key", "new", "--out", s(&key)]);
    let reg = tmp.path().join("register");
    build_with(&d.dir.join("exports"), &key, &reg, &["--no-indicators"]);
    let a = str_col(&read_parquet(&d.register.join("clients.parquet")), "client_id");
    let b = str_col(&read_parquet(&reg.join("clients.parquet")), "client_id");
    assert_eq!(a.len(), b.len());
    let sa: std::collections::HashSet<_> = a.into_iter().collect();
    assert!(b.iter().all(|x| !sa.contains(x)), "pseudonyms must depend on the key");
}

#[test]
fn the_same_seed_gives_byte_identical_exports_and_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for dir in [&a, &b] {
        ok(&["synth", "--out", s(dir), "--clients", "400", "--seed", "99", "--dirty-rate", "0.05"]);
    }
    let mut n = 0;
    for sub in ["exports", "truth"] {
        for e in std::fs::read_dir(a.join(sub)).unwrap() {
            let name = e.unwrap().file_name();
            let (x, y) =
                (std::fs::read(a.join(sub).join(&name)).unwrap(), std::fs::read(b.join(sub).join(&name)).unwrap());
            assert!(x == y, "{sub}/{name:?} differs");
            n += 1;
        }
    }
    assert_eq!(n, 9 + 1 + 3, "9 exports, the mapping and 3 truth files");
    ok(&["synth", "--out", s(&tmp.path().join("c")), "--clients", "400", "--seed", "100"]);
    assert_ne!(
        std::fs::read(a.join("exports/arenden.csv")).unwrap(),
        std::fs::read(tmp.path().join("c/exports/arenden.csv")).unwrap()
    );
}
