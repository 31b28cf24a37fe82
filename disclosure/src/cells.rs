//! Linked tables: small counts are suppressed in what managers see, and
//! further cells are suppressed so that no suppressed count can be
//! recomputed from the published totals and splits.
//!
//! An indicator's cells form one linear system: for every period, the total
//! equals the sum of each split's values (units, districts, sexes, age bands),
//! and every year equals the sum of its quarters and every quarter the sum of
//! its months, per split value. Both the denominator `n` and the numerator (or
//! the sum of a mean) obey these equations. A published cell is a known value;
//! a suppressed cell is *disclosed* when the equations fix its value. The audit
//! decides that exactly: a suppressed cell is fixed iff its unit vector lies in
//! the row space of the equations restricted to the suppressed cells (Gaussian
//! elimination per connected group of suppressed cells).
//!
//! Suppression: (1) **primary**: n below the threshold, or for a proportion a
//! numerator or its complement (n - numerator) below it; (2)
//! **complementary**: while an equation holds exactly one suppressed cell, or
//! the audit finds a fixed cell, suppress the smallest unsuppressed cell of an
//! equation that fixes it. Indicators with the same population (identical
//! cells and n, e.g. reliable improvement and deterioration) are suppressed
//! together with one pattern, so one cannot be used to undo the other.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};

pub use utfall_register::schema::PeriodType;

/// Where a cell sits: its period and its column (split 0 is the total).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellKey {
    pub period_type: PeriodType,
    /// First day of the period, as days since 1970-01-01.
    pub period_start: i32,
    pub split: usize,
    pub split_value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suppression {
    None,
    Primary,
    Complementary,
}

impl Suppression {
    /// As written in the tables: null, 'primary' or 'complementary'.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Suppression::None => None,
            Suppression::Primary => Some("primary"),
            Suppression::Complementary => Some("complementary"),
        }
    }
}

/// One equation: the total cell equals the sum of the parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    pub total: usize,
    pub parts: Vec<usize>,
}

impl Constraint {
    fn members(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.total).chain(self.parts.iter().copied())
    }
}

pub fn date_of(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + 719_163).expect("date in range")
}

pub fn days_of(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - 719_163
}

/// First day of the period of type `p` that holds `d`.
pub fn period_start(p: PeriodType, d: NaiveDate) -> NaiveDate {
    let m0 = d.month0();
    let m0 = match p {
        PeriodType::Month => m0,
        PeriodType::Quarter => m0 - m0 % 3,
        PeriodType::Year => 0,
    };
    NaiveDate::from_ymd_opt(d.year(), m0 + 1, 1).unwrap()
}

/// The equations that hold between the cells of one indicator.
pub fn constraints(cells: &[CellKey]) -> Vec<Constraint> {
    let index: HashMap<&CellKey, usize> = cells.iter().enumerate().map(|(i, c)| (c, i)).collect();
    let mut out = Vec::new();
    // Total = sum over each split's values, per period.
    let mut by_period_split: HashMap<(PeriodType, i32, usize), Vec<usize>> = HashMap::new();
    for (i, c) in cells.iter().enumerate() {
        if c.split != 0 {
            by_period_split.entry((c.period_type, c.period_start, c.split)).or_default().push(i);
        }
    }
    let mut keys: Vec<_> = by_period_split.keys().copied().collect();
    keys.sort();
    for k in keys {
        let total = CellKey { period_type: k.0, period_start: k.1, split: 0, split_value: "all".into() };
        if let Some(&t) = index.get(&total) {
            out.push(Constraint { total: t, parts: by_period_split[&k].clone() });
        }
    }
    // Coarser period = sum of the finer periods in it, per column.
    let mut types: Vec<PeriodType> = cells.iter().map(|c| c.period_type).collect();
    types.sort();
    types.dedup();
    for w in types.windows(2) {
        let (fine, coarse) = (w[0], w[1]);
        let mut parts: HashMap<(i32, usize, &str), Vec<usize>> = HashMap::new();
        for (i, c) in cells.iter().enumerate().filter(|(_, c)| c.period_type == fine) {
            let start = days_of(period_start(coarse, date_of(c.period_start)));
            parts.entry((start, c.split, c.split_value.as_str())).or_default().push(i);
        }
        for (i, c) in cells.iter().enumerate().filter(|(_, c)| c.period_type == coarse) {
            if let Some(p) = parts.get(&(c.period_start, c.split, c.split_value.as_str())) {
                out.push(Constraint { total: i, parts: p.clone() });
            }
        }
    }
    out
}

