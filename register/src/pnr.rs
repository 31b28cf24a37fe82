//! Swedish personal identity numbers (personnummer) and coordination numbers
//! (samordningsnummer): parsing, check digit, derived birth year and sex.
//!
//! A personnummer never reaches the register: the ingest pipeline parses it
//! here, derives birth year and sex, and replaces it by a keyed pseudonym.
//! Accepted forms: `YYYYMMDD-NNNC`, `YYYYMMDDNNNC`, `YYMMDD-NNNC`,
//! `YYMMDD+NNNC` (the `+` marks a person aged 100 or more) and `YYMMDDNNNC`.
//! A coordination number has 60 added to the day of birth.

use chrono::{Datelike, NaiveDate};

/// A validated personal identity or coordination number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pnr {
    pub year: u16,
    pub month: u8,
    /// The day as written (61..=91 for a coordination number).
    pub day_written: u8,
    pub serial: u16,
    pub check: u8,
}

/// Why a value is not a valid personnummer. The messages never repeat the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PnrError {
    #[error("not a personnummer: expected 10 or 12 digits (YYYYMMDD-NNNN or YYMMDD-NNNN)")]
    Format,
    #[error("personnummer has an impossible date of birth")]
    Date,
    #[error("personnummer check digit is wrong")]
    CheckDigit,
}

impl PnrError {
    /// Stable reason code used in the quarantine table.
    pub fn code(self) -> &'static str {
        match self {
            PnrError::Format => "pnr_format",
            PnrError::Date => "pnr_date",
            PnrError::CheckDigit => "pnr_check_digit",
        }
    }
}

/// Luhn check digit over the nine digits YYMMDDNNN.
pub fn luhn_check_digit(nine: &[u8; 9]) -> u8 {
    let mut sum = 0u32;
    for (i, d) in nine.iter().enumerate() {
        let mut v = u32::from(*d) * if i % 2 == 0 { 2 } else { 1 };
        if v > 9 {
            v -= 9;
        }
        sum += v;
    }
    ((10 - (sum % 10)) % 10) as u8
}

fn digits<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    if b.len() != N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, c) in out.iter_mut().zip(b) {
        if !c.is_ascii_digit() {
            return None;
        }
        *o = c - b'0';
    }
    Some(out)
}

fn num(d: &[u8]) -> u16 {
    d.iter().fold(0u16, |acc, x| acc * 10 + u16::from(*x))
}

impl Pnr {
    /// Parse a personnummer. `reference` resolves the century of the 10-digit
    /// form: the person is taken to be under 100 at `reference` (over 100 with
    /// `+`), as the Swedish Tax Agency's rule states.
    pub fn parse(s: &str, reference: NaiveDate) -> Result<Pnr, PnrError> {
        let b = s.trim().as_bytes();
        let (year, rest, plus): (u16, [u8; 10], bool) = match b.len() {
            12 => {
                let d: [u8; 12] = digits(b).ok_or(PnrError::Format)?;
                (num(&d[0..4]), d[2..12].try_into().unwrap(), false)
            }
            13 if b[8] == b'-' || b[8] == b'+' => {
                let mut joined = [0u8; 12];
                joined[..8].copy_from_slice(&b[..8]);
                joined[8..].copy_from_slice(&b[9..]);
                let d: [u8; 12] = digits(&joined).ok_or(PnrError::Format)?;
                (num(&d[0..4]), d[2..12].try_into().unwrap(), false)
            }
            10 => {
                let d: [u8; 10] = digits(b).ok_or(PnrError::Format)?;
                (0, d, false)
            }
            11 if b[6] == b'-' || b[6] == b'+' => {
                let mut joined = [0u8; 10];
                joined[..6].copy_from_slice(&b[..6]);
                joined[6..].copy_from_slice(&b[7..]);
                let d: [u8; 10] = digits(&joined).ok_or(PnrError::Format)?;
                (0, d, b[6] == b'+')
            }
            _ => return Err(PnrError::Format),
        };
        let yy = num(&rest[0..2]);
        let month = num(&rest[2..4]) as u8;
        let day_written = num(&rest[4..6]) as u8;
        let serial = num(&rest[6..9]);
        let check = rest[9];
        let year = if year != 0 {
            year
        } else {
            // Century: the latest year ending in yy not after the reference
            // year, minus 100 for the `+` form.
            let ry = reference.year() as u16;
            let mut y = ry - (ry % 100) + yy;
            if y > ry {
                y -= 100;
            }
            if plus {
                y -= 100;
            }
            y
        };
        let day = if day_written > 60 { day_written - 60 } else { day_written };
        if NaiveDate::from_ymd_opt(i32::from(year), u32::from(month), u32::from(day)).is_none() {
            return Err(PnrError::Date);
        }
        let nine: [u8; 9] = rest[0..9].try_into().unwrap();
        if luhn_check_digit(&nine) != check {
            return Err(PnrError::CheckDigit);
        }
        Ok(Pnr { year, month, day_written, serial, check })
    }

    /// Build a valid number from its parts (the check digit is computed).
    pub fn from_parts(year: u16, month: u8, day_written: u8, serial: u16) -> Pnr {
        let yy = year % 100;
        let nine = [
            (yy / 10) as u8,
            (yy % 10) as u8,
            month / 10,
            month % 10,
            day_written / 10,
            day_written % 10,
            (serial / 100) as u8,
            ((serial / 10) % 10) as u8,
            (serial % 10) as u8,
        ];
        Pnr { year, month, day_written, serial, check: luhn_check_digit(&nine) }
    }

    pub fn is_coordination_number(&self) -> bool {
        self.day_written > 60
    }

