//! Disclosure control of `indicators_public`: what is withheld, and the
//! attacker's audit that proves it is enough.
//!
//! A cell publishes two things that can be withheld apart: its population
//! `n`, and its value (for a proportion the numerator `k`, its complement
//! `m = n - k`, the share and its interval). A small population withholds the
//! whole cell; a small numerator or complement withholds only the value, so
//! that the population a rare outcome is counted in stays visible.
//!
//! 1. **Populations**: indicators whose cells have the same keys and `n`
//!    everywhere (reliable improvement, deterioration and mean change count
//!    the same pairs) share one system of `n`, suppressed once.
//! 2. **Primary**: `n` below the threshold withholds the cell; `k` or `m`
//!    below it withholds the value.
//! 3. **Complementary, by the equations** (`utfall_disclosure::cells`): per
//!    population on `n`, per proportion on its values, until no equation
//!    (totals, splits, periods) holds a lone withheld figure and none is fixed.
//! 4. **The attacker's audit** (`utfall_disclosure::attack`) over everything
//!    published together: every population's and proportion's equations for
//!    `n`, `k` and `m`, `n = k + m` per cell, and the links the catalogue's
//!    definitions make public (a narrower population at most the wider one,
//!    disjoint populations at most their parent together, disjoint outcomes
//!    of one population at most its `n`). A sensitive count whose interval is
//!    narrower than the threshold is *exposed*; the repair withholds the
//!    smallest published figure that shares a relation with it (the table's
//!    equations first, then the links, then the cell's own `n`) and audits
//!    again. A build with an exposure it cannot repair fails.

use std::collections::HashMap;

use utfall_disclosure::Policy;
use utfall_disclosure::attack::{Audit, Exposure, Quantity, Rel, Relation};
use utfall_disclosure::cells::{self as disclosure, CellKey, Constraint, PeriodType, Suppression};

use crate::catalogue::{Catalogue, Filter, Indicator, Measure, RcOutcome, Spec};
use utfall_register::store::DisclosureAudit;

use crate::{Cell, Estimate, SPLITS, Stratum, period_label};

/// What is withheld per cell (indexed as the cells).
pub struct Withheld {
    /// The population `n` (and so everything of the cell).
    pub n: Vec<Suppression>,
    /// The value: numerator, share or mean, sd and interval.
    pub value: Vec<Suppression>,
    pub audit: DisclosureAudit,
}

struct Population {
    keys: Vec<CellKey>,
    n: Vec<u64>,
    cons: Vec<Constraint>,
    /// The strata of this population, each as its cells in key order.
    strata: Vec<Vec<usize>>,
    /// Quantity of each cell's `n`.
    nq: Vec<usize>,
    /// Whether the counts of units in several places at once (clients active
    /// in several units, or in several months of a quarter) are counted here.
    overlapping: bool,
}

/// A proportion stratum's numerator and complement quantities.
struct Values {
    pop: usize,
    cells: Vec<usize>,
    kq: Vec<usize>,
    mq: Vec<usize>,
}

/// Which of a cell's counts a relation is over.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Count {
    N,
    K,
    M,
}

impl Population {
    /// What an outsider knows from one of the table's equations
    /// (`total = Σ parts` over a split or the finer periods), for the count
    /// `ids`. Where one unit can be counted in several parts (a client active
    /// in two units, or in two months of a quarter: `multi_unit_clients`)
    /// the parts do not add up: the total is at most their sum and at least
    /// each. The clients in one unit only (`m`) do add up over units.
    fn relation(&self, c: &Constraint, ids: &[usize], count: Count) -> Vec<Relation> {
        let periods = self.keys[c.total].period_type != self.keys[c.parts[0]].period_type;
        let units = self.keys[c.parts[0]].split == 1;
        let (total, parts) = (ids[c.total], c.parts.iter().map(|&j| ids[j]));
        if !self.overlapping || (units && !periods && count == Count::M) {
            return vec![Relation::sum(total, parts)];
        }
        if !periods && !units {
            return vec![Relation::sum(total, parts)];
        }
        let mut terms = vec![(total, 1.0)];
        terms.extend(parts.clone().map(|p| (p, -1.0)));
        let mut out = vec![Relation { terms, rel: Rel::Le }];
        out.extend(parts.map(|p| Relation::at_most([p], total)));
        out
    }
}