/// Suppress: `primary` flags, `n` per cell (to choose small complements).
pub fn suppress(cells: &[CellKey], n: &[u64], primary: &[bool]) -> Vec<Suppression> {
    suppress_with_room(cells, n, primary, 0, 0)
}

/// [`suppress`], and beyond it *room*: in every equation whose total is
/// published and whose withheld parts hold one below `room` (the threshold),
/// the withheld parts together must exceed what the outsider knows of each
/// (`floor`, a published row's least count) by at least `room`; else the
/// outsider who subtracts the published parts from the total pins every
/// withheld part to less than the threshold (two withheld parts of 2 and 1 in
/// a total: each is 1 or 2). The part added is the smallest published one
/// that gives the room, else the largest, else the total.
pub fn suppress_with_room(cells: &[CellKey], n: &[u64], primary: &[bool], room: u64, floor: u64) -> Vec<Suppression> {
    let cons = constraints(cells);
    let mut state: Vec<Suppression> =
        primary.iter().map(|p| if *p { Suppression::Primary } else { Suppression::None }).collect();
    let mut by_cell: Vec<Vec<usize>> = vec![Vec::new(); cells.len()];
    for (k, c) in cons.iter().enumerate() {
        for m in c.members() {
            by_cell[m].push(k);
        }
    }
    let hidden = |s: &Vec<Suppression>, i: usize| s[i] != Suppression::None;
    // The smallest published member of an equation (parts before the total).
    let complement = |s: &Vec<Suppression>, c: &Constraint| -> Option<usize> {
        let part = c.parts.iter().copied().filter(|&i| !hidden(s, i)).min_by_key(|&i| (n[i], i));
        part.or_else(|| (!hidden(s, c.total)).then_some(c.total))
    };
    loop {
        // Every equation with one suppressed cell gets a second.
        let mut changed = true;
        while changed {
            changed = false;
            for c in &cons {
                if c.members().filter(|&i| hidden(&state, i)).count() == 1
                    && let Some(j) = complement(&state, c)
                {
                    state[j] = Suppression::Complementary;
                    changed = true;
                }
                if room > 0 && !hidden(&state, c.total) {
                    let withheld = c.parts.iter().copied().filter(|&i| hidden(&state, i));
                    let (mut small, mut slack) = (false, 0);
                    for i in withheld {
                        small |= n[i] < room;
                        slack += n[i].saturating_sub(floor);
                    }
                    if small && slack < room {
                        let published = || c.parts.iter().copied().filter(|&i| !hidden(&state, i));
                        let j = published()
                            .filter(|&i| n[i].saturating_sub(floor) >= room - slack)
                            .min_by_key(|&i| (n[i], i))
                            .or_else(|| published().max_by_key(|&i| (n[i], std::cmp::Reverse(i))))
                            .unwrap_or(c.total);
                        state[j] = Suppression::Complementary;
                        changed = true;
                    }
                }
            }
        }
        let fixed = audit(cells.len(), &cons, &state.iter().map(|s| *s != Suppression::None).collect::<Vec<_>>());
        let Some(&d) = fixed.first() else { break };
        // Open an equation of the fixed cell; failing that, any equation of its group.
        let pick = by_cell[d]
            .iter()
            .filter_map(|&k| complement(&state, &cons[k]))
            .min_by_key(|&j| (n[j], j))
            .or_else(|| cons.iter().filter_map(|c| complement(&state, c)).min_by_key(|&j| (n[j], j)));
        match pick {
            Some(j) => state[j] = Suppression::Complementary,
            None => break,
        }
    }
    state
}

