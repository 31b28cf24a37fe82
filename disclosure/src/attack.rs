//! The attacker's audit, in the manner of tau-Argus and sdcTable: what an
//! outsider who reads everything published together can narrow each withheld
//! count to, by linear programming.
//!
//! The outsider knows every published count, the a-priori bounds of every
//! withheld one (a count is at least 0, a published row's population at
//! least 1) and the linear relations between counts that the definitions make public:
//! a total is the sum of each split, a year the sum of its quarters, a
//! population the sum of those with and without the outcome, a narrower
//! population (youth 13-20) at most the wider one, two disjoint outcomes at
//! most their population. For every *sensitive* withheld count (one below the
//! threshold: the reason a cell was withheld) the audit computes the interval
//! `[min, max]` of its value over all non-negative solutions of those relations,
//! and calls it **exposed** when the interval is narrower than the threshold.
//! Counts withheld only to protect others need no interval of their own (they
//! are at or above the threshold), as in tau-Argus.
//!
//! Cost: the relations split into components of withheld counts that share a
//! relation; each is solved alone (Clarabel's interior-point method). Two
//! cheap bounds come first, one from each side. From outside, propagating
//! bounds through the relations: a count they pin below the threshold is
//! exposed without a program. From inside, feasible points: the true values,
//! then each program's optimum. A count whose seen values span the threshold
//! is safe. Points come from batch programs that push every undecided
//! count of a component at once, each its own way by what it still lacks:
//! all up, then all down, then patterns that push half each way (two parts of
//! a published total can only move apart), each pattern with its opposite.
//! Only the few counts no batch frees get their own two programs, which
//! decide exactly.
//! Withholding more can only widen intervals, so a count once found
//! safe stays safe; callers that repair and re-audit pass the same [`Audit`] back in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use clarabel::algebra::CscMatrix;
use clarabel::solver::{DefaultSettings, DefaultSolver, IPSolver, NonnegativeConeT, SolverStatus, ZeroConeT};

/// One count the outsider reasons about.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantity {
    /// The true value.
    pub value: f64,
    /// Whether it is withheld.
    pub hidden: bool,
    /// The a-priori lower bound the outsider knows (0, or 1 for a published row's population).
    pub min: f64,
    /// Whether it must be protected (below the threshold).
    pub sensitive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rel {
    /// `Σ coef · q = 0`
    Eq,
    /// `Σ coef · q ≤ 0`
    Le,
}

/// A linear relation between quantities (by index), with zero on the right.
#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    pub terms: Vec<(usize, f64)>,
    pub rel: Rel,
}

impl Relation {
    /// `total = Σ parts`.
    pub fn sum(total: usize, parts: impl IntoIterator<Item = usize>) -> Relation {
        let mut terms = vec![(total, -1.0)];
        terms.extend(parts.into_iter().map(|p| (p, 1.0)));
        Relation { terms, rel: Rel::Eq }
    }

    /// `Σ parts ≤ whole`.
    pub fn at_most(parts: impl IntoIterator<Item = usize>, whole: usize) -> Relation {
        let mut terms: Vec<(usize, f64)> = parts.into_iter().map(|p| (p, 1.0)).collect();
        terms.push((whole, -1.0));
        Relation { terms, rel: Rel::Le }
    }
}

/// A sensitive count the outsider can narrow below the threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exposure {
    pub quantity: usize,
    pub value: f64,
    /// The outsider's interval.
    pub low: f64,
    pub high: f64,
}

/// The audit's state, kept across repairs (see the module's notes).
#[derive(Debug, Default, Clone)]
pub struct Audit {
    /// Sensitive quantities found safe.
    safe: Vec<bool>,
    /// The lowest and highest value of each quantity in the feasible points seen.
    low: Vec<f64>,
    high: Vec<f64>,
    /// Linear programs solved, in all runs.
    pub programs: u64,
    /// Sensitive quantities checked, and how many of them needed the whole
    /// component's programs.
    pub checked: u64,
    pub solved_whole: u64,
    /// Batch programs (every undecided count of a component pushed at once).
    pub batches: u64,
    /// Exposed counts found by propagating bounds alone.
    pub by_bounds: u64,
    /// Components of withheld counts with a sensitive count (largest in quantities).
    pub components: u64,
    pub largest_component: usize,
    /// Leave a component's programs for later where propagation already
    /// finds an exposed count in it (a repair will change the component
    /// anyway). A run that finds nothing exposed has still solved every
    /// program, so its empty answer is complete.
    pub propagation_first: bool,
    /// Time spent in programs, by kind.
    pub time: Timings,
}

