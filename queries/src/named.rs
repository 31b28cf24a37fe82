//! Named queries: `queries/*.sql`, each a TOML header in `---` comment lines
//! (title, purpose, typed parameters) followed by one SQL query that uses the
//! parameters as `$name` placeholders:
//!
//! ```sql
//! --- title = "Clients and cases per unit"
//! --- purpose = "How many distinct clients and cases each unit had open in a period."
//! --- [params]
//! --- from = { type = "date", default = "2024-01-01", doc = "First day of the period" }
//! SELECT unit, count(*) FROM cases WHERE opened >= $from GROUP BY unit ORDER BY unit
//! ```
//!
//! The shipped queries are compiled into the command; `--queries DIR` adds an
//! analyst's own folder of the same format.

use std::path::Path;

use serde::Deserialize;

use crate::QueryError;
use crate::params::{ParamSpecs, placeholders};

/// The shipped named queries, compiled in (a test checks this list against
/// the folder).
pub const BUILTIN: &[(&str, &str)] = &[
    ("clients_vs_cases_per_unit", include_str!("../clients_vs_cases_per_unit.sql")),
    ("clients_in_several_units", include_str!("../clients_in_several_units.sql")),
    ("repeat_investigations_per_child", include_str!("../repeat_investigations_per_child.sql")),
    ("days_report_to_decision", include_str!("../days_report_to_decision.sql")),
    ("interventions_by_outcome", include_str!("../interventions_by_outcome.sql")),
    ("prelim_within_14_days", include_str!("../prelim_within_14_days.sql")),
    ("monthly_flow", include_str!("../monthly_flow.sql")),
    ("contacts_by_channel", include_str!("../contacts_by_channel.sql")),
    ("assistance_months_per_household", include_str!("../assistance_months_per_household.sql")),
    ("assessment_change_by_unit", include_str!("../assessment_change_by_unit.sql")),
    ("quarantine_summary", include_str!("../quarantine_summary.sql")),
    ("indicator_trend", include_str!("../indicator_trend.sql")),
];

#[derive(Debug, Clone)]
pub struct NamedQuery {
    /// The file's stem.
    pub name: String,
    pub title: String,
    pub purpose: String,
    pub params: ParamSpecs,
    pub sql: String,
    /// Where it came from: "built-in" or the file's path.
    pub source: String,
    /// The file line of the SQL's first line (for error messages).
    pub sql_line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    title: String,
    purpose: String,
    #[serde(default)]
    params: ParamSpecs,
}

impl NamedQuery {
    /// Parse one named-query file's text.
    pub fn parse(name: &str, text: &str, source: &str) -> Result<NamedQuery, QueryError> {
        let lines: Vec<&str> = text.lines().collect();
        let header_len = lines.iter().take_while(|l| l.starts_with("---")).count();
        let definition =
            |line: usize, message: String| QueryError::Definition { file: source.to_string(), line, message };
        if header_len == 0 {
            return Err(definition(1, "no header: a named query starts with `--- title = \"...\"` lines".into()));
        }
        let header_text: String = lines[..header_len]
            .iter()
            .map(|l| {
                let rest = &l[3..];
                rest.strip_prefix(' ').unwrap_or(rest)
            })
            .collect::<Vec<_>>()
            .join("\n");
        let header: Header = toml::from_str(&header_text).map_err(|e| {
            let line = e.span().map_or(1, |s| header_text[..s.start].matches('\n').count() + 1);
            definition(line, format!("header: {}", e.message()))
        })?;
        let sql = lines[header_len..].join("\n");
        if sql.trim().is_empty() {
            return Err(definition(header_len + 1, "no SQL after the header".into()));
        }
        let used = placeholders(&sql);
        for name in &used {
            if !header.params.contains_key(name) {
                let line = lines.iter().position(|l| !l.starts_with("---") && l.contains(&format!("${name}")));
                return Err(definition(
                    line.map_or(header_len + 1, |i| i + 1),
                    format!("${name} is used but not declared under [params]"),
                ));
            }
        }
        if let Some(unused) = header.params.keys().find(|p| !used.contains(*p)) {
            return Err(definition(1, format!("parameter '{unused}' is declared but the SQL never uses ${unused}")));
        }
        Ok(NamedQuery {
            name: name.to_string(),
            title: header.title,
            purpose: header.purpose.trim().to_string(),
            params: header.params,
            sql,
            source: source.to_string(),
            sql_line: header_len + 1,
        })
    }
}

/// The shipped named queries.
pub fn builtin_queries() -> Vec<NamedQuery> {
    BUILTIN
        .iter()
        .map(|(name, text)| {
            NamedQuery::parse(name, text, &format!("queries/{name}.sql")).expect("shipped named queries parse (tested)")
        })
        .collect()
}

/// The shipped named queries and, if given, those in an analyst's folder
/// (`*.sql`); a name may not be defined twice.
pub fn load_named(dir: Option<&Path>) -> Result<Vec<NamedQuery>, QueryError> {
    let mut all = builtin_queries();
    if let Some(dir) = dir {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| QueryError::Param(format!("cannot read the queries folder {}: {e}", dir.display())))?;
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        paths.sort();
        for path in paths {
            let source = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| QueryError::Definition {
                file: source.clone(),
                line: 1,
                message: e.to_string(),
            })?;
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let query = NamedQuery::parse(&name, &text, &source)?;
            if let Some(other) = all.iter().find(|q| q.name == query.name) {
                return Err(QueryError::Definition {
                    file: source,
                    line: 1,
                    message: format!("a named query '{}' already exists ({})", query.name, other.source),
                });
            }
            all.push(query);
        }
    }
    Ok(all)
}

/// Find a named query by name, suggesting the nearest on a typo.
pub fn find<'a>(queries: &'a [NamedQuery], name: &str) -> Result<&'a NamedQuery, QueryError> {
    queries.iter().find(|q| q.name == name).ok_or_else(|| {
        let mut message = format!("no named query '{name}'");
        if let Some(near) = crate::nearest(name, queries.iter().map(|q| q.name.as_str())) {
            message.push_str(&format!("; did you mean '{near}'?"));
        }
        message.push_str(" (see `utfall query --list`)");
        QueryError::Param(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_list_is_the_folder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
        listed.sort();
        assert_eq!(on_disk, listed);
        for (name, text) in BUILTIN {
            NamedQuery::parse(name, text, name).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn header_errors_name_the_line() {
        let text = "--- title = \"t\"\n--- purpose = \"p\"\n--- [params]\n--- a = { type = \"dates\", doc = \"d\" }\nSELECT $a";
        let e = NamedQuery::parse("x", text, "x.sql").unwrap_err().to_string();
        assert!(e.starts_with("x.sql:4:"), "{e}");
        let text = "--- title = \"t\"\n--- purpose = \"p\"\nSELECT 1\nWHERE x = $unit";
        let e = NamedQuery::parse("x", text, "x.sql").unwrap_err().to_string();
        assert!(e.starts_with("x.sql:4:") && e.contains("$unit is used but not declared"), "{e}");
        let text =
            "--- title = \"t\"\n--- purpose = \"p\"\n--- [params]\n--- a = { type = \"int\", doc = \"d\" }\nSELECT 1";
        let e = NamedQuery::parse("x", text, "x.sql").unwrap_err().to_string();
        assert!(e.contains("'a' is declared but"), "{e}");
    }
}
