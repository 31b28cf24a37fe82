//! Windows relative to the index date, written as intervals of offsets:
//! `[-12m, 0)` is the twelve months before the index day (the index day
//! left out), `[0, 24m]` the index day and the 24 months after it. An offset
//! is `0` or a signed whole number of days (`d`), months (`m`) or years (`y`).
//! Months and years are calendar months from the index date (polars'
//! `offset_by`: 31 January plus one month is 28 or 29 February).

use std::fmt;

/// A signed offset from the index date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    Days(i32),
    Months(i32),
}

impl Offset {
    fn parse(text: &str) -> Result<Offset, String> {
        let t = text.trim();
        if t == "0" {
            return Ok(Offset::Days(0));
        }
        let (number, unit) = t.split_at(t.len().saturating_sub(1));
        let n: i32 = number
            .parse()
            .map_err(|_| format!("'{t}' is not an offset: write 0 or a whole number with d, m or y (-12m, 30d, 2y)"))?;
        match unit {
            "d" => Ok(Offset::Days(n)),
            "m" => Ok(Offset::Months(n)),
            "y" => n.checked_mul(12).map(Offset::Months).ok_or_else(|| format!("'{t}' is too large")),
            _ => Err(format!("'{t}' has no unit: write d (days), m (months) or y (years)")),
        }
    }

    /// The sign of the offset: before (-1), at (0) or after (1) the index date.
    pub fn sign(self) -> i32 {
        match self {
            Offset::Days(n) | Offset::Months(n) => n.signum(),
        }
    }

    /// A rough length in days, to order two offsets of different units.
    fn approx_days(self) -> f64 {
        match self {
            Offset::Days(n) => f64::from(n),
            Offset::Months(n) => f64::from(n) * 30.436_875,
        }
    }

    /// The offset as polars' `offset_by` duration (`-12mo`, `30d`).
    pub fn duration(self) -> String {
        match self {
            Offset::Days(n) => format!("{n}d"),
            Offset::Months(n) => format!("{n}mo"),
        }
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Offset::Days(0) => f.write_str("0"),
            Offset::Days(n) => write!(f, "{n}d"),
            Offset::Months(n) if n % 12 == 0 => write!(f, "{}y", n / 12),
            Offset::Months(n) => write!(f, "{n}m"),
        }
    }
}

/// An interval of offsets from the index date; each end closed (`[`, `]`,
/// the day itself included) or open (`(`, `)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Offset,
    pub start_closed: bool,
    pub end: Offset,
    pub end_closed: bool,
}

impl Window {
    pub fn parse(text: &str) -> Result<Window, String> {
        let t = text.trim();
        let bad = || format!("'{t}' is not a window: write it like [-12m, 0) or [0, 24m]");
        let start_closed = match t.chars().next() {
            Some('[') => true,
            Some('(') => false,
            _ => return Err(bad()),
        };
        let end_closed = match t.chars().last() {
            Some(']') => true,
            Some(')') => false,
            _ => return Err(bad()),
        };
        let inner = &t[1..t.len() - 1];
        let (a, b) = inner.split_once(',').ok_or_else(bad)?;
        let w = Window { start: Offset::parse(a)?, start_closed, end: Offset::parse(b)?, end_closed };
        let (s, e) = (w.start.approx_days(), w.end.approx_days());
        if s > e || (s == e && !(start_closed && end_closed)) {
            return Err(format!("'{t}' is empty: its start must come before its end"));
        }
        Ok(w)
    }

    /// Whether every day of the window is on or before the index date: what
    /// a covariate, a feature or a group may look at.
    pub fn known_at_index(&self) -> bool {
        self.end.sign() <= 0
    }

    /// Whether every day of the window is on or after the index date (an outcome's follow-up).
    pub fn after_index(&self) -> bool {
        self.start.sign() >= 0
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}, {}{}",
            if self.start_closed { '[' } else { '(' },
            self.start,
            self.end,
            if self.end_closed { ']' } else { ')' }
        )
    }
}

impl<'de> serde::Deserialize<'de> for Window {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Window, D::Error> {
        let text = String::deserialize(d)?;
        Window::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_and_print() {
        let w = Window::parse("[-12m, 0)").unwrap();
        assert_eq!(
            w,
            Window { start: Offset::Months(-12), start_closed: true, end: Offset::Days(0), end_closed: false }
        );
        assert!(w.known_at_index() && !w.after_index());
        assert_eq!(w.to_string(), "[-1y, 0)");
        let w = Window::parse("( 0 , 24m ]").unwrap();
        assert!(w.after_index() && !w.known_at_index());
        assert_eq!(w.end.duration(), "24mo");
        assert_eq!(Window::parse("[-30d, -1d]").unwrap().start, Offset::Days(-30));
        assert_eq!(Window::parse("[0, 2y]").unwrap().end, Offset::Months(24));
        assert!(Window::parse("[0, 0]").is_ok());
    }

    #[test]
    fn bad_windows_say_why() {
        for (text, says) in [
            ("-12m, 0", "is not a window"),
            ("[-12m 0)", "is not a window"),
            ("[-12w, 0)", "no unit"),
            ("[-x m, 0)", "is not an offset"),
            ("[0, -12m)", "is empty"),
            ("[0, 0)", "is empty"),
        ] {
            let e = Window::parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