    /// Legal sex as coded in the number: the serial's last digit is odd for men.
    pub fn sex(&self) -> &'static str {
        if self.serial % 2 == 1 { "M" } else { "F" }
    }

    /// The canonical 12-digit form `YYYYMMDDNNNC`: the input to the pseudonym.
    pub fn canonical(&self) -> String {
        format!("{:04}{:02}{:02}{:03}{}", self.year, self.month, self.day_written, self.serial, self.check)
    }

    /// The canonical form as a number (`YYYYMMDDNNNC`), for fast look-ups.
    pub fn as_number(&self) -> u64 {
        u64::from(self.year) * 100_000_000
            + u64::from(self.month) * 1_000_000
            + u64::from(self.day_written) * 10_000
            + u64::from(self.serial) * 10
            + u64::from(self.check)
    }

    /// Every common written form of this number, for tests that prove none of
    /// them leaks into an output.
    pub fn written_forms(&self) -> Vec<String> {
        let c = self.canonical();
        let (long, short) = (&c[0..8], &c[2..8]);
        let tail = &c[8..12];
        vec![
            c.clone(),
            format!("{long}-{tail}"),
            format!("{short}-{tail}"),
            format!("{short}+{tail}"),
            format!("{short}{tail}"),
        ]
    }
}

/// Replace everything in `text` that is written like a personnummer (10 or 12
/// digits, optionally with `-` or `+` before the last four) by `x`s, keeping
/// separators. Used on every text that goes to the quarantine or the register.
/// Returns `None` when nothing had to be masked.
pub fn mask_pnr_like(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        let run = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
        let first = run(i);
        let mut end = i + first;
        let matched = match first {
            10 | 12 => true,
            6 | 8 if end < b.len() && (b[end] == b'-' || b[end] == b'+') && run(end + 1) == 4 => {
                end += 5;
                true
            }
            _ => false,
        };
        if matched {
            spans.push((i, end));
        }
        i = end.max(i + 1);
    }
    if spans.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (s, e) in spans {
        out.push_str(&text[last..s]);
        out.extend(text[s..e].chars().map(|c| if c.is_ascii_digit() { 'x' } else { c }));
        last = e;
    }
    out.push_str(&text[last..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()
    }

    #[test]
    fn all_written_forms_parse_to_the_same_number() {
        // Built from parts so that no literal number stands in the source.
        let p = Pnr::from_parts(1985, 7, 14, 238);
        for form in p.written_forms() {
            if form.contains('+') {
                continue; // the + form means 100+ years: a different century
            }
            assert_eq!(Pnr::parse(&form, reference()), Ok(p), "{form}");
        }
        assert_eq!(p.sex(), "F");
        assert_eq!(p.as_number().to_string(), p.canonical());
        assert_eq!(Pnr::from_parts(1985, 7, 14, 231).sex(), "M");
    }

    #[test]
    fn century_rules_for_ten_digit_forms() {
        let young = Pnr::from_parts(2010, 3, 1, 101).canonical();
        let p = Pnr::parse(&format!("{}-{}", &young[2..8], &young[8..]), reference()).unwrap();
        assert_eq!(p.year, 2010);
        let old = Pnr::from_parts(1920, 3, 1, 101).canonical();
        let p = Pnr::parse(&format!("{}+{}", &old[2..8], &old[8..]), reference()).unwrap();
        assert_eq!(p.year, 1920);
        let p = Pnr::parse(&format!("{}-{}", &old[2..8], &old[8..]), reference()).unwrap();
        assert_eq!(p.year, 2020);
    }

    #[test]
    fn coordination_number_adds_sixty_to_the_day() {
        let p = Pnr::from_parts(1990, 2, 28 + 60, 42);
        let parsed = Pnr::parse(&p.canonical(), reference()).unwrap();
        assert!(parsed.is_coordination_number());
        assert_eq!(parsed.year, 1990);
    }

    #[test]
    fn errors_are_classified() {
        let p = Pnr::from_parts(1985, 7, 14, 238).canonical();
        let mut bad = p.clone().into_bytes();
        bad[11] = b'0' + ((bad[11] - b'0' + 1) % 10);
        assert_eq!(Pnr::parse(std::str::from_utf8(&bad).unwrap(), reference()), Err(PnrError::CheckDigit));
        assert_eq!(Pnr::parse("19850230-1234", reference()), Err(PnrError::Date));
        assert_eq!(Pnr::parse("1985-07-14", reference()), Err(PnrError::Format));
        assert_eq!(Pnr::parse("", reference()), Err(PnrError::Format));
        assert_eq!(Pnr::parse("19850714_2380", reference()), Err(PnrError::Format));
    }

    #[test]
    fn masking_finds_every_form() {
        let p = Pnr::from_parts(1985, 7, 14, 238);
        for form in p.written_forms() {
            let text = format!("see {form}, thanks");
            let masked = mask_pnr_like(&text).expect(&form);
            assert!(!masked.chars().any(|c| c.is_ascii_digit()), "{masked}");
        }
        assert_eq!(mask_pnr_like("amount 12345 on 2024-01-31"), None);
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = Pnr::parse(&s, reference());
            let _ = mask_pnr_like(&s);
        }

        #[test]
        fn a_single_digit_change_is_caught(year in 1900u16..2025, month in 1u8..=12, day in 1u8..=28,
                                            serial in 0u16..1000, pos in 2usize..12, delta in 1u8..10) {
            let c = Pnr::from_parts(year, month, day, serial).canonical().into_bytes();
            let mut bad = c.clone();
            bad[pos] = b'0' + ((bad[pos] - b'0' + delta) % 10);
            // Luhn catches every single-digit error; a changed date may also be impossible.
            prop_assert!(Pnr::parse(std::str::from_utf8(&bad).unwrap(), reference()).is_err());
        }
    }
}
