//! Numbers, percentages, money and dates as every page shows them.

/// The language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Sv,
    En,
}

impl Lang {
    pub fn parse(text: &str) -> Option<Lang> {
        match text {
            "sv" => Some(Lang::Sv),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Sv => "sv",
            Lang::En => "en",
        }
    }

    pub fn pick(self, sv: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Sv => sv,
            Lang::En => en,
        }
    }

    /// A number written with the language's decimal sign (and, in Swedish, a
    /// real minus sign).
    pub fn number(self, text: &str) -> String {
        match self {
            Lang::Sv => text.replace('.', ",").replace('-', "\u{2212}"),
            Lang::En => text.to_string(),
        }
    }

    pub fn percent_sign(self) -> &'static str {
        self.pick("\u{a0}%", "%")
    }

    /// A share (0-1) in per cent with one decimal: "12,5 %" / "12.5%".
    pub fn percent(self, share: f64) -> String {
        self.number(&format!("{:.1}", share * 100.0)) + self.percent_sign()
    }
}

/// Three decimals for small numbers, one for large, trailing zeros dropped
/// (a table of query results).
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let text = if v.abs() >= 1000.0 { format!("{v:.1}") } else { format!("{v:.3}") };
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text };
    if text == "-0" { "0".into() } else { text }
}

/// Exactly three decimals ("–" for a value that is not a number).
pub fn fixed3(v: f64) -> String {
    if v.is_finite() { format!("{v:.3}") } else { "–".into() }
}

/// A share in per cent with one decimal, English style ("12.5%").
pub fn percent(share: f64) -> String {
    Lang::En.percent(share)
}

/// A whole amount with thin groups of three ("1 234 567", "−5 000").
pub fn money(v: f64) -> String {
    let s = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    if v < 0.0 && out.chars().any(|c| c != '0' && c != '\u{a0}') { format!("−{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(0.123456), "0.123");
        assert_eq!(number(45.0), "45");
        assert_eq!(number(12345.678), "12345.7");
        assert_eq!(number(-0.0001), "0");
        assert_eq!(money(1234567.4), "1\u{a0}234\u{a0}567");
        assert_eq!(money(-5000.0), "−5\u{a0}000");
        assert_eq!(Lang::Sv.percent(0.125), "12,5\u{a0}%");
        assert_eq!(percent(0.125), "12.5%");
        assert_eq!(Lang::Sv.number("-1.5"), "\u{2212}1,5");
    }
}
