#!/usr/bin/env python3
"""The outsider's attack on a published `indicators_public`, written apart from utfall.

Reads only what a manager or the public sees (`indicators_public.parquet`) and
the public catalogue (TOML), sets up every linear relation an outsider can
read from them, and narrows each withheld count by linear programming (SciPy's
HiGHS):

- per indicator (and instrument, domain): a total is the sum of each split's
  values, and a coarser period (quarter, year) the sum of the finer periods in
  it, for the population `n`, the numerator `k` and its complement `n - k`;
  (for `multi_unit_clients`, where one client is counted in every unit and
  month it is active in, a total is instead at most the sum of the units or
  months and at least each; the clients of one unit only still add up over units);
- per proportion row, `n = k + (n - k)`; every row's `n` is at least 1;
- between indicators of one kind whose filters nest (a narrower age range or
  set of areas): the narrower `n`, `k` and `n - k` at most the wider ones;
- reliable improvement and deterioration of the same pairs: together at most `n`.

It then compares with the true values (`indicators.parquet`, the analysts'
table) and prints, as JSON, how many withheld counts below the threshold are
narrowed to an interval narrower than the threshold (exposed), how many are
recovered exactly, and whether any bound contradicts a true value. Exit code
1 when a count is exposed or a bound is wrong.

    python3 tests/disclosure/outsider.py REGISTER CATALOGUE.toml THRESHOLD [SAMPLE]

With SAMPLE, only that many of the sensitive withheld counts, drawn with a
fixed seed, are attacked (each costs two programs over its component).
"""

import json
import random
import sys
import tomllib
from collections import defaultdict

import numpy as np
import pyarrow.parquet as pq
import scipy.sparse as sp
from scipy.optimize import linprog

ORDER = {"month": 0, "quarter": 1, "year": 2}


