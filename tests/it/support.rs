//! Helpers: run the command, make synthetic data, read the register.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use polars::prelude::*;

pub fn utfall() -> Command {
    Command::new(env!("CARGO_BIN_EXE_utfall"))
}

/// Run the command; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out: Output = utfall().args(args).output().expect("utfall runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "utfall panicked: {stderr}");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

pub fn ok(args: &[&str]) -> String {
    let (code, out, err) = run(args);
    assert_eq!(code, 0, "utfall {args:?} failed:\n{out}\n{err}");
    out
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A synthetic municipality with faults, built once and shared by the tests
/// that only read it: (folder with exports/ and truth/, key file, register).
pub struct Dirty {
    pub dir: PathBuf,
    pub key: PathBuf,
    pub register: PathBuf,
    /// What the build printed.
    pub output: String,
    _tmp: tempfile::TempDir,
}

pub fn dirty() -> &'static Dirty {
    static D: OnceLock<Dirty> = OnceLock::new();
    D.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        ok(&["synth", "--out", s(&dir), "--clients", "3000", "--seed", "7", "--dirty-rate", "0.03"]);
        let key = dir.join("k.key");
        ok(&["key", "new", "--out", s(&key)]);
        let register = dir.join("register");
        let output = build(&dir.join("exports"), &key, &register);
        Dirty { dir, key, register, output, _tmp: tmp }
    })
}

pub fn build(exports: &Path, key: &Path, register: &Path) -> String {
    build_with(exports, key, register, &[])
}

/// `utfall build` as of 2025-12-31 with further arguments.
pub fn build_with(exports: &Path, key: &Path, register: &Path, extra: &[&str]) -> String {
    let mut args =
        vec!["build", "--input", s(exports), "--key", s(key), "--register", s(register), "--as-of", "2025-12-31"];
    args.extend_from_slice(extra);
    ok(&args)
}

pub fn read_parquet(path: &Path) -> DataFrame {
    ParquetReader::new(File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).finish().unwrap()
}

pub fn manifest(register: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(register.join("manifest.json")).unwrap()).unwrap()
}

/// Manifest counts per table: name -> (rows_in, accepted, rejected, merged).
pub fn counts(register: &Path) -> HashMap<String, (u64, u64, u64, u64)> {
    let m = manifest(register);
    m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            let c = &pair[1];
            let g = |k: &str| c[k].as_u64().unwrap();
            (pair[0].as_str().unwrap().to_string(), (g("rows_in"), g("accepted"), g("rejected"), g("merged")))
        })
        .collect()
}

/// Canonical-format CSV fixtures (identity mapping) for the bad-input tests.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        let f = Fixture { tmp: tempfile::tempdir().unwrap() };
        std::fs::create_dir_all(f.input()).unwrap();
        ok(&["key", "new", "--out", s(&f.key())]);
        f
    }
    pub fn input(&self) -> PathBuf {
        self.tmp.path().join("in")
    }
    pub fn key(&self) -> PathBuf {
        self.tmp.path().join("k.key")
    }
    pub fn register(&self) -> PathBuf {
        self.tmp.path().join("register")
    }
    /// Mapping with the given tables, files named TABLE.csv unless overridden.
    pub fn mapping(&self, extra: &str, tables: &[&str]) {
        let mut m = String::from("[source]\nname = \"test\"\ndelimiter = \";\"\ndecimal = \",\"\n");
        m.push_str(extra);
        for t in tables {
            if !m.contains(&format!("[tables.{t}]")) {
                m.push_str(&format!("[tables.{t}]\nfile = \"{t}.csv\"\n"));
            }
        }
        std::fs::write(self.input().join("mapping.toml"), m).unwrap();
    }
    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) {
        std::fs::write(self.input().join(name), content).unwrap();
    }
    pub fn build(&self) -> (i32, String, String) {
        run(&[
            "build",
            "--input",
            s(&self.input()),
            "--key",
            s(&self.key()),
            "--register",
            s(&self.register()),
            "--as-of",
            "2025-12-31",
        ])
    }
    pub fn quarantine(&self) -> DataFrame {
        read_parquet(&self.register().join("quarantine.parquet"))
    }
}

/// A valid personnummer built at run time (no literal number in the sources).
pub fn pnr(year: u16, serial: u16) -> String {
    let p = utfall_register::pnr::Pnr::from_parts(year, 3, 14, serial);
    let c = p.canonical();
    format!("{}-{}", &c[..8], &c[8..])
}

/// A date column's values (null as `None`).
pub fn date_col(df: &DataFrame, name: &str) -> Vec<Option<chrono::NaiveDate>> {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    df.column(name)
        .unwrap()
        .cast(&DataType::Int32)
        .unwrap()
        .i32()
        .unwrap()
        .iter()
        .map(|d| d.map(|d| epoch + chrono::Days::new(d as u64)))
        .collect()
}

pub fn str_col(df: &DataFrame, name: &str) -> Vec<String> {
    df.column(name).unwrap().str().unwrap().iter().map(|v| v.unwrap_or("").to_string()).collect()
}

pub fn u64_col(df: &DataFrame, name: &str) -> Vec<u64> {
    df.column(name).unwrap().cast(&DataType::UInt64).unwrap().u64().unwrap().iter().map(|v| v.unwrap_or(0)).collect()
}
