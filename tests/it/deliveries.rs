//! Several sources with monthly deliveries (issue 18): which version of a row
//! wins, withdrawals, re-delivered months, gaps, arrival out of order,
//! incomplete deliveries, per-delivery reconciliation, lineage, and an
//! incremental build equal to a full one byte for byte.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::support::*;

const CLIENTS: &str = "personnummer;household_id;district\n";
const CASES: &str = "case_id;personnummer;unit;area;origin;opened;investigation_started;decided;closed\n";
const INTERVENTIONS: &str =
    "intervention_id;personnummer;case_id;type;provider;decided;granted;started;ended;end_reason;cost_sek\n";

/// A municipality with two sources: the case system (clients, cases,
/// interventions decided in-house) and a provider's system (interventions,
/// in its own format: comma-separated, dates as YYYYMMDD).
struct Town {
    tmp: tempfile::TempDir,
}

impl Town {
    fn new() -> Town {
        let t = Town { tmp: tempfile::tempdir().unwrap() };
        ok(&["key", "new", "--out", s(&t.key())]);
        std::fs::create_dir_all(t.source("case")).unwrap();
        std::fs::create_dir_all(t.source("provider")).unwrap();
        std::fs::write(
            t.source("case").join("mapping.toml"),
            "[source]\nname = \"case system\"\ndelimiter = \";\"\n\
             [tables.clients]\nfile = \"clients.csv\"\n\
             [tables.cases]\nfile = \"cases.csv\"\n\
             [tables.interventions]\nfile = \"interventions.csv\"\n",
        )
        .unwrap();
        std::fs::write(
            t.source("provider").join("mapping.toml"),
            "[source]\nname = \"provider\"\ndelimiter = \",\"\ndate_formats = [\"%Y%m%d\"]\n\
             [tables.interventions]\nfile = \"insatser.csv\"\n",
        )
        .unwrap();
        t
    }

    fn key(&self) -> PathBuf {
        self.tmp.path().join("k.key")
    }

