#!/usr/bin/env bash
# Run fuzz targets one after another (one process each) for a number of executions, from
# the committed seeds plus the local (git-ignored) corpus, and print libFuzzer's summary.
#
#   applet/fuzz/run.sh [RUNS] [TARGET...]      (default: 1000000 runs, every target)
#
# New interesting inputs go to applet/fuzz/corpus/<target>/; crashes to artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-1000000}
shift || true
TOOLCHAIN=+nightly
cargo +nightly --version >/dev/null 2>&1 || { TOOLCHAIN=; export RUSTC_BOOTSTRAP=1; }
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || mapfile -t TARGETS < <(cargo $TOOLCHAIN fuzz list)
mkdir -p fuzz/target/logs
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  echo "== $t: cargo $TOOLCHAIN fuzz run --jobs 1 $t fuzz/corpus/$t fuzz/seeds/$t -- -runs=$RUNS"
  cargo $TOOLCHAIN fuzz run --jobs 1 "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- -runs="$RUNS" \
    >"fuzz/target/logs/$t.log" 2>&1 || { echo "!! $t failed (fuzz/target/logs/$t.log)"; tail -30 "fuzz/target/logs/$t.log"; exit 1; }
  grep -E '^(#[0-9]+\s+INITED|Done )' "fuzz/target/logs/$t.log"
done