/// Where a quantity sits.
#[derive(Clone, Copy)]
enum Owner {
    N { pop: usize, j: usize },
    Value { values: usize, j: usize },
}

/// Why two figures are related, in the order the repair looks at them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tie {
    Equation,
    Link,
    Cell,
}

struct System {
    pops: Vec<Population>,
    values: Vec<Values>,
    qs: Vec<Quantity>,
    owner: Vec<Owner>,
    rels: Vec<Relation>,
    ties: Vec<Tie>,
    /// Relations per quantity.
    by_q: Vec<Vec<usize>>,
}

/// Withhold what must be withheld; `Err` lists the counts still exposed.
pub fn protect(cells: &[Cell], est: &[Estimate], cat: &Catalogue, policy: &Policy) -> Result<Withheld, Vec<String>> {
    let t = policy.threshold;
    let sys = System::new(cells, est, cat, policy);
    let mut want_n: Vec<Vec<bool>> =
        sys.pops.iter().map(|p| p.n.iter().map(|&n| policy.is_small(n)).collect()).collect();
    let mut want_v: Vec<Vec<bool>> = sys
        .values
        .iter()
        .map(|v| v.cells.iter().map(|&c| policy.primary(cells[c].n, est[c].numerator)).collect())
        .collect();
    tracing::debug!(
        quantities = sys.qs.len(),
        sensitive = sys.qs.iter().filter(|q| q.sensitive).count(),
        sensitive_zero = sys.qs.iter().filter(|q| q.sensitive && q.value == 0.0).count(),
        sensitive_n =
            sys.owner.iter().zip(&sys.qs).filter(|(o, q)| q.sensitive && matches!(o, Owner::N { .. })).count(),
        "disclosure system"
    );
    let mut audit = Audit::new(&sys.qs);
    audit.propagation_first = true;
    let mut qs = sys.qs.clone();
    let mut summary = DisclosureAudit::default();
    loop {
        summary.rounds += 1;
        let (hidden_n, hidden_v) = sys.equations(&want_n, &want_v, u64::from(t));
        for (q, o) in sys.owner.iter().enumerate() {
            qs[q].hidden = match *o {
                Owner::N { pop, j } => hidden_n[pop][j],
                Owner::Value { values, j } => hidden_v[values][j],
            };
        }
        want_n = hidden_n;
        want_v = hidden_v;
        let totals_hidden = (0..qs.len()).filter(|&q| qs[q].hidden && sys.coarse_total(q)).count();
        let exposed = audit.run(&qs, &sys.rels, t);
        tracing::debug!(
            round = summary.rounds,
            hidden = qs.iter().filter(|q| q.hidden).count(),
            totals_hidden,
            exposed = exposed.len(),
            programs = audit.programs,
            checked = audit.checked,
            whole = audit.solved_whole,
            batches = audit.batches,
            batch_s = audit.time.batch.as_secs_f64(),
            single_s = audit.time.single.as_secs_f64(),
            by_bounds = audit.by_bounds,
            components = audit.components,
            largest = audit.largest_component,
            "attacker's audit"
        );
        for e in exposed.iter().take(12) {
            tracing::trace!(exposed = sys.describe(e, cells, cat), "attacker's audit");
        }
        summary.sensitive = qs.iter().filter(|q| q.sensitive).count() as u64;
        summary.programs = audit.programs;
        if exposed.is_empty() {
            break;
        }
        let mut repaired = false;
        for e in &exposed {
            if let Some(r) = sys.repair(e.quantity, &qs) {
                tracing::trace!(
                    withheld = sys.name(r, cells, cat),
                    exposed = sys.describe(e, cells, cat),
                    "attacker's audit: repair"
                );
                match sys.owner[r] {
                    Owner::N { pop, j } => want_n[pop][j] = true,
                    Owner::Value { values, j } => want_v[values][j] = true,
                }
                qs[r].hidden = true;
                summary.repaired += 1;
                repaired = true;
            }
        }
        if !repaired || summary.rounds >= 200 {
            return Err(exposed.iter().map(|e| sys.describe(e, cells, cat)).collect());
        }
    }
    // Per cell: n and value states, primary where the cell's own counts are small.
    let mut n_state = vec![Suppression::None; cells.len()];
    let mut v_state = vec![Suppression::None; cells.len()];
    let name = |hidden: bool, primary: bool| match (hidden, primary) {
        (false, _) => Suppression::None,
        (true, true) => Suppression::Primary,
        (true, false) => Suppression::Complementary,
    };
    for (p, want) in sys.pops.iter().zip(&want_n) {
        for stratum in &p.strata {
            for (j, &c) in stratum.iter().enumerate() {
                n_state[c] = name(want[j], policy.is_small(cells[c].n));
                // A mean's value goes with its n; a proportion's is set below.
                v_state[c] = n_state[c];
            }
        }
    }
    for (v, want) in sys.values.iter().zip(&want_v) {
        for (j, &c) in v.cells.iter().enumerate() {
            v_state[c] = name(want[j], policy.primary(cells[c].n, est[c].numerator));
        }
    }
    Ok(Withheld { n: n_state, value: v_state, audit: summary })
}