def coarse_start(kind, start):
    """The first day of the `kind` period that holds the day `start` (a date)."""
    if kind == "quarter":
        return start.replace(month=(start.month - 1) // 3 * 3 + 1, day=1)
    return start.replace(month=1, day=1)


def main(register, catalogue, threshold, sample=None):
    pub = pq.read_table(f"{register}/indicators_public.parquet").to_pylist()
    truth = pq.read_table(f"{register}/indicators.parquet").to_pylist()
    cat = {i["id"]: i for i in tomllib.load(open(catalogue, "rb"))["indicator"]}

    def key(r):
        return (r["indicator_id"], r["instrument"], r["domain"], r["period_type"], r["period_start"], r["split"], r["split_value"])

    true = {key(r): r for r in truth}
    # Quantities: (row key, "n" | "k" | "m"); value None when withheld.
    index, known, actual = {}, [], []

    def quantity(k, what, value, real):
        index[(k, what)] = len(known)
        known.append(value)
        actual.append(real)

    for r in pub:
        k, t = key(r), true[key(r)]
        quantity(k, "n", r["n"], t["n"])
        if r["measure"] == "proportion":
            kn = r["numerator"]
            quantity(k, "k", kn, t["numerator"])
            quantity(k, "m", None if kn is None or r["n"] is None else r["n"] - kn, t["n"] - t["numerator"])
    rows = []  # (terms [(q, coef)], "eq" | "le"): sum coef * q (=|<=) 0

    strata = defaultdict(list)
    for r in pub:
        strata[(r["indicator_id"], r["instrument"], r["domain"])].append(r)
    def relation(rows, total, parts, overlapping, what):
        """total = sum(parts), or where units overlap: total <= sum(parts), each part <= total."""
        if not overlapping:
            rows.append(([(total, -1.0)] + [(p, 1.0) for p in parts], "eq"))
        else:
            rows.append(([(total, 1.0)] + [(p, -1.0) for p in parts], "le"))
            rows.extend(([(p, 1.0), (total, -1.0)], "le") for p in parts)

    for s, members in strata.items():
        whats = ["n", "k", "m"] if members[0]["measure"] == "proportion" else ["n"]
        multi = cat[s[0]]["kind"] == "multi_unit_clients"
        at = {key(r): r for r in members}
        # Totals = sum of each split's values, per period.
        groups = defaultdict(list)
        for r in members:
            if r["split"] != "total":
                groups[(r["period_type"], r["period_start"], r["split"])].append(key(r))
        for (pt, ps, split), parts in groups.items():
            total = (*s, pt, ps, "total", "all")
            if total in at:
                for w in whats:
                    overlapping = multi and split == "unit" and w != "m"
                    relation(rows, index[(total, w)], [index[(p, w)] for p in parts], overlapping, w)
        # Coarser period = sum of the finer ones, per split value.
        kinds = sorted({r["period_type"] for r in members}, key=ORDER.get)
        for fine, coarse in zip(kinds, kinds[1:]):
            parts = defaultdict(list)
            for r in members:
                if r["period_type"] == fine:
                    parts[(coarse_start(coarse, r["period_start"]), r["split"], r["split_value"])].append(key(r))
            for r in members:
                if r["period_type"] == coarse and (r["period_start"], r["split"], r["split_value"]) in parts:
                    for w in whats:
                        ps = parts[(r["period_start"], r["split"], r["split_value"])]
                        relation(rows, index[(key(r), w)], [index[(p, w)] for p in ps], multi, w)
        if "k" in whats:
            for r in members:
                k = key(r)
                rows.append(([(index[(k, "n")], -1.0), (index[(k, "k")], 1.0), (index[(k, "m")], 1.0)], "eq"))

    # Nesting between indicators of one kind (same definition, narrower filter).
    def within(a, b):
        for f in ("age", "areas", "instruments"):
            if f in b and f not in a:
                return False
        if "age" in b and not (b["age"][0] <= a["age"][0] and a["age"][1] <= b["age"][1]):
            return False
        for f in ("areas", "instruments"):
            if f in b and not set(a[f]) <= set(b[f]):
                return False
        return True

    def definition(i):
        return {k: v for k, v in i.items() if k not in ("id", "version", "name_sv", "name_en", "source", "age", "areas", "instruments", "higher_is_better")}

    rows_of = defaultdict(dict)
    for r in pub:
        rows_of[r["indicator_id"]][(r["instrument"], r["domain"], r["period_type"], r["period_start"], r["split"], r["split_value"])] = r
    for a, ia in cat.items():
        for b, ib in cat.items():
            if a == b or definition(ia) != definition(ib) or not within(ia, ib) or within(ib, ia):
                continue
            for place, r in rows_of[a].items():
                if place in rows_of[b]:
                    ka, kb = key(r), key(rows_of[b][place])
                    for w in ["n", "k", "m"] if r["measure"] == "proportion" else ["n"]:
                        rows.append(([(index[(ka, w)], 1.0), (index[(kb, w)], -1.0)], "le"))
    imp, det = "reliable_improvement", "reliable_deterioration"
    if imp in cat and det in cat:
        for place, r in rows_of[imp].items():
            if place in rows_of[det]:
                ki, kd = key(r), key(rows_of[det][place])
                rows.append(([(index[(ki, "k")], 1.0), (index[(kd, "k")], 1.0), (index[(ki, "n")], -1.0)], "le"))

    # Components of withheld quantities linked by a relation.
    hidden = [v is None for v in known]
    parent = list(range(len(known)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for terms, _ in rows:
        hs = [q for q, _ in terms if hidden[q]]
        for q in hs[1:]:
            parent[find(q)] = find(hs[0])
    comps = defaultdict(list)
    for q in range(len(known)):
        if hidden[q]:
            comps[find(q)].append(q)
    rels_of = defaultdict(list)
    for i, (terms, _) in enumerate(rows):
        h = next((q for q, _ in terms if hidden[q]), None)
        if h is not None:
            rels_of[find(h)].append(i)

    report = {"withheld": sum(hidden), "sensitive": 0, "attacked": 0, "exposed": 0, "exact": 0, "wrong_bounds": 0,
              "programs": 0, "first": []}
    every = [q for q in range(len(known)) if hidden[q] and actual[q] < threshold]
    report["sensitive"] = len(every)
    # A seeded sample of the sensitive counts when asked (each costs two
    # programs over its whole component), else all of them.
    chosen = set(every if sample is None or sample >= len(every) else random.Random(16).sample(every, sample))
    for root, qs in comps.items():
        sensitive = [q for q in qs if q in chosen]
        if not sensitive:
            continue
        local = {q: j for j, q in enumerate(qs)}
        eq_rows, eq_b, le_rows, le_b = [], [], [], []
        for i in rels_of[root]:
            terms, rel = rows[i]
            row, rhs = defaultdict(float), 0.0
            for q, c in terms:
                if hidden[q]:
                    row[local[q]] += c
                else:
                    rhs -= c * known[q]
            (eq_rows if rel == "eq" else le_rows).append(row)
            (eq_b if rel == "eq" else le_b).append(rhs)

        def matrix(rs):
            if not rs:
                return None
            data = [(i, j, c) for i, r in enumerate(rs) for j, c in r.items()]
            i, j, c = zip(*data) if data else ((), (), ())
            return sp.csr_matrix((c, (i, j)), shape=(len(rs), len(qs)))

        a_eq, a_le = matrix(eq_rows), matrix(le_rows)
        bounds = [(1 if what_of(index, q) == "n" else 0, None) for q in qs]
        for q in sensitive:
            report["attacked"] += 1
            c = np.zeros(len(qs))
            ends = []
            for sign in (1.0, -1.0):
                c[local[q]] = sign
                res = linprog(c, A_ub=a_le, b_ub=le_b or None, A_eq=a_eq, b_eq=eq_b or None, bounds=bounds, method="highs")
                report["programs"] += 1
                if res.status == 3:
                    ends.append(float("inf") if sign < 0 else float("-inf"))
                else:
                    ends.append(sign * res.fun)
            lo, hi = ends[0], ends[1]
            if lo > actual[q] + 1e-6 or hi < actual[q] - 1e-6:
                report["wrong_bounds"] += 1
            if hi - lo < threshold - 0.01:
                report["exposed"] += 1
                if hi - lo < 1e-6:
                    report["exact"] += 1
                if len(report["first"]) < 10:
                    report["first"].append(f"{describe(index, q)}: [{lo:.2f}, {hi:.2f}]")
    print(json.dumps(report, indent=1, default=str))
    return 1 if report["exposed"] or report["wrong_bounds"] else 0


_names = {}


def what_of(index, q):
    if not _names:
        for (k, w), i in index.items():
            _names[i] = (k, w)
    return _names[q][1]


def describe(index, q):
    what_of(index, q)
    k, w = _names[q]
    return f"{k[0]} {k[1] or ''} {k[2] or ''} {k[3]} {k[4]} {k[5]}={k[6]} {w}"


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) == 5 else None))
