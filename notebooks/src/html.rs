//! One self-contained HTML file per run: inline CSS (screen and A4 print),
//! inline SVG charts, no scripts, no external requests.

use std::collections::HashMap;
use std::fmt::Write as _;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use sha2::{Digest, Sha256};
use utfall_disclosure::{Policy, WITHHELD};
use utfall_queries::params::{Bound, bind, placeholders};
use utfall_queries::{Answer, QueryError, Session};
use utfall_report::format::number;
use utfall_report::{Page, escape, markdown};

use crate::chart;
use crate::parse::{Cell, CellKind, Notebook, Part, SqlOptions};
use crate::suppress::{Suppression, small_counts};
use crate::{NotebookError, Report, RunOptions};

pub fn render(
    notebook: &Notebook,
    source: &str,
    session: &Session,
    options: &RunOptions,
    policy: &Policy,
) -> Result<Report, NotebookError> {
    let bound = bind(&notebook.front.params, &options.params, &notebook.name)?;
    let mut body = String::new();
    let mut results: HashMap<String, (Answer, Suppression)> = HashMap::new();
    let mut cells = 0;
    let mut suppressed_values = 0;
    for part in &notebook.parts {
        match part {
            Part::Prose(text) => body.push_str(&markdown(text)),
            Part::Cell(cell) => {
                cells += 1;
                let fail = |message: String, line: usize| cell_error(notebook, cell, line, message);
                match &cell.kind {
                    CellKind::Sql(sql_options) => {
                        let answer = run_cell(session, notebook, cell, &cell.text, cell.line + 1, &bound)?;
                        let suppression = suppression(&answer, sql_options.counts.as_deref(), options, policy)
                            .map_err(|m| fail(m, cell.line))?;
                        suppressed_values += suppression.values();
                        table(&mut body, &answer, &suppression, sql_options, &cell.text, policy.threshold);
                        if let Some(name) = &sql_options.name {
                            results.insert(name.clone(), (answer, suppression));
                        }
                    }
                    CellKind::Chart(spec) => {
                        let own;
                        let (answer, suppression) = match (&spec.data, &spec.sql) {
                            (Some(name), _) => {
                                let (a, s) = results.get(name).expect("references checked when parsed");
                                (a, s)
                            }
                            (None, Some(sql)) => {
                                // The spec's own query starts on the line naming `sql`.
                                let line = cell.line
                                    + 1
                                    + cell.text.lines().position(|l| l.trim_start().starts_with("sql")).unwrap_or(0);
                                let answer = run_cell(session, notebook, cell, sql, line, &bound)?;
                                let s = suppression(&answer, spec.counts.as_deref(), options, policy)
                                    .map_err(|m| fail(m, line))?;
                                own = (answer, s);
                                (&own.0, &own.1)
                            }
                            (None, None) => unreachable!("checked when parsed"),
                        };
                        let drawn = chart::draw(spec, answer, suppression, policy).map_err(|m| fail(m, cell.line))?;
                        body.push_str("<figure class=\"chart\">");
                        body.push_str(&drawn.svg);
                        let mut caption = spec.caption.clone().map(|c| escape(&c)).unwrap_or_default();
                        for note in drawn.notes {
                            let _ = write!(caption, " <span class=\"note\">{}</span>", escape(&note));
                        }
                        if !caption.is_empty() {
                            let _ = write!(body, "<figcaption>{caption}</figcaption>");
                        }
                        body.push_str("</figure>\n");
                    }
                }
            }
        }
    }
    let html = page(notebook, source, session, options, &bound, policy, &body);
    Ok(Report { html, cells, suppressed_values, threshold: policy.threshold })
}

fn suppression(
    answer: &Answer,
    counts: Option<&[String]>,
    options: &RunOptions,
    policy: &Policy,
) -> Result<Suppression, String> {
    if options.unsuppressed { Ok(Suppression::default()) } else { small_counts(answer, counts, policy) }
}

/// Run one cell's SQL; an error names the notebook, the cell and the line
/// (the parser's line within the SQL, where it gives one).
fn run_cell(
    session: &Session,
    notebook: &Notebook,
    cell: &Cell,
    sql: &str,
    first_line: usize,
    bound: &Bound,
) -> Result<Answer, NotebookError> {
    let fail = |message: String, line: usize| cell_error(notebook, cell, line, message);
    let used = placeholders(sql);
    if let Some(missing) = used.iter().find(|p| !bound.values.iter().any(|(n, _)| n == *p)) {
        let line = first_line + word_line(sql, &format!("${missing}")).unwrap_or(1) - 1;
        return Err(fail(format!("${missing} is not a parameter of this notebook (declare it under [params])"), line));
    }
    let values: Vec<_> = bound.values.iter().filter(|(n, _)| used.contains(n)).cloned().collect();
    session.run(sql, &values).map_err(|e| {
        let message = match &e {
            QueryError::Sql(m) | QueryError::ReadOnly(m) => m.clone(),
            other => other.to_string(),
        };
        let line = sql_line(&message).or_else(|| named_line(&message, sql)).map_or(first_line, |l| first_line + l - 1);
        fail(message, line)
    })
}

