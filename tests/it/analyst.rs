//! The analyst's surface: `utfall query`, named queries, `utfall sql` and
//! notebooks, checked against the register's Parquet files read with polars.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use polars::prelude::*;

use crate::support::{dirty, ok, read_parquet, run, s, utfall};

/// Cases per unit, counted with polars straight from the Parquet file.
fn cases_per_unit(register: &Path) -> BTreeMap<String, i64> {
    let df = read_parquet(&register.join("cases.parquet"));
    let units = df.column("unit").unwrap().str().unwrap().clone();
    let mut counts = BTreeMap::new();
    for u in units.iter().flatten() {
        *counts.entry(u.to_string()).or_insert(0) += 1;
    }
    counts
}

/// A frame of (unit, n) as a map.
fn unit_counts(df: &DataFrame) -> BTreeMap<String, i64> {
    let n = df.column("n").unwrap().cast(&DataType::Int64).unwrap();
    let units = df.column("unit").unwrap().str().unwrap().iter();
    units.zip(n.i64().unwrap().iter()).map(|(u, n)| (u.unwrap().to_string(), n.unwrap())).collect()
}

const PER_UNIT: &str = "SELECT unit, count(*) AS n FROM cases GROUP BY unit ORDER BY unit";

#[test]
fn every_format_holds_the_same_numbers_as_an_independent_count() {
    let d = dirty();
    let reg = s(&d.register);
    let want = cases_per_unit(&d.register);
    let tmp = tempfile::tempdir().unwrap();

    let csv = ok(&["query", "--register", reg, PER_UNIT, "--format", "csv"]);
    let got: BTreeMap<String, i64> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let (u, n) = l.split_once(',').unwrap();
            (u.to_string(), n.parse().unwrap())
        })
        .collect();
    assert_eq!(got, want, "csv");
    assert_eq!(csv.lines().next(), Some("unit,n"));

    let json: serde_json::Value =
        serde_json::from_str(&ok(&["query", "--register", reg, PER_UNIT, "--format", "json"])).unwrap();
    let got: BTreeMap<String, i64> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["unit"].as_str().unwrap().to_string(), r["n"].as_i64().unwrap()))
        .collect();
    assert_eq!(got, want, "json");

    let parquet = tmp.path().join("r.parquet");
    ok(&["query", "--register", reg, PER_UNIT, "--out", s(&parquet)]);
    assert_eq!(unit_counts(&read_parquet(&parquet)), want, "parquet");

    let xlsx = tmp.path().join("r.xlsx");
    ok(&["query", "--register", reg, PER_UNIT, "--out", s(&xlsx)]);
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let mut book: Xlsx<_> = open_workbook(&xlsx).unwrap();
    let sheet = book.worksheet_range("result").unwrap();
    let rows: Vec<_> = sheet.rows().collect();
    assert_eq!(rows[0], &[Data::String("unit".into()), Data::String("n".into())]);
    let got: BTreeMap<String, i64> = rows[1..]
        .iter()
        .map(|r| match (&r[0], &r[1]) {
            (Data::String(u), Data::Float(n)) => (u.clone(), *n as i64),
            other => panic!("xlsx cell types: {other:?}"),
        })
        .collect();
    assert_eq!(got, want, "xlsx: numbers are numbers");

    // The aligned table names every unit with its count.
    let table = ok(&["query", "--register", reg, PER_UNIT]);
    for (u, n) in &want {
        assert!(table.lines().any(|l| l.contains(u.as_str()) && l.contains(&format!(" {n} "))), "{table}");
    }
    assert!(table.contains(&format!("({} rows)", want.len())));
}

#[test]
fn dates_go_to_excel_as_dates() {
    let d = dirty();
    let tmp = tempfile::tempdir().unwrap();
    let xlsx = tmp.path().join("d.xlsx");
    ok(&["query", "--register", s(&d.register), "SELECT min(opened) AS first FROM cases", "--out", s(&xlsx)]);
    let want = read_parquet(&d.register.join("cases.parquet"))
        .column("opened")
        .unwrap()
        .date()
        .unwrap()
        .physical()
        .min()
        .unwrap();
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let mut book: Xlsx<_> = open_workbook(&xlsx).unwrap();
    let sheet = book.worksheet_range("result").unwrap();
    let Data::DateTime(dt) = &sheet.rows().nth(1).unwrap()[0] else { panic!("not a date: {:?}", sheet.rows().nth(1)) };
    // Excel serial days count from 1899-12-30; Unix days from 1970-01-01.
    assert_eq!(dt.as_f64() as i32 - 25569, want);
}

