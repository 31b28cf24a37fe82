#!/usr/bin/env python3
"""Independent check of `utfall indicators`: every indicator of the catalogue
recomputed from the register's entity tables in plain SQL (DuckDB), per year
and month, for the total and every unit, district, sex and age band, and
compared with the register's `indicators.parquet`: n and numerator must be
equal exactly, means to 1e-9.

The SQL is written from the definitions in the catalogue and the README, not
from the Rust code.

usage: check_indicators.py REGISTER [CATALOGUE]
Prints one line per indicator and ends with 'indicator-sql: N passed, N failed'.
"""
import json
import sys
import tomllib
from pathlib import Path

import duckdb

register = Path(sys.argv[1])
catalogue = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).parents[2] / "pipelines/indicators/catalogue.toml"
cat = tomllib.loads(catalogue.read_text())
manifest = json.loads((register / "manifest.json").read_text())
as_of = manifest["as_of"]

db = duckdb.connect()
for t in ["clients", "cases", "reports", "assessments", "goals", "payments", "contacts", "interventions", "indicators"]:
    db.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{register / (t + '.parquet')}')")
ins = cat.get("instrument", [])
db.execute("CREATE TABLE instruments (code VARCHAR, hib BOOLEAN, sdiff DOUBLE, cutoff DOUBLE)")
for i in ins:
    sdiff = 2 ** 0.5 * i["sd"] * (1 - i["reliability"]) ** 0.5
    db.execute("INSERT INTO instruments VALUES (?, ?, ?, ?)", [i["code"], i["higher_is_better"], sdiff, i["cutoff"]])

# The last month whose days are all observed, as year * 12 + month - 1.
db.execute(f"""CREATE MACRO last_month() AS
  CASE WHEN month(DATE '{as_of}' + 1) <> month(DATE '{as_of}')
       THEN year(DATE '{as_of}') * 12 + month(DATE '{as_of}') - 1
       ELSE year(DATE '{as_of}') * 12 + month(DATE '{as_of}') - 2 END""")
db.execute("CREATE MACRO midx(d) AS year(d) * 12 + month(d) - 1")

# Baselines: earliest and latest assessment per client, case, instrument and domain.
db.execute("""CREATE TABLE base AS
SELECT a.client_id, a.case_id, a.instrument, a.domain,
       min(a.assessed) AS bd, first(a.score ORDER BY a.assessed, a.assessment_id) AS bs,
       max(a.assessed) AS ld, last(a.score ORDER BY a.assessed, a.assessment_id) AS ls
FROM assessments a GROUP BY ALL""")
db.execute("""CREATE TABLE pairs AS
SELECT b.*, k.unit, k.area, i.hib, i.sdiff, i.cutoff,
       b.ld > b.bd AS paired,
       (b.ls - b.bs) * (CASE WHEN i.hib THEN 1 ELSE -1 END) / i.sdiff AS rci,
       CASE WHEN i.hib THEN b.bs < i.cutoff ELSE b.bs > i.cutoff END AS case0,
       CASE WHEN i.hib THEN b.ls < i.cutoff ELSE b.ls > i.cutoff END AS case1
FROM base b JOIN cases k USING (case_id) JOIN instruments i ON i.code = b.instrument""")