fn cell_error(notebook: &Notebook, cell: &Cell, line: usize, message: String) -> NotebookError {
    NotebookError::Cell { notebook: notebook.name.clone(), cell: cell.number, what: cell.what(), line, message }
}

/// "... at Line: 3, Column: 7" in a parser error.
fn sql_line(message: &str) -> Option<usize> {
    let rest = message.split("Line: ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// The line (1-based) of the SQL naming the unknown table or column of an error.
fn named_line(message: &str, sql: &str) -> Option<usize> {
    let name =
        ["unknown table '", "unknown column '"].iter().find_map(|p| message.split(p).nth(1))?.split('\'').next()?;
    word_line(sql, name.rsplit('.').next()?)
}

/// The first line (1-based) holding a word, not as part of a longer name.
fn word_line(sql: &str, word: &str) -> Option<usize> {
    let is_name = |c: char| c.is_alphanumeric() || c == '_';
    sql.lines()
        .position(|line| {
            line.match_indices(word).any(|(i, _)| {
                let before = line[..i].chars().next_back();
                let after = line[i + word.len()..].chars().next();
                !before.is_some_and(is_name) && !after.is_some_and(is_name)
            })
        })
        .map(|i| i + 1)
}

fn table(
    body: &mut String,
    answer: &Answer,
    suppression: &Suppression,
    options: &SqlOptions,
    sql: &str,
    threshold: u32,
) {
    let fields = answer.schema.fields();
    let numeric: Vec<bool> = fields.iter().map(|f| f.data_type().is_numeric()).collect();
    body.push_str("<figure class=\"sql\"><div class=\"scroll\"><table><thead><tr>");
    for (f, num) in fields.iter().zip(&numeric) {
        let _ = write!(body, "<th{}>{}</th>", if *num { " class=\"num\"" } else { "" }, escape(f.name()));
    }
    body.push_str("</tr></thead><tbody>\n");
    let total = answer.rows();
    let mut row = 0;
    'batches: for batch in &answer.batches {
        let formatted: Vec<Vec<String>> = batch.columns().iter().map(column_text).collect();
        for r in 0..batch.num_rows() {
            let cells: Vec<&String> = formatted.iter().map(|column| &column[r]).collect();
            if row >= options.rows {
                break 'batches;
            }
            let withheld = suppression.withheld.get(row).copied().unwrap_or(false);
            body.push_str("<tr>");
            for (c, num) in numeric.iter().enumerate() {
                let hidden = withheld && suppression.hidden_columns.contains(&c);
                let text = if hidden { WITHHELD.to_string() } else { escape(cells[c]) };
                let count = suppression.count_columns.contains(&c);
                let class = match (*num, hidden, count) {
                    (true, true, true) => " class=\"num count withheld\"",
                    (true, true, false) => " class=\"num withheld\"",
                    (true, false, true) => " class=\"num count\"",
                    (true, false, false) => " class=\"num\"",
                    _ => "",
                };
                let _ = write!(body, "<td{class}>{text}</td>");
            }
            body.push_str("</tr>\n");
            row += 1;
        }
    }
    body.push_str("</tbody></table></div><figcaption>");
    if let Some(caption) = &options.caption {
        let _ = write!(body, "{} ", escape(caption));
    }
    let shown = total.min(options.rows);
    if shown < total {
        let _ = write!(
            body,
            "<span class=\"note\">Visar {shown} av {total} rader (showing {shown} of {total} rows).</span> "
        );
    } else {
        let _ = write!(
            body,
            "<span class=\"note\">{total} rad{} ({total} row{}).</span> ",
            if total == 1 { "" } else { "er" },
            if total == 1 { "" } else { "s" }
        );
    }
    if suppression.rows() > 0 {
        let _ = write!(
            body,
            "<span class=\"note\">{} rad{} med antal under {threshold}, eller som annars skulle röja dem, visas som {WITHHELD} ({} row{} with counts below {threshold}, or that would reveal them, shown as {WITHHELD}).</span>",
            suppression.rows(),
            if suppression.rows() == 1 { "" } else { "er" },
            suppression.rows(),
            if suppression.rows() == 1 { "" } else { "s" },
        );
    }
    let _ = writeln!(
        body,
        "</figcaption><details><summary>SQL</summary><pre>{}</pre></details></figure>",
        escape(sql.trim())
    );
}

/// A column's values as display text: numbers rounded for reading, nulls empty.
fn column_text(column: &ArrayRef) -> Vec<String> {
    let floats: Option<Vec<Option<f64>>> = match column.data_type() {
        DataType::Float64 => {
            let a = column.as_primitive::<Float64Type>();
            Some((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))).collect())
        }
        DataType::Float32 => {
            let a = column.as_primitive::<Float32Type>();
            Some((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i) as f64)).collect())
        }
        _ => None,
    };
    if let Some(values) = floats {
        return values.into_iter().map(|v| v.map(number).unwrap_or_default()).collect();
    }
    let options = FormatOptions::default().with_null("");
    match ArrayFormatter::try_new(column.as_ref(), &options) {
        Ok(f) => (0..column.len()).map(|i| f.value(i).to_string()).collect(),
        Err(e) => vec![format!("({e})"); column.len()],
    }
}