#[test]
fn writes_of_every_kind_are_refused_and_nothing_is_written() {
    let d = dirty();
    let reg = s(&d.register);
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("stolen.csv");
    let before = std::fs::read_dir(&d.register).unwrap().count();
    for (sql, named) in [
        (format!("COPY (SELECT * FROM cases) TO '{}'", target.display()), "COPY"),
        (format!("COPY cases TO '{}' STORED AS CSV", target.display()), "COPY"),
        ("CREATE TABLE t AS SELECT * FROM cases".into(), "CREATE TABLE"),
        (format!("CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '{}'", target.display()), "CREATE EXTERNAL TABLE"),
        ("INSERT INTO cases SELECT * FROM cases".into(), "INSERT"),
        ("DROP TABLE cases".into(), "DROP TABLE"),
        ("DELETE FROM cases".into(), "DELETE"),
        ("SELECT * INTO t2 FROM cases".into(), "SELECT INTO"),
    ] {
        let (code, _, err) = run(&["query", "--register", reg, &sql]);
        assert_eq!(code, 2, "{sql}: {err}");
        assert!(err.contains("read-only") && err.contains(named), "{sql}: {err}");
    }
    assert!(!target.exists());
    assert_eq!(std::fs::read_dir(&d.register).unwrap().count(), before);
    // Reading a file that is not a register table is not possible either.
    let (code, _, err) = run(&["query", "--register", reg, "SELECT * FROM '/etc/passwd'"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn unknown_tables_and_columns_are_explained() {
    let d = dirty();
    let reg = s(&d.register);
    let (code, _, err) = run(&["query", "--register", reg, "SELECT * FROM casse"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown table 'casse'; did you mean 'cases'?"), "{err}");
    assert!(err.contains("tables: clients, cases,") && err.contains("indicators_public"), "{err}");
    let (code, _, err) = run(&["query", "--register", reg, "SELECT unitt FROM cases"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown column 'unitt'; did you mean 'unit'?"), "{err}");
    let (code, _, err) = run(&["query", "--register", "/nonexistent/register", "SELECT 1"]);
    assert_eq!(code, 2);
    assert!(err.contains("no register at /nonexistent/register"), "{err}");
}

#[test]
fn named_queries_bind_parameters_as_values() {
    let d = dirty();
    let reg = s(&d.register);
    let list = ok(&["query", "--list"]);
    for name in [
        "clients_vs_cases_per_unit",
        "repeat_investigations_per_child",
        "days_report_to_decision",
        "quarantine_summary",
    ] {
        assert!(list.contains(name), "{list}");
    }
    assert!(list.contains("--param from=<date (YYYY-MM-DD), default 2024-01-01>"), "{list}");

    // One unit's row equals the same query with the unit left out, filtered.
    let days_to_decision = |params: &[&str]| {
        let mut args = vec!["query", "--register", reg, "--named", "days_report_to_decision", "--format", "csv"];
        for p in params {
            args.extend(["--param", p]);
        }
        ok(&args)
    };
    let all = days_to_decision(&[]);
    let one = days_to_decision(&["unit=bou_norr"]);
    let row = all.lines().find(|l| l.starts_with("bou_norr,")).expect("bou_norr has decisions");
    assert_eq!(one.lines().nth(1), Some(row));
    assert_eq!(one.lines().count(), 2);

    // A value is data: quotes in it cannot change the query.
    let injected = days_to_decision(&["unit=x' OR '1'='1"]);
    assert_eq!(injected.lines().count(), 1, "only the header: {injected}");

    // Parameter errors name the parameter.
    let (code, _, err) = run(&["query", "--register", reg, "--named", "monthly_flow", "--param", "from=2024-13-01"]);
    assert_eq!(code, 2);
    assert!(err.contains("parameter 'from'") && err.contains("not a date"), "{err}");
    let (code, _, err) = run(&["query", "--register", reg, "--named", "monthly_flow", "--param", "form=2024-01-01"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean 'from'"), "{err}");
    let (code, _, err) = run(&["query", "--register", reg, "--named", "monthly_flo"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean 'monthly_flow'"), "{err}");
}

#[test]
fn an_analysts_own_named_queries_are_checked_like_the_shipped_ones() {
    let d = dirty();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("opened_since.sql"),
        "--- title = \"Opened since\"\n--- purpose = \"Cases opened on or after a day.\"\n--- [params]\n\
         --- since = { type = \"date\", doc = \"First day\" }\nSELECT count(*) AS n FROM cases WHERE opened >= $since",
    )
    .unwrap();
    let q = s(tmp.path());
    let out = ok(&[
        "query",
        "--register",
        s(&d.register),
        "--queries",
        q,
        "--named",
        "opened_since",
        "--param",
        "since=2000-01-01",
        "--format",
        "csv",
    ]);
    let total: i64 = cases_per_unit(&d.register).values().sum();
    assert_eq!(out.lines().nth(1), Some(total.to_string().as_str()));
    let (code, _, err) = run(&["query", "--register", s(&d.register), "--queries", q, "--named", "opened_since"]);
    assert_eq!(code, 2);
    assert!(err.contains("needs parameter 'since'"), "{err}");
    std::fs::write(tmp.path().join("broken.sql"), "--- title = \"B\"\n--- purpose = \"b\"\nSELECT $nope").unwrap();
    let (code, _, err) = run(&["query", "--queries", q, "--list"]);
    assert_eq!(code, 2);
    assert!(err.contains("broken.sql:3: $nope is used but not declared"), "{err}");
}

#[test]
fn the_shell_describes_runs_and_survives_errors() {
    let d = dirty();
    let mut child = utfall()
        .args(["sql", "--register", s(&d.register)])
        .env("XDG_STATE_HOME", tempfile::tempdir().unwrap().path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"\\d\n\\d cases\nSELECT count(*)\n  AS n FROM clients;\nDROP TABLE cases;\nSELECT unti FROM cases;\n\\n quarantine_summary\n\\format csv\nSELECT 7 AS seven;\n\\q\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("indicators_public") && text.contains("ärenden"), "\\d: {text}");
    assert!(text.contains("opened") && text.contains("Date32"), "\\d cases: {text}");
    let clients = read_parquet(&d.register.join("clients.parquet")).height();
    assert!(text.contains(&format!("| {clients} |")) || text.contains(&format!(" {clients} ")), "{text}");
    assert!(text.contains("error: refused: DROP TABLE"), "{text}");
    assert!(text.contains("did you mean 'unit'"), "{text}");
    assert!(text.contains("rows_rejected"), "named query in the shell: {text}");
    assert!(text.contains("seven\n7\n"), "csv format: {text}");
}

/// A notebook in a temporary folder.
fn notebook(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const COUNTS_NB: &str = "+++\ntitle = \"Counts\"\n[params]\nsince = { type = \"date\", default = \"2000-01-01\", doc = \"d\" }\n+++\n\n# Cases per unit\n\n```sql name=per_unit\nSELECT unit, count(*) AS n, avg(opened - DATE '2000-01-01') AS mean_day\nFROM cases WHERE opened >= $since GROUP BY unit ORDER BY unit\n```\n\n```chart\ntype = \"bar\"\ndata = \"per_unit\"\nx = \"unit\"\ny = \"n\"\n```\n";

/// The rendered table's cells, row by row.
fn table_rows(html: &str) -> Vec<Vec<String>> {
    let body = html
        .split("<figure class=\"sql\">")
        .nth(1)
        .unwrap()
        .split("<tbody>")
        .nth(1)
        .unwrap()
        .split("</tbody>")
        .next()
        .unwrap();
    body.split("<tr>")
        .skip(1)
        .map(|r| {
            r.split("<td")
                .skip(1)
                .map(|c| c.split('>').nth(1).unwrap().split("</td").next().unwrap().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn notebook_tables_hold_the_register_numbers_and_small_counts_are_withheld() {
    let d = dirty();
    let tmp = tempfile::tempdir().unwrap();
    let nb = notebook(tmp.path(), "counts.md", COUNTS_NB);
    let out = tmp.path().join("counts.html");
    // A late start leaves some units with few cases.
    let since = "2025-12-20";
    let since_param = format!("since={since}");
    let render = |extra: &[&str]| {
        let mut args = vec!["notebook", "run", s(&nb), "--register", s(&d.register), "--out", s(&out), "--param"];
        args.push(&since_param);
        args.extend_from_slice(extra);
        ok(&args);
        std::fs::read_to_string(&out).unwrap()
    };
    let html = render(&[]);
    let cases = read_parquet(&d.register.join("cases.parquet"));
    let since_days = (chrono::NaiveDate::parse_from_str(since, "%Y-%m-%d").unwrap()
        - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
    .num_days() as i32;
    let late = cases
        .lazy()
        .filter(col("opened").cast(DataType::Int32).gt_eq(lit(since_days)))
        .group_by([col("unit")])
        .agg([len().alias("n")])
        .collect()
        .unwrap();
    let want = unit_counts(&late);
    assert!(want.values().any(|n| *n < 5) && want.values().any(|n| *n >= 5), "the test needs both: {want:?}");
    let rows = table_rows(&html);
    assert_eq!(rows.len(), want.len());
    let (mut withheld, mut withheld_sum) = (0, 0);
    for row in &rows {
        let n = want[&row[0]];
        if row[1] == ".." {
            assert_eq!(row[2], "..", "{row:?}");
            withheld += 1;
            withheld_sum += n;
        } else {
            assert!(n >= 5, "{row:?}");
            assert_eq!(row[1], n.to_string(), "{row:?}");
            assert_ne!(row[2], "..");
        }
    }
    // Every small count withheld, and beside them (complementary) so that a
    // total known elsewhere leaves none alone or pinned below 5.
    let small = want.values().filter(|n| **n < 5).count();
    assert!(rows.iter().all(|r| want[&r[0]] >= 5 || r[1] == ".."));
    assert!(withheld >= 2 && withheld_sum >= 5 && withheld <= small + 2, "{withheld} rows of {withheld_sum}");
    assert!(
        html.contains(&format!(
            "{withheld} of {} rows withheld (counts below 5, or that would reveal them)",
            want.len()
        )),
        "chart note"
    );
    assert!(html.contains("<strong>2025-12-20</strong>"), "the parameter is stamped");
    assert!(!html.contains("UNSUPPRESSED"));

    // The analyst's copy shows them, and says so.
    let html = render(&["--unsuppressed"]);
    for row in table_rows(&html) {
        assert_eq!(row[1], want[&row[0]].to_string());
    }
    assert!(html.contains("UNSUPPRESSED: small counts shown. Not for distribution"));
}

#[test]
fn a_failing_cell_stops_the_run_naming_notebook_cell_and_line() {
    let d = dirty();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x.html");
    std::fs::write(&out, "the previous report").unwrap();
    let cases = [
        // (notebook, expected start of the error)
        (
            COUNTS_NB.replace("FROM cases WHERE", "FROM casse WHERE"),
            "cell 1 (sql 'per_unit'), line 11: unknown table 'casse'",
        ),
        (COUNTS_NB.replace("GROUP BY unit ORDER", "GROUP BY unit ORDER ORDER"), "cell 1 (sql 'per_unit'), line 11:"),
        (COUNTS_NB.replace("y = \"n\"", "y = \"m\""), "cell 2 (bar chart), line 14: no column 'm'"),
        (COUNTS_NB.replace("$since", "$until"), "cell 1 (sql 'per_unit'), line 11: $until is not a parameter"),
        (
            COUNTS_NB.replace("```sql name=per_unit", "```sql name=per_unit\nDROP TABLE cases;"),
            "cell 1 (sql 'per_unit'), line 10:",
        ),
    ];
    for (text, want) in cases {
        let nb = notebook(tmp.path(), "bad.md", &text);
        let (code, _, err) = run(&["notebook", "run", s(&nb), "--register", s(&d.register), "--out", s(&out)]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(&format!("bad.md: {want}")), "want {want:?} in {err}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "the previous report", "a failed run keeps the old report");
    }
}

#[test]
fn shipped_notebooks_run_and_are_self_contained() {
    let d = dirty();
    let tmp = tempfile::tempdir().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("notebooks");
    let mut shipped: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    shipped.sort();
    assert!(shipped.len() >= 3);
    let build_id = crate::support::manifest(&d.register)["build_id"].as_str().unwrap().to_string();
    for nb in shipped {
        let out = tmp.path().join(nb.file_name().unwrap()).with_extension("html");
        ok(&["notebook", "run", s(&nb), "--register", s(&d.register), "--out", s(&out)]);
        let html = std::fs::read_to_string(&out).unwrap();
        let text = std::fs::read_to_string(&nb).unwrap();
        let cells = text.matches("```sql").count() + text.matches("```chart").count();
        assert_eq!(html.matches("<figure").count(), cells, "{}: every cell is in the report", nb.display());
        assert!(html.contains(&build_id), "the manifest is at the foot");
        assert!(html.contains("@page { size: A4"));
        for outside in ["<script", "src=\"http", "href=\"http", "url(http", "@import"] {
            assert!(!html.contains(outside), "{}: {outside}", nb.display());
        }
    }
}

#[test]
fn a_notebook_cannot_put_a_script_into_its_page() {
    // Markdown that carries HTML: a script, an event handler, a javascript:
    // link, an iframe; and a value from the data that looks like HTML.
    let d = dirty();
    let tmp = tempfile::tempdir().unwrap();
    let text = "+++\ntitle = \"Hostile <b>title</b>\"\n+++\n\n# Rubrik\n\nVanlig text med **fetstil**.\n\n\
                <script>alert(1)</script>\n\n<img src=x onerror=\"alert(2)\">\n\n[klick](javascript:alert(3))\n\n\
                <iframe src=\"https://example.org\"></iframe>\n\n\
                ```sql name=v counts=\nSELECT '<script>alert(4)</script>' AS label, 'x\" onmouseover=\"alert(5)' AS attr\n```\n";
    let nb = notebook(tmp.path(), "hostile.md", text);
    let out = tmp.path().join("hostile.html");
    ok(&["notebook", "run", s(&nb), "--register", s(&d.register), "--out", s(&out)]);
    let html = std::fs::read_to_string(&out).unwrap();
    for live in ["<script", "onerror", "javascript:", "<iframe", "onmouseover=\"alert"] {
        assert!(!html.contains(live), "{live} reached the page:\n{html}");
    }
    assert!(html.contains("<strong>fetstil</strong>"), "ordinary Markdown stays");
    assert!(html.contains("&lt;script&gt;alert(4)&lt;/script&gt;"), "a value from the data is escaped");
    assert!(html.contains("<title>Hostile &lt;b&gt;title&lt;/b&gt;</title>"));
    assert!(
        html.contains("http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'"),
        "scripts are forbidden"
    );
}

#[test]
fn a_query_stops_at_its_time_and_memory_limits_and_says_how_to_raise_them() {
    let d = dirty();
    let register = s(&d.register);
    let started = std::time::Instant::now();
    let (code, _, err) = run(&[
        "query",
        "--register",
        register,
        "--time-limit",
        "2s",
        "select count(*) from contacts a, contacts b, cases c where a.contact_id < b.contact_id and c.case_id <> a.case_id",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("stopped at its time limit of 2 s") && err.contains("--time-limit"), "{err}");
    assert!(started.elapsed().as_secs() < 60, "stopped near its limit");
    let (code, _, err) = run(&[
        "query",
        "--register",
        register,
        "--memory-limit",
        "16KiB",
        "select count(*) from contacts a join contacts b on a.client_id = b.client_id",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("stopped at its memory limit") && err.contains("--memory-limit"), "{err}");
    // A limit that is not one is a usage error.
    let (code, _, err) = run(&["query", "--register", register, "--time-limit", "soon", "select 1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a time"), "{err}");
    // Within the limits, the same session answers.
    ok(&[
        "query",
        "--register",
        register,
        "--memory-limit",
        "512MiB",
        "--time-limit",
        "1m",
        "select count(*) from cases",
    ]);
}