/// Complementary suppression of the rows of one table whose counts may add
/// up to a total the outsider knows from elsewhere (a report's rows per unit
/// or per month, whose sum the municipality publishes): [`suppress_with_room`]
/// on the one equation `total = Σ rows`, so that no withheld row is left alone
/// or narrowed below `room` by subtraction. Returns the rows to withhold.
pub fn suppress_rows(counts: &[u64], primary: &[bool], room: u64) -> Vec<bool> {
    let key = |split: usize, value: String| CellKey {
        period_type: PeriodType::Year,
        period_start: 0,
        split,
        split_value: value,
    };
    let keys: Vec<CellKey> =
        std::iter::once(key(0, "all".into())).chain((0..counts.len()).map(|i| key(1, i.to_string()))).collect();
    let n: Vec<u64> = std::iter::once(counts.iter().sum()).chain(counts.iter().copied()).collect();
    let flags: Vec<bool> = std::iter::once(false).chain(primary.iter().copied()).collect();
    suppress_with_room(&keys, &n, &flags, room, 0)[1..].iter().map(|s| *s != Suppression::None).collect()
}

/// The suppressed cells whose value the equations fix, given every published
/// cell's value. Exact for the equations; Gaussian elimination with partial
/// pivoting on small integer matrices.
pub fn audit(n_cells: usize, cons: &[Constraint], hidden: &[bool]) -> Vec<usize> {
    assert_eq!(n_cells, hidden.len());
    // Group suppressed cells connected through equations (union-find).
    let mut parent: Vec<usize> = (0..n_cells).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for c in cons {
        let hs: Vec<usize> = c.members().filter(|&i| hidden[i]).collect();
        for w in hs.windows(2) {
            let (a, b) = (find(&mut parent, w[0]), find(&mut parent, w[1]));
            parent[a] = b;
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in (0..n_cells).filter(|&i| hidden[i]) {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut fixed = Vec::new();
    let mut roots: Vec<_> = groups.keys().copied().collect();
    roots.sort();
    for r in roots {
        let members = &groups[&r];
        let col: HashMap<usize, usize> = members.iter().enumerate().map(|(k, &i)| (i, k)).collect();
        let mut rows: Vec<Vec<f64>> = Vec::new();
        for c in cons {
            if !c.members().any(|i| col.contains_key(&i)) {
                continue;
            }
            let mut row = vec![0.0; members.len()];
            for &p in &c.parts {
                if let Some(&k) = col.get(&p) {
                    row[k] += 1.0;
                }
            }
            if let Some(&k) = col.get(&c.total) {
                row[k] -= 1.0;
            }
            rows.push(row);
        }
        for k in determined_columns(rows, members.len()) {
            fixed.push(members[k]);
        }
    }
    fixed.sort();
    fixed
}

/// Columns x_k whose value a consistent system A x = b fixes: pivot columns
/// whose reduced row has no entry in a free column.
fn determined_columns(mut a: Vec<Vec<f64>>, cols: usize) -> Vec<usize> {
    const EPS: f64 = 1e-9;
    let mut pivots = Vec::new();
    let mut r = 0;
    for c in 0..cols {
        if r == a.len() {
            break;
        }
        let Some(p) = (r..a.len()).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs())) else { break };
        if a[p][c].abs() < EPS {
            continue;
        }
        a.swap(r, p);
        let pv = a[r][c];
        for x in a[r].iter_mut() {
            *x /= pv;
        }
        let pivot_row = a[r].clone();
        for (i, row) in a.iter_mut().enumerate() {
            if i != r && row[c].abs() > EPS {
                let f = row[c];
                for (x, p) in row.iter_mut().zip(&pivot_row) {
                    *x -= f * p;
                }
            }
        }
        pivots.push((r, c));
        r += 1;
    }
    let is_pivot: Vec<bool> = {
        let mut v = vec![false; cols];
        for &(_, c) in &pivots {
            v[c] = true;
        }
        v
    };
    pivots
        .into_iter()
        .filter(|&(row, _)| (0..cols).all(|k| is_pivot[k] || a[row][k].abs() < EPS))
        .map(|(_, c)| c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pt: PeriodType, start: &str, split: usize, v: &str) -> CellKey {
        CellKey {
            period_type: pt,
            period_start: days_of(NaiveDate::parse_from_str(start, "%Y-%m-%d").unwrap()),
            split,
            split_value: v.into(),
        }
    }

    #[test]
    fn a_lone_small_unit_takes_a_second_unit_with_it() {
        // One year, total 30 = A 3 + B 12 + C 15: A is primary; B (smallest) is
        // the complement; the total and C stay published.
        let cells = vec![
            key(PeriodType::Year, "2024-01-01", 0, "all"),
            key(PeriodType::Year, "2024-01-01", 1, "A"),
            key(PeriodType::Year, "2024-01-01", 1, "B"),
            key(PeriodType::Year, "2024-01-01", 1, "C"),
        ];
        let n = [30, 3, 12, 15];
        let policy = crate::Policy::new(5, crate::Source::Default).unwrap();
        let p: Vec<bool> = n.iter().map(|&n| policy.primary(n, None)).collect();
        let s = suppress(&cells, &n, &p);
        assert_eq!(s, vec![Suppression::None, Suppression::Primary, Suppression::Complementary, Suppression::None]);
        assert!(
            audit(4, &constraints(&cells), &s.iter().map(|s| *s != Suppression::None).collect::<Vec<_>>()).is_empty()
        );
    }

    #[test]
    fn audit_finds_a_cell_fixed_through_two_equations() {
        // Two equations share suppressed cells: x0 = x1 + x2 and x3 = x1 + x2,
        // with x0 published: then x1 + x2 is known, so x3 is fixed.
        let cons = vec![Constraint { total: 0, parts: vec![1, 2] }, Constraint { total: 3, parts: vec![1, 2] }];
        assert_eq!(audit(4, &cons, &[false, true, true, true]), vec![3]);
        assert!(audit(4, &cons, &[true, true, true, true]).is_empty());
    }

    #[test]
    fn periods_nest() {
        let d = NaiveDate::from_ymd_opt(2024, 8, 17).unwrap();
        assert_eq!(period_start(PeriodType::Quarter, d), NaiveDate::from_ymd_opt(2024, 7, 1).unwrap());
        assert_eq!(period_start(PeriodType::Year, d), NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        assert_eq!(date_of(days_of(d)), d);
        assert_eq!(days_of(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()), 0);
    }

    // ------------------------------------------------------------------
    // Property: on random microdata, no suppressed cell can be recomputed
    // from the published cells. Checked independently of `audit`: the
    // equations are rebuilt from the data's structure here, and a cell is
    // fixed iff adding its unit vector does not raise the rank of the
    // equations on the suppressed cells (exact arithmetic modulo a prime).

    const P: i64 = 2_147_483_647;

    fn inv(a: i64) -> i64 {
        let (mut r, mut b, mut e) = (1i64, a.rem_euclid(P), P - 2);
        while e > 0 {
            if e & 1 == 1 {
                r = r * b % P;
            }
            b = b * b % P;
            e >>= 1;
        }
        r
    }

    /// Reduced row echelon form modulo P; returns the matrix and its pivots (row, column).
    fn rref(mut m: Vec<Vec<i64>>, cols: usize) -> (Vec<Vec<i64>>, Vec<(usize, usize)>) {
        let mut pivots = Vec::new();
        let mut r = 0;
        for c in 0..cols {
            let Some(p) = (r..m.len()).find(|&i| m[i][c] != 0) else { continue };
            m.swap(r, p);
            let iv = inv(m[r][c]);
            for x in m[r].iter_mut() {
                *x = *x * iv % P;
            }
            let pivot_row = m[r].clone();
            for (i, row) in m.iter_mut().enumerate() {
                if i != r && row[c] != 0 {
                    let f = row[c];
                    for (x, p) in row.iter_mut().zip(&pivot_row) {
                        *x = (*x - f * p).rem_euclid(P);
                    }
                }
            }
            pivots.push((r, c));
            r += 1;
        }
        (m, pivots)
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(120))]
        #[test]
        fn no_suppressed_value_can_be_derived(
            rows in proptest::collection::vec((0u32..24, 0usize..4, 0usize..2, any::<bool>()), 1..120),
            units in 2usize..5,
        ) {
            // Microdata: (month in 2023-2024, unit, sex, outcome) -> cells.
            let mut agg: HashMap<CellKey, (u64, u64)> = HashMap::new();
            for &(m, u, s, y) in &rows {
                let u = u % units;
                let month = NaiveDate::from_ymd_opt(2023 + (m / 12) as i32, m % 12 + 1, 1).unwrap();
                for pt in PeriodType::ALL {
                    let start = days_of(period_start(pt, month));
                    for (split, v) in [(0, "all".to_string()), (1, format!("u{u}")), (2, ["F", "M"][s].to_string())] {
                        let e = agg.entry(CellKey { period_type: pt, period_start: start, split, split_value: v }).or_default();
                        e.0 += 1;
                        e.1 += u64::from(y);
                    }
                }
            }
            let mut cells: Vec<CellKey> = agg.keys().cloned().collect();
            cells.sort();
            let n: Vec<u64> = cells.iter().map(|c| agg[c].0).collect();
            let policy = crate::Policy::new(5, crate::Source::Default).unwrap();
            let prim: Vec<bool> = cells.iter().map(|c| policy.primary(agg[c].0, Some(agg[c].1))).collect();
            let state = suppress(&cells, &n, &prim);
            for (i, p) in prim.iter().enumerate() {
                prop_assert!(!p || state[i] == Suppression::Primary);
            }
            // The equations, rebuilt: per period, total = sum of each split;
            // per column, year = sum of quarters, quarter = sum of months.
            let index: HashMap<&CellKey, usize> = cells.iter().enumerate().map(|(i, c)| (c, i)).collect();
            let mut eqs: Vec<Vec<i64>> = Vec::new();
            for (t, c) in cells.iter().enumerate().filter(|(_, c)| c.split == 0) {
                for split in [1, 2] {
                    let mut e = vec![0i64; cells.len()];
                    e[t] = P - 1;
                    for (j, d) in cells.iter().enumerate() {
                        if d.split == split && d.period_type == c.period_type && d.period_start == c.period_start {
                            e[j] = 1;
                        }
                    }
                    eqs.push(e);
                }
            }
            for (coarse, fine) in [(PeriodType::Year, PeriodType::Quarter), (PeriodType::Quarter, PeriodType::Month)] {
                for (t, c) in cells.iter().enumerate().filter(|(_, c)| c.period_type == coarse) {
                    let mut e = vec![0i64; cells.len()];
                    e[t] = P - 1;
                    for (j, d) in cells.iter().enumerate() {
                        if d.period_type == fine && d.split == c.split && d.split_value == c.split_value
                            && days_of(period_start(coarse, date_of(d.period_start))) == c.period_start {
                            e[j] = 1;
                        }
                    }
                    eqs.push(e);
                }
            }
            prop_assert!(index.len() == cells.len());
            // Restrict to the suppressed cells (published ones are known values).
            let hidden: Vec<usize> = (0..cells.len()).filter(|&i| state[i] != Suppression::None).collect();
            // x_k is fixed iff e_k is in the row space: a pivot column whose
            // reduced row is zero outside it.
            let a: Vec<Vec<i64>> = eqs.iter().map(|e| hidden.iter().map(|&j| e[j]).collect()).collect();
            let (m, pivots) = rref(a, hidden.len());
            for (row, k) in pivots {
                let alone = (0..hidden.len()).all(|c| c == k || m[row][c] == 0);
                prop_assert!(!alone, "cell {:?} (n {}) can be recomputed", cells[hidden[k]], n[hidden[k]]);
            }
        }
    }
}
