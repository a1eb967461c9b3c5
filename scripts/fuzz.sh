#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) one after another and
# prints one summary line per target (executions, coverage, findings).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); libFuzzer needs
# nightly flags, which RUSTC_BOOTSTRAP=1 unlocks on the stable toolchain.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
mkdir -p logs
for t in "${targets[@]}"; do
  log="logs/$t.log"
  status=ok
  cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1 || status=FAILED
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
  crashes=$(ls "artifacts/$t" 2>/dev/null | wc -l)
  echo "$t: ${secs}s, $execs executions, coverage $cov, artifacts $crashes, $status"
done