def rows_sql(d):
    """SQL yielding client_id, unit, area, anchor, instrument, domain, y for one definition."""
    kind = d["kind"]
    if kind == "not_rereferred":
        w = d.get("window_months", 12)
        same = d.get("same_area", True)
        cond = "AND (e.area IS NULL OR e.area = c.area)" if same else ""
        return f"""
WITH closed AS (
  SELECT case_id, client_id, unit, area, closed AS anchor, CAST(closed + INTERVAL {w} MONTH AS DATE) AS wend
  FROM cases WHERE closed IS NOT NULL AND CAST(closed + INTERVAL {w} MONTH AS DATE) <= DATE '{as_of}'),
ev AS (SELECT client_id, area, opened AS d FROM cases
       UNION ALL SELECT r.client_id, k.area, r.received FROM reports r LEFT JOIN cases k ON k.case_id = r.case_id),
back AS (SELECT DISTINCT c.case_id FROM closed c JOIN ev e ON e.client_id = c.client_id
         AND e.d > c.anchor AND e.d <= c.wend {cond})
SELECT client_id, unit, area, anchor, NULL AS instrument, NULL AS domain,
       CASE WHEN case_id IN (SELECT case_id FROM back) THEN 0 ELSE 1 END AS y FROM closed"""
    if kind == "long_term_assistance":
        m = d.get("min_months", 10)
        return f"""
WITH hy AS (
  SELECT household_id, year(month) AS yr, count(DISTINCT month) AS months,
         arg_max(client_id, strftime(month, '%Y%m') || payment_id) AS client_id,
         arg_max(case_id, strftime(month, '%Y%m') || payment_id) AS case_id
  FROM payments GROUP BY ALL)
SELECT hy.client_id, k.unit, k.area, make_date(hy.yr, 1, 1) AS anchor, NULL AS instrument, NULL AS domain,
       CASE WHEN months >= {m} THEN 1 ELSE 0 END AS y
FROM hy JOIN cases k USING (case_id)
WHERE hy.yr * 12 + 11 <= last_month()"""
    if kind == "self_sufficiency":
        n = d.get("months", 12)
        return f"""
WITH hm AS (SELECT household_id, month, arg_max(client_id, payment_id) AS client_id,
                   arg_max(case_id, payment_id) AS case_id FROM payments GROUP BY ALL),
x AS (SELECT *, midx(month) AS m, lead(midx(month)) OVER (PARTITION BY household_id ORDER BY month) AS nxt FROM hm)
SELECT x.client_id, k.unit, k.area, CAST(x.month + INTERVAL 1 MONTH AS DATE) AS anchor, NULL AS instrument, NULL AS domain,
       CASE WHEN nxt IS NULL OR nxt > m + {n} THEN 1 ELSE 0 END AS y
FROM x JOIN cases k USING (case_id)
WHERE (nxt IS NULL OR nxt > m + 1) AND m + {n} <= last_month()"""
    inst = d.get("instruments")
    inst_cond = f"AND instrument IN ({', '.join(repr(i) for i in inst)})" if inst else ""
    if kind == "baseline_mean":
        return f"SELECT client_id, unit, area, bd AS anchor, instrument, domain, bs AS y FROM pairs WHERE TRUE {inst_cond}"
    if kind == "mean_change":
        return f"SELECT client_id, unit, area, ld AS anchor, instrument, domain, ls - bs AS y FROM pairs WHERE paired {inst_cond}"
    if kind == "reliable_change":
        o = d["outcome"]
        if o == "improvement":
            return f"SELECT client_id, unit, area, ld AS anchor, instrument, domain, CAST(rci > 1.96 AS INT) AS y FROM pairs WHERE paired {inst_cond}"
        if o == "deterioration":
            return f"SELECT client_id, unit, area, ld AS anchor, instrument, domain, CAST(rci < -1.96 AS INT) AS y FROM pairs WHERE paired {inst_cond}"
        return f"SELECT client_id, unit, area, ld AS anchor, instrument, domain, CAST(NOT case1 AS INT) AS y FROM pairs WHERE paired AND case0 {inst_cond}"
    if kind == "gas_t_score":
        rho = d.get("rho", 0.3)
        return f"""
WITH g AS (SELECT client_id, case_id, max(followed_up) AS anchor,
                  sum(coalesce(weight, 1)) AS sw, sum(coalesce(weight, 1) * gas_score) AS swx,
                  sum(coalesce(weight, 1) ^ 2) AS sw2
           FROM goals WHERE gas_score IS NOT NULL AND followed_up IS NOT NULL GROUP BY ALL)
SELECT g.client_id, k.unit, k.area, g.anchor, NULL AS instrument, NULL AS domain,
       50 + 10 * swx / sqrt((1 - {rho}) * sw2 + {rho} * sw * sw) AS y
FROM g JOIN cases k USING (case_id) WHERE sw > 0"""
    if kind == "goals_met":
        return """
SELECT g.client_id, k.unit, k.area, g.followed_up AS anchor, NULL AS instrument, NULL AS domain,
       CAST(gas_score >= 0 AS INT) AS y
FROM goals g JOIN cases k USING (case_id) WHERE gas_score IS NOT NULL AND followed_up IS NOT NULL"""
    if kind == "days_to_decision":
        return """
WITH first AS (SELECT case_id, min(received) AS r FROM reports WHERE case_id IS NOT NULL GROUP BY ALL)
SELECT k.client_id, k.unit, k.area, k.decided AS anchor, NULL AS instrument, NULL AS domain,
       date_diff('day', least(coalesce(f.r, k.opened), k.opened), k.decided) AS y
FROM cases k LEFT JOIN first f USING (case_id) WHERE k.decided IS NOT NULL"""
    if kind == "timeliness":
        lim = f"INTERVAL {d['limit_days']} DAY" if "limit_days" in d else f"INTERVAL {d['limit_months']} MONTH"
        if d["step"] == "preliminary_assessment":
            return f"""
SELECT r.client_id, k.unit, k.area, r.received AS anchor, NULL AS instrument, NULL AS domain,
       CAST(r.prelim_decided IS NOT NULL AND r.prelim_decided <= CAST(r.received + {lim} AS DATE) AS INT) AS y
FROM reports r JOIN cases k ON k.case_id = r.case_id
WHERE r.kind = 'report' AND r.received <= k.opened
  AND (r.prelim_decided IS NOT NULL OR CAST(r.received + {lim} AS DATE) <= DATE '{as_of}')"""
        return f"""
SELECT client_id, unit, area, investigation_started AS anchor, NULL AS instrument, NULL AS domain,
       CAST(decided IS NOT NULL AND decided <= CAST(investigation_started + {lim} AS DATE) AS INT) AS y
FROM cases WHERE investigation_started IS NOT NULL
  AND (decided IS NOT NULL OR CAST(investigation_started + {lim} AS DATE) <= DATE '{as_of}')"""
    if kind == "contacts_per_case":
        ch = ", ".join(repr(c) for c in d["channels"])
        return f"""
SELECT k.client_id, k.unit, k.area, k.closed AS anchor, NULL AS instrument, NULL AS domain,
       (SELECT count(*) FROM contacts t WHERE t.case_id = k.case_id AND t.channel IN ({ch})) AS y
FROM cases k WHERE k.closed IS NOT NULL"""
    if kind == "channel_share":
        ch = ", ".join(repr(c) for c in d["channels"])
        return f"""
SELECT r.client_id, k.unit, k.area, r.received AS anchor, NULL AS instrument, NULL AS domain,
       CAST(r.channel IN ({ch}) AS INT) AS y
FROM reports r JOIN cases k ON k.case_id = r.case_id
WHERE r.kind = '{d.get("report_kind", "application")}' AND r.channel IS NOT NULL"""
    if kind == "caseworkers_per_case":
        m = d.get("months", 6)
        return f"""
WITH rec AS (SELECT case_id, caseworker_id, date AS d FROM contacts
             UNION ALL SELECT case_id, caseworker_id, assessed FROM assessments
             UNION ALL SELECT case_id, caseworker_id, decided FROM interventions),
w AS (SELECT k.case_id, count(DISTINCT r.caseworker_id) AS workers
      FROM cases k JOIN rec r ON r.case_id = k.case_id
      WHERE r.caseworker_id IS NOT NULL AND r.d >= k.opened AND r.d < CAST(k.opened + INTERVAL {m} MONTH AS DATE)
        AND CAST(k.opened + INTERVAL {m} MONTH AS DATE) <= DATE '{as_of}'
      GROUP BY ALL)
SELECT k.client_id, k.unit, k.area, k.opened AS anchor, NULL AS instrument, NULL AS domain, w.workers AS y
FROM cases k JOIN w USING (case_id)"""
    if kind == "repeat_investigation":
        w = d.get("window_months", 12)
        return f"""
SELECT k.client_id, k.unit, k.area, k.investigation_started AS anchor, NULL AS instrument, NULL AS domain,
       CAST(EXISTS (SELECT 1 FROM cases o WHERE o.client_id = k.client_id AND o.area = k.area
                    AND o.case_id <> k.case_id AND o.investigation_started < k.investigation_started
                    AND o.investigation_started >= CAST(k.investigation_started - INTERVAL {w} MONTH AS DATE)) AS INT) AS y
FROM cases k WHERE k.investigation_started IS NOT NULL"""
    raise ValueError(kind)


