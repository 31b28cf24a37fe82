#!/usr/bin/env bash
# Benchmark: the whole indicator suite (`utfall indicators`: baselines, every
# catalogue indicator per period and split, intervals, disclosure control,
# targets, publish) over the 1,000,000-client register, three runs.
# Results go into BENCHMARKS.md by hand.
#
# usage: benches/indicators_1m.sh [CLIENTS] [WORKDIR] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-1000000}
work=${2:-target/bench-data/$clients}
runs=${3:-3}
source benches/setup.sh
synth_once "$work" "$clients" --dirty-rate 0.01
register_once "$work" --no-indicators
cp pipelines/indicators/demo-targets.toml "$work/targets.toml"
for i in $(seq "$runs"); do
  echo "== utfall indicators, run $i"
  UTFALL_LOG=info python3 benches/measure.py "$utfall" indicators --register "$work/register" \
    --targets "$work/targets.toml"
done
python3 - "$work/register/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
run = m["indicators"]
print(f"in-process seconds: {run['seconds']:.1f}; tables: {run['tables']}")
print(f"suppressed: {run['suppressed_primary']} primary, {run['suppressed_complementary']} complementary")
PY