impl System {
    fn new(cells: &[Cell], est: &[Estimate], cat: &Catalogue, policy: &Policy) -> System {
        // Strata, each as its cells in key order.
        let mut strata: HashMap<Stratum, Vec<usize>> = HashMap::new();
        for (i, c) in cells.iter().enumerate() {
            strata.entry((c.indicator, c.instrument.as_deref(), c.domain.as_deref())).or_default().push(i);
        }
        let mut names: Vec<Stratum> = strata.keys().copied().collect();
        names.sort();
        let mut sys = System {
            pops: Vec::new(),
            values: Vec::new(),
            qs: Vec::new(),
            owner: Vec::new(),
            rels: Vec::new(),
            ties: Vec::new(),
            by_q: Vec::new(),
        };
        // Populations: strata with the same keys and n.
        let mut pop_of: HashMap<Stratum, usize> = HashMap::new();
        let mut values_of: HashMap<Stratum, usize> = HashMap::new();
        let mut by_layout: HashMap<Vec<(&CellKey, u64)>, usize> = HashMap::new();
        for s in &names {
            let mut members = strata.remove(s).expect("a stratum");
            members.sort_by(|&a, &b| cells[a].key.cmp(&cells[b].key));
            let layout: Vec<(&CellKey, u64)> = members.iter().map(|&i| (&cells[i].key, cells[i].n)).collect();
            let p = *by_layout.entry(layout).or_insert_with(|| {
                let keys: Vec<CellKey> = members.iter().map(|&i| cells[i].key.clone()).collect();
                let cons = disclosure::constraints(&keys);
                let n: Vec<u64> = members.iter().map(|&i| cells[i].n).collect();
                let nq = n
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| {
                        let q = Quantity { value: v as f64, hidden: false, min: 1.0, sensitive: policy.is_small(v) };
                        sys.push(q, Owner::N { pop: sys.pops.len(), j })
                    })
                    .collect();
                let overlapping = matches!(cat.indicators[s.0].spec, Spec::MultiUnitClients { .. });
                sys.pops.push(Population { keys, n, cons, strata: Vec::new(), nq, overlapping });
                sys.pops.len() - 1
            });
            pop_of.insert(*s, p);
            if cat.indicators[s.0].measure() == Measure::Proportion {
                let vi = sys.values.len();
                let mut kq = Vec::new();
                let mut mq = Vec::new();
                for (j, &c) in members.iter().enumerate() {
                    let k = est[c].numerator.unwrap_or(0);
                    let m = cells[c].n - k;
                    for (v, list) in [(k, &mut kq), (m, &mut mq)] {
                        let q = Quantity { value: v as f64, hidden: false, min: 0.0, sensitive: policy.is_small(v) };
                        list.push(sys.push(q, Owner::Value { values: vi, j }));
                    }
                }
                values_of.insert(*s, vi);
                sys.values.push(Values { pop: p, cells: members.clone(), kq, mq });
            }
            sys.pops[p].strata.push(members);
        }
        // Equations: n per population; k and m per proportion; n = k + m per cell.
        for p in 0..sys.pops.len() {
            let pop = &sys.pops[p];
            let rels: Vec<Relation> = pop.cons.iter().flat_map(|c| pop.relation(c, &pop.nq, Count::N)).collect();
            sys.relate(rels, Tie::Equation);
        }
        for v in 0..sys.values.len() {
            let pop = &sys.pops[sys.values[v].pop];
            let mut eqs = Vec::new();
            let mut own = Vec::new();
            for (ids, count) in [(&sys.values[v].kq, Count::K), (&sys.values[v].mq, Count::M)] {
                eqs.extend(pop.cons.iter().flat_map(|c| pop.relation(c, ids, count)));
            }
            for j in 0..pop.keys.len() {
                own.push(Relation::sum(pop.nq[j], [sys.values[v].kq[j], sys.values[v].mq[j]]));
            }
            sys.relate(eqs, Tie::Equation);
            sys.relate(own, Tie::Cell);
        }
        let links = links(cat, &pop_of, &values_of, &sys);
        sys.relate(links, Tie::Link);
        sys.by_q = vec![Vec::new(); sys.qs.len()];
        for (r, rel) in sys.rels.iter().enumerate() {
            for &(q, _) in &rel.terms {
                sys.by_q[q].push(r);
            }
        }
        sys
    }

    fn push(&mut self, q: Quantity, o: Owner) -> usize {
        self.qs.push(q);
        self.owner.push(o);
        self.qs.len() - 1
    }

    fn relate(&mut self, rels: Vec<Relation>, tie: Tie) {
        self.ties.extend(std::iter::repeat_n(tie, rels.len()));
        self.rels.extend(rels);
    }

    /// The published figure to withhold for an exposed quantity: the
    /// smallest one sharing a relation with it (equations before links before
    /// the cell), or, when every figure beside it is withheld already, the
    /// smallest of the nearest published ones through withheld figures
    /// (breadth first): it is what the outsider's narrow interval rests on.
    fn repair(&self, exposed: usize, qs: &[Quantity]) -> Option<usize> {
        let mut seen = vec![false; qs.len()];
        seen[exposed] = true;
        let mut frontier = vec![exposed];
        while !frontier.is_empty() {
            let mut best: Option<(Tie, f64, usize)> = None;
            let mut next = Vec::new();
            for &v in &frontier {
                for &r in &self.by_q[v] {
                    for &(q, _) in &self.rels[r].terms {
                        if !qs[q].hidden {
                            let c = (self.ties[r], self.cost(q, qs), q);
                            if best.is_none_or(|b| c.partial_cmp(&b) == Some(std::cmp::Ordering::Less)) {
                                best = Some(c);
                            }
                        } else if !seen[q] {
                            seen[q] = true;
                            next.push(q);
                        }
                    }
                }
            }
            if let Some((_, _, q)) = best {
                return Some(q);
            }
            frontier = next;
        }
        None
    }

    /// The equations' rules (`cells::suppress_with_room`) on what is wanted
    /// withheld: on n per population, then on each proportion's values
    /// (with its population's withheld cells).
    fn equations(&self, want_n: &[Vec<bool>], want_v: &[Vec<bool>], room: u64) -> (Vec<Vec<bool>>, Vec<Vec<bool>>) {
        let hidden = |s: Vec<Suppression>| s.iter().map(|s| *s != Suppression::None).collect::<Vec<bool>>();
        let hidden_n: Vec<Vec<bool>> = self
            .pops
            .iter()
            .zip(want_n)
            .map(|(p, want)| hidden(disclosure::suppress_with_room(&p.keys, &p.n, want, room, 1)))
            .collect();
        let hidden_v = self
            .values
            .iter()
            .zip(want_v)
            .map(|(v, want)| {
                let flags: Vec<bool> = want.iter().zip(&hidden_n[v.pop]).map(|(a, b)| *a || *b).collect();
                // Room for both the numerator and its complement: the smaller of the two.
                let smaller: Vec<u64> =
                    v.kq.iter().zip(&v.mq).map(|(&k, &m)| self.qs[k].value.min(self.qs[m].value) as u64).collect();
                hidden(disclosure::suppress_with_room(&self.pops[v.pop].keys, &smaller, &flags, room, 0))
            })
            .collect();
        (hidden_n, hidden_v)
    }

    /// The cell key of a quantity (its n's, or its value's).
    fn key(&self, q: usize) -> &CellKey {
        match self.owner[q] {
            Owner::N { pop, j } => &self.pops[pop].keys[j],
            Owner::Value { values, j } => &self.pops[self.values[values].pop].keys[j],
        }
    }

    /// What withholding a published figure costs its readers: its size,
    /// more for the municipality's total and for quarters and years (the
    /// figures a manager reads first), so that a repair withholds a small
    /// month of one unit before a total.
    fn cost(&self, q: usize, qs: &[Quantity]) -> f64 {
        let key = self.key(q);
        let split = if key.split == 0 { 20.0 } else { 1.0 };
        let period = match key.period_type {
            PeriodType::Month => 1.0,
            PeriodType::Quarter => 3.0,
            PeriodType::Year => 6.0,
        };
        (qs[q].value + 1.0) * split * period
    }

    /// Whether a quantity belongs to the municipality's total of a quarter or a year.
    fn coarse_total(&self, q: usize) -> bool {
        let key = self.key(q);
        key.split == 0 && key.period_type != PeriodType::Month
    }

    /// A figure by its place: "recovery (psykbel total) 2024-Q1 unit=x: numerator".
    fn name(&self, q: usize, cells: &[Cell], cat: &Catalogue) -> String {
        let (cell, what) = match self.owner[q] {
            Owner::N { pop, j } => (self.pops[pop].strata[0][j], "n"),
            Owner::Value { values, j } => {
                let v = &self.values[values];
                (v.cells[j], if v.kq[j] == q { "numerator" } else { "n - numerator" })
            }
        };
        let c = &cells[cell];
        let place = [c.instrument.as_deref(), c.domain.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        format!(
            "{}{} {} {}={}: {what}",
            cat.indicators[c.indicator].id,
            if place.is_empty() { String::new() } else { format!(" ({place})") },
            period_label(c.key.period_type, disclosure::date_of(c.key.period_start)),
            SPLITS[c.key.split],
            c.key.split_value,
        )
    }

    fn describe(&self, e: &Exposure, cells: &[Cell], cat: &Catalogue) -> String {
        format!("{} narrowed to [{:.0}, {:.0}]", self.name(e.quantity, cells, cat), e.low, e.high)
    }
}

