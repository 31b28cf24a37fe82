//! The mapping file (TOML): how one source system's exports map onto the
//! exchange format. A new municipality or case system needs a mapping file,
//! not code. See `docs/exchange-format.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::local::{self, LocalCode, LocalColumn, LocalSchema};
use crate::schema::{self, Codes, Kind, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Encoding {
    #[default]
    #[serde(rename = "utf-8", alias = "utf8", alias = "UTF-8")]
    Utf8,
    #[serde(rename = "windows-1252", alias = "cp1252", alias = "latin1", alias = "Windows-1252")]
    Windows1252,
}

/// File format settings. Set once under `[source]`; a table may override any of them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Format {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    /// Field delimiter: `;` or `,` (or tab).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<char>,
    /// Decimal separator: `,` or `.`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decimal: Option<char>,
    /// chrono formats tried in order for dates (default `%Y-%m-%d`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_formats: Option<Vec<String>>,
}

/// The format with every setting resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedFormat {
    pub encoding: Encoding,
    pub delimiter: u8,
    pub decimal: u8,
    pub date_formats: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Name of the source system, for the manifest.
    pub name: String,
    #[serde(flatten)]
    pub format: Format,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableMapping {
    /// Export file, relative to the input folder: `.csv`, `.txt` or `.xlsx`.
    pub file: String,
    /// Sheet of an `.xlsx` file (default: the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    #[serde(flatten)]
    pub format: Format,
    /// Exchange-format column name = the export's header. Columns not listed
    /// are expected under their exchange-format name.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Export columns that are deliberately not read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// The municipality's own columns on this table (`[[tables.NAME.local]]`):
    /// read, validated and kept like the national ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local: Vec<LocalColumn>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub source: Source,
    /// Per register table (clients, cases, ...). Some source of a build must
    /// deliver `clients` (the build checks it).
    #[serde(default)]
    pub tables: BTreeMap<String, TableMapping>,
    /// Per code list: the export's value = the exchange-format code.
    #[serde(default)]
    pub codes: BTreeMap<String, BTreeMap<String, String>>,
    /// Codes the municipality adds to a national list (outcome types and
    /// intervention types): `[[local_codes.outcome_type]]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub local_codes: BTreeMap<String, Vec<LocalCode>>,
}

/// A mapping file that does not fit the schema; names the TOML field.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct MappingError {
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> MappingError {
    MappingError { field: field.into(), message: message.into() }
}

impl Mapping {
    /// Parse and check a mapping file's text. TOML syntax errors carry line and column.
    pub fn from_toml(text: &str) -> Result<Mapping, MappingError> {
        let m: Mapping = toml::from_str(text).map_err(|e| err("mapping", e.to_string()))?;
        m.check()?;
        Ok(m)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a mapping serialises")
    }

