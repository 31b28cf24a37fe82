#!/usr/bin/env bash
# Benchmark: `utfall build` on the 1,000,000-client synthetic municipality,
# and DuckDB's plain CSV-to-Parquet conversion of the same files as the floor.
# Results go into BENCHMARKS.md by hand, with the machine they ran on.
#
# usage: benches/build_1m.sh [CLIENTS] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-1000000}
work=${2:-target/bench-data/$clients}
source benches/setup.sh
synth_once "$work" "$clients" --dirty-rate 0.01
du -sh "$work/exports"
sync
echo "== utfall build"
python3 benches/measure.py "$utfall" build --input "$work/exports" --key "$work/bench.key" \
  --register "$work/register" --as-of 2025-12-31 --no-indicators
python3 - "$work/register/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
rows = sum(c["rows_in"] for _, c in m["tables"])
print(f"rows in: {rows}, build_seconds (in-process): {m['build_seconds']:.1f}, rows/s: {rows / m['build_seconds']:,.0f}")
PY
echo "== duckdb floor (pip install duckdb)"
python3 benches/measure.py python3 benches/duckdb_floor.py "$work/exports" "$work/duckdb-out"
