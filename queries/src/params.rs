//! Typed parameters of named queries and notebooks. A value given on the
//! command line (`--param from=2024-01-01`) is parsed by its declared type and
//! bound to the `$name` placeholder as a value: it is never pasted into SQL.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use datafusion::common::ScalarValue;
use serde::Deserialize;

use crate::QueryError;

/// A parameter's declaration, e.g. in TOML
/// `from = { type = "date", default = "2024-01-01", doc = "First day" }`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    #[serde(rename = "type")]
    pub kind: ParamType,
    /// What the parameter means, for `--list` and the report's stamp.
    pub doc: String,
    /// Used when the parameter is not given.
    #[serde(default)]
    pub default: Option<toml::Value>,
    /// May be left out (bound as a typed NULL: write `($p IS NULL OR col = $p)`).
    #[serde(default)]
    pub optional: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    Text,
    Date,
    Int,
    Float,
    Bool,
}

impl ParamType {
    pub fn name(self) -> &'static str {
        match self {
            ParamType::Text => "text",
            ParamType::Date => "date (YYYY-MM-DD)",
            ParamType::Int => "int",
            ParamType::Float => "float",
            ParamType::Bool => "bool (true/false)",
        }
    }

    /// Parse a value given as text.
    pub fn parse(self, text: &str) -> Result<ScalarValue, String> {
        let bad = || format!("'{text}' is not a {}", self.name());
        Ok(match self {
            ParamType::Text => ScalarValue::Utf8(Some(text.to_string())),
            ParamType::Date => {
                let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| bad())?;
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
                ScalarValue::Date32(Some((date - epoch).num_days() as i32))
            }
            ParamType::Int => ScalarValue::Int64(Some(text.trim().parse().map_err(|_| bad())?)),
            ParamType::Float => {
                let v: f64 = text.trim().parse().map_err(|_| bad())?;
                if !v.is_finite() {
                    return Err(bad());
                }
                ScalarValue::Float64(Some(v))
            }
            ParamType::Bool => ScalarValue::Boolean(Some(match text.trim() {
                "true" => true,
                "false" => false,
                _ => return Err(bad()),
            })),
        })
    }

    /// The typed NULL of an optional parameter left out.
    pub fn null(self) -> ScalarValue {
        match self {
            ParamType::Text => ScalarValue::Utf8(None),
            ParamType::Date => ScalarValue::Date32(None),
            ParamType::Int => ScalarValue::Int64(None),
            ParamType::Float => ScalarValue::Float64(None),
            ParamType::Bool => ScalarValue::Boolean(None),
        }
    }
}

/// Declarations by name.
pub type ParamSpecs = BTreeMap<String, ParamSpec>;

/// Parameters resolved for one run: the values to bind and, for stamping on
/// the output, their text (`None` for an optional parameter left out).
#[derive(Debug, Clone, Default)]
pub struct Bound {
    pub values: Vec<(String, ScalarValue)>,
    pub shown: Vec<(String, Option<String>, bool)>,
}

/// `name=value` from the command line.
pub fn split_assignment(text: &str) -> Result<(String, String), QueryError> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| QueryError::Param(format!("parameter '{text}' is not of the form name=value")))
}