    fn source(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn register(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Write a delivery: its files, then its control file (rows and hashes).
    fn deliver(&self, source: &str, id: &str, period: &str, version: u32, files: &[(&str, String)]) {
        let dir = self.source(source).join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let mut control = format!("period = \"{period}\"\nversion = {version}\n");
        for (name, content) in files {
            std::fs::write(dir.join(name), content).unwrap();
            let rows = content.lines().count() - 1;
            let sha = hex::encode(Sha256::digest(content.as_bytes()));
            control.push_str(&format!("[[file]]\nname = \"{name}\"\nrows = {rows}\nsha256 = \"{sha}\"\n"));
        }
        std::fs::write(dir.join("delivery.toml"), control).unwrap();
    }

    /// Build with the case system first, then the provider (unless `sources` says otherwise).
    fn build(&self, register: &str, sources: &[&str], extra: &[&str]) -> (i32, String, String) {
        let reg = self.register(register);
        let specs: Vec<String> = sources.iter().map(|n| format!("{n}={}", self.source(n).display())).collect();
        let key = self.key();
        let mut args = vec!["build", "--key", s(&key)];
        for spec in &specs {
            args.extend(["--source", spec.as_str()]);
        }
        args.extend(["--register", s(&reg), "--as-of", "2025-12-31", "--no-indicators"]);
        args.extend_from_slice(extra);
        run(&args)
    }

    fn build_ok(&self, register: &str, sources: &[&str]) -> String {
        let (code, out, err) = self.build(register, sources, &[]);
        assert_eq!(code, 0, "{out}\n{err}");
        err
    }
}

fn client(p: &str, district: &str) -> String {
    format!("{p};;{district}\n")
}

fn case(id: &str, p: &str, unit: &str, opened: &str) -> String {
    format!("{id};{p};{unit};child_youth;report;{opened};;;\n")
}

fn intervention(id: &str, p: &str, case: &str, provider: &str, decided: &str, cost: &str) -> String {
    format!("{id};{p};{case};family_treatment;{provider};{decided};ja;;;;{cost}\n")
}

fn provided(id: &str, p: &str, case: &str, decided: &str, cost: &str) -> String {
    format!("{id},{p},{case},family_treatment,Ext AB,{decided},ja,,,,{cost}\n")
}

const PROVIDED: &str =
    "intervention_id,personnummer,case_id,type,provider,decided,granted,started,ended,end_reason,cost_sek\n";

/// A table's rows as `key -> record` (register columns joined), from the current build.
fn rows(register: &Path, table: &str, key: &str) -> std::collections::BTreeMap<String, String> {
    let df = read_parquet(&register.join(format!("{table}.parquet")));
    let keys = str_col(&df, key);
    (0..df.height())
        .map(|i| {
            let row = df.get_row(i).unwrap();
            (keys[i].clone(), row.0.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("|"))
        })
        .collect()
}

/// Every delivery's counts reconcile: rows in = accepted + rejected + merged + superseded.
fn assert_reconciles(register: &Path) {
    let m = manifest(register);
    let mut n = 0;
    for src in m["sources"].as_array().unwrap() {
        for d in src["deliveries"].as_array().unwrap() {
            for pair in d["tables"].as_array().unwrap() {
                let c = &pair[1];
                let g = |k: &str| c[k].as_u64().unwrap_or(0);
                assert_eq!(
                    g("rows_in"),
                    g("accepted") + g("rejected") + g("merged") + g("superseded"),
                    "{} {} {}: {c}",
                    src["name"],
                    d["id"],
                    pair[0]
                );
                n += 1;
            }
        }
    }
    assert!(n > 0, "no delivery counted");
}

/// A delivery's counts for one table: (rows_in, accepted, rejected, merged, superseded, withdrawn).
fn delivery_counts(register: &Path, source: &str, delivery: &str, table: &str) -> (u64, u64, u64, u64, u64, u64) {
    let m = manifest(register);
    let src = m["sources"].as_array().unwrap().iter().find(|x| x["name"] == source).unwrap().clone();
    let d = src["deliveries"].as_array().unwrap().iter().find(|x| x["id"] == delivery).unwrap().clone();
    let c = d["tables"].as_array().unwrap().iter().find(|p| p[0] == table).unwrap()[1].clone();
    let g = |k: &str| c[k].as_u64().unwrap_or(0);
    (g("rows_in"), g("accepted"), g("rejected"), g("merged"), g("superseded"), g("withdrawn"))
}

#[test]
fn a_change_a_withdrawal_and_a_re_delivered_month() {
    let t = Town::new();
    let (a, b, c) = (pnr(1980, 11), pnr(1985, 22), pnr(1990, 33));
    t.deliver(
        "case",
        "2024-01",
        "2024-01",
        1,
        &[
            ("clients.csv", [CLIENTS, &client(&a, "norr"), &client(&b, "soder")].concat()),
            ("cases.csv", [CASES, &case("C1", &a, "u1", "2024-01-10"), &case("C2", &b, "u1", "2024-01-12")].concat()),
        ],
    );
    // February: C1 moves to unit u2 (a change); C2 is withdrawn.
    t.deliver(
        "case",
        "2024-02",
        "2024-02",
        1,
        &[
            ("cases.csv", [CASES, &case("C1", &a, "u2", "2024-01-10")].concat()),
            ("withdrawn.csv", "table;id\ncases;C2\n".to_string()),
        ],
    );
    t.build_ok("r", &["case"]);
    let reg = t.register("r");
    let cases = rows(&reg, "cases", "case_id");
    assert_eq!(cases.keys().collect::<Vec<_>>(), ["C1"], "C2 is withdrawn");
    assert!(cases["C1"].contains("u2"), "the later version wins: {}", cases["C1"]);
    // January's two cases are superseded: C1 by February's version, C2 by the withdrawal.
    assert_eq!(delivery_counts(&reg, "case", "2024-01", "cases"), (2, 0, 0, 0, 2, 1));
    assert_eq!(delivery_counts(&reg, "case", "2024-02", "cases"), (1, 1, 0, 0, 0, 0));
    // Lineage: C1 comes from February's file, line 2.
    let lineage = read_parquet(&reg.join("lineage.parquet"));
    let (tables, ids, deliveries, files) =
        (str_col(&lineage, "table"), str_col(&lineage, "id"), str_col(&lineage, "delivery"), str_col(&lineage, "file"));
    let lines = u64_col(&lineage, "line");
    let i = (0..lineage.height()).find(|&i| tables[i] == "cases" && ids[i] == "C1").expect("C1 has lineage");
    assert_eq!((deliveries[i].as_str(), files[i].as_str(), lines[i]), ("2024-02", "cases.csv", 2));
    assert_eq!(str_col(&lineage, "source")[i], "case");
    assert_eq!(
        lineage.height() as u64,
        manifest(&reg)["tables"].as_array().unwrap().iter().map(|p| p[1]["accepted"].as_u64().unwrap()).sum::<u64>()
    );
    assert_reconciles(&reg);

    // January is re-delivered corrected (version 2): client b and C2 are not in it
    // and C3 of a new client c is. The first version no longer counts.
    t.deliver(
        "case",
        "2024-01-v2",
        "2024-01",
        2,
        &[
            ("clients.csv", [CLIENTS, &client(&a, "norr"), &client(&c, "oster")].concat()),
            ("cases.csv", [CASES, &case("C1", &a, "u1", "2024-01-10"), &case("C3", &c, "u3", "2024-01-20")].concat()),
        ],
    );
    t.build_ok("r", &["case"]);
    let cases = rows(&reg, "cases", "case_id");
    assert_eq!(cases.keys().collect::<Vec<_>>(), ["C1", "C3"]);
    assert!(cases["C1"].contains("u2"), "February's change still wins over January's correction");
    assert_eq!(read_parquet(&reg.join("clients.parquet")).height(), 2, "client b went with the first version");
    assert_eq!(delivery_counts(&reg, "case", "2024-01", "cases"), (2, 0, 0, 0, 2, 0));
    assert_eq!(delivery_counts(&reg, "case", "2024-01", "clients"), (2, 0, 0, 0, 2, 0));
    assert_eq!(delivery_counts(&reg, "case", "2024-01-v2", "cases"), (2, 1, 0, 0, 1, 0));
    let m = manifest(&reg);
    let d = &m["sources"][0]["deliveries"];
    assert_eq!(d[0]["id"], "2024-01");
    assert_eq!(d[0]["replaced"], true);
    assert_eq!(d[1]["id"], "2024-01-v2");
    assert_reconciles(&reg);
}

#[test]
fn the_same_id_from_two_sources_is_kept_from_the_source_listed_first() {
    let t = Town::new();
    let a = pnr(1980, 11);
    t.deliver(
        "case",
        "2024-01",
        "2024-01",
        1,
        &[
            ("clients.csv", [CLIENTS, &client(&a, "norr")].concat()),
            ("cases.csv", [CASES, &case("C1", &a, "u1", "2024-01-10")].concat()),
            (
                "interventions.csv",
                [
                    INTERVENTIONS,
                    &intervention("I1", &a, "C1", "Ext AB", "2024-01-15", "1000"),
                    &intervention("I2", &a, "C1", "Ext AB", "2024-01-15", "2000"),
                ]
                .concat(),
            ),
        ],
    );
    // The provider delivers I1 alike and I2 with another cost, and I3 alone.
    t.deliver(
        "provider",
        "2024-01",
        "2024-01",
        1,
        &[(
            "insatser.csv",
            [
                PROVIDED,
                &provided("I1", &a, "C1", "20240115", "1000"),
                &provided("I2", &a, "C1", "20240115", "2500"),
                &provided("I3", &a, "C1", "20240116", "300"),
            ]
            .concat(),
        )],
    );
    t.build_ok("r", &["case", "provider"]);
    let reg = t.register("r");
    let iv = rows(&reg, "interventions", "intervention_id");
    assert_eq!(iv.keys().collect::<Vec<_>>(), ["I1", "I2", "I3"]);
    assert!(iv["I2"].contains("2000"), "the case system is listed first: {}", iv["I2"]);
    assert_eq!(delivery_counts(&reg, "provider", "2024-01", "interventions"), (3, 1, 1, 1, 0, 0));
    let q = read_parquet(&reg.join("quarantine.parquet"));
    let reasons = str_col(&q, "reason");
    let i = reasons.iter().position(|r| r == "source_conflict").expect("the conflict is quarantined");
    assert_eq!(str_col(&q, "source_file")[i], "provider/2024-01/insatser.csv");
    assert_eq!(u64_col(&q, "line")[i], 3);
    assert_eq!(str_col(&q, "column")[i], "intervention_id");
    let msg = &str_col(&q, "message")[i];
    assert!(msg.contains("source 'case'") && msg.contains("case/2024-01/interventions.csv, line 3"), "{msg}");
    assert_reconciles(&reg);

    // Listed the other way round, the provider's version is kept.
    t.build_ok("r2", &["provider", "case"]);
    let iv = rows(&t.register("r2"), "interventions", "intervention_id");
    assert!(iv["I2"].contains("2500"), "{}", iv["I2"]);
    assert_reconciles(&t.register("r2"));
}

/// January, then March (February is late: a warning, nothing lost), then
/// February out of order: the register equals a full build of all three,
/// byte for byte, and the incremental builds read only the new delivery.
#[test]
fn late_and_out_of_order_months_and_incremental_equals_full() {
    let t = Town::new();
    let (a, b) = (pnr(1980, 11), pnr(1985, 22));
    t.deliver(
        "case",
        "2024-01",
        "2024-01",
        1,
        &[
            ("clients.csv", [CLIENTS, &client(&a, "norr")].concat()),
            ("cases.csv", [CASES, &case("C1", &a, "u1", "2024-01-10")].concat()),
        ],
    );
    t.build_ok("r", &["case"]);
    let reg = t.register("r");
    let first_part = reg.join("deliveries/case/2024-01/cases.parquet");
    // March: a change to C1, and C2 for client b, whose client row comes with
    // February (a child before its parent: rejected until the parent arrives).
    t.deliver(
        "case",
        "2024-03",
        "2024-03",
        1,
        &[("cases.csv", [CASES, &case("C1", &a, "u3", "2024-01-10"), &case("C2", &b, "u1", "2024-03-02")].concat())],
    );
    let err = t.build_ok("r", &["case"]);
    assert!(err.contains("no delivery for 2024-02 (between 2024-01 and 2024-03)"), "{err}");
    assert!(manifest(&reg)["warnings"][0].as_str().unwrap().contains("2024-02"));
    let cases = rows(&reg, "cases", "case_id");
    assert_eq!(cases.keys().collect::<Vec<_>>(), ["C1"], "C2 waits for its client");
    assert!(cases["C1"].contains("u3"));
    let q = read_parquet(&reg.join("quarantine.parquet"));
    assert_eq!(str_col(&q, "reason"), ["unknown_reference"]);
    assert_eq!(str_col(&q, "source_file"), ["case/2024-03/cases.csv"]);
    assert_reconciles(&reg);
    // January was not read again: its stored part is the same file (hard link).
    use std::os::unix::fs::MetadataExt;
    let inode = |p: &Path| std::fs::metadata(p).unwrap().ino();
    assert_eq!(inode(&reg.join("deliveries/case/2024-01/cases.parquet")), inode(&first_part));

    // February arrives last, with client b and its own version of C1, which
    // March's version still overrides (deliveries apply by period).
    t.deliver(
        "case",
        "2024-02",
        "2024-02",
        1,
        &[
            ("clients.csv", [CLIENTS, &client(&b, "soder")].concat()),
            ("cases.csv", [CASES, &case("C1", &a, "u2", "2024-01-10")].concat()),
        ],
    );
    let err = t.build_ok("r", &["case"]);
    assert!(!err.contains("no delivery"), "{err}");
    let cases = rows(&reg, "cases", "case_id");
    assert_eq!(cases.keys().collect::<Vec<_>>(), ["C1", "C2"], "the late client admits its case");
    assert!(cases["C1"].contains("u3"), "March's version wins over February's: {}", cases["C1"]);
    assert_eq!(read_parquet(&reg.join("quarantine.parquet")).height(), 0);
    assert_eq!(delivery_counts(&reg, "case", "2024-02", "cases"), (1, 0, 0, 0, 1, 0));
    assert_reconciles(&reg);

    // A full build from the same deliveries: the same register, byte for byte.
    let (code, out, err) = t.build("full", &["case"], &["--full"]);
    assert_eq!(code, 0, "{out}{err}");
    let full = t.register("full");
    let mut compared = 0;
    for entry in std::fs::read_dir(&reg).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        // What the incremental build changed against its previous build is its own.
        if (name.ends_with(".parquet") || name == "data-dictionary.md") && name != "row_changes.parquet" {
            let (x, y) = (std::fs::read(reg.join(&name)).unwrap(), std::fs::read(full.join(&name)).unwrap());
            assert!(x == y, "{name} differs between the incremental and the full build");
            compared += 1;
        }
    }
    assert_eq!(compared, 9 + 2 + 1, "9 tables, quarantine, lineage and the dictionary");
    let (mi, mf) = (manifest(&reg), manifest(&full));
    for k in ["tables", "sources", "inputs", "data_from", "data_to", "quarantine_rows", "warnings"] {
        assert_eq!(mi[k], mf[k], "manifest {k}");
    }
}

#[test]
fn a_half_written_delivery_is_refused_and_the_register_kept() {
    let t = Town::new();
    let a = pnr(1980, 11);
    t.deliver("case", "2024-01", "2024-01", 1, &[("clients.csv", [CLIENTS, &client(&a, "norr")].concat())]);
    t.build_ok("r", &["case"]);
    let reg = t.register("r");
    let before = std::fs::read_link(&reg).unwrap();
    let manifest_before = std::fs::read(reg.join("manifest.json")).unwrap();
    let refused = |why: &str, file: &str| {
        let (code, out, err) = t.build("r", &["case"], &[]);
        assert_eq!(code, 2, "{why}: {out}{err}");
        assert!(err.contains(file), "{why}: the error names {file}: {err}");
        assert_eq!(std::fs::read_link(&reg).unwrap(), before, "{why}: the register is unchanged");
        assert_eq!(std::fs::read(reg.join("manifest.json")).unwrap(), manifest_before);
    };
    // A delivery still being written: no control file yet.
    let feb = t.source("case").join("2024-02");
    std::fs::create_dir_all(&feb).unwrap();
    std::fs::write(feb.join("cases.csv"), CASES).unwrap();
    refused("no control file", "2024-02/delivery.toml");
    // A file cut short: fewer rows than the control file states.
    t.deliver("case", "2024-02", "2024-02", 1, &[("cases.csv", [CASES, &case("C1", &a, "u1", "2024-02-01")].concat())]);
    std::fs::write(feb.join("cases.csv"), CASES).unwrap();
    refused("truncated file", "2024-02/cases.csv");
    // A file written after the control file, which does not list it.
    t.deliver("case", "2024-02", "2024-02", 1, &[("cases.csv", [CASES, &case("C1", &a, "u1", "2024-02-01")].concat())]);
    std::fs::write(feb.join("clients.csv"), CLIENTS).unwrap();
    refused("unlisted file", "2024-02/clients.csv");
    // Complete, it is read.
    std::fs::remove_file(feb.join("clients.csv")).unwrap();
    t.build_ok("r", &["case"]);
    assert_eq!(rows(&reg, "cases", "case_id").len(), 1);
    assert_reconciles(&reg);
}

/// The synthetic municipality's three sources with their monthly deliveries:
/// replayed in full they give, table by table and byte for byte, the register
/// the snapshot exports give (an independent path: one file per table, no
/// versions). Built as the deliveries arrived (up to November 2025, then
/// December with the re-delivered June), it equals the full build.
#[test]
fn the_synthetic_monthly_deliveries_replay_to_the_snapshot_register() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(&["synth", "--out", s(dir), "--clients", "1500", "--seed", "5", "--deliveries"]);
    let key = dir.join("k.key");
    ok(&["key", "new", "--out", s(&key)]);
    let sources = ["arende", "utforare", "ekonomi"];
    let specs: Vec<String> = sources.iter().map(|n| format!("{n}={}", dir.join("sources").join(n).display())).collect();
    let build = |register: &Path, extra: &[&str]| {
        let mut args = vec!["build", "--key", s(&key), "--register", s(register), "--as-of", "2025-12-31"];
        for spec in &specs {
            args.extend(["--source", spec.as_str()]);
        }
        args.extend_from_slice(extra);
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{out}{err}");
        assert!(!err.contains("warning"), "no month is missing: {err}");
        out
    };
    // As they arrived: hide what arrived after 2025 (a folder whose name
    // starts with a dot is not a delivery), build, then show it and build again.
    let arrivals = std::fs::read_to_string(dir.join("sources/arrivals.csv")).unwrap();
    let late: Vec<(String, String)> = arrivals
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[4] > "2025-12-31")
        .map(|f| (f[0].to_string(), f[1].to_string()))
        .collect();
    assert_eq!(late.len(), 4, "December of each source and the re-delivered June: {late:?}");
    assert!(late.contains(&("ekonomi".into(), "2024-06-v2".into())));
    let hidden = |src: &str, d: &str, hide: bool| {
        let (a, b) = (dir.join("sources").join(src).join(d), dir.join("sources").join(src).join(format!(".{d}")));
        if hide { std::fs::rename(a, b).unwrap() } else { std::fs::rename(b, a).unwrap() }
    };
    for (src, d) in &late {
        hidden(src, d, true);
    }
    let monthly = dir.join("monthly");
    build(&monthly, &[]);
    let first_build = manifest(&monthly)["build_id"].as_str().unwrap().to_string();
    assert_eq!(manifest(&monthly)["sources"][2]["deliveries"].as_array().unwrap().len(), 24);
    for (src, d) in &late {
        hidden(src, d, false);
    }
    build(&monthly, &[]);
    let full = dir.join("full");
    build(&full, &["--full", "--no-indicators"]);
    let snapshot = dir.join("snapshot");
    build_with(&dir.join("exports"), &key, &snapshot, &["--no-indicators"]);

    for t in utfall_register::TABLES {
        let f = t.file_name();
        let (m, fu, sn) = (
            std::fs::read(monthly.join(&f)).unwrap(),
            std::fs::read(full.join(&f)).unwrap(),
            std::fs::read(snapshot.join(&f)).unwrap(),
        );
        assert!(m == fu, "{f}: the incremental build differs from the full one");
        assert!(fu == sn, "{f}: the deliveries replay to another table than the snapshot");
    }
    for f in ["quarantine.parquet", "lineage.parquet"] {
        assert!(std::fs::read(monthly.join(f)).unwrap() == std::fs::read(full.join(f)).unwrap(), "{f}");
    }
    // What the deliveries carried shows in the counts.
    assert_reconciles(&monthly);
    let m = manifest(&monthly);
    let ekonomi = &m["sources"][2];
    let june: Vec<&serde_json::Value> =
        ekonomi["deliveries"].as_array().unwrap().iter().filter(|d| d["period"] == "2024-06").collect();
    assert_eq!((june[0]["replaced"].as_bool(), june[1]["version"].as_u64()), (Some(true), Some(2)));
    let total = |k: &str| m["tables"].as_array().unwrap().iter().map(|p| p[1][k].as_u64().unwrap_or(0)).sum::<u64>();
    assert!(total("superseded") > 1000, "versions over the months: {}", total("superseded"));
    assert!(total("withdrawn") > 0, "withdrawn contacts");
    let lineage = read_parquet(&monthly.join("lineage.parquet"));
    assert_eq!(lineage.height() as u64, total("accepted"));
    let deliveries: std::collections::BTreeSet<String> = str_col(&lineage, "delivery").into_iter().collect();
    assert!(deliveries.len() >= 25 && deliveries.contains("2024-06-v2"), "{deliveries:?}");

    // The revision report, against an independent comparison of the two builds.
    let previous = dir.join(".monthly.builds").join(&first_build);
    assert_eq!(m["previous_build"], first_build.as_str());
    check_row_changes(&previous, &monthly);
    check_revisions(&previous, &monthly);
}