/// Time spent solving, per kind of program.
#[derive(Debug, Default, Clone, Copy)]
pub struct Timings {
    pub batch: Duration,
    pub single: Duration,
}

/// An interval counts as narrower than the threshold when it is narrower by
/// more than this (counts are whole; the solver's are not exactly).
const WIDTH_TOLERANCE: f64 = 0.01;
/// What a solver's point is trusted to: values it reaches are taken this much
/// nearer the truth (the interior-point method meets the relations to 1e-8).
const POINT_TOLERANCE: f64 = 1e-3;

/// Open counts left after batches, at most this many, get their own programs.
const SINGLES: usize = 4;

/// Patterns of directions tried in batches per component and audit.
const PATTERNS: u64 = 12;

/// The direction (±1) pattern `pattern` pushes quantity `q`: all up first,
/// then halves chosen by a hash of both (deterministic, so that every build
/// of the same data withholds the same cells).
fn direction(q: usize, pattern: u64) -> f64 {
    if pattern == 0 {
        return 1.0;
    }
    let mut h = (q as u64) ^ pattern.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    if h & 1 == 0 { 1.0 } else { -1.0 }
}

/// A batch program pushes every open count part of the way; moving one the
/// other way costs this share of what moving it the right way earns.
const AGAINST: f64 = 0.1;

impl Audit {
    pub fn new(qs: &[Quantity]) -> Audit {
        let low: Vec<f64> = qs.iter().map(|q| q.value).collect();
        Audit { safe: vec![false; qs.len()], high: low.clone(), low, ..Audit::default() }
    }

    /// Every exposed sensitive quantity (sorted by index), given what is hidden now.
    ///
    /// Per component of withheld counts: outer bounds by propagation first (a
    /// count they pin below the threshold is exposed, no program needed);
    /// then batch programs that push every undecided count up (then down) at
    /// once, each by just what it still lacks, so one program can prove
    /// hundreds safe; only the counts no batch frees get their own two
    /// programs over the whole component, which decide exactly.
    pub fn run(&mut self, qs: &[Quantity], rels: &[Relation], threshold: u32) -> Vec<Exposure> {
        assert_eq!(self.safe.len(), qs.len(), "one audit state per set of quantities");
        let width = f64::from(threshold) - WIDTH_TOLERANCE;
        let mut exposed = Vec::new();
        for comp in components(qs, rels) {
            let todo: Vec<usize> = comp.vars.iter().copied().filter(|&q| qs[q].sensitive && !self.safe[q]).collect();
            if todo.is_empty() {
                continue;
            }
            let comp_clock = Instant::now();
            let comp_programs = self.programs;
            self.components += 1;
            self.largest_component = self.largest_component.max(comp.vars.len());
            let before = exposed.len();
            let outer = propagate(qs, rels, &comp, 50);
            let mut open = Vec::new();
            for &q in &todo {
                self.checked += 1;
                let (lo, hi) = outer[&q];
                if hi - lo < width {
                    self.by_bounds += 1;
                    exposed.push(Exposure { quantity: q, value: qs[q].value, low: lo, high: hi });
                } else {
                    open.push(q);
                }
            }
            if self.propagation_first && exposed.len() > before {
                continue;
            }
            self.patterns(qs, rels, &comp, &mut open, width);
            for q in open {
                for up in [true, false] {
                    if self.high[q] - self.low[q] >= width {
                        break;
                    }
                    self.programs += 1;
                    self.solved_whole += 1;
                    let clock = Instant::now();
                    let outcome = program(qs, rels, &comp, &Objective::Single(q, up));
                    self.time.single += clock.elapsed();
                    match outcome {
                        Outcome::Point(x) => self.see(&comp.vars, &x),
                        Outcome::Unbounded => self.high[q] = f64::INFINITY,
                        // A solver failure proves nothing either way: the count stays exposed.
                        Outcome::Failed => {}
                    }
                }
                if self.high[q] - self.low[q] < width {
                    exposed.push(Exposure { quantity: q, value: qs[q].value, low: self.low[q], high: self.high[q] });
                }
            }
            if comp_clock.elapsed().as_secs_f64() > 0.5 {
                tracing::debug!(
                    vars = comp.vars.len(),
                    rels = comp.rels.len(),
                    todo = todo.len(),
                    programs = self.programs - comp_programs,
                    seconds = comp_clock.elapsed().as_secs_f64(),
                    "attacker's audit: component"
                );
            }
            // Feasible points are proofs: every count they span the threshold for is safe.
            for &q in &todo {
                self.safe[q] = self.high[q] - self.low[q] >= width;
            }
        }
        exposed.sort_by_key(|e| e.quantity);
        exposed
    }