/// Whether every unit of filter `a` is in filter `b`.
fn filter_within(a: &Filter, b: &Filter) -> bool {
    fn subset(a: &Option<Vec<String>>, b: &Option<Vec<String>>) -> bool {
        match (a, b) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => a.iter().all(|x| b.contains(x)),
        }
    }
    let age = match (a.age, b.age) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some((lo, hi)), Some((blo, bhi))) => blo <= lo && hi <= bhi,
    };
    age && subset(&a.areas, &b.areas) && subset(&a.instruments, &b.instruments)
}

/// Whether no unit can be in both filters (disjoint areas or ages).
fn filters_disjoint(a: &Filter, b: &Filter) -> bool {
    let areas = matches!((&a.areas, &b.areas), (Some(x), Some(y)) if !x.iter().any(|v| y.contains(v)));
    let ages = matches!((a.age, b.age), (Some((alo, ahi)), Some((blo, bhi))) if ahi < blo || bhi < alo);
    areas || ages
}

/// How the population and the counted outcome of indicator `a` sit in `b`'s.
#[derive(Clone, Copy, PartialEq)]
enum Nesting {
    /// Same definition on a narrower population: population and outcome nest.
    Both,
    /// Only the population nests (recovery's pairs at caseness within all pairs).
    Population,
}

