//! Windows relative to the index date, written as intervals of offsets:
//! `[-12m, 0)` is the twelve months before the index day (the index day
//! left out), `[0, 24m]` the index day and the 24 months after it. An offset
//! is `0` or a signed whole number of days (`d`), months (`m`) or years (`y`);
//! a window may start at `-inf` (everything before: `(-inf, 0)`).
//! Months and years are calendar months from the index date (polars'
//! `offset_by`: 31 January plus one month is 28 or 29 February).

use std::fmt;

/// A signed offset from the index date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    Days(i32),
    Months(i32),
    /// `-inf`: no bound before the index date (only as a window's start).
    Ever,
}

impl Offset {
    fn parse(text: &str) -> Result<Offset, String> {
        let t = text.trim();
        if t == "0" {
            return Ok(Offset::Days(0));
        }
        if t == "-inf" {
            return Ok(Offset::Ever);
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
            Offset::Ever => -1,
        }
    }

    /// A rough length in days, to order two offsets of different units.
    fn approx_days(self) -> f64 {
        match self {
            Offset::Days(n) => f64::from(n),
            Offset::Months(n) => f64::from(n) * 30.436_875,
            Offset::Ever => f64::NEG_INFINITY,
        }
    }

    /// The offset as polars' `offset_by` duration (`-12mo`, `30d`); none for `-inf`.
    pub fn duration(self) -> Option<String> {
        match self {
            Offset::Days(n) => Some(format!("{n}d")),
            Offset::Months(n) => Some(format!("{n}mo")),
            Offset::Ever => None,
        }
    }
}

impl Offset {
    /// `date` moved by the offset (calendar months clamp to the month's last
    /// day, as polars' `offset_by` does); none for `-inf`.
    pub fn from(self, date: chrono::NaiveDate) -> Option<chrono::NaiveDate> {
        match self {
            Offset::Days(n) => date.checked_add_signed(chrono::Duration::days(i64::from(n))),
            Offset::Months(n) if n >= 0 => date.checked_add_months(chrono::Months::new(n as u32)),
            Offset::Months(n) => date.checked_sub_months(chrono::Months::new(n.unsigned_abs())),
            Offset::Ever => None,
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
            Offset::Ever => f.write_str("-inf"),
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
        if w.end == Offset::Ever {
            return Err(format!("'{t}' ends at -inf: only a window's start can be -inf"));
        }
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

    /// Whether `date` lies in the window around `index`.
    pub fn contains(&self, index: chrono::NaiveDate, date: chrono::NaiveDate) -> bool {
        let after_start = match self.start.from(index) {
            None => true,
            Some(lo) => {
                if self.start_closed {
                    date >= lo
                } else {
                    date > lo
                }
            }
        };
        let hi = self.end.from(index).expect("a window's end is bounded");
        after_start && if self.end_closed { date <= hi } else { date < hi }
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

impl<'de> serde::Deserialize<'de> for Offset {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Offset, D::Error> {
        let text = String::deserialize(d)?;
        Offset::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl<'de> serde::Deserialize<'de> for Window {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Window, D::Error> {
        let text = String::deserialize(d)?;
        Window::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Offset {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl serde::Serialize for Window {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
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
        assert_eq!(w.end.duration().as_deref(), Some("24mo"));
        let w = Window::parse("(-inf, 0)").unwrap();
        assert!(w.known_at_index() && w.start == Offset::Ever && w.to_string() == "(-inf, 0)");
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
            ("[0, -inf)", "only a window's start"),
        ] {
            let e = Window::parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
