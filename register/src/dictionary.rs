//! The data dictionary (`docs/data-dictionary.md`), rendered from the schema
//! so that a test can keep the document in step with the code.

use std::fmt::Write;

use crate::schema::{self, Codes, Kind, TABLES};

fn kind_text(k: Kind) -> String {
    match k {
        Kind::Personnummer => "personnummer -> pseudonym".into(),
        Kind::Id => "id (text)".into(),
        Kind::PseudonymisedId => "id -> pseudonym".into(),
        Kind::Date => "date".into(),
        Kind::Month => "month (YYYY-MM)".into(),
        Kind::Int { min, max } => format!("integer {min}..{max}"),
        Kind::Decimal { min, max } => format!("decimal {min}..{max}"),
        Kind::Code(list) => format!("code: {}", list.name),
        Kind::Text { max_chars } => format!("text (max {max_chars})"),
        Kind::Bool => "yes/no".into(),
    }
}

/// A Markdown table of Parquet columns: name, type, nullable, description.
fn column_table(w: &mut String, heading: &str, columns: &[schema::RegisterColumn]) {
    writeln!(w, "| {heading} | type | nullable | description |\n|---|---|---|---|").unwrap();
    for c in columns {
        let nullable = if c.nullable { "yes" } else { "no" };
        writeln!(w, "| `{}` | {} | {nullable} | {} |", c.name, c.dtype, c.description).unwrap();
    }
}

/// The whole data dictionary as Markdown.
pub fn render() -> String {
    let mut s = String::new();
    let w = &mut s;
    writeln!(w, "# Data dictionary (register schema {})\n", schema::SCHEMA_VERSION).unwrap();
    writeln!(w, "Generated from `register/src/schema.rs`; a test fails when the two differ.").unwrap();
    writeln!(w, "Regenerate with `UTFALL_BLESS=1 cargo test -p utfall-register dictionary`.\n").unwrap();
    writeln!(w, "Each table lists its **exchange-format** columns (what an export must hold after mapping)").unwrap();
    writeln!(w, "and its **register** columns (the Parquet file). `personnummer` never reaches the register:").unwrap();
    writeln!(w, "it becomes `client_id`, a keyed pseudonym, and in `clients` also `birth_year` and `sex`.\n").unwrap();
    for t in TABLES {
        writeln!(w, "## {} ({})\n\n{}\n", t.name, t.swedish, t.description).unwrap();
        writeln!(
            w,
            "Key: `{}`. Sorted by {} ({}).\n",
            t.key,
            t.sort.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "),
            t.sort_rationale
        )
        .unwrap();
        writeln!(w, "| exchange column | type | required | description |\n|---|---|---|---|").unwrap();
        for c in t.columns {
            writeln!(
                w,
                "| `{}` | {} | {} | {} |",
                c.name,
                kind_text(c.kind),
                if c.required { "yes" } else { "no" },
                c.description
            )
            .unwrap();
        }
        writeln!(w).unwrap();
        column_table(w, "register column", &t.register_columns());
        if !t.order.is_empty() {
            let rules: Vec<String> = t.order.iter().map(|(a, b)| format!("`{a}` <= `{b}`")).collect();
            writeln!(w, "\nDate order checked: {}.", rules.join(", ")).unwrap();
        }
        if !t.references.is_empty() {
            let refs: Vec<String> = t
                .references
                .iter()
                .map(|r| format!("`{}` -> {}{}", r.column, r.table, if r.same_client { " (same client)" } else { "" }))
                .collect();
            writeln!(w, "References checked: {}.", refs.join(", ")).unwrap();
        }
        writeln!(w).unwrap();
    }
    writeln!(w, "# Derived tables\n").unwrap();
    writeln!(w, "Computed from the tables above by `utfall indicators` (also run by `build` and `demo`) and written")
        .unwrap();
    writeln!(w, "into the same build of the register. Only tables marked *for managers* may be shown outside the")
        .unwrap();
    writeln!(w, "analysts' team: their small counts are suppressed.\n").unwrap();
    let model_note = "# Model outputs\n\nWritten by `utfall model score` (the optional risk model) into a new build of the\nregister. Advisory only: a score ranks and explains, a person decides.\n";
    for (k, t) in schema::DERIVED.iter().chain(schema::MODEL_OUTPUTS).enumerate() {
        if k == schema::DERIVED.len() {
            writeln!(w, "{model_note}").unwrap();
        }
        let audience = if t.for_managers { "for managers (small counts suppressed)" } else { "for analysts" };
        writeln!(
            w,
            "## {} ({})\n\n{}\n\nGrain: {}. Audience: {}.\n",
            t.name, t.swedish, t.description, t.grain, audience
        )
        .unwrap();
        column_table(w, "column", t.columns);
        writeln!(w).unwrap();
    }
    writeln!(w, "## quarantine\n\nEvery rejected row, with where it came from and why.\n\n| column | type | description |\n|---|---|---|").unwrap();
    for (n, t, d) in schema::QUARANTINE_COLUMNS {
        writeln!(w, "| `{n}` | {t} | {d} |").unwrap();
    }
    writeln!(w, "\n### Reason codes\n\n| reason | meaning |\n|---|---|").unwrap();
    for (r, d) in schema::REASONS {
        writeln!(w, "| `{r}` | {d} |").unwrap();
    }
    writeln!(
        w,
        "\n## load_counts\n\n{}\n",
        schema::query_tables().iter().find(|t| t.name == schema::LOAD_COUNTS).expect("declared").description
    )
    .unwrap();
    writeln!(
        w,
        "## SQL table names\n\nThe stable names under which `utfall query`, `utfall sql` and notebooks see a build \
         (a build made with `--no-indicators` has no derived tables).\n\n| table | svenska | kind | for managers |\n|---|---|---|---|"
    )
    .unwrap();
    for t in schema::query_tables() {
        let kind = match t.family {
            schema::TableFamily::Entity => "entity",
            schema::TableFamily::Quarantine => "rejected rows",
            schema::TableFamily::Manifest => "from the manifest",
            schema::TableFamily::Derived => "derived",
        };
        writeln!(w, "| `{}` | {} | {kind} | {} |", t.name, t.swedish, if t.for_managers { "yes" } else { "no" })
            .unwrap();
    }
    writeln!(w, "\n## Code lists\n").unwrap();
    for cl in schema::CODE_LISTS {
        match cl.codes {
            Codes::Fixed(codes) => {
                writeln!(
                    w,
                    "### {} (national)\n\n{}\n\n| code | svenska | English |\n|---|---|---|",
                    cl.name, cl.description
                )
                .unwrap();
                for (c, sv, en) in codes {
                    writeln!(w, "| `{c}` | {sv} | {en} |").unwrap();
                }
                writeln!(w).unwrap();
            }
            Codes::Local => {
                writeln!(w, "### {} (the municipality's own)\n\n{}. Declared in the mapping file under `[codes.{}]`; once declared, other values are rejected.\n", cl.name, cl.description, cl.name).unwrap();
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn dictionary_is_in_step_with_the_schema() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/data-dictionary.md");
        let expected = super::render();
        if std::env::var_os("UTFALL_BLESS").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            actual == expected,
            "docs/data-dictionary.md differs from the schema: run UTFALL_BLESS=1 cargo test -p utfall-register dictionary"
        );
    }
}
