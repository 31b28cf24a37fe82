#!/usr/bin/env bash
# Benchmark: monthly deliveries into a 1,000,000-client register (issue 18).
#
# 1. synth the municipality with its three source systems' deliveries (once,
#    cached in WORKDIR);
# 2. build the register from every delivery but December 2025's (and the
#    re-delivered June 2024, which arrives with it): 72 deliveries, a full build;
# 3. December arrives: the incremental build reads the 4 new deliveries and
#    reuses the 72 stored ones;
# 4. a full build of all 76 deliveries (--full) into another register, and
#    the two registers compared table by table, byte for byte.
# Each build runs under benches/measure.py (wall time, peak memory).
#
# usage: benches/deliveries_1m.sh [CLIENTS] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-1000000}
work=${2:-target/bench-data/$clients-deliveries}
source benches/setup.sh
mkdir -p "$work"
[ -f "$work/sources/arrivals.csv" ] || "$utfall" synth --out "$work" --clients "$clients" --seed 2021 \
  --dirty-rate 0.01 --deliveries --quiet
[ -f "$work/bench.key" ] || "$utfall" key new --out "$work/bench.key" --quiet
du -sh "$work/sources"
sources=()
for s in arende utforare ekonomi; do sources+=(--source "$s=$work/sources/$s"); done
late=$(awk -F, 'NR > 1 && $5 > "2025-12-31" { print $1 "/" $2 }' "$work/sources/arrivals.csv")
hide() { for d in $late; do mv "$work/sources/$d" "$work/sources/$(dirname "$d")/.$(basename "$d")"; done; }
show() { for d in $late; do mv "$work/sources/$(dirname "$d")/.$(basename "$d")" "$work/sources/$d"; done; }
rm -rf "$work/register" "$work/.register.builds" "$work/full" "$work/.full.builds"
trap 'show 2>/dev/null || true' EXIT
hide
sync
echo "== full build of the deliveries that arrived by 2025-12-31 (held back: $(echo $late | tr '\n' ' '))"
python3 benches/measure.py "$utfall" build "${sources[@]}" --key "$work/bench.key" \
  --register "$work/register" --as-of 2025-12-31 --no-indicators --quiet
show
trap - EXIT
sync
echo "== incremental build: December's deliveries and the re-delivered June arrive"
python3 benches/measure.py "$utfall" build "${sources[@]}" --key "$work/bench.key" \
  --register "$work/register" --as-of 2025-12-31 --no-indicators --quiet
echo "== full build of every delivery (--full)"
python3 benches/measure.py "$utfall" build "${sources[@]}" --key "$work/bench.key" \
  --register "$work/full" --as-of 2025-12-31 --no-indicators --full --quiet
for f in "$work"/register/*.parquet; do
  cmp "$f" "$work/full/$(basename "$f")" >/dev/null || [ "$(basename "$f")" = row_changes.parquet ] \
    || { echo "DIFFERS: $(basename "$f")"; exit 1; }
done
echo "incremental = full: every table, the quarantine and the lineage byte for byte"
python3 - "$work/register/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
rows = sum(c["rows_in"] for _, c in m["tables"])
new = sum(c["rows_in"] for s in m["sources"] for d in s["deliveries"] if d["period"] == "2025-12" or d["version"] > 1
          for _, c in d["tables"])
print(f"rows in the register's deliveries: {rows:,}; in the new ones: {new:,}; build_seconds (in-process): {m['build_seconds']:.1f}")
PY
