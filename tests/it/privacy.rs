//! No personnummer, in any common written form, in any file of the register
//! or the ground truth, nor in what the command prints.

use std::collections::HashSet;
use std::path::Path;

use polars::prelude::*;
use utfall_register::pnr::Pnr;
use utfall_synth::source;

use crate::support::*;

/// Every personnummer in the exports, valid or not, in every written form.
pub(crate) fn all_numbers(exports: &Path) -> HashSet<String> {
    let as_of = utfall_synth::as_of();
    let mut set = HashSet::new();
    for (table, file, cols) in source::FILES {
        let (_, delim, _, _) = source::format_of(table);
        let bytes = std::fs::read(exports.join(file)).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let idx = cols.iter().position(|c| c.0 == "personnummer").unwrap();
        for line in text.lines().skip(1) {
            let Some(field) = line.split(delim as char).nth(idx) else { continue };
            let field = field.trim();
            match Pnr::parse(field, as_of) {
                Ok(p) => set.extend(p.written_forms()),
                Err(_) => {
                    let digits: String = field.chars().filter(char::is_ascii_digit).collect();
                    if digits.len() >= 10 {
                        set.insert(field.to_string());
                        set.insert(digits.clone());
                        set.insert(digits[digits.len() - 10..].to_string());
                    }
                }
            }
        }
    }
    set
}

pub(crate) fn leaks(text: &str, numbers: &HashSet<String>) -> Option<String> {
    let b = text.as_bytes();
    for len in [10usize, 11, 12, 13] {
        for start in 0..b.len().saturating_sub(len - 1) {
            if let Ok(w) = std::str::from_utf8(&b[start..start + len])
                && numbers.contains(w)
            {
                return Some(w.to_string());
            }
        }
    }
    None
}

pub(crate) fn scan(dir: &Path, numbers: &HashSet<String>, scanned: &mut usize) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scan(&path, numbers, scanned);
            continue;
        }
        *scanned += 1;
        if path.extension().is_some_and(|e| e == "parquet") {
            let df = read_parquet(&path);
            for c in df.columns() {
                // A fraction's digits are not a number someone wrote down: only
                // whole-valued floats could carry a personnummer.
                let c = if c.dtype().is_float() {
                    let f = c.cast(&DataType::Float64).unwrap();
                    f.f64().unwrap().apply_values(|v| if v.fract() == 0.0 { v } else { 0.0 }).into_column()
                } else {
                    c.clone()
                };
                let s = c.cast(&DataType::String).unwrap();
                for v in s.str().unwrap().iter().flatten() {
                    // A keyed pseudonym (a letter and 80 bits as 20 hex digits) is
                    // HMAC output: its digit runs can match someone's number by
                    // chance (11 windows x (10/16)^10 all-digit x ~2.6e-5 in the
                    // set: ~2.6e-6 per id, so one scan of 30,000 scored ids in
                    // twelve would fail), so only the whole value is compared.
                    let pseudonym = v.len() == 21
                        && v.as_bytes()[0].is_ascii_uppercase()
                        && v.bytes().skip(1).all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                    assert!(
                        if pseudonym { !numbers.contains(v) } else { leaks(v, numbers).is_none() },
                        "{}: column {} holds a personnummer",
                        path.display(),
                        c.name()
                    );
                }
            }
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            assert!(leaks(&text, numbers).is_none(), "{} holds a personnummer", path.display());
        }
    }
}

#[test]
fn no_personnummer_reaches_the_register_the_truth_or_the_output() {
    let d = dirty();
    let numbers = all_numbers(&d.dir.join("exports"));
    assert!(numbers.len() > 10_000, "the exports hold personnummer to look for ({})", numbers.len());
    // The scanner finds what it looks for.
    let one = numbers.iter().next().unwrap();
    assert!(leaks(&format!("x {one} y"), &numbers).is_some());

    let mut scanned = 0;
    let builds = d.dir.join(".register.builds");
    scan(&builds, &numbers, &mut scanned);
    scan(&d.dir.join("truth"), &numbers, &mut scanned);
    assert!(scanned >= 12, "scanned {scanned} files");

    assert!(d.output.contains("indicators:"), "the build's output is kept: {}", d.output);
    assert!(leaks(&d.output, &numbers).is_none(), "build output holds a personnummer");
}
