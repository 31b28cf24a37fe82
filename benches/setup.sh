# Shared set-up of the benchmark scripts (sourced, not run): the release
# binary in target/bench (or the one UTFALL names), and a cached synthetic
# municipality with its key.
#
# usage: source benches/setup.sh; synth_once WORKDIR CLIENTS [SYNTH ARGS...]
#        register_once WORKDIR [BUILD ARGS...]
if [ -n "${UTFALL:-}" ]; then
  utfall=$UTFALL
else
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/bench}
  cargo build --release --bin utfall
  utfall=$CARGO_TARGET_DIR/release/utfall
fi

synth_once() {
  local work=$1 clients=$2
  shift 2
  mkdir -p "$work"
  [ -f "$work/exports/mapping.toml" ] || "$utfall" synth --out "$work" --clients "$clients" --seed 2021 "$@" --quiet
  [ -f "$work/bench.key" ] || "$utfall" key new --out "$work/bench.key" --quiet
}

# Build WORKDIR/register from WORKDIR/exports once (as of 2025-12-31).
register_once() {
  local work=$1
  shift
  [ -e "$work/register/manifest.json" ] || "$utfall" build --input "$work/exports" --key "$work/bench.key" \
    --register "$work/register" --as-of 2025-12-31 --quiet "$@"
}