    /// Batches in pairs, a pattern of directions and its opposite: first
    /// every open count up and then down, then patterns that push half of
    /// them each way (so that two parts of one published total can move
    /// apart), until too few are left or two pairs in a row free none.
    fn patterns(&mut self, qs: &[Quantity], rels: &[Relation], comp: &Comp, open: &mut Vec<usize>, width: f64) {
        let mut idle = 0;
        for pattern in 0..PATTERNS {
            if open.len() <= SINGLES || idle == 2 {
                break;
            }
            let before = open.len();
            for flip in [1.0, -1.0] {
                let signs: Vec<f64> = open.iter().map(|&q| flip * direction(q, pattern)).collect();
                self.batch(qs, rels, comp, open, &signs, width);
            }
            idle = if open.len() == before { idle + 1 } else { 0 };
        }
    }

    /// One batch program over `comp` pushing each count of `group` its way
    /// (`signs`, ±1) by what it still lacks; `group` keeps the counts still open.
    fn batch(
        &mut self,
        qs: &[Quantity],
        rels: &[Relation],
        comp: &Comp,
        group: &mut Vec<usize>,
        signs: &[f64],
        width: f64,
    ) {
        let targets: Vec<(usize, f64, f64)> = group
            .iter()
            .zip(signs)
            .filter(|(q, _)| self.high[**q] - self.low[**q] < width)
            .map(|(&q, &sign)| {
                let v = qs[q].value;
                let lack = if sign > 0.0 { self.low[q] + width - v } else { v - (self.high[q] - width) };
                (q, sign, lack.max(0.0) + WIDTH_TOLERANCE)
            })
            .collect();
        if targets.is_empty() {
            group.clear();
            return;
        }
        self.programs += 1;
        self.batches += 1;
        let clock = Instant::now();
        let outcome = program(qs, rels, comp, &Objective::Batch(&targets));
        self.time.batch += clock.elapsed();
        if let Outcome::Point(x) = outcome {
            self.see(&comp.vars, &x);
        }
        group.retain(|&q| self.high[q] - self.low[q] < width);
    }

    /// A feasible point over `vars` widens what is known to be reachable.
    fn see(&mut self, vars: &[usize], x: &[f64]) {
        for (&v, &x) in vars.iter().zip(x) {
            self.low[v] = self.low[v].min(x + POINT_TOLERANCE);
            self.high[v] = self.high[v].max(x - POINT_TOLERANCE);
        }
    }
}