def cells_sql(d, period, split):
    """(instrument, domain, period_start, split_value, n, s) for one definition."""
    lo, hi = d.get("age", [-1000, 1000])
    areas = d.get("areas")
    area_cond = f"AND area IN ({', '.join(repr(a) for a in areas)})" if areas else ""
    bands = cat["settings"]["age_bands"]
    band = "CASE " + " ".join(
        f"WHEN age >= {b} THEN '{b}-{bands[i + 1] - 1}'" if i + 1 < len(bands) else f"WHEN age >= {b} THEN '{b}+'"
        for i, b in reversed(list(enumerate(bands)))) + f" ELSE '{bands[0]}-{bands[1] - 1}' END"
    col = {"total": "'all'", "unit": "unit", "district": "district", "sex": "sex", "age_band": band}[split]
    if d["kind"] == "multi_unit_clients":
        months = {"year": 12, "month": 1}[period]
        k = d.get("min_units", 2)
        grain = "client_id, unit, p" if split == "unit" else "client_id, p"
        inner = f"""
WITH spans AS (SELECT client_id, unit, midx(opened) // {months} AS f, midx(coalesce(closed, DATE '{as_of}')) // {months} AS t
               FROM cases WHERE TRUE {area_cond}),
cp AS (SELECT DISTINCT client_id, unit, p FROM spans, range(f, t + 1) r(p)),
cl AS (SELECT client_id, p, CAST(count(DISTINCT unit) >= {k} AS INT) AS y FROM cp GROUP BY ALL),
rows AS (SELECT DISTINCT {grain.replace('client_id', 'cp.client_id').replace(' p', ' cp.p')}, cl.y FROM cp JOIN cl USING (client_id, p))
SELECT r.*, make_date(CAST((p * {months}) // 12 AS INT), CAST((p * {months}) % 12 + 1 AS INT), 1) AS ps,
       year(make_date(CAST((p * {months}) // 12 AS INT), 1, 1)) - c.birth_year AS age, c.district, c.sex,
       NULL AS instrument, NULL AS domain
FROM rows r JOIN clients c USING (client_id)"""
        return f"""
SELECT instrument, domain, ps AS period_start, {col} AS split_value, count(*) AS n, sum(y) AS s
FROM ({inner}) WHERE age BETWEEN {lo} AND {hi} GROUP BY ALL"""
    trunc = {"year": "year", "month": "month"}[period]
    return f"""
WITH r AS ({rows_sql(d)}),
e AS (SELECT r.*, year(r.anchor) - c.birth_year AS age, c.district, c.sex FROM r JOIN clients c USING (client_id)
      WHERE TRUE {area_cond})
SELECT instrument, domain, CAST(date_trunc('{trunc}', anchor) AS DATE) AS period_start, {col} AS split_value,
       count(*) AS n, sum(y) AS s
FROM e WHERE age BETWEEN {lo} AND {hi} GROUP BY ALL"""