    fn check(&self) -> Result<(), MappingError> {
        if self.tables.is_empty() {
            return Err(err("tables", format!("the mapping maps no table; the tables are {}", table_names())));
        }
        for (name, tm) in &self.tables {
            let national = schema::TABLES.iter().copied().find(|t| t.name == name).ok_or_else(|| {
                err(format!("tables.{name}"), format!("unknown table; the tables are {}", table_names()))
            })?;
            let mut names = std::collections::BTreeSet::new();
            for (i, c) in tm.local.iter().enumerate() {
                local::check(national, c).map_err(|m| err(format!("tables.{name}.local[{i}]"), m))?;
                if !names.insert(c.name.as_str()) {
                    return Err(err(
                        format!("tables.{name}.local[{i}].name"),
                        format!("'{}' is declared twice", c.name),
                    ));
                }
            }
            let table = local::extend(national, &tm.local);
            for canonical in tm.columns.keys() {
                if table.column(canonical).is_none() {
                    let cols: Vec<_> = table.columns.iter().map(|c| c.name).collect();
                    return Err(err(
                        format!("tables.{name}.columns.{canonical}"),
                        format!("unknown column; {name} has {}", cols.join(", ")),
                    ));
                }
            }
            self.resolve(name).map_err(|m| err(format!("tables.{name}"), m))?;
        }
        for (list, codes) in &self.local_codes {
            let mut seen = std::collections::BTreeSet::new();
            for (i, c) in codes.iter().enumerate() {
                local::check_code(list, c).map_err(|m| err(format!("local_codes.{list}[{i}]"), m))?;
                if !seen.insert(c.code.as_str()) {
                    return Err(err(format!("local_codes.{list}[{i}].code"), format!("'{}' is listed twice", c.code)));
                }
            }
        }
        // Every code list as this mapping has it: the code columns' lists
        // (national ones with their local codes, local columns' own), then
        // the other national ones.
        let tables = self.tables();
        let mut lists: Vec<&'static schema::CodeList> = Vec::new();
        for c in tables.iter().flat_map(|t| t.columns.iter()) {
            if let Kind::Code(list) = c.kind
                && !lists.iter().any(|l| l.name == list.name)
            {
                lists.push(list);
            }
        }
        for l in schema::CODE_LISTS {
            if !lists.iter().any(|x| x.name == l.name) {
                lists.push(l);
            }
        }
        for (list, values) in &self.codes {
            let cl = lists.iter().find(|c| c.name == list.as_str()).ok_or_else(|| {
                let names: Vec<_> = lists.iter().map(|c| c.name).collect();
                err(format!("codes.{list}"), format!("unknown code list; the lists are {}", names.join(", ")))
            })?;
            if let Codes::Fixed(codes) = cl.codes {
                for (source, canonical) in values {
                    if !cl.contains(canonical) {
                        let valid: Vec<_> = codes.iter().map(|c| c.0).collect();
                        return Err(err(
                            format!("codes.{list}.\"{source}\""),
                            format!("'{canonical}' is not a code of {list}; valid: {}", valid.join(", ")),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The municipality's additions: local columns per table (tables
    /// without any left out) and local codes per national list.
    pub fn local(&self) -> LocalSchema {
        LocalSchema {
            columns: self
                .tables
                .iter()
                .filter(|(_, t)| !t.local.is_empty())
                .map(|(n, t)| (n.clone(), t.local.clone()))
                .collect(),
            codes: self
                .local_codes
                .iter()
                .filter(|(_, c)| !c.is_empty())
                .map(|(n, c)| (n.clone(), c.clone()))
                .collect(),
        }
    }

    /// An outcome type's value domain: the national one, or a local code's.
    pub fn outcome_domain(&self, outcome_type: &str) -> Option<schema::ValueDomain> {
        schema::outcome_domain(outcome_type).or_else(|| {
            self.local_codes.get("outcome_type")?.iter().find(|c| c.code == outcome_type).and_then(|c| c.domain)
        })
    }

    /// Every entity table with this mapping's local columns and codes, in
    /// the schema's order (a table is built once per call: call it once).
    pub fn tables(&self) -> Vec<&'static Table> {
        self.local().tables()
    }

    /// The resolved file format of a table (table settings over `[source]`).
    pub fn resolve(&self, table: &str) -> Result<ResolvedFormat, String> {
        let t = self.tables.get(table).map(|t| &t.format);
        let pick =
            |f: fn(&Format) -> Option<char>, default: char| t.and_then(f).or(f(&self.source.format)).unwrap_or(default);
        let delimiter = pick(|f| f.delimiter, ',');
        let decimal = pick(|f| f.decimal, '.');
        if !delimiter.is_ascii() || !decimal.is_ascii() {
            return Err("delimiter and decimal must be ASCII characters".into());
        }
        if delimiter == decimal {
            return Err(format!("delimiter and decimal separator are both '{delimiter}'"));
        }
        Ok(ResolvedFormat {
            encoding: t.and_then(|f| f.encoding).or(self.source.format.encoding).unwrap_or_default(),
            delimiter: delimiter as u8,
            decimal: decimal as u8,
            date_formats: t
                .and_then(|f| f.date_formats.clone())
                .or_else(|| self.source.format.date_formats.clone())
                .unwrap_or_else(|| vec!["%Y-%m-%d".to_string()]),
        })
    }

    /// The export header expected for an exchange-format column.
    pub fn source_column<'a>(&'a self, table: &str, canonical: &'a str) -> &'a str {
        self.tables.get(table).and_then(|t| t.columns.get(canonical)).map(String::as_str).unwrap_or(canonical)
    }

    /// Translate an export value of a code column into its exchange-format code.
    pub fn code<'a>(&'a self, kind: Kind, value: &'a str) -> Option<&'a str> {
        let Kind::Code(list) = kind else {
            return Some(value);
        };
        if let Some(canonical) = self.codes.get(list.name).and_then(|m| m.get(value)) {
            return Some(canonical);
        }
        match list.codes {
            Codes::Fixed(_) => list.contains(value).then_some(value),
            // A local list is closed once the mapping declares it.
            Codes::Local => (!self.codes.contains_key(list.name)).then_some(value),
        }
    }
}

fn table_names() -> String {
    schema::TABLES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field() {
        let base = "[source]\nname = \"x\"\n[tables.clients]\nfile = \"c.csv\"\n";
        assert!(Mapping::from_toml(base).is_ok());
        let e = Mapping::from_toml(&format!("{base}[tables.klienter]\nfile = \"k.csv\"\n")).unwrap_err();
        assert_eq!(e.field, "tables.klienter");
        let e = Mapping::from_toml(&format!("{base}[tables.clients.columns]\nnamn = \"Namn\"\n")).unwrap_err();
        assert_eq!(e.field, "tables.clients.columns.namn");
        let e = Mapping::from_toml(&format!("{base}[codes.area]\n\"BoU\" = \"kids\"\n")).unwrap_err();
        assert!(e.field.starts_with("codes.area"), "{e}");
        let e = Mapping::from_toml(
            "[source]\nname = \"x\"\ndelimiter = \";\"\ndecimal = \";\"\n[tables.clients]\nfile = \"c\"\n",
        )
        .unwrap_err();
        assert!(e.message.contains("both"), "{e}");
        let e = Mapping::from_toml("[source]\nname = \"x\"\n").unwrap_err();
        assert_eq!(e.field, "tables");
        let e = Mapping::from_toml("[source\n").unwrap_err();
        assert!(e.message.contains("line 1"), "{e}");
    }

    #[test]
    fn local_columns_are_checked_and_extend_their_table() {
        let base = "[source]\nname = \"x\"\n[tables.clients]\nfile = \"c.csv\"\n";
        let local = |decl: &str| Mapping::from_toml(&format!("{base}[[tables.clients.local]]\n{decl}\n"));
        let m = local("name = \"language\"\ntype = \"code\"\ncodes = [\"sv\", \"ar\"]\ndescription = \"d\"").unwrap();
        let t = m.tables()[0];
        let c = t.column("language").expect("the local column");
        assert!(matches!(c.kind, Kind::Code(list) if list.contains("ar") && !list.contains("en")));
        assert!(t.register_columns().iter().any(|r| r.name == "language"));
        for (decl, says) in [
            ("name = \"district\"\ntype = \"text\"\ndescription = \"d\"", "already a column"),
            ("name = \"Språk\"\ntype = \"text\"\ndescription = \"d\"", "lower-case"),
            ("name = \"points\"\ntype = \"int\"\nmin = 0\ndescription = \"d\"", "needs min and max"),
            ("name = \"points\"\ntype = \"int\"\nmin = 0.5\nmax = 3\ndescription = \"d\"", "whole numbers"),
            ("name = \"lang\"\ntype = \"code\"\ndescription = \"d\"", "lists its codes"),
            ("name = \"lang\"\ntype = \"code\"\ncodes = [\"a\", \"a\"]\ndescription = \"d\"", "twice"),
            ("name = \"note\"\ntype = \"text\"\nmin = 1\ndescription = \"d\"", "no min or max"),
        ] {
            let e = local(decl).unwrap_err();
            assert!(e.field == "tables.clients.local[0]" && e.message.contains(says), "{decl}: {e}");
        }
        let e = Mapping::from_toml(&format!(
            "{base}[[tables.clients.local]]\nname = \"lang\"\ntype = \"code\"\ncodes = [\"sv\"]\ndescription = \"d\"\n[codes.\"clients.lang\"]\n\"Svenska\" = \"swedish\"\n"
        ))
        .unwrap_err();
        assert!(e.field.starts_with("codes.clients.lang") && e.message.contains("valid: sv"), "{e}");
    }

    #[test]
    fn local_codes_extend_outcome_and_intervention_types() {
        let base = "[source]\nname = \"x\"\n[tables.clients]\nfile = \"c.csv\"\n";
        let m = Mapping::from_toml(&format!(
            "{base}[codes.outcome_type]\n\"Meritvärde\" = \"merit_points\"\n[[local_codes.outcome_type]]\ncode = \"merit_points\"\nsv = \"Meritvärde\"\nen = \"Merit points\"\ndomain = \"count\"\n"
        ))
        .unwrap();
        let outcomes = m.tables().into_iter().find(|t| t.name == "outcomes").unwrap();
        let kind = outcomes.column("type").unwrap().kind;
        assert_eq!(m.code(kind, "Meritvärde"), Some("merit_points"));
        assert_eq!(m.code(kind, "earnings"), Some("earnings"));
        assert_eq!(m.outcome_domain("merit_points"), Some(schema::ValueDomain::Count));
        for (decl, says) in [
            (
                "[[local_codes.outcome_type]]\ncode = \"earnings\"\nsv = \"a\"\nen = \"b\"\ndomain = \"amount\"",
                "already a code",
            ),
            ("[[local_codes.outcome_type]]\ncode = \"points\"\nsv = \"a\"\nen = \"b\"", "needs its value domain"),
            (
                "[[local_codes.intervention_type]]\ncode = \"team\"\nsv = \"a\"\nen = \"b\"\ndomain = \"count\"",
                "has no domain",
            ),
            ("[[local_codes.area]]\ncode = \"schools\"\nsv = \"a\"\nen = \"b\"", "not area"),
        ] {
            let e = Mapping::from_toml(&format!("{base}{decl}\n")).unwrap_err();
            assert!(e.field.starts_with("local_codes.") && e.message.contains(says), "{decl}: {e}");
        }
    }

    #[test]
    fn codes_translate_and_local_lists_close_when_declared() {
        let m = Mapping::from_toml(
            "[source]\nname = \"x\"\n[tables.clients]\nfile = \"c\"\n[codes.area]\n\"BoU\" = \"child_youth\"\n[codes.unit]\n\"Norr\" = \"norr\"\n",
        )
        .unwrap();
        let area = schema::CASES.column("area").unwrap().kind;
        let unit = schema::CASES.column("unit").unwrap().kind;
        let district = schema::CLIENTS.column("district").unwrap().kind;
        assert_eq!(m.code(area, "BoU"), Some("child_youth"));
        assert_eq!(m.code(area, "psychiatry"), Some("psychiatry"));
        assert_eq!(m.code(area, "Psyk"), None);
        assert_eq!(m.code(unit, "Norr"), Some("norr"));
        assert_eq!(m.code(unit, "Söder"), None);
        assert_eq!(m.code(district, "anything"), Some("anything"));
    }
}
