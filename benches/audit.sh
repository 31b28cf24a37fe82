#!/usr/bin/env bash
# Benchmark: the attacker's audit of `indicators_public` (issue 16): for each
# size, a synthetic municipality (seed 2021) built once without indicators,
# then `utfall indicators` under benches/measure.py with the audit's rounds
# logged, and the share of cells withheld. Results go into BENCHMARKS.md by hand.
#
# usage: benches/audit.sh [THRESHOLD] [CLIENTS...]
#   UTFALL=target/debug/utfall benches/audit.sh 5 3000   # a built binary instead of the release one
set -euo pipefail
cd "$(dirname "$0")/.."
threshold=${1:-5}
shift || true
sizes=${*:-3000 10000 20000}
source benches/setup.sh
for clients in $sizes; do
  work=target/bench-data/audit-$clients
  synth_once "$work" "$clients"
  register_once "$work" --no-indicators
  echo "== $clients clients, threshold $threshold"
  UTFALL_LOG=utfall_indicators::protect=debug python3 benches/measure.py "$utfall" indicators \
    --register "$work/register" --threshold "$threshold" 2>&1 | sed -E 's/\x1b\[[0-9;]*m//g' \
    | grep -E "attacker's audit round|wall_s" \
    | sed -E 's/.*(round=[0-9]+ hidden=[0-9]+).*(exposed=[0-9]+ programs=[0-9]+).*(largest=[0-9]+).*/\1 \2 \3/' | tail -2
  "$utfall" query --register "$work/register" \
    "select count(*) as cells,
            round(100.0 * avg(case when n is null then 1 else 0 end), 1) as n_withheld_pct,
            round(100.0 * avg(case when suppressed then 1 else 0 end), 1) as value_withheld_pct
     from indicators_public"
done
