#!/usr/bin/env bash
# Benchmark: the SQL surface's query set (named queries with their defaults,
# and tests/sql/queries/) over the 1,000,000-client register, utfall
# (DataFusion) against DuckDB on the same Parquet files; median of RUNS fresh
# sessions per query and engine. Results go into BENCHMARKS.md by hand.
#
# usage: benches/queries_1m.sh [CLIENTS] [WORKDIR] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-1000000}
work=${2:-target/bench-data/$clients}
runs=${3:-5}
source benches/setup.sh
synth_once "$work" "$clients" --dirty-rate 0.01
register_once "$work"
if [ ! -e "$work/register/indicators_public.parquet" ]; then
  "$utfall" indicators --register "$work/register" --quiet
fi
python3 -m pip install --quiet --disable-pip-version-check duckdb==2.0.0
python3 benches/queries_1m.py "$utfall" "$work/register" "$runs"
