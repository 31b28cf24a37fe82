#!/usr/bin/env bash
# Recovery of the planted truth at full size: a clean (fault-free) synthetic
# municipality of 1,000,000 clients, built with indicators, and the share of
# planted unit re-referral rates inside their 95% intervals (per unit and year,
# and per unit and quarter). Needs `pip install duckdb`.
#
# usage: benches/planted_1m.sh [CLIENTS] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-1000000}
work=${2:-target/bench-data/$clients-clean}
source benches/setup.sh
synth_once "$work" "$clients"
"$utfall" build --input "$work/exports" --key "$work/bench.key" --register "$work/register" --as-of 2025-12-31 --quiet
python3 - "$work" <<'PY'
import sys
import duckdb
w = sys.argv[1]
q = f"""
WITH truth AS (
  SELECT unit, closed, 1 - p_rereferral_12m AS p, rereferred_12m = 0 AS stayed
  FROM read_csv('{w}/truth/cases.csv', types={{'closed': 'DATE'}}) WHERE observable = 1),
planted AS (
  SELECT 'year' AS period_type, unit, CAST(year(closed) AS VARCHAR) AS period, avg(p) AS p, count(*) AS n, sum(CAST(stayed AS INT)) AS k FROM truth GROUP BY ALL
  UNION ALL
  SELECT 'quarter', unit, year(closed) || '-Q' || quarter(closed), avg(p), count(*), sum(CAST(stayed AS INT)) FROM truth GROUP BY ALL),
ind AS (SELECT period_type, split_value AS unit, period, n, numerator, ci_low, ci_high
        FROM read_parquet('{w}/register/indicators.parquet')
        WHERE indicator_id = 'not_rereferred_12m' AND split = 'unit')
SELECT p.period_type, count(*) AS cells, sum(CAST(p.p BETWEEN i.ci_low AND i.ci_high AS INT)) AS inside,
       sum(CAST(p.n = i.n AND p.k = i.numerator AS INT)) AS counts_equal, min(i.n) AS min_n, max(i.n) AS max_n
FROM planted p JOIN ind i USING (period_type, unit, period) GROUP BY ALL ORDER BY 1 DESC"""
for row in duckdb.sql(q).fetchall():
    t, cells, inside, equal, lo, hi = row
    print(f"{t}: {inside} of {cells} unit cells have the planted rate inside the 95% interval ({100 * inside / cells:.1f}%); "
          f"counts equal to the planted labels in {equal} of {cells}; n per cell {lo}..{hi}")
PY