/// Outer bounds of the component's quantities by propagation: each relation
/// bounds each of its withheld terms by the others' bounds, rounded inward to
/// whole counts, until nothing moves (or `passes` sweeps). The true interval
/// lies inside: a count whose outer interval is narrower than the threshold
/// is exposed without a linear program.
fn propagate(qs: &[Quantity], rels: &[Relation], comp: &Comp, passes: usize) -> HashMap<usize, (f64, f64)> {
    let mut b: HashMap<usize, (f64, f64)> = comp.vars.iter().map(|&q| (q, (qs[q].min, f64::INFINITY))).collect();
    for _ in 0..passes {
        let mut moved = false;
        for &r in &comp.rels {
            let rel = &rels[r];
            // Σ c x over the relation: published terms are constants.
            let mut constant = 0.0;
            let (mut lo_sum, mut hi_sum) = (0.0f64, 0.0f64);
            for &(q, c) in &rel.terms {
                match b.get(&q) {
                    None => constant += c * qs[q].value,
                    Some(&(lo, hi)) => {
                        let (a, z) = if c > 0.0 { (c * lo, c * hi) } else { (c * hi, c * lo) };
                        lo_sum += a;
                        hi_sum += z;
                    }
                }
            }
            for &(q, c) in &rel.terms {
                let Some(&(lo, hi)) = b.get(&q) else { continue };
                let (a, z) = if c > 0.0 { (c * lo, c * hi) } else { (c * hi, c * lo) };
                // The others' sum lies in [rest_lo, rest_hi] (infinite parts kept apart).
                let rest_lo = if a.is_infinite() { others(&rel.terms, q, &b, false) } else { lo_sum - a };
                let rest_hi = if z.is_infinite() { others(&rel.terms, q, &b, true) } else { hi_sum - z };
                // c x = -(constant + rest), and for an equation also c x >= -(constant + rest).
                let mut new = (lo, hi);
                let top = -(constant + rest_lo);
                let bottom = -(constant + rest_hi);
                if c > 0.0 {
                    new.1 = new.1.min(top / c);
                    if rel.rel == Rel::Eq {
                        new.0 = new.0.max(bottom / c);
                    }
                } else {
                    new.0 = new.0.max(top / c);
                    if rel.rel == Rel::Eq {
                        new.1 = new.1.min(bottom / c);
                    }
                }
                let new = ((new.0 - 1e-6).ceil(), (new.1 + 1e-6).floor());
                if new.0 > lo + 0.5 || new.1 < hi - 0.5 {
                    b.insert(q, (new.0.max(lo), new.1.min(hi)));
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    b
}

/// The lowest (or highest) sum of the relation's terms other than `skip`.
fn others(terms: &[(usize, f64)], skip: usize, b: &HashMap<usize, (f64, f64)>, high: bool) -> f64 {
    terms
        .iter()
        .filter(|t| t.0 != skip)
        .filter_map(|&(q, c)| b.get(&q).map(|&(lo, hi)| (c, lo, hi)))
        .map(|(c, lo, hi)| {
            let (a, z) = if c > 0.0 { (c * lo, c * hi) } else { (c * hi, c * lo) };
            if high { z } else { a }
        })
        .sum()
}

/// Withheld quantities that share relations, and the relations that hold them.
struct Comp {
    vars: Vec<usize>,
    rels: Vec<usize>,
}

fn components(qs: &[Quantity], rels: &[Relation]) -> Vec<Comp> {
    let mut parent: Vec<usize> = (0..qs.len()).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for r in rels {
        let mut hidden = r.terms.iter().map(|t| t.0).filter(|&q| qs[q].hidden);
        if let Some(first) = hidden.next() {
            for q in hidden {
                let (a, b) = (find(&mut parent, first), find(&mut parent, q));
                parent[a] = b;
            }
        }
    }
    let mut by_root: HashMap<usize, usize> = HashMap::new();
    let mut comps: Vec<Comp> = Vec::new();
    for q in (0..qs.len()).filter(|&q| qs[q].hidden) {
        let r = find(&mut parent, q);
        let c = *by_root.entry(r).or_insert_with(|| {
            comps.push(Comp { vars: Vec::new(), rels: Vec::new() });
            comps.len() - 1
        });
        comps[c].vars.push(q);
    }
    for (i, r) in rels.iter().enumerate() {
        if let Some(&(q, _)) = r.terms.iter().find(|t| qs[t.0].hidden) {
            let c = by_root[&find(&mut parent, q)];
            comps[c].rels.push(i);
        }
    }
    comps
}

enum Outcome {
    Point(Vec<f64>),
    Unbounded,
    Failed,
}

/// What a program optimises.
enum Objective<'a> {
    /// One quantity, up (maximise) or down.
    Single(usize, bool),
    /// Push each `(quantity, direction ±1, by at most)` at once: maximise
    /// `Σ min(direction · deviation, cap)`, with a movement the other way
    /// costing [`AGAINST`] of its size.
    Batch(&'a [(usize, f64, f64)]),
}

/// Optimise over the feasible set of the component's withheld quantities,
/// every published one at its value (Clarabel's interior-point method: it
/// needs no starting basis and stays fast and stable on the degenerate,
/// redundant systems of equations that tables of totals are).
fn program(qs: &[Quantity], rels: &[Relation], comp: &Comp, objective: &Objective) -> Outcome {
    let vars = &comp.vars;
    let nv = vars.len();
    let local: HashMap<usize, usize> = vars.iter().enumerate().map(|(k, &v)| (v, k)).collect();
    let targets: &[(usize, f64, f64)] = match objective {
        Objective::Batch(t) => t,
        Objective::Single(..) => &[],
    };
    // Columns: x per withheld quantity, then per batch target its gain and loss.
    let ncol = nv + 2 * targets.len();
    let mut q = vec![0.0; ncol];
    match *objective {
        Objective::Single(t, up) => q[local[&t]] = if up { -1.0 } else { 1.0 },
        Objective::Batch(_) => {
            for k in 0..targets.len() {
                q[nv + 2 * k] = -1.0;
                q[nv + 2 * k + 1] = AGAINST;
            }
        }
    }
    // Rows `A x + s = b`: equations (s = 0) first, then inequalities (s ≥ 0).
    let mut eq: Vec<(Vec<(usize, f64)>, f64)> = Vec::new();
    let mut le: Vec<(Vec<(usize, f64)>, f64)> = Vec::new();
    for &r in &comp.rels {
        let rel = &rels[r];
        let mut row: Vec<(usize, f64)> = Vec::new();
        let mut rhs = 0.0;
        for &(v, c) in &rel.terms {
            match local.get(&v) {
                Some(&k) => match row.iter_mut().find(|t| t.0 == k) {
                    Some(t) => t.1 += c,
                    None => row.push((k, c)),
                },
                None => rhs -= c * qs[v].value,
            }
        }
        match rel.rel {
            Rel::Eq => eq.push((row, rhs)),
            Rel::Le => le.push((row, rhs)),
        }
    }
    for (k, &v) in vars.iter().enumerate() {
        le.push((vec![(k, -1.0)], -qs[v].min));
    }
    for (t, &(v, sign, cap)) in targets.iter().enumerate() {
        let (gain, loss, k) = (nv + 2 * t, nv + 2 * t + 1, local[&v]);
        // gain - loss <= sign · (x - x*), 0 <= gain <= cap, loss >= 0.
        le.push((vec![(gain, 1.0), (loss, -1.0), (k, -sign)], -sign * qs[v].value));
        le.push((vec![(gain, -1.0)], 0.0));
        le.push((vec![(gain, 1.0)], cap));
        le.push((vec![(loss, -1.0)], 0.0));
    }
    let (neq, nle) = (eq.len(), le.len());
    let (mut ri, mut ci, mut val, mut b) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (r, (row, rhs)) in eq.into_iter().chain(le).enumerate() {
        for (k, c) in row {
            ri.push(r);
            ci.push(k);
            val.push(c);
        }
        b.push(rhs);
    }
    let a = CscMatrix::new_from_triplets(neq + nle, ncol, ri, ci, val);
    let p = CscMatrix::zeros((ncol, ncol));
    let cones = [ZeroConeT(neq), NonnegativeConeT(nle)];
    // A batch's point only has to be feasible, not optimal (checked below).
    let batch = matches!(objective, Objective::Batch(_));
    let settings = DefaultSettings { verbose: false, ..DefaultSettings::default() };
    let Ok(mut solver) = DefaultSolver::new(&p, &q, &a, &b, &cones, settings) else {
        return Outcome::Failed;
    };
    solver.solve();
    let x = &solver.solution.x[..nv];
    match solver.solution.status {
        SolverStatus::Solved | SolverStatus::AlmostSolved if feasible(qs, rels, comp, x) => Outcome::Point(x.to_vec()),
        SolverStatus::MaxIterations | SolverStatus::InsufficientProgress if batch && feasible(qs, rels, comp, x) => {
            Outcome::Point(x.to_vec())
        }
        SolverStatus::DualInfeasible | SolverStatus::AlmostDualInfeasible => Outcome::Unbounded,
        _ => Outcome::Failed,
    }
}

/// Whether `x` (the component's withheld quantities) meets every relation
/// and a-priori bound to well within [`POINT_TOLERANCE`]: a point is taken
/// as a proof only once checked, whatever the solver reported.
fn feasible(qs: &[Quantity], rels: &[Relation], comp: &Comp, x: &[f64]) -> bool {
    const SLACK: f64 = 1e-5;
    let at: HashMap<usize, f64> = comp.vars.iter().copied().zip(x.iter().copied()).collect();
    let bounds = comp.vars.iter().zip(x).all(|(&v, &x)| x >= qs[v].min - SLACK);
    bounds
        && comp.rels.iter().all(|&r| {
            let rel = &rels[r];
            let sum: f64 = rel.terms.iter().map(|&(v, c)| c * at.get(&v).copied().unwrap_or(qs[v].value)).sum();
            match rel.rel {
                Rel::Eq => sum.abs() <= SLACK,
                Rel::Le => sum <= SLACK,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use microlp::{ComparisonOp, LinearExpr, OptimizationDirection, Problem};

    fn q(value: f64, hidden: bool, sensitive: bool) -> Quantity {
        Quantity { value, hidden, min: 0.0, sensitive }
    }

    #[test]
    fn a_two_by_two_cycle_protects_as_far_as_its_smallest_complement() {
        // Rows r1 = a + b, r2 = c + d; columns k1 = a + c, k2 = b + d; all
        // margins published, a b c d withheld. a = 2 can move by as much as
        // min(b, c) up and min(a, d) down: with b = 3, c = 20, d = 20 its
        // interval is [0, 5] (width 5): safe at threshold 5, exposed at 6.
        let vals = [2.0, 3.0, 20.0, 20.0];
        let mut qs: Vec<Quantity> = vals.iter().enumerate().map(|(i, &v)| q(v, true, i == 0)).collect();
        for m in [vals[0] + vals[1], vals[2] + vals[3], vals[0] + vals[2], vals[1] + vals[3]] {
            qs.push(q(m, false, false));
        }
        let rels = vec![
            Relation::sum(4, [0, 1]),
            Relation::sum(5, [2, 3]),
            Relation::sum(6, [0, 2]),
            Relation::sum(7, [1, 3]),
        ];
        assert!(Audit::new(&qs).run(&qs, &rels, 5).is_empty());
        let e = Audit::new(&qs).run(&qs, &rels, 6);
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].quantity, e[0].low.round(), e[0].high.round()), (0, 0.0, 5.0));
    }

    #[test]
    fn a_nested_population_bounds_the_wider_one() {
        // Youth 3 of all 4 in a cell: all = 4 is withheld with a sibling of 30
        // (sum 34 published), youth = 3 with a sibling of 12 (sum 15
        // published). With youth <= all, youth ranges over [0, 15] and all
        // over [0, 34]: safe. A published bound all <= 4 (say, a wider
        // population's cell) pins all to [0, 4], and through the nesting
        // youth to [0, 4]: both exposed at threshold 5, neither at 4.
        let qs = vec![
            q(4.0, true, true),
            q(30.0, true, false),
            q(34.0, false, false),
            q(3.0, true, true),
            q(12.0, true, false),
            q(15.0, false, false),
            q(4.0, false, false),
        ];
        let mut rels = vec![Relation::sum(2, [0, 1]), Relation::sum(5, [3, 4]), Relation::at_most([3], 0)];
        assert!(Audit::new(&qs).run(&qs, &rels, 5).is_empty());
        rels.push(Relation::at_most([0], 6));
        let e = Audit::new(&qs).run(&qs, &rels, 5);
        let found: Vec<_> = e.iter().map(|e| (e.quantity, e.low.round(), e.high.round())).collect();
        assert_eq!(found, vec![(0, 0.0, 4.0), (3, 0.0, 4.0)]);
        assert!(Audit::new(&qs).run(&qs, &rels, 4).is_empty());
    }

    #[test]
    fn a_lone_withheld_cell_is_recovered_exactly() {
        let qs = vec![q(10.0, false, false), q(7.0, false, false), q(3.0, true, true)];
        let e = Audit::new(&qs).run(&qs, &[Relation::sum(0, [1, 2])], 5);
        assert_eq!(e.len(), 1);
        assert!((e[0].low - 3.0).abs() < 1e-2 && (e[0].high - 3.0).abs() < 1e-2);
    }

    #[test]
    fn an_unbounded_count_is_safe() {
        // Two withheld parts of an unpublished total: nothing bounds them.
        let qs = vec![q(9.0, true, false), q(2.0, true, true), q(7.0, true, false)];
        assert!(Audit::new(&qs).run(&qs, &[Relation::sum(0, [1, 2])], 5).is_empty());
    }

    /// The interval of `target` by two plain programs over the original
    /// variables (no deviations, no batches): the reference the audit must match.
    fn exact(qs: &[Quantity], rels: &[Relation], target: usize) -> (f64, f64) {
        let solve = |dir| {
            let mut p = Problem::new(dir);
            let x: Vec<_> = qs
                .iter()
                .enumerate()
                .map(|(i, q)| {
                    let c = if i == target { 1.0 } else { 0.0 };
                    if q.hidden { p.add_var(c, (q.min, f64::INFINITY)) } else { p.add_var(c, (q.value, q.value)) }
                })
                .collect();
            for r in rels {
                let mut e = LinearExpr::empty();
                for &(q, c) in &r.terms {
                    e.add(x[q], c);
                }
                p.add_constraint(e, if r.rel == Rel::Eq { ComparisonOp::Eq } else { ComparisonOp::Le }, 0.0);
            }
            match p.solve() {
                Ok(s) => *s.var_value(x[target]),
                Err(microlp::Error::Unbounded) => f64::INFINITY,
                Err(e) => panic!("reference program: {e}"),
            }
        };
        (solve(OptimizationDirection::Minimize), solve(OptimizationDirection::Maximize))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// A two-way table with its margins and grand total, a nested
        /// sub-table (each cell at most the table's), random counts and a
        /// random pattern withheld: the audit calls exposed exactly the
        /// sensitive counts whose reference interval is narrower than the
        /// threshold, with that interval.
        #[test]
        fn the_audit_matches_plain_programs_per_count(
            cells in proptest::collection::vec((0u32..30, 0u32..4, proptest::bool::ANY), 20),
            threshold in 3u32..8,
        ) {
            let (rows, cols) = (4, 5);
            let mut qs: Vec<Quantity> = Vec::new();
            for &(v, _, hide) in &cells {
                qs.push(Quantity { value: f64::from(v), hidden: hide || v < threshold, min: 0.0, sensitive: v < threshold });
            }
            // The sub-table: at most each cell, withheld where the cell is.
            for (i, &(v, less, _)) in cells.iter().enumerate() {
                let w = v.saturating_sub(less);
                qs.push(Quantity { value: f64::from(w), hidden: qs[i].hidden || w < threshold, min: 0.0, sensitive: w < threshold });
            }
            let mut rels = Vec::new();
            for t in 0..2 {
                let base = t * rows * cols;
                let at = |r: usize, c: usize| base + r * cols + c;
                let row_sums: Vec<usize> = (0..rows).map(|r| {
                    let v: f64 = (0..cols).map(|c| qs[at(r, c)].value).sum();
                    qs.push(Quantity { value: v, hidden: false, min: 0.0, sensitive: false });
                    qs.len() - 1
                }).collect();
                for (r, &s) in row_sums.iter().enumerate() {
                    rels.push(Relation::sum(s, (0..cols).map(|c| at(r, c))));
                }
                for c in 0..cols {
                    let v: f64 = (0..rows).map(|r| qs[at(r, c)].value).sum();
                    qs.push(Quantity { value: v, hidden: false, min: 0.0, sensitive: false });
                    rels.push(Relation::sum(qs.len() - 1, (0..rows).map(|r| at(r, c))));
                }
            }
            for i in 0..rows * cols {
                rels.push(Relation::at_most([rows * cols + i], i));
            }
            let found = Audit::new(&qs).run(&qs, &rels, threshold);
            let width = f64::from(threshold) - WIDTH_TOLERANCE;
            let mut want = Vec::new();
            for i in (0..qs.len()).filter(|&i| qs[i].sensitive) {
                let (lo, hi) = exact(&qs, &rels, i);
                if hi - lo < width {
                    want.push((i, lo, hi));
                }
            }
            let ids = |v: Vec<usize>| v;
            proptest::prop_assert_eq!(
                ids(found.iter().map(|e| e.quantity).collect()),
                ids(want.iter().map(|w| w.0).collect())
            );
            // The interval reported is the exact one, or (found by propagation) an outer bound of it.
            for (e, &(_, lo, hi)) in found.iter().zip(&want) {
                proptest::prop_assert!(e.low <= lo + 1e-2 && e.high >= hi - 1e-2, "{e:?} against [{lo}, {hi}]");
            }
        }
    }
}
