//! What every specification file (TOML) shares: dates written either as TOML
//! dates (`2024-01-01`) or as quoted strings (`"2024-01-01"`), read the same.

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};

/// A date as TOML writes it or as a `YYYY-MM-DD` string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Toml(toml::value::Datetime),
    Text(String),
}

fn parse<E: serde::de::Error>(w: Written) -> Result<NaiveDate, E> {
    match w {
        Written::Toml(dt) => match (dt.date, dt.time) {
            (Some(x), None) => NaiveDate::from_ymd_opt(i32::from(x.year), u32::from(x.month), u32::from(x.day))
                .ok_or_else(|| E::custom(format!("{dt} is not a calendar date"))),
            _ => Err(E::custom(format!("{dt}: write a date without a time, e.g. 2024-01-01"))),
        },
        Written::Text(t) => NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
            .map_err(|_| E::custom(format!("'{t}' is not a date: write 2024-01-01 (quoted or not)"))),
    }
}

/// `#[serde(deserialize_with = "utfall_register::specfile::date")]`
pub fn date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    parse(Written::deserialize(d)?)
}

/// For an optional date: `#[serde(default, deserialize_with = "utfall_register::specfile::option_date")]`.
pub fn option_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    Option::<Written>::deserialize(d)?.map(parse).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct S {
        #[serde(deserialize_with = "date")]
        a: NaiveDate,
        #[serde(default, deserialize_with = "option_date")]
        b: Option<NaiveDate>,
    }

    #[test]
    fn toml_dates_and_strings_alike() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let s: S = toml::from_str("a = 2024-01-01\nb = \"2024-01-01\"").unwrap();
        assert_eq!((s.a, s.b), (d, Some(d)));
        let s: S = toml::from_str("a = \"2024-01-01\"").unwrap();
        assert_eq!((s.a, s.b), (d, None));
        let e = toml::from_str::<S>("a = \"2024-13-01\"").unwrap_err().to_string();
        assert!(e.contains("not a date"), "{e}");
        let e = toml::from_str::<S>("a = 2024-01-01T10:00:00").unwrap_err().to_string();
        assert!(e.contains("without a time"), "{e}");
    }
}