/// Resolve given values against the declarations: unknown names, missing
/// required values and values of the wrong type are errors.
pub fn bind(specs: &ParamSpecs, given: &[(String, String)], owner: &str) -> Result<Bound, QueryError> {
    let mut bound = Bound::default();
    let mut seen = BTreeSet::new();
    for (name, _) in given {
        if !specs.contains_key(name) {
            let declared: Vec<&str> = specs.keys().map(String::as_str).collect();
            let mut message = format!("{owner} has no parameter '{name}'");
            if let Some(near) = crate::nearest(name, declared.iter().copied()) {
                message.push_str(&format!("; did you mean '{near}'?"));
            }
            message.push_str(&format!(
                " (parameters: {})",
                if declared.is_empty() { "none".to_string() } else { declared.join(", ") }
            ));
            return Err(QueryError::Param(message));
        }
        if !seen.insert(name.as_str()) {
            return Err(QueryError::Param(format!("parameter '{name}' given twice")));
        }
    }
    for (name, spec) in specs {
        let given_value = given.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let (text, from_default) = match given_value {
            Some(v) => (Some(v), false),
            None => (spec.default.as_ref().map(toml_text), true),
        };
        let value = match &text {
            Some(t) => {
                spec.kind.parse(t).map_err(|e| QueryError::Param(format!("{owner}: parameter '{name}': {e}")))?
            }
            None if spec.optional => spec.kind.null(),
            None => {
                return Err(QueryError::Param(format!(
                    "{owner} needs parameter '{name}' ({}: {}); give --param {name}=...",
                    spec.kind.name(),
                    spec.doc
                )));
            }
        };
        bound.values.push((name.clone(), value));
        bound.shown.push((name.clone(), text, from_default));
    }
    Ok(bound)
}

/// A TOML default as the text a user would have typed.
pub fn toml_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `$name` placeholders in a SQL text (outside strings, quoted names and comments).
pub fn placeholders(sql: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            quote @ ('\'' | '"') => {
                i += 1;
                while i < chars.len() && chars[i] != quote {
                    i += 1;
                }
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '$' => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_') {
                    end += 1;
                }
                if end > start && !chars[start].is_ascii_digit() {
                    found.insert(chars[start..end].iter().collect());
                }
                i = end.max(i + 1) - 1;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> ParamSpecs {
        toml::from_str(
            r#"
            from = { type = "date", default = "2024-01-01", doc = "First day" }
            unit = { type = "text", optional = true, doc = "Unit code" }
            min = { type = "int", doc = "Least count" }
            "#,
        )
        .unwrap()
    }

    #[test]
    fn values_are_typed_defaults_apply_and_optional_is_null() {
        let b = bind(&specs(), &[("min".into(), "5".into())], "q").unwrap();
        let get = |n: &str| b.values.iter().find(|(k, _)| k == n).unwrap().1.clone();
        assert_eq!(get("from"), ScalarValue::Date32(Some(19723)));
        assert_eq!(get("unit"), ScalarValue::Utf8(None));
        assert_eq!(get("min"), ScalarValue::Int64(Some(5)));
    }

    #[test]
    fn bad_values_and_names_are_named() {
        let e = bind(&specs(), &[("min".into(), "five".into())], "q").unwrap_err().to_string();
        assert!(e.contains("'min'") && e.contains("'five' is not a int"), "{e}");
        let e =
            bind(&specs(), &[("min".into(), "1".into()), ("unti".into(), "x".into())], "q").unwrap_err().to_string();
        assert!(e.contains("no parameter 'unti'") && e.contains("did you mean 'unit'"), "{e}");
        let e = bind(&specs(), &[], "q").unwrap_err().to_string();
        assert!(e.contains("needs parameter 'min'"), "{e}");
        let e = bind(&specs(), &[("min".into(), "1".into()), ("from".into(), "2024-13-01".into())], "q")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a date"), "{e}");
    }

    #[test]
    fn a_text_value_stays_a_value() {
        // Bound as a value: quotes and SQL in it are data, not syntax.
        let b = bind(&specs(), &[("min".into(), "1".into()), ("unit".into(), "x' OR '1'='1".into())], "q").unwrap();
        assert!(b.values.contains(&("unit".to_string(), ScalarValue::Utf8(Some("x' OR '1'='1".into())))));
    }

    #[test]
    fn placeholders_skip_strings_and_comments() {
        let sql = "SELECT '$no', \"$no2\" FROM t -- $nor\nWHERE a = $unit AND b >= $from AND c = $1";
        assert_eq!(placeholders(sql).into_iter().collect::<Vec<_>>(), vec!["from", "unit"]);
    }
}