fn nesting(a: &Indicator, b: &Indicator) -> Option<Nesting> {
    if !filter_within(&a.filter, &b.filter) || a.filter == b.filter {
        return None;
    }
    if a.spec == b.spec {
        return Some(Nesting::Both);
    }
    let recovery = matches!(a.spec, Spec::ReliableChange { outcome: RcOutcome::Recovery });
    let pairs = matches!(b.spec, Spec::ReliableChange { outcome: RcOutcome::Improvement | RcOutcome::Deterioration });
    (recovery && pairs).then_some(Nesting::Population)
}

/// The relations between indicators that their definitions make public.
fn links(
    cat: &Catalogue,
    pop_of: &HashMap<Stratum, usize>,
    values_of: &HashMap<Stratum, usize>,
    sys: &System,
) -> Vec<Relation> {
    let mut strata: Vec<Stratum> = pop_of.keys().copied().collect();
    strata.sort();
    let position: Vec<HashMap<&CellKey, usize>> =
        sys.pops.iter().map(|p| p.keys.iter().enumerate().map(|(j, k)| (k, j)).collect()).collect();
    let mut out = Vec::new();
    // Matching cells of strata: (j in a, j in b) for keys both have.
    let matching = |a: usize, b: usize| -> Vec<(usize, usize)> {
        sys.pops[a].keys.iter().enumerate().filter_map(|(j, k)| position[b].get(k).map(|&jb| (j, jb))).collect()
    };
    let same_place = |a: &Stratum, b: &Stratum| a.1 == b.1 && a.2 == b.2;
    for a in &strata {
        let ia = &cat.indicators[a.0];
        let (pa, va) = (pop_of[a], values_of.get(a).copied());
        for b in strata.iter().filter(|b| b.0 != a.0 && same_place(a, b)) {
            let ib = &cat.indicators[b.0];
            let (pb, vb) = (pop_of[b], values_of.get(b).copied());
            // A narrower population: n, and with the same outcome k and m, at most the wider one's.
            if let Some(nest) = nesting(ia, ib)
                && pa != pb
            {
                for (ja, jb) in matching(pa, pb) {
                    out.push(Relation::at_most([sys.pops[pa].nq[ja]], sys.pops[pb].nq[jb]));
                    if let (Nesting::Both, Some(va), Some(vb)) = (nest, va, vb) {
                        let (x, y) = (&sys.values[va], &sys.values[vb]);
                        out.push(Relation::at_most([x.kq[ja]], y.kq[jb]));
                        out.push(Relation::at_most([x.mq[ja]], y.mq[jb]));
                    }
                }
            }
            // Disjoint outcomes of one population (improvement, deterioration).
            let outcome = |i: &Indicator| match i.spec {
                Spec::ReliableChange { outcome: o @ (RcOutcome::Improvement | RcOutcome::Deterioration) } => Some(o),
                _ => None,
            };
            if let (Some(oa), Some(ob), Some(va), Some(vb)) = (outcome(ia), outcome(ib), va, vb)
                && oa != ob
                && a.0 < b.0
                && pa == pb
                && ia.filter == ib.filter
            {
                for j in 0..sys.pops[pa].keys.len() {
                    out.push(Relation::at_most([sys.values[va].kq[j], sys.values[vb].kq[j]], sys.pops[pa].nq[j]));
                }
            }
        }
        // Disjoint narrower populations of `a`, together at most `a`.
        let mut children: Vec<&Stratum> = Vec::new();
        for b in strata.iter().filter(|b| b.0 != a.0 && same_place(a, b)) {
            let ib = &cat.indicators[b.0];
            if nesting(ib, ia) == Some(Nesting::Both)
                && children.iter().all(|c| filters_disjoint(&cat.indicators[c.0].filter, &ib.filter))
            {
                children.push(b);
            }
        }
        if children.len() >= 2 {
            for j in 0..sys.pops[pa].keys.len() {
                let key = &sys.pops[pa].keys[j];
                let at: Vec<(usize, usize)> =
                    children.iter().filter_map(|c| position[pop_of[*c]].get(key).map(|&jc| (pop_of[*c], jc))).collect();
                if at.len() < 2 {
                    continue;
                }
                out.push(Relation::at_most(at.iter().map(|&(p, jc)| sys.pops[p].nq[jc]), sys.pops[pa].nq[j]));
                if let Some(va) = va {
                    let vs: Vec<(usize, usize)> = at
                        .iter()
                        .zip(&children)
                        .filter_map(|(&(_, jc), c)| values_of.get(*c).map(|&v| (v, jc)))
                        .collect();
                    if vs.len() == at.len() {
                        out.push(Relation::at_most(
                            vs.iter().map(|&(v, jc)| sys.values[v].kq[jc]),
                            sys.values[va].kq[j],
                        ));
                        out.push(Relation::at_most(
                            vs.iter().map(|&(v, jc)| sys.values[v].mq[jc]),
                            sys.values[va].mq[j],
                        ));
                    }
                }
            }
        }
    }
    out
}