def key(r):
    return tuple(r[:4])


passed = failed = 0
proportion = {"not_rereferred", "long_term_assistance", "self_sufficiency", "reliable_change", "goals_met",
              "timeliness", "multi_unit_clients", "channel_share", "repeat_investigation"}
for d in cat["indicator"]:
    periods = d.get("periods", ["year"] if d["kind"] == "long_term_assistance" else cat["settings"]["periods"])
    problems = []
    compared = 0
    for period in [p for p in ["year", "month"] if p in periods]:
        for split in ["total"] + cat["settings"]["splits"]:
            want = {key(r): r[4:] for r in db.execute(cells_sql(d, period, split)).fetchall()}
            got = {key(r): r[4:] for r in db.execute(
                """SELECT instrument, domain, period_start, split_value, n,
                          coalesce(CAST(numerator AS DOUBLE), value * n)
                   FROM indicators WHERE indicator_id = ? AND period_type = ? AND split = ?""",
                [d["id"], period, split]).fetchall()}
            if want.keys() != got.keys():
                problems.append(f"{period}/{split}: cells differ: only SQL {sorted(set(want) - set(got))[:3]}, "
                                f"only utfall {sorted(set(got) - set(want))[:3]}")
                continue
            for k2, (n, s) in want.items():
                gn, gs = got[k2]
                exact = d["kind"] in proportion
                if n != gn or (s != gs if exact else abs(s - gs) > 1e-9 * max(1.0, abs(s))):
                    problems.append(f"{period}/{split} {k2}: SQL ({n}, {s}) vs utfall ({gn}, {gs})")
                    break
            compared += len(want)
    if problems or compared == 0:
        failed += 1
        print(f"FAIL {d['id']}: " + ("; ".join(problems[:3]) or "no cells"))
    else:
        passed += 1
        print(f"ok   {d['id']}: {compared} cells equal")
print(f"indicator-sql: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