/// `row_changes` equals a comparison of the two builds' tables row by row.
fn check_row_changes(old: &Path, new: &Path) {
    let changes = read_parquet(&new.join("row_changes.parquet"));
    let (tables, kinds, counts) = (str_col(&changes, "table"), str_col(&changes, "change"), u64_col(&changes, "rows"));
    let mut checked = 0;
    for t in utfall_register::TABLES {
        let key = t.register_key();
        let rows = |dir: &Path| -> std::collections::HashMap<String, String> {
            let df = read_parquet(&dir.join(t.file_name()));
            let keys = str_col(&df, key);
            (0..df.height()).map(|i| (keys[i].clone(), format!("{:?}", df.get_row(i).unwrap().0))).collect()
        };
        let (a, b) = (rows(old), rows(new));
        let added = b.keys().filter(|k| !a.contains_key(*k)).count() as u64;
        let removed = a.keys().filter(|k| !b.contains_key(*k)).count() as u64;
        let changed = b.iter().filter(|(k, v)| a.get(*k).is_some_and(|o| o != *v)).count() as u64;
        let sum = |c: &str| {
            (0..changes.height()).filter(|&i| tables[i] == t.name && kinds[i] == c).map(|i| counts[i]).sum::<u64>()
        };
        assert_eq!((sum("added"), sum("changed"), sum("removed")), (added, changed, removed), "{}", t.name);
        checked += added + changed + removed;
    }
    assert!(checked > 100, "the later deliveries change rows: {checked}");
}

