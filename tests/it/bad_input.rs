//! Each kind of bad input: a clear message naming file, line and column with
//! exit code 2, or a quarantined row with its line, column and reason; never a panic.

use std::collections::HashMap;

use crate::support::*;

const CLIENTS_HEADER: &str = "personnummer;household_id;district\n";
const CASES_HEADER: &str = "case_id;personnummer;unit;area;origin;opened;investigation_started;decided;closed\n";

fn clients(f: &Fixture, rows: &[String]) {
    f.write("clients.csv", format!("{CLIENTS_HEADER}{}", rows.join("")));
}

fn fails(f: &Fixture, must_contain: &[&str]) -> String {
    let (code, out, err) = f.build();
    assert_eq!(code, 2, "expected exit 2 (bad input):\n{out}\n{err}");
    for m in must_contain {
        assert!(err.contains(m), "the error should mention '{m}':\n{err}");
    }
    assert!(!f.register().exists(), "nothing may be published from bad input");
    err
}

/// (line, column number, column, reason) per quarantined row.
fn quarantined(f: &Fixture) -> HashMap<u64, (u64, String, String)> {
    let q = f.quarantine();
    let (l, n, c, r) =
        (u64_col(&q, "line"), u64_col(&q, "column_number"), str_col(&q, "column"), str_col(&q, "reason"));
    (0..q.height()).map(|i| (l[i], (n[i], c[i].clone(), r[i].clone()))).collect()
}

#[test]
fn a_missing_file_is_named() {
    let f = Fixture::new();
    f.mapping("", &["clients"]);
    fails(&f, &["clients.csv", "file not found"]);
}

#[test]
fn a_missing_required_column_is_named_with_the_file_and_line() {
    let f = Fixture::new();
    f.mapping("", &["clients"]);
    f.write("clients.csv", "personnummer;household_id\n");
    fails(&f, &["clients.csv:1", "missing required column 'district'"]);
}

#[test]
fn a_wrong_delimiter_in_the_header_is_explained() {
    let f = Fixture::new();
    f.mapping("", &["clients"]);
    f.write("clients.csv", format!("personnummer,household_id,district\n{},H1,norr\n", pnr(1980, 11)));
    fails(&f, &["clients.csv:1", "delimiter"]);
}

#[test]
fn an_unknown_column_is_named_with_line_and_column() {
    let f = Fixture::new();
    f.mapping("", &["clients"]);
    f.write("clients.csv", format!("personnummer;household_id;district;kommentar\n{};H1;norr;x\n", pnr(1980, 11)));
    fails(&f, &["clients.csv:1:4", "kommentar", "unknown column"]);
    // Listing it under ignore makes it acceptable.
    f.mapping("[tables.clients]\nfile = \"clients.csv\"\nignore = [\"kommentar\"]\n", &["clients"]);
    let (code, _, err) = f.build();
    assert_eq!(code, 0, "{err}");
}

#[test]
fn an_empty_file_is_refused() {
    let f = Fixture::new();
    f.mapping("", &["clients"]);
    f.write("clients.csv", "");
    fails(&f, &["clients.csv", "empty"]);
}

#[test]
fn a_bad_mapping_file_names_the_field() {
    let f = Fixture::new();
    f.mapping("[tables.klienter]\nfile = \"k.csv\"\n", &["clients"]);
    clients(&f, &[]);
    fails(&f, &["mapping.toml", "tables.klienter", "unknown table"]);
}

#[test]
fn bad_rows_are_quarantined_with_line_column_and_reason() {
    let f = Fixture::new();
    f.mapping("", &["clients", "cases"]);
    let (p, other) = (pnr(1980, 11), pnr(1990, 22));
    let mut bad = pnr(1980, 33).into_bytes();
    let last = bad.len() - 1;
    bad[last] = b'0' + (bad[last] - b'0' + 1) % 10;
    let bad = String::from_utf8(bad).unwrap();
    clients(&f, &[format!("{p};H1;norr\n")]);
    let row = |id: &str, who: &str, area: &str, opened: &str, closed: &str| {
        format!("{id};{who};u1;{area};report;{opened};;;{closed}\n")
    };
    f.write(
        "cases.csv",
        [
            CASES_HEADER.to_string(),
            row("C1", &p, "child_youth", "2023-01-05", ""), // 2 ok
            row("C2", &p, "child_youth", "2023/01/05", ""), // 3 malformed date
            row("C3", &p, "child_youth", "2023-02-30", ""), // 4 impossible date
            row("C4", &p, "child_youth", "2023-03-01", "2023-02-01"), // 5 end before start
            row("C1", &p, "child_youth", "2023-01-06", ""), // 6 duplicate id, other content
            row("C5", &p, "kids", "2023-01-05", ""),        // 7 unknown code
            row("C6", &bad, "child_youth", "2023-01-05", ""), // 8 bad check digit
            row("C7", &other, "child_youth", "2023-01-05", ""), // 9 client not in the register
            row("C1", &p, "child_youth", "2023-01-05", ""), // 10 exact duplicate: merged
            row("", &p, "child_youth", "2023-01-05", ""),   // 11 missing mandatory value
            "C9;only;three\n".to_string(),                  // 12 wrong number of fields
        ]
        .concat(),
    );
    let (code, out, err) = f.build();
    assert_eq!(code, 0, "{out}{err}");
    let q = quarantined(&f);
    let expect = [
        (3, 6, "opened", "malformed_date"),
        (4, 6, "opened", "impossible_date"),
        (5, 9, "closed", "date_order"),
        (6, 1, "case_id", "duplicate_id"),
        (7, 4, "area", "unknown_code"),
        (8, 2, "personnummer", "pnr_check_digit"),
        (9, 2, "personnummer", "unknown_reference"),
        (11, 1, "case_id", "missing_value"),
        (12, 0, "", "field_count"),
    ];
    for (line, n, column, reason) in expect {
        let got = q.get(&line).unwrap_or_else(|| panic!("line {line} is not in the quarantine: {q:?}"));
        assert_eq!(got, &(n, column.to_string(), reason.to_string()), "line {line}");
    }
    assert_eq!(q.len(), expect.len());
    let c = counts(&f.register())["cases"];
    assert_eq!(c, (11, 1, 9, 1), "rows in, accepted, rejected, merged");
}

