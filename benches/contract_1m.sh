#!/usr/bin/env bash
# Benchmark: an outcome-contract study on a 1,000,000-client register:
# `utfall contract evaluate` by matched comparison (999 bootstrap replicates,
# each refitting the propensity model and rematching) and by
# difference-in-differences, and `utfall contract simulate` (16 scenarios x
# 400 simulated contracts), RUNS runs each. The register is clean (no
# injected faults) and kept in its own folder, as the contract programme
# needs the synthetic municipality of issue 7 or later. Results go into
# BENCHMARKS.md by hand.
#
# usage: benches/contract_1m.sh [CLIENTS] [WORKDIR] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-1000000}
work=${2:-target/bench-data/contract-$clients}
runs=${3:-3}
spec=models/contracts/specs/jobbsteget.toml
source benches/setup.sh
synth_once "$work" "$clients"
register_once "$work" --no-indicators
for i in $(seq "$runs"); do
  echo "== utfall contract evaluate (matched comparison), run $i"
  python3 benches/measure.py "$utfall" contract evaluate "$spec" --register "$work/register" --out "$work/matched"
done
for i in $(seq "$runs"); do
  echo "== utfall contract evaluate (difference-in-differences), run $i"
  python3 benches/measure.py "$utfall" contract evaluate "$spec" --register "$work/register" --out "$work/did" \
    --method difference_in_differences
done
for i in $(seq "$runs"); do
  echo "== utfall contract simulate, run $i"
  python3 benches/measure.py "$utfall" contract simulate "$spec" --register "$work/register" --out "$work/simulation"
done
