#!/usr/bin/env bash
# Benchmark: the risk model on the 1,000,000-client register: `utfall model
# train` (features as of each closure, split, linfa fit, evaluation, model
# card) and `utfall model score` (features of the current population,
# scores, drift, overrides, a new build), RUNS runs each. Results go into
# BENCHMARKS.md by hand.
#
# usage: benches/model_1m.sh [CLIENTS] [WORKDIR] [RUNS] [SPEC]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-1000000}
work=${2:-target/bench-data/$clients}
runs=${3:-3}
spec=${4:-models/risk/specs/rereferral_12m.toml}
source benches/setup.sh
synth_once "$work" "$clients" --dirty-rate 0.01
register_once "$work" --no-indicators
rm -rf "$work/models"
for i in $(seq "$runs"); do
  echo "== utfall model train, run $i"
  python3 benches/measure.py "$utfall" model train --spec "$spec" --register "$work/register" --out "$work/models"
done
model=$(ls -d "$work"/models/*/ | head -1)
for i in $(seq "$runs"); do
  echo "== utfall model score, run $i"
  python3 benches/measure.py "$utfall" model score --model "$model" --register "$work/register"
done
