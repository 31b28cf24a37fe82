#!/usr/bin/env bash
# Benchmark: the managers' dashboard (`utfall dashboard --per-unit`: every
# query, chart and page, the municipality's and one per unit) over the
# 1,000,000-client register with its indicators and the demo's targets,
# three runs. Results go into BENCHMARKS.md by hand.
#
# usage: benches/dashboard_1m.sh [CLIENTS] [WORKDIR] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-1000000}
work=${2:-target/bench-data/$clients}
runs=${3:-3}
source benches/setup.sh
synth_once "$work" "$clients" --dirty-rate 0.01
register_once "$work" --no-indicators
# The indicators with the demo's targets (again when the cached register's
# target_status predates its current columns).
if ! "$utfall" query --register "$work/register" "SELECT description, measure, suppression FROM target_status LIMIT 1" >/dev/null 2>&1; then
  cp pipelines/indicators/demo-targets.toml "$work/targets.toml"
  "$utfall" indicators --register "$work/register" --targets "$work/targets.toml" --quiet
fi
for i in $(seq "$runs"); do
  echo "== utfall dashboard --per-unit, run $i"
  rm -rf "$work/dashboard"
  python3 benches/measure.py "$utfall" dashboard --register "$work/register" --out "$work/dashboard" --per-unit --quiet
done
du -sh "$work/dashboard/index.html" "$work/dashboard/enheter"
ls "$work/dashboard/enheter" | wc -l