fn page(
    notebook: &Notebook,
    source: &str,
    session: &Session,
    options: &RunOptions,
    bound: &Bound,
    policy: &Policy,
    body: &str,
) -> String {
    let front = &notebook.front;
    let manifest = session.manifest();
    let threshold = policy.threshold;
    let mut html = String::new();
    if options.unsuppressed {
        html.push_str(
            "<div class=\"stamp\">OMASKERAD: små antal visas. Ej för spridning \
             (UNSUPPRESSED: small counts shown. Not for distribution)</div>\n",
        );
    }
    let _ = writeln!(html, "<header>\n<h1>{}</h1>", escape(&front.title));
    if let Some(summary) = &front.summary {
        let _ = writeln!(html, "<p class=\"summary\">{}</p>", escape(summary));
    }
    html.push_str("<table class=\"stamp-table\"><tbody>\n");
    for (name, text, from_default) in &bound.shown {
        let spec = &front.params[name];
        let value = text.clone().unwrap_or_else(|| "(alla / all)".into());
        let origin = if text.is_none() {
            "ej angiven (not given)"
        } else if *from_default {
            "standardvärde (default)"
        } else {
            "angiven (given)"
        };
        let _ = writeln!(
            html,
            "<tr><th>{}</th><td><strong>{}</strong> <span class=\"note\">{origin}</span></td><td class=\"note\">{}</td></tr>",
            escape(name),
            escape(&value),
            escape(&spec.doc)
        );
    }
    let protection = if options.unsuppressed {
        "<strong>Inga</strong>: analytikerns omaskerade arbetskopia (none: the analyst's unsuppressed working copy)"
            .to_string()
    } else {
        format!(
            "Antal under {threshold} och talen på samma rad visas som <code>{WITHHELD}</code>, och fler rader där \
             en summa annars skulle röja dem (counts below {threshold}, and the numbers on their row, shown as \
             <code>{WITHHELD}</code>, and more rows where a total would otherwise reveal them)"
        )
    };
    let _ = writeln!(html, "<tr><th>röjandeskydd</th><td colspan=\"2\">{protection}</td></tr>");
    let _ = writeln!(
        html,
        "<tr><th>register</th><td colspan=\"2\">build {} · data {} – {}</td></tr>\n</tbody></table>\n</header>\n<main>",
        escape(&manifest.build_id),
        escape(manifest.data_from.as_deref().unwrap_or("?")),
        escape(manifest.data_to.as_deref().unwrap_or("?"))
    );
    html.push_str(body);
    html.push_str("</main>\n<footer>\n<h2>Underlag (provenance)</h2>\n<dl>\n");
    let mut item = |k: &str, v: String| {
        let _ = writeln!(html, "<dt>{}</dt><dd>{}</dd>", escape(k), v);
    };
    item("notebook", format!("{} (sha256 {})", escape(&notebook.name), &hex::encode(Sha256::digest(source))[..16]));
    item(
        "register build",
        format!(
            "{} · built {} · as of {} · schema {} · {} {}",
            escape(&manifest.build_id),
            escape(&manifest.built_at),
            escape(&manifest.as_of),
            escape(&manifest.schema_version),
            escape(&manifest.tool),
            escape(&manifest.tool_version)
        ),
    );
    item("pseudonym key", escape(&manifest.key_id));
    match &manifest.indicators {
        Some(run) => {
            item(
                "indicator catalogue",
                format!(
                    "version {} (sha256 {}) · computed {}",
                    escape(&run.catalogue_version),
                    escape(&run.catalogue_sha256[..16.min(run.catalogue_sha256.len())]),
                    escape(&run.computed_at)
                ),
            );
            let definitions: Vec<String> =
                run.definitions.iter().map(|(id, v)| format!("{} v{v}", escape(id))).collect();
            item("definitions", definitions.join(", "));
            if let Some(t) = &run.targets_sha256 {
                item("targets", format!("sha256 {}", escape(&t[..16.min(t.len())])));
            }
        }
        None => item("indicator catalogue", "none computed in this build".into()),
    }
    item(
        "generated",
        format!("{} by utfall {}", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"), env!("CARGO_PKG_VERSION")),
    );
    item("röjandeskydd (disclosure control)", escape(&policy.describe()));
    html.push_str("</dl>\n</footer>\n");
    Page { lang: "sv", title: &front.title, extra_style: "" }.render(&html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_lines_are_found() {
        assert_eq!(sql_line("Expected: an expression, found: FROM at Line: 3, Column: 8"), Some(3));
        assert_eq!(sql_line("unknown table 'x'"), None);
        let sql = "SELECT a\nFROM casses, casse\nWHERE b = $unit";
        assert_eq!(named_line("unknown table 'casse'\ntables: ...", sql), Some(2));
        assert_eq!(word_line(sql, "$unit"), Some(3));
        assert_eq!(word_line(sql, "cass"), None);
    }
}