#[test]
fn invalid_utf8_is_quarantined_and_windows_1252_is_read_when_declared() {
    let f = Fixture::new();
    f.mapping("[codes.district]\n\"Söder\" = \"soder\"\n", &["clients"]);
    let mut body = CLIENTS_HEADER.as_bytes().to_vec();
    body.extend(format!("{};H1;", pnr(1980, 11)).bytes());
    body.extend(b"S\xf6der\n");
    body.extend(format!("{};H2;Söder\n", pnr(1981, 12)).bytes());
    f.write("clients.csv", &body);
    let (code, _, err) = f.build();
    assert_eq!(code, 0, "{err}");
    assert_eq!(quarantined(&f).get(&2), Some(&(3, "district".to_string(), "invalid_utf8".to_string())));

    f.mapping("encoding = \"windows-1252\"\n[codes.district]\n\"Söder\" = \"soder\"\n", &["clients"]);
    let mut body = CLIENTS_HEADER.as_bytes().to_vec();
    body.extend(format!("{};H1;", pnr(1980, 11)).bytes());
    body.extend(b"S\xf6der\n");
    f.write("clients.csv", &body);
    let (code, _, err) = f.build();
    assert_eq!(code, 0, "{err}");
    let df = read_parquet(&f.register().join("clients.parquet"));
    assert_eq!(str_col(&df, "district"), vec!["soder"]);
}

#[test]
fn a_ten_megabyte_field_is_quarantined_and_clipped() {
    let f = Fixture::new();
    f.mapping("", &["clients"]);
    let huge = "x".repeat(10 * 1024 * 1024);
    clients(&f, &[format!("{};{huge};norr\n", pnr(1980, 11)), format!("{};H2;norr\n", pnr(1981, 12))]);
    let (code, _, err) = f.build();
    assert_eq!(code, 0, "{err}");
    let q = f.quarantine();
    assert_eq!(str_col(&q, "reason"), vec!["too_long"]);
    assert!(str_col(&q, "record")[0].len() < 1000, "the quarantine keeps only a prefix");
    assert_eq!(counts(&f.register())["clients"], (2, 1, 1, 0));
}

fn xlsx_clients(path: &std::path::Path) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["personnummer", "household_id", "district"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for r in 1..=200u32 {
        ws.write_string(r, 0, pnr(1950 + (r % 50) as u16, r as u16)).unwrap();
        ws.write_string(r, 1, format!("H{r}")).unwrap();
        ws.write_string(r, 2, "norr").unwrap();
    }
    wb.save(path).unwrap();
}

#[test]
fn excel_exports_are_read_and_a_truncated_one_is_refused() {
    let f = Fixture::new();
    f.mapping("[tables.clients]\nfile = \"clients.xlsx\"\n", &["clients"]);
    let path = f.input().join("clients.xlsx");
    xlsx_clients(&path);
    let (code, _, err) = f.build();
    assert_eq!(code, 0, "{err}");
    assert_eq!(counts(&f.register())["clients"], (200, 200, 0, 0));

    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let (code, _, err) = f.build();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("clients.xlsx") && err.contains("xlsx"), "{err}");
}

#[test]
fn an_outcome_value_outside_its_types_domain_is_quarantined() {
    let f = Fixture::new();
    f.mapping("", &["clients", "outcomes"]);
    let p = pnr(1980, 11);
    clients(&f, &[format!("{p};H1;norr\n")]);
    f.write(
        "outcomes.csv",
        format!(
            "observation_id;personnummer;case_id;type;observed;value\n\
             O1;{p};;school_attendance;2024-03-01;0,85\n\
             O2;{p};;school_attendance;2024-04-01;1,5\n\
             O3;{p};;employment_status;2024-03-31;1\n\
             O4;{p};;employment_status;2024-06-30;0,5\n\
             O5;{p};;stable_housing;2024-06-30;-1\n"
        ),
    );
    let (code, out, err) = f.build();
    assert_eq!(code, 0, "{out}\n{err}");
    let q = quarantined(&f);
    for line in [3, 5, 6] {
        let (n, column, reason) = &q[&line];
        assert_eq!((*n, column.as_str(), reason.as_str()), (6, "value", "value_domain"), "line {line}");
    }
    assert_eq!(q.len(), 3, "{q:?}");
    let message = str_col(&f.quarantine(), "message").join("\n");
    assert!(
        message.contains("value 1.5 is not a share from 0 to 1 (the domain of outcome type 'school_attendance')"),
        "{message}"
    );
    assert_eq!(counts(&f.register())["outcomes"], (5, 2, 3, 0), "rows in = accepted + rejected");
}