/// `revisions` holds exactly the published cells whose n or value changed,
/// with both builds' figures; a closed period's revision always has a
/// reason, and the re-delivered June revises 2024's financial assistance.
fn check_revisions(old: &Path, new: &Path) {
    let cells = |dir: &Path| -> std::collections::HashMap<String, (Option<i64>, Option<f64>)> {
        let df = read_parquet(&dir.join("indicators_public.parquet"));
        let key: Vec<String> = (0..df.height())
            .map(|i| {
                ["indicator_id", "instrument", "domain", "period_type", "period", "split", "split_value"]
                    .iter()
                    .map(|c| df.column(c).unwrap().get(i).unwrap().to_string())
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        let n = df.column("n").unwrap().i64().unwrap().iter().collect::<Vec<_>>();
        let v = df.column("value").unwrap().f64().unwrap().iter().collect::<Vec<_>>();
        (0..df.height()).map(|i| (key[i].clone(), (n[i], v[i]))).collect()
    };
    let (a, b) = (cells(old), cells(new));
    let mut expected: Vec<(String, Option<i64>, Option<i64>)> = b
        .iter()
        .filter_map(|(k, now)| a.get(k).filter(|before| *before != now).map(|before| (k.clone(), before.0, now.0)))
        .collect();
    expected.sort();
    let r = read_parquet(&new.join("revisions.parquet"));
    let mut got: Vec<(String, Option<i64>, Option<i64>)> = (0..r.height())
        .map(|i| {
            let key = ["indicator_id", "instrument", "domain", "period_type", "period", "split", "split_value"]
                .iter()
                .map(|c| r.column(c).unwrap().get(i).unwrap().to_string())
                .collect::<Vec<_>>()
                .join("|");
            let n = |c: &str| r.column(c).unwrap().i64().unwrap().get(i);
            (key, n("n_before"), n("n"))
        })
        .collect();
    got.sort();
    assert!(!expected.is_empty(), "the later deliveries revise published figures");
    assert_eq!(got, expected, "revisions are the changed published cells");
    let (ids, periods, reasons) = (str_col(&r, "indicator_id"), str_col(&r, "period"), str_col(&r, "reasons"));
    let closed: Vec<bool> = r.column("closed").unwrap().bool().unwrap().iter().map(|v| v.unwrap()).collect();
    for i in 0..r.height() {
        assert!(!(closed[i] && reasons[i].contains("unexplained")), "{} {}: {}", ids[i], periods[i], reasons[i]);
    }
    let june = (0..r.height()).find(|&i| ids[i] == "long_term_assistance" && periods[i] == "2024" && closed[i]);
    let i = june.expect("2024's long-term assistance is revised by the re-delivered June");
    assert!(reasons[i].contains("corrections") || reasons[i].contains("late_rows"), "{}", reasons[i]);
}
